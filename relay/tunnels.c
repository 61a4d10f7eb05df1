/*
 * The relay's side of the connectors: accepting their TLS connections,
 * telling enrolments from tunnels, keeping a registry of live tunnels
 * per connector, and routing stream events to the sessions that own
 * them.
 */
#include <mbedtls/oid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "policy/connectors.h"
#include "relay/tunnel_int.h"

static void unlink_tunnel(struct relay_tunnel *t) {
  struct relay_tunnel **pp;

  for (pp = &t->relay->tunnels; *pp != NULL; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      return;
    }
}

static void audit_connector(struct relay_tunnel *t, const char *event,
                            const char *reason) {
  struct sp_json j;

  sp_audit_begin(&j, event);
  sp_json_str(&j, "connector", t->connector[0] ? t->connector : NULL);
  sp_json_str(&j, "source", t->peer);
  sp_json_int(&j, "tid", t->tid);
  sp_json_str(&j, "reason", reason);
  relay_audit(t->relay, &j);
}

void tunnel_close(struct relay_tunnel *t, int err, const char *why) {
  if (t->state == TUNNEL_CONN_CLOSING)
    return;
  t->state = TUNNEL_CONN_CLOSING;
  sp_info("tunnel", "close", "tid=%u connector=%s peer=%s why=%s err=%s",
          t->tid, t->connector[0] ? t->connector : "-", t->peer, why,
          sp_err_name(err));
  tls_conn_close(t->tls, err);
}

static void close_cb(struct tls_conn *conn, int err) {
  struct relay_tunnel *t = tls_conn_data(conn);
  struct relay *r = t->relay;

  if (t->up) {
    r->m.tunnels_up--;
    audit_connector(t, "connector_down", sp_err_name(err));
  }
  /* Ends every stream: their owners hear on_closed_cb (MUX_END_TUNNEL). */
  mux_free(t->mux);
  enroll_free(t);
  unlink_tunnel(t);
  sp_debug("tunnel", "closed", "tid=%u err=%s", t->tid, sp_err_name(err));
  free(t);
}

/* ---- the multiplexer's callbacks: forward stream events to owners ---- */

static struct relay_stream_owner *owner(struct mux_stream *s) {
  return mux_stream_user(s);
}

/* Frames go to TLS as one gathered write (see tls_conn_writev). */
static int send_cb(void *ctx, const struct mux_piece *pieces, size_t n) {
  struct relay_tunnel *t = ctx;
  uv_buf_t bufs[MUX_SEND_PIECES_MAX];
  size_t i;

  if (n > sizeof(bufs) / sizeof(bufs[0]))
    return SP_EUSAGE;
  for (i = 0; i < n; i++)
    bufs[i] =
        uv_buf_init((char *)(uintptr_t)pieces[i].p, (unsigned)pieces[i].len);
  return tls_conn_writev(t->tls, bufs, n);
}

static void retire_previous(struct relay_tunnel *t);

static void hello_cb(void *ctx, const struct tunnel_frame_hello *h) {
  struct relay_tunnel *t = ctx;

  t->up = 1;
  t->relay->m.tunnels_up++;
  sp_info("tunnel", "up", "tid=%u connector=%s peer=%s cipher=%s", t->tid,
          t->connector, t->peer, tls_conn_cipher(t->tls));
  audit_connector(t, "connector_up", NULL);
  retire_previous(t);
}

static void open_result_cb(void *ctx, struct mux_stream *s,
                           enum tunnel_result result, struct tunnel_str addr) {
  char text[TUNNEL_ADDR_MAX + 1];
  size_t n = addr.len < TUNNEL_ADDR_MAX ? addr.len : TUNNEL_ADDR_MAX;

  memcpy(text, addr.p, n);
  text[n] = '\0';
  owner(s)->ops->on_result_cb(owner(s), result, text);
}

static void data_cb(void *ctx, struct mux_stream *s,
                    const struct mux_piece *pieces, size_t n) {
  owner(s)->ops->on_data_cb(owner(s), pieces, n);
}

static void fin_cb(void *ctx, struct mux_stream *s) {
  owner(s)->ops->on_fin_cb(owner(s));
}

