/*
 * Enrolment tokens; see enroll_token.h for the format.
 *
 * Names follow the shared rule of common/names.h.  The connector library
 * does not link the policy code, so the address check is restated here:
 * addresses must already be in the form that policy_addr_canon() writes.
 * tests/unit/connector/test_enroll_token.c holds both rules to the same
 * answers as the policy code.
 */
#include "connector/enroll_token.h"

#include <arpa/inet.h>
#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/names.h"

#define PREFIX_LEN (sizeof(ENROLL_TOKEN_PREFIX) - 1)
/* The shortest payload: a one-byte name and a three-byte address "a:1". */
#define PAYLOAD_MIN                                                            \
  (1 + 1 + 1 + 1 + 3 + ENROLL_TOKEN_FP_LEN + ENROLL_TOKEN_SECRET_LEN + 8 +     \
   ENROLL_TOKEN_CHECK_LEN)
/* Base64 text of the longest payload, padding included, with a NUL. */
#define B64_MAX (4 * ((ENROLL_TOKEN_PAYLOAD_MAX + 2) / 3) + 1)

_Static_assert(PKI_FINGERPRINT_HEX == 2 * ENROLL_TOKEN_FP_LEN + 1,
               "a fingerprint is 32 bytes in 64 hex digits");

void enroll_token_wipe(struct enroll_token *t) {
  mbedtls_platform_zeroize(t, sizeof(*t));
}

/* Whether a label reads as a number to a resolver: decimal or 0x hex. */
static int label_numeric(const char *s, size_t n) {
  size_t i = n > 2 && s[0] == '0' && s[1] == 'x' ? 2 : 0;
  int hex = i == 2;

  for (; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (hex && s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  }
  return 1;
}

/* A lower-case DNS name: labels of 1 to 63, 253 in all, not numeric. */
static int dns_name_valid(const char *h, size_t n) {
  size_t i, start = 0;

  if (n == 0 || n > 253)
    return 0;
  for (i = 0; i <= n; i++) {
    if (i < n && h[i] != '.') {
      if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= '0' && h[i] <= '9') ||
            h[i] == '-' || h[i] == '_'))
        return 0;
      continue;
    }
    if (i == start || i - start > 63)
      return 0;
    if (i == n && label_numeric(h + start, i - start))
      return 0;
    start = i + 1;
  }
  return 1;
}

/* A port in plain decimal, 1 to 65535, with no leading zero. */
static int port_valid(const char *s) {
  size_t n = strlen(s), i;
  unsigned long v = 0;

  if (n == 0 || n > 5 || s[0] == '0')
    return 0;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  return v <= 65535;
}

/* Whether `a` is a host:port exactly as policy_addr_canon() writes it. */
static int addr_valid(const char *a) {
  char host[ENROLL_TOKEN_ADDR_MAX + 1], again[INET6_ADDRSTRLEN];
  const char *colon = a[0] == '[' ? strstr(a, "]:") : strrchr(a, ':');
  unsigned char bin[16];
  size_t hlen;

  if (colon == NULL || strlen(a) > ENROLL_TOKEN_ADDR_MAX)
    return 0;
  if (a[0] == '[')
    colon++;
  if (!port_valid(colon + 1))
    return 0;
  hlen = (size_t)(colon - a);
  memcpy(host, a, hlen);
  host[hlen] = '\0';

  if (a[0] == '[') {
    if (hlen < 3)
      return 0;
    host[hlen - 1] = '\0';
    return inet_pton(AF_INET6, host + 1, bin) == 1 &&
           inet_ntop(AF_INET6, bin, again, sizeof(again)) != NULL &&
           strcmp(again, host + 1) == 0;
  }
  if (inet_pton(AF_INET, host, bin) == 1)
    return inet_ntop(AF_INET, bin, again, sizeof(again)) != NULL &&
           strcmp(again, host) == 0;
  return dns_name_valid(host, hlen);
}

