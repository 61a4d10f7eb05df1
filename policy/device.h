/*
 * Devices: a client certificate registered to one user, with tags that
 * rules can require (device_tags).  Stored under the device's name:
 *
 *   u8 version, str user, strlist tags, str serial (hex), str
 *   fingerprint (hex SHA-256 of the certificate), i64 created,
 *   i64 not_after, u8 revoked
 *
 * A revoked device stays listed (so its certificate is recognised and
 * refused) until it is added again under the same name.
 */
#ifndef SP_POLICY_DEVICE_H
#define SP_POLICY_DEVICE_H

#include <stdint.h>

#include "common/strlist.h"
#include "policy/store.h"

struct device_rec {
  const char *name; /* borrows the caller's name */
  const char *user; /* the rest borrows the record */
  struct sp_strlist tags;
  const char *serial;
  const char *fingerprint;
  int64_t created;
  int64_t not_after;
  int revoked;
};

int device_get(struct store *s, MDB_txn *txn, const char *name,
               struct device_rec *d);
int device_put(struct store *s, MDB_txn *txn, const struct device_rec *d);

/* Calls `fn` for every device in name order; stops on a non-zero return. */
int device_foreach(struct store *s, MDB_txn *txn,
                   int (*fn)(void *ctx, const struct device_rec *d), void *ctx);

#endif
