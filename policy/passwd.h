/*
 * Password hashing: PBKDF2-HMAC-SHA256 with a 16-byte random salt per
 * user.  The iteration count is stored with each hash, so raising
 * PASSWD_ITERATIONS later re-hashes nobody and breaks nobody; see
 * docs/identity.md for why this number.
 */
#ifndef SP_POLICY_PASSWD_H
#define SP_POLICY_PASSWD_H

#include <stddef.h>
#include <stdint.h>

#define PASSWD_ITERATIONS 600000
/* Far above any count this code writes: a stored count past it is a
   damaged record, which must not cost minutes of CPU per login. */
#define PASSWD_MAX_ITERATIONS (100 * PASSWD_ITERATIONS)
#define PASSWD_ITERATIONS_OK(n) ((n) > 0 && (n) <= PASSWD_MAX_ITERATIONS)
#define PASSWD_SALT_LEN 16
#define PASSWD_HASH_LEN 32
#define PASSWD_MAX_LEN 1024

struct passwd_hash {
  uint32_t iterations;
  uint8_t salt[PASSWD_SALT_LEN];
  uint8_t hash[PASSWD_HASH_LEN];
};

/* Hashes `pw` with a fresh random salt.  Returns 0 or SP_ECRYPTO. */
int passwd_hash(struct passwd_hash *out, const char *pw, size_t len,
                uint32_t iterations);

/* 0 when `pw` matches, SP_EAUTH when not; compares in constant time. */
int passwd_verify(const struct passwd_hash *h, const char *pw, size_t len);

#endif
