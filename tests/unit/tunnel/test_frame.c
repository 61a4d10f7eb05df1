#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "tunnel/frame.h"

static uint8_t buf[TUNNEL_FRAME_MAX * 3];

/* Encodes `f`, decodes it back, and checks the bytes are canonical. */
static size_t round_trip(const struct tunnel_frame *f, struct tunnel_frame *g) {
  static uint8_t again[TUNNEL_FRAME_MAX];
  enum tunnel_frame_fault fault;
  size_t n, used, n2;

  assert_int_equal(tunnel_frame_encode(f, buf, sizeof(buf), &n), 0);
  assert_int_equal(tunnel_frame_decode(buf, n, g, &used, &fault), 0);
  assert_int_equal(fault, TUNNEL_FAULT_NONE);
  assert_int_equal(used, n);
  assert_int_equal(g->type, f->type);
  assert_int_equal(g->flags, f->flags);
  assert_int_equal(g->stream, f->stream);
  assert_int_equal(tunnel_frame_encode(g, again, sizeof(again), &n2), 0);
  assert_int_equal(n2, n);
  assert_memory_equal(again, buf, n);
  return n;
}

static void assert_str(struct tunnel_str s, const char *want) {
  assert_int_equal(s.len, strlen(want));
  if (s.len > 0)
    assert_memory_equal(s.p, want, s.len);
}

static void fill_open(struct tunnel_frame *f) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_OPEN;
  f->stream = 7;
  f->u.open.window = TUNNEL_INITIAL_WINDOW;
  f->u.open.expires = 1796288400;
  f->u.open.dest = tunnel_frame_str("wiki.corp:443");
  f->u.open.user = tunnel_frame_str("alice");
  f->u.open.resource = tunnel_frame_str("wiki");
  f->u.open.rule = tunnel_frame_str("engineers-wiki-office-hours");
  f->u.open.device = tunnel_frame_str("laptop-42");
  f->u.open.client = tunnel_frame_str("81.2.69.160:51234");
}

static void test_hello_open_result(void **state) {
  struct tunnel_frame f, g;
  size_t n;

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_HELLO;
  f.u.hello.version = TUNNEL_VERSION;
  f.u.hello.role = TUNNEL_ROLE_CONNECTOR;
  f.u.hello.max_streams = 1024;
  f.u.hello.name = tunnel_frame_str("paris-office");
  f.u.hello.software = tunnel_frame_str("sallyport 0.1.0");
  n = round_trip(&f, &g);
  assert_int_equal(n, 8 + 11 + 12 + 15);
  assert_int_equal(g.u.hello.version, 1);
  assert_int_equal(g.u.hello.role, TUNNEL_ROLE_CONNECTOR);
  assert_int_equal(g.u.hello.max_streams, 1024);
  assert_str(g.u.hello.name, "paris-office");
  assert_str(g.u.hello.software, "sallyport 0.1.0");

  fill_open(&f);
  round_trip(&f, &g);
  assert_int_equal(g.u.open.window, TUNNEL_INITIAL_WINDOW);
  assert_true(g.u.open.expires == 1796288400);
  assert_str(g.u.open.dest, "wiki.corp:443");
  assert_str(g.u.open.user, "alice");
  assert_str(g.u.open.resource, "wiki");
  assert_str(g.u.open.rule, "engineers-wiki-office-hours");
  assert_str(g.u.open.device, "laptop-42");
  assert_str(g.u.open.client, "81.2.69.160:51234");

  /* No device, and an IPv6 destination. */
  f.u.open.device = tunnel_frame_str("");
  f.u.open.dest = tunnel_frame_str("[2001:db8::5]:22");
  round_trip(&f, &g);
  assert_str(g.u.open.device, "");
  assert_str(g.u.open.dest, "[2001:db8::5]:22");

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_OPEN_RESULT;
  f.stream = 7;
  f.u.open_result.result = TUNNEL_RESULT_OK;
  f.u.open_result.window = 65536;
  f.u.open_result.address = tunnel_frame_str("10.20.0.5:443");
  round_trip(&f, &g);
  assert_int_equal(g.u.open_result.result, TUNNEL_RESULT_OK);
  assert_int_equal(g.u.open_result.window, 65536);
  assert_str(g.u.open_result.address, "10.20.0.5:443");

  f.u.open_result.result = TUNNEL_RESULT_DNS_FAILED;
  f.u.open_result.window = 0;
  f.u.open_result.address = tunnel_frame_str("");
  round_trip(&f, &g);
  assert_int_equal(g.u.open_result.result, TUNNEL_RESULT_DNS_FAILED);
}

