#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "common/err.h"
#include "connector/allow.h"

/* Room for any address the tests build, of either family. */
static struct sockaddr_storage ss;

static const struct sockaddr *addr(const char *text) {
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

  memset(&ss, 0, sizeof(ss));
  if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
  } else {
    assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    sin6->sin6_family = AF_INET6;
  }
  return (const struct sockaddr *)&ss;
}

static void add(struct allow_list *l, const char *entry) {
  char err[256] = "";

  if (allow_parse(l, entry, err, sizeof(err)) != 0)
    fail_msg("refused \"%s\": %s", entry, err);
}

/* Parses one entry into a fresh list and checks its canonical form. */
static void expect_form(const char *entry, const char *canon) {
  struct allow_list l;
  char out[ALLOW_FORMAT_MAX];

  allow_init(&l);
  add(&l, entry);
  assert_int_equal(l.n, 1);
  assert_string_equal(allow_entry_format(&l.v[0], out, sizeof(out)), canon);
  allow_free(&l);
}

static void test_forms(void **state) {
  expect_form("10.20.0.0/16", "10.20.0.0/16");
  expect_form("10.0.0.5", "10.0.0.5/32");
  expect_form("10.0.0.0/8:5432", "10.0.0.0/8:5432");
  expect_form("0.0.0.0/0", "0.0.0.0/0");
  expect_form("[2001:db8::]/32", "[2001:db8::]/32");
  expect_form("[2001:DB8::]/32:22", "[2001:db8::]/32:22");
  expect_form("[2001:db8::1]", "[2001:db8::1]/128");
  expect_form("[::]/0", "[::]/0");
  expect_form("[::ffff:10.0.0.0]/104", "10.0.0.0/8");
  expect_form("[::ffff:10.0.0.1]:22", "10.0.0.1/32:22");
  expect_form("wiki.corp", "wiki.corp");
  expect_form("Wiki.CORP.:443", "wiki.corp:443");
  expect_form("*.corp", "*.corp");
  expect_form("*.Lab.Corp.:8443", "*.lab.corp:8443");
  expect_form("db_1.corp:65535", "db_1.corp:65535");
}

static void test_ipv4_prefixes(void **state) {
  struct allow_list l;

  allow_init(&l);
  add(&l, "10.20.0.0/16");
  add(&l, "192.168.1.0/31");
  add(&l, "172.16.0.9");
  assert_true(allow_match_addr(&l, addr("10.20.0.0"), 443));
  assert_true(allow_match_addr(&l, addr("10.20.255.255"), 1));
  assert_false(allow_match_addr(&l, addr("10.21.0.0"), 443));
  assert_false(allow_match_addr(&l, addr("10.19.255.255"), 443));
  assert_true(allow_match_addr(&l, addr("192.168.1.0"), 22));
  assert_true(allow_match_addr(&l, addr("192.168.1.1"), 22));
  assert_false(allow_match_addr(&l, addr("192.168.1.2"), 22));
  assert_true(allow_match_addr(&l, addr("172.16.0.9"), 22));
  assert_false(allow_match_addr(&l, addr("172.16.0.8"), 22));
  assert_false(allow_match_addr(&l, addr("172.16.0.10"), 22));

  /* Port 0 is no destination, and IPv4 entries never match IPv6. */
  assert_false(allow_match_addr(&l, addr("10.20.0.1"), 0));
  assert_false(allow_match_addr(&l, addr("2001:db8::1"), 443));
  allow_free(&l);

  allow_init(&l);
  add(&l, "0.0.0.0/0");
  assert_true(allow_match_addr(&l, addr("0.0.0.0"), 80));
  assert_true(allow_match_addr(&l, addr("255.255.255.255"), 80));
  assert_false(allow_match_addr(&l, addr("::"), 80));
  assert_false(allow_match_addr(&l, addr("2001:db8::1"), 80));
  allow_free(&l);
}

