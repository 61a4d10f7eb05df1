#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/base64.h>

#include "common/err.h"
#include "relay/httpc.h"
#include "relay/socks5.h"

#define LIT(s) s, sizeof(s) - 1
#define TOKEN "spt_q6u8cdHNR0nJ0mDYrVa2N3k2Hhk2PzF7vQ0cTwr1s2A"

/* What curl --proxy http://relay:3128 --proxy-user alice:TOKEN sends. */
static const char curl_connect[] =
    "CONNECT wiki.corp:443 HTTP/1.1\r\n"
    "Host: wiki.corp:443\r\n"
    "Proxy-Authorization: Basic "
    "YWxpY2U6c3B0X3E2dThjZEhOUjBuSjBtRFlyVmEyTjNrMkhoazJQekY3dlEwY1R3cjFzMkE="
    "\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

/* The start of a TLS ClientHello, pipelined after the head. */
static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

/* Feeds `in` in pieces of `step` bytes (all at once when 0). */
static int feed(struct httpc_parser *p, const char *in, size_t n, size_t step,
                size_t *used) {
  size_t off = 0, len, u;
  int rc;

  httpc_init(p);
  do {
    len = step == 0 || n - off < step ? n - off : step;
    rc = httpc_feed(p, (const uint8_t *)in + off, len, &u);
    off += u;
  } while (rc == SP_EINCOMPLETE && off < n);
  *used = off;
  return rc;
}

/* The parser static is big; tests share these two. */
static struct httpc_parser p1, p2;

/*
 * Parses `in` whole and one byte at a time and checks that both agree;
 * leaves the whole-input result in p1.
 */
static int parse(const char *in, size_t n, size_t *used) {
  size_t u1, u2, i;
  int rc1, rc2;

  rc2 = feed(&p2, in, n, 1, &u2);
  rc1 = feed(&p1, in, n, 0, &u1);
  assert_int_equal(rc1, rc2);
  if (rc1 == 0 || rc1 == SP_EINCOMPLETE)
    assert_int_equal(u1, u2);
  assert_int_equal(p1.state, p2.state);
  assert_int_equal(p1.status, p2.status);
  assert_int_equal(p1.n_fields, p2.n_fields);
  for (i = 0; i < p1.n_fields; i++) {
    assert_string_equal(p1.fields[i].name, p2.fields[i].name);
    assert_string_equal(p1.fields[i].value, p2.fields[i].value);
  }
  assert_int_equal(p1.auth, p2.auth);
  *used = u1;
  return rc1;
}

static void expect_fail(const char *in, int err, int status) {
  size_t used;

  if (parse(in, strlen(in), &used) != err || p1.status != status)
    fail_msg("\"%s\": %d/%d, want %d/%d", in, p1.err, p1.status, err, status);
  assert_int_equal(p1.state, HTTPC_S_FAILED);
  assert_non_null(p1.reason);
}

static void expect_bad(const char *in) {
  expect_fail(in, SP_EPROTO, 400);
}

