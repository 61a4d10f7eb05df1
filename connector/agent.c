/*
 * The connector daemon: N tunnel slots, each keeping one TLS connection
 * to the relay alive on its own, with the multiplexer on top and the
 * streams (stream.c) below.  The connector only ever dials out; nothing
 * here or in stream.c binds or listens.
 *
 * Slot states; tunnel_set_state() checks every move against
 * `tunnel_moves` and logs it at debug level.
 *
 *   waiting    the timer runs: a back-off wait, or 0 at start-up
 *   resolving  uv_getaddrinfo() for the relay's host is in flight; it is
 *              repeated on every attempt, so a relay that moved is found
 *   dialing    uv_tcp_connect() to one address; the timer is its 10 s
 *              deadline
 *   handshake  TLS runs (with tls.c's own deadline); ca.crt is the only
 *              CA trusted, connector.crt/.key identify us
 *   up         the mux runs: HELLO is sent, plaintext is fed to it, the
 *              tick timer calls mux_tick() every second.  The tunnel
 *              counts as up, for the back-off, from the relay's HELLO
 *   closing    the TCP handle or the TLS connection is closing; its close
 *              callback decides what comes next
 *   stopped    the agent is stopping and the slot has closed its timers
 *
 *   waiting -> resolving -> dialing -> handshake -> up -> closing
 *   closing -> dialing (the next address) | waiting | stopped
 *   resolving -> waiting (lookup failed) | stopped;  waiting -> stopped
 *
 * tunnel_settle() runs whenever a slot has nothing left open: it waits
 * for the next attempt (backoff.h), or stops the slot.  tunnel_down() is
 * the one teardown of a tunnel that was up: it logs why, frees the mux
 * (which ends every stream on it) and closes TLS.
 *
 * Backpressure: when the TLS write queue reaches its high mark the slot
 * is `congested` and its streams stop reading their destinations; TLS's
 * on_drain clears it and wakes them (stream_resume_all).
 *
 * Certificate renewal lives in agent_renew.c.  Each connection records
 * the client role it was made with (`conf`), since after a renewal new
 * tunnels use the new certificate while older ones still run on the
 * previous one until they are moved over (`draining`).
 */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "connector/agent_int.h"
#include "connector/stream.h"

#define DIAL_TIMEOUT_MS 10000
#define TICK_MS 1000

#ifndef SP_VERSION
#define SP_VERSION "0"
#endif

static const char *const tunnel_state_names[] = {
#define AGENT_NAME_(name, token) token,
    AGENT_TUNNEL_STATE_MAP(AGENT_NAME_)
#undef AGENT_NAME_
};

#define TO(s) (1u << (s))
static const unsigned tunnel_moves[] = {
    [AGENT_TUNNEL_WAITING] =
        TO(AGENT_TUNNEL_RESOLVING) | TO(AGENT_TUNNEL_STOPPED),
    [AGENT_TUNNEL_RESOLVING] = TO(AGENT_TUNNEL_DIALING) |
                               TO(AGENT_TUNNEL_WAITING) |
                               TO(AGENT_TUNNEL_STOPPED),
    [AGENT_TUNNEL_DIALING] =
        TO(AGENT_TUNNEL_HANDSHAKE) | TO(AGENT_TUNNEL_CLOSING),
    [AGENT_TUNNEL_HANDSHAKE] = TO(AGENT_TUNNEL_UP) | TO(AGENT_TUNNEL_CLOSING),
    [AGENT_TUNNEL_UP] = TO(AGENT_TUNNEL_CLOSING),
    [AGENT_TUNNEL_CLOSING] = TO(AGENT_TUNNEL_DIALING) |
                             TO(AGENT_TUNNEL_WAITING) |
                             TO(AGENT_TUNNEL_STOPPED),
    [AGENT_TUNNEL_STOPPED] = 0,
};

/* A code's stable name, whether it is a libuv code or one of ours. */
static const char *err_token(int err, char *buf, size_t n) {
  if (err < 0 && err > -4096)
    return uv_err_name_r(err, buf, n);
  return sp_err_name(err);
}

