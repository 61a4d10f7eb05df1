#include "tunnel/batch.h"

#include <stddef.h>

static void prepare_cb(uv_prepare_t *h) {
  batch_run(h->data);
}

void batch_init(struct batch *b, uv_loop_t *loop, void (*each_cb)(void *data),
                void *data) {
  b->head = NULL;
  b->each_cb = each_cb;
  b->data = data;
  b->running = 0;
  /* Neither call can fail on an initialised loop with a callback. */
  (void)uv_prepare_init(loop, &b->prepare);
  b->prepare.data = b;
  (void)uv_prepare_start(&b->prepare, prepare_cb);
  uv_unref((uv_handle_t *)&b->prepare);
}

void batch_add(struct batch *b, struct batch_item *it,
               void (*run_cb)(struct batch_item *it)) {
  if (it->pprev != NULL)
    return;
  it->run_cb = run_cb;
  it->next = b->head;
  if (b->head != NULL)
    b->head->pprev = &it->next;
  it->pprev = &b->head;
  b->head = it;
}

void batch_cancel(struct batch_item *it) {
  if (it->pprev == NULL)
    return;
  *it->pprev = it->next;
  if (it->next != NULL)
    it->next->pprev = it->pprev;
  it->next = NULL;
  it->pprev = NULL;
}

/*
 * Each round takes the list whole, so an item added by a run_cb (a flush
 * whose drain callback wrote again) runs in the next round, still before
 * the loop waits: nothing is left queued across a poll.
 */
void batch_run(struct batch *b) {
  struct batch_item *list, *it;

  if (b->running)
    return;
  b->running = 1;
  while ((list = b->head) != NULL) {
    b->head = NULL;
    list->pprev = &list;
    while ((it = list) != NULL) {
      batch_cancel(it); /* unlinks from `list` */
      it->run_cb(it);
    }
  }
  if (b->each_cb != NULL)
    b->each_cb(b->data);
  b->running = 0;
}

void batch_close(struct batch *b) {
  while (b->head != NULL)
    batch_cancel(b->head);
  if (!uv_is_closing((uv_handle_t *)&b->prepare))
    uv_close((uv_handle_t *)&b->prepare, NULL);
}

void batch_finish(struct batch *b) {
  batch_run(b);
  batch_close(b);
  uv_run(b->prepare.loop, UV_RUN_DEFAULT);
}
