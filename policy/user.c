#include "policy/user.h"

#include <string.h>

#include "common/err.h"
#include "common/pack.h"
#include "common/rand.h"
#include "policy/policy.h"
#include "policy/token.h"

#define USER_REC_VERSION 1

static int user_decode(const MDB_val *val, const char *name,
                       struct user_rec *u) {
  struct sp_rbuf r;
  const uint8_t *p;

  memset(u, 0, sizeof(*u));
  sp_rbuf_init(&r, val->mv_data, val->mv_size);
  if (sp_rbuf_u8(&r) != USER_REC_VERSION)
    return SP_ECORRUPT;
  u->name = name;
  u->flags = sp_rbuf_u32(&r);
  u->created = (int64_t)sp_rbuf_u64(&r);
  u->pw.iterations = sp_rbuf_u32(&r);
  if ((p = sp_rbuf_bytes(&r, PASSWD_SALT_LEN)) != NULL)
    memcpy(u->pw.salt, p, PASSWD_SALT_LEN);
  if ((p = sp_rbuf_bytes(&r, PASSWD_HASH_LEN)) != NULL)
    memcpy(u->pw.hash, p, PASSWD_HASH_LEN);
  if ((p = sp_rbuf_bytes(&r, TOTP_SECRET_LEN)) != NULL)
    memcpy(u->totp, p, TOTP_SECRET_LEN);
  u->totp_last_step = sp_rbuf_u64(&r);
  sp_rbuf_strlist(&r, &u->groups);
  if (!PASSWD_ITERATIONS_OK(u->pw.iterations))
    return SP_ECORRUPT;
  return r.err != 0 || r.off != r.len ? SP_ECORRUPT : 0;
}

int user_get(struct store *s, MDB_txn *txn, const char *name,
             struct user_rec *u) {
  MDB_val val;
  int rc;

  rc = store_get(txn, s->users, name, strlen(name), &val);
  if (rc != 0)
    return rc;
  return user_decode(&val, name, u);
}

int user_put(struct store *s, MDB_txn *txn, const struct user_rec *u) {
  struct sp_wbuf w;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, USER_REC_VERSION);
  sp_wbuf_u32(&w, u->flags);
  sp_wbuf_u64(&w, (uint64_t)u->created);
  sp_wbuf_u32(&w, u->pw.iterations);
  sp_wbuf_bytes(&w, u->pw.salt, PASSWD_SALT_LEN);
  sp_wbuf_bytes(&w, u->pw.hash, PASSWD_HASH_LEN);
  sp_wbuf_bytes(&w, u->totp, TOTP_SECRET_LEN);
  sp_wbuf_u64(&w, u->totp_last_step);
  sp_wbuf_strlist(&w, &u->groups);
  rc = w.err;
  if (rc == 0)
    rc = store_put(txn, s->users, u->name, strlen(u->name), w.p, w.len, 0);
  sp_wbuf_free(&w);
  return rc;
}

int user_add(struct store *s, const char *name, const struct sp_strlist *groups,
             const char *pw, size_t pw_len, int no_mfa, uint32_t iterations,
             int64_t now, uint8_t totp_out[TOTP_SECRET_LEN]) {
  struct user_rec u;
  MDB_txn *txn;
  MDB_val val;
  int rc;

  if (!policy_name_valid(name))
    return SP_EUSAGE;
  memset(&u, 0, sizeof(u));
  u.name = name;
  u.flags = no_mfa ? USER_NO_MFA : 0;
  u.created = now;
  u.groups = *groups;

  /* Hash before the write transaction: it takes a while. */
  rc = passwd_hash(&u.pw, pw, pw_len,
                   iterations ? iterations : PASSWD_ITERATIONS);
  if (rc == 0 && !no_mfa)
    rc = sp_random(u.totp, sizeof(u.totp));
  if (rc != 0)
    return rc;

  rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return rc;
  rc = store_get(txn, s->users, name, strlen(name), &val);
  if (rc == 0)
    rc = SP_EEXIST;
  else if (rc == SP_ENOTFOUND)
    rc = user_put(s, txn, &u);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  rc = store_commit(s, txn);
  if (rc == 0 && !no_mfa)
    memcpy(totp_out, u.totp, TOTP_SECRET_LEN);
  memset(&u, 0, sizeof(u));
  return rc;
}

/* Runs `edit` on the user inside one write transaction. */
static int user_change(struct store *s, const char *name,
                       int (*edit)(struct store *, MDB_txn *, struct user_rec *,
                                   int),
                       int arg) {
  struct user_rec u;
  MDB_txn *txn;
  int rc;

  rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return rc;
  rc = user_get(s, txn, name, &u);
  if (rc == 0)
    rc = edit(s, txn, &u, arg);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_commit(s, txn);
}

static int edit_disabled(struct store *s, MDB_txn *txn, struct user_rec *u,
                         int disabled) {
  struct sp_wbuf copy;
  int rc;

  /* The record borrows the page we are about to overwrite: copy first. */
  sp_wbuf_init(&copy);
  sp_wbuf_bytes(&copy, u->groups.p, u->groups.len);
  if (copy.err != 0)
    return copy.err;
  u->groups.p = copy.p;
  if (disabled)
    u->flags |= USER_DISABLED;
  else
    u->flags &= ~(uint32_t)USER_DISABLED;
  rc = user_put(s, txn, u);
  if (rc == 0 && disabled)
    rc = token_revoke_user(s, txn, u->name, NULL);
  sp_wbuf_free(&copy);
  return rc;
}

static int edit_remove(struct store *s, MDB_txn *txn, struct user_rec *u,
                       int unused) {
  int rc = token_revoke_user(s, txn, u->name, NULL);

  if (rc == 0)
    rc = store_del(txn, s->users, u->name, strlen(u->name));
  return rc;
}

int user_set_disabled(struct store *s, const char *name, int disabled) {
  return user_change(s, name, edit_disabled, disabled);
}

int user_remove(struct store *s, const char *name) {
  return user_change(s, name, edit_remove, 0);
}

struct user_walk {
  int (*fn)(void *ctx, const struct user_rec *u);
  void *ctx;
};

static int user_visit(void *ctx, const char *name, const MDB_val *val) {
  struct user_walk *w = ctx;
  struct user_rec u;
  int rc = user_decode(val, name, &u);

  return rc != 0 ? rc : w->fn(w->ctx, &u);
}

int user_foreach(struct store *s,
                 int (*fn)(void *ctx, const struct user_rec *u), void *ctx) {
  struct user_walk w = {fn, ctx};
  MDB_txn *txn;
  int rc;

  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc != 0)
    return rc;
  rc = store_foreach_name(txn, s->users, user_visit, &w);
  mdb_txn_abort(txn);
  return rc;
}