static void tunnel_set_state(struct agent_tunnel *t,
                             enum agent_tunnel_state to) {
  bool legal = (tunnel_moves[t->state] & TO(to)) != 0;

  sp_log(legal ? SP_LOG_DEBUG : SP_LOG_ERROR, "connector", "tunnel_state",
         "tid=%u from=%s to=%s%s", t->tid, tunnel_state_names[t->state],
         tunnel_state_names[to], legal ? "" : " illegal=1");
  assert(legal);
  t->state = to;
}

static void tunnel_attempt_cb(uv_timer_t *timer);

static void timer_closed_cb(uv_handle_t *h) {
  (void)h; /* the slot's memory lives as long as the agent */
}

/* Waits for the next attempt, as long as the back-off says. */
static void tunnel_wait(struct agent_tunnel *t) {
  uint64_t now = uv_now(t->agent->loop);
  uint32_t ceiling, delay;
  char name[32];

  if (t->up_since != 0)
    backoff_was_up(&t->backoff, now - t->up_since);
  t->up_since = 0;
  ceiling = t->backoff.ceiling_ms;
  delay = backoff_next(&t->backoff);
  sp_info("connector", "tunnel_retry",
          "tid=%u attempt=%u delay_ms=%u ceiling_ms=%u err=%s", t->tid,
          t->backoff.attempts, delay, ceiling,
          err_token(t->last_err, name, sizeof(name)));
  tunnel_set_state(t, AGENT_TUNNEL_WAITING);
  uv_timer_start(&t->timer, tunnel_attempt_cb, delay, 0);
}

/* Nothing of the slot is open any more: wait and retry, or stop. */
static void tunnel_settle(struct agent_tunnel *t) {
  if (t->addrs != NULL) {
    uv_freeaddrinfo(t->addrs);
    t->addrs = t->next = NULL;
  }
  if (!t->agent->stopping) {
    tunnel_wait(t);
    return;
  }
  tunnel_set_state(t, AGENT_TUNNEL_STOPPED);
  uv_close((uv_handle_t *)&t->timer, timer_closed_cb);
  uv_close((uv_handle_t *)&t->tick, timer_closed_cb);
}

/* One line for a failed attempt, at the phase where it failed. */
static void tunnel_failed(struct agent_tunnel *t, const char *phase, int err) {
  char name[32];

  t->last_err = err;
  sp_warn("connector", "tunnel_failed", "tid=%u phase=%s relay=%s err=%s",
          t->tid, phase, t->agent->opts->conf->relay,
          err_token(err, name, sizeof(name)));
}

/* The one teardown of a tunnel that was up. */
static void tunnel_down(struct agent_tunnel *t, int err, bool flush) {
  uint64_t now = uv_now(t->agent->loop);
  struct mux *m = t->mux;
  char name[32];

  if (t->state != AGENT_TUNNEL_UP)
    return;
  t->last_err = err;
  sp_log(err == 0 ? SP_LOG_INFO : SP_LOG_WARN, "connector", "tunnel_down",
         "tid=%u err=%s up_ms=%llu streams=%u", t->tid,
         err_token(err, name, sizeof(name)),
         (unsigned long long)(t->up_since != 0 ? now - t->up_since : 0),
         (unsigned)mux_stats(m)->streams_active);
  tunnel_set_state(t, AGENT_TUNNEL_CLOSING);
  uv_timer_stop(&t->tick);
  t->draining = false;
  agent_renew_tunnel_down(t);

  t->mux = NULL;
  mux_free(m); /* ends every stream; inside a mux callback, on return */
  if (t->conn == NULL)
    return;
  if (flush)
    tls_conn_shutdown(t->conn);
  else
    tls_conn_close(t->conn, err);
}

/* ---- The mux's callbacks ----------------------------------------------- */

/* Hands frames to TLS as one gathered write (see tls_conn_writev). */
static int mux_send_cb(void *ctx, const struct mux_piece *pieces, size_t n) {
  struct agent_tunnel *t = ctx;
  uv_buf_t bufs[MUX_SEND_PIECES_MAX];
  size_t i;
  int rc;

  if (t->conn == NULL)
    return SP_ECLOSED;
  if (n > MUX_SEND_PIECES_MAX)
    return SP_EUSAGE;
  for (i = 0; i < n; i++)
    bufs[i] =
        uv_buf_init((char *)(uintptr_t)pieces[i].p, (unsigned)pieces[i].len);
  rc = tls_conn_writev(t->conn, bufs, n);
  if (rc == 0 && tls_conn_write_queued(t->conn) >= TLS_WRITE_HIGH_DEFAULT)
    t->congested = true;
  return rc;
}

