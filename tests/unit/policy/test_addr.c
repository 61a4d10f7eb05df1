#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "policy/policy.h"

static void expect_canon(const char *in, const char *want) {
  char out[POLICY_ADDR_MAX];

  assert_int_equal(policy_addr_canon(in, out, sizeof(out)), 0);
  assert_string_equal(out, want);
}

static void expect_bad(const char *in) {
  char out[POLICY_ADDR_MAX];

  assert_int_equal(policy_addr_canon(in, out, sizeof(out)), SP_EPARSE);
}

static void test_host_names(void **state) {
  expect_canon("wiki.corp:443", "wiki.corp:443");
  expect_canon("WIKI.Corp:443", "wiki.corp:443");
  expect_canon("db-1.eu_west.corp:5432", "db-1.eu_west.corp:5432");
  expect_canon("localhost:0080", "localhost:80");
  expect_canon("a:65535", "a:65535");
  expect_canon("x1.example:1", "x1.example:1");
}

static void test_ipv4(void **state) {
  expect_canon("10.20.0.5:5432", "10.20.0.5:5432");
  expect_canon("127.0.0.1:22", "127.0.0.1:22");
  expect_canon("0.0.0.0:1", "0.0.0.0:1");
}

static void test_ipv6(void **state) {
  expect_canon("[2001:db8::5]:22", "[2001:db8::5]:22");
  expect_canon("[2001:DB8:0:0:0:0:0:5]:22", "[2001:db8::5]:22");
  expect_canon("[::1]:443", "[::1]:443");
  expect_canon("[0:0:0:0:0:0:0:1]:443", "[::1]:443");
  expect_canon("[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.1]:80");
}

/* Names that a resolver would read as IPv4 have one spelling only. */
static void test_ip_literal_as_name(void **state) {
  expect_bad("2130706433:80");
  expect_bad("10.1:80");
  expect_bad("0x7f.0.0.1:80");
  expect_bad("127.0.0.01:80");
  expect_bad("1.2.3.4.5:80");
  expect_canon("10.0.0.1:80", "10.0.0.1:80");
  expect_canon("host.0x7g:80", "host.0x7g:80");
}

static void test_bad_ports(void **state) {
  expect_bad("wiki.corp");
  expect_bad("wiki.corp:");
  expect_bad("wiki.corp:0");
  expect_bad("wiki.corp:70000");
  expect_bad("wiki.corp:65536");
  expect_bad("wiki.corp:-1");
  expect_bad("wiki.corp:+80");
  expect_bad("wiki.corp:8 0");
  expect_bad("wiki.corp:99999999999999999999");
  expect_bad("[::1]");
  expect_bad("[::1]:");
}

static void test_bad_hosts(void **state) {
  char longlabel[80], longname[300];

  expect_bad(":80");
  expect_bad("2001:db8::5:22");
  expect_bad("::1:22");
  expect_bad("[10.0.0.1]:80");
  expect_bad("[2001:db8::g]:22");
  expect_bad("[fe80::1%eth0]:22");
  expect_bad("wiki..corp:443");
  expect_bad(".wiki.corp:443");
  expect_bad("wiki.corp.:443");
  expect_bad("wiki corp:443");
  expect_bad("wiki/corp:443");
  expect_bad("wïki.corp:443");

  memset(longlabel, 'a', 64);
  strcpy(longlabel + 64, ".corp:1");
  expect_bad(longlabel);
  expect_canon(longlabel + 1, longlabel + 1);

  /* 4 labels of 63 plus dots is 255 characters: over the 253 limit. */
  memset(longname, 'b', 255);
  longname[63] = longname[127] = longname[191] = '.';
  strcpy(longname + 255, ":1");
  expect_bad(longname);
  strcpy(longname + 253, ":1");
  expect_canon(longname, longname);
}

static void test_small_output(void **state) {
  char out[8];

  assert_int_equal(policy_addr_canon("wiki.corp:443", out, sizeof(out)),
                   SP_EPARSE);
  assert_int_equal(policy_addr_canon("a:1", out, sizeof(out)), 0);
  assert_string_equal(out, "a:1");
}

static void test_names(void **state) {
  char n64[65], n65[66];

  memset(n64, 'a', 64);
  n64[64] = '\0';
  memset(n65, 'a', 65);
  n65[65] = '\0';
  assert_true(policy_name_valid("alice"));
  assert_true(policy_name_valid("alice@corp.example"));
  assert_true(policy_name_valid("9lives_-."));
  assert_true(policy_name_valid("A"));
  assert_true(policy_name_valid(n64));
  assert_false(policy_name_valid(n65));
  assert_false(policy_name_valid(""));
  assert_false(policy_name_valid("-alice"));
  assert_false(policy_name_valid(".alice"));
  assert_false(policy_name_valid("_alice"));
  assert_false(policy_name_valid("al ice"));
  assert_false(policy_name_valid("al/ice"));
  assert_false(policy_name_valid("al\"ice"));
  assert_false(policy_name_valid("ali:ce"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_names),
      cmocka_unit_test(test_ipv4),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_ip_literal_as_name),
      cmocka_unit_test(test_bad_ports),
      cmocka_unit_test(test_bad_hosts),
      cmocka_unit_test(test_small_output),
      cmocka_unit_test(test_names),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