static void test_stream_and_tunnel_frames(void **state) {
  static const uint8_t opaque[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  struct tunnel_frame f, g;

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_DATA;
  f.flags = TUNNEL_FLAG_FIN;
  f.stream = 0xfffffffe;
  f.u.data.p = (const uint8_t *)"hello";
  f.u.data.len = 5;
  round_trip(&f, &g);
  assert_int_equal(g.u.data.len, 5);
  assert_memory_equal(g.u.data.p, "hello", 5);
  assert_int_equal(g.flags, TUNNEL_FLAG_FIN);

  /* A bare half-close: no bytes, FIN set. */
  f.u.data.p = NULL;
  f.u.data.len = 0;
  round_trip(&f, &g);
  assert_int_equal(g.u.data.len, 0);

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_WINDOW_UPDATE;
  f.stream = 3;
  f.u.window_increment = TUNNEL_WINDOW_MAX;
  round_trip(&f, &g);
  assert_int_equal(g.u.window_increment, TUNNEL_WINDOW_MAX);

  f.type = TUNNEL_RESET;
  f.u.reset_code = TUNNEL_RESET_REVOKED;
  round_trip(&f, &g);
  assert_int_equal(g.u.reset_code, TUNNEL_RESET_REVOKED);

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_PING;
  f.flags = TUNNEL_FLAG_ACK;
  memcpy(f.u.ping, opaque, 8);
  round_trip(&f, &g);
  assert_memory_equal(g.u.ping, opaque, 8);

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_GOAWAY;
  f.u.goaway.last_stream = 41;
  f.u.goaway.code = TUNNEL_GOAWAY_PROTOCOL;
  f.u.goaway.detail = tunnel_frame_str("bad_stream_id");
  round_trip(&f, &g);
  assert_int_equal(g.u.goaway.last_stream, 41);
  assert_int_equal(g.u.goaway.code, TUNNEL_GOAWAY_PROTOCOL);
  assert_str(g.u.goaway.detail, "bad_stream_id");
}

static void test_cert_frames(void **state) {
  static const char csr[] = "-----BEGIN CERTIFICATE REQUEST-----\n"
                            "MIIBADCBpwIBADBFMQswCQYDVQQGEwJGUjEOMAwGA1UE\n"
                            "-----END CERTIFICATE REQUEST-----\n";
  static char big[TUNNEL_PEM_MAX + 2]; /* one over the limit, and a NUL */
  struct tunnel_frame f, g;

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_CERT_RENEW;
  f.u.csr = tunnel_frame_str(csr);
  round_trip(&f, &g);
  assert_str(g.u.csr, csr);

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_CERT_ISSUED;
  f.u.cert_issued.status = TUNNEL_CERT_OK;
  memset(big, 'A', TUNNEL_PEM_MAX);
  f.u.cert_issued.pem = tunnel_frame_str(big);
  round_trip(&f, &g);
  assert_int_equal(g.u.cert_issued.pem.len, TUNNEL_PEM_MAX);

  /* One byte over the PEM limit, and a refusal that carries a PEM. */
  big[TUNNEL_PEM_MAX] = 'A';
  f.u.cert_issued.pem = tunnel_frame_str(big);
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_STRING_TOO_LONG);
  f.u.cert_issued.status = TUNNEL_CERT_REJECTED;
  f.u.cert_issued.pem = tunnel_frame_str(csr);
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_VALUE);
  f.u.cert_issued.pem = tunnel_frame_str("");
  round_trip(&f, &g);
  assert_int_equal(g.u.cert_issued.status, TUNNEL_CERT_REJECTED);
}

