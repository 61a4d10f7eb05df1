/*
 * Client sessions: the part every listener shares.  The client side is
 * a plain TCP handle (SOCKS5, HTTP) or a TLS connection on one (HTTPS);
 * the resource side is a stream through a connector's tunnel.
 *
 * Backpressure, both ways, with nothing unbounded:
 *   client -> resource: mux_write() takes what the stream's window
 *     allows; the rest waits in `pending` and the client is not read
 *     until on_writable says the window reopened;
 *   resource -> client: bytes are reported consumed to the tunnel only
 *     once the client's socket took them (plain TCP: the write callback;
 *     TLS: at once unless TLS's queue is above its high-water mark, else
 *     on drain), so a slow client shuts only its own stream's window.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "policy/token.h"
#include "relay/session.h"

static const char *const state_names[] = {
#define SESSION_NAME_(name, token) token,
    SESSION_STATE_MAP(SESSION_NAME_)
#undef SESSION_NAME_
};

const char *session_state_name(enum session_state state) {
  return state <= SESSION_CLOSING ? state_names[state] : "unknown";
}

/* Legal moves: forward only, and CLOSING from anywhere. */
void session_set_state(struct relay_session *s, enum session_state to) {
  if (to != SESSION_CLOSING && to <= s->state) {
    sp_error("session", "bad_state_change", "sid=%u from=%s to=%s", s->sid,
             state_names[s->state], state_names[to]);
    return;
  }
  sp_debug("session", "state", "sid=%u from=%s to=%s", s->sid,
           state_names[s->state], state_names[to]);
  s->state = to;
}

static const struct relay_stream_ops stream_ops;
static void reply_flush(struct relay_session *s);

struct relay_session *session_new(struct relay *r, enum session_kind kind) {
  struct relay_session *s = calloc(1, sizeof(*s));

  if (s == NULL)
    return NULL;
  s->owner.ops = &stream_ops;
  s->relay = r;
  s->kind = kind;
  s->state = SESSION_PREFACE;
  memcpy(s->country, "XX", 3);
  s->sid = ++r->next_sid;
  s->started_ms = uv_now(r->loop);
  sp_wbuf_init(&s->device_tags);
  s->next = r->sessions;
  r->sessions = s;
  return s;
}

static void unlink_session(struct relay_session *s) {
  struct relay_session **pp;

  for (pp = &s->relay->sessions; *pp != NULL; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      return;
    }
}

/* Frees what the session owns; called once the client handle is gone. */
void session_release(struct relay_session *s) {
  if (s->work_pending) {
    s->release_pending = 1; /* the work's callback finishes the job */
    return;
  }
  unlink_session(s);
  if (s->published)
    relay_sessions_unpublish(s->relay, s->sid);
  batch_cancel(&s->reply_item);
  free(s->reply);
  sp_wbuf_free(&s->body);
  if (s->socks != NULL)
    socks5_wipe(s->socks);
  if (s->http != NULL)
    httpc_wipe(s->http);
  free(s->socks);
  free(s->http);
  free(s->pending);
  free(s->preface);
  sp_wbuf_free(&s->device_tags);
  free(s);
}

static void tcp_closed_cb(uv_handle_t *h) {
  session_release(h->data);
}

void session_close_tcp(struct relay_session *s) {
  if (!uv_is_closing((uv_handle_t *)&s->tcp)) {
    reply_flush(s);
    uv_close((uv_handle_t *)&s->tcp, tcp_closed_cb);
  }
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  struct relay_session *s = req->data;

  free(req);
  s->shut_done = 1;
  if (s->state == SESSION_CLOSING)
    session_close_tcp(s);
}

/* Half-closes the client's side: no more bytes will come to it. */
static void shutdown_client(struct relay_session *s) {
  uv_shutdown_t *req;

  if (s->shut_wr)
    return;
  reply_flush(s);
  s->shut_wr = 1;
  /* The client has ended its side, its last bytes have gone on (so the
     stream ends with this FIN and the session closes next) and
     everything for it is with the kernel: close() sends the same FIN
     without a shutdown() first. */
  if (s->client_eof && s->pending_len == 0 &&
      uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) == 0) {
    s->shut_done = 1;
    return;
  }
  req = malloc(sizeof(*req));
  if (req != NULL) {
    req->data = s;
    if (uv_shutdown(req, (uv_stream_t *)&s->tcp, shutdown_cb) == 0)
      return;
    free(req);
  }
  s->shut_done = 1;
}

