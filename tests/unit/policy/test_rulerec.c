/* Every field of a rule survives the trip into the store and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/pack.h"
#include "policy/policy.h"
#include "policy/rulerec.h"

static const char text[] =
    "resources:\n"
    "  wiki: {address: wiki.corp:443, connector: paris}\n"
    "rules:\n"
    "  - name: everything\n"
    "    action: deny\n"
    "    mode: report\n"
    "    resources: [wiki]\n"
    "    users: [alice, bob]\n"
    "    groups: [eng]\n"
    "    mfa: true\n"
    "    not_countries: [KP, XX]\n"
    "    not_asns: [3215, 15169]\n"
    "    days: [fri-mon]\n"
    "    hours: \"22:00-06:00\"\n"
    "    timezone: Europe/Paris\n"
    "    device_tags: [managed, encrypted]\n"
    "    max_risk: 40\n";

static void same_list(const struct sp_strlist *a, const struct sp_strlist *b) {
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->len, b->len);
  if (a->len > 0)
    assert_memory_equal(a->p, b->p, a->len);
}

static void test_round_trip(void **state) {
  struct policy *p;
  struct policy_rule back;
  const struct policy_rule *r;
  struct sp_wbuf w;
  char msg[256];

  assert_int_equal(
      policy_parse("t.yaml", text, strlen(text), &p, msg, sizeof(msg)), 0);
  r = &p->rules[0];
  sp_wbuf_init(&w);
  rulerec_encode(&w, r);
  assert_int_equal(w.err, 0);
  assert_int_equal(rulerec_decode(w.p, w.len, 7, &back), 0);

  assert_string_equal(back.name, r->name);
  assert_int_equal(back.index, 7);
  assert_int_equal(back.action, POLICY_DENY);
  assert_int_equal(back.mode, POLICY_REPORT);
  same_list(&back.resources, &r->resources);
  same_list(&back.users, &r->users);
  same_list(&back.groups, &r->groups);
  assert_int_equal(back.mfa, 1);
  assert_int_equal(back.not_countries, 1);
  same_list(&back.countries, &r->countries);
  assert_int_equal(back.not_asns, 1);
  assert_int_equal(back.n_asns, 2);
  assert_memory_equal(back.asns, r->asns, 8);
  assert_int_equal(back.days, r->days);
  assert_int_equal(back.hours_start, 22 * 60);
  assert_int_equal(back.hours_end, 6 * 60);
  assert_string_equal(back.tz.name, "Europe/Paris");
  same_list(&back.device_tags, &r->device_tags);
  assert_int_equal(back.device_tags.n, 2);
  assert_int_equal(back.max_risk, 40);

  /* Truncations and trailing bytes are refused. */
  assert_int_not_equal(rulerec_decode(w.p, w.len - 1, 0, &back), 0);
  sp_wbuf_u8(&w, 0);
  assert_int_not_equal(rulerec_decode(w.p, w.len, 0, &back), 0);
  sp_wbuf_free(&w);
  policy_free(p);
}

static int decode_with(struct policy_rule r, int hours_start, int hours_end,
                       int max_risk) {
  struct policy_rule back;
  struct sp_wbuf w;
  int rc;

  r.hours_start = hours_start;
  r.hours_end = hours_end;
  r.max_risk = max_risk;
  sp_wbuf_init(&w);
  rulerec_encode(&w, &r);
  assert_int_equal(w.err, 0);
  rc = rulerec_decode(w.p, w.len, 0, &back);
  if (rc == 0) {
    assert_int_equal(back.hours_start, hours_start);
    assert_int_equal(back.hours_end, hours_end);
    assert_int_equal(back.max_risk, max_risk);
  }
  sp_wbuf_free(&w);
  return rc;
}

/* A damaged record (found by fuzz_records) must not wrap a number into
   range on its way back from the store. */
static void test_numbers_out_of_range(void **state) {
  struct policy *p;
  struct policy_rule r;
  char msg[256];

  assert_int_equal(
      policy_parse("t.yaml", text, strlen(text), &p, msg, sizeof(msg)), 0);
  r = p->rules[0];
  assert_int_equal(decode_with(r, -1, -1, -1), 0); /* none of the three */
  assert_int_equal(decode_with(r, 0, 24 * 60, 100), 0);
  assert_int_not_equal(decode_with(r, 24 * 60 + 1, 0, 0), 0);
  assert_int_not_equal(decode_with(r, 0, 24 * 60 + 1, 0), 0);
  assert_int_not_equal(decode_with(r, 0, 0, 101), 0);
  assert_int_not_equal(decode_with(r, INT32_MAX - 1, 0, 0), 0);
  assert_int_not_equal(decode_with(r, 0, 0, INT32_MIN), 0);
  assert_int_not_equal(decode_with(r, -2, 0, 0), 0);
  policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_numbers_out_of_range)};

  return cmocka_run_group_tests(tests, NULL, NULL);
}