static void writable_cb(void *ctx, struct mux_stream *s) {
  owner(s)->ops->on_writable_cb(owner(s));
}

static void reset_cb(void *ctx, struct mux_stream *s, uint32_t code) {
  owner(s)->ops->on_reset_cb(owner(s), code);
}

static void stream_closed_cb(void *ctx, struct mux_stream *s) {
  struct relay_stream_owner *o = owner(s);

  if (o != NULL)
    o->ops->on_closed_cb(o, mux_stream_end(s, NULL));
}

static void goaway_cb(void *ctx, const struct tunnel_frame_goaway *g) {
  struct relay_tunnel *t = ctx;

  sp_info("tunnel", "goaway_received", "tid=%u connector=%s code=%s", t->tid,
          t->connector, tunnel_frame_goaway_name(g->code));
}

static void dead_cb(void *ctx, int err) {
  tunnel_close(ctx, err, "dead");
}

/* ---- certificate renewal: CERT_RENEW in, CERT_ISSUED out ---- */

/*
 * Once a renewed connector's tunnel comes up with the current certificate
 * and no tunnel of that connector presents the previous serial any more,
 * the relay forgets that serial, so the replaced key opens no tunnel from
 * then on.  This writes the store, once per renewal.
 */
static void retire_previous(struct relay_tunnel *t) {
  struct relay *r = t->relay;
  char prev[PKI_SERIAL_HEX_MAX] = "";
  struct connectors_rec c;
  struct relay_tunnel *o;
  MDB_txn *txn = relay_txn_begin(r);

  if (txn == NULL)
    return;
  if (connectors_get(r->store, txn, t->connector, &c) == 0 &&
      strcmp(c.serial, t->serial) == 0)
    snprintf(prev, sizeof(prev), "%s", c.prev_serial);
  relay_txn_end(r);
  if (prev[0] == '\0')
    return;

  for (o = r->tunnels; o != NULL; o = o->next)
    if (o->state == TUNNEL_CONN_TUNNEL &&
        strcmp(o->connector, t->connector) == 0 && strcmp(o->serial, prev) == 0)
      return;
  if (connectors_retire(r->store, t->connector, prev) == 0)
    sp_info("tunnel", "previous_retired", "tid=%u connector=%s serial=%s",
            t->tid, t->connector, prev);
}

/*
 * Signs the request for the tunnel's own connector name (the request's
 * subject is ignored) and records the new serial; the serial this tunnel
 * presented stays valid as the previous one.  Returns the CERT_ISSUED
 * status, with `*why` a token for the log and the audit.
 */
static enum tunnel_cert_status
renew(struct relay_tunnel *t, struct tunnel_str csr, char crt[PKI_CRT_PEM_MAX],
      struct pki_cert_info *info, const char **why) {
  struct relay *r = t->relay;
  char pem[PKI_CSR_IN_MAX + 1];
  int rc;

  *why = "too_large";
  if (csr.len > PKI_CSR_IN_MAX)
    return TUNNEL_CERT_REJECTED;
  memcpy(pem, csr.p, csr.len);
  pem[csr.len] = '\0';
  rc = pki_csr_sign(&r->ca, pem, t->connector, 0, crt, info);
  if (rc != 0) {
    *why = rc == SP_ENOMEM ? sp_err_name(rc) : "bad_request_csr";
    return rc == SP_ENOMEM ? TUNNEL_CERT_UNAVAILABLE : TUNNEL_CERT_REJECTED;
  }

  rc = connectors_renew(r->store, t->connector, t->serial, info->serial,
                        info->fingerprint, info->not_after, relay_now(r));
  *why = rc == 0 ? "none" : sp_err_name(rc);
  if (rc == SP_EAUTH || rc == SP_ENOTFOUND)
    return TUNNEL_CERT_REJECTED;
  return rc == 0 ? TUNNEL_CERT_OK : TUNNEL_CERT_UNAVAILABLE;
}