/* The first ENROLL_TOKEN_CHECK_LEN bytes of the SHA-256 of `p`. */
static void checksum(const uint8_t *p, size_t n,
                     uint8_t out[ENROLL_TOKEN_CHECK_LEN]) {
  uint8_t h[32];

  mbedtls_sha256_ret(p, n, h, 0);
  memcpy(out, h, ENROLL_TOKEN_CHECK_LEN);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Lower-case hex to 32 bytes; -1 unless exactly 64 such digits. */
static int fp_from_hex(const char *hex, uint8_t out[ENROLL_TOKEN_FP_LEN]) {
  size_t i;

  if (strlen(hex) != 2 * ENROLL_TOKEN_FP_LEN)
    return -1;
  for (i = 0; i < ENROLL_TOKEN_FP_LEN; i++) {
    if (hex_digit(hex[2 * i]) < 0 || hex_digit(hex[2 * i + 1]) < 0)
      return -1;
    out[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
  }
  return 0;
}

static void fp_to_hex(const uint8_t fp[ENROLL_TOKEN_FP_LEN],
                      char out[PKI_FINGERPRINT_HEX]) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < ENROLL_TOKEN_FP_LEN; i++) {
    out[2 * i] = digits[fp[i] >> 4];
    out[2 * i + 1] = digits[fp[i] & 0xf];
  }
  out[2 * ENROLL_TOKEN_FP_LEN] = '\0';
}

/* Lays out the payload of `t` in `p`; returns its length, or 0. */
static size_t payload_build(const struct enroll_token *t,
                            uint8_t p[ENROLL_TOKEN_PAYLOAD_MAX]) {
  size_t nlen = strlen(t->name), alen = strlen(t->addr), off = 0;
  uint64_t e = (uint64_t)t->expires;
  uint8_t fp[ENROLL_TOKEN_FP_LEN];
  int i;

  if (!sp_name_valid(t->name) || !addr_valid(t->addr) || t->expires < 0 ||
      fp_from_hex(t->ca_fingerprint, fp) != 0)
    return 0;

  p[off++] = ENROLL_TOKEN_VERSION;
  p[off++] = (uint8_t)nlen;
  memcpy(p + off, t->name, nlen);
  off += nlen;
  p[off++] = (uint8_t)alen;
  memcpy(p + off, t->addr, alen);
  off += alen;
  memcpy(p + off, fp, ENROLL_TOKEN_FP_LEN);
  off += ENROLL_TOKEN_FP_LEN;
  memcpy(p + off, t->secret, ENROLL_TOKEN_SECRET_LEN);
  off += ENROLL_TOKEN_SECRET_LEN;
  for (i = 7; i >= 0; i--)
    p[off++] = (uint8_t)(e >> (8 * i));
  checksum(p, off, p + off);
  return off + ENROLL_TOKEN_CHECK_LEN;
}

/* Unpadded base64url of `p` into `out`, which has room for `n`. */
static int b64url_encode(const uint8_t *p, size_t len, char *out, size_t n) {
  unsigned char b64[B64_MAX];
  size_t olen, i;

  if (mbedtls_base64_encode(b64, sizeof(b64), &olen, p, len) != 0)
    return SP_ETOOBIG;
  while (olen > 0 && b64[olen - 1] == '=')
    olen--;
  if (olen >= n)
    return SP_ETOOBIG;
  for (i = 0; i < olen; i++)
    out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
  out[olen] = '\0';
  mbedtls_platform_zeroize(b64, sizeof(b64));
  return 0;
}

int enroll_token_encode(const struct enroll_token *t, char *out, size_t n) {
  uint8_t p[ENROLL_TOKEN_PAYLOAD_MAX];
  size_t len;
  int rc;

  len = payload_build(t, p);
  if (len == 0)
    return SP_EUSAGE;
  if (n <= PREFIX_LEN)
    rc = SP_ETOOBIG;
  else
    rc = b64url_encode(p, len, out + PREFIX_LEN, n - PREFIX_LEN);
  if (rc == 0)
    memcpy(out, ENROLL_TOKEN_PREFIX, PREFIX_LEN);
  mbedtls_platform_zeroize(p, sizeof(p));
  return rc;
}

static int decode_fail(struct enroll_token *t, char *err, size_t errn,
                       const char *msg) {
  enroll_token_wipe(t);
  if (errn > 0)
    snprintf(err, errn, "%s", msg);
  return SP_EPARSE;
}

/*
 * Base64url text to bytes; -1 unless `s` is exactly the encoding that
 * b64url_encode() would write for the result (no padding, no stray bits
 * in the last character), so that every character of a token counts.
 */
