/*
 * Lockout arithmetic.
 *
 * A record moves through three situations: counting (failures > 0, a
 * window open since window_start), locked (locked_until > now) and idle.
 * Reaching the rule's failure count locks the key and empties the
 * counter, so the first failure after the lock ends opens a new window.
 * A failure reported while the key is locked is not counted: the caller
 * refused that attempt without checking it, so it says nothing new, and
 * counting it would let an attacker stretch a lock for ever.
 */
#include "policy/lockout.h"

#include <stddef.h>

#include "common/err.h"

/* Fifteen minutes to count in and to lock for; never more than a day. */
const struct lockout_rule lockout_user_rule = {5, 900, 900, 86400};
const struct lockout_rule lockout_addr_rule = {50, 900, 900, 86400};

int lockout_check(const struct lockout *l, int64_t now, int64_t *retry_after) {
  if (l->locked_until > now) {
    if (retry_after != NULL)
      *retry_after = l->locked_until - now;
    return SP_ELOCKED;
  }
  if (retry_after != NULL)
    *retry_after = 0;
  return 0;
}

/* The rule's duration doubled once per earlier lock, capped. */
static int64_t lock_duration(const struct lockout_rule *rule,
                             uint32_t lockouts) {
  int64_t d = rule->duration, cap = rule->max_duration;
  uint32_t i;

  /* A rule without a positive duration and cap locks for no time. */
  if (d <= 0 || cap <= 0)
    return 0;

  /* Comparing against half the cap keeps the doubling from overflowing. */
  for (i = 0; i < lockouts && d < cap; i++)
    d = d > cap / 2 ? cap : d * 2;
  return d < cap ? d : cap;
}

/* Whether `now` lies past the window that opened at `start`. */
static int window_over(int64_t start, int64_t now, int64_t window) {
  /* A clock that stepped back keeps the window open: fail towards safety. */
  if (now < start)
    return 0;
  return (uint64_t)now - (uint64_t)start >= (uint64_t)window;
}

int lockout_fail(struct lockout *l, const struct lockout_rule *rule,
                 int64_t now) {
  int64_t d;

  if (l->locked_until > now)
    return 0;

  if (l->failures == 0 || window_over(l->window_start, now, rule->window)) {
    l->failures = 0;
    l->window_start = now;
  }
  l->failures++;
  if (l->failures < rule->failures)
    return 0;

  /* Saturate rather than wrap, so a far-future `now` still locks. */
  d = lock_duration(rule, l->lockouts);
  l->locked_until = now > INT64_MAX - d ? INT64_MAX : now + d;
  if (l->lockouts < UINT32_MAX)
    l->lockouts++;
  l->failures = 0;
  l->window_start = 0;
  return 1;
}

void lockout_success(struct lockout *l) {
  l->failures = 0;
  l->window_start = 0;
}
