/*
 * Access tokens: what a login returns and what clients send as the proxy
 * password.
 *
 * A token is "spt_" followed by 256 random bits in unpadded base64url.
 * The store keeps only its SHA-256 (so a copy of the store yields no
 * usable token) with the user, the source address of the login it is
 * bound to, its issue and expiry times and whether it came from an MFA
 * login.  A token's id, shown to admins, is the first 16 hex digits of
 * that hash: enough to revoke it, useless to log in.
 */
#ifndef SP_POLICY_TOKEN_H
#define SP_POLICY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "policy/store.h"

#define TOKEN_RAW_LEN 32
#define TOKEN_PREFIX "spt_"
#define TOKEN_TEXT_MAX 64 /* "spt_" + 43 characters + NUL */
#define TOKEN_ID_LEN 16
#define TOKEN_ADDR_MAX 48 /* an IPv6 address in text, with its NUL */

struct token_rec {
  const char *user;   /* borrows the record */
  const char *source; /* canonical IP address the token is bound to */
  int64_t issued;
  int64_t expires;
  int mfa;
  char id[TOKEN_ID_LEN + 1];
  uint8_t hash[32]; /* the store's key, for token_recheck() */
};

/*
 * Canonical text of an IP address (IPv4-mapped IPv6 becomes IPv4), as
 * tokens and lockouts key on it.  SP_EUSAGE when `in` is no address.
 */
int token_addr_canon(const char *in, char out[TOKEN_ADDR_MAX]);

/* Issues a token within a write transaction; writes its text to `out`. */
int token_issue(struct store *s, MDB_txn *txn, const char *user,
                const char *source, int mfa, int64_t now, int64_t ttl,
                char out[TOKEN_TEXT_MAX], int64_t *expires);

/*
 * Checks a token presented by `user` from `source` at `now`: 0 and the
 * record (borrowing `txn`), or SP_ETOKEN (unknown, malformed, revoked or
 * another user's), SP_EEXPIRED, or SP_EBINDING (another source address).
 */
int token_check(struct store *s, MDB_txn *txn, const char *user,
                const char *token, const char *source, int64_t now,
                struct token_rec *out);

/*
 * Whether the token with store key `hash` (from a token_check() record)
 * is still live at `now`: 0, SP_ETOKEN (revoked) or SP_EEXPIRED.  For
 * re-checking live connections without keeping the token itself.
 */
int token_recheck(struct store *s, MDB_txn *txn, const uint8_t hash[32],
                  int64_t now);

/* Revokes every token of `user`; *count gets how many (may be NULL). */
int token_revoke_user(struct store *s, MDB_txn *txn, const char *user,
                      size_t *count);

/* Revokes one token by id; SP_ENOTFOUND if no token has that id. */
int token_revoke_id(struct store *s, MDB_txn *txn, const char *id);

/* Deletes the expired tokens of `user` (all users when NULL). */
int token_prune(struct store *s, MDB_txn *txn, const char *user, int64_t now);

/* Calls `fn` for each token (of `user`, or all when NULL). */
int token_foreach(struct store *s, MDB_txn *txn, const char *user,
                  int (*fn)(void *ctx, const struct token_rec *t), void *ctx);

#endif
