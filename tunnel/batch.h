/*
 * Work put off until just before the event loop next waits.
 *
 * A daemon's loop wakes, runs the callbacks of every socket that is
 * ready, then waits again.  Writes made by those callbacks need not leave
 * one by one: a TLS connection that carries many streams can seal the
 * frames of all of them into one write, and the log can write the lines
 * of all of them at once, as long as everything has left before the loop
 * waits.  A batch is that promise: an item added to
 * it runs once, from a uv_prepare handle (libuv runs prepare handles
 * right before it polls), and the owner's `each_cb` runs there every
 * iteration after the items.  Nothing is delayed past the current
 * iteration, so no latency is added; docs/tunnel.md, "Batching".
 *
 * The prepare handle does not keep the loop alive.  An item may be
 * cancelled at any time (an owner that is going away must do so); an
 * item added while the batch runs (a flush that let its owner write
 * again) runs in the same turn, before the loop waits.  One loop thread
 * only.
 */
#ifndef SP_TUNNEL_BATCH_H
#define SP_TUNNEL_BATCH_H

#include <stddef.h>
#include <uv.h>

struct batch_item {
  struct batch_item *next;
  struct batch_item **pprev; /* NULL while not queued */
  void (*run_cb)(struct batch_item *it);
};

/* The structure that embeds `it` as `member`, for a run_cb. */
#define batch_owner(it, type, member)                                          \
  ((type *)(void *)((char *)(it)-offsetof(type, member)))

struct batch {
  uv_prepare_t prepare;
  struct batch_item *head;
  void (*each_cb)(void *data); /* may be NULL */
  void *data;
  int running;
};

/* Starts the batch on `loop`; `each_cb(data)` runs every iteration. */
void batch_init(struct batch *b, uv_loop_t *loop, void (*each_cb)(void *data),
                void *data);

/* Queues `it` (once: a queued item stays where it is). */
void batch_add(struct batch *b, struct batch_item *it,
               void (*run_cb)(struct batch_item *it));

/* Takes `it` off the batch if it is queued. */
void batch_cancel(struct batch_item *it);

/* Runs what is queued and each_cb now (before the loop ends, say). */
void batch_run(struct batch *b);

/* Closes the prepare handle; what is queued is dropped, not run. */
void batch_close(struct batch *b);

/* For a daemon whose loop has stopped: runs what is queued, closes the
   handle and runs the loop once more for the close callbacks. */
void batch_finish(struct batch *b);

#endif
