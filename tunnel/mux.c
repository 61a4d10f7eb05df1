/*
 * The multiplexer, tunnel side: input framing, HELLO, pings, GOAWAY and
 * teardown.  Streams live in mux_stream.c, their id table in mux_table.c.
 *
 * Stream state machine.  Every stream is in one of five states, changed
 * only by stream_set_state() in mux_stream.c, which checks the move:
 *
 *   opening     The relay has sent OPEN (relay side) or received it
 *               (connector side) and OPEN_RESULT has not gone by yet.
 *               No DATA either way.  The connector leaves it with
 *               mux_open_result or mux_reset, the relay when the result
 *               or a RESET arrives.
 *   open        OPEN_RESULT ok went by: DATA flows both ways.
 *   local_fin   This side sent FIN; it still receives and grants window.
 *   remote_fin  The peer sent FIN; this side may still send.
 *   closed      FIN went both ways, or a RESET went either way, or the
 *               result was not ok, or the mux was freed.  The stream has
 *               left the id table (later frames for its id are ignored
 *               as late) and its credit has returned to the budget.
 *
 *   opening --ok--> open --FIN sent--> local_fin --FIN received--> closed
 *      |              `--FIN received--> remote_fin --FIN sent----> closed
 *      `-- not ok, RESET --> closed <-- RESET (from any state)
 *
 * A closed stream waits on a list until the outermost mux call returns;
 * then it gets on_stream_closed_cb and is freed.  This is what makes it
 * safe for callbacks to close streams, even the one being delivered to:
 * the memory outlives every frame of the input being dispatched.
 *
 * Input.  mux_feed decodes frames straight from the caller's buffer and
 * copies only a frame split across two calls, into `in`, which holds
 * exactly one frame at most.  The codec checks a header as soon as its
 * eight bytes are there, so an oversized or unknown frame ends the tunnel
 * without the mux waiting for its payload.
 */
#include "tunnel/mux_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

/* Copies a NUL-terminated string of at most `max` bytes; NULL gives "". */
static int copy_name(char *dst, size_t max, const char *src) {
  size_t n = src != NULL ? strlen(src) : 0;

  if (n > max)
    return SP_EUSAGE;
  memcpy(dst, src != NULL ? src : "", n);
  dst[n] = '\0';
  return 0;
}

static void copy_str(char *dst, size_t max, struct tunnel_str s) {
  size_t n = s.len < max ? s.len : max;

  if (n > 0)
    memcpy(dst, s.p, n);
  dst[n] = '\0';
}

/* Fills in the defaults and checks what cannot be checked later. */
static int config_check(struct mux_config *c, const struct mux_callbacks *cb) {
  if (c->role != TUNNEL_ROLE_RELAY && c->role != TUNNEL_ROLE_CONNECTOR)
    return SP_EUSAGE;
  if (cb->send_cb == NULL || cb->on_data_cb == NULL)
    return SP_EUSAGE;
  if (c->role == TUNNEL_ROLE_CONNECTOR && cb->on_open_cb == NULL)
    return SP_EUSAGE;
  if (c->role == TUNNEL_ROLE_RELAY && cb->on_open_result_cb == NULL)
    return SP_EUSAGE;

  if (c->role == TUNNEL_ROLE_RELAY)
    c->max_streams = 0;
  else if (c->max_streams == 0)
    c->max_streams = MUX_DEFAULT_MAX_STREAMS;
  if (c->initial_window == 0)
    c->initial_window = TUNNEL_INITIAL_WINDOW;
  if (c->budget == 0)
    c->budget = MUX_DEFAULT_BUDGET;
  if (c->max_data == 0)
    c->max_data = MUX_DEFAULT_MAX_DATA;
  if (c->initial_window > TUNNEL_WINDOW_MAX || c->max_data > TUNNEL_MAX_PAYLOAD)
    return SP_EUSAGE;
  return 0;
}

/* Whether our own HELLO would encode: catches a bad name at mux_new. */
static void hello_frame(const struct mux *m, struct tunnel_frame *f) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_HELLO;
  f->u.hello.version = TUNNEL_VERSION;
  f->u.hello.role = (uint8_t)m->cfg.role;
  f->u.hello.max_streams = m->cfg.max_streams;
  f->u.hello.name = tunnel_frame_str(m->name);
  f->u.hello.software = tunnel_frame_str(m->software);
}

