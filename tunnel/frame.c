/*
 * The frame codec.  Both directions go through one set of rules:
 * tunnel_frame_check() validates a struct tunnel_frame, the decoder calls
 * it on what it parsed and the encoder on what it is asked to write, so
 * whatever we send, our own decoder accepts, and the decoder's strictness
 * makes every accepted frame have exactly one encoding (the fuzzer checks
 * that re-encoding a decoded frame gives back the same bytes).
 */
#include "tunnel/frame.h"

#include <arpa/inet.h>
#include <assert.h>
#include <string.h>

#include "common/err.h"

/* Which stream ids a type may carry. */
enum stream_kind {
  ON_TUNNEL, /* stream 0 only */
  ON_STREAM, /* non-zero only */
};

/* The shape of each type's payload, checked as soon as a header arrives. */
struct type_rule {
  uint8_t known;
  uint8_t stream;   /* enum stream_kind */
  uint8_t flags;    /* the flags this type may carry */
  uint16_t min_len; /* payload bytes with every string empty */
  uint16_t max_len; /* payload bytes with every string at its limit */
};

#define STR_(max) (2 + (max))
#define HELLO_MIN (2 + 1 + 4 + 2 + 2)
#define OPEN_MIN (4 + 8 + 6 * 2)
#define RESULT_MIN (1 + 4 + 2)
#define GOAWAY_MIN (4 + 4 + 2)

static const struct type_rule type_rules[] = {
    [TUNNEL_HELLO] = {1, ON_TUNNEL, 0, HELLO_MIN,
                      HELLO_MIN + TUNNEL_NAME_MAX + TUNNEL_SOFTWARE_MAX},
    [TUNNEL_OPEN] = {1, ON_STREAM, 0, OPEN_MIN,
                     OPEN_MIN + TUNNEL_DEST_MAX + 4 * TUNNEL_NAME_MAX +
                         TUNNEL_ADDR_MAX},
    [TUNNEL_OPEN_RESULT] = {1, ON_STREAM, 0, RESULT_MIN,
                            RESULT_MIN + TUNNEL_ADDR_MAX},
    [TUNNEL_DATA] = {1, ON_STREAM, TUNNEL_FLAG_FIN, 0, TUNNEL_MAX_PAYLOAD},
    [TUNNEL_WINDOW_UPDATE] = {1, ON_STREAM, 0, 4, 4},
    [TUNNEL_RESET] = {1, ON_STREAM, 0, 4, 4},
    [TUNNEL_PING] = {1, ON_TUNNEL, TUNNEL_FLAG_ACK, 8, 8},
    [TUNNEL_GOAWAY] = {1, ON_TUNNEL, 0, GOAWAY_MIN,
                       GOAWAY_MIN + TUNNEL_DETAIL_MAX},
    [TUNNEL_CERT_RENEW] = {1, ON_TUNNEL, 0, 2, STR_(TUNNEL_PEM_MAX)},
    [TUNNEL_CERT_ISSUED] = {1, ON_TUNNEL, 0, 3, 1 + STR_(TUNNEL_PEM_MAX)},
};

#define N_TYPES (sizeof(type_rules) / sizeof(type_rules[0]))

/* The rules that hold for a frame whatever its payload. */
static enum tunnel_frame_fault header_fault(unsigned type, unsigned flags,
                                            uint32_t stream) {
  const struct type_rule *r;

  if (type >= N_TYPES || !type_rules[type].known)
    return TUNNEL_FAULT_UNKNOWN_TYPE;
  r = &type_rules[type];
  if ((flags & ~(unsigned)r->flags) != 0)
    return TUNNEL_FAULT_BAD_FLAGS;
  if ((r->stream == ON_TUNNEL) != (stream == 0))
    return TUNNEL_FAULT_BAD_STREAM;
  return TUNNEL_FAULT_NONE;
}

