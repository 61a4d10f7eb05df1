#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "common/err.h"
#include "connector/enroll_token.h"
#include "policy/policy.h"

#define FP "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

/*
 * The token for example(), written by an independent implementation
 * (Python's base64 and hashlib) so that the format itself is pinned.
 */
static const char golden[] =
    "spe1.AQxwYXJpcy1vZmZpY2UWcmVsYXkuZXhhbXBsZS5jb206NzQ0M6ChoqOkpaanqKmqq6"
    "ytrq-wsbKztLW2t7i5uru8vb6_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAAA"
    "AaxICgHECtMY";

static void example(struct enroll_token *t) {
  size_t i;

  memset(t, 0, sizeof(*t));
  strcpy(t->name, "paris-office");
  strcpy(t->addr, "relay.example.com:7443");
  strcpy(t->ca_fingerprint, FP);
  for (i = 0; i < ENROLL_TOKEN_SECRET_LEN; i++)
    t->secret[i] = (uint8_t)i;
  t->expires = 1796342400;
}

static void expect_same(const struct enroll_token *a,
                        const struct enroll_token *b) {
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->addr, b->addr);
  assert_string_equal(a->ca_fingerprint, b->ca_fingerprint);
  assert_memory_equal(a->secret, b->secret, ENROLL_TOKEN_SECRET_LEN);
  assert_int_equal(a->expires, b->expires);
}

/* Decoding `s` fails with a message containing `want`, and wipes. */
static void expect_decode_err(const char *s, const char *want) {
  static const struct enroll_token zero;
  struct enroll_token t;
  char err[256] = "";

  memset(&t, 0x55, sizeof(t));
  if (enroll_token_decode(s, &t, err, sizeof(err)) != SP_EPARSE)
    fail_msg("accepted %s", s);
  if (strstr(err, want) == NULL)
    fail_msg("\"%s\" for %s, want \"%s\"", err, s, want);
  assert_memory_equal(&t, &zero, sizeof(t));
}

static void test_golden(void **state) {
  struct enroll_token t, back;
  char text[ENROLL_TOKEN_TEXT_MAX], err[256];

  example(&t);
  assert_int_equal(enroll_token_encode(&t, text, sizeof(text)), 0);
  assert_string_equal(text, golden);
  assert_int_equal(enroll_token_decode(golden, &back, err, sizeof(err)), 0);
  expect_same(&t, &back);

  enroll_token_wipe(&back);
  assert_string_equal(back.name, "");
  assert_int_equal(back.secret[31], 0);
  assert_int_equal(back.expires, 0);
}

static void round_trip(const struct enroll_token *t) {
  struct enroll_token back;
  char text[ENROLL_TOKEN_TEXT_MAX], err[256];

  assert_int_equal(enroll_token_encode(t, text, sizeof(text)), 0);
  assert_true(strlen(text) < ENROLL_TOKEN_TEXT_MAX);
  assert_int_equal(strncmp(text, "spe1.", 5), 0);
  assert_int_equal(strspn(text + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                    "opqrstuvwxyz0123456789-_"),
                   strlen(text) - 5);
  if (enroll_token_decode(text, &back, err, sizeof(err)) != 0)
    fail_msg("%s: %s", text, err);
  expect_same(t, &back);
}

static void test_round_trips(void **state) {
  struct enroll_token t;
  size_t off;

  example(&t);
  strcpy(t.addr, "[2001:db8::7]:7443");
  round_trip(&t);
  strcpy(t.addr, "127.0.0.1:1");
  t.expires = 0;
  round_trip(&t);
  t.expires = INT64_MAX;
  round_trip(&t);

  /* Every payload length modulo 3, so every base64 tail. */
  strcpy(t.name, "a");
  round_trip(&t);
  strcpy(t.name, "ab");
  round_trip(&t);
  strcpy(t.name, "abc");
  round_trip(&t);

  /* The longest name and address the format holds. */
  memset(t.name, 'n', ENROLL_TOKEN_NAME_MAX);
  t.name[ENROLL_TOKEN_NAME_MAX] = '\0';
  memset(t.addr, 'h', 250);
  for (off = 63; off < 250; off += 64)
    t.addr[off] = '.';
  strcpy(t.addr + 250, ":7443");
  assert_int_equal(strlen(t.addr), ENROLL_TOKEN_ADDR_MAX);
  round_trip(&t);
}

