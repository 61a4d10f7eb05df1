/*
 * Users: name, groups, password hash, TOTP secret and state, stored in
 * the durable store under their name.
 */
#ifndef SP_POLICY_USER_H
#define SP_POLICY_USER_H

#include <stddef.h>
#include <stdint.h>

#include "common/strlist.h"
#include "policy/passwd.h"
#include "policy/store.h"
#include "policy/totp.h"

enum user_flags {
  USER_DISABLED = 1u << 0,
  USER_NO_MFA = 1u << 1,
};

struct user_rec {
  const char *name; /* borrows the caller's name */
  uint32_t flags;
  int64_t created;
  struct sp_strlist groups; /* borrows the record */
  struct passwd_hash pw;
  uint8_t totp[TOTP_SECRET_LEN];
  uint64_t totp_last_step; /* 0: no code accepted yet */
};

/* Reads `name` within `txn`; the record borrows the transaction. */
int user_get(struct store *s, MDB_txn *txn, const char *name,
             struct user_rec *u);

/* Writes `u` under u->name, replacing any record. */
int user_put(struct store *s, MDB_txn *txn, const struct user_rec *u);

/*
 * Creates a user with a fresh TOTP secret (returned in `totp_out`, unless
 * no_mfa).  Hashes the password with PASSWD_ITERATIONS (or `iterations`
 * if non-zero, for tests).  SP_EEXIST if the name is taken.
 */
int user_add(struct store *s, const char *name, const struct sp_strlist *groups,
             const char *pw, size_t pw_len, int no_mfa, uint32_t iterations,
             int64_t now, uint8_t totp_out[TOTP_SECRET_LEN]);

/* Disabling also revokes every token of the user. */
int user_set_disabled(struct store *s, const char *name, int disabled);

/* Removes the user and revokes every token of the user. */
int user_remove(struct store *s, const char *name);

/* Calls `fn` for every user in name order; stops on a non-zero return. */
int user_foreach(struct store *s,
                 int (*fn)(void *ctx, const struct user_rec *u), void *ctx);

#endif