int mux_new(const struct mux_config *cfg, const struct mux_callbacks *cb,
            void *ctx, struct mux **out) {
  struct tunnel_frame hello;
  struct mux *m;

  if (cfg == NULL || cb == NULL || out == NULL)
    return SP_EUSAGE;
  m = calloc(1, sizeof(*m));
  if (m == NULL)
    return SP_ENOMEM;
  m->cfg = *cfg;
  m->cb = *cb;
  m->ctx = ctx;

  if (config_check(&m->cfg, cb) != 0 ||
      copy_name(m->name, TUNNEL_NAME_MAX, cfg->name) != 0 ||
      copy_name(m->software, TUNNEL_SOFTWARE_MAX, cfg->software) != 0 ||
      copy_name(m->expect_peer, TUNNEL_NAME_MAX, cfg->peer_name) != 0)
    goto usage;
  hello_frame(m, &hello);
  if (tunnel_frame_check(&hello) != TUNNEL_FAULT_NONE)
    goto usage;

  m->cfg.name = m->name;
  m->cfg.software = m->software;
  m->cfg.peer_name = m->expect_peer[0] != '\0' ? m->expect_peer : NULL;
  *out = m;
  return 0;

usage:
  free(m);
  return SP_EUSAGE;
}

/* Runs on_stream_closed_cb for every closed stream and frees it. */
static void reap(struct mux *m) {
  struct mux_stream *s;

  m->depth++;
  while ((s = m->closed_head) != NULL) {
    m->closed_head = s->next_closed;
    if (m->closed_head == NULL)
      m->closed_tail = NULL;
    if (m->cb.on_stream_closed_cb != NULL)
      m->cb.on_stream_closed_cb(m->ctx, s);
    free(s);
  }
  m->depth--;
}

static void destroy(struct mux *m) {
  m->free_pending = 1;
  mux_streams_end_all(m);
  reap(m);
  mux_table_free(&m->table);
  sp_debug("mux", "freed", "tid=%u", m->cfg.tid);
  free(m);
}

void mux_free(struct mux *m) {
  if (m == NULL)
    return;
  if (m->depth > 0) {
    m->free_pending = 1;
    return;
  }
  destroy(m);
}

void mux_enter(struct mux *m) {
  m->depth++;
}

void mux_leave(struct mux *m) {
  if (--m->depth > 0)
    return;
  reap(m);
  if (m->free_pending)
    destroy(m);
}

enum tunnel_role mux_peer_role(const struct mux *m) {
  return m->cfg.role == TUNNEL_ROLE_RELAY ? TUNNEL_ROLE_CONNECTOR
                                          : TUNNEL_ROLE_RELAY;
}

int mux_halted(const struct mux *m) {
  if (m->free_pending)
    return SP_ECLOSED;
  if (m->err != 0)
    return m->err;
  return m->send_err;
}

int mux_send_pieces(struct mux *m, const struct mux_piece *pc, size_t n,
                    unsigned frames) {
  size_t i, total = 0;
  int rc;

  if (m->send_err != 0)
    return m->send_err;
  rc = m->cb.send_cb(m->ctx, pc, n);
  if (rc != 0) {
    sp_warn("mux", "send_failed", "tid=%u err=%s", m->cfg.tid, sp_err_name(rc));
    m->send_err = rc;
    return rc;
  }
  for (i = 0; i < n; i++)
    total += pc[i].len;
  m->stats.frames_out += frames;
  m->stats.bytes_out += total;
  return 0;
}

int mux_send_frame(struct mux *m, const struct tunnel_frame *f) {
  struct mux_piece pc;
  size_t n;

  if (tunnel_frame_encode(f, m->out, sizeof(m->out), &n) != 0)
    return SP_EUSAGE;
  pc.p = m->out;
  pc.len = n;
  return mux_send_pieces(m, &pc, 1, 1);
}

int mux_send_data(struct mux *m, uint32_t id, const void *p, size_t n,
                  int fin) {
  uint8_t hdr[TUNNEL_HEADER_SIZE];
  struct mux_piece pc[2];

  tunnel_frame_encode_data_header(hdr, id, n, fin);
  pc[0].p = hdr;
  pc[0].len = sizeof(hdr);
  pc[1].p = p;
  pc[1].len = n;
  return mux_send_pieces(m, pc, n > 0 ? 2 : 1, 1);
}