static void test_curl_connect(void **state) {
  char in[1024];
  size_t used, n = strlen(curl_connect), step;
  int rc;

  memcpy(in, curl_connect, n);
  memcpy(in + n, hello, sizeof(hello) - 1);
  assert_int_equal(parse(in, n + sizeof(hello) - 1, &used), 0);
  assert_int_equal(used, n);
  assert_int_equal(p1.state, HTTPC_S_DONE);
  assert_string_equal(p1.method, "CONNECT");
  assert_string_equal(p1.target, "wiki.corp:443");
  assert_string_equal(p1.authority, "wiki.corp:443");
  assert_null(p1.path);
  assert_int_equal(p1.version_minor, 1);
  assert_int_equal(p1.auth, HTTPC_AUTH_BASIC);
  assert_string_equal(p1.user, "alice");
  assert_string_equal(p1.password, TOKEN);
  assert_int_equal(p1.password_len, strlen(TOKEN));
  assert_string_equal(p1.host, "wiki.corp:443");
  assert_int_equal(p1.content_length, -1);
  assert_null(p1.content_type);
  assert_int_equal(p1.n_fields, 4);
  assert_string_equal(p1.fields[2].name, "User-Agent");
  assert_string_equal(p1.fields[2].value, "curl/7.88.1");
  assert_string_equal(httpc_header(&p1, "proxy-connection"), "Keep-Alive");
  assert_null(httpc_header(&p1, "Cookie"));

  /* The credentials do not linger in the field list. */
  assert_string_equal(p1.fields[1].name, "Proxy-Authorization");
  assert_string_equal(p1.fields[1].value, "");

  /* The left-over ClientHello is the same for every split. */
  for (step = 1; step < n + 10; step += 7) {
    rc = feed(&p2, in, n + sizeof(hello) - 1, step, &used);
    assert_int_equal(rc, 0);
    assert_int_equal(used, n);
    assert_memory_equal(in + used, hello, sizeof(hello) - 1);
  }

  httpc_wipe(&p1);
  assert_int_equal(p1.password_len, 0);
  assert_string_equal(p1.password, "");
}

static void test_done_is_final(void **state) {
  size_t used;

  assert_int_equal(parse(curl_connect, strlen(curl_connect), &used), 0);
  assert_int_equal(httpc_feed(&p1, (const uint8_t *)"x", 1, &used), 0);
  assert_int_equal(used, 0);

  expect_bad("GET / HTTP/1.1\r\nA : b\r\n\r\n");
  assert_int_equal(httpc_feed(&p1, (const uint8_t *)"x", 1, &used), SP_EPROTO);
  assert_int_equal(used, 0);

  httpc_init(&p1);
  assert_int_equal(httpc_feed(&p1, NULL, 0, &used), SP_EINCOMPLETE);
}

static void test_bare_lf(void **state) {
  static const char in[] = "\r\n\nCONNECT [2001:DB8::1]:443 HTTP/1.0\n"
                           "host: x\n"
                           "\n"
                           "rest";
  size_t used;

  assert_int_equal(parse(in, strlen(in), &used), 0);
  assert_int_equal(used, strlen(in) - 4);
  assert_string_equal(p1.authority, "[2001:db8::1]:443");
  assert_int_equal(p1.version_minor, 0);
  assert_string_equal(p1.host, "x");
  assert_int_equal(p1.auth, HTTPC_AUTH_NONE);
}

static void expect_authority(const char *target, const char *want) {
  char in[512];
  size_t used;

  snprintf(in, sizeof(in), "CONNECT %s HTTP/1.1\r\n\r\n", target);
  assert_int_equal(parse(in, strlen(in), &used), 0);
  assert_string_equal(p1.authority, want);
}

static void test_connect_targets(void **state) {
  expect_authority("10.0.0.1:22", "10.0.0.1:22");
  expect_authority("Wiki.Corp:0443", "wiki.corp:443");
  expect_authority("[0:0:0:0:0:0:0:1]:8443", "[::1]:8443");
  expect_authority("[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.1]:80");

  expect_bad("CONNECT wiki.corp HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT http://wiki.corp/ HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT [::1] HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT ::1:443 HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT alice@wiki.corp:443 HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT wiki.corp:0 HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT /x HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT 10.1:443 HTTP/1.1\r\n\r\n");
}

