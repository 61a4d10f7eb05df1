/*
 * Time-based one-time passwords, RFC 6238 over RFC 4226: HMAC-SHA-1,
 * 6 digits, 30-second steps, one step of skew either way.  A code is
 * accepted only for a step later than the last one accepted for that
 * user, so no code (nor an older one) is ever accepted twice.
 */
#ifndef SP_POLICY_TOTP_H
#define SP_POLICY_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN 20
#define TOTP_PERIOD 30
#define TOTP_DIGITS 6
#define TOTP_SKEW 1
/* Base32 of a 20-byte secret is 32 characters, unpadded. */
#define TOTP_BASE32_MAX 64
#define TOTP_URI_MAX 512

/* The RFC 4226 HOTP value of `counter`, already reduced to 6 digits. */
uint32_t totp_hotp(const uint8_t *secret, size_t len, uint64_t counter);

/* The time step that contains UNIX time `t`. */
uint64_t totp_step(int64_t t);

/*
 * Checks `code` (exactly six ASCII digits) at time `now` against the
 * steps around it.  Returns 0 and the matching step in *step_out, or
 * SP_EREPLAY if it matches only a step <= `last_step`, or SP_EAUTH.
 */
int totp_verify(const uint8_t *secret, size_t len, const char *code,
                int64_t now, uint64_t last_step, uint64_t *step_out);

/* RFC 4648 base32, upper case, no padding.  Returns 0 or SP_ETOOBIG. */
int totp_base32(char *out, size_t out_size, const uint8_t *p, size_t len);

/*
 * otpauth://totp/ISSUER:USER?secret=...&issuer=ISSUER&algorithm=SHA1&
 * digits=6&period=30, with ISSUER and USER percent-encoded.
 */
int totp_uri(char *out, size_t out_size, const char *issuer, const char *user,
             const uint8_t *secret, size_t len);

#endif