/*
 * Closes the client's TCP handle once what was queued for it (a reply,
 * the last bytes of the resource) has been written; relay_sessions_tick
 * cuts a client that does not take them within SESSION_LINGER_MS.
 */
static void close_tcp_gracefully(struct relay_session *s) {
  s->closing_ms = uv_now(s->relay->loop);
  uv_read_stop((uv_stream_t *)&s->tcp);
  shutdown_client(s);
  if (s->shut_done)
    session_close_tcp(s);
}

static void log_end(struct relay_session *s, const char *side,
                    const char *phase, int err) {
  const struct access_result *d = &s->decision;
  char q[POLICY_ADDR_MAX + 8];

  sp_info("session", "end",
          "sid=%u kind=%s client=%s user=%s device=%s dest=%s resource=%s "
          "rule=%s decision=%s reason=%s dialled=%s up=%llu down=%llu "
          "duration_ms=%llu end=%s/%s err=%s",
          s->sid,
          s->kind == SESSION_SOCKS  ? "socks"
          : s->kind == SESSION_HTTP ? "http"
                                    : "https",
          s->client, s->user[0] ? s->user : "-", s->device[0] ? s->device : "-",
          sp_log_quote(q, sizeof(q), s->dest[0] ? s->dest : "-"),
          d->resource[0] ? d->resource : "-", d->rule[0] ? d->rule : "-",
          !s->decided ? "-"
          : d->allow  ? "allow"
                      : "deny",
          s->decided ? policy_reason_name(d->reason) : "-",
          s->dialled[0] ? s->dialled : "-", (unsigned long long)s->up,
          (unsigned long long)s->down,
          (unsigned long long)(uv_now(s->relay->loop) - s->started_ms), side,
          phase, sp_err_name(err));
}

static void audit_end(struct relay_session *s, const char *side,
                      const char *phase, int err) {
  struct sp_json j;

  if (!s->decided || !s->decision.allow)
    return;
  sp_audit_begin(&j, "stream_end");
  sp_json_int(&j, "sid", s->sid);
  sp_json_str(&j, "user", s->user);
  sp_json_str(&j, "device", s->device[0] ? s->device : NULL);
  sp_json_str(&j, "source", s->client_ip);
  sp_json_str(&j, "country", s->country);
  sp_json_int(&j, "asn", s->asn);
  sp_json_str(&j, "resource", s->decision.resource);
  sp_json_str(&j, "rule", s->decision.rule);
  sp_json_int(&j, "bytes_up", (int64_t)s->up);
  sp_json_int(&j, "bytes_down", (int64_t)s->down);
  sp_json_int(&j, "duration_ms",
              (int64_t)(uv_now(s->relay->loop) - s->started_ms));
  sp_json_str(&j, "ended_by", side);
  sp_json_str(&j, "phase", phase);
  sp_json_str(&j, "reason", sp_err_name(err));
  relay_audit(s->relay, &j);
}

void session_record_end(struct relay_session *s, const char *side,
                        const char *phase, int err) {
  if (s->end_recorded)
    return;
  s->end_recorded = 1;
  log_end(s, side, phase, err);
  audit_end(s, side, phase, err);
}

/*
 * The one way a session ends.  `side` is who ended it ("client",
 * "resource", "relay"), `phase` the state it was in or what happened.
 * A clean end (err 0) lets queued bytes reach the client first.
 */
void session_close(struct relay_session *s, const char *side, const char *phase,
                   int err) {
  struct mux_stream *stream = s->stream;

  if (s->state == SESSION_CLOSING)
    return;
  session_set_state(s, SESSION_CLOSING);
  session_record_end(s, side, phase, err);
  if (stream != NULL) {
    s->stream = NULL;
    s->relay->m.streams_active--;
    mux_stream_set_user(stream, NULL);
    if (mux_stream_state(stream) != MUX_STREAM_CLOSED)
      mux_reset(stream, TUNNEL_RESET_CANCEL);
  }
  if (s->tls_owned) {
    /* The TLS connection owns the handle; its close callback frees us. */
    if (s->tls != NULL && err < 0 && err > -4096)
      tls_conn_close(s->tls, err);
    else if (s->tls != NULL)
      tls_conn_shutdown(s->tls);
  } else if (err < 0 && err > -4096) {
    session_close_tcp(s); /* the client's connection failed: nothing to flush */
  } else {
    close_tcp_gracefully(s);
  }
}