static int send_goaway(struct mux *m, uint32_t code, const char *detail) {
  char quoted[TUNNEL_DETAIL_MAX + 8];
  struct tunnel_frame f;

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_GOAWAY;
  f.u.goaway.last_stream = m->last_id;
  f.u.goaway.code = code;
  f.u.goaway.detail = tunnel_frame_str(detail);
  if (tunnel_frame_check(&f) != TUNNEL_FAULT_NONE)
    return SP_EUSAGE;
  m->goaway_sent = 1;
  sp_info("mux", "goaway_sent", "tid=%u code=%s last_stream=%u detail=%s",
          m->cfg.tid, tunnel_frame_goaway_name(code), m->last_id,
          sp_log_quote(quoted, sizeof(quoted), detail != NULL ? detail : ""));
  return mux_send_frame(m, &f);
}

int mux_tunnel_error(struct mux *m, uint32_t code, const char *detail) {
  sp_warn("mux", "tunnel_error", "tid=%u code=%s detail=%s", m->cfg.tid,
          tunnel_frame_goaway_name(code), detail);
  if (m->err == 0) {
    /* The frames before the fault were sound: a run of their data
       reaches the owner before the tunnel is halted, as it would have
       without batching. */
    mux_run_flush(m);
    if (m->free_pending)
      return SP_EPROTO;
    send_goaway(m, code, detail);
    m->err = SP_EPROTO;
  }
  return SP_EPROTO;
}

int mux_start(struct mux *m, uint64_t now_ms) {
  struct tunnel_frame f;
  int rc;

  if (m->started)
    return SP_EUSAGE;
  m->started = 1;
  m->started_ms = now_ms;
  m->last_rx_ms = now_ms;
  m->last_ping_ms = now_ms;
  hello_frame(m, &f);
  rc = mux_send_frame(m, &f);
  sp_debug("mux", "hello_sent", "tid=%u role=%s", m->cfg.tid,
           tunnel_frame_role_name(m->cfg.role));
  return rc;
}

static int name_is(struct tunnel_str s, const char *name) {
  return s.len == strlen(name) && memcmp(s.p, name, s.len) == 0;
}

static int on_hello(struct mux *m, const struct tunnel_frame_hello *h) {
  char name[TUNNEL_NAME_MAX + 8], soft[TUNNEL_SOFTWARE_MAX + 8];
  unsigned version;

  if (m->hello_received)
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL, "second_hello");
  if (h->role != mux_peer_role(m))
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL, "wrong_role");
  if (m->cfg.peer_name != NULL && !name_is(h->name, m->cfg.peer_name))
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL, "wrong_name");

  /* The tunnel speaks the lower version; it must be one we speak. */
  version = h->version < TUNNEL_VERSION ? h->version : TUNNEL_VERSION;
  if (version < MUX_VERSION_MIN) {
    snprintf(soft, sizeof(soft), "speaks %d-%d", MUX_VERSION_MIN,
             TUNNEL_VERSION);
    return mux_tunnel_error(m, TUNNEL_GOAWAY_VERSION, soft);
  }

  m->hello_received = 1;
  m->version = version;
  m->peer_max_streams = h->max_streams;
  copy_str(m->peer_name, TUNNEL_NAME_MAX, h->name);
  copy_str(m->peer_software, TUNNEL_SOFTWARE_MAX, h->software);
  sp_info("mux", "hello",
          "tid=%u peer=%s software=%s version=%u "
          "max_streams=%u",
          m->cfg.tid, sp_log_quote(name, sizeof(name), m->peer_name),
          sp_log_quote(soft, sizeof(soft), m->peer_software), version,
          (unsigned)h->max_streams);
  if (m->cb.on_hello_cb != NULL)
    m->cb.on_hello_cb(m->ctx, h);
  return 0;
}

static int on_ping(struct mux *m, const struct tunnel_frame *f) {
  struct tunnel_frame ack;

  if (f->flags & TUNNEL_FLAG_ACK) {
    /* An ACK that matches nothing outstanding is ignored, per the doc. */
    if (m->ping_outstanding &&
        memcmp(f->u.ping, m->ping_data, sizeof(m->ping_data)) == 0) {
      m->ping_outstanding = 0;
      m->stats.pings_acked++;
    }
    return 0;
  }
  ack = *f;
  ack.flags = TUNNEL_FLAG_ACK;
  return mux_send_frame(m, &ack);
}

