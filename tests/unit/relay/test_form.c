#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "relay/form.h"

static struct form_login f;

static int parse(enum form_type t, const char *body, const char **reason) {
  return form_parse_login(t, body, strlen(body), &f, reason);
}

static void expect_ok(enum form_type t, const char *body) {
  const char *reason = "unset";

  if (parse(t, body, &reason) != 0)
    fail_msg("refused %s: %s", body, reason);
  assert_null(reason);
}

/* A refusal leaves nothing behind and says why. */
static void expect_err(enum form_type t, const char *body, int err) {
  static const struct form_login zero;
  const char *reason = NULL;

  if (parse(t, body, &reason) != err)
    fail_msg("accepted or wrongly refused: %s", body);
  assert_non_null(reason);
  assert_memory_equal(&f, &zero, sizeof(f));
}

static void test_urlencoded(void **state) {
  expect_ok(FORM_URLENCODED, "user=alice&password=p%40ss+w%6Frd%2b&otp=123456");
  assert_true(f.has_user && f.has_password && f.has_otp);
  assert_string_equal(f.user, "alice");
  assert_string_equal(f.password, "p@ss word+");
  assert_int_equal(f.password_len, 10);
  assert_string_equal(f.otp, "123456");

  /* Unknown keys are skipped, and so are empty pairs. */
  expect_ok(FORM_URLENCODED, "&&x=1&user=bob&&submit&long_unknown_key_name="
                             "%41&%75ser%3D=z&");
  assert_string_equal(f.user, "bob");
  assert_false(f.has_password);
  assert_false(f.has_otp);
  assert_string_equal(f.password, "");

  /* A key without '=' has an empty value. */
  expect_ok(FORM_URLENCODED, "user&otp=");
  assert_true(f.has_user && f.has_otp);
  assert_string_equal(f.user, "");
  assert_string_equal(f.otp, "");

  expect_ok(FORM_URLENCODED, "");
  assert_false(f.has_user);

  /* Raw bytes pass through; only the escapes are decoded. */
  expect_ok(FORM_URLENCODED, "password=\xc3\xa9=\t");
  assert_string_equal(f.password, "\xc3\xa9=\t");
}

static void test_urlencoded_errors(void **state) {
  char *big;

  expect_err(FORM_URLENCODED, "user=%4", SP_EPARSE);
  expect_err(FORM_URLENCODED, "user=%", SP_EPARSE);
  expect_err(FORM_URLENCODED, "user=%zz", SP_EPARSE);
  expect_err(FORM_URLENCODED, "us%g0er=a", SP_EPARSE);
  expect_err(FORM_URLENCODED, "user=a%00b", SP_EPARSE);
  expect_err(FORM_URLENCODED, "unknown=%0", SP_EPARSE);
  expect_err(FORM_URLENCODED, "user=a&user=a", SP_EPARSE);
  expect_err(FORM_URLENCODED, "otp=1&%6ftp=2", SP_EPARSE);

  big = malloc(2000);
  assert_non_null(big);
  strcpy(big, "user=");
  memset(big + 5, 'u', FORM_USER_MAX);
  big[5 + FORM_USER_MAX] = '\0';
  expect_ok(FORM_URLENCODED, big);
  strcat(big, "u");
  expect_err(FORM_URLENCODED, big, SP_ETOOBIG);

  strcpy(big, "password=");
  memset(big + 9, 'p', FORM_PASSWORD_MAX);
  big[9 + FORM_PASSWORD_MAX] = '\0';
  expect_ok(FORM_URLENCODED, big);
  assert_int_equal(f.password_len, FORM_PASSWORD_MAX);
  strcat(big, "%41");
  expect_err(FORM_URLENCODED, big, SP_ETOOBIG);
  free(big);

  expect_ok(FORM_URLENCODED, "otp=1234567890123456");
  expect_err(FORM_URLENCODED, "otp=12345678901234567", SP_ETOOBIG);
}

/* Bodies are lengths, not C strings: a raw NUL is a byte like others. */
static void test_raw_nul(void **state) {
  const char *reason;

  assert_int_equal(
      form_parse_login(FORM_URLENCODED, "user=a\0b", 8, &f, &reason),
      SP_EPARSE);
  assert_int_equal(
      form_parse_login(FORM_JSON, "{\"user\":\"a\0\"}", 13, &f, &reason),
      SP_EPARSE);
  assert_int_equal(form_parse_login(FORM_JSON, "{}\0", 3, &f, &reason),
                   SP_EPARSE);
  assert_int_equal(form_parse_login(FORM_URLENCODED, NULL, 0, &f, &reason), 0);
  assert_int_equal(form_parse_login(FORM_JSON, "{}", 2, &f, NULL), 0);
}