/*
 * Clients that do not take their last bytes are cut after a while, and
 * so are clients that have not made their request (PROXY header, TLS,
 * SOCKS5 or HTTP exchange) within request_timeout of connecting: an idle
 * or slow peer cannot hold a session, and its descriptor, for long.  A
 * login running on the thread pool is the relay's time, not the
 * client's.
 */
void relay_sessions_tick(struct relay *r, uint64_t now_ms) {
  struct relay_session *s;
  uint64_t request_ms = (uint64_t)r->cfg.request_timeout * 1000;
  int64_t now = relay_now(r);

  for (s = r->sessions; s != NULL; s = s->next) {
    if (s->state == SESSION_CLOSING && s->tls == NULL && s->closing_ms &&
        now_ms - s->closing_ms > SESSION_LINGER_MS)
      session_close_tcp(s);
    else if (s->state < SESSION_OPENING && !s->work_pending &&
             now_ms - s->started_ms >= request_ms)
      session_close(s, "client", state_names[s->state], SP_ETIMEOUT);
    else if ((s->state == SESSION_SPLICE || s->state == SESSION_OPENING) &&
             s->token_expires > 0 && now >= s->token_expires)
      session_close(s, "relay", "token_expired", SP_EEXPIRED);
  }
}

/* ---- client I/O: plain TCP or TLS ---- */

struct client_write {
  uv_write_t req;
  struct relay_session *s;
  size_t stream_bytes; /* resource bytes to report consumed when done */
  uint8_t data[];
};

static void write_cb(uv_write_t *req, int status) {
  struct client_write *w = (struct client_write *)req;
  struct relay_session *s = w->s;

  if (status == 0 && w->stream_bytes > 0 && s->stream != NULL &&
      (status = mux_consumed(s->stream, w->stream_bytes)) != 0)
    sp_warn("session", "consumed_failed", "sid=%u err=%s", s->sid,
            sp_err_name(status));
  free(w);
  if (status != 0 && status != UV_ECANCELED)
    session_close(s, "client", "write", status);
}

/* Reports `n` resource bytes forwarded, so the stream's window reopens. */
static void client_consumed(struct relay_session *s, size_t n) {
  if (n > 0 && s->stream != NULL)
    mux_consumed(s->stream, n);
}

/* Queues `nbufs` pieces for the client, in order; `stream_bytes` of them
   came from the resource and are reported consumed once written. */
static int client_writev(struct relay_session *s, const uv_buf_t *bufs,
                         size_t nbufs, size_t stream_bytes) {
  struct client_write *w;
  size_t i, total = 0, skip = 0, at = 0;
  uv_buf_t buf;
  int rc;

  if (s->tls != NULL) {
    rc = tls_conn_writev(s->tls, bufs, nbufs);
    if (rc == 0 && stream_bytes > 0 && s->stream != NULL) {
      if (tls_conn_write_queued(s->tls) <= TLS_WRITE_HIGH_DEFAULT)
        mux_consumed(s->stream, stream_bytes);
      else
        s->unconsumed += stream_bytes;
    }
    return rc;
  }
  for (i = 0; i < nbufs; i++)
    total += bufs[i].len;
  /* With nothing queued, try the kernel at once (one writev): most
     replies and most chunks go out whole, without a request, an
     allocation or arming the socket for writability. */
  if (uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) == 0) {
    rc = uv_try_write((uv_stream_t *)&s->tcp, bufs, (unsigned)nbufs);
    if (rc < 0 && rc != UV_EAGAIN)
      return rc;
    skip = rc > 0 ? (size_t)rc : 0;
    if (skip == total) {
      client_consumed(s, stream_bytes);
      return 0;
    }
  }
  /* The rest is copied into one request. */
  w = malloc(sizeof(*w) + total - skip);
  if (w == NULL)
    return SP_ENOMEM;
  w->s = s;
  w->stream_bytes = stream_bytes;
  for (i = 0; i < nbufs; i++) {
    size_t len = bufs[i].len, off = 0;

    if (skip >= len) {
      skip -= len;
      continue;
    }
    off = skip;
    skip = 0;
    memcpy(w->data + at, bufs[i].base + off, len - off);
    at += len - off;
  }
  buf = uv_buf_init((char *)w->data, (unsigned)at);
  rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &buf, 1, write_cb);
  if (rc != 0)
    free(w);
  return rc;
}