static int on_goaway(struct mux *m, const struct tunnel_frame_goaway *g) {
  char raw[TUNNEL_DETAIL_MAX + 1], detail[TUNNEL_DETAIL_MAX + 8];

  m->goaway_received = 1;
  copy_str(raw, TUNNEL_DETAIL_MAX, g->detail);
  sp_info("mux", "goaway", "tid=%u code=%s last_stream=%u detail=%s",
          m->cfg.tid, tunnel_frame_goaway_name(g->code),
          (unsigned)g->last_stream, sp_log_quote(detail, sizeof(detail), raw));
  if (m->cb.on_goaway_cb != NULL)
    m->cb.on_goaway_cb(m->ctx, g);
  return 0;
}

void mux_run_flush(struct mux *m) {
  struct mux_stream *s = m->run.s;
  size_t n = m->run.n;

  if (s == NULL)
    return;
  m->run.s = NULL;
  m->run.n = 0;
  if (s->state != MUX_STREAM_CLOSED && !m->free_pending)
    m->cb.on_data_cb(m->ctx, s, m->run.pieces, n);
}

static int extends_run(const struct mux *m, const struct tunnel_frame *f) {
  return f->type == TUNNEL_DATA && m->run.s != NULL &&
         m->run.s->id == f->stream;
}

static int dispatch(struct mux *m, const struct tunnel_frame *f) {
  if (!extends_run(m, f)) {
    mux_run_flush(m);
    if (m->free_pending)
      return 0;
  }
  m->stats.frames_in++;
  if (!m->hello_received && f->type != TUNNEL_HELLO)
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL, "frame_before_hello");
  if (!tunnel_frame_sender_ok(f->type, mux_peer_role(m)))
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL, "wrong_sender");

  switch (f->type) {
  case TUNNEL_HELLO:
    return on_hello(m, &f->u.hello);
  case TUNNEL_PING:
    return on_ping(m, f);
  case TUNNEL_GOAWAY:
    return on_goaway(m, &f->u.goaway);
  case TUNNEL_CERT_RENEW:
  case TUNNEL_CERT_ISSUED:
    if (m->cb.on_cert_cb != NULL)
      m->cb.on_cert_cb(m->ctx, f);
    return 0;
  default:
    return mux_stream_frame(m, f);
  }
}

static int malformed(struct mux *m, enum tunnel_frame_fault fault) {
  return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL,
                          tunnel_frame_fault_name(fault));
}

/* How many bytes `in` must hold before the next decode can finish. */
static size_t in_need(const struct mux *m) {
  if (m->in_len < TUNNEL_HEADER_SIZE)
    return TUNNEL_HEADER_SIZE;
  return TUNNEL_HEADER_SIZE + ((size_t)m->in[2] << 8 | m->in[3]);
}

/*
 * Completes the frame held in `in` from `*p`, and dispatches it once
 * whole.  The header is decoded (and so checked) as soon as it is
 * complete, before in_need trusts its length.
 */
static int feed_partial(struct mux *m, const uint8_t **p, size_t *n) {
  enum tunnel_frame_fault fault;
  struct tunnel_frame f;
  size_t need, take, used;
  int rc;

  for (;;) {
    need = in_need(m);
    if (need > sizeof(m->in))
      return malformed(m, TUNNEL_FAULT_OVERSIZED);
    take = need - m->in_len < *n ? need - m->in_len : *n;
    memcpy(m->in + m->in_len, *p, take);
    m->in_len += take;
    *p += take;
    *n -= take;
    if (m->in_len < need)
      return 0;

    rc = tunnel_frame_decode(m->in, m->in_len, &f, &used, &fault);
    if (rc == SP_EPROTO)
      return malformed(m, fault);
    if (rc == 0)
      break;
  }
  m->in_len = 0;
  return dispatch(m, &f);
}

