/*
 * The decision function.
 *
 * A rule matches a request when every one of its conditions holds; the
 * conditions are tried in a fixed order so that `policy explain` and the
 * audit trail always name the same first failure.  Unknown facts fail
 * closed: an unknown country ("XX") or ASN (0) never satisfies an
 * exclusion list, and matches an inclusion list only where it is named.
 *
 * This runs for every request on the relay's loops: it allocates nothing,
 * reads no clock and does no I/O.
 */
#include "policy/policy.h"

#include <string.h>

#define MINUTES_PER_DAY 1440
#define SECONDS_PER_DAY 86400

/* Whether `rule` names the request's user or one of its groups. */
static int subject_matches(const struct policy_rule *rule,
                           const struct policy_request *req) {
  struct sp_strlist_iter it;
  const char *g;

  if (rule->users.n == 0 && rule->groups.n == 0)
    return 1;
  if (req->user == NULL)
    return 0;
  if (rule->users.n > 0 && sp_strlist_has(&rule->users, req->user))
    return 1;

  sp_strlist_iter_init(&it, &rule->groups);
  while ((g = sp_strlist_next(&it)) != NULL)
    if (sp_strlist_has(&req->groups, g) || sp_strlist_has(&req->pgroups, g))
      return 1;
  return 0;
}

static int tags_present(const struct policy_rule *rule,
                        const struct policy_request *req) {
  struct sp_strlist_iter it;
  const char *tag;

  if (req->device == NULL)
    return 0;
  sp_strlist_iter_init(&it, &rule->device_tags);
  while ((tag = sp_strlist_next(&it)) != NULL)
    if (!sp_strlist_has(&req->device_tags, tag))
      return 0;
  return 1;
}

static const char *check_country(const struct policy_rule *rule,
                                 const struct policy_request *req) {
  char cc[3];
  int unknown, listed;

  cc[0] = req->country[0];
  cc[1] = cc[0] != '\0' ? req->country[1] : '\0';
  cc[2] = '\0';
  unknown = cc[0] == '\0' || strcmp(cc, "XX") == 0;
  if (cc[0] == '\0')
    memcpy(cc, "XX", 3);
  listed = sp_strlist_has(&rule->countries, cc);

  if (!rule->not_countries)
    return listed ? NULL : "countries";
  return listed || unknown ? "not_countries" : NULL;
}

static const char *check_asn(const struct policy_rule *rule,
                             const struct policy_request *req) {
  uint32_t i, v;
  const uint8_t *p;
  int listed = 0;

  for (i = 0; i < rule->n_asns && !listed; i++) {
    p = rule->asns + (size_t)i * 4;
    v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
        (uint32_t)p[3] << 24;
    listed = v == req->asn;
  }

  if (!rule->not_asns)
    return listed && req->asn != 0 ? NULL : "asns";
  return listed || req->asn == 0 ? "not_asns" : NULL;
}

/*
 * Local minute of day and weekday.  A window that wraps midnight belongs
 * to the day it started on, so its after-midnight part checks yesterday.
 */
static const char *check_time(const struct policy_rule *rule, int64_t now) {
  int64_t local = now + policy_tz_offset(&rule->tz, now);
  int64_t day = local / SECONDS_PER_DAY, sec = local % SECONDS_PER_DAY;
  int m, wd, start = rule->hours_start, end = rule->hours_end;

  if (sec < 0) {
    sec += SECONDS_PER_DAY;
    day--;
  }
  m = (int)(sec / 60);
  wd = (int)(((day + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday. */

  if (start >= 0) {
    if (start < end) {
      if (m < start || m >= end)
        return "hours";
    } else if (m < end) {
      wd = (wd + 6) % 7;
    } else if (m < start) {
      return "hours";
    }
  }
  return (rule->days >> wd & 1) ? NULL : "days";
}

const char *policy_rule_check(const struct policy_rule *rule,
                              const struct policy_request *req) {
  const char *failed;

  if (rule->resources.n > 0 &&
      (req->resource == NULL ||
       !sp_strlist_has(&rule->resources, req->resource)))
    return "resources";
  if (!subject_matches(rule, req))
    return rule->groups.n == 0 ? "users" : "groups";
  if (rule->mfa && !req->mfa)
    return "mfa";
  if (rule->device_tags.n > 0 && !tags_present(rule, req))
    return "device_tags";
  if (rule->countries.n > 0 && (failed = check_country(rule, req)) != NULL)
    return failed;
  if (rule->n_asns > 0 && (failed = check_asn(rule, req)) != NULL)
    return failed;
  if ((rule->hours_start >= 0 || rule->days != POLICY_ALL_DAYS) &&
      (failed = check_time(rule, req->now)) != NULL)
    return failed;
  if (rule->max_risk >= 0 && req->risk > rule->max_risk)
    return "max_risk";
  return NULL;
}

/* Slots for the first matching rule of each mode and action. */
enum { FIRST_DENY, FIRST_ALLOW, REPORT_DENY, REPORT_ALLOW, N_FIRST };

static int first_slot(const struct policy_rule *rule) {
  int slot = rule->action == POLICY_DENY ? FIRST_DENY : FIRST_ALLOW;

  return rule->mode == POLICY_REPORT ? slot + REPORT_DENY : slot;
}

/* Denies before any rule is consulted; 0 when the rules must decide. */
static int precheck(const struct policy_request *req,
                    enum policy_reason *reason) {
  if (req->resource == NULL)
    *reason = POLICY_R_NO_RESOURCE;
  else if (req->user == NULL)
    *reason = POLICY_R_UNKNOWN_USER;
  else if (req->user_disabled)
    *reason = POLICY_R_USER_DISABLED;
  else
    return 0;
  return 1;
}

void policy_decide(const struct policy_request *req,
                   const struct policy_rule *rules, size_t n,
                   struct policy_decision *out,
                   struct policy_verdict *verdicts) {
  const struct policy_rule *first[N_FIRST] = {NULL, NULL, NULL, NULL};
  enum policy_reason reason = POLICY_R_NO_ALLOW_RULE;
  int denied = precheck(req, &reason), slot;
  const char *failed;
  size_t i;

  /*
   * Without verdicts a rule is only evaluated while its slot is empty,
   * and enforcing rules not at all once the request is denied anyway.
   */
  for (i = 0; i < n; i++) {
    slot = first_slot(&rules[i]);
    if (verdicts == NULL &&
        (first[slot] != NULL || (denied && slot < REPORT_DENY)))
      continue;
    failed = policy_rule_check(&rules[i], req);
    if (verdicts != NULL) {
      verdicts[i].rule = rules[i].name;
      verdicts[i].matched = failed == NULL;
      verdicts[i].failed = failed;
    }
    if (failed == NULL && first[slot] == NULL)
      first[slot] = &rules[i];
  }

  out->rule = NULL;
  if (!denied && first[FIRST_DENY] != NULL) {
    reason = POLICY_R_DENY_RULE;
    out->rule = first[FIRST_DENY]->name;
  } else if (!denied && first[FIRST_ALLOW] != NULL) {
    reason = POLICY_R_ALLOWED;
    out->rule = first[FIRST_ALLOW]->name;
  }
  out->allow = reason == POLICY_R_ALLOWED;
  out->reason = reason;
  slot = out->allow ? REPORT_DENY : REPORT_ALLOW;
  out->report_rule = first[slot] != NULL ? first[slot]->name : NULL;
}