/* The length rule, for a header that passed header_fault(). */
static enum tunnel_frame_fault length_fault(unsigned type, size_t len) {
  if (len > TUNNEL_MAX_PAYLOAD)
    return TUNNEL_FAULT_OVERSIZED;
  if (len < type_rules[type].min_len || len > type_rules[type].max_len)
    return TUNNEL_FAULT_BAD_LENGTH;
  return TUNNEL_FAULT_NONE;
}

/* Character classes of string fields. */
enum str_class {
  CLASS_NAME, /* [A-Za-z0-9._@-], starting with a letter or digit */
  CLASS_TEXT, /* printable ASCII, spaces included */
  CLASS_PEM,  /* printable ASCII, CR and LF */
};

static int is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

static int char_ok(unsigned char c, enum str_class cls, size_t i) {
  switch (cls) {
  case CLASS_NAME:
    return is_alnum(c) || (i > 0 && strchr("._@-", c) != NULL && c != 0);
  case CLASS_TEXT:
    return c >= 0x20 && c <= 0x7e;
  case CLASS_PEM:
    return (c >= 0x20 && c <= 0x7e) || c == '\n' || c == '\r';
  }
  return 0;
}

static enum tunnel_frame_fault str_fault(const struct tunnel_str *s, size_t max,
                                         enum str_class cls, int required) {
  size_t i;

  if (s->len > max)
    return TUNNEL_FAULT_STRING_TOO_LONG;
  if ((s->len == 0 && required) || (s->len > 0 && s->p == NULL))
    return TUNNEL_FAULT_BAD_STRING;
  for (i = 0; i < s->len; i++) {
    if (!char_ok((unsigned char)s->p[i], cls, i))
      return TUNNEL_FAULT_BAD_STRING;
  }
  return TUNNEL_FAULT_NONE;
}

/* Evaluates each check in turn and returns the first fault. */
#define FIRST_FAULT(expr)                                                      \
  do {                                                                         \
    enum tunnel_frame_fault fault_ = (expr);                                   \
    if (fault_ != TUNNEL_FAULT_NONE)                                           \
      return fault_;                                                           \
  } while (0)

static enum tunnel_frame_fault hello_fault(const struct tunnel_frame_hello *h) {
  FIRST_FAULT(str_fault(&h->name, TUNNEL_NAME_MAX, CLASS_NAME, 1));
  FIRST_FAULT(str_fault(&h->software, TUNNEL_SOFTWARE_MAX, CLASS_TEXT, 0));
  if (h->version == 0 ||
      (h->role != TUNNEL_ROLE_RELAY && h->role != TUNNEL_ROLE_CONNECTOR))
    return TUNNEL_FAULT_BAD_VALUE;
  return TUNNEL_FAULT_NONE;
}

static enum tunnel_frame_fault open_fault(const struct tunnel_frame_open *o) {
  FIRST_FAULT(str_fault(&o->dest, TUNNEL_DEST_MAX, CLASS_TEXT, 1));
  FIRST_FAULT(str_fault(&o->user, TUNNEL_NAME_MAX, CLASS_NAME, 1));
  FIRST_FAULT(str_fault(&o->resource, TUNNEL_NAME_MAX, CLASS_NAME, 1));
  FIRST_FAULT(str_fault(&o->rule, TUNNEL_NAME_MAX, CLASS_NAME, 1));
  FIRST_FAULT(str_fault(&o->device, TUNNEL_NAME_MAX, CLASS_NAME, 0));
  FIRST_FAULT(str_fault(&o->client, TUNNEL_ADDR_MAX, CLASS_TEXT, 1));
  if (o->window > TUNNEL_WINDOW_MAX)
    return TUNNEL_FAULT_BAD_VALUE;
  if (tunnel_frame_dest_split(o->dest.p, o->dest.len, NULL, 0, NULL) != 0)
    return TUNNEL_FAULT_BAD_DEST;
  return TUNNEL_FAULT_NONE;
}

