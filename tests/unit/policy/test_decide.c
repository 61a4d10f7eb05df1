#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/pack.h"
#include "policy/policy.h"

#define HOUR 3600
#define MIN 60
#define FRI_2026_12_04 1796342400LL /* 00:00Z, a Friday */
#define FRI_2026_03_27 1774569600LL /* Paris still on +1 */
#define MON_2026_03_30 1774828800LL /* Paris now on +2 */

/* Conditions one at a time; the decisions below use other files. */
static const char conditions[] =
    "resources:\n"
    "  wiki: {address: wiki.corp:443, connector: paris}\n"
    "  db: {address: 10.20.0.5:5432, connector: paris}\n"
    "rules:\n"
    "  - {name: res, action: allow, resources: [wiki]}\n"
    "  - {name: anyone, action: allow, resources: [wiki]}\n"
    "  - {name: users, action: allow, resources: [wiki], users: [alice]}\n"
    "  - {name: groups, action: allow, resources: [wiki], groups: [eng]}\n"
    "  - {name: both, action: allow, resources: [wiki], users: [bob],\n"
    "     groups: [eng, ops]}\n"
    "  - {name: mfa, action: allow, resources: [wiki], mfa: true}\n"
    "  - {name: nomfa, action: allow, resources: [wiki], mfa: false}\n"
    "  - {name: tags, action: allow, resources: [wiki],\n"
    "     device_tags: [managed, encrypted]}\n"
    "  - {name: cc, action: allow, resources: [wiki], countries: [FR, de]}\n"
    "  - {name: ccxx, action: allow, resources: [wiki], countries: [XX]}\n"
    "  - {name: notcc, action: allow, resources: [wiki],\n"
    "     not_countries: [RU]}\n"
    "  - {name: asn, action: allow, resources: [wiki], asns: [3215]}\n"
    "  - {name: notasn, action: allow, resources: [wiki], not_asns: [666]}\n"
    "  - {name: office, action: allow, resources: [wiki],\n"
    "     hours: \"08:00-19:00\"}\n"
    "  - {name: night, action: allow, resources: [wiki], days: fri,\n"
    "     hours: \"22:00-06:00\"}\n"
    "  - {name: late, action: allow, resources: [wiki],\n"
    "     hours: \"20:00-24:00\"}\n"
    "  - {name: weekdays, action: allow, resources: [wiki], days: [mon-fri]}\n"
    "  - {name: paris, action: allow, resources: [wiki],\n"
    "     hours: \"08:00-19:00\", timezone: Europe/Paris}\n"
    "  - {name: risk, action: allow, resources: [wiki], max_risk: 50}\n"
    "  - {name: order, action: allow, resources: [wiki], mfa: true,\n"
    "     device_tags: [managed], countries: [FR], asns: [1],\n"
    "     hours: \"08:00-09:00\", days: [sun], max_risk: 0}\n";

struct env {
  struct policy *p;
  struct sp_wbuf w[3]; /* groups, pgroups, device tags */
  struct policy_request req;
};

static struct env env;