static void test_partial_input(void **state) {
  struct tunnel_frame f, g;
  enum tunnel_frame_fault fault;
  size_t n, i, used = 99;

  fill_open(&f);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n), 0);
  for (i = 0; i < n; i++) {
    assert_int_equal(tunnel_frame_decode(buf, i, &g, &used, &fault),
                     SP_EINCOMPLETE);
    assert_int_equal(used, 0);
    assert_int_equal(fault, TUNNEL_FAULT_NONE);
  }
  assert_int_equal(tunnel_frame_decode(buf, n, &g, &used, NULL), 0);
  assert_int_equal(used, n);
  assert_int_equal(tunnel_frame_decode(NULL, 0, &g, &used, NULL),
                   SP_EINCOMPLETE);
}

/* Writes a header by hand, so tests can build what encode refuses. */
static void header(uint8_t *p, int type, int flags, size_t len,
                   uint32_t stream) {
  p[0] = (uint8_t)type;
  p[1] = (uint8_t)flags;
  p[2] = (uint8_t)(len >> 8);
  p[3] = (uint8_t)len;
  p[4] = (uint8_t)(stream >> 24);
  p[5] = (uint8_t)(stream >> 16);
  p[6] = (uint8_t)(stream >> 8);
  p[7] = (uint8_t)stream;
}

/* Decodes `len` bytes of `buf` and expects SP_EPROTO for `want`. */
static void expect_fault(size_t len, enum tunnel_frame_fault want) {
  struct tunnel_frame g;
  enum tunnel_frame_fault fault;
  size_t used = 99;

  assert_int_equal(tunnel_frame_decode(buf, len, &g, &used, &fault), SP_EPROTO);
  assert_string_equal(tunnel_frame_fault_name(fault),
                      tunnel_frame_fault_name(want));
  assert_int_equal(used, 0);
}

static void test_header_faults(void **state) {
  struct tunnel_frame g;
  size_t used;

  /* Oversized: refused from the header alone, before any payload. */
  header(buf, TUNNEL_DATA, 0, TUNNEL_MAX_PAYLOAD + 1, 1);
  expect_fault(8, TUNNEL_FAULT_OVERSIZED);
  header(buf, TUNNEL_DATA, 0, 0xffff, 1);
  expect_fault(8, TUNNEL_FAULT_OVERSIZED);

  /* The header is still reported for the log line. */
  assert_int_equal(tunnel_frame_decode(buf, 8, &g, &used, NULL), SP_EPROTO);
  assert_int_equal(g.type, TUNNEL_DATA);
  assert_int_equal(g.stream, 1);

  header(buf, 0, 0, 0, 0);
  expect_fault(8, TUNNEL_FAULT_UNKNOWN_TYPE);
  header(buf, 11, 0, 0, 0);
  expect_fault(8, TUNNEL_FAULT_UNKNOWN_TYPE);
  header(buf, 255, 0, 4, 1);
  expect_fault(8, TUNNEL_FAULT_UNKNOWN_TYPE);

  header(buf, TUNNEL_DATA, 0x02, 1, 1);
  expect_fault(8, TUNNEL_FAULT_BAD_FLAGS);
  header(buf, TUNNEL_HELLO, TUNNEL_FLAG_FIN, 11, 0);
  expect_fault(8, TUNNEL_FAULT_BAD_FLAGS);

  /* Fixed-size payloads of the wrong size. */
  header(buf, TUNNEL_PING, 0, 9, 0);
  expect_fault(8, TUNNEL_FAULT_BAD_LENGTH);
  header(buf, TUNNEL_WINDOW_UPDATE, 0, 3, 1);
  expect_fault(8, TUNNEL_FAULT_BAD_LENGTH);
  header(buf, TUNNEL_OPEN, 0, 23, 1);
  expect_fault(8, TUNNEL_FAULT_BAD_LENGTH);
}

