/*
 * Feeds each line of the input to allow_parse(), then asks the list
 * about every line as a destination host and about a few addresses.  It
 * checks that an accepted entry survives a trip through its text form,
 * that a refusal comes with a message, and that the verdicts agree with
 * each other: a name match is an any-address verdict, an IP literal's
 * verdict matches allow_match_addr(), and a mapped address is judged as
 * its IPv4 address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "connector/allow.h"
#include "tests/fuzz/fuzz.h"

#define MAX_LINES 64
#define LINE_MAX_ 512

static void check_round_trip(const struct allow_entry *e) {
  struct allow_list again;
  char text[ALLOW_FORMAT_MAX], err[256];

  allow_init(&again);
  allow_entry_format(e, text, sizeof(text));
  CHECK(allow_parse(&again, text, err, sizeof(err)) == 0);
  CHECK(again.n == 1 && memcmp(&again.v[0], e, sizeof(*e)) == 0);
  allow_free(&again);
}

/* The same IPv4 address, plain and mapped, must get the same answer. */
static void check_addr(const struct allow_list *l, const uint8_t v4[4],
                       uint16_t port) {
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  memcpy(&sin.sin_addr, v4, 4);
  memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr.s6_addr[10] = 0xff;
  sin6.sin6_addr.s6_addr[11] = 0xff;
  memcpy(&sin6.sin6_addr.s6_addr[12], v4, 4);
  CHECK(allow_match_addr(l, (struct sockaddr *)&sin, port) ==
        allow_match_addr(l, (struct sockaddr *)&sin6, port));
}

static void check_host(const struct allow_list *l, const char *host,
                       uint16_t port) {
  enum allow_verdict v = allow_check_dest(l, host, port);
  struct sockaddr_in6 sin6;
  struct sockaddr_in sin;

  CHECK(v == ALLOW_DEST_DENIED || v == ALLOW_DEST_ANY_ADDR ||
        v == ALLOW_DEST_CHECK_ADDRS);
  if (allow_match_name(l, host, port))
    CHECK(v == ALLOW_DEST_ANY_ADDR);

  memset(&sin, 0, sizeof(sin));
  memset(&sin6, 0, sizeof(sin6));
  if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
    sin.sin_family = AF_INET;
    CHECK((v == ALLOW_DEST_ANY_ADDR) ==
          allow_match_addr(l, (struct sockaddr *)&sin, port));
  } else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
    sin6.sin6_family = AF_INET6;
    CHECK((v == ALLOW_DEST_ANY_ADDR) ==
          allow_match_addr(l, (struct sockaddr *)&sin6, port));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char lines[MAX_LINES][LINE_MAX_ + 1];
  static const uint16_t ports[] = {22, 443, 5432};
  struct allow_list l;
  char err[256];
  size_t n = 0, i, j, len, start = 0;
  int rc;

  for (i = 0; i <= size && n < MAX_LINES; i++) {
    if (i < size && data[i] != '\n')
      continue;
    len = i - start < LINE_MAX_ ? i - start : LINE_MAX_;
    memcpy(lines[n], data + start, len);
    lines[n][len] = '\0';
    n++;
    start = i + 1;
  }

  allow_init(&l);
  for (i = 0; i < n; i++) {
    err[0] = '\0';
    rc = allow_parse(&l, lines[i], err, sizeof(err));
    if (rc == 0)
      check_round_trip(&l.v[l.n - 1]);
    else
      CHECK(rc == SP_EPARSE && strncmp(err, "allowlist entry", 15) == 0);
  }

  for (i = 0; i < n; i++) {
    for (j = 0; j < sizeof(ports) / sizeof(ports[0]); j++)
      check_host(&l, lines[i], ports[j]);
  }
  if (size >= 6)
    check_addr(&l, data, (uint16_t)((data[4] << 8) | data[5]));
  check_addr(&l, (const uint8_t *)"\x0a\x14\x00\x05", 443);
  allow_free(&l);
  return 0;
}