/* Any one character changed, anywhere, is an error. */
static void test_every_corruption(void **state) {
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789-_+/= .\n";
  char s[sizeof(golden)], err[256];
  struct enroll_token t;
  size_t i, j;

  for (i = 0; i < sizeof(golden) - 1; i++) {
    for (j = 0; j < sizeof(chars) - 1; j++) {
      memcpy(s, golden, sizeof(golden));
      if (s[i] == chars[j])
        continue;
      s[i] = chars[j];
      if (enroll_token_decode(s, &t, err, sizeof(err)) != SP_EPARSE)
        fail_msg("position %zu as '%c' accepted", i, chars[j]);
    }
    memcpy(s, golden, sizeof(golden));
    s[i] ^= 0x80;
    assert_int_equal(enroll_token_decode(s, &t, err, sizeof(err)), SP_EPARSE);
  }
}

/* Every truncation, and every extension, is an error too. */
static void test_truncated(void **state) {
  char s[sizeof(golden) + 8], err[256];
  struct enroll_token t;
  size_t i;

  for (i = 0; i < sizeof(golden) - 1; i++) {
    memcpy(s, golden, i);
    s[i] = '\0';
    assert_int_equal(enroll_token_decode(s, &t, err, sizeof(err)), SP_EPARSE);
  }
  for (i = 1; i <= 4; i++) {
    memcpy(s, golden, sizeof(golden));
    memcpy(s + sizeof(golden) - 1, "AAAA", i);
    s[sizeof(golden) - 1 + i] = '\0';
    assert_int_equal(enroll_token_decode(s, &t, err, sizeof(err)), SP_EPARSE);
  }
  expect_decode_err(
      "spe1.AQxwYXJpcy1vZmZpY2UWcmVsYXkuZXhhbXBsZS5jb206NzQ0M6ChoqOkpaanqKmq",
      "truncated");
  expect_decode_err("spe1.AQxwYXJpcy1vZmZpY2UWcmVsYXkuZXhhbXBsZS5jb206NzQ0M6C"
                    "hoqOkpaanqKmqq6ytrq-wsbKztLW2t7i5uru8vb6_AAECAwQFBgcICQoL"
                    "DA0ODxAREhMUFRYXGBkaGxwdHh8AAAAAaxICgHECtM",
                    "mistyped or truncated token");
}

static void test_messages(void **state) {
  char err[8];
  struct enroll_token t;

  expect_decode_err("", "spe1.");
  expect_decode_err("spe2.AQxw", "spe1.");
  expect_decode_err("SPE1.AQxw", "spe1.");
  expect_decode_err(golden + 1, "spe1.");
  expect_decode_err("spe1.", "mistyped or truncated token");
  expect_decode_err("spe1.AQxw+YXJp", "outside base64url");
  expect_decode_err("spe1.AQxwYXJp==", "outside base64url");
  expect_decode_err("spe1.AQxwYXJp\n", "outside base64url");
  expect_decode_err("spe1.AQxwYXJ", "truncated");

  /* A short error buffer gets a truncated message, or none at all. */
  assert_int_equal(enroll_token_decode("x", &t, err, sizeof(err)), SP_EPARSE);
  assert_int_equal(strlen(err), sizeof(err) - 1);
  assert_int_equal(enroll_token_decode("x", &t, NULL, 0), SP_EPARSE);
}

