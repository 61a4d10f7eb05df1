#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "common/err.h"
#include "policy/totp.h"

/* The secret of RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1). */
static const uint8_t rfc_secret[] = "12345678901234567890";
#define RFC_SECRET_LEN 20
#define RFC_SECRET_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

/* The six-digit code of `step`, as a client would type it. */
static void code_of(char *out, uint64_t step) {
  snprintf(out, TOTP_DIGITS + 1, "%06u",
           (unsigned)totp_hotp(rfc_secret, RFC_SECRET_LEN, step));
}

static void test_hotp_rfc4226(void **state) {
  static const uint32_t want[10] = {755224, 287082, 359152, 969429, 338314,
                                    254676, 287922, 162583, 399871, 520489};
  uint64_t c;

  for (c = 0; c < 10; c++)
    assert_int_equal(totp_hotp(rfc_secret, RFC_SECRET_LEN, c), want[c]);
}

/* RFC 6238 Appendix B, SHA-1 column, reduced from 8 digits to 6. */
static void test_totp_rfc6238(void **state) {
  static const struct {
    int64_t t;
    uint32_t code;
  } v[] = {{59, 287082},       {1111111109, 81804},  {1111111111, 50471},
           {1234567890, 5924}, {2000000000, 279037}, {20000000000, 353130}};
  size_t i;

  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    assert_int_equal(totp_hotp(rfc_secret, RFC_SECRET_LEN, totp_step(v[i].t)),
                     v[i].code);
}

static void test_step(void **state) {
  assert_true(totp_step(-1) == 0);
  assert_true(totp_step(INT64_MIN) == 0);
  assert_true(totp_step(0) == 0);
  assert_true(totp_step(29) == 0);
  assert_true(totp_step(30) == 1);
  assert_true(totp_step(59) == 1);
  assert_true(totp_step(1111111111) == 37037037);
}

static void test_skew(void **state) {
  const int64_t now = 1111111111;
  const uint64_t s = 37037037;
  uint64_t got;
  char code[TOTP_DIGITS + 1];
  int d;

  for (d = -1; d <= 1; d++) {
    code_of(code, s + d);
    got = 0;
    assert_int_equal(
        totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, 0, &got), 0);
    assert_true(got == s + d);
  }

  code_of(code, s - 2);
  assert_int_equal(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, 0, &got),
                   SP_EAUTH);
  code_of(code, s + 2);
  assert_int_equal(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, 0, &got),
                   SP_EAUTH);
}

static void test_replay(void **state) {
  const int64_t now = 1234567890;
  const uint64_t s = 41152263;
  uint64_t got = 0;
  char code[TOTP_DIGITS + 1];

  code_of(code, s);
  assert_int_equal(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, 0, &got),
                   0);
  assert_true(got == s);

  /* The same code again, even a few seconds later, is a replay. */
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, code, now + 5, got, &got),
      SP_EREPLAY);

  /* So is a code of the step before, though still within the skew. */
  code_of(code, s - 1);
  assert_int_equal(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, s, &got),
                   SP_EREPLAY);

  /* The next step's code is still good, and moves the mark on. */
  code_of(code, s + 1);
  assert_int_equal(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now, s, &got),
                   0);
  assert_true(got == s + 1);
}

/*
 * With the RFC secret, steps 37079356 and 37079357 share the code 186519
 * (found by a search; one pair in a million steps is expected).  The
 * later step must win, whether or not the earlier one was used.
 */
static void test_code_valid_for_two_steps(void **state) {
  const uint64_t c = 37079356;
  const int64_t now = (int64_t)(c + 1) * TOTP_PERIOD;
  uint64_t got = 0;

  assert_int_equal(totp_hotp(rfc_secret, RFC_SECRET_LEN, c), 186519);
  assert_int_equal(totp_hotp(rfc_secret, RFC_SECRET_LEN, c + 1), 186519);

  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "186519", now, 0, &got), 0);
  assert_true(got == c + 1);
  got = 0;
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "186519", now, c, &got), 0);
  assert_true(got == c + 1);
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "186519", now, c + 1, &got),
      SP_EREPLAY);
}

static void test_malformed_codes(void **state) {
  static const char *bad[] = {"",
                              "75522",
                              "7552240",
                              "75522a",
                              " 55224",
                              "+55224",
                              "755224 ",
                              "755224\n",
                              "-55224",
                              ("\xef\xbc\x97" /* a full-width 7 */
                               "55224"),
                              "\xff\xff\xff\xff\xff\xff"};
  uint64_t got = 0;
  size_t i;

  /* Step 0 at time 0: "755224" is right, anything near it is not. */
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(
        totp_verify(rfc_secret, RFC_SECRET_LEN, bad[i], 0, 0, &got), SP_EAUTH);
  assert_int_equal(totp_verify(rfc_secret, RFC_SECRET_LEN, NULL, 0, 0, &got),
                   SP_EAUTH);
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "000000", 0, 0, &got), SP_EAUTH);
}

