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
 * Renewal (CERT_RENEW on a tunnel) records a new current serial and keeps
 * the one the renewing tunnel presented as the *previous* serial, which
 * tunnels may still present: the connector moves its tunnels to the new
 * certificate one at a time, and none of them has to drop at the moment
 * the record changes.  The relay forgets the previous serial once every
 * tunnel of the connector presents the current one (connectors_retire),
 * at the next renewal, or at revocation, which refuses both.
 *
 *   durable, key = name: u8 version (2), u8 status, 32 bytes secret
 *   hash (zero once used), i64 created, i64 token_expires, i64
 *   enrolled_at, str serial, str fingerprint, i64 not_after, then since
 *   version 2: str prev_serial ("" when none), i64 prev_not_after, i64
 *   renewed_at (0 before the first renewal).  A version 1 record reads as
 *   one with no previous serial and is written back as version 2.
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
/* The least time between two renewals of one connector, in seconds, so
 * that a connector (or a stolen key) cannot make the relay sign and sync
 * the store in a loop. */
#define CONNECTORS_RENEW_MIN_INTERVAL 60
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
  const char *prev_serial; /* borrows the record; "" when none */
  int64_t prev_not_after;  /* 0 when there is no previous serial */
  int64_t renewed_at;      /* the last renewal; 0 before the first */
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

/*
 * Records a renewed certificate (`serial`, `fingerprint`, `not_after`)
 * for `name`, asked for on a tunnel that presented `presented`.  That
 * serial becomes the previous one, so the tunnels still using it stay
 * valid; any other serial is forgotten.  0; SP_EAUTH when `name` is not
 * enrolled or `presented` is neither its current nor its previous
 * serial; SP_ELIMIT within CONNECTORS_RENEW_MIN_INTERVAL seconds of the
 * last renewal; SP_ENOTFOUND; or a store error.
 */
int connectors_renew(struct store *s, const char *name, const char *presented,
                     const char *serial, const char *fingerprint,
                     int64_t not_after, int64_t now);

/*
 * Forgets the previous serial of `name` if it is `prev`: no tunnel needs
 * it any more.  0; SP_ENOTFOUND when there is no such connector or its
 * previous serial is another (nothing is written then).
 */
int connectors_retire(struct store *s, const char *name, const char *prev);

/* Marks `name` revoked, which refuses its current and previous serials;
 * SP_ENOTFOUND if there is no such connector. */
int connectors_revoke(struct store *s, const char *name);

/*
 * Whether a tunnel presenting a certificate for `name` with `serial` may
 * stay up: 0 for the current or the previous serial of an enrolled
 * connector, or SP_EAUTH (unknown, not enrolled, revoked or an older
 * certificate).  Expiry is not checked here: TLS refuses an expired
 * certificate at the handshake.
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