/* client_writev, after the held reply if there is one. */
static int client_sendv(struct relay_session *s, const uv_buf_t *bufs,
                        size_t nbufs, size_t stream_bytes) {
  uv_buf_t all[MUX_DATA_PIECES_MAX + 1];
  uint8_t *reply = s->reply;
  int rc;

  if (reply == NULL)
    return client_writev(s, bufs, nbufs, stream_bytes);
  /* A held reply goes first, in the same write. */
  assert(nbufs <= MUX_DATA_PIECES_MAX);
  batch_cancel(&s->reply_item);
  s->reply = NULL;
  all[0] = uv_buf_init((char *)reply, (unsigned)s->reply_len);
  if (nbufs > 0)
    memcpy(all + 1, bufs, nbufs * sizeof(*bufs));
  rc = client_writev(s, all, nbufs + 1, stream_bytes);
  free(reply);
  return rc;
}

/* The batch's turn: no resource bytes came to take the reply along. */
static void reply_run_cb(struct batch_item *it) {
  struct relay_session *s = batch_owner(it, struct relay_session, reply_item);

  if (s->reply != NULL && client_sendv(s, NULL, 0, 0) != 0)
    session_close(s, "client", "reply", SP_ECLOSED);
}

static void reply_flush(struct relay_session *s) {
  if (s->reply != NULL && client_sendv(s, NULL, 0, 0) != 0)
    sp_debug("session", "reply_lost", "sid=%u", s->sid);
}

int session_reply(struct relay_session *s, const void *p, size_t n) {
  if (s->tls != NULL || s->reply != NULL ||
      (s->reply = malloc(n)) == NULL) /* TLS batches on its own */
    return session_write(s, p, n);
  memcpy(s->reply, p, n);
  s->reply_len = n;
  batch_add(&s->relay->batch, &s->reply_item, reply_run_cb);
  return 0;
}

int session_write(struct relay_session *s, const void *p, size_t n) {
  uv_buf_t buf = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);

  return client_sendv(s, &buf, 1, 0);
}

/*
 * Every client read lands in this one buffer.  The relay reads on one
 * loop, libuv runs each alloc_cb's read_cb before the next alloc_cb, and
 * what read_cb is given is sealed into TLS records or copied to
 * `pending` before it returns, so one buffer serves every session and
 * no read costs an allocation (or, freed again, the heap's top).
 */
static char read_buf[SESSION_READ_SIZE];

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  (void)hint;
  *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct relay_session *s = st->data;

  if (n > 0)
    session_client_input(s, (const uint8_t *)buf->base, (size_t)n);
  else if (n == UV_EOF)
    session_client_eof(s);
  else if (n < 0)
    session_close(s, "client", state_names[s->state], (int)n);
}

void session_read(struct relay_session *s, int on) {
  if (s->state == SESSION_CLOSING || s->reading == on)
    return;
  s->reading = on;
  if (s->tls != NULL) {
    if (on)
      tls_conn_read_start(s->tls);
    else
      tls_conn_read_stop(s->tls);
  } else if (on) {
    uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
  } else {
    uv_read_stop((uv_stream_t *)&s->tcp);
  }
}

/* ---- the splice ---- */

int session_hold(struct relay_session *s, const uint8_t *p, size_t n) {
  uint8_t *grown;

  if (n == 0)
    return 0;
  if (s->pending_len + n > SESSION_PENDING_MAX)
    return SP_ETOOBIG;
  grown = realloc(s->pending, s->pending_len + n);
  if (grown == NULL)
    return SP_ENOMEM;
  memcpy(grown + s->pending_len, p, n);
  s->pending = grown;
  s->pending_len += n;
  if (s->pending_len >= SESSION_PENDING_MAX / 2)
    session_read(s, 0);
  return 0;
}

