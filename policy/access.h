/*
 * Deciding a request from the store: the relay's hot path, and
 * `policy explain`.
 *
 * access_decide() canonicalises the destination, finds the one resource
 * at that address, reads the user, the user's policy groups and the
 * candidate rules, and calls policy_decide().  All reads happen in the
 * caller's read transaction, which should be short (renew, decide,
 * reset); the result copies what it needs so the transaction can end.
 */
#ifndef SP_POLICY_ACCESS_H
#define SP_POLICY_ACCESS_H

#include <stdint.h>

#include "common/strlist.h"
#include "policy/policy.h"
#include "policy/store.h"

#define ACCESS_NAME_MAX 65

struct access_query {
  const char *user;
  const char *dest; /* "host:port" as the client sent it */
  int mfa;
  const char *device; /* NULL: no device */
  struct sp_strlist device_tags;
  const char *country; /* ISO alpha-2; NULL or "" when unknown */
  uint32_t asn;        /* 0 when unknown */
  int64_t now;
  int risk;
};

struct access_result {
  int allow;
  enum policy_reason reason;
  char rule[ACCESS_NAME_MAX];        /* "" when no rule decided */
  char report_rule[ACCESS_NAME_MAX]; /* "" when none */
  char resource[ACCESS_NAME_MAX];    /* "" when no resource matched */
  char connector[ACCESS_NAME_MAX];
  char address[POLICY_ADDR_MAX]; /* the canonical destination, or "" */
};

/* Decides `q`; 0 with `out` filled (allow or deny), or a store error. */
int access_decide(struct store *s, MDB_txn *txn, const struct access_query *q,
                  struct access_result *out);

/*
 * Decides `q` against every rule of the live policy and hands each
 * rule's verdict to `fn` in file order before returning.
 */
int access_explain(struct store *s, MDB_txn *txn, const struct access_query *q,
                   struct access_result *out,
                   void (*fn)(void *ctx, const struct policy_verdict *v),
                   void *ctx);

/*
 * Whether the live policy has rules with countries / not_countries
 * (*countries) or asns / not_asns (*asns), which need GeoIP databases.
 */
int access_policy_needs_geo(struct store *s, MDB_txn *txn, int *countries,
                            int *asns);

#endif
