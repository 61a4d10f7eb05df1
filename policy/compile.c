#include "policy/compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/pack.h"
#include "policy/rulerec.h"

/* A growable array of u32 rule indices per resource. */
struct idxvec {
  uint32_t *v;
  size_t n;
  size_t cap;
};

static int idxvec_push(struct idxvec *x, uint32_t i) {
  uint32_t *v;
  size_t cap;

  if (x->n == x->cap) {
    cap = x->cap ? x->cap * 2 : 4;
    v = realloc(x->v, cap * sizeof(*v));
    if (v == NULL)
      return SP_ENOMEM;
    x->v = v;
    x->cap = cap;
  }
  x->v[x->n++] = i;
  return 0;
}

static int put_prefixed(MDB_txn *txn, MDB_dbi dbi, char prefix,
                        const char *name, const void *val, size_t len) {
  char key[512];
  size_t n = strlen(name);

  if (n + 1 > sizeof(key))
    return SP_ETOOBIG;
  key[0] = prefix;
  memcpy(key + 1, name, n);
  return store_put(txn, dbi, key, n + 1, val, len, 0);
}

static int name_cmp(const void *a, const void *b) {
  const struct policy_resource *const *x = a, *const *y = b;

  return strcmp((*x)->name, (*y)->name);
}

/* Fills `vecs` (one per resource, in p->resources order). */
static int index_rules(const struct policy *p, struct idxvec *vecs) {
  struct policy_resource key = {0};
  const struct policy_resource **byname, *kp = &key, **hit;
  const char *name;
  struct sp_strlist_iter it;
  size_t i, j;
  int rc = 0;

  byname = malloc((p->n_resources + 1) * sizeof(*byname));
  if (byname == NULL)
    return SP_ENOMEM;
  for (i = 0; i < p->n_resources; i++)
    byname[i] = &p->resources[i];
  qsort(byname, p->n_resources, sizeof(*byname), name_cmp);

  for (i = 0; i < p->n_rules && rc == 0; i++) {
    const struct policy_rule *rule = &p->rules[i];

    if (rule->resources.n == 0) {
      for (j = 0; j < p->n_resources && rc == 0; j++)
        rc = idxvec_push(&vecs[j], (uint32_t)i);
      continue;
    }
    sp_strlist_iter_init(&it, &rule->resources);
    while (rc == 0 && (name = sp_strlist_next(&it)) != NULL) {
      key.name = name;
      hit = bsearch(&kp, byname, p->n_resources, sizeof(*byname), name_cmp);
      if (hit != NULL)
        rc = idxvec_push(&vecs[*hit - p->resources], (uint32_t)i);
    }
  }
  free(byname);
  return rc;
}

/* Encodes every rule once; resources copy the records they need. */
static int encode_rules(const struct policy *p, struct sp_wbuf *all,
                        size_t *offs) {
  size_t i;

  for (i = 0; i < p->n_rules; i++) {
    offs[i] = all->len;
    rulerec_encode(all, &p->rules[i]);
  }
  offs[p->n_rules] = all->len;
  return all->err;
}

static int put_resource(MDB_txn *txn, MDB_dbi dbi,
                        const struct policy_resource *res,
                        const struct idxvec *rules, const struct sp_wbuf *all,
                        const size_t *offs) {
  struct sp_wbuf w;
  size_t i, r;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, POLICY_DB_VERSION);
  sp_wbuf_str(&w, res->name);
  sp_wbuf_str(&w, res->address);
  sp_wbuf_str(&w, res->connector);
  sp_wbuf_u32(&w, (uint32_t)rules->n);
  for (i = 0; i < rules->n; i++) {
    r = rules->v[i];
    sp_wbuf_u32(&w, (uint32_t)r);
    sp_wbuf_u32(&w, (uint32_t)(offs[r + 1] - offs[r]));
    sp_wbuf_bytes(&w, all->p + offs[r], offs[r + 1] - offs[r]);
  }
  rc = w.err;
  if (rc == 0)
    rc = put_prefixed(txn, dbi, 'a', res->address, w.p, w.len);
  if (rc == 0)
    rc = put_prefixed(txn, dbi, 'n', res->name, res->address,
                      strlen(res->address) + 1);
  sp_wbuf_free(&w);
  return rc;
}