static void mux_hello_cb(void *ctx, const struct tunnel_frame_hello *hello) {
  struct agent_tunnel *t = ctx;
  char quoted[TUNNEL_NAME_MAX + 8];

  (void)hello;
  t->up_since = uv_now(t->agent->loop);
  sp_info("connector", "tunnel_up", "tid=%u relay=%s peer=%s suite=%s", t->tid,
          t->agent->opts->conf->relay,
          sp_log_quote(quoted, sizeof(quoted), mux_peer_name(t->mux)),
          tls_conn_cipher(t->conn));
  agent_renew_tunnel_up(t);
}

static void mux_open_cb(void *ctx, struct mux_stream *s,
                        const struct tunnel_frame *open) {
  stream_open(ctx, s, &open->u.open);
}

static void mux_data_cb(void *ctx, struct mux_stream *s,
                        const struct mux_piece *pieces, size_t n) {
  (void)ctx;
  stream_on_data(s, pieces, n);
}

static void mux_fin_cb(void *ctx, struct mux_stream *s) {
  (void)ctx;
  stream_on_fin(s);
}

static void mux_writable_cb(void *ctx, struct mux_stream *s) {
  (void)ctx;
  stream_on_writable(s);
}

static void mux_reset_cb(void *ctx, struct mux_stream *s, uint32_t code) {
  (void)ctx;
  stream_on_reset(s, code);
}

static void mux_closed_cb(void *ctx, struct mux_stream *s) {
  (void)ctx;
  stream_on_closed(s);
}

static void mux_goaway_cb(void *ctx, const struct tunnel_frame_goaway *g) {
  struct agent_tunnel *t = ctx;

  /* The relay closes the tunnel after this; the slot then retries with
   * back-off, which is what an admin who re-enrols wants. */
  if (g->code == TUNNEL_GOAWAY_REVOKED)
    sp_error("connector", "revoked",
             "tid=%u relay=%s msg=\"the relay revoked this connector; "
             "enrol it again with a new token\"",
             t->tid, t->agent->opts->conf->relay);
}

static void mux_cert_cb(void *ctx, const struct tunnel_frame *f) {
  agent_renew_on_cert(ctx, f);
}

static void mux_dead_cb(void *ctx, int err) {
  tunnel_down(ctx, err, false);
}

static const struct mux_callbacks mux_cbs = {
    .send_cb = mux_send_cb,
    .on_hello_cb = mux_hello_cb,
    .on_open_cb = mux_open_cb,
    .on_data_cb = mux_data_cb,
    .on_fin_cb = mux_fin_cb,
    .on_writable_cb = mux_writable_cb,
    .on_reset_cb = mux_reset_cb,
    .on_stream_closed_cb = mux_closed_cb,
    .on_goaway_cb = mux_goaway_cb,
    .on_cert_cb = mux_cert_cb,
    .on_dead_cb = mux_dead_cb,
};

static void tick_cb(uv_timer_t *timer) {
  struct agent_tunnel *t = timer->data;

  if (t->mux != NULL)
    mux_tick(t->mux, uv_now(t->agent->loop));
}

/* TLS is up: the mux takes over the connection. */
static int tunnel_start_mux(struct agent_tunnel *t) {
  struct mux_config cfg;
  int rc;

  memset(&cfg, 0, sizeof(cfg));
  cfg.role = TUNNEL_ROLE_CONNECTOR;
  cfg.name = t->agent->opts->conf->name;
  cfg.software = "sallyport " SP_VERSION;
  cfg.tid = t->tid;
  rc = mux_new(&cfg, &mux_cbs, t, &t->mux);
  if (rc != 0)
    return rc;
  tunnel_set_state(t, AGENT_TUNNEL_UP);
  t->congested = false;
  t->draining = false;
  uv_timer_start(&t->tick, tick_cb, TICK_MS, TICK_MS);
  return mux_start(t->mux, uv_now(t->agent->loop));
}

