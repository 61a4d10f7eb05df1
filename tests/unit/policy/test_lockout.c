#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "policy/lockout.h"

/* An arbitrary start, far from zero so that 0 never means "now". */
#define T0 ((int64_t)1800000000)

/* Fails `n` times at `now`; returns how many of them started a lock. */
static int fail_n(struct lockout *l, const struct lockout_rule *r, int n,
                  int64_t now) {
  int locks = 0;

  while (n-- > 0)
    locks += lockout_fail(l, r, now);
  return locks;
}

static void test_rules(void **state) {
  assert_int_equal(lockout_user_rule.failures, 5);
  assert_true(lockout_user_rule.window == 900);
  assert_true(lockout_user_rule.duration == 900);
  assert_true(lockout_user_rule.max_duration == 86400);
  assert_int_equal(lockout_addr_rule.failures, 50);
  assert_true(lockout_addr_rule.window == 900);
  assert_true(lockout_addr_rule.duration == 900);
  assert_true(lockout_addr_rule.max_duration == 86400);
}

static void test_locks_at_threshold(void **state) {
  struct lockout l = {0};
  int64_t retry = -1;
  int i;

  for (i = 0; i < 4; i++) {
    assert_int_equal(lockout_fail(&l, &lockout_user_rule, T0 + i), 0);
    assert_int_equal(lockout_check(&l, T0 + i, &retry), 0);
    assert_true(retry == 0);
  }
  assert_int_equal(lockout_fail(&l, &lockout_user_rule, T0 + 10), 1);
  assert_int_equal(l.lockouts, 1);

  assert_int_equal(lockout_check(&l, T0 + 10, &retry), SP_ELOCKED);
  assert_true(retry == 900);
  assert_int_equal(lockout_check(&l, T0 + 909, &retry), SP_ELOCKED);
  assert_true(retry == 1);
  assert_int_equal(lockout_check(&l, T0 + 910, &retry), 0);
  assert_true(retry == 0);
  assert_int_equal(lockout_check(&l, T0 + 910, NULL), 0);
}

static void test_address_rule(void **state) {
  struct lockout l = {0};

  assert_int_equal(fail_n(&l, &lockout_addr_rule, 49, T0), 0);
  assert_int_equal(lockout_check(&l, T0, NULL), 0);
  assert_int_equal(lockout_fail(&l, &lockout_addr_rule, T0), 1);
  assert_int_equal(lockout_check(&l, T0, NULL), SP_ELOCKED);
}

static void test_window_expiry(void **state) {
  struct lockout l = {0};

  /* Four failures, then the fifth just as the window closes. */
  assert_int_equal(fail_n(&l, &lockout_user_rule, 4, T0), 0);
  assert_int_equal(lockout_fail(&l, &lockout_user_rule, T0 + 900), 0);
  assert_int_equal(l.failures, 1);
  assert_true(l.window_start == T0 + 900);

  /* The new window counts from its own first failure. */
  assert_int_equal(fail_n(&l, &lockout_user_rule, 3, T0 + 1000), 0);
  assert_int_equal(lockout_fail(&l, &lockout_user_rule, T0 + 1799), 1);
  assert_int_equal(lockout_check(&l, T0 + 1799, NULL), SP_ELOCKED);
}

static void test_doubling_and_cap(void **state) {
  static const int64_t want[] = {900,   1800,  3600,  7200, 14400,
                                 28800, 57600, 86400, 86400};
  struct lockout l = {0};
  int64_t now = T0, retry;
  size_t i;

  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    assert_int_equal(fail_n(&l, &lockout_user_rule, 5, now), 1);
    assert_int_equal(lockout_check(&l, now, &retry), SP_ELOCKED);
    assert_true(retry == want[i]);
    now += retry;
    assert_int_equal(lockout_check(&l, now, &retry), 0);
  }

  /* Many lockouts later the duration is still the cap, never a wrap. */
  l.lockouts = UINT32_MAX;
  assert_int_equal(fail_n(&l, &lockout_user_rule, 5, now), 1);
  assert_int_equal(lockout_check(&l, now, &retry), SP_ELOCKED);
  assert_true(retry == 86400);
  assert_int_equal(l.lockouts, UINT32_MAX);
}

static void test_far_future_does_not_wrap(void **state) {
  struct lockout l = {0};
  int64_t now = INT64_MAX - 10, retry;

  assert_int_equal(fail_n(&l, &lockout_user_rule, 5, now), 1);
  assert_true(l.locked_until == INT64_MAX);
  assert_int_equal(lockout_check(&l, now, &retry), SP_ELOCKED);
  assert_true(retry == 10);
}

static void test_fail_while_locked(void **state) {
  struct lockout l = {0};
  int64_t retry;

  assert_int_equal(fail_n(&l, &lockout_user_rule, 5, T0), 1);

  /* Attempts refused during the lock neither count nor extend it. */
  assert_int_equal(fail_n(&l, &lockout_user_rule, 20, T0 + 100), 0);
  assert_int_equal(l.failures, 0);
  assert_int_equal(lockout_check(&l, T0 + 100, &retry), SP_ELOCKED);
  assert_true(retry == 800);

  /* After the lock, counting starts again from nothing. */
  assert_int_equal(fail_n(&l, &lockout_user_rule, 4, T0 + 900), 0);
  assert_int_equal(lockout_check(&l, T0 + 900, NULL), 0);
}

static void test_success(void **state) {
  struct lockout l = {0};
  int64_t retry;

  /* Success forgets the failures counted so far. */
  assert_int_equal(fail_n(&l, &lockout_user_rule, 4, T0), 0);
  lockout_success(&l);
  assert_int_equal(l.failures, 0);
  assert_int_equal(fail_n(&l, &lockout_user_rule, 4, T0 + 1), 0);
  assert_int_equal(lockout_check(&l, T0 + 1, NULL), 0);

  /* It does not lift a lock that is in force. */
  assert_int_equal(lockout_fail(&l, &lockout_user_rule, T0 + 2), 1);
  lockout_success(&l);
  assert_int_equal(lockout_check(&l, T0 + 2, &retry), SP_ELOCKED);
  assert_true(retry == 900);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rules),
      cmocka_unit_test(test_locks_at_threshold),
      cmocka_unit_test(test_address_rule),
      cmocka_unit_test(test_window_expiry),
      cmocka_unit_test(test_doubling_and_cap),
      cmocka_unit_test(test_far_future_does_not_wrap),
      cmocka_unit_test(test_fail_while_locked),
      cmocka_unit_test(test_success),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
