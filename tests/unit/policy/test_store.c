/* The store and what lives in it: users, tokens, login, compiled policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/pack.h"
#include "policy/access.h"
#include "policy/connectors.h"
#include "policy/compile.h"
#include "policy/login.h"
#include "policy/store.h"
#include "policy/token.h"
#include "policy/totp.h"
#include "policy/user.h"

#define T0 1796374800 /* 2026-12-03T09:00:00Z, a Thursday */

struct fixture {
  char dir[64];
  struct store *s;
  uint8_t secret[TOTP_SECRET_LEN];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  struct sp_strlist none = {0};

  strcpy(f->dir, "/tmp/sp-store-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(store_open(&f->s, f->dir, STORE_CREATE), 0);
  assert_int_equal(
      user_add(f->s, "alice", &none, "pw", 2, 0, 1000, T0, f->secret), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  char cmd[128];

  store_close(f->s);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static void test_reopen_and_refuse_create(void **state) {
  struct fixture *f = *state;
  struct store *s2;
  struct user_rec u;
  MDB_txn *txn;

  assert_int_equal(store_open(&s2, f->dir, STORE_CREATE), SP_EEXIST);
  assert_int_equal(store_open(&s2, f->dir, 0), 0);
  assert_int_equal(store_begin(s2, MDB_RDONLY, &txn), 0);
  assert_int_equal(user_get(s2, txn, "alice", &u), 0);
  assert_int_equal(u.pw.iterations, 1000);
  assert_true(store_generation(s2, txn) >= 1);
  mdb_txn_abort(txn);
  store_close(s2);
  assert_int_equal(store_open(&s2, "/tmp/sp-no-such-dir", 0), SP_ENOTFOUND);
}

static void test_format_version_checked(void **state) {
  struct fixture *f = *state;
  uint8_t v2[4] = {2, 0, 0, 0};
  struct store *s2;
  MDB_txn *txn;

  assert_int_equal(store_begin(f->s, 0, &txn), 0);
  assert_int_equal(store_put(txn, f->s->meta, "format", 6, v2, 4, 0), 0);
  assert_int_equal(store_commit(f->s, txn), 0);
  assert_int_equal(store_open(&s2, f->dir, 0), SP_EFORMAT);
}

static void test_duplicate_user(void **state) {
  struct fixture *f = *state;
  struct sp_strlist none = {0};
  uint8_t secret[TOTP_SECRET_LEN];

  assert_int_equal(user_add(f->s, "alice", &none, "x", 1, 1, 1000, T0, secret),
                   SP_EEXIST);
  assert_int_equal(
      user_add(f->s, "bad name", &none, "x", 1, 1, 1000, T0, secret),
      SP_EUSAGE);
}

/* Issues a token for alice from `src` at `now` with a 1 h lifetime. */
static void issue(struct fixture *f, const char *src, int64_t now,
                  char token[TOKEN_TEXT_MAX]) {
  MDB_txn *txn;
  int64_t exp;

  assert_int_equal(store_begin(f->s, 0, &txn), 0);
  assert_int_equal(
      token_issue(f->s, txn, "alice", src, 1, now, 3600, token, &exp), 0);
  assert_int_equal(exp, now + 3600);
  assert_int_equal(store_commit(f->s, txn), 0);
}

static int check(struct fixture *f, const char *user, const char *token,
                 const char *src, int64_t now) {
  struct token_rec t;
  MDB_txn *txn;
  int rc;

  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  rc = token_check(f->s, txn, user, token, src, now, &t);
  if (rc == 0)
    assert_true(t.mfa);
  mdb_txn_abort(txn);
  return rc;
}

static void test_token_expiry_binding(void **state) {
  struct fixture *f = *state;
  char token[TOKEN_TEXT_MAX], other[TOKEN_TEXT_MAX];

  issue(f, "::ffff:127.0.0.2", T0, token);
  assert_int_equal(strlen(token), 47);
  assert_memory_equal(token, "spt_", 4);
  assert_int_equal(check(f, "alice", token, "127.0.0.2", T0 + 10), 0);
  assert_int_equal(check(f, "alice", token, "::ffff:127.0.0.2", T0), 0);
  assert_int_equal(check(f, "alice", token, "127.0.0.3", T0), SP_EBINDING);
  assert_int_equal(check(f, "bob", token, "127.0.0.2", T0), SP_ETOKEN);
  assert_int_equal(check(f, "alice", token, "127.0.0.2", T0 + 3599), 0);
  assert_int_equal(check(f, "alice", token, "127.0.0.2", T0 + 3600),
                   SP_EEXPIRED);

  /* A token that differs in one character, or is malformed, is unknown. */
  strcpy(other, token);
  other[10] = other[10] == 'A' ? 'B' : 'A';
  assert_int_equal(check(f, "alice", other, "127.0.0.2", T0), SP_ETOKEN);
  assert_int_equal(check(f, "alice", "spt_short", "127.0.0.2", T0), SP_ETOKEN);
  assert_int_equal(check(f, "alice", token, "not an ip", T0), SP_ETOKEN);
}

static void test_token_revocation(void **state) {
  struct fixture *f = *state;
  char a[TOKEN_TEXT_MAX], b[TOKEN_TEXT_MAX];
  MDB_txn *txn;
  size_t n;

  issue(f, "127.0.0.1", T0, a);
  issue(f, "127.0.0.1", T0 - 7200, b); /* already expired */
  assert_int_equal(store_begin(f->s, 0, &txn), 0);
  assert_int_equal(token_prune(f->s, txn, "alice", T0), 0);
  assert_int_equal(store_commit(f->s, txn), 0);
  assert_int_equal(check(f, "alice", b, "127.0.0.1", T0 - 7000), SP_ETOKEN);
  assert_int_equal(check(f, "alice", a, "127.0.0.1", T0), 0);

  assert_int_equal(user_set_disabled(f->s, "alice", 1), 0);
  assert_int_equal(check(f, "alice", a, "127.0.0.1", T0), SP_ETOKEN);
  assert_int_equal(user_set_disabled(f->s, "alice", 0), 0);

  issue(f, "127.0.0.1", T0, a);
  assert_int_equal(store_begin(f->s, 0, &txn), 0);
  assert_int_equal(token_revoke_user(f->s, txn, "alice", &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(token_revoke_id(f->s, txn, "0123456789abcdef"),
                   SP_ENOTFOUND);
  assert_int_equal(store_commit(f->s, txn), 0);
  assert_int_equal(check(f, "alice", a, "127.0.0.1", T0), SP_ETOKEN);
}

static int do_login(struct fixture *f, const char *pw, const char *otp,
                    int64_t now, struct login_res *res) {
  struct login_req req = {"alice", pw, strlen(pw), otp, "127.0.0.9", now, 3600};

  return login(f->s, &req, res);
}

static void code_at(struct fixture *f, int64_t t, char out[8]) {
  snprintf(out, 8, "%06u", totp_hotp(f->secret, TOTP_SECRET_LEN, totp_step(t)));
}

static void test_login_flow(void **state) {
  struct fixture *f = *state;
  struct login_res res;
  char code[8];

  code_at(f, T0, code);
  assert_int_equal(do_login(f, "pw", code, T0, &res), 0);
  assert_true(res.mfa);
  assert_int_equal(res.expires, T0 + 3600);
  assert_int_equal(check(f, "alice", res.token, "127.0.0.9", T0), 0);

  /* The same code again, or the previous step's, is a replay. */
  assert_int_equal(do_login(f, "pw", code, T0 + 1, &res), SP_EAUTH);
  assert_string_equal(res.reason, "otp_replayed");
  code_at(f, T0 - 30, code);
  assert_int_equal(do_login(f, "pw", code, T0 + 1, &res), SP_EAUTH);
  assert_string_equal(res.reason, "otp_replayed");

  /* The next step's code (one step of skew) is fine. */
  code_at(f, T0 + 30, code);
  assert_int_equal(do_login(f, "pw", code, T0 + 2, &res), 0);
  assert_int_equal(do_login(f, "wrong", code, T0 + 3, &res), SP_EAUTH);
  assert_string_equal(res.reason, "bad_password");
  assert_int_equal(do_login(f, "pw", "", T0 + 3, &res), SP_EAUTH);
  assert_string_equal(res.reason, "missing_otp");
}

static void test_lockout(void **state) {
  struct fixture *f = *state;
  struct login_res res;
  char code[8];
  int i;

  for (i = 0; i < 5; i++)
    assert_int_equal(do_login(f, "wrong", "000000", T0 + i, &res), SP_EAUTH);
  code_at(f, T0 + 10, code);
  assert_int_equal(do_login(f, "pw", code, T0 + 10, &res), SP_ELOCKED);
  assert_string_equal(res.reason, "locked_user");
  assert_true(res.retry_after > 0 && res.retry_after <= 900);
  code_at(f, T0 + 1000, code);
  assert_int_equal(do_login(f, "pw", code, T0 + 1000, &res), 0);
}

static const char policy_v1[] =
    "resources:\n"
    "  wiki: {address: Wiki.Corp:443, connector: paris}\n"
    "  db: {address: 10.0.0.5:5432, connector: paris}\n"
    "groups:\n"
    "  eng: [alice]\n"
    "rules:\n"
    "  - {name: eng-wiki, action: allow, resources: [wiki], groups: [eng]}\n"
    "  - {name: no-kp, action: deny, countries: [KP]}\n";

static void apply(struct fixture *f, const char *text) {
  struct policy *p;
  char msg[256];

  assert_int_equal(
      policy_parse("t.yaml", text, strlen(text), &p, msg, sizeof(msg)), 0);
  assert_int_equal(policy_compile(f->s, p, "t.yaml", T0), 0);
  policy_free(p);
}

static struct access_result decide(struct fixture *f, const char *user,
                                   const char *dest, const char *country) {
  struct access_query q = {0};
  struct access_result r;
  MDB_txn *txn;

  q.user = user;
  q.dest = dest;
  q.country = country;
  q.mfa = 1;
  q.now = T0;
  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  assert_int_equal(access_decide(f->s, txn, &q, &r), 0);
  mdb_txn_abort(txn);
  return r;
}

static void test_compiled_decisions(void **state) {
  struct fixture *f = *state;
  struct access_result r;
  struct policy_meta m;
  MDB_txn *txn;

  r = decide(f, "alice", "wiki.corp:443", "FR");
  assert_false(r.allow);
  assert_int_equal(r.reason, POLICY_R_NO_RESOURCE);

  apply(f, policy_v1);
  r = decide(f, "alice", "WIKI.corp:443", "FR");
  assert_true(r.allow);
  assert_string_equal(r.rule, "eng-wiki");
  assert_string_equal(r.resource, "wiki");
  assert_string_equal(r.connector, "paris");
  assert_string_equal(r.address, "wiki.corp:443");
  r = decide(f, "alice", "wiki.corp:443", "KP");
  assert_false(r.allow);
  assert_string_equal(r.rule, "no-kp");
  r = decide(f, "alice", "wiki.corp:80", "FR");
  assert_int_equal(r.reason, POLICY_R_NO_RESOURCE);
  r = decide(f, "alice", "10.0.0.5:5432", "FR");
  assert_int_equal(r.reason, POLICY_R_NO_ALLOW_RULE);
  r = decide(f, "mallory", "wiki.corp:443", "FR");
  assert_int_equal(r.reason, POLICY_R_UNKNOWN_USER);

  /* A new policy replaces the old one whole. */
  apply(f, "rules: []\n");
  r = decide(f, "alice", "wiki.corp:443", "FR");
  assert_int_equal(r.reason, POLICY_R_NO_RESOURCE);
  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  assert_int_equal(policy_meta_get(f->s, txn, &m), 0);
  assert_int_equal(m.n_rules, 0);
  assert_string_equal(m.file, "t.yaml");
  mdb_txn_abort(txn);
}

static void test_reader_keeps_its_snapshot(void **state) {
  struct fixture *f = *state;
  struct access_query q = {0};
  struct access_result r;
  MDB_txn *txn;

  apply(f, policy_v1);
  q.user = "alice";
  q.dest = "wiki.corp:443";
  q.now = T0;
  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  apply(f, "rules: []\n");
  assert_int_equal(access_decide(f->s, txn, &q, &r), 0);
  assert_true(r.allow);
  mdb_txn_abort(txn);
  r = decide(f, "alice", "wiki.corp:443", NULL);
  assert_false(r.allow);
}

/* A damaged summary that claims more rules than the store holds is an
   error, not an allocation of its count (found by fuzz_records). */
static void test_meta_rule_count_checked(void **state) {
  struct fixture *f = *state;
  struct policy_meta m;
  int countries, asns;
  MDB_val val;
  MDB_txn *txn;
  uint8_t rec[64];

  apply(f, policy_v1);
  assert_int_equal(store_begin(f->s, 0, &txn), 0);
  assert_int_equal(store_get(txn, f->s->policy, "\0meta", 5, &val), 0);
  assert_true(val.mv_size <= sizeof(rec) && val.mv_size > 13);
  memcpy(rec, val.mv_data, val.mv_size);
  memset(rec + 9, 0xff, 4); /* n_rules, after the version and the time */
  assert_int_equal(
      store_put(txn, f->s->policy, "\0meta", 5, rec, val.mv_size, 0), 0);
  assert_int_equal(policy_meta_get(f->s, txn, &m), SP_ECORRUPT);
  assert_int_equal(access_policy_needs_geo(f->s, txn, &countries, &asns),
                   SP_ECORRUPT);
  rec[9] = 3; /* two rules are stored: a third is missing */
  rec[10] = rec[11] = rec[12] = 0;
  assert_int_equal(
      store_put(txn, f->s->policy, "\0meta", 5, rec, val.mv_size, 0), 0);
  assert_int_equal(policy_meta_get(f->s, txn, &m), 0);
  assert_int_equal(access_policy_needs_geo(f->s, txn, &countries, &asns),
                   SP_ECORRUPT);
  mdb_txn_abort(txn);
}

/* ---- Connectors: enrolment secrets, renewal, revocation ---- */

/* connectors_check in a read transaction of its own. */
static int conn_check(struct fixture *f, const char *name, const char *serial) {
  MDB_txn *txn;
  int rc;

  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  rc = connectors_check(f->s, txn, name, serial);
  mdb_txn_abort(txn);
  return rc;
}

static void test_connector_enrol_secret(void **state) {
  struct fixture *f = *state;
  uint8_t secret[CONNECTORS_SECRET_LEN], wrong[CONNECTORS_SECRET_LEN];

  assert_int_equal(connectors_add(f->s, "paris", T0, 60, secret), 0);
  memcpy(wrong, secret, sizeof(wrong));
  wrong[0] ^= 1;
  /* A wrong secret, before and after expiry, and an unknown name. */
  assert_int_equal(connectors_enroll(f->s, "paris", wrong, T0 + 1, "aa", "f1",
                                     T0 + 90 * 86400),
                   SP_EAUTH);
  assert_int_equal(connectors_enroll(f->s, "lyon", secret, T0 + 1, "aa", "f1",
                                     T0 + 90 * 86400),
                   SP_ENOTFOUND);
  /* The right secret once it expired (the ttl ends at T0 + 60). */
  assert_int_equal(connectors_enroll(f->s, "paris", secret, T0 + 60, "aa", "f1",
                                     T0 + 90 * 86400),
                   SP_EEXPIRED);
  assert_int_equal(conn_check(f, "paris", "aa"), SP_EAUTH);
  /* In time it works once; the same secret again is refused. */
  assert_int_equal(connectors_enroll(f->s, "paris", secret, T0 + 59, "aa", "f1",
                                     T0 + 90 * 86400),
                   0);
  assert_int_equal(conn_check(f, "paris", "aa"), 0);
  assert_int_equal(connectors_enroll(f->s, "paris", secret, T0 + 59, "bb", "f2",
                                     T0 + 90 * 86400),
                   SP_EAUTH);
  assert_int_equal(connectors_add(f->s, "paris", T0, 60, secret), SP_EEXIST);
}

static void test_connector_revoked_secret(void **state) {
  struct fixture *f = *state;
  uint8_t secret[CONNECTORS_SECRET_LEN], again[CONNECTORS_SECRET_LEN];

  /* A pending connector revoked before it enrolled: its secret is dead. */
  assert_int_equal(connectors_add(f->s, "paris", T0, 3600, secret), 0);
  assert_int_equal(connectors_revoke(f->s, "paris"), 0);
  assert_int_equal(
      connectors_enroll(f->s, "paris", secret, T0 + 1, "aa", "f1", T0 + 1000),
      SP_EAUTH);
  assert_int_equal(connectors_revoke(f->s, "lyon"), SP_ENOTFOUND);
  /* A new secret for the revoked name works; the old one still does not. */
  assert_int_equal(connectors_add(f->s, "paris", T0 + 2, 3600, again), 0);
  assert_int_equal(
      connectors_enroll(f->s, "paris", secret, T0 + 3, "aa", "f1", T0 + 1000),
      SP_EAUTH);
  assert_int_equal(
      connectors_enroll(f->s, "paris", again, T0 + 3, "aa", "f1", T0 + 1000),
      0);
}

/* Enrols `name` with serial "s1" at T0. */
static void enrolled(struct fixture *f, const char *name) {
  uint8_t secret[CONNECTORS_SECRET_LEN];

  assert_int_equal(connectors_add(f->s, name, T0, 3600, secret), 0);
  assert_int_equal(
      connectors_enroll(f->s, name, secret, T0, "s1", "f1", T0 + 90 * 86400),
      0);
}

static void test_connector_renewal_serials(void **state) {
  struct fixture *f = *state;
  int64_t end = T0 + 100 * 86400;

  enrolled(f, "paris");
  /* Renewed from s1: both s1 (previous) and s2 (current) open tunnels. */
  assert_int_equal(connectors_renew(f->s, "paris", "s1", "s2", "f2", end, T0),
                   0);
  assert_int_equal(conn_check(f, "paris", "s1"), 0);
  assert_int_equal(conn_check(f, "paris", "s2"), 0);
  assert_int_equal(conn_check(f, "paris", "s9"), SP_EAUTH);
  /* Too soon after the last renewal, or from an unknown certificate. */
  assert_int_equal(connectors_renew(f->s, "paris", "s2", "s3", "f3", end,
                                    T0 + CONNECTORS_RENEW_MIN_INTERVAL - 1),
                   SP_ELIMIT);
  assert_int_equal(
      connectors_renew(f->s, "paris", "s9", "s3", "f3", end, T0 + 3600),
      SP_EAUTH);
  assert_int_equal(connectors_renew(f->s, "lyon", "s1", "s3", "f3", end, T0),
                   SP_ENOTFOUND);
  /* Every tunnel moved: the previous serial is forgotten, once. */
  assert_int_equal(connectors_retire(f->s, "paris", "s9"), SP_ENOTFOUND);
  assert_int_equal(connectors_retire(f->s, "paris", "s1"), 0);
  assert_int_equal(conn_check(f, "paris", "s1"), SP_EAUTH);
  assert_int_equal(conn_check(f, "paris", "s2"), 0);
  assert_int_equal(connectors_retire(f->s, "paris", "s1"), SP_ENOTFOUND);
}

static void test_connector_renewal_from_previous(void **state) {
  struct fixture *f = *state;
  struct connectors_rec c;
  int64_t end = T0 + 100 * 86400;
  MDB_txn *txn;

  enrolled(f, "paris");
  assert_int_equal(connectors_renew(f->s, "paris", "s1", "s2", "f2", end, T0),
                   0);
  /* The connector never stored s2 and asks again with s1: s1 stays the
   * previous serial and s2, which nobody holds a key for, goes. */
  assert_int_equal(
      connectors_renew(f->s, "paris", "s1", "s3", "f3", end, T0 + 3600), 0);
  assert_int_equal(conn_check(f, "paris", "s1"), 0);
  assert_int_equal(conn_check(f, "paris", "s2"), SP_EAUTH);
  assert_int_equal(conn_check(f, "paris", "s3"), 0);
  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  assert_int_equal(connectors_get(f->s, txn, "paris", &c), 0);
  assert_string_equal(c.serial, "s3");
  assert_string_equal(c.prev_serial, "s1");
  assert_int_equal(c.prev_not_after, T0 + 90 * 86400);
  assert_int_equal(c.renewed_at, T0 + 3600);
  mdb_txn_abort(txn);
}

static void test_connector_revoke_refuses_both(void **state) {
  struct fixture *f = *state;
  uint8_t secret[CONNECTORS_SECRET_LEN];
  int64_t end = T0 + 100 * 86400;

  enrolled(f, "paris");
  assert_int_equal(connectors_renew(f->s, "paris", "s1", "s2", "f2", end, T0),
                   0);
  assert_int_equal(connectors_revoke(f->s, "paris"), 0);
  assert_int_equal(conn_check(f, "paris", "s1"), SP_EAUTH);
  assert_int_equal(conn_check(f, "paris", "s2"), SP_EAUTH);
  assert_int_equal(
      connectors_renew(f->s, "paris", "s2", "s3", "f3", end, T0 + 3600),
      SP_EAUTH);
  /* Enrolled again with a new token: neither old serial comes back. */
  assert_int_equal(connectors_add(f->s, "paris", T0 + 10, 3600, secret), 0);
  assert_int_equal(
      connectors_enroll(f->s, "paris", secret, T0 + 11, "s4", "f4", end), 0);
  assert_int_equal(conn_check(f, "paris", "s1"), SP_EAUTH);
  assert_int_equal(conn_check(f, "paris", "s2"), SP_EAUTH);
  assert_int_equal(conn_check(f, "paris", "s4"), 0);
}

/* A record written by the first release (version 1) still reads, and is
 * written back as version 2 by the next change. */
static void test_connector_record_v1(void **state) {
  struct fixture *f = *state;
  static const uint8_t zero[32];
  struct connectors_rec c;
  struct sp_wbuf w;
  MDB_txn *txn;
  MDB_val val;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, 1);
  sp_wbuf_u8(&w, CONNECTORS_ENROLLED);
  sp_wbuf_bytes(&w, zero, 32);
  sp_wbuf_u64(&w, T0);
  sp_wbuf_u64(&w, T0 + 3600);
  sp_wbuf_u64(&w, T0 + 10);
  sp_wbuf_str(&w, "s1");
  sp_wbuf_str(&w, "f1");
  sp_wbuf_u64(&w, T0 + 90 * 86400);
  assert_int_equal(w.err, 0);
  assert_int_equal(store_begin(f->s, 0, &txn), 0);
  assert_int_equal(store_put(txn, f->s->connectors, "paris", 5, w.p, w.len, 0),
                   0);
  assert_int_equal(store_commit(f->s, txn), 0);
  sp_wbuf_free(&w);

  assert_int_equal(conn_check(f, "paris", "s1"), 0);
  assert_int_equal(connectors_renew(f->s, "paris", "s1", "s2", "f2",
                                    T0 + 100 * 86400, T0 + 20),
                   0);
  assert_int_equal(store_begin(f->s, MDB_RDONLY, &txn), 0);
  assert_int_equal(store_get(txn, f->s->connectors, "paris", 5, &val), 0);
  assert_int_equal(((const uint8_t *)val.mv_data)[0], 2);
  assert_int_equal(connectors_get(f->s, txn, "paris", &c), 0);
  assert_string_equal(c.prev_serial, "s1");
  assert_int_equal(c.enrolled_at, T0 + 10);
  mdb_txn_abort(txn);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reopen_and_refuse_create, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_format_version_checked, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_user, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_expiry_binding, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_token_revocation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_login_flow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compiled_decisions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_meta_rule_count_checked, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reader_keeps_its_snapshot, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connector_enrol_secret, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connector_revoked_secret, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connector_renewal_serials, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connector_renewal_from_previous,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_connector_revoke_refuses_both, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connector_record_v1, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
