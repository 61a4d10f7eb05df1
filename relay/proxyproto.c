/*
 * PROXY protocol parsing; the formats and the rules are in proxyproto.h.
 *
 * Version 1 waits for the whole line (its LF, or 107 bytes) before it
 * judges anything, so every prefix of a good line asks for more.
 * Version 2 judges its fixed 16 bytes as soon as they are there, and
 * refuses an oversized length before waiting for the bytes it announces.
 */
#include "relay/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const uint8_t v1_sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define V2_HEADER 16
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_UNSPEC 0x00
#define V2_TCP4 0x11
#define V2_TCP6 0x21
#define V2_TCP4_LEN 12
#define V2_TCP6_LEN 36

static int fault_out(enum proxyproto_fault *out, enum proxyproto_fault f) {
  if (out != NULL)
    *out = f;
  return SP_EPROTO;
}

/* 1: `buf` starts with `sig`; 0: it cannot; -1: too short to tell. */
static int sig_match(const uint8_t *buf, size_t len, const uint8_t *sig,
                     size_t n) {
  size_t k = len < n ? len : n;

  if (k > 0 && memcmp(buf, sig, k) != 0)
    return 0;
  return len >= n ? 1 : -1;
}

/* `port` points at two bytes in network order. */
static void set_addr(struct sockaddr_storage *ss, int family, const void *a,
                     const void *port) {
  struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;

  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET) {
    s4->sin_family = AF_INET;
    memcpy(&s4->sin_addr, a, 4);
    memcpy(&s4->sin_port, port, 2);
  } else {
    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_addr, a, 16);
    memcpy(&s6->sin6_port, port, 2);
  }
}

/* A decimal port: 1 to 5 digits, no leading zero, at most 65535. */
static int v1_port(const char *s, uint16_t *port_be) {
  size_t n = strlen(s), i;
  unsigned long v = 0;

  if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535)
    return -1;
  *port_be = htons((uint16_t)v);
  return 0;
}

/*
 * Splits "TCP4 src dst sport dport" at single spaces into exactly five
 * fields; `line` is modified.  Returns the number of fields, or -1 for
 * an empty field (two spaces, or a space at either end).
 */
static int v1_split(char *line, char *f[5]) {
  int n = 0;
  char *p = line, *sp;

  for (;;) {
    sp = strchr(p, ' ');
    if (sp == p || *p == '\0' || n == 5)
      return -1;
    f[n++] = p;
    if (sp == NULL)
      return n;
    *sp = '\0';
    p = sp + 1;
  }
}

/* The line after "PROXY ", without its CRLF, NUL-terminated. */
static int v1_fields(char *line, struct proxyproto_header *h,
                     enum proxyproto_fault *fault) {
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  char *f[5];
  int family;

  if (strncmp(line, "UNKNOWN", 7) == 0 && (line[7] == '\0' || line[7] == ' ')) {
    h->local = 1;
    return 0;
  }
  if (v1_split(line, f) != 5)
    return fault_out(fault, PROXYPROTO_FAULT_V1_SYNTAX);
  if (strcmp(f[0], "TCP4") == 0)
    family = AF_INET;
  else if (strcmp(f[0], "TCP6") == 0)
    family = AF_INET6;
  else
    return fault_out(fault, PROXYPROTO_FAULT_BAD_PROTOCOL);

  if (inet_pton(family, f[1], src) != 1 || inet_pton(family, f[2], dst) != 1)
    return fault_out(fault, PROXYPROTO_FAULT_BAD_ADDRESS);
  if (v1_port(f[3], &sport) != 0 || v1_port(f[4], &dport) != 0)
    return fault_out(fault, PROXYPROTO_FAULT_BAD_PORT);
  set_addr(&h->src, family, src, &sport);
  set_addr(&h->dst, family, dst, &dport);
  return 0;
}