static enum tunnel_frame_fault
result_fault(const struct tunnel_frame_open_result *r) {
  int ok = r->result == TUNNEL_RESULT_OK;

  FIRST_FAULT(str_fault(&r->address, TUNNEL_ADDR_MAX, CLASS_TEXT, ok));
  if (r->result > TUNNEL_RESULT_ERROR || r->window > TUNNEL_WINDOW_MAX)
    return TUNNEL_FAULT_BAD_VALUE;
  return TUNNEL_FAULT_NONE;
}

static enum tunnel_frame_fault
issued_fault(const struct tunnel_frame_cert_issued *c) {
  int ok = c->status == TUNNEL_CERT_OK;

  FIRST_FAULT(str_fault(&c->pem, TUNNEL_PEM_MAX, CLASS_PEM, ok));
  if (c->status > TUNNEL_CERT_UNAVAILABLE || (!ok && c->pem.len > 0))
    return TUNNEL_FAULT_BAD_VALUE;
  return TUNNEL_FAULT_NONE;
}

static int reset_known(uint32_t code) {
  return code >= TUNNEL_RESET_CANCEL && code <= TUNNEL_RESET_INTERNAL;
}

static int goaway_known(uint32_t code) {
  return code >= TUNNEL_GOAWAY_SHUTDOWN && code <= TUNNEL_GOAWAY_INTERNAL;
}

/* The checks of each type's fields; the header is checked by the caller. */
static enum tunnel_frame_fault payload_fault(const struct tunnel_frame *f) {
  const struct tunnel_str *s;

  switch (f->type) {
  case TUNNEL_HELLO:
    return hello_fault(&f->u.hello);
  case TUNNEL_OPEN:
    return open_fault(&f->u.open);
  case TUNNEL_OPEN_RESULT:
    return result_fault(&f->u.open_result);
  case TUNNEL_DATA:
    if (f->u.data.len > TUNNEL_MAX_PAYLOAD)
      return TUNNEL_FAULT_OVERSIZED;
    if ((f->u.data.len == 0 && !(f->flags & TUNNEL_FLAG_FIN)) ||
        (f->u.data.len > 0 && f->u.data.p == NULL))
      return TUNNEL_FAULT_BAD_VALUE;
    return TUNNEL_FAULT_NONE;
  case TUNNEL_WINDOW_UPDATE:
    if (f->u.window_increment == 0 || f->u.window_increment > TUNNEL_WINDOW_MAX)
      return TUNNEL_FAULT_BAD_VALUE;
    return TUNNEL_FAULT_NONE;
  case TUNNEL_RESET:
    return reset_known(f->u.reset_code) ? TUNNEL_FAULT_NONE
                                        : TUNNEL_FAULT_BAD_VALUE;
  case TUNNEL_GOAWAY:
    s = &f->u.goaway.detail;
    FIRST_FAULT(str_fault(s, TUNNEL_DETAIL_MAX, CLASS_TEXT, 0));
    return goaway_known(f->u.goaway.code) ? TUNNEL_FAULT_NONE
                                          : TUNNEL_FAULT_BAD_VALUE;
  case TUNNEL_CERT_RENEW:
    return str_fault(&f->u.csr, TUNNEL_PEM_MAX, CLASS_PEM, 1);
  case TUNNEL_CERT_ISSUED:
    return issued_fault(&f->u.cert_issued);
  }
  return TUNNEL_FAULT_NONE;
}

enum tunnel_frame_fault tunnel_frame_check(const struct tunnel_frame *f) {
  /* The length rule follows from the string limits checked here. */
  FIRST_FAULT(header_fault(f->type, f->flags, f->stream));
  return payload_fault(f);
}

/*
 * A reader over one payload.  A read past the end marks it short and
 * yields zeroes, so a parser checks once at the end.
 */
struct rd {
  const uint8_t *p;
  size_t len;
  size_t off;
  int short_read;
};