static void test_other_methods(void **state) {
  static const char login[] = "POST /v1/login HTTP/1.1\r\n"
                              "Host: relay:8443\r\n"
                              "Content-Type: application/x-www-form-"
                              "urlencoded\r\n"
                              "Content-Length: 37\r\n"
                              "Connection: close\r\n"
                              "\r\n"
                              "user=alice&password=secret&otp=123456";
  size_t used;

  assert_int_equal(parse(login, strlen(login), &used), 0);
  assert_string_equal(p1.method, "POST");
  assert_string_equal(p1.path, "/v1/login");
  assert_string_equal(p1.authority, "");
  assert_int_equal(p1.content_length, 37);
  assert_string_equal(p1.content_type, "application/x-www-form-urlencoded");
  assert_string_equal(p1.connection, "close");
  assert_memory_equal(login + used, "user=alice&", 11);

  assert_int_equal(parse("GET /healthz?x=1 HTTP/1.1\r\n\r\n", 29, &used), 0);
  assert_string_equal(p1.method, "GET");
  assert_string_equal(p1.path, "/healthz?x=1");

  assert_int_equal(parse("GET http://wiki.corp/ HTTP/1.1\r\n\r\n", 34, &used),
                   0);
  assert_string_equal(p1.target, "http://wiki.corp/");
  assert_null(p1.path);

  assert_int_equal(parse("OPTIONS * HTTP/1.1\r\n\r\n", 22, &used), 0);
  assert_string_equal(p1.method, "OPTIONS");
  assert_null(p1.path);

  /* Methods are case-sensitive: this is not CONNECT. */
  assert_int_equal(parse("connect a:1 HTTP/1.1\r\n\r\n", 24, &used), 0);
  assert_string_equal(p1.method, "connect");
  assert_string_equal(p1.authority, "");
}

static void test_request_line(void **state) {
  expect_bad("CONNECT  wiki.corp:443 HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT wiki.corp:443  HTTP/1.1\r\n\r\n");
  expect_bad("CONNECT wiki.corp:443 HTTP/1.1 \r\n\r\n");
  expect_bad("CONNECT wiki.corp:443\r\n\r\n");
  expect_bad("CONNECT wiki.corp:443 http/1.1\r\n\r\n");
  expect_bad("CONNECT wiki.corp:443 HTTP/1.10\r\n\r\n");
  expect_bad("CONNECT wiki.corp:443 HTTP/1\r\n\r\n");
  expect_bad(" GET / HTTP/1.1\r\n\r\n");
  expect_bad("GE(T / HTTP/1.1\r\n\r\n");
  expect_bad("GET /a\x7f HTTP/1.1\r\n\r\n");
  expect_bad("GET /\xc3\xa9 HTTP/1.1\r\n\r\n");
  expect_bad("GET\t/ HTTP/1.1\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\r\n\r\n");
  expect_bad("\x16\x03\x01\x02\x05\n");
  expect_fail("GET / HTTP/2.0\r\n\r\n", SP_EPROTO, 505);
  expect_fail("GET / HTTP/0.9\r\n\r\n", SP_EPROTO, 505);
}

static void test_fields(void **state) {
  size_t used;

  expect_bad("GET / HTTP/1.1\r\nHost: a\r\n  folded\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\n: a\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nno colon\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nContent-Type: a\r\ncontent-type: a\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
             "Content-Length: 1\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n");
  expect_bad("GET / HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\n"
             "Proxy-Authorization: Basic YTpi\r\n\r\n");

  /* NUL bytes are measured, not taken as the end of a string. */
  assert_int_equal(parse(LIT("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"), &used),
                   SP_EPROTO);
  assert_int_equal(p1.status, 400);

  /* Optional white space goes; obs-text and inner spaces stay. */
  assert_int_equal(parse(LIT("GET / HTTP/1.1\r\nX-A: \t a \xe9 b\t \r\n"
                             "X-Empty:\r\nCONTENT-LENGTH: 007\r\n\r\n"),
                         &used),
                   0);
  assert_string_equal(httpc_header(&p1, "x-a"), "a \xe9 b");
  assert_string_equal(httpc_header(&p1, "X-EMPTY"), "");
  assert_int_equal(p1.content_length, 7);
}

static void test_framing(void **state) {
  expect_fail("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
              SP_EPROTO, 411);
  expect_fail("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n",
              SP_EPROTO, 411);
  expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
  expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
             "Transfer-Encoding: gzip\r\n\r\n");
  expect_bad("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
             "Transfer-Encoding: chunked\r\n\r\n");
  expect_fail("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", SP_ETOOBIG,
              413);
  expect_fail("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n"
              "\r\n",
              SP_ETOOBIG, 413);
}

