#include "policy/access.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/pack.h"
#include "policy/compile.h"
#include "policy/rulerec.h"
#include "policy/user.h"

/* Rules a decision usually needs fit here; more go to the heap. */
#define ACCESS_STACK_RULES 32

static void copy_name(char *dst, const char *src) {
  size_t n = src ? strlen(src) : 0;

  if (n >= ACCESS_NAME_MAX)
    n = ACCESS_NAME_MAX - 1;
  memcpy(dst, src ? src : "", n);
  dst[n] = '\0';
}

static int get_prefixed(MDB_txn *txn, MDB_dbi dbi, char prefix,
                        const char *name, MDB_val *val) {
  char key[512];
  size_t n = strlen(name);

  if (n + 1 > sizeof(key))
    return SP_ENOTFOUND;
  key[0] = prefix;
  memcpy(key + 1, name, n);
  return store_get(txn, dbi, key, n + 1, val);
}

/* Points rule->tz at its zone's table, unless the rule is in UTC. */
static int load_tz(struct store *s, MDB_txn *txn, struct policy_rule *rule) {
  MDB_val val;
  int rc;

  if (strcmp(rule->tz.name, "UTC") == 0)
    return 0;
  rc = get_prefixed(txn, s->policy, 'z', rule->tz.name, &val);
  if (rc != 0 || val.mv_size % POLICY_TZ_ENTRY != 0)
    return SP_ECORRUPT;
  rule->tz.trans = val.mv_data;
  rule->tz.n = (uint32_t)(val.mv_size / POLICY_TZ_ENTRY);
  return 0;
}

/* Reads rule `index` from its own key (for explain's full list). */
static int load_rule(struct store *s, MDB_txn *txn, uint32_t index,
                     struct policy_rule *rule) {
  uint8_t key[5];
  MDB_val val;
  int rc;

  rulerec_key(key, index);
  rc = store_get(txn, s->policy, key, sizeof(key), &val);
  if (rc == SP_ENOTFOUND)
    return SP_ECORRUPT;
  if (rc == 0)
    rc = rulerec_decode(val.mv_data, val.mv_size, index, rule);
  return rc == 0 ? load_tz(s, txn, rule) : rc;
}

/* Decodes the next rule inlined in a resource record. */
static int next_rule(struct store *s, MDB_txn *txn, struct sp_rbuf *list,
                     struct policy_rule *rule) {
  uint32_t index = sp_rbuf_u32(list), len = sp_rbuf_u32(list);
  const uint8_t *p = sp_rbuf_bytes(list, len);
  int rc;

  if (p == NULL)
    return SP_ECORRUPT;
  rc = rulerec_decode(p, len, index, rule);
  return rc == 0 ? load_tz(s, txn, rule) : rc;
}

/* Fills the parts of the request that come from the user's records. */
static int load_subject(struct store *s, MDB_txn *txn,
                        const struct access_query *q,
                        struct policy_request *req) {
  struct user_rec u;
  struct sp_rbuf r;
  MDB_val val;
  int rc;

  rc = q->user ? user_get(s, txn, q->user, &u) : SP_ENOTFOUND;
  if (rc == SP_ENOTFOUND)
    return 0;
  if (rc != 0)
    return rc;
  req->user = q->user;
  req->user_disabled = (u.flags & USER_DISABLED) != 0;
  req->groups = u.groups;

  rc = get_prefixed(txn, s->policy, 'm', q->user, &val);
  if (rc == SP_ENOTFOUND)
    return 0;
  if (rc != 0)
    return rc;
  sp_rbuf_init(&r, val.mv_data, val.mv_size);
  sp_rbuf_strlist(&r, &req->pgroups);
  return r.err;
}

static void build_request(const struct access_query *q,
                          struct policy_request *req) {
  memset(req, 0, sizeof(*req));
  req->mfa = q->mfa;
  req->device = q->device;
  req->device_tags = q->device_tags;
  if (q->country != NULL && strlen(q->country) == 2)
    memcpy(req->country, q->country, 2);
  else
    memcpy(req->country, "XX", 2);
  req->asn = q->asn;
  req->now = q->now;
  req->risk = q->risk;
}

struct resource_view {
  const char *name;
  const char *connector;
  struct sp_rbuf rules; /* positioned at the u32 rule count */
};

static int load_resource(struct store *s, MDB_txn *txn, const char *addr,
                         struct resource_view *rv) {
  MDB_val val;
  int rc;

  rc = get_prefixed(txn, s->policy, 'a', addr, &val);
  if (rc != 0)
    return rc;
  sp_rbuf_init(&rv->rules, val.mv_data, val.mv_size);
  if (sp_rbuf_u8(&rv->rules) != POLICY_DB_VERSION)
    return SP_ECORRUPT;
  rv->name = sp_rbuf_str(&rv->rules, NULL);
  sp_rbuf_str(&rv->rules, NULL);
  rv->connector = sp_rbuf_str(&rv->rules, NULL);
  return rv->rules.err;
}