static void test_ipv6_prefixes(void **state) {
  struct allow_list l;

  allow_init(&l);
  add(&l, "[2001:db8::]/32");
  add(&l, "[fd00::]/127");
  add(&l, "[fe80::1]");
  add(&l, "[2001:db9:8000::]/33:22");
  assert_true(allow_match_addr(&l, addr("2001:db8::"), 443));
  assert_true(allow_match_addr(&l, addr("2001:db8:ffff:ffff::1"), 443));
  assert_false(allow_match_addr(&l, addr("2001:db9::"), 443));
  assert_false(allow_match_addr(&l, addr("2001:db7:ffff::"), 443));
  assert_true(allow_match_addr(&l, addr("fd00::"), 1));
  assert_true(allow_match_addr(&l, addr("fd00::1"), 1));
  assert_false(allow_match_addr(&l, addr("fd00::2"), 1));
  assert_true(allow_match_addr(&l, addr("fe80::1"), 1));
  assert_false(allow_match_addr(&l, addr("fe80::"), 1));
  assert_true(allow_match_addr(&l, addr("2001:db9:8000::7"), 22));
  assert_true(allow_match_addr(&l, addr("2001:db9:ffff::7"), 22));
  assert_false(allow_match_addr(&l, addr("2001:db9:7fff::7"), 22));
  assert_false(allow_match_addr(&l, addr("2001:db9:8000::7"), 23));
  assert_false(allow_match_addr(&l, addr("10.0.0.1"), 443));
  allow_free(&l);

  /* [::]/0 is every IPv6 address, but a mapped address is IPv4. */
  allow_init(&l);
  add(&l, "[::]/0");
  assert_true(allow_match_addr(&l, addr("::"), 80));
  assert_true(allow_match_addr(&l, addr("ffff:ffff::ffff"), 80));
  assert_false(allow_match_addr(&l, addr("::ffff:10.0.0.1"), 80));
  assert_false(allow_match_addr(&l, addr("10.0.0.1"), 80));
  allow_free(&l);
}

static void test_mapped(void **state) {
  struct allow_list l;

  allow_init(&l);
  add(&l, "10.0.0.0/8:5432");
  add(&l, "[::ffff:192.168.0.0]/112");
  assert_true(allow_match_addr(&l, addr("::ffff:10.1.2.3"), 5432));
  assert_false(allow_match_addr(&l, addr("::ffff:10.1.2.3"), 5433));
  assert_false(allow_match_addr(&l, addr("::ffff:11.1.2.3"), 5432));
  assert_true(allow_match_addr(&l, addr("192.168.44.1"), 80));
  assert_true(allow_match_addr(&l, addr("::ffff:192.168.44.1"), 80));
  assert_false(allow_match_addr(&l, addr("192.169.0.1"), 80));

  /* An IPv4-compatible address (::a.b.c.d) is not a mapped one. */
  assert_false(allow_match_addr(&l, addr("::10.1.2.3"), 5432));
  allow_free(&l);
}

static void test_names(void **state) {
  struct allow_list l;

  allow_init(&l);
  add(&l, "wiki.corp:443");
  add(&l, "*.lab.corp");
  add(&l, "10.0.0.0/8");
  assert_true(allow_match_name(&l, "wiki.corp", 443));
  assert_true(allow_match_name(&l, "WIKI.Corp.", 443));
  assert_false(allow_match_name(&l, "wiki.corp", 80));
  assert_false(allow_match_name(&l, "wiki.corp.evil", 443));
  assert_false(allow_match_name(&l, "xwiki.corp", 443));
  assert_false(allow_match_name(&l, "corp", 443));

  /* The wildcard wants at least one label before its suffix. */
  assert_true(allow_match_name(&l, "a.lab.corp", 22));
  assert_true(allow_match_name(&l, "x.y.LAB.corp.", 22));
  assert_false(allow_match_name(&l, "lab.corp", 22));
  assert_false(allow_match_name(&l, "lab.corp.", 22));
  assert_false(allow_match_name(&l, "xlab.corp", 22));
  assert_false(allow_match_name(&l, ".lab.corp", 22));
  assert_false(allow_match_name(&l, "a..lab.corp", 22));
  assert_false(allow_match_name(&l, "a.lab.corp", 0));

  /* Literals and non-names never match a name entry. */
  assert_false(allow_match_name(&l, "10.0.0.1", 443));
  assert_false(allow_match_name(&l, "::1", 443));
  assert_false(allow_match_name(&l, "a b.lab.corp", 22));
  assert_false(allow_match_name(&l, "", 22));
  assert_false(allow_match_name(&l, NULL, 22));
  allow_free(&l);

  /* A wildcard over a single label. */
  allow_init(&l);
  add(&l, "*.corp:443");
  assert_true(allow_match_name(&l, "wiki.corp", 443));
  assert_false(allow_match_name(&l, "corp", 443));
  assert_false(allow_match_name(&l, "wiki.corp", 444));
  allow_free(&l);
}

