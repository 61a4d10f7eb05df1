/*
 * Timestamps and durations as the CLI and the settings files write them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/timefmt.h"

static int64_t at(const char *s) {
  int64_t t = -1;

  if (sp_time_parse(s, &t) != 0)
    fail_msg("%s did not parse", s);
  return t;
}

static void test_time_parse(void **state) {
  char out[SP_TIME_MAX];
  int64_t t;

  (void)state;
  assert_int_equal(at("1970-01-01T00:00:00Z"), 0);
  assert_int_equal(at("2026-12-03T09:00:00Z"), 1796288400);
  assert_int_equal(at("2026-12-03t09:00:00z"), 1796288400);
  assert_int_equal(at("2026-12-03 10:00:00+01:00"), 1796288400);
  assert_int_equal(at("2026-12-03T04:30:00-04:30"), 1796288400);
  assert_int_equal(at("2026-12-03T09:00:00.999Z"), 1796288400);
  assert_int_equal(at("2024-02-29T00:00:00Z"), 1709164800);
  assert_int_equal(at("2000-02-29T00:00:00Z"), 951782400);
  assert_int_equal(at("1969-12-31T23:59:59Z"), -1);
  assert_string_equal(sp_time_format(out, 1796288400), "2026-12-03T09:00:00Z");
  /* Four digits for every year, as RFC 3339 wants. */
  t = at("0004-02-29T23:58:60Z");
  assert_string_equal(sp_time_format(out, t), "0004-02-29T23:59:00Z");
  assert_string_equal(sp_time_format(out, at("0000-01-01T00:00:00+00:01")),
                      "@-62167219260");
  assert_string_equal(sp_time_format(out, at("9999-12-31T23:59:59-00:01")),
                      "@253402300859");

  t = 42;
  assert_int_equal(sp_time_parse("2023-02-29T00:00:00Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("1900-02-29T00:00:00Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-04-31T00:00:00Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-13-01T00:00:00Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-12-03T24:00:00Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-12-03T09:00:00", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-12-03T09:00:00.Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-12-03T09:00:00+0100", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("2026-12-03T09:00:00Zjunk", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("26-12-03T09:00:00Z", &t), SP_EPARSE);
  assert_int_equal(sp_time_parse("", &t), SP_EPARSE);
  assert_int_equal(t, 42); /* untouched on failure */
}

static void test_duration_parse(void **state) {
  int64_t v = -1;

  (void)state;
  assert_int_equal(sp_duration_parse("90", &v), 0);
  assert_int_equal(v, 90);
  assert_int_equal(sp_duration_parse("30s", &v), 0);
  assert_int_equal(v, 30);
  assert_int_equal(sp_duration_parse("12h", &v), 0);
  assert_int_equal(v, 43200);
  assert_int_equal(sp_duration_parse("1h30m", &v), 0);
  assert_int_equal(v, 5400);
  assert_int_equal(sp_duration_parse("1d2h3m4s", &v), 0);
  assert_int_equal(v, 93784);
  assert_int_equal(sp_duration_parse("0s", &v), 0);
  assert_int_equal(v, 0);

  v = 7;
  assert_int_equal(sp_duration_parse("", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("h", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("1h30", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("-5s", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("+5s", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("5 s", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("5w", &v), SP_EPARSE);
  assert_int_equal(sp_duration_parse("1000000000s", &v), SP_EPARSE);
  assert_int_equal(v, 7);
}

static void test_duration_sum_does_not_wrap(void **state) {
  /* 99999999d is 8.6e12 s: a million of them would pass INT64_MAX. */
  static char big[12 * 1100000];
  size_t i, n = 0;
  int64_t v = 0;

  (void)state;
  for (i = 0; i < 1100000; i++) {
    memcpy(big + n, "99999999d", 9);
    n += 9;
  }
  big[n] = '\0';
  assert_int_equal(sp_duration_parse(big, &v), SP_EPARSE);
  assert_int_equal(v, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_parse),
      cmocka_unit_test(test_duration_parse),
      cmocka_unit_test(test_duration_sum_does_not_wrap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