static const uint8_t *rd_bytes(struct rd *r, size_t n) {
  const uint8_t *p;

  if (r->short_read || n > r->len - r->off) {
    r->short_read = 1;
    return NULL;
  }
  p = r->p + r->off;
  r->off += n;
  return p;
}

static uint64_t rd_uint(struct rd *r, size_t n) {
  const uint8_t *p = rd_bytes(r, n);
  uint64_t v = 0;
  size_t i;

  for (i = 0; p != NULL && i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

static struct tunnel_str rd_str(struct rd *r) {
  struct tunnel_str s;

  s.len = (size_t)rd_uint(r, 2);
  s.p = (const char *)rd_bytes(r, s.len);
  if (s.p == NULL)
    s.len = 0;
  return s;
}

static void get_hello(struct rd *r, struct tunnel_frame_hello *h) {
  h->version = (uint16_t)rd_uint(r, 2);
  h->role = (uint8_t)rd_uint(r, 1);
  h->max_streams = (uint32_t)rd_uint(r, 4);
  h->name = rd_str(r);
  h->software = rd_str(r);
}

static void get_open(struct rd *r, struct tunnel_frame_open *o) {
  o->window = (uint32_t)rd_uint(r, 4);
  o->expires = rd_uint(r, 8);
  o->dest = rd_str(r);
  o->user = rd_str(r);
  o->resource = rd_str(r);
  o->rule = rd_str(r);
  o->device = rd_str(r);
  o->client = rd_str(r);
}

static void get_payload(struct rd *r, struct tunnel_frame *f) {
  const uint8_t *p;

  switch (f->type) {
  case TUNNEL_HELLO:
    get_hello(r, &f->u.hello);
    break;
  case TUNNEL_OPEN:
    get_open(r, &f->u.open);
    break;
  case TUNNEL_OPEN_RESULT:
    f->u.open_result.result = (uint8_t)rd_uint(r, 1);
    f->u.open_result.window = (uint32_t)rd_uint(r, 4);
    f->u.open_result.address = rd_str(r);
    break;
  case TUNNEL_DATA:
    f->u.data.len = r->len;
    f->u.data.p = rd_bytes(r, r->len);
    break;
  case TUNNEL_WINDOW_UPDATE:
    f->u.window_increment = (uint32_t)rd_uint(r, 4);
    break;
  case TUNNEL_RESET:
    f->u.reset_code = (uint32_t)rd_uint(r, 4);
    break;
  case TUNNEL_PING:
    p = rd_bytes(r, sizeof(f->u.ping));
    if (p != NULL)
      memcpy(f->u.ping, p, sizeof(f->u.ping));
    break;
  case TUNNEL_GOAWAY:
    f->u.goaway.last_stream = (uint32_t)rd_uint(r, 4);
    f->u.goaway.code = (uint32_t)rd_uint(r, 4);
    f->u.goaway.detail = rd_str(r);
    break;
  case TUNNEL_CERT_RENEW:
    f->u.csr = rd_str(r);
    break;
  case TUNNEL_CERT_ISSUED:
    f->u.cert_issued.status = (uint8_t)rd_uint(r, 1);
    f->u.cert_issued.pem = rd_str(r);
    break;
  }
}

static int decode_fail(enum tunnel_frame_fault *fault,
                       enum tunnel_frame_fault why) {
  if (fault != NULL)
    *fault = why;
  return SP_EPROTO;
}

int tunnel_frame_decode(const uint8_t *buf, size_t len, struct tunnel_frame *f,
                        size_t *consumed, enum tunnel_frame_fault *fault) {
  struct rd r = {0};
  enum tunnel_frame_fault why;
  size_t plen;

  memset(f, 0, sizeof(*f));
  *consumed = 0;
  if (fault != NULL)
    *fault = TUNNEL_FAULT_NONE;
  if (len < TUNNEL_HEADER_SIZE)
    return SP_EINCOMPLETE;

  f->type = buf[0];
  f->flags = buf[1];
  plen = ((size_t)buf[2] << 8) | buf[3];
  f->stream = ((uint32_t)buf[4] << 24) | ((uint32_t)buf[5] << 16) |
              ((uint32_t)buf[6] << 8) | buf[7];
  why = header_fault(f->type, f->flags, f->stream);
  if (why == TUNNEL_FAULT_NONE)
    why = length_fault(f->type, plen);
  if (why != TUNNEL_FAULT_NONE)
    return decode_fail(fault, why);
  if (len - TUNNEL_HEADER_SIZE < plen)
    return SP_EINCOMPLETE;

  r.p = buf + TUNNEL_HEADER_SIZE;
  r.len = plen;
  get_payload(&r, f);
  if (r.short_read)
    return decode_fail(fault, TUNNEL_FAULT_TRUNCATED);
  if (r.off != r.len)
    return decode_fail(fault, TUNNEL_FAULT_TRAILING);
  why = payload_fault(f);
  if (why != TUNNEL_FAULT_NONE)
    return decode_fail(fault, why);

  *consumed = TUNNEL_HEADER_SIZE + plen;
  return 0;
}

/* A writer into the caller's buffer; it notes an overflow and stops. */
struct wr {
  uint8_t *p;
  size_t cap;
  size_t off;
  int overflow;
};

static void wr_bytes(struct wr *w, const void *src, size_t n) {
  if (w->overflow || n > w->cap - w->off) {
    w->overflow = 1;
    return;
  }
  if (n > 0)
    memcpy(w->p + w->off, src, n);
  w->off += n;
}

static void wr_uint(struct wr *w, uint64_t v, size_t n) {
  uint8_t b[8];
  size_t i;

  assert(n <= sizeof(b));
  for (i = 0; i < n; i++)
    b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  wr_bytes(w, b, n);
}

static void wr_str(struct wr *w, const struct tunnel_str *s) {
  wr_uint(w, s->len, 2);
  wr_bytes(w, s->p, s->len);
}

static void put_hello(struct wr *w, const struct tunnel_frame_hello *h) {
  wr_uint(w, h->version, 2);
  wr_uint(w, h->role, 1);
  wr_uint(w, h->max_streams, 4);
  wr_str(w, &h->name);
  wr_str(w, &h->software);
}

static void put_open(struct wr *w, const struct tunnel_frame_open *o) {
  wr_uint(w, o->window, 4);
  wr_uint(w, o->expires, 8);
  wr_str(w, &o->dest);
  wr_str(w, &o->user);
  wr_str(w, &o->resource);
  wr_str(w, &o->rule);
  wr_str(w, &o->device);
  wr_str(w, &o->client);
}

static void put_payload(struct wr *w, const struct tunnel_frame *f) {
  switch (f->type) {
  case TUNNEL_HELLO:
    put_hello(w, &f->u.hello);
    break;
  case TUNNEL_OPEN:
    put_open(w, &f->u.open);
    break;
  case TUNNEL_OPEN_RESULT:
    wr_uint(w, f->u.open_result.result, 1);
    wr_uint(w, f->u.open_result.window, 4);
    wr_str(w, &f->u.open_result.address);
    break;
  case TUNNEL_DATA:
    wr_bytes(w, f->u.data.p, f->u.data.len);
    break;
  case TUNNEL_WINDOW_UPDATE:
    wr_uint(w, f->u.window_increment, 4);
    break;
  case TUNNEL_RESET:
    wr_uint(w, f->u.reset_code, 4);
    break;
  case TUNNEL_PING:
    wr_bytes(w, f->u.ping, 8);
    break;
  case TUNNEL_GOAWAY:
    wr_uint(w, f->u.goaway.last_stream, 4);
    wr_uint(w, f->u.goaway.code, 4);
    wr_str(w, &f->u.goaway.detail);
    break;
  case TUNNEL_CERT_RENEW:
    wr_str(w, &f->u.csr);
    break;
  case TUNNEL_CERT_ISSUED:
    wr_uint(w, f->u.cert_issued.status, 1);
    wr_str(w, &f->u.cert_issued.pem);
    break;
  }
}

static void put_header(uint8_t *out, unsigned type, unsigned flags,
                       uint32_t stream, size_t len) {
  out[0] = (uint8_t)type;
  out[1] = (uint8_t)flags;
  out[2] = (uint8_t)(len >> 8);
  out[3] = (uint8_t)len;
  out[4] = (uint8_t)(stream >> 24);
  out[5] = (uint8_t)(stream >> 16);
  out[6] = (uint8_t)(stream >> 8);
  out[7] = (uint8_t)stream;
}

int tunnel_frame_encode(const struct tunnel_frame *f, uint8_t *out,
                        size_t out_size, size_t *written) {
  struct wr w = {out, out_size, TUNNEL_HEADER_SIZE, 0};
  size_t plen;

  if (tunnel_frame_check(f) != TUNNEL_FAULT_NONE)
    return SP_EUSAGE;
  if (out_size < TUNNEL_HEADER_SIZE)
    return SP_ETOOBIG;

  put_payload(&w, f);
  if (w.overflow)
    return SP_ETOOBIG;

  /* The string limits keep every valid payload within one frame. */
  plen = w.off - TUNNEL_HEADER_SIZE;
  assert(plen <= type_rules[f->type].max_len);
  put_header(out, f->type, f->flags, f->stream, plen);
  *written = w.off;
  return 0;
}

size_t tunnel_frame_encode_data_header(uint8_t out[TUNNEL_HEADER_SIZE],
                                       uint32_t stream, size_t len, int fin) {
  assert(stream != 0);
  assert(len <= TUNNEL_MAX_PAYLOAD);
  assert(len > 0 || fin);
  put_header(out, TUNNEL_DATA, fin ? TUNNEL_FLAG_FIN : 0, stream, len);
  return TUNNEL_HEADER_SIZE;
}

int tunnel_frame_sender_ok(uint8_t type, enum tunnel_role sender) {
  switch (type) {
  case TUNNEL_OPEN:
  case TUNNEL_CERT_ISSUED:
    return sender == TUNNEL_ROLE_RELAY;
  case TUNNEL_OPEN_RESULT:
  case TUNNEL_CERT_RENEW:
    return sender == TUNNEL_ROLE_CONNECTOR;
  case TUNNEL_HELLO:
  case TUNNEL_DATA:
  case TUNNEL_WINDOW_UPDATE:
  case TUNNEL_RESET:
  case TUNNEL_PING:
  case TUNNEL_GOAWAY:
    return sender == TUNNEL_ROLE_RELAY || sender == TUNNEL_ROLE_CONNECTOR;
  }
  return 0;
}

/* Parses 1 to 5 decimal digits without a leading zero, 1..65535. */
static int parse_port(const char *s, size_t len, uint16_t *port) {
  unsigned long v = 0;
  size_t i;

  if (len == 0 || len > 5 || s[0] == '0')
    return SP_EPARSE;
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return SP_EPARSE;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535)
    return SP_EPARSE;
  *port = (uint16_t)v;
  return 0;
}

/*
 * Whether `len` bytes at `s` are an IPv6 literal.  The characters are
 * checked first: inet_pton() stops at a NUL and would pass "::1\0junk".
 */
static int ipv6_literal_ok(const char *s, size_t len) {
  char buf[INET6_ADDRSTRLEN];
  uint8_t addr[16];
  size_t i;

  if (len == 0 || len >= sizeof(buf))
    return 0;
  for (i = 0; i < len; i++) {
    if (!is_alnum((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
      return 0;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  return inet_pton(AF_INET6, buf, addr) == 1;
}

static int host_name_chars_ok(const char *s, size_t len) {
  size_t i;

  if (len == 0 || len > TUNNEL_HOST_MAX)
    return 0;
  for (i = 0; i < len; i++) {
    if (!is_alnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' &&
        s[i] != '_')
      return 0;
  }
  return 1;
}

int tunnel_frame_dest_split(const char *dest, size_t len, char *host,
                            size_t host_size, uint16_t *port) {
  const char *h = dest;
  size_t colon = len, hlen;
  uint16_t p;

  while (colon > 0 && dest[colon - 1] != ':')
    colon--;
  if (colon == 0 || parse_port(dest + colon, len - colon, &p) != 0)
    return SP_EPARSE;

  hlen = colon - 1;
  if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
    if (!ipv6_literal_ok(h, hlen))
      return SP_EPARSE;
  } else if (!host_name_chars_ok(h, hlen)) {
    return SP_EPARSE;
  }

  if (host != NULL) {
    if (host_size <= hlen)
      return SP_ETOOBIG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
  }
  if (port != NULL)
    *port = p;
  return 0;
}

struct token {
  unsigned value;
  const char *name;
};

static const char *token_find(const struct token *t, size_t n, unsigned v) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (t[i].value == v)
      return t[i].name;
  }
  return "unknown";
}

#define TOKEN_ROW_(name, value, token) {value, token},
#define TOKEN_FN_(fn, map)                                                     \
  const char *fn(unsigned v) {                                                 \
    static const struct token t[] = {map(TOKEN_ROW_)};                         \
    return token_find(t, sizeof(t) / sizeof(t[0]), v);                         \
  }

#define TYPE_MAP_(X)                                                           \
  X(TUNNEL_HELLO, TUNNEL_HELLO, "hello")                                       \
  X(TUNNEL_OPEN, TUNNEL_OPEN, "open")                                          \
  X(TUNNEL_OPEN_RESULT, TUNNEL_OPEN_RESULT, "open_result")                     \
  X(TUNNEL_DATA, TUNNEL_DATA, "data")                                          \
  X(TUNNEL_WINDOW_UPDATE, TUNNEL_WINDOW_UPDATE, "window_update")               \
  X(TUNNEL_RESET, TUNNEL_RESET, "reset")                                       \
  X(TUNNEL_PING, TUNNEL_PING, "ping")                                          \
  X(TUNNEL_GOAWAY, TUNNEL_GOAWAY, "goaway")                                    \
  X(TUNNEL_CERT_RENEW, TUNNEL_CERT_RENEW, "cert_renew")                        \
  X(TUNNEL_CERT_ISSUED, TUNNEL_CERT_ISSUED, "cert_issued")

#define ROLE_MAP_(X)                                                           \
  X(TUNNEL_ROLE_RELAY, TUNNEL_ROLE_RELAY, "relay")                             \
  X(TUNNEL_ROLE_CONNECTOR, TUNNEL_ROLE_CONNECTOR, "connector")

TOKEN_FN_(tunnel_frame_type_name, TYPE_MAP_)
TOKEN_FN_(tunnel_frame_result_name, TUNNEL_RESULT_MAP)
TOKEN_FN_(tunnel_frame_reset_name, TUNNEL_RESET_MAP)
TOKEN_FN_(tunnel_frame_goaway_name, TUNNEL_GOAWAY_MAP)
TOKEN_FN_(tunnel_frame_cert_status_name, TUNNEL_CERT_MAP)
TOKEN_FN_(tunnel_frame_fault_name, TUNNEL_FAULT_MAP)
TOKEN_FN_(tunnel_frame_role_name, ROLE_MAP_)

struct tunnel_str tunnel_frame_str(const char *s) {
  struct tunnel_str t;

  t.p = s != NULL ? s : "";
  t.len = strlen(t.p);
  return t;
}
