/*
 * Canonical destination addresses.
 *
 * Resources are looked up by the exact text of their address, so every
 * spelling of one destination must reduce to one string: host names in
 * lower case, IP literals as inet_ntop() prints them, IPv6 in brackets,
 * the port in plain decimal.  A host that is neither a dotted-quad IPv4
 * address nor an IPv6 literal must be a DNS name; names whose last label
 * is a number ("10.1", "2130706433", "0x7f.1") are refused, because a
 * resolver may read them as an IPv4 address in a legacy short form and
 * the same destination would then have two spellings.
 */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

#define ADDR_MAX_HOST 253
#define ADDR_MAX_LABEL 63

/* Reads a decimal port of 1 to 65535; leading zeros are tolerated. */
static int parse_port(const char *s, unsigned *port) {
  unsigned long v = 0;

  if (*s == '\0')
    return SP_EPARSE;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9')
      return SP_EPARSE;
    v = v * 10 + (unsigned long)(*s - '0');
    if (v > 65535)
      return SP_EPARSE;
  }
  if (v == 0)
    return SP_EPARSE;
  *port = (unsigned)v;
  return 0;
}

static int is_dns_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

/* Whether a label reads as a number to inet_aton(): decimal or 0x hex. */
static int label_is_number(const char *s, size_t n) {
  size_t i = 0;

  if (n > 2 && s[0] == '0' && s[1] == 'x') {
    for (i = 2; i < n; i++)
      if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
        return 0;
    return 1;
  }
  for (i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

/* Checks a lower-cased host name: labels of 1-63, 253 in all. */
static int dns_name_valid(const char *h, size_t n) {
  size_t i, start = 0;

  if (n == 0 || n > ADDR_MAX_HOST)
    return 0;
  for (i = 0; i <= n; i++) {
    if (i < n && h[i] != '.') {
      if (!is_dns_char(h[i]))
        return 0;
      continue;
    }
    if (i == start || i - start > ADDR_MAX_LABEL)
      return 0;
    if (i == n && label_is_number(h + start, i - start))
      return 0;
    start = i + 1;
  }
  return 1;
}

/* Writes the canonical host for an unbracketed `host` into `out`. */
static int canon_host(const char *host, char *out, size_t out_size) {
  struct in_addr a4;
  size_t i, n = strlen(host);

  if (strchr(host, ':') != NULL)
    return SP_EPARSE;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return inet_ntop(AF_INET, &a4, out, (socklen_t)out_size) ? 0 : SP_EPARSE;
  if (n >= out_size || n > ADDR_MAX_HOST)
    return SP_EPARSE;
  for (i = 0; i < n; i++)
    out[i] =
        (host[i] >= 'A' && host[i] <= 'Z') ? (char)(host[i] + 32) : host[i];
  out[n] = '\0';
  return dns_name_valid(out, n) ? 0 : SP_EPARSE;
}

/* Writes "[v6]" for the bracketed literal `in` ... "]", or fails. */
static int canon_v6(const char *in, size_t n, char *out, size_t out_size) {
  char lit[INET6_ADDRSTRLEN + 1];
  struct in6_addr a6;

  if (n < 2 || n - 2 >= sizeof(lit))
    return SP_EPARSE;
  memcpy(lit, in + 1, n - 2);
  lit[n - 2] = '\0';
  if (inet_pton(AF_INET6, lit, &a6) != 1)
    return SP_EPARSE;
  out[0] = '[';
  if (inet_ntop(AF_INET6, &a6, out + 1, (socklen_t)(out_size - 2)) == NULL)
    return SP_EPARSE;
  strcat(out, "]");
  return 0;
}

int policy_addr_canon(const char *in, char *out, size_t out_size) {
  char host[POLICY_ADDR_MAX];
  char canon[POLICY_ADDR_MAX];
  const char *colon;
  unsigned port;
  size_t hlen;
  int r;

  if (in[0] == '[') {
    colon = strstr(in, "]:");
    if (colon == NULL)
      return SP_EPARSE;
    colon++;
  } else {
    colon = strrchr(in, ':');
  }
  if (colon == NULL || parse_port(colon + 1, &port) != 0)
    return SP_EPARSE;

  hlen = (size_t)(colon - in);
  if (hlen == 0 || hlen >= sizeof(host))
    return SP_EPARSE;
  memcpy(host, in, hlen);
  host[hlen] = '\0';
  if (in[0] == '[')
    r = canon_v6(host, hlen, canon, sizeof(canon));
  else
    r = canon_host(host, canon, sizeof(canon));
  if (r != 0)
    return r;

  r = snprintf(out, out_size, "%s:%u", canon, port);
  return r < 0 || (size_t)r >= out_size ? SP_EPARSE : 0;
}
