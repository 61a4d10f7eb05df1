#include "policy/connectors.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/sha256.h>
#include <string.h>

#include "common/err.h"
#include "common/pack.h"
#include "common/rand.h"
#include "policy/policy.h"

/* Version 2 added the previous serial and the time of the last renewal;
 * decode() still reads version 1 records. */
#define CONNECTORS_REC_VERSION 2
#define CONNECTORS_REC_V1 1

static const char *const status_names[] = {"pending", "enrolled", "revoked"};

const char *connectors_status_name(unsigned status) {
  return status < 3 ? status_names[status] : "unknown";
}

static int decode(const MDB_val *val, const char *name,
                  struct connectors_rec *c) {
  struct sp_rbuf r;
  const uint8_t *p;
  uint8_t version;

  memset(c, 0, sizeof(*c));
  sp_rbuf_init(&r, val->mv_data, val->mv_size);
  version = sp_rbuf_u8(&r);
  if (version != CONNECTORS_REC_VERSION && version != CONNECTORS_REC_V1)
    return SP_ECORRUPT;
  c->name = name;
  c->status = sp_rbuf_u8(&r);
  if ((p = sp_rbuf_bytes(&r, 32)) != NULL)
    memcpy(c->secret_hash, p, 32);
  c->created = (int64_t)sp_rbuf_u64(&r);
  c->token_expires = (int64_t)sp_rbuf_u64(&r);
  c->enrolled_at = (int64_t)sp_rbuf_u64(&r);
  c->serial = sp_rbuf_str(&r, NULL);
  c->fingerprint = sp_rbuf_str(&r, NULL);
  c->not_after = (int64_t)sp_rbuf_u64(&r);
  c->prev_serial = "";
  if (version >= 2) {
    c->prev_serial = sp_rbuf_str(&r, NULL);
    c->prev_not_after = (int64_t)sp_rbuf_u64(&r);
    c->renewed_at = (int64_t)sp_rbuf_u64(&r);
  }
  return r.err != 0 || r.off != r.len || c->status > 2 ? SP_ECORRUPT : 0;
}

int connectors_get(struct store *s, MDB_txn *txn, const char *name,
                   struct connectors_rec *c) {
  MDB_val val;
  int rc = store_get(txn, s->connectors, name, strlen(name), &val);

  return rc != 0 ? rc : decode(&val, name, c);
}

int connectors_put(struct store *s, MDB_txn *txn,
                   const struct connectors_rec *c) {
  struct sp_wbuf w;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, CONNECTORS_REC_VERSION);
  sp_wbuf_u8(&w, c->status);
  sp_wbuf_bytes(&w, c->secret_hash, 32);
  sp_wbuf_u64(&w, (uint64_t)c->created);
  sp_wbuf_u64(&w, (uint64_t)c->token_expires);
  sp_wbuf_u64(&w, (uint64_t)c->enrolled_at);
  sp_wbuf_str(&w, c->serial ? c->serial : "");
  sp_wbuf_str(&w, c->fingerprint ? c->fingerprint : "");
  sp_wbuf_u64(&w, (uint64_t)c->not_after);
  sp_wbuf_str(&w, c->prev_serial ? c->prev_serial : "");
  sp_wbuf_u64(&w, (uint64_t)c->prev_not_after);
  sp_wbuf_u64(&w, (uint64_t)c->renewed_at);
  rc = w.err;
  if (rc == 0)
    rc = store_put(txn, s->connectors, c->name, strlen(c->name), w.p, w.len, 0);
  sp_wbuf_free(&w);
  return rc;
}

