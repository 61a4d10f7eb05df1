#include "common/strlist.h"

#include <string.h>

#include "common/err.h"

void sp_strlist_iter_init(struct sp_strlist_iter *it,
                          const struct sp_strlist *l) {
  sp_rbuf_init(&it->r, l->p, l->len);
  it->left = l->n;
}

const char *sp_strlist_next(struct sp_strlist_iter *it) {
  const char *s;

  if (it->left == 0)
    return NULL;
  it->left--;
  s = sp_rbuf_str(&it->r, NULL);
  return it->r.err != 0 ? NULL : s;
}

int sp_strlist_has(const struct sp_strlist *l, const char *s) {
  struct sp_strlist_iter it;
  const char *x;

  sp_strlist_iter_init(&it, l);
  while ((x = sp_strlist_next(&it)) != NULL)
    if (strcmp(x, s) == 0)
      return 1;
  return 0;
}

void sp_wbuf_strlist(struct sp_wbuf *w, const struct sp_strlist *l) {
  sp_wbuf_u32(w, l->n);
  sp_wbuf_u32(w, (uint32_t)l->len);
  sp_wbuf_bytes(w, l->p, l->len);
}

void sp_rbuf_strlist(struct sp_rbuf *r, struct sp_strlist *l) {
  struct sp_strlist_iter it;

  l->n = sp_rbuf_u32(r);
  l->len = sp_rbuf_u32(r);
  l->p = sp_rbuf_bytes(r, l->len);
  if (r->err != 0) {
    memset(l, 0, sizeof(*l));
    return;
  }

  /* Validate once here so that iterating later cannot go wrong. */
  sp_strlist_iter_init(&it, l);
  while (it.left > 0 && sp_strlist_next(&it) != NULL)
    ;
  if (it.left != 0 || it.r.err != 0 || it.r.off != l->len) {
    r->err = SP_ECORRUPT;
    memset(l, 0, sizeof(*l));
  }
}

int sp_strlist_build(struct sp_strlist *l, struct sp_wbuf *w,
                     const char *const *items, size_t n) {
  size_t i, start = w->len;

  for (i = 0; i < n; i++)
    sp_wbuf_str(w, items[i]);
  if (w->err != 0)
    return w->err;
  l->p = w->p + start;
  l->len = w->len - start;
  l->n = (uint32_t)n;
  return 0;
}