static void test_stream_ids(void **state) {
  static const int on_stream[] = {TUNNEL_OPEN, TUNNEL_OPEN_RESULT, TUNNEL_DATA,
                                  TUNNEL_WINDOW_UPDATE, TUNNEL_RESET};
  static const int on_tunnel[] = {TUNNEL_HELLO, TUNNEL_PING, TUNNEL_GOAWAY,
                                  TUNNEL_CERT_RENEW, TUNNEL_CERT_ISSUED};
  size_t i;

  for (i = 0; i < sizeof(on_stream) / sizeof(on_stream[0]); i++) {
    header(buf, on_stream[i], 0, 8, 0);
    expect_fault(8, TUNNEL_FAULT_BAD_STREAM);
  }
  for (i = 0; i < sizeof(on_tunnel) / sizeof(on_tunnel[0]); i++) {
    header(buf, on_tunnel[i], 0, 8, 1);
    expect_fault(8, TUNNEL_FAULT_BAD_STREAM);
    header(buf, on_tunnel[i], 0, 8, 0x80000000u);
    expect_fault(8, TUNNEL_FAULT_BAD_STREAM);
  }
}

static void test_payload_faults(void **state) {
  static const uint8_t hello[] = {0, 1, 2, 0, 0, 0, 4, 0, 1, 'p', 0, 0};
  static const uint8_t goaway[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
  size_t n = sizeof(hello), used;
  struct tunnel_frame g;

  /* A valid HELLO, then the same with a byte too many. */
  header(buf, TUNNEL_HELLO, 0, n, 0);
  memcpy(buf + 8, hello, n);
  assert_int_equal(tunnel_frame_decode(buf, 8 + n, &g, &used, NULL), 0);
  assert_str(g.u.hello.name, "p");
  header(buf, TUNNEL_HELLO, 0, n + 1, 0);
  buf[8 + n] = 'x';
  expect_fault(8 + n + 1, TUNNEL_FAULT_TRAILING);

  header(buf, TUNNEL_GOAWAY, 0, sizeof(goaway) + 2, 0);
  memcpy(buf + 8, goaway, sizeof(goaway));
  buf[18] = buf[19] = 0;
  expect_fault(20, TUNNEL_FAULT_TRAILING);

  /* A string whose length runs past the payload. */
  header(buf, TUNNEL_HELLO, 0, n, 0);
  memcpy(buf + 8, hello, n);
  buf[8 + 8] = 5;
  expect_fault(8 + n, TUNNEL_FAULT_TRUNCATED);

  /* Version 0, an unknown role, a NUL inside a name. */
  memcpy(buf + 8, hello, n);
  buf[9] = 0;
  expect_fault(8 + n, TUNNEL_FAULT_BAD_VALUE);
  memcpy(buf + 8, hello, n);
  buf[10] = 3;
  expect_fault(8 + n, TUNNEL_FAULT_BAD_VALUE);
  memcpy(buf + 8, hello, n);
  buf[8 + 9] = 0;
  expect_fault(8 + n, TUNNEL_FAULT_BAD_STRING);

  /* An empty DATA frame without FIN carries nothing at all. */
  header(buf, TUNNEL_DATA, 0, 0, 1);
  expect_fault(8, TUNNEL_FAULT_BAD_VALUE);

  /* A zero window increment, unknown reset and goaway codes. */
  header(buf, TUNNEL_WINDOW_UPDATE, 0, 4, 1);
  memset(buf + 8, 0, 4);
  expect_fault(12, TUNNEL_FAULT_BAD_VALUE);
  buf[8] = 0x80;
  expect_fault(12, TUNNEL_FAULT_BAD_VALUE);
  header(buf, TUNNEL_RESET, 0, 4, 1);
  memset(buf + 8, 0, 4);
  expect_fault(12, TUNNEL_FAULT_BAD_VALUE);
  buf[11] = 8;
  expect_fault(12, TUNNEL_FAULT_BAD_VALUE);
  header(buf, TUNNEL_GOAWAY, 0, sizeof(goaway), 0);
  memcpy(buf + 8, goaway, sizeof(goaway));
  buf[15] = 7;
  expect_fault(18, TUNNEL_FAULT_BAD_VALUE);
}

static void test_string_limits(void **state) {
  char longer[TUNNEL_DEST_MAX + 8];
  struct tunnel_frame f, g;
  size_t n;

  /* A user name of 64 bytes is fine, 65 is not. */
  fill_open(&f);
  memset(longer, 'u', 65);
  longer[64] = '\0';
  f.u.open.user = tunnel_frame_str(longer);
  round_trip(&f, &g);
  longer[64] = 'u';
  longer[65] = '\0';
  f.u.open.user = tunnel_frame_str(longer);
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_STRING_TOO_LONG);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n), SP_EUSAGE);

  /* The decoder refuses the same thing from the wire: write a valid frame
   * with a 64-byte user, then stretch the user by one byte. */
  longer[64] = '\0';
  f.u.open.user = tunnel_frame_str(longer);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n), 0);
  memmove(buf + 8 + 12 + 2 + 13 + 2 + 65, buf + 8 + 12 + 2 + 13 + 2 + 64,
          n - (8 + 12 + 2 + 13 + 2 + 64));
  buf[8 + 12 + 2 + 13 + 2 + 64] = 'u';
  buf[8 + 12 + 2 + 13 + 1] = 65;
  buf[3] = (uint8_t)(n - 8 + 1);
  buf[2] = (uint8_t)((n - 8 + 1) >> 8);
  expect_fault(n + 1, TUNNEL_FAULT_STRING_TOO_LONG);

  /* A destination of 263 bytes is fine, 264 is not. */
  fill_open(&f);
  memset(longer, 'a', sizeof(longer));
  memcpy(longer + TUNNEL_DEST_MAX - 4, ":443", 5);
  f.u.open.dest = tunnel_frame_str(longer);
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_DEST);
  memset(longer, 'a', sizeof(longer));
  memcpy(longer + 249, ":443", 5);
  f.u.open.dest = tunnel_frame_str(longer);
  round_trip(&f, &g);
  memset(longer, 'a', sizeof(longer));
  memcpy(longer + TUNNEL_DEST_MAX - 3, ":443", 5);
  f.u.open.dest = tunnel_frame_str(longer);
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_STRING_TOO_LONG);

  /* A successful OPEN_RESULT must say what it dialled. */
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_OPEN_RESULT;
  f.stream = 1;
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_STRING);
  f.u.open_result.result = 7;
  f.u.open_result.address = tunnel_frame_str("x");
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_VALUE);
}

