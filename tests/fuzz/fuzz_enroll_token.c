/*
 * Two directions.  The input as text goes to enroll_token_decode(): a
 * token it accepts must encode back to exactly the same text (only
 * canonical tokens are accepted, so no character is ever ignored), and a
 * refusal must come with a message and a wiped token.  The input as
 * fields (name and address from its bytes) goes to enroll_token_encode():
 * whatever it accepts must decode to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "connector/enroll_token.h"
#include "tests/fuzz/fuzz.h"

#define TEXT_IN_MAX 1024

static int is_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i;

  for (i = 0; i < n; i++) {
    if (b[i] != 0)
      return 0;
  }
  return 1;
}

static void decode_text(const uint8_t *data, size_t size) {
  char text[TEXT_IN_MAX + 1], again[ENROLL_TOKEN_TEXT_MAX], err[128];
  struct enroll_token t;
  size_t n = size < TEXT_IN_MAX ? size : TEXT_IN_MAX;

  memcpy(text, data, n);
  text[n] = '\0';
  err[0] = '\0';
  if (enroll_token_decode(text, &t, err, sizeof(err)) != 0) {
    CHECK(err[0] != '\0');
    CHECK(is_zero(&t, sizeof(t)));
    return;
  }
  CHECK(enroll_token_encode(&t, again, sizeof(again)) == 0);
  CHECK(strcmp(again, text) == 0);
  enroll_token_wipe(&t);
  CHECK(is_zero(&t, sizeof(t)));
}

/* Takes a field of at most `max` bytes, length first, from the input. */
static size_t take(const uint8_t **d, size_t *n, char *out, size_t max) {
  size_t len;

  if (*n == 0)
    return 0;
  len = **d % (max + 1);
  (*d)++;
  (*n)--;
  if (len > *n)
    len = *n;
  memcpy(out, *d, len);
  out[len] = '\0';
  *d += len;
  *n -= len;
  return len;
}

static void encode_fields(const uint8_t *data, size_t size) {
  static const char hex[] = "0123456789abcdef";
  struct enroll_token t, back;
  char text[ENROLL_TOKEN_TEXT_MAX], err[128];
  size_t i;

  memset(&t, 0, sizeof(t));
  take(&data, &size, t.name, ENROLL_TOKEN_NAME_MAX);
  take(&data, &size, t.addr, ENROLL_TOKEN_ADDR_MAX);
  for (i = 0; i < 2 * ENROLL_TOKEN_FP_LEN; i++)
    t.ca_fingerprint[i] = hex[(i < size ? data[i] : i) & 0xf];
  for (i = 0; i < ENROLL_TOKEN_SECRET_LEN; i++)
    t.secret[i] = (uint8_t)(i < size ? data[size - 1 - i] : 0);
  t.expires = (int64_t)size << 40 | (int64_t)size;

  if (enroll_token_encode(&t, text, sizeof(text)) != 0)
    return;
  CHECK(strlen(text) < ENROLL_TOKEN_TEXT_MAX);
  CHECK(enroll_token_decode(text, &back, err, sizeof(err)) == 0);
  CHECK(strcmp(back.name, t.name) == 0 && strcmp(back.addr, t.addr) == 0);
  CHECK(strcmp(back.ca_fingerprint, t.ca_fingerprint) == 0);
  CHECK(memcmp(back.secret, t.secret, sizeof(t.secret)) == 0);
  CHECK(back.expires == t.expires);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  decode_text(data, size);
  encode_fields(data, size);
  return 0;
}