static int b64url_decode(const char *s, uint8_t *out, size_t cap, size_t *len) {
  unsigned char b64[B64_MAX];
  char again[B64_MAX];
  size_t n = strlen(s), i;
  int rc = -1;

  if (n == 0 || n % 4 == 1 || (n + 3) / 4 * 4 >= sizeof(b64))
    return -1;
  for (i = 0; i < n; i++)
    b64[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : (unsigned char)s[i];
  for (; i % 4 != 0; i++)
    b64[i] = '=';
  if (mbedtls_base64_decode(out, cap, len, b64, i) == 0 &&
      b64url_encode(out, *len, again, sizeof(again)) == 0 &&
      strcmp(again, s) == 0)
    rc = 0;
  mbedtls_platform_zeroize(b64, sizeof(b64));
  mbedtls_platform_zeroize(again, sizeof(again));
  return rc;
}

/*
 * Reads a u8-length string into `out`: 0, -1 when it runs past `end`,
 * or -2 when it is longer than `max` or holds a NUL byte.
 */
static int read_str(const uint8_t *p, size_t end, size_t *off, char *out,
                    size_t max) {
  size_t n;

  if (*off >= end)
    return -1;
  n = p[(*off)++];
  if (end - *off < n)
    return -1;
  if (n > max || memchr(p + *off, 0, n) != NULL)
    return -2;
  memcpy(out, p + *off, n);
  out[n] = '\0';
  *off += n;
  return 0;
}

/* Fills `t` from a payload whose checksum has been verified. */
static const char *payload_read(const uint8_t *p, size_t end,
                                struct enroll_token *t) {
  size_t off = 1;
  uint64_t e = 0;
  int i, rc;

  if (p[0] != ENROLL_TOKEN_VERSION)
    return "this token is for another version of Sallyport";
  rc = read_str(p, end, &off, t->name, ENROLL_TOKEN_NAME_MAX);
  if (rc == -1)
    return "the token is truncated";
  if (rc != 0 || !sp_name_valid(t->name))
    return "the token names no valid connector";
  rc = read_str(p, end, &off, t->addr, ENROLL_TOKEN_ADDR_MAX);
  if (rc == -1)
    return "the token is truncated";
  if (rc != 0 || !addr_valid(t->addr))
    return "the token holds no valid relay address";
  if (end - off != ENROLL_TOKEN_FP_LEN + ENROLL_TOKEN_SECRET_LEN + 8)
    return end - off < ENROLL_TOKEN_FP_LEN + ENROLL_TOKEN_SECRET_LEN + 8
               ? "the token is truncated"
               : "the token has bytes past its end";

  fp_to_hex(p + off, t->ca_fingerprint);
  off += ENROLL_TOKEN_FP_LEN;
  memcpy(t->secret, p + off, ENROLL_TOKEN_SECRET_LEN);
  off += ENROLL_TOKEN_SECRET_LEN;
  for (i = 0; i < 8; i++)
    e = e << 8 | p[off++];
  if (e > INT64_MAX)
    return "the token has an impossible expiry";
  t->expires = (int64_t)e;
  return NULL;
}

int enroll_token_decode(const char *s, struct enroll_token *t, char *err,
                        size_t errn) {
  uint8_t p[ENROLL_TOKEN_PAYLOAD_MAX], sum[ENROLL_TOKEN_CHECK_LEN];
  const char *msg = NULL;
  size_t len = 0;

  enroll_token_wipe(t);
  if (strncmp(s, ENROLL_TOKEN_PREFIX, PREFIX_LEN) != 0)
    return decode_fail(t, err, errn,
                       "not an enrolment token (it starts with \"spe1.\")");
  s += PREFIX_LEN;
  if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_") != strlen(s))
    return decode_fail(t, err, errn,
                       "the token holds characters outside base64url");
  if (strlen(s) > (ENROLL_TOKEN_PAYLOAD_MAX * 4 + 2) / 3)
    return decode_fail(t, err, errn, "the token is too long");

  if (b64url_decode(s, p, sizeof(p), &len) != 0)
    msg = "mistyped or truncated token";
  else if (len < PAYLOAD_MIN)
    msg = "the token is truncated";
  if (msg == NULL) {
    checksum(p, len - ENROLL_TOKEN_CHECK_LEN, sum);
    if (memcmp(sum, p + len - ENROLL_TOKEN_CHECK_LEN, sizeof(sum)) != 0)
      msg = "mistyped or truncated token";
  }
  if (msg == NULL)
    msg = payload_read(p, len - ENROLL_TOKEN_CHECK_LEN, t);
  mbedtls_platform_zeroize(p, sizeof(p));
  return msg == NULL ? 0 : decode_fail(t, err, errn, msg);
}