/* Sends what the window takes of `p`; holds the rest. */
static int splice_up(struct relay_session *s, const uint8_t *p, size_t n) {
  int sent = mux_write(s->stream, p, n);

  if (sent < 0)
    return sent;
  s->up += (size_t)sent;
  s->relay->m.bytes_to_resource += (size_t)sent;
  if ((size_t)sent == n)
    return 0;
  session_read(s, 0);
  return session_hold(s, p + sent, n - (size_t)sent);
}

/* The window reopened: send what is held, then read the client again. */
static int flush_pending(struct relay_session *s) {
  uint8_t *held = s->pending;
  size_t n = s->pending_len;
  int rc = 0;

  if (n > 0) {
    s->pending = NULL;
    s->pending_len = 0;
    rc = splice_up(s, held, n);
    free(held);
  }
  if (rc == 0 && s->pending_len == 0) {
    if (s->client_eof)
      rc = mux_fin(s->stream);
    else
      session_read(s, 1);
  }
  return rc;
}

void session_client_input(struct relay_session *s, const uint8_t *p, size_t n) {
  int rc = 0;

  switch (s->state) {
  case SESSION_PREFACE:
    preface_input(s, p, n);
    return;
  case SESSION_REQUEST:
    if (s->kind == SESSION_SOCKS)
      socks_input(s, p, n);
    else
      http_input(s, p, n);
    return;
  case SESSION_OPENING:
    rc = session_hold(s, p, n);
    break;
  case SESSION_SPLICE:
    rc = s->pending_len ? session_hold(s, p, n) : splice_up(s, p, n);
    break;
  default:
    return;
  }
  if (rc != 0)
    session_close(s, "relay", state_names[s->state], rc);
}

void session_client_eof(struct relay_session *s) {
  s->client_eof = 1;
  session_read(s, 0);
  if (s->state != SESSION_SPLICE) {
    if (s->state != SESSION_OPENING)
      session_close(s, "client", state_names[s->state], 0);
    return;
  }
  if (s->pending_len == 0 && mux_fin(s->stream) != 0)
    session_close(s, "client", "fin", SP_ECLOSED);
}

/* ---- events of the stream through the tunnel ---- */

static struct relay_session *of(struct relay_stream_owner *o) {
  return (struct relay_session *)o;
}

/* Answers the client's request in its protocol: `error` NULL is success. */
static void tell_result(struct relay_session *s, const char *error) {
  if (s->kind == SESSION_SOCKS)
    socks_result(s, error);
  else
    http_result(s, error);
}

static void result_cb(struct relay_stream_owner *o, enum tunnel_result res,
                      const char *addr) {
  struct relay_session *s = of(o);
  const char *error = session_result_error(res);

  snprintf(s->dialled, sizeof(s->dialled), "%s", addr);
  tell_result(s, error);
  if (error != NULL || s->state == SESSION_CLOSING)
    return;
  session_set_state(s, SESSION_SPLICE);
  if (flush_pending(s) != 0)
    session_close(s, "relay", "splice", SP_ECLOSED);
}

static void data_cb(struct relay_stream_owner *o,
                    const struct mux_piece *pieces, size_t n) {
  struct relay_session *s = of(o);
  uv_buf_t bufs[MUX_DATA_PIECES_MAX];
  size_t i, total = 0;
  int rc;

  for (i = 0; i < n && i < MUX_DATA_PIECES_MAX; i++) {
    bufs[i] =
        uv_buf_init((char *)(uintptr_t)pieces[i].p, (unsigned)pieces[i].len);
    total += pieces[i].len;
  }
  s->down += total;
  s->relay->m.bytes_to_client += total;
  rc = client_sendv(s, bufs, i, total);
  if (rc != 0)
    session_close(s, "client", "write", rc);
}

/* The resource finished: pass the half-close on to the client. */
static void fin_cb(struct relay_stream_owner *o) {
  struct relay_session *s = of(o);

  s->resource_fin = 1;
  if (s->tls == NULL)
    shutdown_client(s);
  else if (s->client_eof)
    session_close(s, "resource", "fin", 0);
}

