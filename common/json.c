#include "common/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at `s`, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s) {
  size_t n, i;
  uint32_t cp;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2, cp = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3, cp = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4, cp = s[0] & 0x07;
  else
    return 0;
  for (i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n;
}

/* Whether `c` goes into a JSON string as it is: printable ASCII other
   than the two characters that must be escaped. */
static int json_plain(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void sp_json_quote(struct sp_wbuf *w, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  char esc[8];
  size_t n;

  sp_wbuf_u8(w, '"');
  while (*s != '\0') {
    for (n = 0; json_plain(s[n]); n++)
      ;
    if (n > 0) { /* the common case: one copy for the whole run */
      sp_wbuf_bytes(w, s, n);
      s += n;
    } else if (*s == '"' || *s == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*s++;
      sp_wbuf_bytes(w, esc, 2);
    } else if (*s < 0x20 || *s == 0x7f) {
      snprintf(esc, sizeof(esc), "\\u%04x", *s++);
      sp_wbuf_bytes(w, esc, 6);
    } else if ((n = utf8_len(s)) == 0) {
      sp_wbuf_bytes(w, "\xef\xbf\xbd", 3);
      s++;
    } else {
      sp_wbuf_bytes(w, s, n);
      s += n;
    }
  }
  sp_wbuf_u8(w, '"');
}

void sp_json_begin(struct sp_json *j) {
  sp_wbuf_init(&j->w);
  sp_wbuf_u8(&j->w, '{');
  j->first = 1;
}

static void json_key(struct sp_json *j, const char *key) {
  if (!j->first)
    sp_wbuf_u8(&j->w, ',');
  j->first = 0;
  sp_json_quote(&j->w, key);
  sp_wbuf_u8(&j->w, ':');
}

void sp_json_str(struct sp_json *j, const char *key, const char *v) {
  if (v == NULL) {
    sp_json_null(j, key);
    return;
  }
  json_key(j, key);
  sp_json_quote(&j->w, v);
}

void sp_json_int(struct sp_json *j, const char *key, int64_t v) {
  char num[32];
  int n = snprintf(num, sizeof(num), "%" PRId64, v);

  json_key(j, key);
  sp_wbuf_bytes(&j->w, num, (size_t)n);
}

void sp_json_bool(struct sp_json *j, const char *key, int v) {
  json_key(j, key);
  sp_wbuf_bytes(&j->w, v ? "true" : "false", v ? 4 : 5);
}

void sp_json_null(struct sp_json *j, const char *key) {
  json_key(j, key);
  sp_wbuf_bytes(&j->w, "null", 4);
}

void sp_json_raw(struct sp_json *j, const char *key, const char *raw) {
  json_key(j, key);
  sp_wbuf_bytes(&j->w, raw, strlen(raw));
}

const char *sp_json_end(struct sp_json *j) {
  sp_wbuf_u8(&j->w, '}');
  sp_wbuf_u8(&j->w, '\0');
  return j->w.err != 0 ? NULL : (const char *)j->w.p;
}

void sp_json_free(struct sp_json *j) {
  sp_wbuf_free(&j->w);
}