static void test_back_to_back(void **state) {
  struct tunnel_frame f, g;
  size_t n1, n2, used, off;

  fill_open(&f);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n1), 0);
  n2 = tunnel_frame_encode_data_header(buf + n1, 7, 3, 1);
  memcpy(buf + n1 + n2, "abc", 3);
  n2 += 3;
  header(buf + n1 + n2, TUNNEL_PING, 0, 8, 0);

  /* Two whole frames and the first half of a third. */
  assert_int_equal(tunnel_frame_decode(buf, n1 + n2 + 12, &g, &used, NULL), 0);
  assert_int_equal(g.type, TUNNEL_OPEN);
  assert_int_equal(used, n1);
  off = used;
  assert_int_equal(
      tunnel_frame_decode(buf + off, n1 + n2 + 12 - off, &g, &used, NULL), 0);
  assert_int_equal(g.type, TUNNEL_DATA);
  assert_int_equal(g.flags, TUNNEL_FLAG_FIN);
  assert_int_equal(g.u.data.len, 3);
  assert_int_equal(used, n2);
  off += used;
  assert_int_equal(tunnel_frame_decode(buf + off, 12, &g, &used, NULL),
                   SP_EINCOMPLETE);
  assert_int_equal(tunnel_frame_decode(buf + off, 16, &g, &used, NULL), 0);
  assert_int_equal(g.type, TUNNEL_PING);
}

