#include "common/pack.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void sp_wbuf_init(struct sp_wbuf *w) {
  memset(w, 0, sizeof(*w));
}

void sp_wbuf_free(struct sp_wbuf *w) {
  free(w->p);
  sp_wbuf_init(w);
}

static uint8_t *wbuf_reserve(struct sp_wbuf *w, size_t n) {
  size_t cap;
  uint8_t *p;

  if (w->err != 0)
    return NULL;
  if (n > SIZE_MAX / 4 - w->len) {
    w->err = SP_ETOOBIG;
    return NULL;
  }
  if (w->len + n > w->cap) {
    cap = w->cap ? w->cap : 64;
    while (cap < w->len + n)
      cap *= 2;
    p = realloc(w->p, cap);
    if (p == NULL) {
      w->err = SP_ENOMEM;
      return NULL;
    }
    w->p = p;
    w->cap = cap;
  }
  p = w->p + w->len;
  w->len += n;
  return p;
}

void sp_wbuf_bytes(struct sp_wbuf *w, const void *src, size_t n) {
  uint8_t *p = wbuf_reserve(w, n);

  if (p != NULL && n > 0)
    memcpy(p, src, n);
}

void sp_wbuf_u8(struct sp_wbuf *w, uint8_t v) {
  sp_wbuf_bytes(w, &v, 1);
}

void sp_wbuf_u16(struct sp_wbuf *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

  sp_wbuf_bytes(w, b, sizeof(b));
}

void sp_wbuf_u32(struct sp_wbuf *w, uint32_t v) {
  sp_wbuf_u16(w, (uint16_t)v);
  sp_wbuf_u16(w, (uint16_t)(v >> 16));
}

void sp_wbuf_u64(struct sp_wbuf *w, uint64_t v) {
  sp_wbuf_u32(w, (uint32_t)v);
  sp_wbuf_u32(w, (uint32_t)(v >> 32));
}

void sp_wbuf_strn(struct sp_wbuf *w, const char *s, size_t n) {
  if (n > UINT16_MAX) {
    if (w->err == 0)
      w->err = SP_ETOOBIG;
    return;
  }
  sp_wbuf_u16(w, (uint16_t)n);
  sp_wbuf_bytes(w, s, n);
  sp_wbuf_u8(w, 0);
}

void sp_wbuf_str(struct sp_wbuf *w, const char *s) {
  sp_wbuf_strn(w, s, strlen(s));
}

void sp_rbuf_init(struct sp_rbuf *r, const void *p, size_t len) {
  r->p = p;
  r->len = len;
  r->off = 0;
  r->err = 0;
}

const uint8_t *sp_rbuf_bytes(struct sp_rbuf *r, size_t n) {
  const uint8_t *p;

  if (r->err != 0 || n > r->len - r->off) {
    r->err = SP_ECORRUPT;
    return NULL;
  }
  p = r->p + r->off;
  r->off += n;
  return p;
}

uint8_t sp_rbuf_u8(struct sp_rbuf *r) {
  const uint8_t *p = sp_rbuf_bytes(r, 1);

  return p ? p[0] : 0;
}

uint16_t sp_rbuf_u16(struct sp_rbuf *r) {
  const uint8_t *p = sp_rbuf_bytes(r, 2);

  return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t sp_rbuf_u32(struct sp_rbuf *r) {
  uint32_t lo = sp_rbuf_u16(r);

  return lo | (uint32_t)sp_rbuf_u16(r) << 16;
}

uint64_t sp_rbuf_u64(struct sp_rbuf *r) {
  uint64_t lo = sp_rbuf_u32(r);

  return lo | (uint64_t)sp_rbuf_u32(r) << 32;
}

const char *sp_rbuf_str(struct sp_rbuf *r, size_t *lenp) {
  size_t n = sp_rbuf_u16(r);
  const uint8_t *p = sp_rbuf_bytes(r, n + 1);

  if (p == NULL || p[n] != '\0' || memchr(p, '\0', n) != NULL) {
    r->err = SP_ECORRUPT;
    if (lenp != NULL)
      *lenp = 0;
    return "";
  }
  if (lenp != NULL)
    *lenp = n;
  return (const char *)p;
}
