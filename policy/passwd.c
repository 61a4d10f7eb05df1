/*
 * Password hashing with PBKDF2-HMAC-SHA256 (mbedTLS).
 *
 * Refusals beyond the header's "0 or SP_ECRYPTO": passwd_hash() returns
 * SP_ETOOBIG for a password longer than PASSWD_MAX_LEN and SP_EUSAGE for
 * an iteration count of zero, because both are caller mistakes rather
 * than cryptographic failures.  passwd_verify() answers SP_EAUTH for an
 * over-long password (it cannot match any stored hash, and a login must
 * not learn more than "wrong") and for a record whose iteration count is
 * zero; it returns SP_ECRYPTO only when mbedTLS itself fails.
 */
#include "policy/passwd.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include "common/err.h"
#include "common/rand.h"

/* Derives PASSWD_HASH_LEN bytes; 0 or SP_ECRYPTO. */
static int derive(uint8_t *out, const char *pw, size_t len, const uint8_t *salt,
                  uint32_t iterations) {
  mbedtls_md_context_t md;
  const mbedtls_md_info_t *info;
  int rc;

  info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (info == NULL)
    return SP_ECRYPTO;

  mbedtls_md_init(&md);
  rc = mbedtls_md_setup(&md, info, 1);
  if (rc == 0)
    rc = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pw, len, salt,
                                   PASSWD_SALT_LEN, iterations, PASSWD_HASH_LEN,
                                   out);
  mbedtls_md_free(&md);
  return rc == 0 ? 0 : SP_ECRYPTO;
}

int passwd_hash(struct passwd_hash *out, const char *pw, size_t len,
                uint32_t iterations) {
  int rc;

  if (len > PASSWD_MAX_LEN)
    return SP_ETOOBIG;
  if (!PASSWD_ITERATIONS_OK(iterations))
    return SP_EUSAGE;

  /* A salt we could not draw must never be replaced by a weaker one. */
  if (sp_random(out->salt, sizeof(out->salt)) != 0)
    return SP_ECRYPTO;

  out->iterations = iterations;
  rc = derive(out->hash, pw, len, out->salt, iterations);
  if (rc != 0)
    mbedtls_platform_zeroize(out, sizeof(*out));
  return rc;
}

int passwd_verify(const struct passwd_hash *h, const char *pw, size_t len) {
  uint8_t got[PASSWD_HASH_LEN];
  int rc;

  if (len > PASSWD_MAX_LEN || !PASSWD_ITERATIONS_OK(h->iterations))
    return SP_EAUTH;

  rc = derive(got, pw, len, h->salt, h->iterations);
  if (rc != 0)
    return rc;

  /* A byte-wise early exit would tell an attacker how much matched. */
  rc = mbedtls_ct_memcmp(got, h->hash, sizeof(got)) == 0 ? 0 : SP_EAUTH;
  mbedtls_platform_zeroize(got, sizeof(got));
  return rc;
}