static void test_data_zero_copy(void **state) {
  static uint8_t payload[TUNNEL_MAX_PAYLOAD];
  uint8_t hdr[TUNNEL_HEADER_SIZE];
  struct tunnel_frame f, g;
  size_t n, used;

  memset(payload, 0xa5, sizeof(payload));
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_DATA;
  f.stream = 9;
  f.u.data.p = payload;
  f.u.data.len = sizeof(payload);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n), 0);
  assert_int_equal(n, TUNNEL_FRAME_MAX);

  /* The header encoder writes what the full encoder writes. */
  assert_int_equal(tunnel_frame_encode_data_header(hdr, 9, sizeof(payload), 0),
                   8);
  assert_memory_equal(hdr, buf, 8);

  /* The decoded payload points into the input; nothing was copied. */
  assert_int_equal(tunnel_frame_decode(buf, n, &g, &used, NULL), 0);
  assert_ptr_equal(g.u.data.p, buf + TUNNEL_HEADER_SIZE);
  assert_int_equal(g.u.data.len, TUNNEL_MAX_PAYLOAD);

  /* Strings borrow too. */
  fill_open(&f);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n), 0);
  assert_int_equal(tunnel_frame_decode(buf, n, &g, &used, NULL), 0);
  assert_ptr_equal(g.u.open.dest.p, (const char *)buf + 8 + 12 + 2);
}

static void test_encode_refusals(void **state) {
  struct tunnel_frame f;
  size_t n;

  fill_open(&f);
  assert_int_equal(tunnel_frame_encode(&f, buf, 7, &n), SP_ETOOBIG);
  assert_int_equal(tunnel_frame_encode(&f, buf, 40, &n), SP_ETOOBIG);
  f.stream = 0;
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_STREAM);
  assert_int_equal(tunnel_frame_encode(&f, buf, sizeof(buf), &n), SP_EUSAGE);

  fill_open(&f);
  f.u.open.window = TUNNEL_WINDOW_MAX + 1u;
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_VALUE);

  fill_open(&f);
  f.u.open.user = tunnel_frame_str("-alice");
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_STRING);
  f.u.open.user = tunnel_frame_str("al ice");
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_STRING);
  f.u.open.user = tunnel_frame_str("alice@corp.example");
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_NONE);
  f.u.open.dest = tunnel_frame_str("wiki.corp");
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_BAD_DEST);

  memset(&f, 0, sizeof(f));
  f.type = 42;
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_UNKNOWN_TYPE);
  f.type = TUNNEL_DATA;
  f.stream = 1;
  f.u.data.len = TUNNEL_MAX_PAYLOAD + 1;
  f.u.data.p = buf;
  assert_int_equal(tunnel_frame_check(&f), TUNNEL_FAULT_OVERSIZED);
}

static void test_dest_split(void **state) {
  static const char *bad[] = {
      "wiki.corp",
      "wiki.corp:",
      "wiki.corp:0",
      "wiki.corp:65536",
      "wiki.corp:022",
      ":443",
      "[::1:22",
      "[zz::1]:22",
      "::1:22",
      "[::1]x:22",
      "wi ki:22",
      "wiki.corp:+22",
      "[fe80::1%eth0]:22",
      "[]:22",
      "[10.0.0.1]:22",
      "a:b:22",
  };
  char host[TUNNEL_HOST_MAX + 1];
  uint16_t port;
  size_t i;

  assert_int_equal(
      tunnel_frame_dest_split("wiki.corp:443", 13, host, sizeof(host), &port),
      0);
  assert_string_equal(host, "wiki.corp");
  assert_int_equal(port, 443);
  assert_int_equal(tunnel_frame_dest_split("[2001:db8::5]:22", 16, host,
                                           sizeof(host), &port),
                   0);
  assert_string_equal(host, "2001:db8::5");
  assert_int_equal(port, 22);
  assert_int_equal(
      tunnel_frame_dest_split("10.20.0.5:65535", 15, host, sizeof(host), &port),
      0);
  assert_string_equal(host, "10.20.0.5");
  assert_int_equal(port, 65535);
  assert_int_equal(tunnel_frame_dest_split("10.20.0.5:1", 11, host, 4, &port),
                   SP_ETOOBIG);
  assert_int_equal(tunnel_frame_dest_split("a:1", 3, NULL, 0, NULL), 0);

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (tunnel_frame_dest_split(bad[i], strlen(bad[i]), host, sizeof(host),
                                &port) != SP_EPARSE)
      fail_msg("accepted \"%s\"", bad[i]);
  }

  /* Length is explicit: a NUL inside the range is a bad character. */
  assert_int_equal(tunnel_frame_dest_split("a\0b:1", 5, NULL, 0, NULL),
                   SP_EPARSE);
  assert_int_equal(tunnel_frame_dest_split("[::1\0x]:1", 9, NULL, 0, NULL),
                   SP_EPARSE);
}

