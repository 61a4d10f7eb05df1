/*
 * The relay's registry of connectors, in the durable store, and their
 * live status, in the volatile one.
 *
 * A connector is added (`connector add`), which stores the SHA-256 of a
 * one-time enrolment secret and its expiry; enrolment proves the secret,
 * has the relay sign the connector's own key, and records the issued
 * certificate's serial, which tunnels must then present.  Revocation
 * marks the record; the running relay drops the connector's tunnels when
 * it sees the change.
 *
 *   durable, key = name: u8 version, u8 status, 32 bytes secret hash
 *   (zero once used), i64 created, i64 token_expires, i64 enrolled_at,
 *   str serial, str fingerprint, i64 not_after
 *
 *   volatile "live", key = name: u32 tunnels, str address, i64
 *   last_seen, i64 heartbeat (the relay rewrites it every second while
 *   it runs; a reader treats a heartbeat older than a few seconds as "no
 *   relay running": offline).
 */
#ifndef SP_POLICY_CONNECTORS_H
#define SP_POLICY_CONNECTORS_H

#include <stdint.h>

#include "policy/store.h"

#define CONNECTORS_SECRET_LEN 32
#define CONNECTORS_LIVE_STALE 5 /* seconds without a heartbeat: offline */

enum connectors_status {
  CONNECTORS_PENDING = 0,
  CONNECTORS_ENROLLED = 1,
  CONNECTORS_REVOKED = 2,
};

struct connectors_rec {
  const char *name; /* borrows the caller's name */
  uint8_t status;
  uint8_t secret_hash[32];
  int64_t created;
  int64_t token_expires;
  int64_t enrolled_at;
  const char *serial; /* borrows the record; "" before enrolment */
  const char *fingerprint;
  int64_t not_after;
};

struct connectors_live {
  uint32_t tunnels;
  const char *address; /* borrows the record */
  int64_t last_seen;
  int64_t heartbeat;
};

const char *connectors_status_name(unsigned status);

int connectors_get(struct store *s, MDB_txn *txn, const char *name,
                   struct connectors_rec *c);
int connectors_put(struct store *s, MDB_txn *txn,
                   const struct connectors_rec *c);

/*
 * Adds `name` (or gives a pending or revoked one a new secret) with a
 * fresh enrolment secret valid for `ttl` seconds, returned in `secret`.
 * SP_EEXIST if it is enrolled: revoke it first.
 */
int connectors_add(struct store *s, const char *name, int64_t now, int64_t ttl,
                   uint8_t secret[CONNECTORS_SECRET_LEN]);

/*
 * Spends the one-time secret: 0 if `name` is pending, the secret matches
 * and has not expired; SP_EAUTH, SP_EEXPIRED or SP_ENOTFOUND otherwise.
 * On success the record becomes enrolled with the certificate's details.
 */
int connectors_enroll(struct store *s, const char *name,
                      const uint8_t secret[CONNECTORS_SECRET_LEN], int64_t now,
                      const char *serial, const char *fingerprint,
                      int64_t not_after);

/* Records a renewed certificate for an enrolled connector. */
int connectors_renew(struct store *s, const char *name, const char *serial,
                     const char *fingerprint, int64_t not_after);

/* Marks `name` revoked; SP_ENOTFOUND if there is no such connector. */
int connectors_revoke(struct store *s, const char *name);

/*
 * Whether a tunnel presenting a certificate for `name` with `serial` may
 * stay up: 0, or SP_EAUTH (unknown, not enrolled, revoked or an older
 * certificate).
 */
int connectors_check(struct store *s, MDB_txn *txn, const char *name,
                     const char *serial);

int connectors_foreach(struct store *s, MDB_txn *txn,
                       int (*fn)(void *ctx, const struct connectors_rec *c),
                       void *ctx);

/* Live status, kept by the running relay in the volatile store. */
int connectors_live_put(struct store *s, MDB_txn *vtxn, const char *name,
                        const struct connectors_live *l);
int connectors_live_get(struct store *s, MDB_txn *vtxn, const char *name,
                        struct connectors_live *l);

/*
 * The running relay's own heartbeat (a key of its own in "live"), so
 * `connector list` and `sessions` can tell a running relay from a
 * stopped one.  0 from the getter when there is none.
 */
int relay_heartbeat_put(struct store *s, MDB_txn *vtxn, int64_t now);
int64_t relay_heartbeat_get(struct store *s, MDB_txn *vtxn);

#endif
