/*
 * The one-time enrolment token: what `sallyport-relay connector add NAME`
 * prints and `sallyport-connector enroll --token T` reads.  It tells the
 * connector where to dial, which CA to trust, which name it was given,
 * and the secret that proves it may enrol once.
 *
 * Text form: "spe1." followed by the unpadded base64url (RFC 4648
 * section 5) of a binary payload, integers big-endian:
 *
 *   u8       version, 1
 *   u8 + n   connector name (1 to 64 bytes, policy_name_valid())
 *   u8 + n   relay connector endpoint, canonical "host:port" as the
 *            connector dials it, IPv6 in brackets (1 to 255 bytes)
 *   32       SHA-256 of the relay CA certificate's DER
 *   32       the one-time secret (256 random bits)
 *   u64      expiry, UNIX seconds
 *   4        the first 4 bytes of the SHA-256 of everything above
 *
 * The checksum only catches typing and copying mistakes; what makes
 * enrolment safe is the pinned CA (the connector refuses any other relay)
 * and the secret (the relay refuses any other connector).  Decoding is
 * strict: only the canonical encoding of a payload is accepted, so any
 * changed character of a token is an error.  Whether the token has
 * expired is for the caller to judge against its own clock.
 *
 * The secret is never logged; enroll_token_wipe() clears a token.
 */
#ifndef SP_CONNECTOR_ENROLL_TOKEN_H
#define SP_CONNECTOR_ENROLL_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/pki.h"

#define ENROLL_TOKEN_PREFIX "spe1."
#define ENROLL_TOKEN_VERSION 1
#define ENROLL_TOKEN_NAME_MAX 64
#define ENROLL_TOKEN_ADDR_MAX 255
#define ENROLL_TOKEN_SECRET_LEN 32
#define ENROLL_TOKEN_FP_LEN 32
#define ENROLL_TOKEN_CHECK_LEN 4
/* The longest payload, and the longest text with its NUL. */
#define ENROLL_TOKEN_PAYLOAD_MAX                                               \
  (1 + 1 + ENROLL_TOKEN_NAME_MAX + 1 + ENROLL_TOKEN_ADDR_MAX +                 \
   ENROLL_TOKEN_FP_LEN + ENROLL_TOKEN_SECRET_LEN + 8 + ENROLL_TOKEN_CHECK_LEN)
#define ENROLL_TOKEN_TEXT_MAX                                                  \
  (sizeof(ENROLL_TOKEN_PREFIX) + (ENROLL_TOKEN_PAYLOAD_MAX * 4 + 2) / 3)

struct enroll_token {
  char name[ENROLL_TOKEN_NAME_MAX + 1]; /* the connector's name */
  char addr[ENROLL_TOKEN_ADDR_MAX + 1]; /* the relay's connector endpoint */
  /* The CA's fingerprint as pki_crt_fingerprint() writes it: 64
     lower-case hex digits. */
  char ca_fingerprint[PKI_FINGERPRINT_HEX];
  uint8_t secret[ENROLL_TOKEN_SECRET_LEN];
  int64_t expires; /* UNIX seconds; never negative */
};

/*
 * Writes the text form of `t` to `out` (`n` bytes; ENROLL_TOKEN_TEXT_MAX
 * always suffices).  Returns 0, SP_EUSAGE when a field of `t` is not
 * valid (a bad name, an address not in canonical form, a fingerprint
 * that is not 64 lower-case hex digits, a negative expiry), or
 * SP_ETOOBIG when `out` is too small.
 */
int enroll_token_encode(const struct enroll_token *t, char *out, size_t n);

/*
 * Reads the text form `s` into `t`.  Returns 0, or SP_EPARSE with a
 * sentence for the user in `err` (`errn` bytes, may be 0): the wrong
 * prefix, characters outside base64url, a truncated token, a wrong
 * checksum ("mistyped or truncated token"), an unknown version, a bad
 * name or address.  `t` is wiped on failure.
 */
int enroll_token_decode(const char *s, struct enroll_token *t, char *err,
                        size_t errn);

/* Clears every field, the secret above all. */
void enroll_token_wipe(struct enroll_token *t);

#endif