static void test_names(void **state) {
  assert_string_equal(tunnel_frame_type_name(TUNNEL_HELLO), "hello");
  assert_string_equal(tunnel_frame_type_name(TUNNEL_OPEN_RESULT),
                      "open_result");
  assert_string_equal(tunnel_frame_type_name(TUNNEL_CERT_ISSUED),
                      "cert_issued");
  assert_string_equal(tunnel_frame_type_name(0), "unknown");
  assert_string_equal(tunnel_frame_result_name(TUNNEL_RESULT_NOT_ALLOWED),
                      "not_allowed");
  assert_string_equal(tunnel_frame_result_name(TUNNEL_RESULT_TIMED_OUT),
                      "timed_out");
  assert_string_equal(tunnel_frame_result_name(99), "unknown");
  assert_string_equal(tunnel_frame_reset_name(TUNNEL_RESET_FLOW_CONTROL),
                      "flow_control");
  assert_string_equal(tunnel_frame_goaway_name(TUNNEL_GOAWAY_SHUTDOWN),
                      "shutting_down");
  assert_string_equal(tunnel_frame_cert_status_name(TUNNEL_CERT_REJECTED),
                      "rejected");
  assert_string_equal(tunnel_frame_fault_name(TUNNEL_FAULT_TRAILING),
                      "trailing_bytes");
  assert_string_equal(tunnel_frame_role_name(TUNNEL_ROLE_CONNECTOR),
                      "connector");
  assert_string_equal(sp_err_name(SP_EPROTO), "protocol_error");
  assert_string_equal(sp_err_name(SP_EINCOMPLETE), "incomplete");
}

static void test_sender(void **state) {
  assert_true(tunnel_frame_sender_ok(TUNNEL_OPEN, TUNNEL_ROLE_RELAY));
  assert_false(tunnel_frame_sender_ok(TUNNEL_OPEN, TUNNEL_ROLE_CONNECTOR));
  assert_true(
      tunnel_frame_sender_ok(TUNNEL_OPEN_RESULT, TUNNEL_ROLE_CONNECTOR));
  assert_false(tunnel_frame_sender_ok(TUNNEL_OPEN_RESULT, TUNNEL_ROLE_RELAY));
  assert_true(tunnel_frame_sender_ok(TUNNEL_CERT_RENEW, TUNNEL_ROLE_CONNECTOR));
  assert_false(
      tunnel_frame_sender_ok(TUNNEL_CERT_ISSUED, TUNNEL_ROLE_CONNECTOR));
  assert_true(tunnel_frame_sender_ok(TUNNEL_DATA, TUNNEL_ROLE_CONNECTOR));
  assert_true(tunnel_frame_sender_ok(TUNNEL_PING, TUNNEL_ROLE_RELAY));
  assert_false(tunnel_frame_sender_ok(0, TUNNEL_ROLE_RELAY));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hello_open_result),
      cmocka_unit_test(test_stream_and_tunnel_frames),
      cmocka_unit_test(test_cert_frames),
      cmocka_unit_test(test_partial_input),
      cmocka_unit_test(test_header_faults),
      cmocka_unit_test(test_stream_ids),
      cmocka_unit_test(test_payload_faults),
      cmocka_unit_test(test_string_limits),
      cmocka_unit_test(test_back_to_back),
      cmocka_unit_test(test_data_zero_copy),
      cmocka_unit_test(test_encode_refusals),
      cmocka_unit_test(test_dest_split),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_sender),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
