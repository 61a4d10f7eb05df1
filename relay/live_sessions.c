/*
 * What `sallyport-relay sessions` sees of the running relay, through
 * the volatile store:
 *
 *   "sessions": u32 sid (big-endian) -> u8 kind, str user, str client,
 *     str device, str dest, str resource, str rule, str state, i64
 *     started, u64 bytes up, u64 bytes down.  Rewritten whole once a
 *     second while the relay runs.
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

void relay_sessions_publish(struct relay *r) {
  struct relay_session *s;
  MDB_txn *vtxn;
  int64_t now = relay_now(r);
  int rc;

  if (store_vbegin(r->store, 0, &vtxn) != 0)
    return;
  take_kills(r, vtxn);
  rc = store_err(mdb_drop(vtxn, r->store->sessions, 0));
  for (s = r->sessions; s != NULL && rc == 0; s = s->next)
    if (s->state != SESSION_CLOSING)
      rc = put_session(r->store, vtxn, s,
                       now -
                           (int64_t)((uv_now(r->loop) - s->started_ms) / 1000));
  if (rc != 0 || mdb_txn_commit(vtxn) != 0) {
    if (rc != 0)
      mdb_txn_abort(vtxn);
    sp_warn("session", "publish_failed", "err=%s", sp_err_name(rc));
  }
}
