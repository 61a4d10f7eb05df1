/*
 * Login: user + password + one-time code + source address -> token.
 *
 * The order of checks is part of the security design:
 *   1. a locked-out user or source address is refused before any
 *      password work, so lockouts also bound the CPU an attacker burns;
 *   2. the password is always hashed, even for unknown or disabled
 *      users, so timing tells nothing about which names exist;
 *   3. the TOTP code must be for a step later than the last accepted one;
 *   4. on success the step is recorded and the token issued in one
 *      write transaction, re-checked inside it, so two concurrent logins
 *      with the same code cannot both succeed.
 * Every failure counts against both the user and the address.
 * Hashing takes a noticeable time (see docs/identity.md): callers on an
 * event loop run login() on a worker thread.
 */
#ifndef SP_POLICY_LOGIN_H
#define SP_POLICY_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "policy/store.h"
#include "policy/token.h"

struct login_req {
  const char *user;
  const char *password;
  size_t password_len;
  const char *otp;    /* NULL or "" when none was sent */
  const char *source; /* client IP address */
  int64_t now;
  int64_t ttl; /* token lifetime in seconds */
};

struct login_res {
  char token[TOKEN_TEXT_MAX];
  int64_t expires;
  int mfa;             /* the login checked a TOTP code */
  int64_t retry_after; /* with SP_ELOCKED: seconds until it lifts */
  /* Why it failed, for the audit log only (never for the client):
     "unknown_user", "bad_password", "user_disabled", "bad_otp",
     "otp_replayed", "missing_otp", "locked_user", "locked_address". */
  const char *reason;
};

/*
 * 0 with a token, SP_ELOCKED (retry_after set), SP_EAUTH (any other
 * failure; res->reason says which), or a store/system error.
 */
int login(struct store *s, const struct login_req *req, struct login_res *res);

#endif
