/*
 * TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA-1 from mbedTLS.
 *
 * Replay rule: totp_verify() looks at the steps now-1, now and now+1 and
 * keeps the latest one whose code matches.  Only a step after
 * `last_step` is accepted; the caller stores the returned step as the
 * user's new `last_step`, so a code is never accepted twice and a code of
 * an earlier step is never accepted after a later one.  Taking the latest
 * match (rather than the first) means that when one code happens to be
 * valid for two steps, the later step is consumed and the code cannot be
 * replayed against it.
 */
#include "policy/totp.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>

#include "common/err.h"

/* 10^TOTP_DIGITS: HOTP values are reduced modulo this. */
#define TOTP_MODULUS 1000000u

/* A value no six-digit code can equal, returned when HMAC fails. */
#define TOTP_NO_CODE 0xffffffffu

uint32_t totp_hotp(const uint8_t *secret, size_t len, uint64_t counter) {
  const mbedtls_md_info_t *info;
  uint8_t msg[8], mac[20];
  uint32_t bin;
  unsigned off;
  int i;

  for (i = 7; i >= 0; i--) {
    msg[i] = (uint8_t)(counter & 0xff);
    counter >>= 8;
  }

  /* Failing closed: the sentinel never matches a parsed code. */
  info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
  if (info == NULL ||
      mbedtls_md_hmac(info, secret, len, msg, sizeof(msg), mac) != 0)
    return TOTP_NO_CODE;

  /* Dynamic truncation, RFC 4226 section 5.3. */
  off = mac[19] & 0x0f;
  bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
        (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
  return bin % TOTP_MODULUS;
}

uint64_t totp_step(int64_t t) {
  /* Times before 1970 only come from a broken clock; they share step 0. */
  if (t < 0)
    return 0;
  return (uint64_t)t / TOTP_PERIOD;
}

/* Accepts exactly TOTP_DIGITS ASCII digits followed by the terminator. */
static int code_well_formed(const char *code) {
  int i;

  if (code == NULL)
    return 0;
  for (i = 0; i < TOTP_DIGITS; i++)
    if (code[i] < '0' || code[i] > '9')
      return 0;
  return code[TOTP_DIGITS] == '\0';
}

/* 1 when `code` is the HOTP value of `step`, compared in constant time. */
static int code_matches(const uint8_t *secret, size_t len, const char *code,
                        uint64_t step) {
  char want[TOTP_DIGITS + 1];
  uint32_t v;

  v = totp_hotp(secret, len, step);
  if (v >= TOTP_MODULUS)
    return 0;
  snprintf(want, sizeof(want), "%06u", (unsigned)v);
  return mbedtls_ct_memcmp(want, code, TOTP_DIGITS) == 0;
}

int totp_verify(const uint8_t *secret, size_t len, const char *code,
                int64_t now, uint64_t last_step, uint64_t *step_out) {
  uint64_t now_step, first, s, best = 0;
  int matched = 0, fresh = 0;

  if (!code_well_formed(code))
    return SP_EAUTH;

  /* Every candidate step is checked so timing does not say which one hit. */
  now_step = totp_step(now);
  first = now_step >= TOTP_SKEW ? now_step - TOTP_SKEW : 0;
  for (s = first; s <= now_step + TOTP_SKEW; s++) {
    if (!code_matches(secret, len, code, s))
      continue;
    matched = 1;
    if (s > last_step) {
      fresh = 1;
      best = s;
    }
  }

  if (fresh) {
    if (step_out != NULL)
      *step_out = best;
    return 0;
  }
  return matched ? SP_EREPLAY : SP_EAUTH;
}

int totp_base32(char *out, size_t out_size, const uint8_t *p, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  uint32_t acc = 0;
  size_t i, n = 0;
  int bits = 0;

  /* Every 5 bits (rounded up) is one character, plus the terminator. */
  if (len > (SIZE_MAX - 5) / 8 || (len * 8 + 4) / 5 >= out_size)
    return SP_ETOOBIG;

  for (i = 0; i < len; i++) {
    acc = (acc << 8 | p[i]) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[n++] = alphabet[(acc >> bits) & 0x1f];
    }
  }
  if (bits > 0)
    out[n++] = alphabet[(acc << (5 - bits)) & 0x1f];
  out[n] = '\0';
  return 0;
}

/* A bounded string builder; once full it stays full. */
struct uri_buf {
  char *p;
  size_t size;
  size_t len;
  int full;
};

static void put(struct uri_buf *b, const char *s, size_t n) {
  if (b->full || n >= b->size - b->len) {
    b->full = 1;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void put_str(struct uri_buf *b, const char *s) {
  put(b, s, strlen(s));
}

/* Percent-encodes everything outside RFC 3986's unreserved set. */
static void put_encoded(struct uri_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  char esc[3];
  unsigned char c;

  for (; *s != '\0'; s++) {
    c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      put(b, s, 1);
      continue;
    }
    esc[0] = '%';
    esc[1] = hex[c >> 4];
    esc[2] = hex[c & 0x0f];
    put(b, esc, 3);
  }
}

int totp_uri(char *out, size_t out_size, const char *issuer, const char *user,
             const uint8_t *secret, size_t len) {
  struct uri_buf b = {out, out_size, 0, 0};
  char b32[TOTP_BASE32_MAX];

  if (out_size == 0)
    return SP_ETOOBIG;
  out[0] = '\0';
  if (totp_base32(b32, sizeof(b32), secret, len) != 0)
    return SP_ETOOBIG;

  put_str(&b, "otpauth://totp/");
  put_encoded(&b, issuer);
  put_str(&b, ":");
  put_encoded(&b, user);
  put_str(&b, "?secret=");
  put_str(&b, b32);
  put_str(&b, "&issuer=");
  put_encoded(&b, issuer);
  put_str(&b, "&algorithm=SHA1&digits=6&period=30");

  /* A cut-off URI would enrol a wrong secret or name; hand back nothing. */
  if (b.full) {
    out[0] = '\0';
    return SP_ETOOBIG;
  }
  return 0;
}