static void audit_renewal(struct relay_tunnel *t, const char *reason,
                          const struct pki_cert_info *info) {
  char until[SP_TIME_MAX];
  struct sp_json j;

  sp_audit_begin(&j, info != NULL ? "connector_renewed"
                                  : "connector_renew_refused");
  sp_json_str(&j, "connector", t->connector);
  sp_json_str(&j, "source", t->peer);
  sp_json_int(&j, "tid", t->tid);
  sp_json_str(&j, "previous", t->serial);
  sp_json_str(&j, "serial", info != NULL ? info->serial : NULL);
  sp_json_str(&j, "not_after",
              info != NULL ? sp_time_format(until, info->not_after) : NULL);
  sp_json_str(&j, "reason", info != NULL ? NULL : reason);
  relay_audit(t->relay, &j);
}

/* A CERT_RENEW from an up tunnel; the answer goes back on that tunnel.
 * Signing is synchronous, so no request is ever outstanding here. */
static void cert_cb(void *ctx, const struct tunnel_frame *f) {
  struct relay_tunnel *t = ctx;
  struct tunnel_frame out = {.type = TUNNEL_CERT_ISSUED};
  struct tunnel_frame_cert_issued *ci = &out.u.cert_issued;
  struct pki_cert_info info;
  char crt[PKI_CRT_PEM_MAX];
  const char *why;
  int rc;

  ci->status = (uint8_t)renew(t, f->u.csr, crt, &info, &why);
  if (ci->status == TUNNEL_CERT_OK) {
    ci->pem.p = crt;
    ci->pem.len = strlen(crt);
  }
  sp_log(ci->status == TUNNEL_CERT_OK ? SP_LOG_INFO : SP_LOG_WARN, "tunnel",
         "cert_renew", "tid=%u connector=%s previous=%s status=%s why=%s",
         t->tid, t->connector, t->serial,
         tunnel_frame_cert_status_name(ci->status), why);
  audit_renewal(t, why, ci->status == TUNNEL_CERT_OK ? &info : NULL);
  rc = mux_send_cert(t->mux, &out);
  if (rc != 0)
    sp_warn("tunnel", "cert_not_sent", "tid=%u connector=%s err=%s", t->tid,
            t->connector, sp_err_name(rc));
}

static const struct mux_callbacks mux_cbs = {
    .send_cb = send_cb,
    .on_hello_cb = hello_cb,
    .on_open_result_cb = open_result_cb,
    .on_data_cb = data_cb,
    .on_fin_cb = fin_cb,
    .on_writable_cb = writable_cb,
    .on_reset_cb = reset_cb,
    .on_stream_closed_cb = stream_closed_cb,
    .on_goaway_cb = goaway_cb,
    .on_cert_cb = cert_cb,
    .on_dead_cb = dead_cb,
};

/* ---- connections ---- */

/* The certificate's common name, which is the connector's name. */
static int cert_name(const mbedtls_x509_crt *crt, char *out, size_t n) {
  const mbedtls_x509_name *name;

  for (name = &crt->subject; name != NULL; name = name->next) {
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) != 0)
      continue;
    if (name->val.len == 0 || name->val.len >= n)
      return SP_EAUTH;
    memcpy(out, name->val.p, name->val.len);
    out[name->val.len] = '\0';
    return 0;
  }
  return SP_EAUTH;
}

/* A verified certificate: it must be the connector's current one. */
static int start_tunnel(struct relay_tunnel *t, const mbedtls_x509_crt *crt) {
  struct relay *r = t->relay;
  struct mux_config cfg;
  MDB_txn *txn;
  int rc;

  rc = cert_name(crt, t->connector, sizeof(t->connector));
  if (rc == 0)
    rc = pki_crt_serial(crt, t->serial);
  if (rc == 0 && (txn = relay_txn_begin(r)) != NULL) {
    rc = connectors_check(r->store, txn, t->connector, t->serial);
    relay_txn_end(r);
  }
  if (rc != 0) {
    audit_connector(t, "connector_refused", "certificate_not_current");
    return rc;
  }
  memset(&cfg, 0, sizeof(cfg));
  cfg.role = TUNNEL_ROLE_RELAY;
  cfg.name = r->cfg.name;
  cfg.software = "sallyport " SP_VERSION;
  cfg.peer_name = t->connector;
  cfg.tid = t->tid;
  rc = mux_new(&cfg, &mux_cbs, t, &t->mux);
  if (rc == 0)
    rc = mux_start(t->mux, uv_now(r->loop));
  t->state = TUNNEL_CONN_TUNNEL;
  return rc;
}

