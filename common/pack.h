/*
 * Little-endian record packing for the store.
 *
 * A writer appends to a growable buffer and remembers the first failure,
 * so a run of puts is checked once at the end.  A reader walks a borrowed
 * byte range and likewise remembers the first short read; every getter
 * returns zero values after a failure, so decoding untrusted bytes needs
 * one check at the end.  Strings are stored as u16 length, the bytes and
 * a NUL, so a reader can hand out pointers straight into the record.
 */
#ifndef SP_COMMON_PACK_H
#define SP_COMMON_PACK_H

#include <stddef.h>
#include <stdint.h>

struct sp_wbuf {
  uint8_t *p; /* owns; NULL until the first put */
  size_t len;
  size_t cap;
  int err; /* first failure (SP_ENOMEM, SP_ETOOBIG) or 0 */
};

void sp_wbuf_init(struct sp_wbuf *w);
void sp_wbuf_free(struct sp_wbuf *w);
void sp_wbuf_u8(struct sp_wbuf *w, uint8_t v);
void sp_wbuf_u16(struct sp_wbuf *w, uint16_t v);
void sp_wbuf_u32(struct sp_wbuf *w, uint32_t v);
void sp_wbuf_u64(struct sp_wbuf *w, uint64_t v);
void sp_wbuf_bytes(struct sp_wbuf *w, const void *p, size_t n);
/* A length-prefixed, NUL-terminated string; at most 65535 bytes. */
void sp_wbuf_str(struct sp_wbuf *w, const char *s);
void sp_wbuf_strn(struct sp_wbuf *w, const char *s, size_t n);

struct sp_rbuf {
  const uint8_t *p; /* borrows */
  size_t len;
  size_t off;
  int err; /* SP_ECORRUPT after the first short or malformed read */
};

void sp_rbuf_init(struct sp_rbuf *r, const void *p, size_t len);
uint8_t sp_rbuf_u8(struct sp_rbuf *r);
uint16_t sp_rbuf_u16(struct sp_rbuf *r);
uint32_t sp_rbuf_u32(struct sp_rbuf *r);
uint64_t sp_rbuf_u64(struct sp_rbuf *r);
/* Borrows `n` bytes from the record; NULL after a failure. */
const uint8_t *sp_rbuf_bytes(struct sp_rbuf *r, size_t n);
/* Borrows a string written by sp_wbuf_str(); "" after a failure. */
const char *sp_rbuf_str(struct sp_rbuf *r, size_t *lenp);

#endif