/* Expects `entry` to be refused with a message containing `want`. */
static void expect_bad(const char *entry, const char *want) {
  struct allow_list l;
  char err[256] = "";

  allow_init(&l);
  add(&l, "10.0.0.0/8");
  if (allow_parse(&l, entry, err, sizeof(err)) != SP_EPARSE)
    fail_msg("accepted \"%s\"", entry);
  if (strstr(err, want) == NULL)
    fail_msg("\"%s\": message \"%s\" lacks \"%s\"", entry, err, want);
  assert_int_equal(strncmp(err, "allowlist entry \"", 17), 0);
  assert_int_equal(l.n, 1);
  allow_free(&l);
}

static void test_bad_entries(void **state) {
  char name[300];
  size_t i;

  expect_bad("", "empty");
  expect_bad("10.0.0.0/33", "prefix length must be 0 to 32");
  expect_bad("10.0.0.0/", "prefix length");
  expect_bad("10.0.0.0/08", "prefix length");
  expect_bad("[::]/129", "prefix length must be 0 to 128");
  expect_bad("10.0.0.0/8:0", "port must be a number from 1 to 65535");
  expect_bad("10.0.0.0/8:65536", "port");
  expect_bad("wiki.corp:", "port");
  expect_bad("wiki.corp:http", "port");
  expect_bad("wiki.corp:0443", "port");
  expect_bad("[2001:db8::]/32:x", "port");
  expect_bad("wi ki.corp", "letters, digits");
  expect_bad("wiki/corp", "not an IPv4 address");
  expect_bad("*corp", "'*' may only start a name");
  expect_bad("a.*.corp", "'*'");
  expect_bad("*", "'*'");
  expect_bad("*.*.corp", "'*'");
  expect_bad("*.", "empty");
  expect_bad("a..b", "empty label");
  expect_bad(".corp", "empty label");
  expect_bad("2001:db8::/32", "must be in brackets");
  expect_bad("[2001:db8::/32", "']' is missing");
  expect_bad("[zz::]/32", "not an IPv6 address");
  expect_bad("[10.0.0.1]", "not an IPv6 address");
  expect_bad("[::1]x", "only /prefix or :port may follow");
  expect_bad("10.0.0/8", "not an IPv4 address");
  expect_bad("010.0.0.0/8", "not an IPv4 address");
  expect_bad("10.1", "numeric label");
  expect_bad("host.0x1f", "numeric label");
  expect_bad("host.0x", "numeric label");
  expect_bad("*.10", "numeric label");
  expect_bad("10.0.0.1/24", "(the network is 10.0.0.0/24)");
  expect_bad("[2001:db8::1]/32", "(the network is [2001:db8::]/32)");
  expect_bad("bad\x01name", "\"bad?name\"");

  memset(name, 'a', sizeof(name));
  name[64] = '\0';
  expect_bad(name, "longer than 63");
  memset(name, 'a', sizeof(name));
  for (i = 1; i < 259; i += 2)
    name[i] = '.';
  name[259] = '\0';
  expect_bad(name, "longer than 253");
  memset(name, 'a', sizeof(name) - 1);
  name[sizeof(name) - 1] = '\0';
  expect_bad(name, "too long");
}

static void test_limits(void **state) {
  struct allow_list l;
  char entry[32], err[128];
  int i;

  allow_init(&l);
  for (i = 0; i < ALLOW_MAX_ENTRIES; i++) {
    snprintf(entry, sizeof(entry), "10.%d.%d.0/24", i / 256, i % 256);
    assert_int_equal(allow_parse(&l, entry, NULL, 0), 0);
  }
  assert_int_equal(allow_parse(&l, "wiki.corp", err, sizeof(err)), SP_ETOOBIG);
  assert_non_null(strstr(err, "4096"));
  assert_int_equal(l.n, ALLOW_MAX_ENTRIES);
  assert_true(allow_match_addr(&l, addr("10.15.255.1"), 1));
  assert_false(allow_match_addr(&l, addr("10.16.0.1"), 1));
  allow_free(&l);
  assert_int_equal(l.n, 0);

  /* A tiny message buffer still gets a terminated message. */
  allow_init(&l);
  assert_int_equal(allow_parse(&l, "*x", err, 5), SP_EPARSE);
  assert_string_equal(err, "allo");
  allow_free(&l);
}

