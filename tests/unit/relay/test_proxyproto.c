/*
 * PROXY protocol v1 and v2: good headers of every kind, each cut at every
 * byte, what is not a header, malformed headers with the fault each
 * must name, and trusted_proxies matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/err.h"
#include "relay/proxyproto.h"

#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"

/* Text of an address and port: "192.0.2.1:51234", "[2001:db8::9]:443". */
static const char *addr_text(const struct sockaddr_storage *ss) {
  static char out[80];
  const struct sockaddr_in *s4 = (const void *)ss;
  const struct sockaddr_in6 *s6 = (const void *)ss;
  char a[INET6_ADDRSTRLEN];

  if (ss->ss_family == AF_INET) {
    inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
    snprintf(out, sizeof(out), "%s:%u", a, ntohs(s4->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
    snprintf(out, sizeof(out), "[%s]:%u", a, ntohs(s6->sin6_port));
  } else {
    snprintf(out, sizeof(out), "unspec");
  }
  return out;
}

/* Every proper prefix of a good header must ask for more bytes. */
static void check_prefixes(const uint8_t *p, size_t n) {
  struct proxyproto_header h;
  enum proxyproto_fault f;
  size_t used, k;

  for (k = 0; k < n; k++) {
    assert_int_equal(proxyproto_parse(k ? p : NULL, k, &h, &used, &f),
                     SP_EINCOMPLETE);
    assert_int_equal(used, 0);
    assert_int_equal(f, PROXYPROTO_FAULT_NONE);
  }
}

/*
 * Parses a good header of `n` bytes followed by client bytes, and after
 * checking every cut returns the header in `h`.
 */
static void parse_good(const uint8_t *p, size_t n, int version,
                       struct proxyproto_header *h) {
  static const uint8_t after[] = {0x05, 0x01, 0x00};
  uint8_t buf[PROXYPROTO_MAX + sizeof(after)];
  enum proxyproto_fault f;
  size_t used;

  assert_true(n <= PROXYPROTO_MAX);
  memcpy(buf, p, n);
  memcpy(buf + n, after, sizeof(after));
  check_prefixes(buf, n);
  assert_int_equal(proxyproto_parse(buf, n, h, &used, &f), 0);
  assert_int_equal(used, n);
  assert_int_equal(proxyproto_parse(buf, n + sizeof(after), h, &used, &f), 0);
  assert_int_equal(used, n);
  assert_int_equal(h->version, version);
  assert_int_equal(f, PROXYPROTO_FAULT_NONE);
}

static void good_v1(const char *line, struct proxyproto_header *h) {
  parse_good((const uint8_t *)line, strlen(line), 1, h);
}

static void bad(const void *p, size_t n, enum proxyproto_fault want) {
  struct proxyproto_header h;
  enum proxyproto_fault f;
  size_t used = 99;

  assert_int_equal(proxyproto_parse(p, n, &h, &used, &f), SP_EPROTO);
  if (f != want)
    fail_msg("fault %s, wanted %s", proxyproto_fault_name(f),
             proxyproto_fault_name(want));
  assert_int_equal(used, 0);
  assert_int_equal(h.version, 0);
  assert_int_equal(proxyproto_parse(p, n, &h, &used, NULL), SP_EPROTO);
}

static void bad_v1(const char *line, enum proxyproto_fault want) {
  bad(line, strlen(line), want);
}

static void not_proxy(const void *p, size_t n) {
  struct proxyproto_header h;
  enum proxyproto_fault f;
  size_t used = 99;

  assert_int_equal(proxyproto_parse(p, n, &h, &used, &f), 0);
  assert_int_equal(h.version, 0);
  assert_int_equal(used, 0);
  assert_int_equal(f, PROXYPROTO_FAULT_NONE);
}

static void test_v1_good(void **state) {
  struct proxyproto_header h;
  char line[200];

  good_v1("PROXY TCP4 192.0.2.1 198.51.100.2 51234 1080\r\n", &h);
  assert_false(h.local);
  assert_string_equal(addr_text(&h.src), "192.0.2.1:51234");
  assert_string_equal(addr_text(&h.dst), "198.51.100.2:1080");

  good_v1("PROXY TCP6 2001:db8::9 2001:db8::1 0 65535\r\n", &h);
  assert_string_equal(addr_text(&h.src), "[2001:db8::9]:0");
  assert_string_equal(addr_text(&h.dst), "[2001:db8::1]:65535");
  good_v1("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", &h);
  assert_string_equal(addr_text(&h.src), "[::ffff:192.0.2.1]:1");

  good_v1("PROXY UNKNOWN\r\n", &h);
  assert_true(h.local);
  assert_int_equal(h.src.ss_family, AF_UNSPEC);

  /* The longest line the specification allows: exactly 107 bytes. */
  snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  assert_int_equal(strlen(line), PROXYPROTO_V1_MAX);
  good_v1(line, &h);
  assert_true(h.local);
}

static void test_v1_bad(void **state) {
  char line[300];

  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 51234 65536\r\n",
         PROXYPROTO_FAULT_BAD_PORT);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 051234 1080\r\n",
         PROXYPROTO_FAULT_BAD_PORT);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 +80 1080\r\n",
         PROXYPROTO_FAULT_BAD_PORT);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 -1 1080\r\n",
         PROXYPROTO_FAULT_BAD_PORT);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 8a 1080\r\n",
         PROXYPROTO_FAULT_BAD_PORT);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 99999999999 1\r\n",
         PROXYPROTO_FAULT_BAD_PORT);
  bad_v1("PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_BAD_ADDRESS);
  bad_v1("PROXY TCP6 192.0.2.1 2001:db8::1 1 2\r\n",
         PROXYPROTO_FAULT_BAD_ADDRESS);
  bad_v1("PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_BAD_ADDRESS);
  bad_v1("PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_BAD_ADDRESS);
  bad_v1("PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_BAD_PROTOCOL);
  bad_v1("PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_BAD_PROTOCOL);

  bad_v1("PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
         PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
         PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY TCP4 192.0.2.1\r198.51.100.2 1 2\r\n",
         PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY \r\n", PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY \n", PROXYPROTO_FAULT_V1_SYNTAX);
  bad_v1("PROXY UNKNOWNX\r\n", PROXYPROTO_FAULT_V1_SYNTAX);
  bad("PROXY TCP4 192.0.2.1\0 198.51.100.2 1 2\r\n", 40,
      PROXYPROTO_FAULT_V1_SYNTAX);

  /* 107 bytes without a line end is too long; 106 may still end. */
  memset(line, 'a', sizeof(line));
  memcpy(line, "PROXY UNKNOWN ", 14);
  bad(line, PROXYPROTO_V1_MAX, PROXYPROTO_FAULT_V1_TOO_LONG);
  bad(line, sizeof(line), PROXYPROTO_FAULT_V1_TOO_LONG);
  check_prefixes((const uint8_t *)line, PROXYPROTO_V1_MAX);
  memcpy(line + PROXYPROTO_V1_MAX - 1, "\r\n", 2);
  bad(line, PROXYPROTO_V1_MAX + 1, PROXYPROTO_FAULT_V1_TOO_LONG);
}

/*
 * Writes a v2 header: the signature, `vc`, `fam`, a length covering
 * `body` (`n` bytes), then the body.  Returns the total size.
 */
static size_t v2(uint8_t *out, uint8_t vc, uint8_t fam, const void *body,
                 size_t n) {
  memcpy(out, V2_SIG, 12);
  out[12] = vc;
  out[13] = fam;
  out[14] = (uint8_t)(n >> 8);
  out[15] = (uint8_t)n;
  if (n > 0)
    memcpy(out + 16, body, n);
  return 16 + n;
}

static const uint8_t body4[] = {
    192, 0, 2, 1, 198, 51, 100, 2, 0xc8, 0x22, 0x04, 0x38,
    /* TLVs: ALPN "h2", AUTHORITY "relay.test", NOOP of three bytes. */
    0x01, 0x00, 0x02, 'h', '2', 0x02, 0x00, 0x0a, 'r', 'e', 'l', 'a', 'y', '.',
    't', 'e', 's', 't', 0x04, 0x00, 0x03, 0, 0, 0};

static const uint8_t body6[] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x20, 0x01,
    0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xc8, 0x22, 0x01, 0xbb,
    /* One empty TLV. */
    0x20, 0x00, 0x00};

static void test_v2_good(void **state) {
  uint8_t buf[PROXYPROTO_MAX], big[PROXYPROTO_MAX];
  struct proxyproto_header h;
  size_t n;

  n = v2(buf, 0x21, 0x11, body4, sizeof(body4));
  parse_good(buf, n, 2, &h);
  assert_false(h.local);
  assert_string_equal(addr_text(&h.src), "192.0.2.1:51234");
  assert_string_equal(addr_text(&h.dst), "198.51.100.2:1080");

  n = v2(buf, 0x21, 0x21, body6, sizeof(body6));
  parse_good(buf, n, 2, &h);
  assert_string_equal(addr_text(&h.src), "[2001:db8::9]:51234");
  assert_string_equal(addr_text(&h.dst), "[2001:db8::1]:443");

  /* LOCAL, as health checks send it: addresses and TLVs ignored. */
  n = v2(buf, 0x20, 0x11, body4, sizeof(body4));
  parse_good(buf, n, 2, &h);
  assert_true(h.local);
  assert_int_equal(h.src.ss_family, AF_UNSPEC);
  n = v2(buf, 0x20, 0x00, NULL, 0);
  parse_good(buf, n, 2, &h);
  assert_true(h.local);
  n = v2(buf, 0x20, 0x31, "xyz", 3);
  parse_good(buf, n, 2, &h);
  assert_true(h.local);

  /* PROXY over UNSPEC carries no address either. */
  n = v2(buf, 0x21, 0x00, "\x04\x00\x00", 3);
  parse_good(buf, n, 2, &h);
  assert_true(h.local);

  /* The largest accepted: addresses and one NOOP TLV up to 536 bytes. */
  memset(big, 0, sizeof(big));
  memcpy(big, body4, 12);
  big[12] = 0x04;
  big[13] = (uint8_t)((PROXYPROTO_MAX - 16 - 15) >> 8);
  big[14] = (uint8_t)(PROXYPROTO_MAX - 16 - 15);
  n = v2(buf, 0x21, 0x11, big, PROXYPROTO_MAX - 16);
  assert_int_equal(n, PROXYPROTO_MAX);
  parse_good(buf, n, 2, &h);
  assert_string_equal(addr_text(&h.src), "192.0.2.1:51234");
}

static void test_v2_bad(void **state) {
  uint8_t buf[PROXYPROTO_MAX + 64];
  size_t n;

  n = v2(buf, 0x11, 0x11, body4, sizeof(body4));
  bad(buf, n, PROXYPROTO_FAULT_BAD_VERSION);
  bad(buf, 16, PROXYPROTO_FAULT_BAD_VERSION);
  n = v2(buf, 0x31, 0x11, body4, sizeof(body4));
  bad(buf, n, PROXYPROTO_FAULT_BAD_VERSION);
  n = v2(buf, 0x22, 0x11, body4, sizeof(body4));
  bad(buf, 16, PROXYPROTO_FAULT_BAD_COMMAND);
  n = v2(buf, 0x2f, 0x11, body4, sizeof(body4));
  bad(buf, n, PROXYPROTO_FAULT_BAD_COMMAND);

  n = v2(buf, 0x21, 0x12, body4, sizeof(body4));
  bad(buf, n, PROXYPROTO_FAULT_BAD_FAMILY);
  n = v2(buf, 0x21, 0x31, body6, sizeof(body6));
  bad(buf, n, PROXYPROTO_FAULT_BAD_FAMILY);
  n = v2(buf, 0x21, 0x10, body4, sizeof(body4));
  bad(buf, 16, PROXYPROTO_FAULT_BAD_FAMILY);
  n = v2(buf, 0x21, 0x41, body4, sizeof(body4));
  bad(buf, n, PROXYPROTO_FAULT_BAD_FAMILY);

  /* Lengths past the limit are refused from the fixed 16 bytes alone. */
  v2(buf, 0x21, 0x11, body4, sizeof(body4));
  buf[14] = (uint8_t)((PROXYPROTO_MAX - 15) >> 8);
  buf[15] = (uint8_t)(PROXYPROTO_MAX - 15);
  bad(buf, 16, PROXYPROTO_FAULT_V2_TOO_LONG);
  buf[14] = 0xff;
  buf[15] = 0xff;
  bad(buf, 16, PROXYPROTO_FAULT_V2_TOO_LONG);
  buf[12] = 0x20;
  bad(buf, 16, PROXYPROTO_FAULT_V2_TOO_LONG);

  n = v2(buf, 0x21, 0x11, body4, 11);
  bad(buf, n, PROXYPROTO_FAULT_SHORT_ADDRESS);
  n = v2(buf, 0x21, 0x21, body6, 35);
  bad(buf, n, PROXYPROTO_FAULT_SHORT_ADDRESS);
  n = v2(buf, 0x21, 0x21, body4, 12);
  bad(buf, n, PROXYPROTO_FAULT_SHORT_ADDRESS);

  /* TLVs that do not fit: a cut header, a value past the end. */
  n = v2(buf, 0x21, 0x11, body4, 14);
  bad(buf, n, PROXYPROTO_FAULT_BAD_TLV);
  n = v2(buf, 0x21, 0x11, body4, sizeof(body4) - 1);
  bad(buf, n, PROXYPROTO_FAULT_BAD_TLV);
  n = v2(buf, 0x21, 0x21, body6, sizeof(body6) - 1);
  bad(buf, n, PROXYPROTO_FAULT_BAD_TLV);
}

static void test_not_proxy(void **state) {
  static const uint8_t socks[] = {0x05, 0x01, 0x00};
  struct proxyproto_header h;
  size_t used;

  not_proxy("GET / HTTP/1.1\r\n", 16);
  not_proxy("CONNECT wiki.corp:443 HTTP/1.1\r\n", 32);
  not_proxy(socks, sizeof(socks));
  not_proxy("\x16\x03\x01", 3);
  not_proxy("PO", 2);
  not_proxy("PROXZ", 5);
  not_proxy("PROXYZ", 6);
  not_proxy("PROXY\r\n", 7);
  not_proxy("\r\nGET / HTTP/1.1\r\n", 18);

  /* Half a version 2 signature and then something else. */
  not_proxy("\r\n\r\n\0\rXXXXXX\x21\x11\0\0", 16);
  not_proxy("XXXXXX\nQUIT\n\x21\x11\0\0", 16);
  not_proxy("\r\n\r\n\0\r\nQUIT\r", 12);

  assert_int_equal(proxyproto_parse(NULL, 0, &h, &used, NULL), SP_EINCOMPLETE);
  assert_int_equal(
      proxyproto_parse((const uint8_t *)"PROXY", 5, &h, &used, NULL),
      SP_EINCOMPLETE);
  assert_int_equal(
      proxyproto_parse((const uint8_t *)"\r\n\r\n\0", 5, &h, &used, NULL),
      SP_EINCOMPLETE);
}

static void test_fault_names(void **state) {
  assert_string_equal(proxyproto_fault_name(PROXYPROTO_FAULT_NONE), "none");
  assert_string_equal(proxyproto_fault_name(PROXYPROTO_FAULT_BAD_TLV),
                      "bad_tlv");
  assert_string_equal(proxyproto_fault_name(PROXYPROTO_FAULT_V1_TOO_LONG),
                      "v1_too_long");
  assert_string_equal(proxyproto_fault_name(99), "unknown");
}

static int trusted(const char *const *cidrs, size_t n, const char *ip) {
  struct sockaddr_in6 s6 = {0};
  struct sockaddr_in s4 = {0};

  if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1) {
    s4.sin_family = AF_INET;
    return proxyproto_trusted(cidrs, n, (struct sockaddr *)&s4);
  }
  assert_int_equal(inet_pton(AF_INET6, ip, &s6.sin6_addr), 1);
  s6.sin6_family = AF_INET6;
  return proxyproto_trusted(cidrs, n, (struct sockaddr *)&s6);
}

static void test_trusted(void **state) {
  static const char *const cidrs[] = {"not a cidr",
                                      "127.0.0.0/33",
                                      "10.0.0.0/8x",
                                      "",
                                      NULL,
                                      "10.0.0.0/8",
                                      "2001:db8::/32",
                                      "192.0.2.7",
                                      "::ffff:198.51.100.0/120",
                                      "172.16.128.0/17",
                                      "2001:db8:ffff::1"};
  static const char *const any4[] = {"0.0.0.0/0"};
  static const char *const any6[] = {"::/0"};
  size_t n = sizeof(cidrs) / sizeof(cidrs[0]);
  struct sockaddr_un su = {0};

  assert_true(trusted(cidrs, n, "10.1.2.3"));
  assert_false(trusted(cidrs, n, "11.0.0.1"));
  assert_true(trusted(cidrs, n, "::ffff:10.9.9.9"));
  assert_true(trusted(cidrs, n, "2001:db8:1::5"));
  assert_false(trusted(cidrs, n, "2001:db9::"));
  assert_true(trusted(cidrs, n, "192.0.2.7"));
  assert_false(trusted(cidrs, n, "192.0.2.8"));
  assert_true(trusted(cidrs, n, "198.51.100.77"));
  assert_false(trusted(cidrs, n, "198.51.101.1"));
  assert_true(trusted(cidrs, n, "172.16.200.1"));
  assert_false(trusted(cidrs, n, "172.16.100.1"));
  assert_false(trusted(cidrs, n, "127.0.0.1"));
  assert_false(trusted(cidrs, n, "::1"));
  assert_false(trusted(cidrs, 0, "10.1.2.3"));

  assert_true(trusted(any4, 1, "203.0.113.1"));
  assert_true(trusted(any4, 1, "::ffff:203.0.113.1"));
  assert_false(trusted(any4, 1, "2001:db8::1"));
  assert_true(trusted(any6, 1, "2001:db8::1"));

  su.sun_family = AF_UNIX;
  assert_false(proxyproto_trusted(cidrs, n, (struct sockaddr *)&su));
  assert_false(proxyproto_trusted(cidrs, n, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v1_good),   cmocka_unit_test(test_v1_bad),
      cmocka_unit_test(test_v2_good),   cmocka_unit_test(test_v2_bad),
      cmocka_unit_test(test_not_proxy), cmocka_unit_test(test_fault_names),
      cmocka_unit_test(test_trusted),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