static void test_before_epoch(void **state) {
  uint64_t got = 7;

  /*
   * A negative time is step 0, whose window is steps 0 and 1.  Step 0
   * itself is never after a `last_step` of 0, which is what a new user
   * starts with, so its code counts as used.
   */
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "755224", -100, 0, &got),
      SP_EREPLAY);
  assert_true(got == 7);
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "287082", -100, 0, &got), 0);
  assert_true(got == 1);
  assert_int_equal(
      totp_verify(rfc_secret, RFC_SECRET_LEN, "359152", -100, 0, &got),
      SP_EAUTH);
}

static void test_base32(void **state) {
  static const struct {
    const char *in;
    const char *out;
  } v[] = {{"", ""},
           {"f", "MY"},
           {"fo", "MZXQ"},
           {"foo", "MZXW6"},
           {"foob", "MZXW6YQ"},
           {"fooba", "MZXW6YTB"},
           {"foobar", "MZXW6YTBOI"}};
  char out[TOTP_BASE32_MAX];
  size_t i;

  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    assert_int_equal(totp_base32(out, sizeof(out), (const uint8_t *)v[i].in,
                                 strlen(v[i].in)),
                     0);
    assert_string_equal(out, v[i].out);
  }

  assert_int_equal(totp_base32(out, sizeof(out), rfc_secret, RFC_SECRET_LEN),
                   0);
  assert_string_equal(out, RFC_SECRET_B32);

  /* 32 characters need 33 bytes with the terminator. */
  assert_int_equal(totp_base32(out, 33, rfc_secret, RFC_SECRET_LEN), 0);
  assert_int_equal(totp_base32(out, 32, rfc_secret, RFC_SECRET_LEN),
                   SP_ETOOBIG);
  assert_int_equal(totp_base32(out, 0, rfc_secret, 0), SP_ETOOBIG);
}

static void test_uri(void **state) {
  static const char want[] =
      "otpauth://totp/ACME%20Corp:alice%20o%27neil%40example.com"
      "?secret=" RFC_SECRET_B32 "&issuer=ACME%20Corp"
      "&algorithm=SHA1&digits=6&period=30";
  char out[TOTP_URI_MAX];

  assert_int_equal(totp_uri(out, sizeof(out), "ACME Corp",
                            "alice o'neil@example.com", rfc_secret,
                            RFC_SECRET_LEN),
                   0);
  assert_string_equal(out, want);

  /* Unreserved characters pass as they are; a colon in a name does not. */
  assert_int_equal(totp_uri(out, sizeof(out), "Sallyport", "a-b.c_d~e:f",
                            rfc_secret, RFC_SECRET_LEN),
                   0);
  assert_non_null(strstr(out, "/Sallyport:a-b.c_d~e%3Af?"));

  /* A URI that does not fit is refused whole, never cut short. */
  assert_int_equal(totp_uri(out, sizeof(want) - 1, "ACME Corp",
                            "alice o'neil@example.com", rfc_secret,
                            RFC_SECRET_LEN),
                   SP_ETOOBIG);
  assert_string_equal(out, "");
  assert_int_equal(totp_uri(out, sizeof(want), "ACME Corp",
                            "alice o'neil@example.com", rfc_secret,
                            RFC_SECRET_LEN),
                   0);
}

/* Runs `cmd` and keeps its first line of output; returns the exit status. */
static int run(const char *cmd, char *line, size_t size) {
  FILE *f;
  int status;

  line[0] = '\0';
  f = popen(cmd, "r");
  assert_non_null(f);
  if (fgets(line, (int)size, f) != NULL)
    line[strcspn(line, "\n")] = '\0';
  while (fgetc(f) != EOF)
    ;
  status = pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The reference implementation (OATH Toolkit) must agree at any instant. */
static void test_oathtool_agrees(void **state) {
  static const int64_t at[] = {0,          29,         30,         59,
                               1111111109, 1700000000, 1767225599, 1767225600,
                               2000000000, 4102444800};
  char cmd[256], line[128], when[64], want[TOTP_DIGITS + 1];
  struct tm tm;
  time_t t;
  size_t i;

  if (run("command -v oathtool", line, sizeof(line)) != 0)
    fail_msg("oathtool is not installed; this cross-check needs it "
             "(Debian package oathtool)");

  for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
    t = (time_t)at[i];
    assert_non_null(gmtime_r(&t, &tm));
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s --now '%s' 2>&1",
             RFC_SECRET_B32, when);
    if (run(cmd, line, sizeof(line)) != 0)
      fail_msg("`%s` failed: %s", cmd, line);
    code_of(want, totp_step(at[i]));
    assert_string_equal(line, want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hotp_rfc4226),
      cmocka_unit_test(test_totp_rfc6238),
      cmocka_unit_test(test_step),
      cmocka_unit_test(test_skew),
      cmocka_unit_test(test_replay),
      cmocka_unit_test(test_code_valid_for_two_steps),
      cmocka_unit_test(test_malformed_codes),
      cmocka_unit_test(test_before_epoch),
      cmocka_unit_test(test_base32),
      cmocka_unit_test(test_uri),
      cmocka_unit_test(test_oathtool_agrees),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