static void writable_cb(struct relay_stream_owner *o) {
  struct relay_session *s = of(o);

  if (flush_pending(s) != 0)
    session_close(s, "relay", "splice", SP_ECLOSED);
}

static void reset_cb(struct relay_stream_owner *o, uint32_t code) {
  struct relay_session *s = of(o);

  sp_debug("session", "reset", "sid=%u code=%s", s->sid,
           tunnel_frame_reset_name(code));
}

/*
 * The connector refused the OPEN without dialling (RESET `limit` in place
 * of OPEN_RESULT): that tunnel was full or going away, and another of the
 * connector's tunnels may take the stream.  After SESSION_OPEN_TRIES, or
 * with no other tunnel, the client is told the connector is full.
 */
static void open_refused(struct relay_session *s, const struct mux *tunnel) {
  int rc = SP_ELIMIT;

  if (s->open_tries < SESSION_OPEN_TRIES)
    rc = session_open(s, tunnel);
  if (rc == 0) {
    sp_info("session", "open_retried", "sid=%u try=%d", s->sid, s->open_tries);
    return;
  }
  tell_result(s, session_open_error(rc));
}

static void closed_cb(struct relay_stream_owner *o, enum mux_end end) {
  struct relay_session *s = of(o);
  struct mux_stream *stream = s->stream;
  uint32_t code = 0;

  s->stream = NULL;
  s->relay->m.streams_active--;
  if (s->state == SESSION_CLOSING)
    return;
  if (end == MUX_END_REMOTE_RESET && s->state == SESSION_OPENING &&
      stream != NULL && mux_stream_end(stream, &code) == end &&
      code == TUNNEL_RESET_LIMIT)
    return open_refused(s, mux_stream_mux(stream));
  if (end == MUX_END_FIN)
    session_close(s, "both", "fin", 0);
  else if (end == MUX_END_REFUSED)
    session_close(s, "resource", "dial", SP_ECLOSED);
  else
    session_close(s, end == MUX_END_TUNNEL ? "tunnel" : "resource",
                  mux_end_name(end), SP_ECLOSED);
}

static const struct relay_stream_ops stream_ops = {
    .on_result_cb = result_cb,
    .on_data_cb = data_cb,
    .on_fin_cb = fin_cb,
    .on_writable_cb = writable_cb,
    .on_reset_cb = reset_cb,
    .on_closed_cb = closed_cb,
};

/* ---- accepting ---- */

struct relay_session *session_accept(struct listener *l,
                                     enum session_kind kind) {
  struct relay *r = l->data;
  struct relay_session *s = session_new(r, kind);

  if (s == NULL)
    return NULL;
  uv_tcp_init(r->loop, &s->tcp);
  s->tcp.data = s;
  if (listener_accept(l, &s->tcp) != 0) {
    s->state = SESSION_CLOSING;
    session_close_tcp(s);
    return NULL;
  }
  listen_peer(&s->tcp, s->client, s->client_ip);
  r->m.connections[kind == SESSION_SOCKS  ? METRICS_SOCKS
                   : kind == SESSION_HTTP ? METRICS_HTTP
                                          : METRICS_HTTPS]++;
  return s;
}

void relay_https_accept(struct listener *l) {
  struct relay_session *s = session_accept(l, SESSION_HTTPS);

  if (s != NULL)
    session_read(s, 1);
}

void relay_socks_accept(struct listener *l) {
  struct relay_session *s = session_accept(l, SESSION_SOCKS);

  if (s == NULL)
    return;
  s->socks = malloc(sizeof(*s->socks));
  if (s->socks == NULL)
    return session_close(s, "relay", "accept", SP_ENOMEM);
  socks5_init(s->socks);
  session_read(s, 1);
}

void relay_http_accept(struct listener *l) {
  struct relay_session *s = session_accept(l, SESSION_HTTP);

  if (s == NULL)
    return;
  s->http = malloc(sizeof(*s->http));
  if (s->http == NULL)
    return session_close(s, "relay", "accept", SP_ENOMEM);
  httpc_init(s->http);
  session_read(s, 1);
}

void relay_sessions_close_all(struct relay *r) {
  struct relay_session *s;

  for (s = r->sessions; s != NULL; s = s->next)
    if (s->state != SESSION_CLOSING)
      session_close(s, "relay", "shutdown", SP_ECLOSED);
}
