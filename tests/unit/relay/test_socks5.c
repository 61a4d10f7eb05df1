#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/err.h"
#include "relay/socks5.h"

#define TOKEN "spt_q6u8cdHNR0nJ0mDYrVa2N3k2Hhk2PzF7vQ0cTwr1s2A"

/* What one client exchange produced, whatever the split of its input. */
struct run {
  int rc;
  enum socks5_state state;
  uint8_t out[256];
  size_t out_len;
  size_t used; /* input bytes the parser consumed in all */
  int auth_checks;
  struct socks5_parser p;
};

static void drain(struct run *r) {
  assert_true(r->out_len + r->p.out_len <= sizeof(r->out));
  memcpy(r->out + r->out_len, r->p.out, r->p.out_len);
  r->out_len += r->p.out_len;
  r->p.out_len = 0;
}

/* The caller's side of the credential check: alice with TOKEN only. */
static int approve(struct run *r) {
  int ok = strcmp(r->p.user, "alice") == 0 &&
           strcmp(r->p.password, TOKEN) == 0 &&
           r->p.password_len == strlen(TOKEN);

  r->auth_checks++;
  return socks5_auth_result(&r->p, ok);
}

/*
 * Feeds `in` in pieces of `step` bytes (all at once when 0) the way a
 * relay session would: sending what the parser queues, answering the
 * credential check, and stopping at CONNECT or at an error.
 */
static void run(struct run *r, const void *in, size_t n, size_t step) {
  const uint8_t *b = in;
  size_t off = 0, len, used;

  memset(r, 0, sizeof(*r));
  socks5_init(&r->p);
  for (;;) {
    len = step == 0 || n - off < step ? n - off : step;
    r->rc = socks5_feed(&r->p, b + off, len, &used);
    drain(r);
    off += used;
    if (r->rc == 0 && r->p.state == SOCKS5_S_AUTH_CHECK) {
      r->rc = approve(r);
      drain(r);
      if (r->rc == 0)
        continue;
    }
    if (r->rc != SP_EINCOMPLETE || off == n)
      break;
  }
  r->state = r->p.state;
  r->used = off;
}

/* Runs `in` whole and byte by byte; both must end the same way. */
static void run_both(struct run *r, const void *in, size_t n) {
  struct run one;
  size_t step;

  for (step = 1; step <= n; step++) {
    run(&one, in, n, step);
    run(r, in, n, 0);
    assert_int_equal(one.rc, r->rc);
    assert_int_equal(one.state, r->state);
    assert_int_equal(one.used, r->used);
    assert_int_equal(one.out_len, r->out_len);
    assert_memory_equal(one.out, r->out, r->out_len);
    assert_string_equal(one.p.dest, r->p.dest);
  }
  run(r, in, n, 0);
}

static size_t build_auth(uint8_t *m, const char *user, const char *pw) {
  size_t u = strlen(user), p = strlen(pw);

  m[0] = 1;
  m[1] = (uint8_t)u;
  memcpy(m + 2, user, u);
  m[2 + u] = (uint8_t)p;
  memcpy(m + 3 + u, pw, p);
  return 3 + u + p;
}

/* Greeting, alice's credentials, then `req` (`rlen` bytes). */
static size_t session(uint8_t *m, const void *req, size_t rlen) {
  size_t n = 0;

  memcpy(m, "\x05\x01\x02", 3);
  n += 3;
  n += build_auth(m + n, "alice", TOKEN);
  memcpy(m + n, req, rlen);
  return n + rlen;
}

/* A CONNECT request to the domain name `host` and `port`. */
static size_t domain_req(uint8_t *m, const char *host, size_t hlen,
                         uint16_t port) {
  memcpy(m, "\x05\x01\x00\x03", 4);
  m[4] = (uint8_t)hlen;
  memcpy(m + 5, host, hlen);
  m[5 + hlen] = (uint8_t)(port >> 8);
  m[6 + hlen] = (uint8_t)port;
  return 7 + hlen;
}

