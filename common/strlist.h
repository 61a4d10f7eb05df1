/*
 * A packed list of strings: a count and the strings back to back in the
 * record format of common/pack.h (u16 length, bytes, NUL).  Lists decoded
 * from the store borrow the store's memory; lists built by a parser point
 * into a buffer that the parser owns.  Lookups are linear: the lists this
 * holds (groups, tags, a rule's users) are short.
 */
#ifndef SP_COMMON_STRLIST_H
#define SP_COMMON_STRLIST_H

#include <stddef.h>
#include <stdint.h>

#include "common/pack.h"

struct sp_strlist {
  const uint8_t *p; /* borrows; NULL when empty */
  size_t len;       /* bytes at p */
  uint32_t n;       /* number of strings */
};

struct sp_strlist_iter {
  struct sp_rbuf r;
  uint32_t left;
};

void sp_strlist_iter_init(struct sp_strlist_iter *it,
                          const struct sp_strlist *l);
/* The next string (borrowed), or NULL at the end. */
const char *sp_strlist_next(struct sp_strlist_iter *it);
int sp_strlist_has(const struct sp_strlist *l, const char *s);

/* Appends `l` to a record: u32 count, u32 byte length, the strings. */
void sp_wbuf_strlist(struct sp_wbuf *w, const struct sp_strlist *l);
/* Reads a list written by sp_wbuf_strlist(), borrowing the record. */
void sp_rbuf_strlist(struct sp_rbuf *r, struct sp_strlist *l);

/*
 * Builds a list from `n` C strings at the end of `w`, which the caller
 * owns.  The list points into w->p: it stays valid until `w` is freed or
 * grows again, so build one list per buffer.  Returns 0 or w->err.
 */
int sp_strlist_build(struct sp_strlist *l, struct sp_wbuf *w,
                     const char *const *items, size_t n);

#endif
