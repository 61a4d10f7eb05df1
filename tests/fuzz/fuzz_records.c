/*
 * Fuzzes the store's record decoders, the parsers of what the relay and
 * the admin commands read back from DIR/store.mdb and DIR/volatile.mdb.
 *
 * A store is made once, with a record of every kind: users, a device, a
 * token, connectors (pending and enrolled), their live status, and a
 * compiled policy with windows, zones, countries, ASNs, groups and
 * device tags.  Each input then replaces one of those records: its
 * first byte picks the record, the rest is the new value.  The write
 * transaction is never committed; inside it every reader runs over the
 * whole store.  A damaged record must come back as an error, or as a
 * record whose strings and lists lie inside it: never a crash, a read
 * outside the record, or a decision from a half-read rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "policy/access.h"
#include "policy/compile.h"
#include "policy/connectors.h"
#include "policy/device.h"
#include "policy/token.h"
#include "policy/user.h"
#include "tests/fuzz/fuzz.h"

#define NOW 1796288400 /* a Friday, 2026-12-04T09:00:00Z */
#define MAX_RECORDS 256

static const char policy_text[] =
    "resources:\n"
    "  wiki: {address: wiki.corp:443, connector: paris}\n"
    "  db: {address: \"[2001:db8::5]:5432\", connector: paris}\n"
    "  ssh: {address: 10.0.0.1:22, connector: lyon}\n"
    "groups:\n"
    "  eng: [alice, bob]\n"
    "rules:\n"
    "  - {name: night, action: allow, resources: [db], users: [bob],\n"
    "     days: fri, hours: \"22:00-06:00\", timezone: Europe/Paris}\n"
    "  - {name: geo, action: deny, not_countries: [FR, DE], mode: report}\n"
    "  - {name: asn, action: deny, not_asns: [3215, 4294967295]}\n"
    "  - {name: eng, action: allow, resources: [wiki, ssh], groups: [eng],\n"
    "     days: [mon-fri], hours: \"08:00-19:00\", max_risk: 50,\n"
    "     device_tags: [managed], countries: [FR], asns: [3215], mfa: true}\n"
    "default: deny\n";

struct record {
  int is_volatile;
  MDB_dbi dbi;
  MDB_val key; /* owns mv_data */
};

static struct store *store;
static struct record records[MAX_RECORDS];
static size_t n_records;
static char token[TOKEN_TEXT_MAX];
static char dir[] = "/tmp/sp-fuzz-records-XXXXXX";

