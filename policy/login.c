#include "policy/login.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "policy/lockout.h"
#include "policy/passwd.h"
#include "policy/totp.h"
#include "policy/user.h"

/* What login needs of a user, copied out so no transaction is held
   across the password hash. */
struct login_user {
  int found;
  uint32_t flags;
  struct passwd_hash pw;
  uint8_t totp[TOTP_SECRET_LEN];
  uint64_t last_step;
};

static int lock_key(char *out, size_t n, char kind, const char *v) {
  return snprintf(out, n, "%c:%s", kind, v);
}

static int lock_read(MDB_txn *txn, struct store *s, const char *key,
                     struct lockout *l) {
  MDB_val val;
  int rc = store_get(txn, s->lockouts, key, strlen(key), &val);

  memset(l, 0, sizeof(*l));
  if (rc == 0 && val.mv_size == sizeof(*l))
    memcpy(l, val.mv_data, sizeof(*l));
  return rc == SP_ENOTFOUND ? 0 : rc;
}

static int check_locks(struct store *s, const struct login_req *req,
                       const char *addr, struct login_res *res) {
  char ukey[96], akey[64];
  struct lockout lu, la;
  MDB_txn *txn;
  int rc;

  lock_key(ukey, sizeof(ukey), 'u', req->user);
  lock_key(akey, sizeof(akey), 'a', addr);
  rc = store_vbegin(s, MDB_RDONLY, &txn);
  if (rc != 0)
    return rc;
  rc = lock_read(txn, s, ukey, &lu);
  if (rc == 0)
    rc = lock_read(txn, s, akey, &la);
  mdb_txn_abort(txn);
  if (rc != 0)
    return rc;
  if (lockout_check(&lu, req->now, &res->retry_after) != 0) {
    res->reason = "locked_user";
    return SP_ELOCKED;
  }
  if (lockout_check(&la, req->now, &res->retry_after) != 0) {
    res->reason = "locked_address";
    return SP_ELOCKED;
  }
  return 0;
}

/* Counts a failure (or clears the user's count after a success). */
static void record(struct store *s, const char *user, const char *addr,
                   int64_t now, int ok) {
  char ukey[96], akey[64];
  struct lockout l;
  MDB_txn *txn;

  lock_key(ukey, sizeof(ukey), 'u', user);
  lock_key(akey, sizeof(akey), 'a', addr);
  if (store_vbegin(s, 0, &txn) != 0)
    return;
  if (lock_read(txn, s, ukey, &l) == 0) {
    if (ok)
      lockout_success(&l);
    else if (lockout_fail(&l, &lockout_user_rule, now))
      sp_warn("login", "locked_out", "user=%s until=%lld", user,
              (long long)l.locked_until);
    store_put(txn, s->lockouts, ukey, strlen(ukey), &l, sizeof(l), 0);
  }
  if (!ok && lock_read(txn, s, akey, &l) == 0) {
    if (lockout_fail(&l, &lockout_addr_rule, now))
      sp_warn("login", "locked_out", "addr=%s until=%lld", addr,
              (long long)l.locked_until);
    store_put(txn, s->lockouts, akey, strlen(akey), &l, sizeof(l), 0);
  }
  if (mdb_txn_commit(txn) != 0)
    sp_warn("login", "lockout_not_saved", "user=%s", user);
}

static int load_user(struct store *s, const char *name, struct login_user *lu) {
  struct user_rec u;
  MDB_txn *txn;
  int rc;

  memset(lu, 0, sizeof(*lu));
  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc != 0)
    return rc;
  rc = user_get(s, txn, name, &u);
  if (rc == 0) {
    lu->found = 1;
    lu->flags = u.flags;
    lu->pw = u.pw;
    memcpy(lu->totp, u.totp, sizeof(lu->totp));
    lu->last_step = u.totp_last_step;
  }
  mdb_txn_abort(txn);
  return rc == SP_ENOTFOUND ? 0 : rc;
}

/*
 * A hash for unknown users, so that they cost the same as known ones.
 * Its salt is fixed and no password matches it in practice.
 */
static const struct passwd_hash decoy = {PASSWD_ITERATIONS, {0}, {0}};

/* Checks the credentials; 0, or SP_EAUTH with res->reason set. */
static int check_secrets(const struct login_req *req,
                         const struct login_user *lu, uint64_t *step,
                         struct login_res *res) {
  int pw_ok, rc;

  pw_ok = passwd_verify(lu->found ? &lu->pw : &decoy, req->password,
                        req->password_len) == 0;
  if (!lu->found)
    res->reason = "unknown_user";
  else if (!pw_ok)
    res->reason = "bad_password";
  else if (lu->flags & USER_DISABLED)
    res->reason = "user_disabled";
  if (res->reason != NULL)
    return SP_EAUTH;
  if (lu->flags & USER_NO_MFA)
    return 0;

  if (req->otp == NULL || req->otp[0] == '\0') {
    res->reason = "missing_otp";
    return SP_EAUTH;
  }
  rc = totp_verify(lu->totp, sizeof(lu->totp), req->otp, req->now,
                   lu->last_step, step);
  if (rc == 0)
    res->mfa = 1;
  else
    res->reason = rc == SP_EREPLAY ? "otp_replayed" : "bad_otp";
  return rc == 0 ? 0 : SP_EAUTH;
}

/* Records the step and issues the token, re-checking under the lock. */
static int commit_login(struct store *s, const struct login_req *req,
                        const char *addr, uint64_t step,
                        struct login_res *res) {
  struct user_rec u;
  MDB_txn *txn;
  int rc;

  rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return rc;
  rc = user_get(s, txn, req->user, &u);
  if (rc == SP_ENOTFOUND || (rc == 0 && (u.flags & USER_DISABLED))) {
    res->reason = rc == 0 ? "user_disabled" : "unknown_user";
    rc = SP_EAUTH;
  } else if (rc == 0 && res->mfa && step <= u.totp_last_step) {
    res->reason = "otp_replayed";
    rc = SP_EAUTH;
  }
  if (rc == 0 && res->mfa) {
    u.totp_last_step = step;
    rc = user_put(s, txn, &u);
  }
  if (rc == 0)
    rc = token_prune(s, txn, req->user, req->now);
  if (rc == 0)
    rc = token_issue(s, txn, req->user, addr, res->mfa, req->now, req->ttl,
                     res->token, &res->expires);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  /* A new token takes nothing away: no re-check of live sessions. */
  return store_commit_quiet(txn);
}

int login(struct store *s, const struct login_req *req, struct login_res *res) {
  char addr[TOKEN_ADDR_MAX];
  struct login_user lu;
  uint64_t step = 0;
  int rc;

  memset(res, 0, sizeof(*res));
  if (token_addr_canon(req->source, addr) != 0)
    return SP_EUSAGE;
  rc = check_locks(s, req, addr, res);
  if (rc != 0)
    return rc;
  rc = load_user(s, req->user, &lu);
  if (rc != 0)
    return rc;

  rc = check_secrets(req, &lu, &step, res);
  memset(&lu, 0, sizeof(lu));
  if (rc == 0)
    rc = commit_login(s, req, addr, step, res);
  if (rc == 0 || rc == SP_EAUTH)
    record(s, req->user, addr, req->now, rc == 0);
  return rc;
}