static void test_body_limit(void **state) {
  size_t used;

  assert_int_equal(
      parse("POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n", 42, &used), 0);
  assert_int_equal(p1.content_length, HTTPC_BODY_MAX);
}

/* A request line of `n` bytes, then `rest`, in a heap buffer. */
static char *long_line(size_t n, const char *rest) {
  char *in = malloc(n + strlen(rest) + 1);

  assert_non_null(in);
  memcpy(in, "GET /", 5);
  memset(in + 5, 'a', n - 5 - 9);
  memcpy(in + n - 9, " HTTP/1.1", 9);
  strcpy(in + n, rest);
  return in;
}

static void test_line_limit(void **state) {
  char *in;
  size_t used;

  in = long_line(HTTPC_LINE_MAX, "\r\n\r\n");
  assert_int_equal(parse(in, strlen(in), &used), 0);
  free(in);

  in = long_line(HTTPC_LINE_MAX + 1, "\r\n\r\n");
  expect_fail(in, SP_ETOOBIG, 414);
  free(in);

  in = long_line(HTTPC_LINE_MAX, "\n\n");
  assert_int_equal(parse(in, strlen(in), &used), 0);
  free(in);

  /* A line that never ends is refused without waiting for its end. */
  in = long_line(HTTPC_LINE_MAX + 2, "");
  expect_fail(in, SP_ETOOBIG, 414);
  free(in);
  in = long_line(HTTPC_HEAD_MAX + 100, "");
  expect_fail(in, SP_ETOOBIG, 414);
  assert_int_equal(feed(&p1, in, strlen(in), 0, &used), SP_ETOOBIG);
  assert_true(used <= HTTPC_LINE_MAX + 2);
  free(in);
}

/* A head of exactly `total` bytes made of `fields` field lines. */
static char *head_of(size_t total, size_t fields) {
  char *in = malloc(total + 1);
  size_t off = 0, i, each;

  assert_non_null(in);
  off += (size_t)sprintf(in, "GET / HTTP/1.1\r\n");
  each = (total - off - 2) / fields;
  for (i = 0; i < fields; i++) {
    size_t len = i + 1 < fields ? each : total - off - 2;

    assert_true(len >= 6);
    memcpy(in + off, "X:", 2);
    memset(in + off + 2, 'v', len - 4);
    memcpy(in + off + len - 2, "\r\n", 2);
    off += len;
  }
  memcpy(in + off, "\r\n", 3);
  assert_int_equal(strlen(in), total);
  return in;
}

static void test_head_limits(void **state) {
  char *in;
  size_t used;

  in = head_of(HTTPC_HEAD_MAX, 10);
  assert_int_equal(parse(in, strlen(in), &used), 0);
  assert_int_equal(used, HTTPC_HEAD_MAX);
  assert_int_equal(p1.n_fields, 10);
  free(in);

  in = head_of(HTTPC_HEAD_MAX + 1, 10);
  expect_fail(in, SP_ETOOBIG, 431);
  free(in);

  in = head_of(2000, HTTPC_FIELDS_MAX);
  assert_int_equal(parse(in, strlen(in), &used), 0);
  assert_int_equal(p1.n_fields, HTTPC_FIELDS_MAX);
  free(in);

  in = head_of(2000, HTTPC_FIELDS_MAX + 1);
  expect_fail(in, SP_ETOOBIG, 431);
  free(in);

  /* Empty lines before the request line count towards the limit. */
  in = malloc(HTTPC_HEAD_MAX + 2);
  assert_non_null(in);
  memset(in, '\n', HTTPC_HEAD_MAX + 1);
  in[HTTPC_HEAD_MAX + 1] = '\0';
  expect_fail(in, SP_ETOOBIG, 431);
  free(in);
}

/* Parses a CONNECT whose Proxy-Authorization value is `value`. */
static void auth_value(const char *value) {
  char in[2048];
  size_t used;

  snprintf(in, sizeof(in),
           "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\n", value);
  assert_int_equal(parse(in, strlen(in), &used), 0);
}

