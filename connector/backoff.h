/*
 * Reconnection back-off for the connector's tunnels: exponential with
 * full jitter.
 *
 * The ceiling starts at BACKOFF_START_MS and doubles after every failed
 * attempt up to BACKOFF_CAP_MS; each wait is drawn uniformly from
 * [0, ceiling].  Full jitter spreads the reconnections of many connectors
 * (after a relay restart, say) over the whole window instead of letting
 * them arrive in waves.  A tunnel that stayed up for BACKOFF_RESET_MS or
 * longer starts again from the bottom, so one lost tunnel after a day of
 * service is replaced at once, while a relay that accepts and drops every
 * tunnel still sees the waits grow.
 *
 * The random source is injected so that tests can drive the schedule.
 * Pure code: no clock, no I/O.
 */
#ifndef SP_CONNECTOR_BACKOFF_H
#define SP_CONNECTOR_BACKOFF_H

#include <stdint.h>

#define BACKOFF_START_MS 250u
#define BACKOFF_CAP_MS 30000u
#define BACKOFF_RESET_MS 30000u

struct backoff {
  uint32_t ceiling_ms; /* the upper bound of the next wait */
  uint32_t attempts;   /* waits handed out since the last reset */
  /* Returns 32 random bits; `ctx` is rand_ctx (borrowed). */
  uint32_t (*rand_cb)(void *ctx);
  void *rand_ctx;
};

/* Starts at the bottom.  `rand_cb` NULL means the kernel's CSPRNG. */
void backoff_init(struct backoff *b, uint32_t (*rand_cb)(void *ctx), void *ctx);

/* The next wait in milliseconds, in [0, ceiling]; then raises the
 * ceiling (doubling, up to BACKOFF_CAP_MS). */
uint32_t backoff_next(struct backoff *b);

/* Back to the bottom of the schedule. */
void backoff_reset(struct backoff *b);

/* A tunnel was up for `up_ms`: resets when that is BACKOFF_RESET_MS or
 * more, and otherwise leaves the schedule as it is. */
void backoff_was_up(struct backoff *b, uint64_t up_ms);

#endif
