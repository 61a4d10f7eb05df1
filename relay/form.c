/*
 * Login bodies; see form.h for the accepted syntax.
 *
 * Both formats reduce to the same steps: decode a key, pick the field it
 * names (or none, for an unknown key), then decode the value straight
 * into that field.  Decoding goes through a `sink` that counts every
 * byte but stores only what fits, so an unknown key's value is still
 * checked for syntax, and an over-long value is noticed without ever
 * writing past its field.
 */
#include "relay/form.h"

#include <mbedtls/platform_util.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

/* Longer keys are unknown keys; the known ones are much shorter. */
#define KEY_MAX 15

struct sink {
  char *buf;  /* NULL: count only */
  size_t cap; /* room, the NUL included */
  size_t len; /* bytes decoded, including any that did not fit */
};

/* Where the value of the current key goes. */
struct slot {
  struct sink sink;
  int *has; /* NULL for an unknown key */
  size_t *len;
};

struct cursor {
  const unsigned char *s;
  size_t n;
  size_t i;
  const char *reason;
};

static void put(struct sink *k, unsigned char c) {
  if (k->buf != NULL && k->len + 1 < k->cap)
    k->buf[k->len] = (char)c;
  k->len++;
}

void form_login_wipe(struct form_login *f) {
  mbedtls_platform_zeroize(f, sizeof(*f));
}

/* Chooses where the value of `key` goes; a repeated key is an error. */
static int pick(struct form_login *f, const struct sink *key, struct slot *s) {
  memset(s, 0, sizeof(*s));
  if (key->len > KEY_MAX)
    return 0;
  if (strcmp(key->buf, "user") == 0) {
    s->sink.buf = f->user;
    s->sink.cap = sizeof(f->user);
    s->has = &f->has_user;
  } else if (strcmp(key->buf, "password") == 0) {
    s->sink.buf = f->password;
    s->sink.cap = sizeof(f->password);
    s->has = &f->has_password;
    s->len = &f->password_len;
  } else if (strcmp(key->buf, "otp") == 0) {
    s->sink.buf = f->otp;
    s->sink.cap = sizeof(f->otp);
    s->has = &f->has_otp;
  }
  return s->has != NULL && *s->has ? SP_EPARSE : 0;
}

/* Finishes a value: NUL-terminates it and marks the field as sent. */
static int settle(struct slot *s) {
  if (s->has == NULL)
    return 0;
  if (s->sink.len >= s->sink.cap)
    return SP_ETOOBIG;
  s->sink.buf[s->sink.len] = '\0';
  *s->has = 1;
  if (s->len != NULL)
    *s->len = s->sink.len;
  return 0;
}

static int hex(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes `n` bytes of form-urlencoded text into `k`. */
static int pct_decode(const unsigned char *s, size_t n, struct sink *k) {
  size_t i;
  int c;

  for (i = 0; i < n; i++) {
    c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (n - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
        return SP_EPARSE;
      c = hex(s[i + 1]) << 4 | hex(s[i + 2]);
      i += 2;
    }
    if (c == 0)
      return SP_EPARSE;
    put(k, (unsigned char)c);
  }
  return 0;
}

static int urlencoded_pair(struct form_login *f, const unsigned char *p,
                           size_t n, const char **reason) {
  const unsigned char *eq = memchr(p, '=', n);
  size_t klen = eq != NULL ? (size_t)(eq - p) : n;
  char keybuf[KEY_MAX + 1] = "";
  struct sink key = {keybuf, sizeof(keybuf), 0};
  struct slot s;

  *reason = "malformed percent-encoding";
  if (pct_decode(p, klen, &key) != 0)
    return SP_EPARSE;
  if (key.len <= KEY_MAX)
    keybuf[key.len] = '\0';
  if (pick(f, &key, &s) != 0) {
    *reason = "repeated key";
    return SP_EPARSE;
  }

  if (eq != NULL && pct_decode(eq + 1, n - klen - 1, &s.sink) != 0)
    return SP_EPARSE;
  *reason = "value too long";
  return settle(&s);
}

static int parse_urlencoded(const unsigned char *b, size_t len,
                            struct form_login *f, const char **reason) {
  const unsigned char *amp;
  size_t pos = 0, end;
  int rc;

  while (pos < len) {
    amp = memchr(b + pos, '&', len - pos);
    end = amp != NULL ? (size_t)(amp - b) : len;
    if (end > pos) {
      rc = urlencoded_pair(f, b + pos, end - pos, reason);
      if (rc != 0)
        return rc;
    }
    pos = end + 1;
  }
  return 0;
}

static void skip_ws(struct cursor *c) {
  while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
                         c->s[c->i] == '\n' || c->s[c->i] == '\r'))
    c->i++;
}