static void test_check_dest(void **state) {
  struct sockaddr_un sun;
  struct allow_list l;

  allow_init(&l);
  add(&l, "10.20.0.0/16");
  add(&l, "wiki.corp:443");
  add(&l, "*.lab.corp");

  /* A name entry allows every address the name resolves to. */
  assert_int_equal(allow_check_dest(&l, "wiki.corp", 443), ALLOW_DEST_ANY_ADDR);
  assert_true(
      allow_check_resolved(&l, ALLOW_DEST_ANY_ADDR, addr("192.0.2.1"), 443));
  assert_int_equal(allow_check_dest(&l, "ci.lab.corp", 8080),
                   ALLOW_DEST_ANY_ADDR);

  /* Any other name: only the addresses a network entry allows. */
  assert_int_equal(allow_check_dest(&l, "wiki.corp", 80),
                   ALLOW_DEST_CHECK_ADDRS);
  assert_int_equal(allow_check_dest(&l, "db.corp", 5432),
                   ALLOW_DEST_CHECK_ADDRS);
  assert_true(allow_check_resolved(&l, ALLOW_DEST_CHECK_ADDRS,
                                   addr("10.20.0.5"), 5432));
  assert_true(allow_check_resolved(&l, ALLOW_DEST_CHECK_ADDRS,
                                   addr("::ffff:10.20.0.5"), 5432));
  assert_false(allow_check_resolved(&l, ALLOW_DEST_CHECK_ADDRS,
                                    addr("192.0.2.1"), 5432));

  /* IP literals: only network entries count. */
  assert_int_equal(allow_check_dest(&l, "10.20.0.5", 22), ALLOW_DEST_ANY_ADDR);
  assert_int_equal(allow_check_dest(&l, "10.30.0.5", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "::ffff:10.20.0.5", 22),
                   ALLOW_DEST_ANY_ADDR);
  assert_int_equal(allow_check_dest(&l, "[::ffff:10.20.0.5]", 22),
                   ALLOW_DEST_ANY_ADDR);
  assert_int_equal(allow_check_dest(&l, "2001:db8::1", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "[2001:db8::1]", 22),
                   ALLOW_DEST_DENIED);

  /* What is neither a literal nor a name is never resolved. */
  assert_int_equal(allow_check_dest(&l, "0x0a140005", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "10.20.5", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "bad host", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "fe80::1%eth0", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "[10.20.0.5]", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "", 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, NULL, 22), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "wiki.corp", 0), ALLOW_DEST_DENIED);

  /* A denied verdict allows no address; other families never pass. */
  assert_false(
      allow_check_resolved(&l, ALLOW_DEST_DENIED, addr("10.20.0.5"), 22));
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  assert_false(allow_check_resolved(&l, ALLOW_DEST_ANY_ADDR,
                                    (const struct sockaddr *)&sun, 22));
  assert_false(allow_match_addr(&l, (const struct sockaddr *)&sun, 22));
  assert_false(allow_match_addr(&l, NULL, 22));
  allow_free(&l);
}

static void test_check_dest_no_lookup(void **state) {
  struct allow_list l;

  /* With no network entry for the port, a name that no name entry
   * allows is denied before any DNS lookup. */
  allow_init(&l);
  add(&l, "wiki.corp:443");
  add(&l, "10.0.0.0/8:5432");
  assert_int_equal(allow_check_dest(&l, "other.corp", 443), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "other.corp", 5432),
                   ALLOW_DEST_CHECK_ADDRS);
  allow_free(&l);

  /* An empty list allows nothing at all. */
  allow_init(&l);
  assert_int_equal(allow_check_dest(&l, "wiki.corp", 443), ALLOW_DEST_DENIED);
  assert_int_equal(allow_check_dest(&l, "10.0.0.1", 443), ALLOW_DEST_DENIED);
  assert_false(allow_match_addr(&l, addr("10.0.0.1"), 443));
  allow_free(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forms),
      cmocka_unit_test(test_ipv4_prefixes),
      cmocka_unit_test(test_ipv6_prefixes),
      cmocka_unit_test(test_mapped),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_bad_entries),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_check_dest),
      cmocka_unit_test(test_check_dest_no_lookup),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
