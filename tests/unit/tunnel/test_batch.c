/*
 * The batch: items run once, before the loop waits, in the iteration that
 * queued them; cancelling works at any time; an item queued by another
 * item's run still runs before the poll; the handle keeps no loop alive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/batch.h"

struct probe {
  struct batch_item item;
  struct batch *b;
  struct probe *then; /* queued by this one's run */
  int runs;
};

static int turns;

static void each_cb(void *data) {
  (void)data;
  turns++;
}

static void keep_cb(uv_timer_t *t) {
  (void)t;
}

static void probe_cb(struct batch_item *it) {
  struct probe *p = (struct probe *)it;

  p->runs++;
  if (p->then != NULL)
    batch_add(p->b, &p->then->item, probe_cb);
}

static void test_runs_once_before_poll(void **state) {
  struct probe a = {0}, b = {0}, c = {0};
  struct batch bt;
  uv_timer_t keep; /* something for the loop to wait on */
  uv_loop_t loop;

  turns = 0;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uv_timer_init(&loop, &keep), 0);
  assert_int_equal(uv_timer_start(&keep, keep_cb, 60000, 0), 0);
  batch_init(&bt, &loop, each_cb, NULL);
  a.b = b.b = c.b = &bt;
  a.then = &c;
  batch_add(&bt, &a.item, probe_cb);
  batch_add(&bt, &a.item, probe_cb); /* twice is once */
  batch_add(&bt, &b.item, probe_cb);
  batch_cancel(&b.item);
  batch_cancel(&b.item); /* harmless when not queued */

  assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 1);
  assert_int_equal(a.runs, 1);
  assert_int_equal(b.runs, 0);
  assert_int_equal(c.runs, 1); /* queued by `a`, run in the same turn */
  assert_int_equal(turns, 1);

  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(a.runs, 1);
  assert_int_equal(turns, 2);

  /* The prepare handle is unreferenced: alone, it does not hold the
     loop (with a reference this would never return). */
  uv_timer_stop(&keep);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);

  /* batch_run() runs what waits now; batch_close() drops the rest. */
  batch_add(&bt, &b.item, probe_cb);
  batch_run(&bt);
  assert_int_equal(b.runs, 1);
  batch_add(&bt, &b.item, probe_cb);
  batch_close(&bt);
  assert_null(b.item.pprev);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(b.runs, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A daemon's last turn: what is queued runs, each_cb too, and the loop
   then closes with no handle left. */
static void test_finish(void **state) {
  struct probe a = {0};
  struct batch bt;
  uv_loop_t loop;

  (void)state;
  turns = 0;
  assert_int_equal(uv_loop_init(&loop), 0);
  batch_init(&bt, &loop, each_cb, NULL);
  a.b = &bt;
  batch_add(&bt, &a.item, probe_cb);
  batch_finish(&bt);
  assert_int_equal(a.runs, 1);
  assert_int_equal(turns, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Items cancel each other from inside a run. */
struct killer {
  struct batch_item item;
  struct batch_item *victim;
  int runs;
};

static void killer_cb(struct batch_item *it) {
  struct killer *k = (struct killer *)it;

  k->runs++;
  if (k->victim != NULL)
    batch_cancel(k->victim);
}

static void test_cancel_from_run(void **state) {
  struct killer x = {0}, y = {0};
  struct batch bt;
  uv_loop_t loop;

  assert_int_equal(uv_loop_init(&loop), 0);
  batch_init(&bt, &loop, NULL, NULL);
  x.victim = &y.item;
  y.victim = &x.item;
  batch_add(&bt, &x.item, killer_cb);
  batch_add(&bt, &y.item, killer_cb); /* runs first: the list is a stack */
  batch_run(&bt);
  assert_int_equal(x.runs + y.runs, 1);
  assert_null(bt.head);
  batch_close(&bt);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runs_once_before_poll),
      cmocka_unit_test(test_cancel_from_run),
      cmocka_unit_test(test_finish),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
