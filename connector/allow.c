#include "connector/allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"

/* No valid entry is longer: "*." + a full name + ":65535". */
#define ENTRY_MAX 270
/* How much of a bad entry an error message repeats. */
#define QUOTE_MAX 64

/* Where allow_parse() reports what is wrong with one entry. */
struct perr {
  const char *entry;
  char *buf; /* may be NULL */
  size_t size;
};

static int fail(const struct perr *pe, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes "allowlist entry "ENTRY": MESSAGE" and returns `code`.  The
 * entry is shortened and its control bytes replaced, so the line stays
 * one printable line whatever was on the command line.
 */
static int fail(const struct perr *pe, int code, const char *fmt, ...) {
  char quoted[QUOTE_MAX + 4];
  va_list ap;
  size_t n;
  int len;

  if (pe->buf == NULL || pe->size == 0)
    return code;

  for (n = 0; pe->entry[n] != '\0' && n < QUOTE_MAX; n++) {
    unsigned char c = (unsigned char)pe->entry[n];
    quoted[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (pe->entry[n] != '\0') {
    memcpy(quoted + n, "...", 3);
    n += 3;
  }
  quoted[n] = '\0';

  len = snprintf(pe->buf, pe->size, "allowlist entry \"%s\": ", quoted);
  if (len >= 0 && (size_t)len < pe->size) {
    va_start(ap, fmt);
    vsnprintf(pe->buf + len, pe->size - (size_t)len, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Parses 1 to 5 digits without a leading zero, 1..65535; -1 if bad. */
static int parse_port(const char *s, uint16_t *port) {
  unsigned long v = 0;
  size_t i;

  if (s[0] == '\0' || s[0] == '0' || strlen(s) > 5)
    return -1;
  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

/* Parses a prefix length 0..max without leading zeros; -1 if bad. */
static int parse_prefix(const char *s, unsigned max, uint8_t *prefix) {
  unsigned v = 0;
  size_t i;

  if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 3)
    return -1;
  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > max)
    return -1;
  *prefix = (uint8_t)v;
  return 0;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

/*
 * Whether the label `s` (`len` bytes, lower case) reads as a number:
 * resolvers take "10.1" or "host.0x1f" for addresses, so a name ending
 * in such a label is not treated as a name.
 */
static int label_numeric(const char *s, size_t len) {
  size_t i = 0;

  if (len >= 2 && s[0] == '0' && s[1] == 'x') {
    for (i = 2; i < len && is_hex(s[i]); i++)
      ;
    return i == len;
  }
  for (i = 0; i < len && is_digit(s[i]); i++)
    ;
  return i == len;
}

/*
 * Lower-cases the host name `s` in place, drops one trailing dot and
 * checks it.  Returns NULL when it is a valid name, else why not.
 */
static const char *name_fix(char *s) {
  size_t len = strlen(s), i, label = 0;

  if (len > 0 && s[len - 1] == '.')
    s[--len] = '\0';
  if (len == 0)
    return "the host name is empty";
  if (len > ALLOW_NAME_MAX)
    return "the host name is longer than 253 characters";

  for (i = 0; i <= len; i++) {
    char c = s[i];

    if (c >= 'A' && c <= 'Z')
      s[i] = c = (char)(c - 'A' + 'a');
    if (c == '.' || c == '\0') {
      if (i == label)
        return "the host name has an empty label";
      if (i - label > 63)
        return "a label of the host name is longer than 63 characters";
      if (c == '\0' && label_numeric(s + label, i - label))
        return "a host name may not end in a numeric label; "
               "write addresses in full";
      label = i + 1;
    } else if (!is_digit(c) && !(c >= 'a' && c <= 'z') && c != '-' &&
               c != '_') {
      return c == '*' ? "'*' may only start a name, as in *.corp"
                      : "a host name holds only letters, digits, '-', "
                        "'_' and '.'";
    }
  }
  return NULL;
}

static void mask_bits(uint8_t *a, size_t len, unsigned prefix) {
  size_t i;

  for (i = 0; i < len; i++) {
    if (prefix >= 8 * (i + 1))
      continue;
    if (prefix <= 8 * i)
      a[i] = 0;
    else
      a[i] &= (uint8_t)(0xff << (8 * (i + 1) - prefix));
  }
}

static int prefix_match(const uint8_t *net, const uint8_t *a, unsigned prefix) {
  unsigned full = prefix / 8, rest = prefix % 8;
  uint8_t mask;

  if (memcmp(net, a, full) != 0)
    return 0;
  if (rest == 0)
    return 1;
  mask = (uint8_t)(0xff << (8 - rest));
  return ((net[full] ^ a[full]) & mask) == 0;
}

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};

/*
 * Fills a network entry from an address (`alen` 4 or 16 bytes) and a
 * prefix, folding an IPv4-mapped network into IPv4 and refusing host
 * bits, which are nearly always a typing mistake.
 */
static int set_network(const struct perr *pe, struct allow_entry *e,
                       const uint8_t *a, size_t alen, unsigned prefix) {
  char text[INET6_ADDRSTRLEN];
  uint8_t net[16];

  if (alen == 16 && prefix >= 96 && memcmp(a, mapped_prefix, 12) == 0) {
    a += 12;
    alen = 4;
    prefix -= 96;
  }
  e->kind = alen == 4 ? ALLOW_CIDR4 : ALLOW_CIDR6;
  e->prefix = (uint8_t)prefix;
  memcpy(net, a, alen);
  mask_bits(net, alen, prefix);
  if (memcmp(net, a, alen) != 0) {
    inet_ntop(alen == 4 ? AF_INET : AF_INET6, net, text, sizeof(text));
    return fail(pe, SP_EPARSE,
                "the address has bits set past the /%u prefix "
                "(the network is %s%s%s/%u)",
                prefix, alen == 4 ? "" : "[", text, alen == 4 ? "" : "]",
                prefix);
  }
  memcpy(e->addr, net, alen);
  return 0;
}

/* "[addr]", "[addr]/len", either with ":port"; `s` is writable. */
static int parse_v6(const struct perr *pe, char *s, struct allow_entry *e) {
  char *close = strchr(s, ']'), *rest, *port;
  uint8_t a[16], prefix = 128;

  if (close == NULL)
    return fail(pe, SP_EPARSE, "']' is missing after the IPv6 address");
  *close = '\0';
  rest = close + 1;
  if (inet_pton(AF_INET6, s + 1, a) != 1)
    return fail(pe, SP_EPARSE, "\"%.*s\" is not an IPv6 address", QUOTE_MAX,
                s + 1);

  port = strchr(rest, ':');
  if (port != NULL) {
    *port++ = '\0';
    if (parse_port(port, &e->port) != 0)
      return fail(pe, SP_EPARSE, "the port must be a number from 1 to 65535");
  }
  if (rest[0] == '/') {
    if (parse_prefix(rest + 1, 128, &prefix) != 0)
      return fail(pe, SP_EPARSE, "the prefix length must be 0 to 128");
  } else if (rest[0] != '\0') {
    return fail(pe, SP_EPARSE, "only /prefix or :port may follow ']'");
  }
  return set_network(pe, e, a, sizeof(a), prefix);
}

/* "a.b.c.d/len", the port already split off; `s` is writable. */
static int parse_v4(const struct perr *pe, char *s, struct allow_entry *e) {
  char *slash = strchr(s, '/');
  uint8_t a[4], prefix = 32;

  if (slash != NULL)
    *slash = '\0';
  if (inet_pton(AF_INET, s, a) != 1)
    return fail(pe, SP_EPARSE, "\"%.*s\" is not an IPv4 address", QUOTE_MAX, s);
  if (slash != NULL && parse_prefix(slash + 1, 32, &prefix) != 0)
    return fail(pe, SP_EPARSE, "the prefix length must be 0 to 32");
  return set_network(pe, e, a, sizeof(a), prefix);
}

/* "name" or "*.suffix", the port already split off; `s` is writable. */
static int parse_name(const struct perr *pe, char *s, struct allow_entry *e) {
  const char *why;

  e->kind = ALLOW_NAME;
  if (s[0] == '*' && s[1] == '.') {
    e->kind = ALLOW_SUFFIX;
    s += 2;
  }
  why = name_fix(s);
  if (why != NULL)
    return fail(pe, SP_EPARSE, "%s", why);
  memcpy(e->name, s, strlen(s) + 1);
  return 0;
}

static int parse_entry(const struct perr *pe, struct allow_entry *e) {
  char buf[ENTRY_MAX + 1], *colon;
  size_t len = strlen(pe->entry);
  uint8_t a[4];

  if (len == 0)
    return fail(pe, SP_EPARSE, "the entry is empty");
  if (len > ENTRY_MAX)
    return fail(pe, SP_EPARSE, "the entry is too long");
  memcpy(buf, pe->entry, len + 1);
  if (buf[0] == '[')
    return parse_v6(pe, buf, e);

  colon = strchr(buf, ':');
  if (colon != NULL && strchr(colon + 1, ':') != NULL)
    return fail(pe, SP_EPARSE,
                "an IPv6 address must be in brackets, as in "
                "[2001:db8::]/32:22");
  if (colon != NULL) {
    *colon = '\0';
    if (parse_port(colon + 1, &e->port) != 0)
      return fail(pe, SP_EPARSE, "the port must be a number from 1 to 65535");
  }

  if (strchr(buf, '/') != NULL || inet_pton(AF_INET, buf, a) == 1)
    return parse_v4(pe, buf, e);
  return parse_name(pe, buf, e);
}

void allow_init(struct allow_list *l) {
  memset(l, 0, sizeof(*l));
}

void allow_free(struct allow_list *l) {
  free(l->v);
  allow_init(l);
}

int allow_parse(struct allow_list *l, const char *entry, char *err,
                size_t err_size) {
  struct perr pe = {entry, err, err_size};
  struct allow_entry e;
  struct allow_entry *v;
  size_t cap;
  int rc;

  memset(&e, 0, sizeof(e));
  rc = parse_entry(&pe, &e);
  if (rc != 0)
    return rc;

  if (l->n >= ALLOW_MAX_ENTRIES)
    return fail(&pe, SP_ETOOBIG, "the list already holds %d entries",
                ALLOW_MAX_ENTRIES);
  if (l->n == l->cap) {
    cap = l->cap ? 2 * l->cap : 8;
    v = realloc(l->v, cap * sizeof(*v));
    if (v == NULL)
      return fail(&pe, SP_ENOMEM, "out of memory");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = e;
  return 0;
}

static int port_ok(const struct allow_entry *e, uint16_t port) {
  return port != 0 && (e->port == 0 || e->port == port);
}

/* Copies `host` into `out` in the form entries hold; 0 if not a name. */
static int host_name(const char *host, char out[ALLOW_NAME_MAX + 2]) {
  size_t len = strlen(host);

  if (len > ALLOW_NAME_MAX + 1)
    return 0;
  memcpy(out, host, len + 1);
  return name_fix(out) == NULL;
}

int allow_match_name(const struct allow_list *l, const char *host,
                     uint16_t port) {
  char h[ALLOW_NAME_MAX + 2];
  size_t i, hlen, slen;

  if (host == NULL || !host_name(host, h))
    return 0;
  hlen = strlen(h);
  for (i = 0; i < l->n; i++) {
    const struct allow_entry *e = &l->v[i];

    if (!port_ok(e, port))
      continue;
    if (e->kind == ALLOW_NAME && strcmp(h, e->name) == 0)
      return 1;
    if (e->kind != ALLOW_SUFFIX)
      continue;

    /* "*.corp" needs at least one label before ".corp". */
    slen = strlen(e->name);
    if (hlen > slen + 1 && h[hlen - slen - 1] == '.' &&
        strcmp(h + hlen - slen, e->name) == 0)
      return 1;
  }
  return 0;
}

/* Whether a network entry allows `a` (4 or 16 bytes) on `port`. */
static int match_bytes(const struct allow_list *l, const uint8_t *a,
                       size_t alen, uint16_t port) {
  int kind = alen == 4 ? ALLOW_CIDR4 : ALLOW_CIDR6;
  size_t i;

  for (i = 0; i < l->n; i++) {
    const struct allow_entry *e = &l->v[i];

    if (e->kind == kind && port_ok(e, port) &&
        prefix_match(e->addr, a, e->prefix))
      return 1;
  }
  return 0;
}

/* The address bytes of `sa`, mapped IPv6 folded into IPv4; 0 if none. */
static size_t sa_bytes(const struct sockaddr *sa, uint8_t out[16]) {
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;

  if (sa == NULL)
    return 0;
  if (sa->sa_family == AF_INET) {
    memcpy(&sin, sa, sizeof(sin));
    memcpy(out, &sin.sin_addr, 4);
    return 4;
  }
  if (sa->sa_family != AF_INET6)
    return 0;
  memcpy(&sin6, sa, sizeof(sin6));
  if (memcmp(&sin6.sin6_addr, mapped_prefix, 12) == 0) {
    memcpy(out, (const uint8_t *)&sin6.sin6_addr + 12, 4);
    return 4;
  }
  memcpy(out, &sin6.sin6_addr, 16);
  return 16;
}

int allow_match_addr(const struct allow_list *l, const struct sockaddr *sa,
                     uint16_t port) {
  uint8_t a[16];
  size_t alen = sa_bytes(sa, a);

  return alen != 0 && match_bytes(l, a, alen, port);
}

/*
 * Reads `host` as an IP literal ("10.0.0.1", "2001:db8::1" or
 * "[2001:db8::1]") into `out`; returns its length (4 or 16, mapped
 * addresses folded into IPv4) or 0 when it is no literal.
 */
static size_t literal_bytes(const char *host, uint8_t out[16]) {
  char buf[INET6_ADDRSTRLEN + 2];
  size_t len = strlen(host);

  if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
      len - 2 < sizeof(buf)) {
    memcpy(buf, host + 1, len - 2);
    buf[len - 2] = '\0';
    host = buf;
  } else if (inet_pton(AF_INET, host, out) == 1) {
    return 4;
  }
  if (inet_pton(AF_INET6, host, out) != 1)
    return 0;
  if (memcmp(out, mapped_prefix, 12) == 0) {
    memmove(out, out + 12, 4);
    return 4;
  }
  return 16;
}

static int any_network_for(const struct allow_list *l, uint16_t port) {
  size_t i;

  for (i = 0; i < l->n; i++) {
    if ((l->v[i].kind == ALLOW_CIDR4 || l->v[i].kind == ALLOW_CIDR6) &&
        port_ok(&l->v[i], port))
      return 1;
  }
  return 0;
}

enum allow_verdict allow_check_dest(const struct allow_list *l,
                                    const char *host, uint16_t port) {
  char h[ALLOW_NAME_MAX + 2];
  uint8_t a[16];
  size_t alen;

  if (host == NULL || port == 0)
    return ALLOW_DEST_DENIED;

  alen = literal_bytes(host, a);
  if (alen != 0)
    return match_bytes(l, a, alen, port) ? ALLOW_DEST_ANY_ADDR
                                         : ALLOW_DEST_DENIED;

  if (allow_match_name(l, host, port))
    return ALLOW_DEST_ANY_ADDR;
  if (!host_name(host, h) || !any_network_for(l, port))
    return ALLOW_DEST_DENIED;
  return ALLOW_DEST_CHECK_ADDRS;
}

int allow_check_resolved(const struct allow_list *l, enum allow_verdict v,
                         const struct sockaddr *sa, uint16_t port) {
  uint8_t a[16];

  switch (v) {
  case ALLOW_DEST_ANY_ADDR:
    return port != 0 && sa_bytes(sa, a) != 0;
  case ALLOW_DEST_CHECK_ADDRS:
    return allow_match_addr(l, sa, port);
  case ALLOW_DEST_DENIED:
    break;
  }
  return 0;
}

const char *allow_entry_format(const struct allow_entry *e, char *out,
                               size_t n) {
  char text[INET6_ADDRSTRLEN] = "";
  char port[8] = "";

  if (e->port != 0)
    snprintf(port, sizeof(port), ":%u", (unsigned)e->port);
  switch (e->kind) {
  case ALLOW_CIDR4:
    inet_ntop(AF_INET, e->addr, text, sizeof(text));
    snprintf(out, n, "%s/%u%s", text, (unsigned)e->prefix, port);
    break;
  case ALLOW_CIDR6:
    inet_ntop(AF_INET6, e->addr, text, sizeof(text));
    snprintf(out, n, "[%s]/%u%s", text, (unsigned)e->prefix, port);
    break;
  case ALLOW_NAME:
  case ALLOW_SUFFIX:
    snprintf(out, n, "%s%s%s", e->kind == ALLOW_SUFFIX ? "*." : "", e->name,
             port);
    break;
  default:
    snprintf(out, n, "?");
    break;
  }
  return out;
}
