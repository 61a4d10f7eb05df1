/*
 * What `sallyport-relay sessions` sees of the running relay, through
 * the volatile store:
 *
 *   "sessions": u32 sid (big-endian) -> u8 kind, str user, str client,
 *     str device, str dest, str resource, str rule, str state, i64
 *     started, u64 bytes up, u64 bytes down.  Brought up to date once
 *     a second while the relay runs: records of new sessions and of
 *     sessions whose state or byte counts moved are written, those of
 *     sessions that are closing or gone deleted, and the rest (idle
 *     sessions, most of them on a busy relay) left alone.  The first
 *     publish, and one after a failed one, rewrites the table whole.
 *   "kills": "sid:N" or "user:NAME" -> i64 when asked.  The relay reads
 *     and deletes them on every tick and closes the matching sessions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/pack.h"
#include "relay/session.h"

static int put_session(struct store *st, MDB_txn *vtxn,
                       const struct relay_session *s, int64_t started) {
  uint8_t key[4] = {(uint8_t)(s->sid >> 24), (uint8_t)(s->sid >> 16),
                    (uint8_t)(s->sid >> 8), (uint8_t)s->sid};
  struct sp_wbuf w;
  int rc;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, (uint8_t)s->kind);
  sp_wbuf_str(&w, s->user);
  sp_wbuf_str(&w, s->client);
  sp_wbuf_str(&w, s->device);
  sp_wbuf_str(&w, s->dest);
  sp_wbuf_str(&w, s->decision.resource);
  sp_wbuf_str(&w, s->decision.rule);
  sp_wbuf_str(&w, session_state_name(s->state));
  sp_wbuf_u64(&w, (uint64_t)started);
  sp_wbuf_u64(&w, s->up);
  sp_wbuf_u64(&w, s->down);
  rc = w.err ? w.err : store_put(vtxn, st->sessions, key, 4, w.p, w.len, 0);
  sp_wbuf_free(&w);
  return rc;
}

/* Closes the sessions that a kill request names. */
static void apply_kill(struct relay *r, const char *req) {
  struct relay_session *s;
  unsigned long sid = 0;
  const char *user = NULL;
  struct sp_json j;
  int n = 0;

  if (strncmp(req, "sid:", 4) == 0)
    sid = strtoul(req + 4, NULL, 10);
  else if (strncmp(req, "user:", 5) == 0)
    user = req + 5;
  for (s = r->sessions; s != NULL; s = s->next) {
    if (s->state == SESSION_CLOSING)
      continue;
    if ((sid && s->sid == sid) || (user && strcmp(s->user, user) == 0)) {
      session_close(s, "admin", "killed", SP_EDENIED);
      n++;
    }
  }
  sp_audit_begin(&j, "session_kill");
  sp_json_str(&j, "request", req);
  sp_json_int(&j, "sessions", n);
  relay_audit(r, &j);
}

static void take_kills(struct relay *r, MDB_txn *vtxn) {
  MDB_cursor *cur;
  MDB_val k, v;
  char req[128];

  if (mdb_cursor_open(vtxn, r->store->kills, &cur) != 0)
    return;
  while (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
    if (k.mv_size < sizeof(req)) {
      memcpy(req, k.mv_data, k.mv_size);
      req[k.mv_size] = '\0';
      apply_kill(r, req);
    }
    if (mdb_cursor_del(cur, 0) != 0)
      break;
  }
  mdb_cursor_close(cur);
}

void relay_sessions_unpublish(struct relay *r, uint32_t sid) {
  uint32_t *grown;
  size_t cap;

  if (r->publish_all)
    return;
  if (r->unpublish_len == r->unpublish_cap) {
    cap = r->unpublish_cap ? 2 * r->unpublish_cap : 64;
    grown = realloc(r->unpublish, cap * sizeof(*grown));
    if (grown == NULL) {
      r->publish_all = 1; /* the rewrite drops the record instead */
      return;
    }
    r->unpublish = grown;
    r->unpublish_cap = cap;
  }
  r->unpublish[r->unpublish_len++] = sid;
}

static int delete_session(struct store *st, MDB_txn *vtxn, uint32_t sid) {
  uint8_t key[4] = {(uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
                    (uint8_t)(sid >> 8), (uint8_t)sid};
  int rc = store_del(vtxn, st->sessions, key, 4);

  return rc == SP_ENOTFOUND ? 0 : rc;
}

/* Writes or deletes what changed since the last publish. */
static int publish_changes(struct relay *r, MDB_txn *vtxn, int all) {
  struct relay_session *s;
  int64_t now = relay_now(r);
  size_t i;
  int rc = 0;

  if (all)
    rc = store_err(mdb_drop(vtxn, r->store->sessions, 0));
  for (i = 0; i < r->unpublish_len && rc == 0 && !all; i++)
    rc = delete_session(r->store, vtxn, r->unpublish[i]);
  for (s = r->sessions; s != NULL && rc == 0; s = s->next) {
    if (all)
      s->published = 0;
    if (s->state == SESSION_CLOSING) {
      if (s->published)
        rc = delete_session(r->store, vtxn, s->sid);
      s->published = 0;
      continue;
    }
    if (s->published && s->pub_state == s->state && s->pub_up == s->up &&
        s->pub_down == s->down)
      continue;
    rc = put_session(r->store, vtxn, s,
                     now - (int64_t)((uv_now(r->loop) - s->started_ms) / 1000));
    s->published = 1;
    s->pub_state = s->state;
    s->pub_up = s->up;
    s->pub_down = s->down;
  }
  return rc;
}

void relay_sessions_publish(struct relay *r) {
  MDB_txn *vtxn;
  int all = r->publish_all;
  int rc;

  if (store_vbegin(r->store, 0, &vtxn) != 0)
    return;
  take_kills(r, vtxn);
  rc = publish_changes(r, vtxn, all);
  if (rc != 0)
    mdb_txn_abort(vtxn);
  else if ((rc = store_err(mdb_txn_commit(vtxn))) == 0) {
    r->unpublish_len = 0;
    r->publish_all = 0;
    return;
  }
  /* What `published` says may now be wrong: start again from nothing. */
  r->publish_all = 1;
  r->unpublish_len = 0;
  sp_warn("session", "publish_failed", "err=%s", sp_err_name(rc));
}
