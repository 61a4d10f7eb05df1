/*
 * The tunnels' reconnection schedule (connector/backoff.h), driven by an
 * injected random source: the extremes of the jitter give the ceiling
 * sequence exactly, a seeded generator checks the bounds over many
 * draws, and the reset after a long-lived tunnel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "connector/backoff.h"

/* The ceilings in order: 250 ms doubling, capped at 30 s. */
static const uint32_t ceilings[] = {250,  500,   1000,  2000,  4000,
                                    8000, 16000, 30000, 30000, 30000};
#define N_CEILINGS (sizeof(ceilings) / sizeof(ceilings[0]))

static uint32_t fixed_cb(void *ctx) {
  return *(const uint32_t *)ctx;
}

/* xorshift32, seeded through ctx. */
static uint32_t xorshift_cb(void *ctx) {
  uint32_t *x = ctx;

  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

static void test_top_of_window(void **state) {
  uint32_t r = UINT32_MAX;
  struct backoff b;
  size_t i;

  backoff_init(&b, fixed_cb, &r);
  for (i = 0; i < N_CEILINGS; i++) {
    assert_int_equal(b.ceiling_ms, ceilings[i]);
    assert_int_equal(backoff_next(&b), ceilings[i]);
    assert_int_equal(b.attempts, i + 1);
  }
}

static void test_bottom_of_window(void **state) {
  uint32_t r = 0;
  struct backoff b;
  size_t i;

  /* Full jitter: a wait may be 0 whatever the ceiling. */
  backoff_init(&b, fixed_cb, &r);
  for (i = 0; i < N_CEILINGS; i++)
    assert_int_equal(backoff_next(&b), 0);
  assert_int_equal(b.ceiling_ms, BACKOFF_CAP_MS);
}

static void test_middle_of_window(void **state) {
  uint32_t r = UINT32_MAX / 2 + 1; /* exactly one half */
  struct backoff b;

  backoff_init(&b, fixed_cb, &r);
  assert_int_equal(backoff_next(&b), 125);
  assert_int_equal(backoff_next(&b), 250);
  assert_int_equal(backoff_next(&b), 500);
}

static void test_seeded_bounds(void **state) {
  uint32_t seed = 2463534242u, ceiling, wait, max_at_cap = 0;
  uint64_t sum_at_cap = 0, n_at_cap = 0;
  struct backoff b;
  int i;

  backoff_init(&b, xorshift_cb, &seed);
  for (i = 0; i < 20000; i++) {
    ceiling = b.ceiling_ms;
    wait = backoff_next(&b);
    assert_true(wait <= ceiling);
    assert_true(b.ceiling_ms <= BACKOFF_CAP_MS);
    if (ceiling == BACKOFF_CAP_MS) {
      sum_at_cap += wait;
      n_at_cap++;
      if (wait > max_at_cap)
        max_at_cap = wait;
    }
  }

  /* At the cap the waits spread over the whole window, mean near half. */
  assert_true(n_at_cap > 19000);
  assert_true(max_at_cap > BACKOFF_CAP_MS - 100);
  assert_in_range(sum_at_cap / n_at_cap, 14500, 15500);
}

static void test_reset_after_long_tunnel(void **state) {
  uint32_t r = UINT32_MAX;
  struct backoff b;
  int i;

  backoff_init(&b, fixed_cb, &r);
  for (i = 0; i < 5; i++)
    backoff_next(&b);
  assert_int_equal(b.ceiling_ms, 8000);

  /* A tunnel that did not last BACKOFF_RESET_MS changes nothing. */
  backoff_was_up(&b, 0);
  backoff_was_up(&b, BACKOFF_RESET_MS - 1);
  assert_int_equal(backoff_next(&b), 8000);

  backoff_was_up(&b, BACKOFF_RESET_MS);
  assert_int_equal(b.attempts, 0);
  assert_int_equal(backoff_next(&b), BACKOFF_START_MS);
  backoff_was_up(&b, 24ull * 3600 * 1000);
  assert_int_equal(backoff_next(&b), BACKOFF_START_MS);

  backoff_next(&b);
  backoff_reset(&b);
  assert_int_equal(b.ceiling_ms, BACKOFF_START_MS);
}

static void test_default_source(void **state) {
  uint32_t ceiling;
  struct backoff b;
  int i;

  backoff_init(&b, NULL, NULL);
  for (i = 0; i < 100; i++) {
    ceiling = b.ceiling_ms;
    assert_true(backoff_next(&b) <= ceiling);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_top_of_window),
      cmocka_unit_test(test_bottom_of_window),
      cmocka_unit_test(test_middle_of_window),
      cmocka_unit_test(test_seeded_bounds),
      cmocka_unit_test(test_reset_after_long_tunnel),
      cmocka_unit_test(test_default_source),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