static void finish(const struct policy_decision *d, struct access_result *out) {
  out->allow = d->allow;
  out->reason = d->reason;
  copy_name(out->rule, d->rule);
  copy_name(out->report_rule, d->report_rule);
}

static int decide_rules(struct store *s, MDB_txn *txn,
                        const struct policy_request *req, struct sp_rbuf *list,
                        struct access_result *out) {
  struct policy_rule stack[ACCESS_STACK_RULES], *rules = stack;
  struct policy_decision d;
  uint32_t i, n = sp_rbuf_u32(list);
  int rc = list->err;

  if (rc == 0 && n > (list->len - list->off) / 8)
    rc = SP_ECORRUPT;
  if (rc == 0 && n > ACCESS_STACK_RULES) {
    rules = malloc(n * sizeof(*rules));
    if (rules == NULL)
      return SP_ENOMEM;
  }
  for (i = 0; i < n && rc == 0; i++)
    rc = next_rule(s, txn, list, &rules[i]);
  if (rc == 0) {
    policy_decide(req, rules, n, &d, NULL);
    finish(&d, out);
  }
  if (rules != stack)
    free(rules);
  return rc;
}

int access_decide(struct store *s, MDB_txn *txn, const struct access_query *q,
                  struct access_result *out) {
  struct policy_request req;
  struct policy_decision d;
  struct resource_view rv;
  int rc;

  memset(out, 0, sizeof(*out));
  build_request(q, &req);
  rc = load_subject(s, txn, q, &req);
  if (rc != 0)
    return rc;
  if (policy_addr_canon(q->dest, out->address, sizeof(out->address)) != 0)
    out->address[0] = '\0';

  rc =
      out->address[0] ? load_resource(s, txn, out->address, &rv) : SP_ENOTFOUND;
  if (rc == SP_ENOTFOUND) {
    policy_decide(&req, NULL, 0, &d, NULL);
    finish(&d, out);
    return 0;
  }
  if (rc != 0)
    return rc;
  req.resource = rv.name;
  copy_name(out->resource, rv.name);
  copy_name(out->connector, rv.connector);
  return decide_rules(s, txn, &req, &rv.rules, out);
}

/* Reads every rule of the live policy, in file order. */
static int load_all_rules(struct store *s, MDB_txn *txn,
                          struct policy_rule **rulesp, size_t *np) {
  struct policy_meta meta;
  struct policy_rule *rules;
  uint32_t i;
  int rc;

  *rulesp = NULL;
  *np = 0;
  rc = policy_meta_get(s, txn, &meta);
  if (rc == SP_ENOTFOUND)
    return 0;
  if (rc != 0)
    return rc;
  rules = calloc((size_t)meta.n_rules + 1, sizeof(*rules));
  if (rules == NULL)
    return SP_ENOMEM;
  for (i = 0; i < meta.n_rules && rc == 0; i++)
    rc = load_rule(s, txn, i, &rules[i]);
  if (rc != 0) {
    free(rules);
    return rc;
  }
  *rulesp = rules;
  *np = meta.n_rules;
  return 0;
}

int access_explain(struct store *s, MDB_txn *txn, const struct access_query *q,
                   struct access_result *out,
                   void (*fn)(void *ctx, const struct policy_verdict *v),
                   void *ctx) {
  struct policy_request req;
  struct policy_decision d;
  struct policy_verdict *verdicts = NULL;
  struct policy_rule *rules;
  struct resource_view rv;
  size_t i, n;
  int rc;

  rc = access_decide(s, txn, q, out);
  if (rc == 0)
    rc = load_all_rules(s, txn, &rules, &n);
  if (rc != 0)
    return rc;
  build_request(q, &req);
  rc = load_subject(s, txn, q, &req);
  if (rc == 0 && out->resource[0] != '\0' &&
      load_resource(s, txn, out->address, &rv) == 0)
    req.resource = rv.name;
  if (rc == 0 && (verdicts = calloc(n + 1, sizeof(*verdicts))) == NULL)
    rc = SP_ENOMEM;
  if (rc == 0) {
    policy_decide(&req, rules, n, &d, verdicts);
    for (i = 0; i < n; i++)
      fn(ctx, &verdicts[i]);
  }
  free(verdicts);
  free(rules);
  return rc;
}

int access_policy_needs_geo(struct store *s, MDB_txn *txn, int *countries,
                            int *asns) {
  struct policy_rule *rules;
  size_t i, n;
  int rc;

  *countries = *asns = 0;
  rc = load_all_rules(s, txn, &rules, &n);
  if (rc != 0)
    return rc;
  for (i = 0; i < n; i++) {
    *countries |= rules[i].countries.n > 0;
    *asns |= rules[i].n_asns > 0;
  }
  free(rules);
  return 0;
}
