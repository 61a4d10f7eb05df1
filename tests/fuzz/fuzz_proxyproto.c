/*
 * Feeds the input to the PROXY protocol parser as the start of a
 * connection and checks the parser's promises: only the three documented
 * results; nothing consumed unless a header was parsed; never a request
 * for more bytes once PROXYPROTO_MAX are there; a parsed header asks for
 * more at every shorter cut and parses the same without what follows it;
 * and its addresses survive being written again as version 1 text and as
 * version 2 binary.  The input's start is also tried as a trusted_proxies
 * CIDR, and every parsed source address must trust itself.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "relay/proxyproto.h"
#include "tests/fuzz/fuzz.h"

static const void *ip_of(const struct sockaddr_storage *ss) {
  const struct sockaddr_in *s4 = (const void *)ss;
  const struct sockaddr_in6 *s6 = (const void *)ss;

  return ss->ss_family == AF_INET ? (const void *)&s4->sin_addr
                                  : (const void *)&s6->sin6_addr;
}

static unsigned port_of(const struct sockaddr_storage *ss) {
  const struct sockaddr_in *s4 = (const void *)ss;
  const struct sockaddr_in6 *s6 = (const void *)ss;

  return ntohs(ss->ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
}

static void same_addresses(const uint8_t *p, size_t n,
                           const struct proxyproto_header *want) {
  struct proxyproto_header h;
  size_t used;

  CHECK(proxyproto_parse(p, n, &h, &used, NULL) == 0 && used == n);
  CHECK(memcmp(&h.src, &want->src, sizeof(h.src)) == 0);
  CHECK(memcmp(&h.dst, &want->dst, sizeof(h.dst)) == 0);
}

static void round_trip(const struct proxyproto_header *h) {
  char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], line[128];
  int v4 = h->src.ss_family == AF_INET, n;
  size_t alen = v4 ? 4 : 16;
  const char *one[1] = {src};
  uint8_t bin[16 + 36];
  uint16_t port;

  CHECK(inet_ntop(h->src.ss_family, ip_of(&h->src), src, sizeof(src)));
  CHECK(inet_ntop(h->dst.ss_family, ip_of(&h->dst), dst, sizeof(dst)));
  n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
               v4 ? "TCP4" : "TCP6", src, dst, port_of(&h->src),
               port_of(&h->dst));
  CHECK(n > 0 && n <= PROXYPROTO_V1_MAX);
  same_addresses((const uint8_t *)line, (size_t)n, h);

  memcpy(bin, "\r\n\r\n\0\r\nQUIT\n", 12);
  bin[12] = 0x21;
  bin[13] = v4 ? 0x11 : 0x21;
  bin[14] = 0;
  bin[15] = (uint8_t)(alen * 2 + 4);
  memcpy(bin + 16, ip_of(&h->src), alen);
  memcpy(bin + 16 + alen, ip_of(&h->dst), alen);
  port = htons((uint16_t)port_of(&h->src));
  memcpy(bin + 16 + 2 * alen, &port, 2);
  port = htons((uint16_t)port_of(&h->dst));
  memcpy(bin + 18 + 2 * alen, &port, 2);
  same_addresses(bin, 16 + 2 * alen + 4, h);

  /* A source address given alone as a CIDR covers itself. */
  CHECK(proxyproto_trusted(one, 1, (const struct sockaddr *)&h->src));
}

static void check_header(const uint8_t *data, size_t size, size_t used,
                         const struct proxyproto_header *h) {
  struct proxyproto_header g;
  size_t cut, u;

  CHECK(used > 0 && used <= size && used <= PROXYPROTO_MAX);
  CHECK(h->version == 2 || used <= PROXYPROTO_V1_MAX);
  for (cut = 0; cut < used; cut += cut < 20 ? 1 : 7)
    CHECK(proxyproto_parse(data, cut, &g, &u, NULL) == SP_EINCOMPLETE);
  CHECK(proxyproto_parse(data, used - 1, &g, &u, NULL) == SP_EINCOMPLETE);
  CHECK(proxyproto_parse(data, used, &g, &u, NULL) == 0 && u == used);
  CHECK(memcmp(&g, h, sizeof(g)) == 0);

  if (h->local) {
    CHECK(h->src.ss_family == AF_UNSPEC && h->dst.ss_family == AF_UNSPEC);
    return;
  }
  CHECK(h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6);
  CHECK(h->dst.ss_family == h->src.ss_family);
  round_trip(h);
}

static void check_cidr(const uint8_t *data, size_t size) {
  struct sockaddr_in s4 = {0};
  char cidr[80];
  const char *list[1] = {cidr};
  size_t n = size < sizeof(cidr) - 1 ? size : sizeof(cidr) - 1;

  memcpy(cidr, data, n);
  cidr[n] = '\0';
  s4.sin_family = AF_INET;
  s4.sin_addr.s_addr = htonl(0x7f000001);
  CHECK(proxyproto_trusted(list, 1, (const struct sockaddr *)&s4) <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct proxyproto_header h;
  enum proxyproto_fault fault;
  size_t used = 77;
  int rc;

  check_cidr(data, size);
  rc = proxyproto_parse(size ? data : NULL, size, &h, &used, &fault);
  CHECK(rc == 0 || rc == SP_EINCOMPLETE || rc == SP_EPROTO);
  CHECK(rc != SP_EINCOMPLETE || size < PROXYPROTO_MAX);
  if (rc == SP_EPROTO)
    CHECK(fault != PROXYPROTO_FAULT_NONE &&
          strcmp(proxyproto_fault_name(fault), "unknown") != 0);
  else
    CHECK(fault == PROXYPROTO_FAULT_NONE);
  if (rc != 0 || h.version == 0) {
    CHECK(used == 0 && h.version == 0);
    return 0;
  }
  check_header(data, size, used, &h);
  return 0;
}
