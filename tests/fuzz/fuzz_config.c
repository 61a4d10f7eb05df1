/*
 * Reads the input as relay.yaml and checks the loader's promises: 0 or
 * SP_ECONFIG, an error message that names the file with a line and a
 * column, and on success settings the rest of the relay can use as they
 * are: each listen address empty or one the listener parses with a
 * port, each trusted proxy a CIDR the PROXY protocol code matches with,
 * and every number in its documented range.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "relay/config.h"
#include "relay/listen.h"
#include "relay/proxyproto.h"
#include "tests/fuzz/fuzz.h"

static void check_listen(const char *a) {
  struct sockaddr_storage ss;

  CHECK(strlen(a) < CONFIG_ADDR_MAX);
  if (a[0] == '\0')
    return;
  CHECK(listen_parse_addr(a, &ss) == 0);
  CHECK(ss.ss_family == AF_INET
            ? ((const struct sockaddr_in *)(const void *)&ss)->sin_port != 0
            : ((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct relay_config c;
  char msg[512];
  size_t i;
  int rc;

  msg[0] = '\0';
  rc = relay_config_parse(&c, "relay.yaml", (const char *)data, size, msg,
                          sizeof(msg));
  if (rc != 0) {
    CHECK(rc == SP_ECONFIG || rc == SP_ENOMEM);
    CHECK(rc == SP_ENOMEM || strncmp(msg, "relay.yaml:", 11) == 0);
    CHECK(c.trusted_proxies == NULL && c.n_trusted_proxies == 0);
    return 0;
  }
  CHECK(memchr(c.name, '\0', sizeof(c.name)) != NULL);
  CHECK(memchr(c.geoip, '\0', sizeof(c.geoip)) != NULL);
  CHECK(memchr(c.geoip_asn, '\0', sizeof(c.geoip_asn)) != NULL);
  check_listen(c.listen.socks);
  check_listen(c.listen.http);
  check_listen(c.listen.https);
  check_listen(c.listen.connectors);
  check_listen(c.listen.metrics);
  for (i = 0; i < c.n_trusted_proxies; i++)
    CHECK(proxyproto_cidr_valid(c.trusted_proxies[i]));
  CHECK(c.token_ttl >= 60 && c.token_ttl <= 366 * 86400);
  CHECK(c.request_timeout >= 1 && c.request_timeout <= 3600);
  CHECK(c.workers >= 0 && c.workers <= 256);
  relay_config_free(&c);
  return 0;
}