/* ---- TLS's callbacks --------------------------------------------------- */

static void tls_handshake_cb(struct tls_conn *conn, int status) {
  struct agent_tunnel *t = tls_conn_data(conn);
  int rc;

  if (status != 0) {
    tunnel_failed(t, "handshake", status);
    tunnel_set_state(t, AGENT_TUNNEL_CLOSING); /* tls_close_cb follows */
    return;
  }
  rc = tunnel_start_mux(t);
  if (rc == 0)
    return;
  if (t->state == AGENT_TUNNEL_UP) {
    tunnel_down(t, rc, false);
    return;
  }
  tunnel_failed(t, "mux", rc);
  tunnel_set_state(t, AGENT_TUNNEL_CLOSING);
  tls_conn_close(conn, rc);
}

static void tls_read_cb(struct tls_conn *conn, const uint8_t *p, size_t n) {
  struct agent_tunnel *t = tls_conn_data(conn);
  int rc;

  if (t->mux == NULL)
    return;
  rc = mux_feed(t->mux, p, n);
  /* After a tunnel error the mux has queued GOAWAY: flush it first. */
  if (rc != 0)
    tunnel_down(t, rc, rc == SP_EPROTO);
}

static void tls_drain_cb(struct tls_conn *conn) {
  struct agent_tunnel *t = tls_conn_data(conn);

  t->congested = false;
  stream_resume_all(t);
}

static void tls_close_cb(struct tls_conn *conn, int err) {
  struct agent_tunnel *t = tls_conn_data(conn);

  if (t->state == AGENT_TUNNEL_UP)
    tunnel_down(t, err, false); /* the relay or the network ended it */
  t->conn = NULL;
  t->conf = NULL; /* agent_renew.c frees a previous role nobody uses */
  t->tcp_live = false;
  tunnel_settle(t);
}

static const struct tls_conn_cbs tls_cbs = {
    .on_handshake = tls_handshake_cb,
    .on_read = tls_read_cb,
    .on_drain = tls_drain_cb,
    .on_close = tls_close_cb,
};

/* ---- Dialling ---------------------------------------------------------- */

static void tunnel_try_next(struct agent_tunnel *t);

static void dial_closed_cb(uv_handle_t *h) {
  struct agent_tunnel *t = h->data;

  t->tcp_live = false;
  if (t->agent->stopping || t->next == NULL)
    tunnel_settle(t);
  else
    tunnel_try_next(t);
}

/* Gives up on the address being dialled; the close callback goes on. */
static void dial_close(struct agent_tunnel *t, int err) {
  t->last_err = err;
  uv_timer_stop(&t->timer);
  tunnel_set_state(t, AGENT_TUNNEL_CLOSING);
  uv_close((uv_handle_t *)&t->tcp, dial_closed_cb);
}

static void dial_timeout_cb(uv_timer_t *timer) {
  struct agent_tunnel *t = timer->data;

  tunnel_failed(t, "dial", UV_ETIMEDOUT);
  dial_close(t, UV_ETIMEDOUT);
}

static void connect_cb(uv_connect_t *req, int status) {
  struct agent_tunnel *t = req->data;
  int rc;

  if (status == UV_ECANCELED)
    return; /* the handle is closing, and its close callback goes on */
  if (status != 0) {
    tunnel_failed(t, "dial", status);
    dial_close(t, status);
    return;
  }
  uv_timer_stop(&t->timer);
  rc = tls_conn_new(&t->conn, t->agent->tls, &t->tcp, &tls_cbs, t);
  if (rc != 0) {
    tunnel_failed(t, "tls", rc);
    t->next = NULL;
    dial_close(t, rc);
    return;
  }
  tls_conn_set_batch(t->conn, &t->agent->batch);
  t->conf = t->agent->tls;
  tunnel_set_state(t, AGENT_TUNNEL_HANDSHAKE);
}