static void handshake_cb(struct tls_conn *conn, int status) {
  struct relay_tunnel *t = tls_conn_data(conn);
  const mbedtls_x509_crt *crt;
  int rc;

  if (status != 0) {
    sp_info("tunnel", "handshake_failed", "tid=%u peer=%s err=%s", t->tid,
            t->peer, sp_err_name(status));
    return; /* on_close follows */
  }
  crt = tls_conn_peer_cert(conn);
  if (crt == NULL) {
    t->state = TUNNEL_CONN_ENROL;
    return;
  }
  rc = start_tunnel(t, crt);
  if (rc != 0)
    tunnel_close(t, rc, "refused");
}

static void read_cb(struct tls_conn *conn, const uint8_t *p, size_t n) {
  struct relay_tunnel *t = tls_conn_data(conn);
  int rc;

  if (t->state == TUNNEL_CONN_ENROL) {
    enroll_feed(t, p, n);
    return;
  }
  if (t->state != TUNNEL_CONN_TUNNEL)
    return;
  rc = mux_feed(t->mux, p, n);
  if (rc == SP_EPROTO) {
    t->relay->m.protocol_errors++;
    t->state = TUNNEL_CONN_CLOSING;
    tls_conn_shutdown(t->tls); /* flushes the GOAWAY first */
  } else if (rc != 0) {
    tunnel_close(t, rc, "feed");
  }
}

static const struct tls_conn_cbs tls_cbs = {
    .on_handshake = handshake_cb,
    .on_read = read_cb,
    .on_close = close_cb,
};

static void free_tcp_cb(uv_handle_t *h) {
  free(h->data);
}

void relay_tunnel_accept(struct listener *l) {
  struct relay *r = l->data;
  struct relay_tunnel *t = calloc(1, sizeof(*t));
  char ip[LISTEN_IP_MAX];

  if (t == NULL)
    return;
  t->relay = r;
  t->tid = ++r->next_tid;
  t->since = relay_now(r);
  uv_tcp_init(r->loop, &t->tcp);
  t->tcp.data = t;
  if (listener_accept(l, &t->tcp) != 0 ||
      tls_conn_new(&t->tls, r->tls_tunnels, &t->tcp, &tls_cbs, t) != 0) {
    uv_close((uv_handle_t *)&t->tcp, free_tcp_cb);
    return;
  }
  tls_conn_set_batch(t->tls, &r->batch);
  r->m.connections[METRICS_CONNECTORS]++;
  listen_peer(&t->tcp, t->peer, ip);
  t->next = r->tunnels;
  r->tunnels = t;
  sp_debug("tunnel", "accepted", "tid=%u peer=%s", t->tid, t->peer);
}

int relay_stream_open(struct relay *r, const char *connector,
                      const struct mux_open_args *args,
                      struct relay_stream_owner *o, const struct mux *avoid,
                      struct mux_stream **out) {
  struct relay_tunnel *t, *best = NULL;
  uint32_t load, best_load = UINT32_MAX;
  int full = 0;

  for (t = r->tunnels; t != NULL; t = t->next) {
    if (t->state != TUNNEL_CONN_TUNNEL || !t->up ||
        strcmp(t->connector, connector) != 0)
      continue;
    if (mux_streams_left(t->mux) == 0 || t->mux == avoid) {
      full = 1;
      continue;
    }
    load = mux_stats(t->mux)->streams_active;
    if (load < best_load) {
      best = t;
      best_load = load;
    }
  }
  if (best == NULL && full)
    sp_warn("tunnel", "connector_full", "connector=%s", connector);
  if (best == NULL)
    return full ? SP_ELIMIT : SP_ENOTFOUND;
  return mux_open(best->mux, args, o, out);
}

struct live_ctx {
  struct relay *relay;
  MDB_txn *vtxn;
  int64_t now;
  uint64_t up;
};