static int setup(void **state) {
  char msg[256];

  memset(&env, 0, sizeof(env));
  if (policy_parse("t.yaml", conditions, strlen(conditions), &env.p, msg,
                   sizeof(msg)) != 0) {
    print_error("%s\n", msg);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  int i;

  policy_free(env.p);
  for (i = 0; i < 3; i++)
    sp_wbuf_free(&env.w[i]);
  return 0;
}

static void set_list(struct sp_strlist *l, int which, const char *a,
                     const char *b) {
  const char *items[2] = {a, b};
  struct sp_wbuf *w = &env.w[which];

  sp_wbuf_free(w);
  memset(l, 0, sizeof(*l));
  if (a != NULL)
    assert_int_equal(sp_strlist_build(l, w, items, b != NULL ? 2 : 1), 0);
}

/* A request that every condition above is happy with. */
static struct policy_request *base(void) {
  struct policy_request *r = &env.req;

  memset(r, 0, sizeof(*r));
  r->user = "alice";
  r->resource = "wiki";
  r->mfa = 1;
  r->device = "laptop-42";
  set_list(&r->device_tags, 2, "managed", "encrypted");
  set_list(&r->groups, 0, NULL, NULL);
  set_list(&r->pgroups, 1, NULL, NULL);
  memcpy(r->country, "FR", 3);
  r->asn = 3215;
  r->now = FRI_2026_12_04 + 9 * HOUR;
  r->risk = 10;
  return r;
}

static const struct policy_rule *rule(const char *name) {
  size_t i;

  for (i = 0; i < env.p->n_rules; i++)
    if (strcmp(env.p->rules[i].name, name) == 0)
      return &env.p->rules[i];
  fail_msg("no rule %s", name);
  return NULL;
}

static void expect(const char *name, const char *failed) {
  const char *got = policy_rule_check(rule(name), &env.req);

  if (failed == NULL && got != NULL)
    fail_msg("rule %s failed on %s", name, got);
  if (failed != NULL && (got == NULL || strcmp(got, failed) != 0))
    fail_msg("rule %s: expected %s, got %s", name, failed, got ? got : "match");
}

static void test_resources(void **state) {
  struct policy_request *r = base();

  expect("res", NULL);
  r->resource = "db";
  expect("res", "resources");
  r->resource = NULL;
  expect("res", "resources");
}

static void test_subject(void **state) {
  struct policy_request *r = base();

  expect("anyone", NULL);
  expect("users", NULL);
  expect("groups", "groups");
  expect("both", "groups");
  set_list(&r->groups, 0, "ops", NULL);
  expect("groups", "groups");
  expect("both", NULL);
  set_list(&r->groups, 0, NULL, NULL);
  set_list(&r->pgroups, 1, "x", "eng");
  expect("groups", NULL);
  expect("both", NULL);

  r->user = "bob";
  expect("users", "users");
  expect("both", NULL);
  r->user = NULL;
  expect("anyone", NULL);
  expect("users", "users");
  expect("groups", "groups");
  expect("both", "groups");
}

static void test_mfa(void **state) {
  struct policy_request *r = base();

  expect("mfa", NULL);
  r->mfa = 0;
  expect("mfa", "mfa");
  expect("nomfa", NULL);
}

static void test_device_tags(void **state) {
  struct policy_request *r = base();

  expect("tags", NULL);
  set_list(&r->device_tags, 2, "encrypted", "managed");
  expect("tags", NULL);
  set_list(&r->device_tags, 2, "managed", NULL);
  expect("tags", "device_tags");
  set_list(&r->device_tags, 2, "managed", "encrypted");
  r->device = NULL;
  expect("tags", "device_tags");
  expect("anyone", NULL);
}

static void test_countries(void **state) {
  struct policy_request *r = base();

  expect("cc", NULL);
  memcpy(r->country, "DE", 3);
  expect("cc", NULL);
  memcpy(r->country, "GB", 3);
  expect("cc", "countries");
  expect("notcc", NULL);
  memcpy(r->country, "RU", 3);
  expect("notcc", "not_countries");

  /* Unknown: only where XX is listed; never past an exclusion list. */
  memcpy(r->country, "XX", 3);
  expect("cc", "countries");
  expect("ccxx", NULL);
  expect("notcc", "not_countries");
  memset(r->country, 0, 3);
  expect("cc", "countries");
  expect("ccxx", NULL);
  expect("notcc", "not_countries");
}

static void test_asns(void **state) {
  struct policy_request *r = base();

  expect("asn", NULL);
  expect("notasn", NULL);
  r->asn = 3216;
  expect("asn", "asns");
  r->asn = 666;
  expect("notasn", "not_asns");
  r->asn = 0;
  expect("asn", "asns");
  expect("notasn", "not_asns");
}

static void test_hours_bounds(void **state) {
  struct policy_request *r = base();

  r->now = FRI_2026_12_04 + 8 * HOUR - 1;
  expect("office", "hours");
  r->now = FRI_2026_12_04 + 8 * HOUR;
  expect("office", NULL);
  r->now = FRI_2026_12_04 + 19 * HOUR - 1;
  expect("office", NULL);
  r->now = FRI_2026_12_04 + 19 * HOUR;
  expect("office", "hours");

  r->now = FRI_2026_12_04 + 20 * HOUR - 1;
  expect("late", "hours");
  r->now = FRI_2026_12_04 + 24 * HOUR - 1;
  expect("late", NULL);
  r->now = FRI_2026_12_04 + 24 * HOUR;
  expect("late", "hours");
}

/* 22:00-06:00 on fri runs into Saturday morning, not Sunday morning. */
static void test_hours_wrap(void **state) {
  struct policy_request *r = base();
  const int64_t fri = FRI_2026_12_04, sat = fri + 24 * HOUR;

  r->now = fri + 22 * HOUR - 1;
  expect("night", "hours");
  r->now = fri + 22 * HOUR;
  expect("night", NULL);
  r->now = sat - 1;
  expect("night", NULL);
  r->now = sat;
  expect("night", NULL);
  r->now = sat + 6 * HOUR - 1;
  expect("night", NULL);
  r->now = sat + 6 * HOUR;
  expect("night", "hours");
  r->now = sat + 22 * HOUR;
  expect("night", "days");
  r->now = sat + 24 * HOUR + 1 * HOUR;
  expect("night", "days");
  r->now = fri + 1 * HOUR; /* the window that started on Thursday */
  expect("night", "days");
  r->now = fri + 12 * HOUR;
  expect("night", "hours");
}

static void test_days(void **state) {
  struct policy_request *r = base();

  r->now = FRI_2026_12_04 + 23 * HOUR + 59 * MIN;
  expect("weekdays", NULL);
  r->now = FRI_2026_12_04 + 24 * HOUR;
  expect("weekdays", "days");
  r->now = FRI_2026_12_04 + 3 * 24 * HOUR;
  expect("weekdays", NULL);
  r->now = FRI_2026_12_04 - 86400LL * 365 * 60; /* a Monday in 1966 */
  expect("weekdays", NULL);
  r->now = FRI_2026_12_04 - 86400LL * 365 * 60 - 24 * HOUR;
  expect("weekdays", "days");
  r->now = -86400 + 1; /* 1969-12-31, a Wednesday */
  expect("weekdays", NULL);
  r->now = -86400 * 5 + 1; /* 1969-12-27, a Saturday */
  expect("weekdays", "days");
}

/* 08:00-19:00 in Paris is 07:00-18:00Z in winter, 06:00-17:00Z in summer. */
static void test_paris_dst(void **state) {
  struct policy_request *r = base();

  r->now = FRI_2026_03_27 + 7 * HOUR - 1;
  expect("paris", "hours");
  r->now = FRI_2026_03_27 + 7 * HOUR;
  expect("paris", NULL);
  r->now = FRI_2026_03_27 + 18 * HOUR - 1;
  expect("paris", NULL);
  r->now = FRI_2026_03_27 + 18 * HOUR;
  expect("paris", "hours");

  r->now = MON_2026_03_30 + 6 * HOUR - 1;
  expect("paris", "hours");
  r->now = MON_2026_03_30 + 6 * HOUR;
  expect("paris", NULL);
  r->now = MON_2026_03_30 + 17 * HOUR - 1;
  expect("paris", NULL);
  r->now = MON_2026_03_30 + 17 * HOUR;
  expect("paris", "hours");
}

static void test_max_risk(void **state) {
  struct policy_request *r = base();

  r->risk = 50;
  expect("risk", NULL);
  r->risk = 51;
  expect("risk", "max_risk");
}

/* The first failing condition is reported, in the documented order. */
static void test_order(void **state) {
  struct policy_request *r = base();

  r->resource = "db";
  r->mfa = 0;
  expect("order", "resources");
  r->resource = "wiki";
  expect("order", "mfa");
  r->mfa = 1;
  r->device = NULL;
  expect("order", "device_tags");
  r->device = "laptop-42";
  memcpy(r->country, "DE", 3);
  expect("order", "countries");
  memcpy(r->country, "FR", 3);
  expect("order", "asns");
  r->asn = 1;
  expect("order", "hours");
  r->now = FRI_2026_12_04 + 8 * HOUR;
  expect("order", "days");
  r->now += 2 * 24 * HOUR;
  expect("order", "max_risk");
  r->risk = 0;
  expect("order", NULL);
}

static const char decisions[] =
    "resources:\n"
    "  wiki: {address: wiki.corp:443, connector: paris}\n"
    "  db: {address: 10.20.0.5:5432, connector: paris}\n"
    "groups:\n"
    "  eng: [alice, bob]\n"
    "rules:\n"
    "  - {name: eng-wiki, action: allow, resources: [wiki], groups: [eng]}\n"
    "  - {name: carol-all, action: allow, resources: [wiki, db],\n"
    "     users: [carol]}\n"
    "  - {name: no-bob-db, action: deny, resources: [db], users: [bob]}\n"
    "  - {name: try-db, action: allow, resources: [db], groups: [eng],\n"
    "     mode: report}\n"
    "  - {name: eng-db, action: allow, resources: [db], groups: [eng]}\n"
    "  - {name: try-block-ru, action: deny, not_countries: [FR, DE],\n"
    "     mode: report}\n"
    "  - {name: block-asn, action: deny, asns: [64512]}\n"
    "  - {name: block-anyone-x, action: deny, countries: [KP]}\n"
    "  - {name: try-open-wiki, action: allow, resources: [wiki],\n"
    "     mode: report}\n";

static struct policy *parse_decisions(void) {
  struct policy *p = NULL;
  char msg[256];

  if (policy_parse("d.yaml", decisions, strlen(decisions), &p, msg,
                   sizeof(msg)) != 0)
    fail_msg("%s", msg);
  return p;
}

/*
 * Decides with and without verdicts (the relay's fast path) and checks
 * that both agree, then returns the decision.
 */
static struct policy_decision decide(const struct policy *p,
                                     struct policy_verdict *v) {
  struct policy_decision d, fast;

  memset(&d, 0x5a, sizeof(d));
  policy_decide(&env.req, p->rules, p->n_rules, &d, v);
  memset(&fast, 0x5a, sizeof(fast));
  policy_decide(&env.req, p->rules, p->n_rules, &fast, NULL);
  assert_int_equal(d.allow, fast.allow);
  assert_int_equal(d.reason, fast.reason);
  assert_ptr_equal(d.rule, fast.rule);
  assert_ptr_equal(d.report_rule, fast.report_rule);
  return d;
}

static void expect_decision(const struct policy *p, int allow,
                            enum policy_reason reason, const char *rule_name,
                            const char *report) {
  struct policy_verdict v[16];
  struct policy_decision d = decide(p, v);

  assert_int_equal(d.allow, allow);
  assert_string_equal(policy_reason_name(d.reason), policy_reason_name(reason));
  if (rule_name == NULL) {
    assert_null(d.rule);
  } else {
    assert_non_null(d.rule);
    assert_string_equal(d.rule, rule_name);
  }
  if (report == NULL) {
    assert_null(d.report_rule);
  } else {
    assert_non_null(d.report_rule);
    assert_string_equal(d.report_rule, report);
  }
}

static void test_decide_outcomes(void **state) {
  struct policy *p = parse_decisions();
  struct policy_request *r = base();

  set_list(&r->pgroups, 1, "eng", NULL);
  expect_decision(p, 1, POLICY_R_ALLOWED, "eng-wiki", NULL);

  /* A matching deny wins over an allow that comes before it. */
  r->resource = "db";
  r->user = "bob";
  expect_decision(p, 0, POLICY_R_DENY_RULE, "no-bob-db", "try-db");
  r->user = "alice";
  expect_decision(p, 1, POLICY_R_ALLOWED, "eng-db", NULL);

  /* A deny rule without resources or subject applies to everyone. */
  r->asn = 64512;
  expect_decision(p, 0, POLICY_R_DENY_RULE, "block-asn", "try-db");
  r->asn = 3215;

  set_list(&r->pgroups, 1, NULL, NULL);
  r->user = "dave";
  expect_decision(p, 0, POLICY_R_NO_ALLOW_RULE, NULL, NULL);
  r->user = "carol";
  expect_decision(p, 1, POLICY_R_ALLOWED, "carol-all", NULL);
  policy_free(p);
}

static void test_decide_report(void **state) {
  struct policy *p = parse_decisions();
  struct policy_request *r = base();

  /* Report mode never changes the outcome, but names who disagrees. */
  set_list(&r->pgroups, 1, "eng", NULL);
  memcpy(r->country, "GB", 3);
  expect_decision(p, 1, POLICY_R_ALLOWED, "eng-wiki", "try-block-ru");

  /* An unknown country never satisfies not_countries, even in a deny. */
  memcpy(r->country, "XX", 3);
  expect_decision(p, 1, POLICY_R_ALLOWED, "eng-wiki", NULL);
  memcpy(r->country, "DE", 3);
  expect_decision(p, 1, POLICY_R_ALLOWED, "eng-wiki", NULL);

  /* A report rule that agrees with the outcome is not named. */
  memcpy(r->country, "KP", 3);
  expect_decision(p, 0, POLICY_R_DENY_RULE, "block-anyone-x", "try-open-wiki");
  r->resource = "db";
  expect_decision(p, 0, POLICY_R_DENY_RULE, "block-anyone-x", "try-db");
  policy_free(p);
}

static void test_decide_prechecks(void **state) {
  struct policy *p = parse_decisions();
  struct policy_request *r = base();

  /*
   * These deny before any rule is consulted; a report-mode allow rule
   * without a subject would still have let the request in, and says so.
   */
  set_list(&r->pgroups, 1, "eng", NULL);
  r->user_disabled = 1;
  expect_decision(p, 0, POLICY_R_USER_DISABLED, NULL, "try-open-wiki");
  r->resource = "db";
  expect_decision(p, 0, POLICY_R_USER_DISABLED, NULL, "try-db");
  r->user = NULL;
  expect_decision(p, 0, POLICY_R_UNKNOWN_USER, NULL, NULL);
  r->resource = "wiki";
  expect_decision(p, 0, POLICY_R_UNKNOWN_USER, NULL, "try-open-wiki");
  r->resource = NULL;
  expect_decision(p, 0, POLICY_R_NO_RESOURCE, NULL, NULL);
  policy_free(p);
}

static void test_verdicts(void **state) {
  struct policy *p = parse_decisions();
  struct policy_request *r = base();
  struct policy_verdict v[16];
  struct policy_decision d;

  r->user = "bob";
  r->resource = "db";
  set_list(&r->pgroups, 1, "eng", NULL);
  d = decide(p, v);
  assert_false(d.allow);
  assert_string_equal(v[0].rule, "eng-wiki");
  assert_false(v[0].matched);
  assert_string_equal(v[0].failed, "resources");
  assert_string_equal(v[1].failed, "users");
  assert_true(v[2].matched);
  assert_null(v[2].failed);
  assert_true(v[3].matched);
  assert_true(v[4].matched);
  assert_false(v[5].matched);
  assert_string_equal(v[5].failed, "not_countries");
  assert_string_equal(v[6].failed, "asns");
  assert_string_equal(v[7].failed, "countries");

  policy_decide(r, p->rules, 0, &d, v);
  assert_false(d.allow);
  assert_int_equal(d.reason, POLICY_R_NO_ALLOW_RULE);
  policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resources),
      cmocka_unit_test(test_subject),
      cmocka_unit_test(test_mfa),
      cmocka_unit_test(test_device_tags),
      cmocka_unit_test(test_countries),
      cmocka_unit_test(test_asns),
      cmocka_unit_test(test_hours_bounds),
      cmocka_unit_test(test_hours_wrap),
      cmocka_unit_test(test_days),
      cmocka_unit_test(test_paris_dst),
      cmocka_unit_test(test_max_risk),
      cmocka_unit_test(test_order),
      cmocka_unit_test(test_decide_outcomes),
      cmocka_unit_test(test_decide_report),
      cmocka_unit_test(test_decide_prechecks),
      cmocka_unit_test(test_verdicts),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