static int put_resources(MDB_txn *txn, MDB_dbi dbi, const struct policy *p) {
  struct idxvec *vecs;
  struct sp_wbuf all;
  size_t i, *offs;
  int rc;

  vecs = calloc(p->n_resources + 1, sizeof(*vecs));
  offs = calloc(p->n_rules + 1, sizeof(*offs));
  sp_wbuf_init(&all);
  rc = vecs && offs ? index_rules(p, vecs) : SP_ENOMEM;
  if (rc == 0)
    rc = encode_rules(p, &all, offs);
  for (i = 0; i < p->n_resources && rc == 0; i++)
    rc = put_resource(txn, dbi, &p->resources[i], &vecs[i], &all, offs);
  for (i = 0; vecs && i < p->n_resources; i++)
    free(vecs[i].v);
  sp_wbuf_free(&all);
  free(offs);
  free(vecs);
  return rc;
}

static int put_rules(MDB_txn *txn, MDB_dbi dbi, const struct policy *p) {
  const struct policy_rule *rule;
  struct sp_wbuf w;
  uint8_t key[5];
  size_t i;
  int rc = 0;

  sp_wbuf_init(&w);
  for (i = 0; i < p->n_rules && rc == 0; i++) {
    rule = &p->rules[i];
    w.len = 0;
    rulerec_encode(&w, rule);
    rulerec_key(key, (uint32_t)i);
    rc = w.err;
    if (rc == 0)
      rc = store_put(txn, dbi, key, sizeof(key), w.p, w.len, 0);
    if (rc == 0 && rule->tz.n > 0)
      rc = put_prefixed(txn, dbi, 'z', rule->tz.name, rule->tz.trans,
                        (size_t)rule->tz.n * POLICY_TZ_ENTRY);
  }
  sp_wbuf_free(&w);
  return rc;
}

struct membership {
  const char *user;
  const char *group;
};

static int member_cmp(const void *a, const void *b) {
  const struct membership *x = a, *y = b;
  int c = strcmp(x->user, y->user);

  return c != 0 ? c : strcmp(x->group, y->group);
}

/* Writes 'm' + user -> the policy groups listing that user. */
static int put_groups(MDB_txn *txn, MDB_dbi dbi, const struct policy *p) {
  struct membership *m;
  struct sp_strlist_iter it;
  struct sp_wbuf w;
  const char *user;
  size_t i, j, n = 0, total = 0;
  int rc = 0;

  for (i = 0; i < p->n_groups; i++)
    total += p->groups[i].members.n;
  m = malloc((total + 1) * sizeof(*m));
  if (m == NULL)
    return SP_ENOMEM;
  for (i = 0; i < p->n_groups; i++) {
    sp_strlist_iter_init(&it, &p->groups[i].members);
    while (n < total && (user = sp_strlist_next(&it)) != NULL)
      m[n++] = (struct membership){user, p->groups[i].name};
  }
  qsort(m, n, sizeof(*m), member_cmp);

  sp_wbuf_init(&w);
  for (i = 0; i < n && rc == 0; i = j) {
    struct sp_wbuf list;
    uint32_t count = 0;

    sp_wbuf_init(&list);
    for (j = i; j < n && strcmp(m[j].user, m[i].user) == 0; j++)
      if (j == i || strcmp(m[j].group, m[j - 1].group) != 0) {
        sp_wbuf_str(&list, m[j].group);
        count++;
      }
    w.len = 0;
    sp_wbuf_u32(&w, count);
    sp_wbuf_u32(&w, (uint32_t)list.len);
    sp_wbuf_bytes(&w, list.p, list.len);
    rc = list.err ? list.err : w.err;
    if (rc == 0)
      rc = put_prefixed(txn, dbi, 'm', m[i].user, w.p, w.len);
    sp_wbuf_free(&list);
  }
  sp_wbuf_free(&w);
  free(m);
  return rc;
}

