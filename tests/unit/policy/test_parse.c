#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/pack.h"
#include "policy/policy.h"

/* Two resources that most rule snippets below refer to. */
#define RES                                                                    \
  "resources:\n"                                                               \
  "  wiki: {address: wiki.corp:443, connector: paris}\n"                       \
  "  db: {address: 10.20.0.5:5432, connector: paris}\n"

static struct policy *parse_ok(const char *text) {
  struct policy *p = NULL;
  char msg[512] = "";

  if (policy_parse("t.yaml", text, strlen(text), &p, msg, sizeof(msg)) != 0)
    fail_msg("unexpected error: %s", msg);
  assert_non_null(p);
  return p;
}

/*
 * Expects the one-line message "t.yaml:<where> <text containing needle>"
 * and that nothing was returned.
 */
static void expect_error(const char *text, const char *where,
                         const char *needle) {
  struct policy *p = (struct policy *)&p;
  char msg[512], prefix[64];

  memset(msg, 'x', sizeof(msg));
  assert_int_equal(
      policy_parse("t.yaml", text, strlen(text), &p, msg, sizeof(msg)),
      SP_EPOLICY);
  assert_ptr_equal(p, (struct policy *)&p);
  snprintf(prefix, sizeof(prefix), "t.yaml:%s: ", where);
  if (strncmp(msg, prefix, strlen(prefix)) != 0 ||
      strstr(msg, needle) == NULL || strchr(msg, '\n') != NULL)
    fail_msg("got \"%s\", expected \"%s...%s...\"", msg, prefix, needle);
}

static void expect_rule_error(const char *rule, const char *where,
                              const char *needle) {
  char text[1024];

  snprintf(text, sizeof(text), RES "rules:\n  - %s\n", rule);
  expect_error(text, where, needle);
}