/* Dispatches whole frames in place; keeps a trailing partial frame. */
static int feed_direct(struct mux *m, const uint8_t **p, size_t *n) {
  enum tunnel_frame_fault fault;
  struct tunnel_frame f;
  size_t used;
  int rc;

  rc = tunnel_frame_decode(*p, *n, &f, &used, &fault);
  if (rc == SP_EINCOMPLETE) {
    /* A frame shorter than TUNNEL_FRAME_MAX, its header already checked.
       The run may borrow from `in` (a frame completed there): hand it
       over before `in` is reused. */
    mux_run_flush(m);
    if (m->free_pending)
      return 0;
    memcpy(m->in, *p, *n);
    m->in_len = *n;
    *p += *n;
    *n = 0;
    return 0;
  }
  if (rc != 0)
    return malformed(m, fault);
  *p += used;
  *n -= used;
  return dispatch(m, &f);
}

int mux_feed(struct mux *m, const uint8_t *p, size_t n) {
  int rc = 0;

  if (!m->started || m->depth > 0)
    return SP_EUSAGE;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  if (n > 0) {
    m->rx_seen = 1;
    m->stats.bytes_in += n;
  }

  mux_enter(m);
  while (n > 0 && rc == 0 && mux_halted(m) == 0) {
    if (m->in_len > 0)
      rc = feed_partial(m, &p, &n);
    else
      rc = feed_direct(m, &p, &n);
  }
  mux_run_flush(m);
  if (m->free_pending)
    rc = 0; /* freed by the owner from a callback: nothing to report */
  else if (rc == 0)
    rc = mux_halted(m);
  mux_leave(m);
  return rc;
}

static void declare_dead(struct mux *m, const char *why) {
  sp_warn("mux", "dead", "tid=%u reason=%s", m->cfg.tid, why);
  m->err = SP_ETIMEOUT;
  if (m->cb.on_dead_cb != NULL)
    m->cb.on_dead_cb(m->ctx, SP_ETIMEOUT);
}

static void send_ping(struct mux *m, uint64_t now_ms) {
  struct tunnel_frame f;
  int i;

  /* The time it was sent is as good an opaque value as any. */
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_PING;
  for (i = 0; i < 8; i++)
    f.u.ping[i] = (uint8_t)(now_ms >> (56 - 8 * i));
  memcpy(m->ping_data, f.u.ping, sizeof(m->ping_data));
  m->ping_outstanding = 1;
  m->last_ping_ms = now_ms;
  if (mux_send_frame(m, &f) == 0)
    m->stats.pings_out++;
}

static uint64_t since(uint64_t now, uint64_t then) {
  return now > then ? now - then : 0;
}

void mux_tick(struct mux *m, uint64_t now_ms) {
  uint64_t silent;

  if (!m->started || mux_halted(m) != 0)
    return;
  if (m->rx_seen) {
    m->rx_seen = 0;
    m->last_rx_ms = now_ms;
  }

  mux_enter(m);
  silent = since(now_ms, m->last_rx_ms);
  if (!m->hello_received) {
    if (since(now_ms, m->started_ms) >= MUX_HELLO_TIMEOUT_MS) {
      send_goaway(m, TUNNEL_GOAWAY_TIMED_OUT, "no_hello");
      declare_dead(m, "hello_timeout");
    }
  } else if (silent >= TUNNEL_PING_TIMEOUT_MS) {
    declare_dead(m, "ping_timeout");
  } else if (silent >= TUNNEL_PING_INTERVAL_MS &&
             since(now_ms, m->last_ping_ms) >= TUNNEL_PING_INTERVAL_MS) {
    send_ping(m, now_ms);
  }
  mux_leave(m);
}

int mux_goaway(struct mux *m, enum tunnel_goaway_code code,
               const char *detail) {
  if (!m->started)
    return SP_EUSAGE;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  return send_goaway(m, code, detail);
}

int mux_send_cert(struct mux *m, const struct tunnel_frame *f) {
  if (f == NULL || !m->started ||
      (f->type != TUNNEL_CERT_RENEW && f->type != TUNNEL_CERT_ISSUED) ||
      !tunnel_frame_sender_ok(f->type, m->cfg.role))
    return SP_EUSAGE;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  return mux_send_frame(m, f);
}

const struct mux_stats *mux_stats(const struct mux *m) {
  return &m->stats;
}

const char *mux_peer_name(const struct mux *m) {
  return m->peer_name;
}

const char *mux_peer_software(const struct mux *m) {
  return m->peer_software;
}

unsigned mux_version(const struct mux *m) {
  return m->version;
}