/* Parses Basic credentials made of `n` raw bytes. */
static void auth_raw(const void *raw, size_t n) {
  unsigned char b64[1024];
  char value[1100];
  size_t olen;

  assert_int_equal(mbedtls_base64_encode(b64, sizeof(b64), &olen, raw, n), 0);
  snprintf(value, sizeof(value), "Basic %s", b64);
  auth_value(value);
}

static void expect_invalid(void) {
  assert_int_equal(p1.auth, HTTPC_AUTH_INVALID);
  assert_non_null(p1.auth_reason);
  assert_string_equal(p1.password, "");
}

static void test_basic_auth(void **state) {
  char raw[400];

  auth_value("Basic YWxpY2U6cGE6c3M6d29yZA==");
  assert_int_equal(p1.auth, HTTPC_AUTH_BASIC);
  assert_string_equal(p1.user, "alice");
  assert_string_equal(p1.password, "pa:ss:word");

  auth_value("basic    YWxpY2U6cGE6c3M6d29yZA==");
  assert_int_equal(p1.auth, HTTPC_AUTH_BASIC);
  assert_string_equal(p1.password, "pa:ss:word");

  memset(raw, 'p', sizeof(raw));
  memcpy(raw, "alice:", 6);
  auth_raw(raw, 6 + HTTPC_PASSWORD_MAX);
  assert_int_equal(p1.auth, HTTPC_AUTH_BASIC);
  assert_int_equal(p1.password_len, HTTPC_PASSWORD_MAX);

  auth_raw(raw, 6 + HTTPC_PASSWORD_MAX + 1);
  expect_invalid();
  auth_raw(raw, sizeof(raw));
  expect_invalid();
  assert_string_equal(p1.auth_reason, "Basic credentials too long");
  auth_raw("alice:", 6);
  expect_invalid();
  auth_raw("alice", 5);
  expect_invalid();
  assert_string_equal(p1.auth_reason, "no colon in Basic credentials");
  auth_raw(":pw", 3);
  expect_invalid();
  auth_raw("bad user:pw", 11);
  expect_invalid();
  assert_string_equal(p1.auth_reason, "user is not a valid name");
  auth_raw("alice:p\0w", 9);
  expect_invalid();
  auth_value("Bearer abc");
  expect_invalid();
  auth_value("Basic");
  expect_invalid();
  auth_value("Basic ");
  expect_invalid();
  auth_value("Basic YWxp Y2U6cA==");
  expect_invalid();
  auth_value("Basic YWxpY2U6cA=x");
  expect_invalid();
  auth_value("Basic YW-pY2U6cA==");
  expect_invalid();
  assert_string_equal(p1.auth_reason, "Basic credentials are not base64");
}

static void expect_response(const struct httpc_response *r, const char *want) {
  char out[HTTPC_RESPONSE_MAX];
  int n = httpc_response_format(r, out, sizeof(out));

  assert_int_equal(n, (int)strlen(want));
  assert_memory_equal(out, want, strlen(want));
  assert_int_equal(out[n], '\0');
}