static int peek(const struct cursor *c) {
  return c->i < c->n ? c->s[c->i] : -1;
}

static int json_error(struct cursor *c, const char *reason) {
  c->reason = reason;
  return SP_EPARSE;
}

/* The length of the valid UTF-8 sequence at `s`, or 0 (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char lo = 0x80, hi = 0xbf;
  size_t len, i;

  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4;
  else
    return 0;
  if (s[0] == 0xe0)
    lo = 0xa0;
  else if (s[0] == 0xed)
    hi = 0x9f;
  else if (s[0] == 0xf0)
    lo = 0x90;
  else if (s[0] == 0xf4)
    hi = 0x8f;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  }
  return len;
}

static void put_utf8(struct sink *k, uint32_t cp) {
  if (cp < 0x80) {
    put(k, (unsigned char)cp);
  } else if (cp < 0x800) {
    put(k, (unsigned char)(0xc0 | cp >> 6));
    put(k, (unsigned char)(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    put(k, (unsigned char)(0xe0 | cp >> 12));
    put(k, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
    put(k, (unsigned char)(0x80 | (cp & 0x3f)));
  } else {
    put(k, (unsigned char)(0xf0 | cp >> 18));
    put(k, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
    put(k, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
    put(k, (unsigned char)(0x80 | (cp & 0x3f)));
  }
}

/* Reads the 4 hex digits after "\u" at c->i; -1 when they are not. */
static long hex4(struct cursor *c) {
  long v = 0;
  size_t i;

  if (c->n - c->i < 4)
    return -1;
  for (i = 0; i < 4; i++) {
    if (hex(c->s[c->i + i]) < 0)
      return -1;
    v = v << 4 | hex(c->s[c->i + i]);
  }
  c->i += 4;
  return v;
}

/* Decodes \uXXXX, or a surrogate pair of them; c->i is past the "u". */
static int json_unicode(struct cursor *c, struct sink *k) {
  long hi = hex4(c), lo;

  if (hi < 0)
    return json_error(c, "bad \\u escape");
  if (hi >= 0xdc00 && hi <= 0xdfff)
    return json_error(c, "lone low surrogate");
  if (hi >= 0xd800 && hi <= 0xdbff) {
    if (c->n - c->i < 2 || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u')
      return json_error(c, "lone high surrogate");
    c->i += 2;
    lo = hex4(c);
    if (lo < 0xdc00 || lo > 0xdfff)
      return json_error(c, "lone high surrogate");
    hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
  }
  if (hi == 0)
    return json_error(c, "NUL character in string");
  put_utf8(k, (uint32_t)hi);
  return 0;
}

/* Decodes the escape at c->i, which is just past a backslash. */
static int json_escape(struct cursor *c, struct sink *k) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *e;

  if (c->i >= c->n)
    return json_error(c, "unterminated string");
  if (c->s[c->i] == 'u') {
    c->i++;
    return json_unicode(c, k);
  }
  e = c->s[c->i] != '\0' ? strchr(from, c->s[c->i]) : NULL;
  if (e == NULL)
    return json_error(c, "bad escape");
  put(k, (unsigned char)to[e - from]);
  c->i++;
  return 0;
}

