#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "common/err.h"
#include "policy/passwd.h"

/* Iterations for round trips: enough to exercise the loop, fast to run. */
#define FAST_ITERATIONS 1000

/* PBKDF2-HMAC-SHA256 straight from mbedTLS, for the RFC vectors. */
static void pbkdf2_sha256(const char *pw, const char *salt, unsigned iter,
                          uint8_t *out, uint32_t out_len) {
  mbedtls_md_context_t md;

  mbedtls_md_init(&md);
  assert_int_equal(
      mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1),
      0);
  assert_int_equal(mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pw,
                                             strlen(pw),
                                             (const unsigned char *)salt,
                                             strlen(salt), iter, out_len, out),
                   0);
  mbedtls_md_free(&md);
}

/* RFC 7914 section 11, the first 32 bytes of each 64-byte output. */
static void test_rfc7914_vectors(void **state) {
  static const uint8_t want1[32] = {
      0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91,
      0xc2, 0x25, 0x44, 0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde,
      0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57, 0xc2, 0x0d, 0xac, 0xbc};
  static const uint8_t want2[32] = {
      0x4d, 0xdc, 0xd8, 0xf6, 0x0b, 0x98, 0xbe, 0x21, 0x83, 0x0c, 0xee,
      0x5e, 0xf2, 0x27, 0x01, 0xf9, 0x64, 0x1a, 0x44, 0x18, 0xd0, 0x4c,
      0x04, 0x14, 0xae, 0xff, 0x08, 0x87, 0x6b, 0x34, 0xab, 0x56};
  uint8_t got[PASSWD_HASH_LEN];

  pbkdf2_sha256("passwd", "salt", 1, got, sizeof(got));
  assert_memory_equal(got, want1, sizeof(got));
  pbkdf2_sha256("Password", "NaCl", 80000, got, sizeof(got));
  assert_memory_equal(got, want2, sizeof(got));
}

/*
 * A record made elsewhere (Python's hashlib.pbkdf2_hmac, an independent
 * implementation) must verify, so passwd.c really computes
 * PBKDF2-HMAC-SHA256 over the stored salt and iteration count.
 */
static void test_verify_foreign_record(void **state) {
  static const char pw[] = "correct horse battery staple";
  struct passwd_hash h = {FAST_ITERATIONS,
                          {'s', 'a', 'l', 'l', 'y', 'p', 'o', 'r', 't', '-',
                           's', 'a', 'l', 't', '-', '1'},
                          {0x2a, 0xba, 0xbf, 0xb0, 0xe2, 0xce, 0x86, 0xcd,
                           0x57, 0x53, 0x88, 0xa7, 0xda, 0x0a, 0x08, 0xa5,
                           0x05, 0x14, 0xf3, 0xd6, 0x3a, 0xa9, 0x09, 0x66,
                           0xea, 0x73, 0x4b, 0xd0, 0xa9, 0x59, 0xd1, 0x8a}};

  assert_int_equal(passwd_verify(&h, pw, strlen(pw)), 0);
  assert_int_equal(passwd_verify(&h, pw, strlen(pw) - 1), SP_EAUTH);

  /* The iteration count is part of the record, not a constant. */
  h.iterations = FAST_ITERATIONS + 1;
  assert_int_equal(passwd_verify(&h, pw, strlen(pw)), SP_EAUTH);
}

static void test_round_trip(void **state) {
  static const char pw[] = "s3cret passphrase";
  struct passwd_hash h;

  assert_int_equal(passwd_hash(&h, pw, strlen(pw), FAST_ITERATIONS), 0);
  assert_int_equal(h.iterations, FAST_ITERATIONS);
  assert_int_equal(passwd_verify(&h, pw, strlen(pw)), 0);

  assert_int_equal(passwd_verify(&h, "s3cret passphrasE", strlen(pw)),
                   SP_EAUTH);
  assert_int_equal(passwd_verify(&h, pw, strlen(pw) - 1), SP_EAUTH);
  assert_int_equal(passwd_verify(&h, "", 0), SP_EAUTH);

  /* The length is what counts, not a terminator. */
  assert_int_equal(passwd_hash(&h, "a\0b", 3, FAST_ITERATIONS), 0);
  assert_int_equal(passwd_verify(&h, "a\0b", 3), 0);
  assert_int_equal(passwd_verify(&h, "a", 1), SP_EAUTH);
}

static void test_salts_differ(void **state) {
  static const char pw[] = "same password";
  struct passwd_hash a, b;

  assert_int_equal(passwd_hash(&a, pw, strlen(pw), FAST_ITERATIONS), 0);
  assert_int_equal(passwd_hash(&b, pw, strlen(pw), FAST_ITERATIONS), 0);
  assert_memory_not_equal(a.salt, b.salt, PASSWD_SALT_LEN);
  assert_memory_not_equal(a.hash, b.hash, PASSWD_HASH_LEN);
  assert_int_equal(passwd_verify(&a, pw, strlen(pw)), 0);
  assert_int_equal(passwd_verify(&b, pw, strlen(pw)), 0);
}

static void test_limits(void **state) {
  static char big[PASSWD_MAX_LEN + 1];
  struct passwd_hash h;

  memset(big, 'x', sizeof(big));
  assert_int_equal(passwd_hash(&h, big, PASSWD_MAX_LEN, 1), 0);
  assert_int_equal(passwd_verify(&h, big, PASSWD_MAX_LEN), 0);
  assert_int_equal(passwd_verify(&h, big, PASSWD_MAX_LEN + 1), SP_EAUTH);
  assert_int_equal(passwd_hash(&h, big, PASSWD_MAX_LEN + 1, 1), SP_ETOOBIG);

  assert_int_equal(passwd_hash(&h, "pw", 2, 0), SP_EUSAGE);
  assert_int_equal(passwd_hash(&h, "pw", 2, 1), 0);
  h.iterations = 0;
  assert_int_equal(passwd_verify(&h, "pw", 2), SP_EAUTH);
  /* A damaged count is refused at once, not spent. */
  assert_int_equal(passwd_hash(&h, "pw", 2, PASSWD_MAX_ITERATIONS + 1),
                   SP_EUSAGE);
  h.iterations = PASSWD_MAX_ITERATIONS + 1;
  assert_int_equal(passwd_verify(&h, "pw", 2), SP_EAUTH);
}

/*
 * The one run at the production cost.  It prints how long a login's
 * hash takes here, for docs/identity.md, and asserts nothing about time.
 */
static void test_production_cost(void **state) {
  static const char pw[] = "correct horse battery staple";
  struct timespec t0, t1;
  struct passwd_hash h;
  double ms;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(passwd_hash(&h, pw, strlen(pw), PASSWD_ITERATIONS), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(h.iterations, PASSWD_ITERATIONS);

  ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  print_message("passwd_hash at %u iterations took %.1f ms\n",
                (unsigned)PASSWD_ITERATIONS, ms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc7914_vectors),
      cmocka_unit_test(test_verify_foreign_record),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_salts_differ),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_production_cost),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