static void test_responses(void **state) {
  struct httpc_response r = {0};

  r.status = 407;
  r.close = 1;
  expect_response(&r, "HTTP/1.1 407 Proxy Authentication Required\r\n"
                      "Proxy-Authenticate: Basic realm=\"sallyport\"\r\n"
                      "Content-Length: 0\r\n"
                      "Connection: close\r\n\r\n");

  r.status = 403;
  r.proxy_error = "http_request_denied";
  expect_response(&r, "HTTP/1.1 403 Forbidden\r\n"
                      "Proxy-Status: sallyport; error=http_request_denied\r\n"
                      "Content-Length: 0\r\n"
                      "Connection: close\r\n\r\n");

  r.status = httpc_status_for_error("connection_refused");
  r.proxy_error = "connection_refused";
  r.close = 0;
  expect_response(&r, "HTTP/1.1 502 Bad Gateway\r\n"
                      "Proxy-Status: sallyport; error=connection_refused\r\n"
                      "Content-Length: 0\r\n\r\n");

  memset(&r, 0, sizeof(r));
  r.status = 200;
  r.tunnel = 1;
  expect_response(&r, "HTTP/1.1 200 OK\r\n\r\n");

  r.status = 405;
  r.tunnel = 0;
  expect_response(&r, "HTTP/1.1 405 Method Not Allowed\r\n"
                      "Allow: CONNECT\r\n"
                      "Content-Length: 0\r\n\r\n");
  r.allow = "GET, POST";
  expect_response(&r, "HTTP/1.1 405 Method Not Allowed\r\n"
                      "Allow: GET, POST\r\n"
                      "Content-Length: 0\r\n\r\n");

  memset(&r, 0, sizeof(r));
  r.status = 200;
  r.content_type = "application/json; charset=utf-8";
  r.content_length = 61;
  expect_response(&r, "HTTP/1.1 200 OK\r\n"
                      "Content-Type: application/json; charset=utf-8\r\n"
                      "Content-Length: 61\r\n\r\n");

  r.status = 299;
  r.content_type = NULL;
  expect_response(&r, "HTTP/1.1 299 \r\nContent-Length: 61\r\n\r\n");
}

static void test_response_errors(void **state) {
  struct httpc_response r = {0};
  char out[HTTPC_RESPONSE_MAX], big[300];

  r.status = 99;
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);
  r.status = 600;
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);
  r.status = 502;
  r.proxy_error = "bad token";
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);
  r.proxy_error = "";
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);
  r.proxy_error = NULL;
  r.content_type = "text/plain\r\nSet-Cookie: x=1";
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  r.content_type = big;
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);
  r.content_type = NULL;
  r.status = 405;
  r.allow = "GET\r\n";
  assert_int_equal(httpc_response_format(&r, out, sizeof(out)), SP_EUSAGE);

  r.allow = NULL;
  assert_int_equal(httpc_response_format(&r, out, 10), SP_ETOOBIG);
  assert_int_equal(httpc_response_format(&r, out, 0), SP_ETOOBIG);
}

/* The table in docs/proxy.md: one row per error type, both protocols. */
static void test_error_table(void **state) {
  static const struct {
    const char *token;
    int status;
    int socks5;
  } rows[] = {
      {NULL, 200, 0x00},
      {"http_request_denied", 403, 0x02},
      {"destination_ip_prohibited", 403, 0x02},
      {"destination_unavailable", 503, 0x03},
      {"destination_ip_unroutable", 502, 0x03},
      {"dns_error", 502, 0x04},
      {"connection_refused", 502, 0x05},
      {"connection_timeout", 504, 0x06},
      {"dns_timeout", 504, 0x06},
      {"connection_terminated", 502, 0x01},
      {"http_request_error", 400, 0x01},
      {"connection_limit_reached", 503, 0x01},
      {"proxy_internal_error", 500, 0x01},
      {"proxy_configuration_error", 500, 0x01},
      {"unknown_type", 500, 0x01},
  };
  size_t i;

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    if (httpc_status_for_error(rows[i].token) != rows[i].status ||
        (int)socks5_reply_for_error(rows[i].token) != rows[i].socks5)
      fail_msg("row %zu (%s)", i, rows[i].token ? rows[i].token : "none");
  }
  assert_string_equal(httpc_status_text(504), "Gateway Timeout");
  assert_string_equal(httpc_status_text(431),
                      "Request Header Fields Too Large");
  assert_string_equal(httpc_status_text(199), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_curl_connect),
      cmocka_unit_test(test_done_is_final),
      cmocka_unit_test(test_bare_lf),
      cmocka_unit_test(test_connect_targets),
      cmocka_unit_test(test_other_methods),
      cmocka_unit_test(test_request_line),
      cmocka_unit_test(test_fields),
      cmocka_unit_test(test_framing),
      cmocka_unit_test(test_body_limit),
      cmocka_unit_test(test_line_limit),
      cmocka_unit_test(test_head_limits),
      cmocka_unit_test(test_basic_auth),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_response_errors),
      cmocka_unit_test(test_error_table),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
