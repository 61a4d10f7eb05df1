/* Exponential back-off with full jitter; see backoff.h. */
#include "connector/backoff.h"

#include <stddef.h>

#include "common/rand.h"

/* The kernel's CSPRNG; a failed read falls back to the middle of the
 * window rather than to 0, which would retry at once. */
static uint32_t default_rand_cb(void *ctx) {
  uint32_t r;

  (void)ctx;
  if (sp_random(&r, sizeof(r)) != 0)
    return UINT32_MAX / 2;
  return r;
}

void backoff_init(struct backoff *b, uint32_t (*rand_cb)(void *ctx),
                  void *ctx) {
  b->rand_cb = rand_cb != NULL ? rand_cb : default_rand_cb;
  b->rand_ctx = ctx;
  backoff_reset(b);
}

void backoff_reset(struct backoff *b) {
  b->ceiling_ms = BACKOFF_START_MS;
  b->attempts = 0;
}

uint32_t backoff_next(struct backoff *b) {
  uint64_t r = b->rand_cb(b->rand_ctx);
  uint32_t wait;

  /* Scaling 32 random bits onto [0, ceiling] by multiplication keeps
   * every value equally likely to within 2^-17 for a 30 s ceiling. */
  wait = (uint32_t)((r * ((uint64_t)b->ceiling_ms + 1)) >> 32);

  b->attempts++;
  if (b->ceiling_ms < BACKOFF_CAP_MS / 2)
    b->ceiling_ms *= 2;
  else
    b->ceiling_ms = BACKOFF_CAP_MS;
  return wait;
}

void backoff_was_up(struct backoff *b, uint64_t up_ms) {
  if (up_ms >= BACKOFF_RESET_MS)
    backoff_reset(b);
}