int connectors_add(struct store *s, const char *name, int64_t now, int64_t ttl,
                   uint8_t secret[CONNECTORS_SECRET_LEN]) {
  struct connectors_rec c;
  MDB_txn *txn;
  int rc;

  if (!policy_name_valid(name))
    return SP_EUSAGE;
  rc = sp_random(secret, CONNECTORS_SECRET_LEN);
  if (rc == 0)
    rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return rc;
  rc = connectors_get(s, txn, name, &c);
  if (rc == 0 && c.status == CONNECTORS_ENROLLED)
    rc = SP_EEXIST;
  else if (rc == 0 || rc == SP_ENOTFOUND) {
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.status = CONNECTORS_PENDING;
    c.created = now;
    c.token_expires = now + ttl;
    mbedtls_sha256_ret(secret, CONNECTORS_SECRET_LEN, c.secret_hash, 0);
    rc = connectors_put(s, txn, &c);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_commit(s, txn);
}

static int spend_secret(struct connectors_rec *c, const uint8_t *secret,
                        int64_t now) {
  static const uint8_t zero[32];
  uint8_t hash[32];

  if (c->status != CONNECTORS_PENDING ||
      mbedtls_ct_memcmp(c->secret_hash, zero, 32) == 0)
    return SP_EAUTH;
  mbedtls_sha256_ret(secret, CONNECTORS_SECRET_LEN, hash, 0);
  if (mbedtls_ct_memcmp(hash, c->secret_hash, 32) != 0)
    return SP_EAUTH;
  if (now >= c->token_expires)
    return SP_EEXPIRED;
  memset(c->secret_hash, 0, 32);
  return 0;
}

static int change(struct store *s, const char *name,
                  int (*edit)(struct connectors_rec *c, const void *arg),
                  const void *arg);

struct enrolment {
  const uint8_t *secret;
  int64_t now;
  const char *serial;
  const char *fingerprint;
  int64_t not_after;
};

static int edit_enrol(struct connectors_rec *c, const void *arg) {
  const struct enrolment *e = arg;
  int rc = spend_secret(c, e->secret, e->now);

  if (rc != 0)
    return rc;
  c->status = CONNECTORS_ENROLLED;
  c->enrolled_at = e->now;
  c->serial = e->serial;
  c->fingerprint = e->fingerprint;
  c->not_after = e->not_after;
  return 0;
}

int connectors_enroll(struct store *s, const char *name,
                      const uint8_t secret[CONNECTORS_SECRET_LEN], int64_t now,
                      const char *serial, const char *fingerprint,
                      int64_t not_after) {
  struct enrolment e = {secret, now, serial, fingerprint, not_after};

  return change(s, name, edit_enrol, &e);
}

/* Rewrites a record in one transaction; `edit` may refuse. */
static int change(struct store *s, const char *name,
                  int (*edit)(struct connectors_rec *c, const void *arg),
                  const void *arg) {
  struct connectors_rec c;
  MDB_txn *txn;
  int rc;

  rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return rc;
  rc = connectors_get(s, txn, name, &c);
  if (rc == 0)
    rc = edit(&c, arg);
  if (rc == 0)
    rc = connectors_put(s, txn, &c);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_commit(s, txn);
}

/* Whether `serial` is one a tunnel of `c` may present. */
static int serial_valid(const struct connectors_rec *c, const char *serial) {
  if (serial[0] == '\0')
    return 0;
  return strcmp(c->serial, serial) == 0 ||
         strcmp(c->prev_serial ? c->prev_serial : "", serial) == 0;
}

static int edit_revoke(struct connectors_rec *c, const void *arg) {
  (void)arg;
  c->status = CONNECTORS_REVOKED;
  memset(c->secret_hash, 0, 32);
  c->prev_serial = "";
  c->prev_not_after = 0;
  return 0;
}

struct renewal {
  const char *presented;
  const char *serial;
  const char *fingerprint;
  int64_t not_after;
  int64_t now;
};

static int edit_renew(struct connectors_rec *c, const void *arg) {
  const struct renewal *r = arg;

  if (c->status != CONNECTORS_ENROLLED || !serial_valid(c, r->presented))
    return SP_EAUTH;
  if (c->renewed_at != 0 && r->now >= c->renewed_at &&
      r->now - c->renewed_at < CONNECTORS_RENEW_MIN_INTERVAL)
    return SP_ELIMIT;
  /* The serial the renewing tunnel presented is the one the connector
   * holds a key for: it stays valid until the tunnels have moved.  A
   * current serial that the connector never used (it asked again from an
   * older certificate, say after failing to store the new one) goes. */
  if (strcmp(c->serial, r->presented) == 0)
    c->prev_not_after = c->not_after;
  c->prev_serial = r->presented;
  c->serial = r->serial;
  c->fingerprint = r->fingerprint;
  c->not_after = r->not_after;
  c->renewed_at = r->now;
  return 0;
}

static int edit_retire(struct connectors_rec *c, const void *arg) {
  const char *prev = arg;

  if (c->prev_serial[0] == '\0' || strcmp(c->prev_serial, prev) != 0)
    return SP_ENOTFOUND;
  c->prev_serial = "";
  c->prev_not_after = 0;
  return 0;
}

int connectors_revoke(struct store *s, const char *name) {
  return change(s, name, edit_revoke, NULL);
}

int connectors_renew(struct store *s, const char *name, const char *presented,
                     const char *serial, const char *fingerprint,
                     int64_t not_after, int64_t now) {
  struct renewal r = {presented, serial, fingerprint, not_after, now};

  return change(s, name, edit_renew, &r);
}

int connectors_retire(struct store *s, const char *name, const char *prev) {
  return change(s, name, edit_retire, prev);
}

int connectors_check(struct store *s, MDB_txn *txn, const char *name,
                     const char *serial) {
  struct connectors_rec c;
  int rc = connectors_get(s, txn, name, &c);

  if (rc == SP_ENOTFOUND)
    return SP_EAUTH;
  if (rc != 0)
    return rc;
  if (c.status != CONNECTORS_ENROLLED || !serial_valid(&c, serial))
    return SP_EAUTH;
  return 0;
}

int connectors_foreach(struct store *s, MDB_txn *txn,
                       int (*fn)(void *ctx, const struct connectors_rec *c),
                       void *ctx) {
  char name[80];
  struct connectors_rec c;
  MDB_cursor *cur = NULL;
  MDB_val k, v;
  int rc, op = MDB_FIRST;

  rc = store_err(mdb_cursor_open(txn, s->connectors, &cur));
  while (rc == 0 && mdb_cursor_get(cur, &k, &v, op) == 0) {
    op = MDB_NEXT;
    if (k.mv_size >= sizeof(name))
      continue;
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = '\0';
    rc = decode(&v, name, &c);
    if (rc == 0)
      rc = fn(ctx, &c);
  }
  if (cur != NULL)
    mdb_cursor_close(cur);
  return rc > 0 ? 0 : rc;
}

int connectors_live_put(struct store *s, MDB_txn *vtxn, const char *name,
                        const struct connectors_live *l) {
  struct sp_wbuf w;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u32(&w, l->tunnels);
  sp_wbuf_str(&w, l->address ? l->address : "");
  sp_wbuf_u64(&w, (uint64_t)l->last_seen);
  sp_wbuf_u64(&w, (uint64_t)l->heartbeat);
  rc = w.err;
  if (rc == 0)
    rc = store_put(vtxn, s->live, name, strlen(name), w.p, w.len, 0);
  sp_wbuf_free(&w);
  return rc;
}

int connectors_live_get(struct store *s, MDB_txn *vtxn, const char *name,
                        struct connectors_live *l) {
  struct sp_rbuf r;
  MDB_val val;
  int rc = store_get(vtxn, s->live, name, strlen(name), &val);

  if (rc != 0)
    return rc;
  sp_rbuf_init(&r, val.mv_data, val.mv_size);
  l->tunnels = sp_rbuf_u32(&r);
  l->address = sp_rbuf_str(&r, NULL);
  l->last_seen = (int64_t)sp_rbuf_u64(&r);
  l->heartbeat = (int64_t)sp_rbuf_u64(&r);
  return r.err;
}

static const char heartbeat_key[] = "\0relay";

int relay_heartbeat_put(struct store *s, MDB_txn *vtxn, int64_t now) {
  uint8_t buf[8];
  int i;

  for (i = 0; i < 8; i++)
    buf[i] = (uint8_t)((uint64_t)now >> (8 * i));
  return store_put(vtxn, s->live, heartbeat_key, 6, buf, 8, 0);
}

int64_t relay_heartbeat_get(struct store *s, MDB_txn *vtxn) {
  struct sp_rbuf r;
  MDB_val val;

  if (store_get(vtxn, s->live, heartbeat_key, 6, &val) != 0)
    return 0;
  sp_rbuf_init(&r, val.mv_data, val.mv_size);
  return (int64_t)sp_rbuf_u64(&r);
}
