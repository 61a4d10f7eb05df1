/*
 * Feeds the relay's enrolment answer (connector/enroll.h) to the parser
 * twice: in one piece, and in pieces whose sizes come from the input's
 * first byte, then reports the end of the connection.  Both runs must
 * agree (how the bytes were split never changes the outcome), and an
 * accepted answer must be consistent: a status of 200 to 599, a body
 * within its limit, NUL-terminated, as long as its Content-Length says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "connector/enroll.h"
#include "tests/fuzz/fuzz.h"

/* The parser holds a 16 KiB head: keep both off the stack. */
static struct enroll_resp whole, split;

/* The size of the next piece: 1 to 64 bytes, varied by the seed. */
static size_t piece(uint8_t seed, size_t i) {
  return 1 + ((size_t)seed * 7 + i * 13) % 64;
}

/* Runs `r` over the input in pieces (`seed` 0: one piece) and the EOF. */
static int run(struct enroll_resp *r, const uint8_t *p, size_t n,
               uint8_t seed) {
  size_t off = 0, len, i = 0;
  int rc = SP_EINCOMPLETE;

  enroll_resp_init(r);
  while (off < n && rc == SP_EINCOMPLETE) {
    len = seed == 0 ? n : piece(seed, i++);
    if (len > n - off)
      len = n - off;
    rc = enroll_resp_feed(r, p + off, len);
    off += len;
  }
  if (rc == 0 && off < n)
    rc = enroll_resp_feed(r, p + off, n - off);
  if (rc == SP_EINCOMPLETE)
    rc = enroll_resp_eof(r);
  return rc;
}

static void check_done(const struct enroll_resp *r) {
  CHECK(r->state == ENROLL_RESP_DONE);
  CHECK(r->status >= 200 && r->status <= 599);
  CHECK(r->body != NULL && r->body_len <= ENROLL_BODY_MAX);
  CHECK(r->body[r->body_len] == '\0');
  CHECK(r->content_length < 0 || (size_t)r->content_length == r->body_len);
  CHECK(strlen(r->content_type) <= ENROLL_TYPE_MAX);
  CHECK(r->head_len <= ENROLL_HEAD_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t seed;
  int a, b;

  if (size == 0)
    return 0;
  seed = data[0];
  data++;
  size--;

  a = run(&whole, data, size, 0);
  b = run(&split, data, size, seed == 0 ? 1 : seed);
  CHECK(a == b);
  CHECK(a == 0 || a == SP_EPARSE || a == SP_ETOOBIG);
  if (a == 0) {
    check_done(&whole);
    check_done(&split);
    CHECK(whole.status == split.status);
    CHECK(whole.body_len == split.body_len);
    CHECK(memcmp(whole.body, split.body, whole.body_len) == 0);
    CHECK(strcmp(whole.content_type, split.content_type) == 0);
  } else {
    CHECK(whole.why != NULL && split.why != NULL);
  }
  enroll_resp_free(&whole);
  enroll_resp_free(&split);
  return 0;
}