static void remove_dir(void) {
  static const char *const files[] = {"store.mdb", "store.mdb-lock",
                                      "volatile.mdb", "volatile.mdb-lock"};
  char path[sizeof(dir) + 32];
  size_t i;

  store_close(store);
  for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

static void add_users(void) {
  static const char *const groups[] = {"eng", "ops"};
  struct sp_strlist g;
  struct sp_wbuf w;
  uint8_t secret[TOTP_SECRET_LEN];

  sp_wbuf_init(&w);
  CHECK(sp_strlist_build(&g, &w, groups, 2) == 0);
  CHECK(user_add(store, "alice", &g, "pw", 2, 0, 1000, NOW, secret) == 0);
  CHECK(user_add(store, "bob", &g, "pw", 2, 1, 1000, NOW, secret) == 0);
  sp_wbuf_free(&w);
}

static void add_device_and_token(void) {
  static const char *const tags[] = {"managed"};
  struct device_rec d;
  struct sp_wbuf w;
  MDB_txn *txn;
  int64_t expires;

  memset(&d, 0, sizeof(d));
  d.name = "laptop";
  d.user = "alice";
  d.serial = "0a1b";
  d.fingerprint = "sha256:00";
  d.created = NOW;
  d.not_after = NOW + 86400;
  sp_wbuf_init(&w);
  CHECK(sp_strlist_build(&d.tags, &w, tags, 1) == 0);
  CHECK(store_begin(store, 0, &txn) == 0);
  CHECK(device_put(store, txn, &d) == 0);
  CHECK(token_issue(store, txn, "alice", "127.0.0.1", 1, NOW, 3600, token,
                    &expires) == 0);
  CHECK(store_commit(store, txn) == 0);
  sp_wbuf_free(&w);
}

static void add_connectors(void) {
  uint8_t secret[CONNECTORS_SECRET_LEN];
  struct connectors_live live = {2, "127.0.0.1:40000", NOW, NOW};
  MDB_txn *vtxn;

  CHECK(connectors_add(store, "paris", NOW, 86400, secret) == 0);
  CHECK(connectors_enroll(store, "paris", secret, NOW, "01", "sha256:01",
                          NOW + 86400) == 0);
  CHECK(connectors_add(store, "lyon", NOW, 86400, secret) == 0);
  CHECK(store_vbegin(store, 0, &vtxn) == 0);
  CHECK(connectors_live_put(store, vtxn, "paris", &live) == 0);
  CHECK(relay_heartbeat_put(store, vtxn, NOW) == 0);
  CHECK(mdb_txn_commit(vtxn) == 0);
}

static void add_policy(void) {
  struct policy *p = NULL;
  char msg[256];

  CHECK(policy_parse("fuzz.yaml", policy_text, sizeof(policy_text) - 1, &p, msg,
                     sizeof(msg)) == 0);
  CHECK(policy_compile(store, p, "fuzz.yaml", NOW) == 0);
  policy_free(p);
}

static void list_keys(MDB_env *env, MDB_dbi dbi, int is_volatile) {
  MDB_txn *txn;
  MDB_cursor *c;
  MDB_val k, v;
  int op = MDB_FIRST;

  CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
  CHECK(mdb_cursor_open(txn, dbi, &c) == 0);
  while (n_records < MAX_RECORDS && mdb_cursor_get(c, &k, &v, op) == 0) {
    struct record *r = &records[n_records++];

    r->is_volatile = is_volatile;
    r->dbi = dbi;
    r->key.mv_size = k.mv_size;
    r->key.mv_data = malloc(k.mv_size);
    CHECK(r->key.mv_data != NULL);
    memcpy(r->key.mv_data, k.mv_data, k.mv_size);
    op = MDB_NEXT;
  }
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
}

static void setup(void) {
  CHECK(mkdtemp(dir) != NULL);
  CHECK(store_open(&store, dir, STORE_CREATE) == 0);
  atexit(remove_dir);
  add_users();
  add_device_and_token();
  add_connectors();
  add_policy();
  list_keys(store->env, store->meta, 0);
  list_keys(store->env, store->users, 0);
  list_keys(store->env, store->tokens, 0);
  list_keys(store->env, store->devices, 0);
  list_keys(store->env, store->connectors, 0);
  list_keys(store->env, store->policy, 0);
  list_keys(store->venv, store->live, 1);
  CHECK(n_records > 0 && n_records < MAX_RECORDS);
}

/* ---- the readers ------------------------------------------------------- */

static void check_strlist(const struct sp_strlist *l) {
  struct sp_strlist_iter it;
  const char *s;

  sp_strlist_iter_init(&it, l);
  while ((s = sp_strlist_next(&it)) != NULL)
    CHECK(strlen(s) < 1 << 16);
}

static int on_user(void *ctx, const struct user_rec *u) {
  (void)ctx;
  check_strlist(&u->groups);
  return 0;
}

static int on_device(void *ctx, const struct device_rec *d) {
  (void)ctx;
  CHECK(strlen(d->user) + strlen(d->serial) + strlen(d->fingerprint) < 3 << 16);
  check_strlist(&d->tags);
  return 0;
}

static int on_token(void *ctx, const struct token_rec *t) {
  (void)ctx;
  CHECK(strlen(t->user) + strlen(t->source) < 2 << 16);
  return 0;
}

static int on_connector(void *ctx, const struct connectors_rec *c) {
  (void)ctx;
  CHECK(c->status <= 2);
  CHECK(strlen(connectors_status_name(c->status)) > 0);
  CHECK(strlen(c->serial) + strlen(c->fingerprint) + strlen(c->prev_serial) <
        3 << 16);
  return 0;
}

static void on_verdict(void *ctx, const struct policy_verdict *v) {
  (void)ctx;
  (void)v;
}

static void decide(MDB_txn *txn, const char *user, const char *dest,
                   const char *device, int explain) {
  static const char *const tags[] = {"managed"};
  struct access_query q;
  struct access_result out;
  struct sp_wbuf w;
  int rc;

  memset(&q, 0, sizeof(q));
  q.user = user;
  q.dest = dest;
  q.mfa = 1;
  q.device = device;
  sp_wbuf_init(&w);
  if (device != NULL)
    CHECK(sp_strlist_build(&q.device_tags, &w, tags, 1) == 0);
  q.country = "FR";
  q.asn = 3215;
  q.now = NOW;
  q.risk = 20;
  rc = explain ? access_explain(store, txn, &q, &out, on_verdict, NULL)
               : access_decide(store, txn, &q, &out);
  if (rc == 0) {
    CHECK(out.allow == 0 || out.allow == 1);
    CHECK(memchr(out.rule, '\0', sizeof(out.rule)) != NULL);
    CHECK(memchr(out.connector, '\0', sizeof(out.connector)) != NULL);
    CHECK(memchr(out.address, '\0', sizeof(out.address)) != NULL);
  }
  sp_wbuf_free(&w);
}

static void read_main(MDB_txn *txn) {
  struct policy_meta m;
  struct connectors_rec c;
  struct device_rec d;
  struct token_rec t;
  struct user_rec u;
  const char *text;
  size_t len;
  int countries, asns;

  (void)store_generation(store, txn);
  if (user_get(store, txn, "alice", &u) == 0)
    on_user(NULL, &u);
  if (device_get(store, txn, "laptop", &d) == 0)
    on_device(NULL, &d);
  if (connectors_get(store, txn, "paris", &c) == 0)
    on_connector(NULL, &c);
  (void)connectors_check(store, txn, "paris", "01");
  (void)connectors_foreach(store, txn, on_connector, NULL);
  (void)device_foreach(store, txn, on_device, NULL);
  (void)token_foreach(store, txn, NULL, on_token, NULL);
  if (token_check(store, txn, "alice", token, "127.0.0.1", NOW, &t) == 0) {
    on_token(NULL, &t);
    (void)token_recheck(store, txn, t.hash, NOW);
  }
  if (policy_meta_get(store, txn, &m) == 0)
    CHECK(strlen(m.file) < 1 << 16);
  if (policy_text_get(store, txn, &text, &len) == 0)
    CHECK(len < 1 << 30);
  (void)access_policy_needs_geo(store, txn, &countries, &asns);
  decide(txn, "alice", "wiki.corp:443", "laptop", 0);
  decide(txn, "alice", "WIKI.corp:443", NULL, 1);
  decide(txn, "bob", "[2001:db8::5]:5432", NULL, 0);
  decide(txn, "carol", "10.0.0.1:22", NULL, 1);
}

static void read_volatile(MDB_txn *vtxn) {
  struct connectors_live l;

  if (connectors_live_get(store, vtxn, "paris", &l) == 0)
    CHECK(strlen(l.address) < 1 << 16);
  (void)relay_heartbeat_get(store, vtxn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct record *r;
  MDB_val val;
  MDB_txn *txn, *vtxn;

  if (store == NULL)
    setup();
  if (size < 1)
    return 0;
  r = &records[data[0] % n_records];
  val.mv_size = size - 1;
  val.mv_data = malloc(val.mv_size + 1);
  CHECK(val.mv_data != NULL);
  memcpy(val.mv_data, data + 1, val.mv_size);
  CHECK(store_begin(store, 0, &txn) == 0);
  CHECK(store_vbegin(store, 0, &vtxn) == 0);
  CHECK(mdb_put(r->is_volatile ? vtxn : txn, r->dbi, &r->key, &val, 0) == 0);
  free(val.mv_data);
  read_main(txn);
  read_volatile(vtxn);
  mdb_txn_abort(vtxn);
  mdb_txn_abort(txn);
  return 0;
}