static int parse_v1(const uint8_t *buf, size_t len, struct proxyproto_header *h,
                    size_t *consumed, enum proxyproto_fault *fault) {
  char line[PROXYPROTO_V1_MAX];
  size_t max = len < PROXYPROTO_V1_MAX ? len : PROXYPROTO_V1_MAX, i;
  const uint8_t *nl = memchr(buf, '\n', max);
  int rc;

  if (nl == NULL)
    return len >= PROXYPROTO_V1_MAX
               ? fault_out(fault, PROXYPROTO_FAULT_V1_TOO_LONG)
               : SP_EINCOMPLETE;
  i = (size_t)(nl - buf);
  if (i < sizeof(v1_sig) + 1 || buf[i - 1] != '\r' ||
      memchr(buf, '\0', i) != NULL || memchr(buf, '\r', i - 1) != NULL)
    return fault_out(fault, PROXYPROTO_FAULT_V1_SYNTAX);

  memcpy(line, buf + sizeof(v1_sig), i - 1 - sizeof(v1_sig));
  line[i - 1 - sizeof(v1_sig)] = '\0';
  h->version = 1;
  rc = v1_fields(line, h, fault);
  if (rc != 0)
    return rc;
  *consumed = i + 1;
  return 0;
}

/* Checks that TLVs exactly fill `len` bytes at `p`. */
static int v2_tlvs(const uint8_t *p, size_t len) {
  size_t off = 0, n;

  while (off < len) {
    if (len - off < 3)
      return -1;
    n = (size_t)p[off + 1] << 8 | p[off + 2];
    if (n > len - off - 3)
      return -1;
    off += 3 + n;
  }
  return 0;
}

/* Checks the fixed 16 bytes; returns the total size, or SP_EPROTO. */
static int v2_fixed(const uint8_t *buf, enum proxyproto_fault *fault) {
  size_t total = V2_HEADER + ((size_t)buf[14] << 8 | buf[15]);
  unsigned cmd = buf[12] & 0x0f, fam = buf[13];

  if (buf[12] >> 4 != 2)
    return fault_out(fault, PROXYPROTO_FAULT_BAD_VERSION);
  if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
    return fault_out(fault, PROXYPROTO_FAULT_BAD_COMMAND);
  if (total > PROXYPROTO_MAX)
    return fault_out(fault, PROXYPROTO_FAULT_V2_TOO_LONG);
  if (cmd == V2_CMD_LOCAL || fam == V2_UNSPEC)
    return (int)total;
  if (fam != V2_TCP4 && fam != V2_TCP6)
    return fault_out(fault, PROXYPROTO_FAULT_BAD_FAMILY);
  if (total - V2_HEADER < (fam == V2_TCP4 ? V2_TCP4_LEN : V2_TCP6_LEN))
    return fault_out(fault, PROXYPROTO_FAULT_SHORT_ADDRESS);
  return (int)total;
}

static int parse_v2(const uint8_t *buf, size_t len, struct proxyproto_header *h,
                    size_t *consumed, enum proxyproto_fault *fault) {
  const uint8_t *a = buf + V2_HEADER;
  size_t alen;
  int total, v4;

  if (len < V2_HEADER)
    return SP_EINCOMPLETE;
  total = v2_fixed(buf, fault);
  if (total < 0)
    return total;
  if (len < (size_t)total)
    return SP_EINCOMPLETE;

  h->version = 2;
  *consumed = (size_t)total;
  if ((buf[12] & 0x0f) == V2_CMD_LOCAL || buf[13] == V2_UNSPEC) {
    h->local = 1;
    return 0;
  }
  v4 = buf[13] == V2_TCP4;
  alen = v4 ? V2_TCP4_LEN : V2_TCP6_LEN;
  if (v2_tlvs(a + alen, (size_t)total - V2_HEADER - alen) != 0)
    return fault_out(fault, PROXYPROTO_FAULT_BAD_TLV);
  if (v4) {
    set_addr(&h->src, AF_INET, a, a + 8);
    set_addr(&h->dst, AF_INET, a + 4, a + 10);
  } else {
    set_addr(&h->src, AF_INET6, a, a + 32);
    set_addr(&h->dst, AF_INET6, a + 16, a + 34);
  }
  return 0;
}