static int put_meta(MDB_txn *txn, MDB_dbi dbi, const struct policy *p,
                    const char *file, int64_t now) {
  struct sp_wbuf w;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, POLICY_DB_VERSION);
  sp_wbuf_u64(&w, (uint64_t)now);
  sp_wbuf_u32(&w, (uint32_t)p->n_rules);
  sp_wbuf_u32(&w, (uint32_t)p->n_resources);
  sp_wbuf_u32(&w, (uint32_t)p->n_groups);
  sp_wbuf_str(&w, file);
  rc = w.err;
  if (rc == 0)
    rc = store_put(txn, dbi, "\0meta", 5, w.p, w.len, 0);
  if (rc == 0)
    rc = store_put(txn, dbi, "\0text", 5, p->text ? p->text : "", p->text_len,
                   0);
  sp_wbuf_free(&w);
  return rc;
}

int policy_compile(struct store *s, const struct policy *p, const char *file,
                   int64_t now) {
  MDB_txn *txn;
  int rc;

  rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return rc;
  rc = store_err(mdb_drop(txn, s->policy, 0));
  if (rc == 0)
    rc = put_rules(txn, s->policy, p);
  if (rc == 0)
    rc = put_resources(txn, s->policy, p);
  if (rc == 0)
    rc = put_groups(txn, s->policy, p);
  if (rc == 0)
    rc = put_meta(txn, s->policy, p, file, now);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_commit(s, txn);
}

int policy_lint(struct store *s, const struct policy *p, const char *file,
                const struct policy_warn *warn) {
  const struct policy_resource *res;
  char line[512];
  MDB_txn *txn;
  MDB_val val;
  size_t i;
  int rc;

  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc != 0)
    return rc;
  for (i = 0; i < p->n_resources && rc == 0; i++) {
    res = &p->resources[i];
    rc = store_get(txn, s->connectors, res->connector, strlen(res->connector),
                   &val);
    if (rc != SP_ENOTFOUND)
      continue;
    rc = 0;
    snprintf(line, sizeof(line),
             "%s:%u:%u: warning: resource \"%s\" uses connector \"%s\", "
             "which is not enrolled yet",
             file, res->line, res->col, res->name, res->connector);
    if (warn != NULL && warn->fn != NULL)
      warn->fn(warn->ctx, line);
  }
  mdb_txn_abort(txn);
  return rc;
}

/*
 * The counts size what readers allocate, so a damaged record must not
 * claim more rules than there are records: each rule has one of its own.
 */
int policy_meta_get(struct store *s, MDB_txn *txn, struct policy_meta *m) {
  struct sp_rbuf r;
  MDB_stat st;
  MDB_val val;
  int rc;

  rc = store_get(txn, s->policy, "\0meta", 5, &val);
  if (rc != 0)
    return rc;
  rc = mdb_stat(txn, s->policy, &st);
  if (rc != 0)
    return store_err(rc);
  sp_rbuf_init(&r, val.mv_data, val.mv_size);
  if (sp_rbuf_u8(&r) != POLICY_DB_VERSION)
    return SP_ECORRUPT;
  m->applied_at = (int64_t)sp_rbuf_u64(&r);
  m->n_rules = sp_rbuf_u32(&r);
  m->n_resources = sp_rbuf_u32(&r);
  m->n_groups = sp_rbuf_u32(&r);
  m->file = sp_rbuf_str(&r, NULL);
  if (r.err == 0 && m->n_rules > st.ms_entries)
    return SP_ECORRUPT;
  return r.err;
}

int policy_text_get(struct store *s, MDB_txn *txn, const char **text,
                    size_t *len) {
  MDB_val val;
  int rc;

  rc = store_get(txn, s->policy, "\0text", 5, &val);
  if (rc != 0)
    return rc;
  *text = val.mv_data;
  *len = val.mv_size;
  return 0;
}