static char *read_data(const char *name, size_t *len) {
  const char *src = getenv("SP_TEST_SRC");
  char path[1024];
  FILE *f;
  char *buf;
  long n;

  snprintf(path, sizeof(path), "%s/tests/unit/policy/data/%s",
           src != NULL ? src : ".", name);
  f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  rewind(f);
  buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

static int has_all(const struct sp_strlist *l, uint32_t n, const char *a,
                   const char *b, const char *c) {
  return l->n == n && (a == NULL || sp_strlist_has(l, a)) &&
         (b == NULL || sp_strlist_has(l, b)) &&
         (c == NULL || sp_strlist_has(l, c));
}

/* The example of the design document, with every kind of condition. */
static void test_design_example(void **state) {
  size_t len;
  char *text = read_data("design.yaml", &len);
  struct policy *p = NULL;
  const struct policy_rule *r;
  char msg[256];

  assert_int_equal(policy_parse("design.yaml", text, len, &p, msg, 256), 0);
  assert_int_equal(p->text_len, len);
  assert_memory_equal(p->text, text, len);
  free(text);

  assert_int_equal(p->n_resources, 2);
  assert_string_equal(p->resources[0].name, "wiki");
  assert_string_equal(p->resources[0].address, "wiki.corp:443");
  assert_string_equal(p->resources[0].connector, "paris-office");
  assert_int_equal(p->resources[0].line, 3);
  assert_int_equal(p->resources[0].col, 3);
  assert_string_equal(p->resources[1].address, "10.20.0.5:5432");
  assert_int_equal(p->n_groups, 1);
  assert_string_equal(p->groups[0].name, "engineering");
  assert_true(has_all(&p->groups[0].members, 2, "alice", "bob", NULL));

  assert_int_equal(p->n_rules, 1);
  r = &p->rules[0];
  assert_string_equal(r->name, "engineers-wiki-office-hours");
  assert_int_equal(r->index, 0);
  assert_int_equal(r->line, 8);
  assert_int_equal(r->col, 5);
  assert_int_equal(r->action, POLICY_ALLOW);
  assert_int_equal(r->mode, POLICY_ENFORCE);
  assert_true(has_all(&r->resources, 1, "wiki", NULL, NULL));
  assert_int_equal(r->users.n, 0);
  assert_true(has_all(&r->groups, 1, "engineering", NULL, NULL));
  assert_int_equal(r->mfa, 1);
  assert_true(has_all(&r->countries, 3, "FR", "DE", "GB"));
  assert_int_equal(r->not_countries, 0);
  assert_int_equal(r->n_asns, 1);
  assert_memory_equal(r->asns, "\x8f\x0c\0\0", 4);
  assert_int_equal(r->not_asns, 0);
  assert_int_equal(r->days, 0x1f);
  assert_int_equal(r->hours_start, 8 * 60);
  assert_int_equal(r->hours_end, 19 * 60);
  assert_string_equal(r->tz.name, "Europe/Paris");
  assert_true(r->tz.n > 200);
  assert_int_equal(policy_tz_offset(&r->tz, 1796288400), 3600);
  assert_true(has_all(&r->device_tags, 1, "managed", NULL, NULL));
  assert_int_equal(r->max_risk, 50);
  policy_free(p);
}

static void test_empty_policies(void **state) {
  struct policy *p;

  p = parse_ok("");
  assert_int_equal(p->n_resources + p->n_groups + p->n_rules, 0);
  assert_int_equal(p->text_len, 0);
  policy_free(p);
  policy_free(parse_ok("# nothing yet\n"));
  policy_free(parse_ok("resources: {}\ngroups: {}\nrules: []\n"
                       "default: deny\n"));
  p = parse_ok(RES);
  assert_int_equal(p->n_resources, 2);
  assert_int_equal(p->n_rules, 0);
  policy_free(p);
  policy_free(NULL);
}

static void test_defaults(void **state) {
  struct policy *p = parse_ok(RES "rules:\n"
                                  "  - name: no-ru\n"
                                  "    action: deny\n");
  const struct policy_rule *r = &p->rules[0];

  assert_int_equal(r->action, POLICY_DENY);
  assert_int_equal(r->mode, POLICY_ENFORCE);
  assert_int_equal(r->resources.n, 0);
  assert_int_equal(r->users.n + r->groups.n + r->countries.n, 0);
  assert_int_equal(r->n_asns, 0);
  assert_int_equal(r->mfa, 0);
  assert_int_equal(r->days, POLICY_ALL_DAYS);
  assert_int_equal(r->hours_start, -1);
  assert_int_equal(r->max_risk, -1);
  assert_string_equal(r->tz.name, "UTC");
  assert_int_equal(r->tz.n, 0);
  assert_int_equal(r->device_tags.n, 0);
  policy_free(p);
}

static void test_rule_values(void **state) {
  struct policy *p =
      parse_ok(RES "rules:\n"
                   "  - {name: a, action: allow, resources: [wiki, db],\n"
                   "     users: [alice, bob@corp], groups: [not-declared],\n"
                   "     not_countries: [ru, XX], not_asns: [4294967295],\n"
                   "     days: FRI-mon, hours: \"22:00-06:00\",\n"
                   "     timezone: Europe/Paris, mode: report, mfa: false,\n"
                   "     max_risk: 0}\n"
                   "  - {name: b, action: deny, days: [Sat, sun, tue-tue],\n"
                   "     hours: \"20:00-24:00\", timezone: Europe/Paris,\n"
                   "     max_risk: 100}\n");
  const struct policy_rule *a = &p->rules[0], *b = &p->rules[1];

  assert_true(has_all(&a->resources, 2, "wiki", "db", NULL));
  assert_true(has_all(&a->users, 2, "alice", "bob@corp", NULL));
  assert_true(has_all(&a->groups, 1, "not-declared", NULL, NULL));
  assert_true(has_all(&a->countries, 2, "RU", "XX", NULL));
  assert_int_equal(a->not_countries, 1);
  assert_int_equal(a->n_asns, 1);
  assert_memory_equal(a->asns, "\xff\xff\xff\xff", 4);
  assert_int_equal(a->not_asns, 1);
  assert_int_equal(a->days, 0x71); /* fri, sat, sun, mon */
  assert_int_equal(a->hours_start, 22 * 60);
  assert_int_equal(a->hours_end, 6 * 60);
  assert_int_equal(a->mode, POLICY_REPORT);
  assert_int_equal(a->mfa, 0);
  assert_int_equal(a->max_risk, 0);
  assert_int_equal(a->index, 0);
  assert_int_equal(b->index, 1);
  assert_int_equal(b->line, 11);
  assert_int_equal(b->col, 5);
  assert_int_equal(b->days, 0x62); /* tue, sat, sun */
  assert_int_equal(b->hours_end, 24 * 60);
  assert_int_equal(b->max_risk, 100);

  /* One table per zone and parse, shared by every rule naming it. */
  assert_ptr_equal(a->tz.trans, b->tz.trans);
  policy_free(p);
}

static void test_yaml_errors(void **state) {
  expect_error("rules: [a, b\n", "2:1", "flow sequence");
  expect_error("rules:\n  - name: x\n   action: deny\n", "3:4",
               "did not find expected '-' indicator");
  expect_error("groups:\n  a: [x]\n  a: [y]\n", "3:3", "duplicate key \"a\"");
  expect_error("groups:\n  a: &x [x]\n  b: *x\n", "3:6", "aliases");
  expect_error("---\na: 1\n---\nb: 2\n", "3:1", "more than one document");
}

static void test_top_level(void **state) {
  expect_error("resources: {}\nrule: []\n", "2:1",
               "unknown top-level key \"rule\"");
  expect_error("- a\n- b\n", "1:1", "must be a map");
  expect_error("just text\n", "1:1", "must be a map");
  expect_error("default: allow\n", "1:10", "deny is the only default");
  expect_error("default: [deny]\n", "1:10", "deny is the only default");
  expect_error("resources: [wiki]\n", "1:12",
               "resources must be a map, not a list");
  expect_error("groups: eng\n", "1:9", "groups must be a map, not a string");
  expect_error("rules:\n", "1:7", "rules has no value; expected a list");
  expect_error(RES "rules: {a: b}\n", "4:8", "rules must be a list, not a map");
}

static void test_resource_errors(void **state) {
  expect_error("resources:\n  wiki: {address: wiki.corp:443}\n", "2:3",
               "resource \"wiki\": missing connector");
  expect_error("resources:\n  wiki: {connector: paris}\n", "2:3",
               "resource \"wiki\": missing address");
  expect_error("resources:\n  wiki: {address: a:1, connector: p, via: x}\n",
               "2:38", "unknown key \"via\"");
  expect_error("resources:\n  wiki: wiki.corp:443\n", "2:9", "must be a map");
  expect_error("resources:\n  wiki: {address: [a:1], connector: p}\n", "2:19",
               "address must be a single value, not a list");
  expect_error("resources:\n  -wiki: {address: a:1, connector: p}\n", "2:3",
               "invalid resource name \"-wiki\"");
  expect_error("resources:\n  wiki: {address: a:1, connector: p q}\n", "2:35",
               "invalid connector name \"p q\"");
  expect_error("resources:\n"
               "  wiki: {address: wiki.corp:443, connector: paris}\n"
               "  db: {address: 10.0.0.1:5432, connector: paris}\n"
               "  wiki2: {address: WIKI.Corp:443, connector: paris}\n",
               "4:20",
               "resource \"wiki2\": same address wiki.corp:443 as resource "
               "\"wiki\" (line 2)");
  expect_error("resources:\n"
               "  a: {address: \"[2001:db8::5]:22\", connector: p}\n"
               "  b: {address: \"[2001:DB8:0::5]:22\", connector: p}\n",
               "3:16", "same address [2001:db8::5]:22 as resource \"a\"");
}

static void expect_address_error(const char *address, const char *needle) {
  char text[256];

  snprintf(text, sizeof(text),
           "resources:\n  wiki: {connector: p, address: \"%s\"}\n", address);
  expect_error(text, "2:33", needle);
}

static void test_address_errors(void **state) {
  expect_address_error("wiki.corp", "no port");
  expect_address_error("wiki.corp:0", "port must be a number from 1 to 65535");
  expect_address_error("wiki.corp:70000", "from 1 to 65535");
  expect_address_error("wiki.corp:https", "from 1 to 65535");
  expect_address_error("2001:db8::5:22", "IPv6 addresses go in brackets");
  expect_address_error("[2001:db8::5]", "[2001:db8::5]:22");
  expect_address_error("[2001:db8::5]:0", "from 1 to 65535");
  expect_address_error("[2001:db8::q]:22", "not a valid IPv6 address");
  expect_address_error("wiki..corp:443", "not a valid host name");
  expect_address_error("wi$ki.corp:443", "not a valid host name");
  expect_address_error("10.1:443", "not a valid host name");
  expect_address_error(":443", "not a valid host name");
}

static void test_group_errors(void **state) {
  expect_error("groups:\n  eng: []\n", "2:8",
               "group \"eng\": an empty list matches nobody");
  expect_error("groups:\n  eng: alice\n", "2:8",
               "group \"eng\": must be a list of user names, not a string");
  expect_error("groups:\n  eng: [alice, \"b b\"]\n", "2:16",
               "invalid user name \"b b\"");
  expect_error("groups:\n  eng: [alice, [bob]]\n", "2:16",
               "must list single values, not a list");
  expect_error("groups:\n  \"e g\": [alice]\n", "2:3",
               "invalid group name \"e g\"");
}

static void test_rule_structure_errors(void **state) {
  expect_rule_error("just a string", "5:5",
                    "rule 1: a rule must be a map, not a string");
  expect_rule_error("{action: deny}", "5:5", "rule 1: missing name");
  expect_rule_error("{name: \"bad name\", action: deny}", "5:12",
                    "rule 1: invalid rule name \"bad name\"");
  expect_rule_error("{name: x}", "5:5",
                    "rule \"x\": missing action (allow or deny)");
  expect_rule_error("{name: x, action: deny, colour: red}", "5:29",
                    "rule \"x\": unknown key \"colour\"");
  expect_rule_error("{name: x, action: allow}", "5:5",
                    "rule \"x\": an allow rule must name its resources");
  expect_rule_error("{name: x, action: permit}", "5:23",
                    "action must be allow or deny, not \"permit\"");
  expect_rule_error("{name: x, action: deny, mode: audit}", "5:35",
                    "mode must be enforce or report, not \"audit\"");
  expect_error(RES "rules:\n"
                   "  - {name: x, action: deny}\n"
                   "  - {name: y, action: deny}\n"
                   "  - {name: x, action: deny}\n"
                   "  - {name: y, action: deny}\n",
               "7:12", "duplicate rule name \"x\" (first on line 5)");
}

static void test_rule_list_errors(void **state) {
  expect_rule_error("{name: x, action: allow, resources: [wiki, wikii]}",
                    "5:48", "rule \"x\": unknown resource \"wikii\"");
  expect_rule_error("{name: x, action: allow, resources: wiki}", "5:41",
                    "resources must be a list, not a string");
  expect_rule_error("{name: x, action: deny, users: []}", "5:36",
                    "users is an empty list");
  expect_rule_error("{name: x, action: deny, groups: [eng, {a: b}]}", "5:43",
                    "groups must list single values, not a map");
  expect_rule_error("{name: x, action: deny, device_tags: [\"a b\"]}", "5:43",
                    "invalid device tag \"a b\"");
  expect_rule_error("{name: x, action: deny, users: [alice, -bob]}", "5:44",
                    "invalid user name \"-bob\"");
}

static void test_rule_value_errors(void **state) {
  expect_rule_error("{name: x, action: deny, mfa: yes}", "5:34",
                    "mfa must be true or false, not \"yes\"");
  expect_rule_error("{name: x, action: deny, mfa: [true]}", "5:34",
                    "mfa must be a single value, not a list");
  expect_rule_error(
      "{name: x, action: deny, countries: [FR], not_countries: [DE]}", "5:46",
      "countries and not_countries cannot be used together");
  expect_rule_error(
      "{name: x, action: deny, not_countries: [FR], countries: [DE]}", "5:50",
      "countries and not_countries cannot be used together");
  expect_rule_error("{name: x, action: deny, countries: [FR, FRA]}", "5:45",
                    "invalid country code \"FRA\"");
  expect_rule_error("{name: x, action: deny, countries: [F1]}", "5:41",
                    "invalid country code \"F1\"");
  expect_rule_error("{name: x, action: deny, asns: [0]}", "5:36",
                    "invalid AS number \"0\"");
  expect_rule_error("{name: x, action: deny, asns: [4294967296]}", "5:36",
                    "invalid AS number \"4294967296\"");
  expect_rule_error("{name: x, action: deny, not_asns: [AS3215]}", "5:40",
                    "invalid AS number \"AS3215\"");
  expect_rule_error("{name: x, action: deny, asns: [1], not_asns: [2]}", "5:40",
                    "asns and not_asns cannot be used together");
  expect_rule_error("{name: x, action: deny, max_risk: 101}", "5:39",
                    "max_risk must be a whole number from 0 to 100");
  expect_rule_error("{name: x, action: deny, max_risk: -1}", "5:39",
                    "not \"-1\"");
}

static void test_time_errors(void **state) {
  expect_rule_error("{name: x, action: deny, days: [mon, funday]}", "5:41",
                    "invalid day \"funday\"");
  expect_rule_error("{name: x, action: deny, days: monday}", "5:35",
                    "invalid day \"monday\"");
  expect_rule_error("{name: x, action: deny, days: mon-}", "5:35",
                    "invalid day \"mon-\"");
  expect_rule_error("{name: x, action: deny, days: []}", "5:35",
                    "days is an empty list");
  expect_rule_error("{name: x, action: deny, hours: \"8:00-19:00\"}", "5:36",
                    "hours must look like \"08:00-19:00\"");
  expect_rule_error("{name: x, action: deny, hours: 08:00}", "5:36",
                    "hours must look like");
  expect_rule_error("{name: x, action: deny, hours: \"08:00-25:00\"}", "5:36",
                    "times run from 00:00 to 23:59");
  expect_rule_error("{name: x, action: deny, hours: \"08:60-09:00\"}", "5:36",
                    "times run from 00:00 to 23:59");
  expect_rule_error("{name: x, action: deny, hours: \"24:00-08:00\"}", "5:36",
                    "an end may be 24:00");
  expect_rule_error("{name: x, action: deny, hours: \"08:00-08:00\"}", "5:36",
                    "the start and the end are the same");
  expect_rule_error("{name: x, action: deny, timezone: Europe/Atlantis}",
                    "5:39", "unknown time zone \"Europe/Atlantis\"");
  expect_rule_error("{name: x, action: deny, timezone: ../../etc/passwd}",
                    "5:39", "unknown time zone");
  expect_rule_error("{name: x, action: deny, timezone: [UTC]}", "5:39",
                    "timezone must be a single value, not a list");
}

/* A message never spans lines, whatever the file's strings hold. */
static void test_message_is_one_line(void **state) {
  expect_rule_error("{name: x, action: \"al\\nlow\"}", "5:23",
                    "not \"al?low\"");
}

static void test_msg_optional(void **state) {
  struct policy *p = NULL;
  char small[12];

  assert_int_equal(policy_parse("t.yaml", "x: 1\n", 5, &p, NULL, 0),
                   SP_EPOLICY);
  assert_int_equal(
      policy_parse("t.yaml", "x: 1\n", 5, &p, small, sizeof(small)),
      SP_EPOLICY);
  assert_string_equal(small, "t.yaml:1:1:");
  assert_null(p);
}

/* Appends printf output to a growing buffer. */
static void put(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  int n;

  if (*cap - *len < 512) {
    *cap = *cap * 2 + 4096;
    *buf = realloc(*buf, *cap);
    assert_non_null(*buf);
  }
  va_start(ap, fmt);
  n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
  va_end(ap);
  *len += (size_t)n;
}

/* 10,000 resources and rules, 100,000 group members: no quadratic step. */
static void test_large_policy(void **state) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int i, j;
  struct policy *p = NULL;
  char msg[256];
  struct timespec t0, t1;
  double secs;

  put(&buf, &len, &cap, "resources:\n");
  for (i = 0; i < 10000; i++)
    put(&buf, &len, &cap, "  r%d: {address: h%d.corp:%d, connector: c%d}\n", i,
        i, 1 + i % 60000, i % 50);
  put(&buf, &len, &cap, "groups:\n");
  for (i = 0; i < 1000; i++) {
    put(&buf, &len, &cap, "  g%d: [u%d", i, i * 100);
    for (j = 1; j < 100; j++)
      put(&buf, &len, &cap, ", u%d", i * 100 + j);
    put(&buf, &len, &cap, "]\n");
  }
  put(&buf, &len, &cap, "rules:\n");
  for (i = 0; i < 10000; i++)
    put(&buf, &len, &cap,
        "  - {name: rule%d, action: %s, resources: [r%d, r%d],"
        " groups: [g%d], days: mon-fri, hours: \"08:00-19:00\","
        " timezone: %s}\n",
        i, i % 3 ? "allow" : "deny", i, (i * 7) % 10000, i % 1000,
        i % 2 ? "Europe/Paris" : "America/New_York");

  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(policy_parse("big.yaml", buf, len, &p, msg, 256), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  print_message("large policy (%zu bytes) parsed in %.3f s\n", len, secs);
  assert_int_equal(p->n_resources, 10000);
  assert_int_equal(p->n_groups, 1000);
  assert_int_equal(p->n_rules, 10000);
  assert_true(has_all(&p->rules[9999].resources, 2, "r9999", "r9993", NULL));
  policy_free(p);

  /* A duplicate at the very end is still found, and found quickly. */
  put(&buf, &len, &cap, "  - {name: rule5000, action: deny}\n");
  assert_int_equal(policy_parse("big.yaml", buf, len, &p, msg, 256),
                   SP_EPOLICY);
  assert_non_null(strstr(msg, "big.yaml:21004:12: duplicate rule name"));
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_design_example),
      cmocka_unit_test(test_empty_policies),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_rule_values),
      cmocka_unit_test(test_yaml_errors),
      cmocka_unit_test(test_top_level),
      cmocka_unit_test(test_resource_errors),
      cmocka_unit_test(test_address_errors),
      cmocka_unit_test(test_group_errors),
      cmocka_unit_test(test_rule_structure_errors),
      cmocka_unit_test(test_rule_list_errors),
      cmocka_unit_test(test_rule_value_errors),
      cmocka_unit_test(test_time_errors),
      cmocka_unit_test(test_message_is_one_line),
      cmocka_unit_test(test_msg_optional),
      cmocka_unit_test(test_large_policy),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
