/*
 * relay.yaml: defaults, every setting read, and each kind of bad value
 * refused with its line and column, as the listeners and the PROXY
 * protocol code will read the addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "relay/config.h"

static int parse(struct relay_config *c, const char *text, char *msg,
                 size_t n) {
  msg[0] = '\0';
  return relay_config_parse(c, "relay.yaml", text, strlen(text), msg, n);
}

static void test_defaults(void **state) {
  struct relay_config c;
  char msg[256];

  (void)state;
  assert_int_equal(parse(&c, "", msg, sizeof(msg)), 0);
  assert_string_equal(c.name, "localhost");
  assert_string_equal(c.listen.socks, "127.0.0.1:1080");
  assert_string_equal(c.listen.http, "127.0.0.1:3128");
  assert_string_equal(c.listen.https, "127.0.0.1:8443");
  assert_string_equal(c.listen.connectors, "127.0.0.1:7443");
  assert_string_equal(c.listen.metrics, "127.0.0.1:9090");
  assert_string_equal(c.geoip, "/usr/share/sallyport/country.mmdb");
  assert_string_equal(c.geoip_asn, "");
  assert_int_equal(c.n_trusted_proxies, 0);
  assert_int_equal(c.token_ttl, 12 * 3600);
  assert_int_equal(c.request_timeout, 30);
  assert_int_equal(c.workers, 0);
  relay_config_free(&c);
}

static void test_every_setting(void **state) {
  struct relay_config c;
  char msg[256];

  (void)state;
  assert_int_equal(parse(&c,
                         "name: relay.example.com\n"
                         "listen:\n"
                         "  socks: '[::1]:1081'\n"
                         "  http: ''\n"
                         "  metrics: 127.0.0.2:9191\n"
                         "geoip: /srv/country.mmdb\n"
                         "geoip_asn: /srv/asn.mmdb\n"
                         "trusted_proxies: [10.0.0.0/8, '2001:db8::/32', "
                         "192.0.2.7]\n"
                         "token_ttl: 30m\n"
                         "request_timeout: 1h\n"
                         "workers: 4\n",
                         msg, sizeof(msg)),
                   0);
  assert_string_equal(c.name, "relay.example.com");
  assert_string_equal(c.listen.socks, "[::1]:1081");
  assert_string_equal(c.listen.http, "");
  assert_string_equal(c.listen.https, "127.0.0.1:8443");
  assert_string_equal(c.listen.metrics, "127.0.0.2:9191");
  assert_string_equal(c.geoip, "/srv/country.mmdb");
  assert_string_equal(c.geoip_asn, "/srv/asn.mmdb");
  assert_int_equal(c.n_trusted_proxies, 3);
  assert_string_equal(c.trusted_proxies[1], "2001:db8::/32");
  assert_string_equal(c.trusted_proxies[2], "192.0.2.7");
  assert_int_equal(c.token_ttl, 1800);
  assert_int_equal(c.request_timeout, 3600);
  assert_int_equal(c.workers, 4);
  relay_config_free(&c);
}

/* `text` is refused with a message that starts with `want`. */
static void refused(const char *text, const char *want) {
  struct relay_config c;
  char msg[512];

  assert_int_equal(parse(&c, text, msg, sizeof(msg)), SP_ECONFIG);
  if (strncmp(msg, want, strlen(want)) != 0)
    fail_msg("for %s got \"%s\", want \"%s...\"", text, msg, want);
  assert_int_equal(c.n_trusted_proxies, 0);
  assert_null(c.trusted_proxies);
}

static void test_bad_values(void **state) {
  (void)state;
  refused("- a list\n", "relay.yaml:1:1: expected a map of settings");
  refused("nmae: x\n", "relay.yaml:1:1: unknown setting nmae");
  refused("name: [a]\n", "relay.yaml:1:7: name: expected a string");
  refused("listen: 1\n", "relay.yaml:1:9: listen: expected a map");
  refused("listen:\n  sox: 127.0.0.1:1\n",
          "relay.yaml:2:3: listen: unknown listener sox");
  refused("listen:\n  socks: localhost:1080\n",
          "relay.yaml:2:10: listen address must be");
  refused("listen:\n  socks: 127.0.0.1:0\n", "relay.yaml:2:10: listen address");
  refused("listen:\n  socks: 127.0.0.1:65536\n",
          "relay.yaml:2:10: listen address");
  refused("listen:\n  socks: 127.0.0.1:+80\n",
          "relay.yaml:2:10: listen address");
  refused("listen:\n  socks: '127.0.0.1: 80'\n",
          "relay.yaml:2:10: listen address");
  refused("listen:\n  socks: 127.0.0.1\n", "relay.yaml:2:10: listen address");
  refused("trusted_proxies: 10.0.0.0/8\n",
          "relay.yaml:1:18: trusted_proxies: expected a list");
  refused("trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]\n",
          "relay.yaml:1:31: trusted_proxies: not a CIDR");
  refused("trusted_proxies: [10.0.0.0/+8]\n",
          "relay.yaml:1:19: trusted_proxies: not a CIDR");
  refused("trusted_proxies: ['10.0.0.0/ 8']\n",
          "relay.yaml:1:19: trusted_proxies: not a CIDR");
  refused("trusted_proxies: [10.0.0.0/]\n",
          "relay.yaml:1:19: trusted_proxies: not a CIDR");
  refused("token_ttl: 59s\n", "relay.yaml:1:12: token_ttl: expected");
  refused("token_ttl: 367d\n", "relay.yaml:1:12: token_ttl: expected");
  refused("request_timeout: 0s\n", "relay.yaml:1:18: request_timeout");
  refused("request_timeout: 2h\n", "relay.yaml:1:18: request_timeout");
  refused("workers: -1\n", "relay.yaml:1:10: workers: expected a number");
  refused("workers: 257\n", "relay.yaml:1:10: workers");
  refused("workers: 2x\n", "relay.yaml:1:10: workers");
  refused("name: a\nname: b\n", "relay.yaml:2:1: duplicate key");
  refused("name: [\n", "relay.yaml:");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_every_setting),
      cmocka_unit_test(test_bad_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