static void expect_dest(const char *host, const char *want) {
  uint8_t req[300], m[800];
  struct run r;
  size_t n = session(m, req, domain_req(req, host, strlen(host), 443));

  run_both(&r, m, n);
  assert_int_equal(r.rc, 0);
  assert_int_equal(r.state, SOCKS5_S_CONNECT);
  assert_string_equal(r.p.dest, want);
  assert_int_equal(r.p.atyp, SOCKS5_ATYP_DOMAIN);
}

/* A request that is refused with the reply `code` and SP_EPROTO. */
static void expect_refused(const void *req, size_t rlen, uint8_t code) {
  uint8_t m[800], want[14] = {5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  struct run r;

  want[5] = code;
  run_both(&r, m, session(m, req, rlen));
  assert_int_equal(r.rc, SP_EPROTO);
  assert_int_equal(r.state, SOCKS5_S_FAILED);
  assert_non_null(r.p.reason);
  assert_int_equal(r.out_len, sizeof(want));
  assert_memory_equal(r.out, want, sizeof(want));
  assert_string_equal(r.p.dest, "");
}

/* The RFC 1928 + RFC 1929 exchange curl --socks5-hostname makes. */
static void test_golden_exchange(void **state) {
  static const uint8_t req[] = {5,   1,   0,   3,   9,   'w', 'i', 'k',
                                'i', '.', 'c', 'o', 'r', 'p', 1,   0xbb};
  static const uint8_t want[] = {5, 2, 1, 0};
  uint8_t m[800];
  size_t n = session(m, req, sizeof(req));
  struct run r;

  assert_int_equal(n, 3 + 3 + 5 + 47 + sizeof(req));
  run_both(&r, m, n);
  assert_int_equal(r.rc, 0);
  assert_int_equal(r.state, SOCKS5_S_CONNECT);
  assert_int_equal(r.auth_checks, 1);
  assert_int_equal(r.used, n);
  assert_memory_equal(r.out, want, sizeof(want));
  assert_int_equal(r.out_len, sizeof(want));
  assert_string_equal(r.p.user, "alice");
  assert_string_equal(r.p.dest, "wiki.corp:443");
  assert_int_equal(r.p.atyp, SOCKS5_ATYP_DOMAIN);
}

static void test_methods(void **state) {
  struct run r;

  run_both(&r, "\x05\x03\x00\x01\x02", 5);
  assert_int_equal(r.rc, SP_EINCOMPLETE);
  assert_int_equal(r.state, SOCKS5_S_AUTH);
  assert_memory_equal(r.out, "\x05\x02", 2);
  assert_int_equal(r.out_len, 2);

  /* A client that only offers "no authentication" is refused. */
  run_both(&r, "\x05\x01\x00", 3);
  assert_int_equal(r.rc, SP_EAUTH);
  assert_int_equal(r.state, SOCKS5_S_FAILED);
  assert_memory_equal(r.out, "\x05\xff", 2);
  assert_int_equal(r.out_len, 2);

  run_both(&r, "\x05\x02\x00\x01", 4);
  assert_int_equal(r.rc, SP_EAUTH);
  assert_memory_equal(r.out, "\x05\xff", 2);

  run_both(&r, "\x05\x00", 2);
  assert_int_equal(r.rc, SP_EPROTO);
  assert_memory_equal(r.out, "\x05\xff", 2);
}

/* Garbage is refused at its first byte, without a reply. */
static void test_bad_versions(void **state) {
  static const uint8_t socks4[] = {4, 1, 0, 80, 10, 0, 0, 1, 0};
  uint8_t m[800];
  struct run r;
  size_t n;

  run_both(&r, socks4, sizeof(socks4));
  assert_int_equal(r.rc, SP_EPROTO);
  assert_int_equal(r.used, 1);
  assert_int_equal(r.out_len, 0);
  assert_string_equal(r.p.reason, "greeting is not SOCKS version 5");

  run_both(&r, "GET / HTTP/1.1\r\n", 16);
  assert_int_equal(r.rc, SP_EPROTO);
  assert_int_equal(r.used, 1);

  memcpy(m, "\x05\x01\x02\x05\x05", 5);
  run_both(&r, m, 5);
  assert_int_equal(r.rc, SP_EPROTO);
  assert_int_equal(r.used, 4);
  assert_int_equal(r.out_len, 2);

  n = session(m, "\x04\x01\x00\x01\x0a\x00\x00\x01\x00\x50", 10);
  run_both(&r, m, n);
  assert_int_equal(r.rc, SP_EPROTO);
  assert_int_equal(r.used, n - 9);
  assert_int_equal(r.out_len, 4);
}

static void expect_auth_refused(const uint8_t *auth, size_t n, int checks) {
  uint8_t m[800];
  struct run r;

  memcpy(m, "\x05\x01\x02", 3);
  memcpy(m + 3, auth, n);
  run_both(&r, m, 3 + n);
  assert_int_equal(r.rc, SP_EAUTH);
  assert_int_equal(r.state, SOCKS5_S_FAILED);
  assert_int_equal(r.auth_checks, checks);
  assert_int_equal(r.out_len, 4);
  assert_memory_equal(r.out, "\x05\x02\x01\x01", 4);
  assert_int_equal(r.p.password_len, 0);
  assert_string_equal(r.p.password, "");
  assert_non_null(r.p.reason);
}

static void test_auth_refused(void **state) {
  uint8_t a[600];
  char longpw[256];

  expect_auth_refused(a, build_auth(a, "alice", "wrong"), 1);
  expect_auth_refused(a, build_auth(a, "bob", TOKEN), 1);
  expect_auth_refused(a, build_auth(a, "", TOKEN), 0);
  expect_auth_refused(a, build_auth(a, "alice", ""), 0);
  expect_auth_refused(a, build_auth(a, "bad name", TOKEN), 0);
  expect_auth_refused(a, build_auth(a, "-alice", TOKEN), 0);
  expect_auth_refused((const uint8_t *)"\x01\x03\x61\x00\x62\x01x", 7, 0);
  expect_auth_refused((const uint8_t *)"\x01\x01\x61\x02x\x00", 6, 0);

  /* The longest password RFC 1929 allows reaches the caller. */
  memset(longpw, 'p', 255);
  longpw[255] = '\0';
  expect_auth_refused(a, build_auth(a, "alice", longpw), 1);
}

static void test_auth_longest(void **state) {
  struct socks5_parser p;
  char longpw[256];
  uint8_t a[600];
  size_t n, used;

  memset(longpw, 'p', 255);
  longpw[255] = '\0';
  n = build_auth(a, "alice", longpw);
  assert_int_equal(n, 263);
  socks5_init(&p);
  assert_int_equal(socks5_feed(&p, (const uint8_t *)"\x05\x01\x02", 3, &used),
                   SP_EINCOMPLETE);
  assert_int_equal(socks5_feed(&p, a, n, &used), 0);
  assert_int_equal(p.state, SOCKS5_S_AUTH_CHECK);
  assert_int_equal(p.password_len, 255);
  assert_string_equal(p.password, longpw);

  /* Once checked, the password is gone either way. */
  assert_int_equal(socks5_auth_result(&p, 1), 0);
  assert_int_equal(p.password_len, 0);
  assert_int_equal(p.password[0], 0);
  assert_int_equal(p.password[254], 0);
  assert_int_equal(socks5_auth_result(&p, 1), SP_EUSAGE);
}

static void test_requests(void **state) {
  static const uint8_t v4[] = {5, 1, 0, 1, 10, 20, 0, 5, 0x15, 0x38};
  static const uint8_t v6[] = {5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
                               0, 0, 0, 0, 0,    0,    0,    0,    5, 0, 22};
  uint8_t m[800];
  struct run r;

  run_both(&r, m, session(m, v4, sizeof(v4)));
  assert_int_equal(r.rc, 0);
  assert_string_equal(r.p.dest, "10.20.0.5:5432");
  assert_int_equal(r.p.atyp, SOCKS5_ATYP_IPV4);

  run_both(&r, m, session(m, v6, sizeof(v6)));
  assert_int_equal(r.rc, 0);
  assert_string_equal(r.p.dest, "[2001:db8::5]:22");
  assert_int_equal(r.p.atyp, SOCKS5_ATYP_IPV6);
}

/* An IP literal sent as a name is that IP literal, canonical. */
static void test_names(void **state) {
  expect_dest("wiki.corp", "wiki.corp:443");
  expect_dest("WIKI.Corp", "wiki.corp:443");
  expect_dest("10.0.0.1", "10.0.0.1:443");
  expect_dest("2001:DB8:0:0:0:0:0:1", "[2001:db8::1]:443");
  expect_dest("[2001:db8::1]", "[2001:db8::1]:443");
  expect_dest("::ffff:10.0.0.1", "[::ffff:10.0.0.1]:443");
}

static void test_refused_requests(void **state) {
  uint8_t req[300];
  char name[256];

  expect_refused("\x05\x02\x00\x01\x0a\x00\x00\x01\x00\x50", 10, 0x07);
  expect_refused("\x05\x03\x00\x01\x0a\x00\x00\x01\x00\x50", 10, 0x07);
  expect_refused("\x05\x09\x00\x01\x0a\x00\x00\x01\x00\x50", 10, 0x07);
  expect_refused("\x05\x01\x01\x01\x0a\x00\x00\x01\x00\x50", 10, 0x01);
  expect_refused("\x05\x01\x00\x02\x0a\x00\x00\x01\x00\x50", 10, 0x08);
  expect_refused("\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x00", 10, 0x04);
  expect_refused(req, domain_req(req, "wiki corp", 9, 443), 0x04);
  expect_refused(req, domain_req(req, "10.1", 4, 443), 0x04);
  expect_refused(req, domain_req(req, "wiki\0corp", 9, 443), 0x04);
  expect_refused(req, domain_req(req, "", 0, 443), 0x04);
  expect_refused(req, domain_req(req, "wiki.corp", 9, 0), 0x04);
  expect_refused(req, domain_req(req, "[::1]:22", 8, 443), 0x04);
  expect_refused(req, domain_req(req, "fe80::1%eth0", 12, 443), 0x04);

  /* The longest name SOCKS5 can carry is longer than DNS allows. */
  memset(name, 'a', 255);
  expect_refused(req, domain_req(req, name, 255, 443), 0x04);
}

/* Bytes after a message that the parser stops at are the caller's. */
static void test_leftover(void **state) {
  static const uint8_t req[] = {5, 1, 0, 1, 10, 20, 0, 5, 0, 80};
  uint8_t m[800];
  struct socks5_parser p;
  size_t n, used, auth_len;

  n = session(m, req, sizeof(req));
  memcpy(m + n, "GET / HTTP/1.1\r\n", 16);
  socks5_init(&p);

  /* Greeting and credentials in one read: the parser stops after the
     credentials, leaving the request in the caller's buffer. */
  auth_len = 3 + 5 + strlen(TOKEN);
  assert_int_equal(socks5_feed(&p, m, n + 16, &used), 0);
  assert_int_equal(used, 3 + auth_len);
  assert_int_equal(p.state, SOCKS5_S_AUTH_CHECK);
  assert_int_equal(p.out_len, 2);

  /* Nothing is consumed until the caller has decided. */
  assert_int_equal(socks5_feed(&p, m + used, 5, &used), 0);
  assert_int_equal(used, 0);

  assert_int_equal(socks5_auth_result(&p, 1), 0);
  assert_int_equal(p.out_len, 4);
  assert_memory_equal(p.out, "\x05\x02\x01\x00", 4);
  assert_int_equal(socks5_feed(&p, m + 3 + auth_len, sizeof(req) + 16, &used),
                   0);
  assert_int_equal(used, sizeof(req));
  assert_int_equal(p.state, SOCKS5_S_CONNECT);
  assert_memory_equal(m + 3 + auth_len + used, "GET /", 5);

  assert_int_equal(socks5_feed(&p, m, 3, &used), 0);
  assert_int_equal(used, 0);
}

static void test_failed_is_final(void **state) {
  struct socks5_parser p;
  size_t used;

  socks5_init(&p);
  assert_int_equal(socks5_feed(&p, (const uint8_t *)"\x05\x01\x00", 3, &used),
                   SP_EAUTH);
  assert_int_equal(socks5_feed(&p, (const uint8_t *)"\x05\x01\x02", 3, &used),
                   SP_EPROTO);
  assert_int_equal(used, 0);
  assert_int_equal(socks5_auth_result(&p, 1), SP_EUSAGE);
  assert_int_equal(socks5_feed(&p, NULL, 0, &used), SP_EPROTO);

  socks5_init(&p);
  assert_int_equal(socks5_feed(&p, NULL, 0, &used), SP_EINCOMPLETE);
  assert_int_equal(used, 0);
}

static void test_reply(void **state) {
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  struct sockaddr_storage other;
  uint8_t out[SOCKS5_REPLY_MAX];

  memset(&other, 0, sizeof(other));
  other.ss_family = AF_UNIX;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(1080);
  inet_pton(AF_INET, "10.0.0.1", &sin.sin_addr);
  assert_int_equal(
      socks5_reply(out, SOCKS5_REP_SUCCEEDED, (const struct sockaddr *)&sin),
      10);
  assert_memory_equal(out, "\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38", 10);

  memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(443);
  inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
  assert_int_equal(
      socks5_reply(out, SOCKS5_REP_SUCCEEDED, (const struct sockaddr *)&sin6),
      22);
  assert_memory_equal(out,
                      "\x05\x00\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0"
                      "\0\0\0\x05\x01\xbb",
                      22);

  assert_int_equal(socks5_reply(out, SOCKS5_REP_CONNECTION_REFUSED, NULL), 10);
  assert_memory_equal(out, "\x05\x05\x00\x01\0\0\0\0\0\0", 10);
  assert_int_equal(socks5_reply(out, SOCKS5_REP_TTL_EXPIRED,
                                (const struct sockaddr *)&other),
                   10);
  assert_memory_equal(out, "\x05\x06\x00\x01\0\0\0\0\0\0", 10);
}

static void test_reply_names(void **state) {
  assert_string_equal(socks5_reply_name(SOCKS5_REP_SUCCEEDED), "succeeded");
  assert_string_equal(socks5_reply_name(SOCKS5_REP_NOT_ALLOWED),
                      "connection not allowed by ruleset");
  assert_string_equal(socks5_reply_name(SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED),
                      "address type not supported");
  assert_string_equal(socks5_reply_name((enum socks5_reply_code)9),
                      "unassigned");
}

/* The table in socks5.h and docs/proxy.md, row by row. */
static void test_error_map(void **state) {
  static const struct {
    const char *token;
    int code;
  } rows[] = {
      {"http_request_denied", 0x02},
      {"destination_ip_prohibited", 0x02},
      {"destination_unavailable", 0x03},
      {"destination_ip_unroutable", 0x03},
      {"dns_error", 0x04},
      {"connection_refused", 0x05},
      {"connection_timeout", 0x06},
      {"dns_timeout", 0x06},
      {"connection_terminated", 0x01},
      {"http_request_error", 0x01},
      {"connection_limit_reached", 0x01},
      {"proxy_internal_error", 0x01},
      {"proxy_configuration_error", 0x01},
      {"no_such_type", 0x01},
      {"", 0x01},
  };
  size_t i;

  assert_int_equal(socks5_reply_for_error(NULL), SOCKS5_REP_SUCCEEDED);
  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    if ((int)socks5_reply_for_error(rows[i].token) != rows[i].code)
      fail_msg("%s", rows[i].token);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_exchange),
      cmocka_unit_test(test_methods),
      cmocka_unit_test(test_bad_versions),
      cmocka_unit_test(test_auth_refused),
      cmocka_unit_test(test_auth_longest),
      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_refused_requests),
      cmocka_unit_test(test_leftover),
      cmocka_unit_test(test_failed_is_final),
      cmocka_unit_test(test_reply),
      cmocka_unit_test(test_reply_names),
      cmocka_unit_test(test_error_map),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