/* Dials the next of the relay's addresses; after the last, waits. */
static void tunnel_try_next(struct agent_tunnel *t) {
  struct addrinfo *ai = t->next;
  int rc;

  if (ai == NULL) {
    tunnel_settle(t);
    return;
  }
  t->next = ai->ai_next;
  tunnel_set_state(t, AGENT_TUNNEL_DIALING);
  uv_tcp_init(t->agent->loop, &t->tcp);
  t->tcp.data = t;
  t->tcp_live = true;
  t->connect.data = t;
  rc = uv_tcp_connect(&t->connect, &t->tcp, ai->ai_addr, connect_cb);
  if (rc != 0) {
    tunnel_failed(t, "dial", rc);
    dial_close(t, rc);
    return;
  }
  uv_timer_start(&t->timer, dial_timeout_cb, DIAL_TIMEOUT_MS, 0);
}

static void resolved_cb(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct agent_tunnel *t = req->data;

  t->gai_active = false;
  t->addrs = t->next = res;
  if (status != 0 && !t->agent->stopping)
    tunnel_failed(t, "resolve", status);
  if (status != 0 || t->agent->stopping)
    tunnel_settle(t);
  else
    tunnel_try_next(t);
}

static void tunnel_attempt_cb(uv_timer_t *timer) {
  struct agent_tunnel *t = timer->data;
  const struct statedir_conf *c = t->agent->opts->conf;
  struct addrinfo hints;
  int rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  tunnel_set_state(t, AGENT_TUNNEL_RESOLVING);
  t->gai.data = t;
  rc = uv_getaddrinfo(t->agent->loop, &t->gai, resolved_cb, c->relay_host,
                      c->relay_port, &hints);
  if (rc != 0) {
    tunnel_failed(t, "resolve", rc);
    tunnel_settle(t);
    return;
  }
  t->gai_active = true;
}

/* ---- Starting and stopping --------------------------------------------- */

/* Ends the slot's work in whatever state it is; tunnel_settle() stops it
 * once nothing is left open. */
static void tunnel_stop(struct agent_tunnel *t) {
  switch (t->state) {
  case AGENT_TUNNEL_WAITING:
    uv_timer_stop(&t->timer);
    tunnel_settle(t);
    break;
  case AGENT_TUNNEL_RESOLVING:
    if (t->gai_active)
      uv_cancel((uv_req_t *)&t->gai);
    break;
  case AGENT_TUNNEL_DIALING:
    dial_close(t, 0);
    break;
  case AGENT_TUNNEL_HANDSHAKE:
    tunnel_set_state(t, AGENT_TUNNEL_CLOSING);
    tls_conn_close(t->conn, 0);
    break;
  case AGENT_TUNNEL_UP:
    (void)mux_goaway(t->mux, TUNNEL_GOAWAY_SHUTDOWN, "connector stopping");
    tunnel_down(t, 0, true);
    break;
  case AGENT_TUNNEL_CLOSING:
  case AGENT_TUNNEL_STOPPED:
    break;
  }
}

static void signal_closed_cb(uv_handle_t *h) {
  (void)h;
}

static void signal_cb(uv_signal_t *sig, int signum) {
  struct agent *a = sig->data;
  unsigned i;

  if (a->stopping)
    return;
  a->stopping = true;
  sp_info("connector", "stopping", "signal=%s",
          signum == SIGINT ? "SIGINT" : "SIGTERM");
  uv_close((uv_handle_t *)&a->sigint, signal_closed_cb);
  uv_close((uv_handle_t *)&a->sigterm, signal_closed_cb);
  agent_renew_stop(a);
  for (i = 0; i < a->opts->tunnels; i++) {
    tunnel_stop(&a->tunnels[i]);
    stream_stop_all(&a->tunnels[i]);
  }
}

static void tunnel_init(struct agent *a, struct agent_tunnel *t, uint32_t tid) {
  t->agent = a;
  t->tid = tid;
  t->state = AGENT_TUNNEL_WAITING;
  backoff_init(&t->backoff, NULL, NULL);
  uv_timer_init(a->loop, &t->timer);
  uv_timer_init(a->loop, &t->tick);
  t->timer.data = t->tick.data = t;
  uv_timer_start(&t->timer, tunnel_attempt_cb, 0, 0);
}

void agent_tunnel_end(struct agent_tunnel *t) {
  tunnel_down(t, 0, true);
}