static void test_json(void **state) {
  expect_ok(FORM_JSON,
            "{\"user\":\"alice\",\"password\":\"s3cret\",\"otp\":\"123456\"}");
  assert_string_equal(f.user, "alice");
  assert_string_equal(f.password, "s3cret");
  assert_string_equal(f.otp, "123456");

  expect_ok(FORM_JSON,
            " \r\n\t{ \"password\" :\n\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\" ,"
            "\"extra\": \"\\u0041\" , \"\\u0075ser\" : \"bob\" }\n");
  assert_string_equal(f.password, "q\"\\/\b\f\n\r\t");
  assert_int_equal(f.password_len, 9);
  assert_string_equal(f.user, "bob");
  assert_false(f.has_otp);

  expect_ok(FORM_JSON, "{\"password\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}");
  assert_string_equal(f.password, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");

  expect_ok(FORM_JSON, "{\"password\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                       "\xf4\x8f\xbf\xbf\x7f\"}");
  assert_string_equal(f.password,
                      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"
                      "\x7f");

  expect_ok(FORM_JSON, "{}");
  assert_false(f.has_user);
  expect_ok(FORM_JSON, "{\"user\":\"\"}");
  assert_true(f.has_user);
}

static void test_json_errors(void **state) {
  static const char *const bad[] = {
      "",
      " ",
      "[]",
      "\"user\"",
      "{",
      "{\"user\"}",
      "{\"user\":}",
      "{\"user\":\"a\"",
      "{\"user\":\"a\",}",
      "{,\"user\":\"a\"}",
      "{\"user\":\"a\" \"otp\":\"1\"}",
      "{\"user\":\"a\"}}",
      "{\"user\":\"a\"} x",
      "{\"user\":\"a\"}{}",
      "{'user':'a'}",
      "{user:\"a\"}",
      "{\"user\":1}",
      "{\"user\":true}",
      "{\"user\":null}",
      "{\"user\":[\"a\"]}",
      "{\"user\":{\"a\":\"b\"}}",
      "{\"extra\":1}",
      "{\"user\":\"a\",\"user\":\"b\"}",
      "{\"user\":\"a\\x\"}",
      "{\"user\":\"a\\u12\"}",
      "{\"user\":\"a\\u12g4\"}",
      "{\"user\":\"\\u0000\"}",
      "{\"user\":\"\\ud83d\"}",
      "{\"user\":\"\\ud83dx\"}",
      "{\"user\":\"\\ud83d\\u0041\"}",
      "{\"user\":\"\\ude00\"}",
      "{\"user\":\"a\nb\"}",
      "{\"user\":\"a\tb\"}",
      "{\"user\":\"\xc0\x80\"}",
      "{\"user\":\"\xc3\"}",
      "{\"user\":\"\xe0\x80\xaf\"}",
      "{\"user\":\"\xed\xa0\x80\"}",
      "{\"user\":\"\xf0\x80\x80\x80\"}",
      "{\"user\":\"\xf4\x90\x80\x80\"}",
      "{\"user\":\"\xf5\x80\x80\x80\"}",
      "{\"user\":\"\xff\"}",
      "{\"user\":\"\x80\"}",
      "{\"user\":\"a\\",
      "{\"user\":\"a",
      "\xef\xbb\xbf{}",
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    expect_err(FORM_JSON, bad[i], SP_EPARSE);
}

static void test_json_limits(void **state) {
  char body[2200];
  size_t i, n;

  /* Escapes count as the bytes they decode to. */
  n = (size_t)sprintf(body, "{\"user\":\"");
  for (i = 0; i < FORM_USER_MAX; i++)
    n += (size_t)sprintf(body + n, "\\u0061");
  strcpy(body + n, "\"}");
  expect_ok(FORM_JSON, body);
  assert_int_equal(strlen(f.user), FORM_USER_MAX);
  strcpy(body + n, "b\"}");
  expect_err(FORM_JSON, body, SP_ETOOBIG);

  /* A long unknown value or key is fine. */
  n = (size_t)sprintf(body, "{\"");
  memset(body + n, 'k', 1000);
  n += 1000;
  n += (size_t)sprintf(body + n, "\":\"");
  memset(body + n, 'v', 1000);
  n += 1000;
  strcpy(body + n, "\"}");
  expect_ok(FORM_JSON, body);
  assert_false(f.has_user || f.has_password || f.has_otp);
}

static void test_content_type(void **state) {
  const char *reason;

  assert_int_equal(form_content_type("application/x-www-form-urlencoded"),
                   FORM_URLENCODED);
  assert_int_equal(form_content_type("Application/X-WWW-Form-Urlencoded"),
                   FORM_URLENCODED);
  assert_int_equal(form_content_type("application/json"), FORM_JSON);
  assert_int_equal(form_content_type(" application/json;charset=utf-8"),
                   FORM_JSON);
  assert_int_equal(form_content_type("application/json ; charset=UTF-8"),
                   FORM_JSON);
  assert_int_equal(form_content_type("application/jsonx"), FORM_UNSUPPORTED);
  assert_int_equal(form_content_type("application/json-seq"), FORM_UNSUPPORTED);
  assert_int_equal(form_content_type("text/plain"), FORM_UNSUPPORTED);
  assert_int_equal(form_content_type("multipart/form-data; boundary=x"),
                   FORM_UNSUPPORTED);
  assert_int_equal(form_content_type(""), FORM_UNSUPPORTED);
  assert_int_equal(form_content_type(NULL), FORM_UNSUPPORTED);

  assert_int_equal(form_parse_login(FORM_UNSUPPORTED, "user=a", 6, &f, &reason),
                   SP_EUSAGE);
  assert_string_equal(reason, "unsupported body type");
}

static void test_wipe(void **state) {
  expect_ok(FORM_URLENCODED, "password=secret");
  form_login_wipe(&f);
  assert_int_equal(f.password_len, 0);
  assert_int_equal(f.has_password, 0);
  assert_string_equal(f.password, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urlencoded),
      cmocka_unit_test(test_urlencoded_errors),
      cmocka_unit_test(test_raw_nul),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_json_errors),
      cmocka_unit_test(test_json_limits),
      cmocka_unit_test(test_content_type),
      cmocka_unit_test(test_wipe),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
