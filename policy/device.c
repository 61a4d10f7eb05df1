#include "policy/device.h"

#include <string.h>

#include "common/err.h"
#include "common/pack.h"

#define DEVICE_REC_VERSION 1

static int device_decode(const MDB_val *val, const char *name,
                         struct device_rec *d) {
  struct sp_rbuf r;

  memset(d, 0, sizeof(*d));
  sp_rbuf_init(&r, val->mv_data, val->mv_size);
  if (sp_rbuf_u8(&r) != DEVICE_REC_VERSION)
    return SP_ECORRUPT;
  d->name = name;
  d->user = sp_rbuf_str(&r, NULL);
  sp_rbuf_strlist(&r, &d->tags);
  d->serial = sp_rbuf_str(&r, NULL);
  d->fingerprint = sp_rbuf_str(&r, NULL);
  d->created = (int64_t)sp_rbuf_u64(&r);
  d->not_after = (int64_t)sp_rbuf_u64(&r);
  d->revoked = sp_rbuf_u8(&r);
  return r.err != 0 || r.off != r.len ? SP_ECORRUPT : 0;
}

int device_get(struct store *s, MDB_txn *txn, const char *name,
               struct device_rec *d) {
  MDB_val val;
  int rc = store_get(txn, s->devices, name, strlen(name), &val);

  return rc != 0 ? rc : device_decode(&val, name, d);
}

int device_put(struct store *s, MDB_txn *txn, const struct device_rec *d) {
  struct sp_wbuf w;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, DEVICE_REC_VERSION);
  sp_wbuf_str(&w, d->user);
  sp_wbuf_strlist(&w, &d->tags);
  sp_wbuf_str(&w, d->serial ? d->serial : "");
  sp_wbuf_str(&w, d->fingerprint ? d->fingerprint : "");
  sp_wbuf_u64(&w, (uint64_t)d->created);
  sp_wbuf_u64(&w, (uint64_t)d->not_after);
  sp_wbuf_u8(&w, d->revoked ? 1 : 0);
  rc = w.err;
  if (rc == 0)
    rc = store_put(txn, s->devices, d->name, strlen(d->name), w.p, w.len, 0);
  sp_wbuf_free(&w);
  return rc;
}

struct device_walk {
  int (*fn)(void *ctx, const struct device_rec *d);
  void *ctx;
};

static int device_visit(void *ctx, const char *name, const MDB_val *val) {
  struct device_walk *w = ctx;
  struct device_rec d;
  int rc = device_decode(val, name, &d);

  return rc != 0 ? rc : w->fn(w->ctx, &d);
}

int device_foreach(struct store *s, MDB_txn *txn,
                   int (*fn)(void *ctx, const struct device_rec *d),
                   void *ctx) {
  struct device_walk w = {fn, ctx};

  return store_foreach_name(txn, s->devices, device_visit, &w);
}