int proxyproto_parse(const uint8_t *buf, size_t len,
                     struct proxyproto_header *h, size_t *consumed,
                     enum proxyproto_fault *fault) {
  int v1, v2, rc;

  memset(h, 0, sizeof(*h));
  *consumed = 0;
  if (fault != NULL)
    *fault = PROXYPROTO_FAULT_NONE;
  v1 = sig_match(buf, len, v1_sig, sizeof(v1_sig));
  v2 = sig_match(buf, len, v2_sig, sizeof(v2_sig));
  if (v1 == 0 && v2 == 0)
    return 0;
  if (v1 < 0 || v2 < 0)
    return SP_EINCOMPLETE;

  rc = v1 ? parse_v1(buf, len, h, consumed, fault)
          : parse_v2(buf, len, h, consumed, fault);
  if (rc != 0) {
    memset(h, 0, sizeof(*h));
    *consumed = 0;
  }
  return rc;
}

struct cidr {
  int family;
  uint8_t addr[16];
  unsigned bits;
};

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};

/* Parses "ADDR" or "ADDR/BITS"; IPv4-mapped prefixes become IPv4. */
static int cidr_parse(const char *s, struct cidr *c) {
  char addr[64], *end;
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  unsigned max;
  long bits;

  if (n == 0 || n >= sizeof(addr))
    return -1;
  memcpy(addr, s, n);
  addr[n] = '\0';
  if (inet_pton(AF_INET, addr, c->addr) == 1)
    c->family = AF_INET;
  else if (inet_pton(AF_INET6, addr, c->addr) == 1)
    c->family = AF_INET6;
  else
    return -1;
  max = c->family == AF_INET ? 32 : 128;
  c->bits = max;
  if (slash != NULL) {
    bits = strtol(slash + 1, &end, 10);
    if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits > max)
      return -1;
    c->bits = (unsigned)bits;
  }

  if (c->family == AF_INET6 && c->bits >= 96 &&
      memcmp(c->addr, mapped_prefix, 12) == 0) {
    memmove(c->addr, c->addr + 12, 4);
    c->family = AF_INET;
    c->bits -= 96;
  }
  return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));

  if (memcmp(a, b, whole) != 0)
    return 0;
  return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

/* The peer as a family and 4 or 16 bytes; mapped IPv6 becomes IPv4. */
static int peer_addr(const struct sockaddr *sa, uint8_t out[16]) {
  const struct sockaddr_in *s4 = (const void *)sa;
  const struct sockaddr_in6 *s6 = (const void *)sa;

  if (sa == NULL)
    return AF_UNSPEC;
  if (sa->sa_family == AF_INET) {
    memcpy(out, &s4->sin_addr, 4);
    return AF_INET;
  }
  if (sa->sa_family != AF_INET6)
    return AF_UNSPEC;
  if (memcmp(s6->sin6_addr.s6_addr, mapped_prefix, 12) == 0) {
    memcpy(out, s6->sin6_addr.s6_addr + 12, 4);
    return AF_INET;
  }
  memcpy(out, s6->sin6_addr.s6_addr, 16);
  return AF_INET6;
}

int proxyproto_trusted(const char *const *cidrs, size_t n,
                       const struct sockaddr *peer) {
  uint8_t addr[16];
  struct cidr c;
  int family = peer_addr(peer, addr);
  size_t i;

  if (family == AF_UNSPEC)
    return 0;
  for (i = 0; i < n; i++)
    if (cidrs[i] != NULL && cidr_parse(cidrs[i], &c) == 0 &&
        c.family == family && prefix_equal(addr, c.addr, c.bits))
      return 1;
  return 0;
}

int proxyproto_cidr_valid(const char *s) {
  struct cidr c;

  return cidr_parse(s, &c) == 0;
}

const char *proxyproto_fault_name(unsigned fault) {
  static const char *const names[] = {
#define PROXYPROTO_NAME_(name, value, token) [value] = token,
      PROXYPROTO_FAULT_MAP(PROXYPROTO_NAME_)
#undef PROXYPROTO_NAME_
  };

  if (fault >= sizeof(names) / sizeof(names[0]) || names[fault] == NULL)
    return "unknown";
  return names[fault];
}
