/*
 * Lockout after repeated failures, kept per user and per source address.
 *
 * A counter opens a window at its first failure; reaching `failures`
 * within `window` seconds locks for `duration` seconds, and each further
 * lockout of the same key doubles the duration up to `max_duration`.  A
 * success clears the failures (not an active lock).  This is pure
 * arithmetic on a small record; the store keeps the records (in its
 * volatile environment, so counting never waits on an fsync).
 */
#ifndef SP_POLICY_LOCKOUT_H
#define SP_POLICY_LOCKOUT_H

#include <stdint.h>

struct lockout_rule {
  uint32_t failures;
  int64_t window;
  int64_t duration;
  int64_t max_duration;
};

/* Five failures a user in 15 minutes; fifty an address. */
extern const struct lockout_rule lockout_user_rule;
extern const struct lockout_rule lockout_addr_rule;

struct lockout {
  uint32_t failures;
  uint32_t lockouts;    /* how many times this key was locked */
  int64_t window_start; /* first failure of the current window */
  int64_t locked_until; /* 0: not locked */
};

/* 0, or SP_ELOCKED with the seconds left in *retry_after. */
int lockout_check(const struct lockout *l, int64_t now, int64_t *retry_after);

/* Records a failure; returns 1 if this failure started a lock. */
int lockout_fail(struct lockout *l, const struct lockout_rule *rule,
                 int64_t now);

void lockout_success(struct lockout *l);

#endif
