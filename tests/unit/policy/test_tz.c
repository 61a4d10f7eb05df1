#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/pack.h"
#include "policy/policy.h"

/* UTC instants of the 2026 changes, from the zones' published rules. */
#define PARIS_SUMMER 1774746000 /* 2026-03-29T01:00:00Z */
#define PARIS_WINTER 1792890000 /* 2026-10-25T01:00:00Z */
#define NY_SUMMER 1772953200    /* 2026-03-08T07:00:00Z */
#define NY_WINTER 1793512800    /* 2026-11-01T06:00:00Z */

static void load(struct policy_tz *tz, struct sp_wbuf *w, const char *name) {
  sp_wbuf_init(w);
  assert_int_equal(policy_tz_load(tz, w, name), 0);
  assert_string_equal(tz->name, name);
}

static void test_paris(void **state) {
  struct policy_tz tz;
  struct sp_wbuf w;

  load(&tz, &w, "Europe/Paris");
  assert_true(tz.n > 200);
  assert_int_equal(policy_tz_offset(&tz, PARIS_SUMMER - 1), 3600);
  assert_int_equal(policy_tz_offset(&tz, PARIS_SUMMER), 7200);
  assert_int_equal(policy_tz_offset(&tz, PARIS_WINTER - 1), 7200);
  assert_int_equal(policy_tz_offset(&tz, PARIS_WINTER), 3600);
  assert_int_equal(policy_tz_offset(&tz, 0), 3600);
  assert_int_equal(policy_tz_offset(&tz, -86400LL * 365 * 100), 3600);
  assert_int_equal(policy_tz_offset(&tz, 4070908800LL), 3600); /* 2099-01 */
  assert_int_equal(policy_tz_offset(&tz, 4086547200LL), 7200); /* 2099-07 */
  assert_int_equal(policy_tz_offset(&tz, INT64_MAX), 3600);
  sp_wbuf_free(&w);
}

static void test_new_york(void **state) {
  struct policy_tz tz;
  struct sp_wbuf w;

  load(&tz, &w, "America/New_York");
  assert_int_equal(policy_tz_offset(&tz, NY_SUMMER - 1), -5 * 3600);
  assert_int_equal(policy_tz_offset(&tz, NY_SUMMER), -4 * 3600);
  assert_int_equal(policy_tz_offset(&tz, NY_WINTER - 1), -4 * 3600);
  assert_int_equal(policy_tz_offset(&tz, NY_WINTER), -5 * 3600);
  sp_wbuf_free(&w);
}

/* The table layout is part of the store format: check it byte by byte. */
static void test_table_layout(void **state) {
  struct policy_tz tz;
  struct sp_wbuf w;
  const uint8_t *e;
  int64_t prev = INT64_MIN, start;
  uint32_t i;
  int k;

  load(&tz, &w, "Europe/Paris");
  assert_int_equal(w.len, (size_t)tz.n * POLICY_TZ_ENTRY);
  for (i = 0; i < tz.n; i++) {
    e = tz.trans + (size_t)i * POLICY_TZ_ENTRY;
    start = 0;
    for (k = 7; k >= 0; k--)
      start = (int64_t)((uint64_t)start << 8 | e[k]);
    if (i == 0)
      assert_true(start == INT64_MIN);
    else
      assert_true(start > prev);
    prev = start;
  }
  e = tz.trans;
  assert_int_equal(e[8] | e[9] << 8, 3600);
  sp_wbuf_free(&w);
}

static void test_utc_and_fixed(void **state) {
  struct policy_tz tz;
  struct sp_wbuf w;

  load(&tz, &w, "UTC");
  assert_int_equal(tz.n, 0);
  assert_null(tz.trans);
  assert_int_equal(policy_tz_offset(&tz, PARIS_SUMMER), 0);
  sp_wbuf_free(&w);

  load(&tz, &w, "Etc/UTC");
  assert_int_equal(tz.n, 0);
  sp_wbuf_free(&w);

  load(&tz, &w, "Asia/Kolkata");
  assert_int_equal(tz.n, 1);
  assert_int_equal(policy_tz_offset(&tz, PARIS_SUMMER), 19800);
  sp_wbuf_free(&w);
}

/* Entries are read from any byte address, as in the store's pages. */
static void test_unaligned_table(void **state) {
  uint8_t raw[1 + 2 * POLICY_TZ_ENTRY];
  struct sp_wbuf w;
  struct policy_tz tz;

  sp_wbuf_init(&w);
  sp_wbuf_u64(&w, (uint64_t)INT64_MIN);
  sp_wbuf_u32(&w, (uint32_t)-3600);
  sp_wbuf_u64(&w, 1000);
  sp_wbuf_u32(&w, 7200);
  assert_int_equal(w.err, 0);
  memcpy(raw + 1, w.p, w.len);
  tz.name = "test";
  tz.trans = raw + 1;
  tz.n = 2;
  assert_int_equal(policy_tz_offset(&tz, 999), -3600);
  assert_int_equal(policy_tz_offset(&tz, 1000), 7200);
  assert_int_equal(policy_tz_offset(&tz, INT64_MIN), -3600);
  sp_wbuf_free(&w);
}

static void expect_unknown(const char *name) {
  struct policy_tz tz;
  struct sp_wbuf w;

  sp_wbuf_init(&w);
  assert_int_equal(policy_tz_load(&tz, &w, name), SP_ENOTFOUND);
  sp_wbuf_free(&w);
}

static void test_unknown_names(void **state) {
  expect_unknown("Mars/Olympus_Mons");
  expect_unknown("");
  expect_unknown("/etc/passwd");
  expect_unknown("../../../etc/passwd");
  expect_unknown("Europe/../Europe/Paris");
  expect_unknown("Europe//Paris");
  expect_unknown("Europe/Paris/");
  expect_unknown("Europe/Paris ");
  expect_unknown("Europe");
  expect_unknown(":Europe/Paris");
  expect_unknown("zone.tab");
}

/* $TZDIR is honoured, and a file that is not TZif is not a zone. */
static void test_tzdir(void **state) {
  char dir[] = "/tmp/sp-tz-XXXXXX", path[64];
  FILE *f;

  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/Fake", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("not a zone file\n", f);
  fclose(f);
  setenv("TZDIR", dir, 1);
  expect_unknown("Fake");
  expect_unknown("Europe/Paris");
  unsetenv("TZDIR");
  unlink(path);
  rmdir(dir);
}

/* Loading a zone leaves the process's own TZ as it was. */
static void test_tz_restored(void **state) {
  struct policy_tz tz;
  struct sp_wbuf w;

  setenv("TZ", "Asia/Tokyo", 1);
  load(&tz, &w, "Europe/Paris");
  sp_wbuf_free(&w);
  assert_string_equal(getenv("TZ"), "Asia/Tokyo");

  unsetenv("TZ");
  load(&tz, &w, "America/New_York");
  sp_wbuf_free(&w);
  assert_null(getenv("TZ"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paris),
      cmocka_unit_test(test_new_york),
      cmocka_unit_test(test_table_layout),
      cmocka_unit_test(test_utc_and_fixed),
      cmocka_unit_test(test_unaligned_table),
      cmocka_unit_test(test_unknown_names),
      cmocka_unit_test(test_tzdir),
      cmocka_unit_test(test_tz_restored),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