/* The client role the tunnels share: our certificate, only our CA. */
int agent_tls_load(struct agent *a, const char *crt_name, const char *key_name,
                   struct tls_conf **out, char *err, size_t errn) {
  const struct agent_opts *o = a->opts;
  char ca[4096], crt[4096], key[4096];
  struct tls_client_opts t;
  int rc;

  memset(&t, 0, sizeof(t));
  if (statedir_path(ca, sizeof(ca), o->state, STATEDIR_CA) != 0 ||
      statedir_path(crt, sizeof(crt), o->state, crt_name) != 0 ||
      statedir_path(key, sizeof(key), o->state, key_name) != 0) {
    snprintf(err, errn, "the state directory's name is too long");
    return SP_EUSAGE;
  }
  t.ca_file = ca;
  t.crt_file = crt;
  t.key_file = key;
  t.server_name = o->conf->server_name;
  rc = tls_conf_client(out, &t);
  if (rc != 0)
    snprintf(err, errn, "cannot load %s, %s and %s: %s", ca, crt, key,
             sp_strerror(rc));
  return rc;
}

static void log_start(const struct agent *a) {
  const struct allow_list *l = a->opts->allow;
  char entry[ALLOW_FORMAT_MAX];
  size_t i;

  sp_info("connector", "started",
          "name=%s relay=%s server_name=%s tunnels=%u allow=%zu",
          a->opts->conf->name, a->opts->conf->relay, a->opts->conf->server_name,
          a->opts->tunnels, l->n);
  for (i = 0; i < l->n; i++)
    sp_info("connector", "allow", "entry=%s",
            allow_entry_format(&l->v[i], entry, sizeof(entry)));
}

static void walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  sp_error("connector", "handle_left", "type=%s closing=%d",
           uv_handle_type_name(h->type), uv_is_closing(h));
}

/* Everything that can fail before the loop starts: finishing a
 * replacement of the key pair that a crash interrupted, the TLS role,
 * the slots and the certificate's dates. */
static int agent_prepare(struct agent *a, char *err, size_t errn) {
  const char *what;
  int rc;

  rc = statedir_creds_recover(a->opts->state, &what);
  if (rc != 0) {
    snprintf(err, errn, "cannot complete the replacement of %s: %s",
             STATEDIR_KEY, sp_strerror(rc));
    return rc;
  }
  if (strcmp(what, "none") != 0)
    sp_warn("connector", "renew_recovered", "action=%s", what);
  rc = agent_tls_load(a, STATEDIR_CRT, STATEDIR_KEY, &a->tls, err, errn);
  if (rc == 0)
    rc = agent_renew_init(a, err, errn);
  if (rc != 0)
    return rc;
  a->tunnels = calloc(a->opts->tunnels, sizeof(*a->tunnels));
  if (a->tunnels == NULL) {
    snprintf(err, errn, "out of memory");
    return SP_ENOMEM;
  }
  return 0;
}

int agent_run(const struct agent_opts *o, char *err, size_t errn) {
  struct agent a;
  uv_loop_t loop;
  unsigned i;
  int rc;

  memset(&a, 0, sizeof(a));
  a.opts = o;
  rc = agent_prepare(&a, err, errn);
  if (rc != 0) {
    tls_conf_free(a.tls);
    return rc;
  }

  uv_loop_init(&loop);
  a.loop = &loop;
  uv_signal_init(&loop, &a.sigint);
  uv_signal_init(&loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, signal_cb, SIGINT);
  uv_signal_start(&a.sigterm, signal_cb, SIGTERM);
  batch_init(&a.batch, &loop, sp_log_flush_cb, NULL);
  sp_log_hold(1);
  log_start(&a);
  for (i = 0; i < o->tunnels; i++)
    tunnel_init(&a, &a.tunnels[i], i + 1);
  agent_renew_start(&a);

  uv_run(&loop, UV_RUN_DEFAULT);
  batch_finish(&a.batch);
  sp_log_hold(0);
  rc = uv_loop_close(&loop);
  if (rc != 0)
    uv_walk(&loop, walk_cb, NULL);
  sp_info("connector", "stopped", "clean=%d", rc == 0);
  free(a.tunnels);
  tls_conf_free(a.renew.prev);
  tls_conf_free(a.tls);
  return rc;
}