/* Writes one connector's live status: its tunnels in this relay. */
static int live_one(void *ctx, const struct connectors_rec *c) {
  struct live_ctx *l = ctx;
  struct connectors_live live = {0, "", 0, l->now};
  struct relay_tunnel *t;

  for (t = l->relay->tunnels; t != NULL; t = t->next) {
    if (t->state != TUNNEL_CONN_TUNNEL || !t->up ||
        strcmp(t->connector, c->name) != 0)
      continue;
    live.tunnels++;
    live.address = t->peer;
    live.last_seen = l->now;
  }
  l->up += live.tunnels > 0;
  if (live.tunnels == 0 &&
      connectors_live_get(l->relay->store, l->vtxn, c->name,
                          &(struct connectors_live){0}) == SP_ENOTFOUND)
    return 0;
  return connectors_live_put(l->relay->store, l->vtxn, c->name, &live) == 0 ? 0
                                                                            : 1;
}

/*
 * Once a second: the status `connector list` shows.  The heartbeat
 * tells readers a relay is running; without one every connector reads
 * as offline.
 */
static void relay_live_write(struct relay *r) {
  struct live_ctx l = {r, NULL, relay_now(r), 0};
  MDB_txn *txn;

  if (l.now == r->live_written || r->stopping)
    return;
  r->live_written = l.now;
  relay_sessions_publish(r);
  txn = relay_txn_begin(r);
  if (txn == NULL)
    return;
  if (store_vbegin(r->store, 0, &l.vtxn) == 0) {
    connectors_foreach(r->store, txn, live_one, &l);
    relay_heartbeat_put(r->store, l.vtxn, l.now);
    if (mdb_txn_commit(l.vtxn) != 0)
      sp_warn("tunnel", "live_not_saved", "store=volatile");
  }
  relay_txn_end(r);
  r->m.connectors_up = l.up;
}

void relay_live_clear(struct relay *r) {
  MDB_txn *vtxn;

  if (store_vbegin(r->store, 0, &vtxn) != 0)
    return;
  if (mdb_drop(vtxn, r->store->live, 0) != 0 ||
      mdb_drop(vtxn, r->store->sessions, 0) != 0) {
    mdb_txn_abort(vtxn);
    sp_warn("tunnel", "live_not_cleared", "store=volatile");
    return;
  }
  if (mdb_txn_commit(vtxn) != 0)
    sp_warn("tunnel", "live_not_cleared", "store=volatile");
}

void relay_tunnels_tick(struct relay *r, uint64_t now_ms) {
  struct relay_tunnel *t, *next;

  for (t = r->tunnels; t != NULL; t = next) {
    next = t->next;
    if (t->state == TUNNEL_CONN_TUNNEL)
      mux_tick(t->mux, now_ms);
    else if (t->state == TUNNEL_CONN_ENROL &&
             relay_now(r) - t->since >= r->cfg.request_timeout)
      tunnel_close(t, SP_ETIMEOUT, "enrol_timeout"); /* no request came */
  }
  relay_live_write(r);
}

/* A connector revoked or re-enrolled loses its tunnels at once. */
void relay_tunnels_recheck(struct relay *r) {
  struct relay_tunnel *t, *next;
  MDB_txn *txn = relay_txn_begin(r);
  int rc;

  if (txn == NULL)
    return;
  for (t = r->tunnels; t != NULL; t = next) {
    next = t->next;
    if (t->state != TUNNEL_CONN_TUNNEL)
      continue;
    rc = connectors_check(r->store, txn, t->connector, t->serial);
    if (rc == 0)
      continue;
    mux_goaway(t->mux, TUNNEL_GOAWAY_REVOKED, "certificate revoked");
    audit_connector(t, "connector_revoked", "revoked");
    t->state = TUNNEL_CONN_CLOSING;
    tls_conn_shutdown(t->tls);
  }
  relay_txn_end(r);
}

void relay_tunnels_close_all(struct relay *r) {
  struct relay_tunnel *t, *next;

  for (t = r->tunnels; t != NULL; t = next) {
    next = t->next;
    if (t->state == TUNNEL_CONN_TUNNEL) {
      mux_goaway(t->mux, TUNNEL_GOAWAY_SHUTDOWN, NULL);
      t->state = TUNNEL_CONN_CLOSING;
      tls_conn_shutdown(t->tls);
    } else {
      tunnel_close(t, 0, "shutdown");
    }
  }
}