/* Wraps `payload` (without checksum) as a token with a valid checksum. */
static void craft(const uint8_t *payload, size_t n, char *out) {
  uint8_t buf[600], sum[32];
  unsigned char b64[900];
  size_t olen, i;

  memcpy(buf, payload, n);
  mbedtls_sha256_ret(buf, n, sum, 0);
  memcpy(buf + n, sum, 4);
  assert_int_equal(mbedtls_base64_encode(b64, sizeof(b64), &olen, buf, n + 4),
                   0);
  while (olen > 0 && b64[olen - 1] == '=')
    olen--;
  strcpy(out, "spe1.");
  for (i = 0; i < olen; i++)
    out[5 + i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
  out[5 + olen] = '\0';
}

/* A payload with `name` and `addr`, and `extra` bytes after the expiry. */
static size_t payload(uint8_t *p, uint8_t version, const char *name,
                      size_t nlen, const char *addr, size_t extra) {
  size_t off = 0, alen = strlen(addr);

  p[off++] = version;
  p[off++] = (uint8_t)nlen;
  memcpy(p + off, name, nlen);
  off += nlen;
  p[off++] = (uint8_t)alen;
  memcpy(p + off, addr, alen);
  off += alen;
  memset(p + off, 0x11, 32 + 32);
  off += 64;
  memset(p + off, 0, 8 + extra);
  return off + 8 + extra;
}

static void test_crafted(void **state) {
  char text[1000];
  uint8_t p[600];
  size_t n;

  craft(p, payload(p, 1, "relay-a", 7, "a:1", 0), text);
  assert_int_equal(
      enroll_token_decode(text, &(struct enroll_token){0}, NULL, 0), 0);

  craft(p, payload(p, 2, "relay-a", 7, "a:1", 0), text);
  expect_decode_err(text, "another version");
  craft(p, payload(p, 1, "bad name", 8, "a:1", 0), text);
  expect_decode_err(text, "no valid connector");
  craft(p, payload(p, 1, "a\0b", 3, "a:1", 0), text);
  expect_decode_err(text, "no valid connector");
  craft(p, payload(p, 1, "relay-a", 7, "A:1", 0), text);
  expect_decode_err(text, "no valid relay address");
  craft(p, payload(p, 1, "relay-a", 7, "[::1]:0443", 0), text);
  expect_decode_err(text, "no valid relay address");
  craft(p, payload(p, 1, "relay-a", 7, "a:1", 1), text);
  expect_decode_err(text, "bytes past its end");

  n = payload(p, 1, "relay-a", 7, "a:1", 0);
  craft(p, n - 1, text);
  expect_decode_err(text, "truncated");
  p[n - 8] = 0x80;
  craft(p, n, text);
  expect_decode_err(text, "impossible expiry");

  /* A name length that runs past the payload. */
  n = payload(p, 1, "relay-a", 7, "a:1", 0);
  p[1] = 200;
  craft(p, n, text);
  expect_decode_err(text, "truncated");
}

static int encodes(const char *name, const char *addr) {
  struct enroll_token t;
  char text[ENROLL_TOKEN_TEXT_MAX];

  example(&t);
  strcpy(t.name, name);
  strcpy(t.addr, addr);
  return enroll_token_encode(&t, text, sizeof(text)) == 0;
}

/* The token's rules agree with the policy code they restate. */
static void test_same_rules_as_policy(void **state) {
  static const char *const names[] = {"paris-office", "a",  "A.b_c@d-e", "0x",
                                      "-a",           ".a", "_a",        "a b",
                                      "a/b",          "",   "\xc3\xa9",  "a:b"};
  static const char *const addrs[] = {
      "relay.example.com:7443",
      "10.0.0.1:1",
      "[2001:db8::1]:65535",
      "[::ffff:10.0.0.1]:80",
      "db_1.corp:5432",
      "Relay.example.com:7443",
      "relay.example.com.:7443",
      "relay:07443",
      "relay:0",
      "relay:65536",
      "relay",
      "[2001:DB8::1]:1",
      "[2001:db8:0::1]:1",
      "[10.0.0.1]:1",
      "2001:db8::1:1",
      "10.1:1",
      "0x7f.1:1",
      "127.0.0.01:1",
      "host.0x7g:1",
      "a..b:1",
      ":1",
  };
  char canon[POLICY_ADDR_MAX];
  size_t i;
  int policy;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (encodes(names[i], "a:1") != policy_name_valid(names[i]))
      fail_msg("name \"%s\"", names[i]);
  }
  for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
    policy = policy_addr_canon(addrs[i], canon, sizeof(canon)) == 0 &&
             strcmp(canon, addrs[i]) == 0;
    if (encodes("x", addrs[i]) != policy)
      fail_msg("address \"%s\"", addrs[i]);
  }
}

static void test_encode_errors(void **state) {
  struct enroll_token t;
  char text[ENROLL_TOKEN_TEXT_MAX];

  example(&t);
  strcpy(t.ca_fingerprint, FP);
  t.ca_fingerprint[0] = 'A';
  assert_int_equal(enroll_token_encode(&t, text, sizeof(text)), SP_EUSAGE);
  t.ca_fingerprint[0] = 'g';
  assert_int_equal(enroll_token_encode(&t, text, sizeof(text)), SP_EUSAGE);
  t.ca_fingerprint[0] = '\0';
  assert_int_equal(enroll_token_encode(&t, text, sizeof(text)), SP_EUSAGE);

  example(&t);
  t.expires = -1;
  assert_int_equal(enroll_token_encode(&t, text, sizeof(text)), SP_EUSAGE);

  example(&t);
  assert_int_equal(enroll_token_encode(&t, text, strlen(golden)), SP_ETOOBIG);
  assert_int_equal(enroll_token_encode(&t, text, 5), SP_ETOOBIG);
  assert_int_equal(enroll_token_encode(&t, text, 0), SP_ETOOBIG);
  assert_int_equal(enroll_token_encode(&t, text, strlen(golden) + 1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_every_corruption),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_crafted),
      cmocka_unit_test(test_same_rules_as_policy),
      cmocka_unit_test(test_encode_errors),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