/* Decodes the string at c->i into `k`. */
static int json_string(struct cursor *c, struct sink *k) {
  size_t u;
  int rc;

  if (peek(c) != '"')
    return json_error(c, "expected a string");
  c->i++;
  for (;;) {
    if (c->i >= c->n)
      return json_error(c, "unterminated string");
    if (c->s[c->i] == '"')
      break;
    if (c->s[c->i] < 0x20)
      return json_error(c, "control character in string");
    if (c->s[c->i] == '\\') {
      c->i++;
      rc = json_escape(c, k);
      if (rc != 0)
        return rc;
    } else if (c->s[c->i] < 0x80) {
      put(k, c->s[c->i++]);
    } else {
      u = utf8_len(c->s + c->i, c->n - c->i);
      if (u == 0)
        return json_error(c, "invalid UTF-8 in string");
      for (; u > 0; u--)
        put(k, c->s[c->i++]);
    }
  }
  c->i++;
  return 0;
}

static int json_member(struct cursor *c, struct form_login *f) {
  char keybuf[KEY_MAX + 1] = "";
  struct sink key = {keybuf, sizeof(keybuf), 0};
  struct slot s;
  int rc;

  rc = json_string(c, &key);
  if (rc != 0)
    return rc;
  if (key.len <= KEY_MAX)
    keybuf[key.len] = '\0';
  if (pick(f, &key, &s) != 0)
    return json_error(c, "repeated key");
  skip_ws(c);
  if (peek(c) != ':')
    return json_error(c, "expected ':'");
  c->i++;
  skip_ws(c);
  if (peek(c) != '"')
    return json_error(c, "value is not a string");
  rc = json_string(c, &s.sink);
  if (rc != 0)
    return rc;
  rc = settle(&s);
  if (rc != 0)
    c->reason = "value too long";
  return rc;
}

static int json_object(struct cursor *c, struct form_login *f) {
  int rc;

  skip_ws(c);
  if (peek(c) != '{')
    return json_error(c, "body is not a JSON object");
  c->i++;
  skip_ws(c);
  if (peek(c) == '}') {
    c->i++;
    return 0;
  }

  for (;;) {
    rc = json_member(c, f);
    if (rc != 0)
      return rc;
    skip_ws(c);
    if (peek(c) == '}') {
      c->i++;
      return 0;
    }
    if (peek(c) != ',')
      return json_error(c, "expected ',' or '}'");
    c->i++;
    skip_ws(c);
  }
}

static int parse_json(const unsigned char *b, size_t len, struct form_login *f,
                      const char **reason) {
  struct cursor c = {b, len, 0, NULL};
  int rc;

  rc = json_object(&c, f);
  skip_ws(&c);
  if (rc == 0 && c.i != c.n)
    rc = json_error(&c, "bytes after the object");
  *reason = c.reason;
  return rc;
}

enum form_type form_content_type(const char *content_type) {
  static const char form[] = "application/x-www-form-urlencoded";
  static const char json[] = "application/json";
  const char *s = content_type;
  size_t n;

  if (s == NULL)
    return FORM_UNSUPPORTED;
  while (*s == ' ' || *s == '\t')
    s++;
  n = strcspn(s, "; \t");
  if (n == strlen(form) && strncasecmp(s, form, n) == 0)
    return FORM_URLENCODED;
  if (n == strlen(json) && strncasecmp(s, json, n) == 0)
    return FORM_JSON;
  return FORM_UNSUPPORTED;
}

int form_parse_login(enum form_type type, const char *body, size_t len,
                     struct form_login *out, const char **reason) {
  const unsigned char *b = (const unsigned char *)body;
  const char *why = NULL;
  int rc;

  form_login_wipe(out);
  if (type == FORM_URLENCODED)
    rc = parse_urlencoded(b, len, out, &why);
  else if (type == FORM_JSON)
    rc = parse_json(b, len, out, &why);
  else
    rc = SP_EUSAGE;

  if (rc == SP_EUSAGE)
    why = "unsupported body type";

  if (rc != 0)
    form_login_wipe(out);
  if (reason != NULL)
    *reason = rc != 0 ? why : NULL;
  return rc;
}
