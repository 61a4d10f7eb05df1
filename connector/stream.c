/*
 * One stream at the connector: from the relay's OPEN to the one line
 * that says how it ended.
 *
 * States; stream_set_state() checks every move against `stream_moves`
 * and logs it at debug level.  Resolving and dialing, with their
 * deadline and the keepalive timer, are in connector/stream_dial.c.
 *
 *   new        the OPEN has arrived.  The connector's own allowlist is
 *              applied at once: a denied destination is answered
 *              not_allowed before any lookup or dial.
 *   resolving  uv_getaddrinfo() for the host is in flight (an IP literal
 *              goes through it too, which asks no DNS server).
 *   dialing    uv_tcp_connect() to one allowed address.  The timer is the
 *              dial's deadline, STREAM_DIAL_MS for all the addresses tried
 *              in turn; a failed address is closed and the next one tried.
 *   open       OPEN_RESULT ok has gone out and bytes flow both ways.  The
 *              half-closes are flags: `dest_eof` (the destination's end,
 *              sent on as FIN), `fin_in` (the relay's FIN, passed on as a
 *              shutdown of the destination's write side) and `shut_done`.
 *              A stream still open after STREAM_KEEPALIVE_AFTER_MS gets
 *              TCP keepalive on its destination socket (the timer), so a
 *              destination that vanishes ends it in about two minutes;
 *              short streams, most of them, never pay its four system
 *              calls.  Once the mux has closed the stream (FIN both ways),
 *              the timer bounds how long the last bytes may take to
 *              reach the destination.
 *   closing    stream_close() ran: the end line is written, the mux
 *              stream is answered or reset and let go, the handles are
 *              closing.  The memory goes with the last close callback.
 *
 *   new -> resolving -> dialing -> open -> closing;  any -> closing
 *
 * Splicing.  Destination to relay: alloc_cb hands libuv the loop's one
 * read buffer, cut to the stream's send window (at most STREAM_READ_MAX),
 * and read_cb forwards what came with mux_write().  With no window, or
 * with the tunnel's TLS queue over its high mark, alloc_cb gives no
 * buffer, libuv answers UV_ENOBUFS and reading stops until on_writable or
 * the tunnel drains; when it is the window that ran out, the stream
 * tells the mux it wants more (stream_want_window).  Relay to destination: each
 * DATA payload is copied into one uv_write() request, and mux_consumed()
 * reports the bytes only when the write completes, so the relay's window
 * reopens only as fast as this destination takes bytes and a slow destination
 * stalls only its own stream.  An idle stream holds no buffer at all.
 *
 * Ownership.  The stream borrows its mux stream until it detaches from it
 * (stream_detach): then the mux's user pointer is cleared, so mux
 * callbacks that follow find nothing, and the stream never touches the
 * mux stream again.  It is on its tunnel's list from stream_open() to
 * stream_close().
 */
#include "connector/stream.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "connector/agent_int.h"
#include "connector/allow.h"
#include "connector/stream_int.h"

/* How long the last bytes may take once FIN has gone both ways. */
#define STREAM_LINGER_MS 30000
/* The largest read from a destination: four full DATA frames, which
 * mux_write sends as one TLS write (docs/tunnel.md, "Batching"). */
#define STREAM_READ_MAX (MUX_WRITE_FRAMES * MUX_DEFAULT_MAX_DATA)

static const char *const state_names[] = {"new", "resolving", "dialing", "open",
                                          "closing"};

/* The phase a stream ended in, named after the state it was in. */
static const char *const phase_names[] = {"allow", "resolve", "dial", "data",
                                          "closing"};

#define TO(s) (1u << (s))
static const unsigned stream_moves[] = {
    [STREAM_NEW] = TO(STREAM_RESOLVING) | TO(STREAM_CLOSING),
    [STREAM_RESOLVING] = TO(STREAM_DIALING) | TO(STREAM_CLOSING),
    [STREAM_DIALING] = TO(STREAM_OPEN) | TO(STREAM_CLOSING),
    [STREAM_OPEN] = TO(STREAM_CLOSING),
    [STREAM_CLOSING] = 0,
};

static const char *const side_names[] = {"relay", "dest", "connector",
                                         "tunnel"};

/* A write toward the destination with its bytes; freed when done. */
struct stream_write {
  uv_write_t req; /* first: the request is the write */
  struct stream *s;
  size_t len;
  char data[];
};

size_t stream_struct_size(void) {
  return sizeof(struct stream);
}

void stream_set_state(struct stream *s, enum stream_state to) {
  bool legal = (stream_moves[s->state] & TO(to)) != 0;

  sp_log(legal ? SP_LOG_DEBUG : SP_LOG_ERROR, "stream", "state",
         "sid=%u tid=%u from=%s to=%s%s", s->sid, s->tid, state_names[s->state],
         state_names[to], legal ? "" : " illegal=1");
  assert(legal);
  s->state = (uint8_t)to;
}

/* ---- Teardown ---------------------------------------------------------- */

void stream_maybe_free(struct stream *s) {
  if (s->state != STREAM_CLOSING || s->tcp_live || s->timer_live ||
      s->gai_active)
    return;
  if (s->addrs != NULL)
    uv_freeaddrinfo(s->addrs);
  free(s);
}

static void timer_closed_cb(uv_handle_t *h) {
  struct stream *s = h->data;

  s->timer_live = false;
  stream_maybe_free(s);
}

/* Closes of the destination's handle, for a retry or for good. */
void stream_tcp_closed_cb(uv_handle_t *h) {
  struct stream *s = h->data;

  s->tcp_live = false;
  if (s->state == STREAM_CLOSING)
    stream_maybe_free(s);
  else
    stream_dial_next(s);
}

/* Lets go of the mux stream, so that nothing from the mux reaches `s`. */
static struct mux_stream *stream_detach(struct stream *s) {
  struct mux_stream *ms = s->ms;

  if (ms != NULL)
    mux_stream_set_user(ms, NULL);
  s->ms = NULL;
  return ms;
}

/* Gives the relay its answer: the result if none went out yet, a RESET
 * if the stream is still open at the mux, nothing if it is closed. */
static void stream_answer(struct stream *s) {
  struct mux_stream *ms = stream_detach(s);
  const char *addr = sstr(s, STR_ADDR);

  if (ms == NULL)
    return;
  if (mux_stream_state(ms) == MUX_STREAM_OPENING) {
    if (s->result == RESULT_NONE || s->result == TUNNEL_RESULT_OK)
      s->result = TUNNEL_RESULT_ERROR;
    if (mux_open_result(ms, s->result, addr[0] != '\0' ? addr : NULL) != 0) {
      s->result = RESULT_NONE;
      (void)mux_reset(ms, TUNNEL_RESET_INTERNAL); /* closes it anyway */
    }
  } else if (mux_stream_state(ms) != MUX_STREAM_CLOSED) {
    (void)mux_reset(ms, TUNNEL_RESET_CANCEL);
  }
}

static void stream_unlink(struct stream *s) {
  struct agent_tunnel *t = s->tunnel;

  if (t == NULL)
    return;
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    t->streams = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  s->prev = s->next = NULL;
  s->tunnel = NULL;
}

/* The error's token: the relay's RESET code, a libuv or Sallyport code,
 * the refusal sent, or "none". */
static const char *stream_err_token(const struct stream *s, char *buf,
                                    size_t n) {
  if (s->reset_code != 0)
    return tunnel_frame_reset_name(s->reset_code);
  if (s->err < 0 && s->err > -4096)
    return uv_err_name_r(s->err, buf, n);
  if (s->err != 0)
    return sp_err_name(s->err);
  if (s->result != RESULT_NONE && s->result != TUNNEL_RESULT_OK)
    return tunnel_frame_result_name(s->result);
  return "none";
}

/* The one end-of-stream line; strings from the network are quoted. */
static void stream_log_end(const struct stream *s) {
  char user[80], resource[80], rule[80], dest[280], addr[80], device[80];
  char client[140], err[32];
  uint64_t now = uv_now(sloop(s));

  sp_info("stream", "stream_end",
          "sid=%u tid=%u user=%s resource=%s rule=%s dest=%s addr=%s "
          "result=%s bytes_up=%llu bytes_down=%llu duration_ms=%llu "
          "end=%s/%s err=%s device=%s client=%s",
          s->sid, s->tid, sp_log_quote(user, sizeof(user), sstr(s, STR_USER)),
          sp_log_quote(resource, sizeof(resource), sstr(s, STR_RESOURCE)),
          sp_log_quote(rule, sizeof(rule), sstr(s, STR_RULE)),
          sp_log_quote(dest, sizeof(dest), sstr(s, STR_DEST)),
          sp_log_quote(addr, sizeof(addr), sstr(s, STR_ADDR)),
          s->result == RESULT_NONE ? "none"
                                   : tunnel_frame_result_name(s->result),
          (unsigned long long)s->bytes_up, (unsigned long long)s->bytes_down,
          (unsigned long long)(now - s->started_ms), side_names[s->side],
          phase_names[s->phase], stream_err_token(s, err, sizeof(err)),
          sp_log_quote(device, sizeof(device), sstr(s, STR_DEVICE)),
          sp_log_quote(client, sizeof(client), sstr(s, STR_CLIENT)));
}

/*
 * The one teardown.  Safe from any callback and more than once: the
 * first call decides, later ones do nothing.  `err` is kept unless an
 * earlier cause was recorded (a dial's failure, say).
 */
void stream_close(struct stream *s, enum stream_side side, int err) {
  if (s->state == STREAM_CLOSING)
    return;
  s->side = (uint8_t)side;
  s->phase = s->state;
  if (s->err == 0)
    s->err = err;
  stream_set_state(s, STREAM_CLOSING);

  stream_answer(s);
  stream_unlink(s);
  stream_log_end(s);

  uv_close((uv_handle_t *)&s->timer, timer_closed_cb);
  if (s->gai_active)
    (void)uv_cancel((uv_req_t *)&s->req.gai);
  if (s->tcp_live && !uv_is_closing((uv_handle_t *)&s->tcp))
    uv_close((uv_handle_t *)&s->tcp, stream_tcp_closed_cb);
  stream_maybe_free(s);
}

void stream_refuse(struct stream *s, enum tunnel_result result,
                   enum stream_side side) {
  s->result = (uint8_t)result;
  stream_close(s, side, 0);
}

/* ---- Destination to relay ---------------------------------------------- */

/* Whether the destination may be read now: open, not at its end, with
 * window to send into and a tunnel that is not congested. */
static bool stream_may_read(const struct stream *s) {
  return s->state == STREAM_OPEN && s->ms != NULL && !s->dest_eof &&
         s->tunnel != NULL && !s->tunnel->congested && mux_window(s->ms) > 0;
}

/*
 * Whether the stream would read but for its send window.  mux_write()
 * arms on_writable_cb only when it is handed more than the window allows,
 * and alloc_cb never hands it more, so a stream that has spent its window
 * must say that it wants more: see stream_want_window().
 */
static bool stream_window_spent(const struct stream *s) {
  enum mux_stream_state ms_state;

  if (s->state != STREAM_OPEN || s->ms == NULL || s->dest_eof)
    return false;
  ms_state = mux_stream_state(s->ms);
  return (ms_state == MUX_STREAM_OPEN || ms_state == MUX_STREAM_REMOTE_FIN) &&
         mux_window(s->ms) == 0;
}

/* Offers the mux one byte with the window at 0: it sends nothing, returns
 * 0, and calls on_writable_cb once the relay grants more. */
static int stream_want_window(struct stream *s) {
  static const char probe = 0;
  int rc = mux_write(s->ms, &probe, 1);

  assert(rc <= 0);
  return rc < 0 ? rc : 0;
}

void stream_update_reading(struct stream *s) {
  bool want = stream_may_read(s);
  int rc;

  if (!want && stream_window_spent(s) && (rc = stream_want_window(s)) != 0) {
    stream_close(s, STREAM_SIDE_CONNECTOR, rc);
    return;
  }
  if (want == s->reading)
    return;
  if (!want) {
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = false;
    return;
  }
  rc = uv_read_start((uv_stream_t *)&s->tcp, stream_alloc_cb, stream_read_cb);
  if (rc != 0) {
    stream_close(s, STREAM_SIDE_DEST, rc);
    return;
  }
  s->reading = true;
}

/*
 * Every destination read lands in this one buffer: the connector reads
 * on one loop, libuv runs each alloc_cb's read_cb before the next
 * alloc_cb, and mux_write() seals what read_cb is given into records
 * before it returns.  So no read costs an allocation.
 */
static char read_buf[STREAM_READ_MAX];

/* As much of the buffer as the window allows; none when the stream may
 * not send, which makes libuv report UV_ENOBUFS. */
void stream_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct stream *s = h->data;
  size_t n = 0;

  (void)hint;
  if (stream_may_read(s))
    n = mux_window(s->ms) < STREAM_READ_MAX ? mux_window(s->ms)
                                            : STREAM_READ_MAX;
  *buf = uv_buf_init(n > 0 ? read_buf : NULL, (unsigned)n);
}

/* The destination ended its side: pass the FIN on. */
static void stream_dest_eof(struct stream *s) {
  int rc;

  s->dest_eof = true;
  if (!s->fin_in)
    s->fin_first = STREAM_SIDE_DEST;
  stream_update_reading(s);

  /* When the relay's FIN came first the mux closes the stream in here,
   * and stream_on_closed() runs before mux_fin() returns. */
  rc = mux_fin(s->ms);
  if (rc != 0)
    stream_close(s, STREAM_SIDE_CONNECTOR, rc);
}

static void stream_forward(struct stream *s, const char *p, size_t n) {
  int rc = mux_write(s->ms, p, n);

  if (rc < 0) {
    stream_close(s, STREAM_SIDE_CONNECTOR, rc);
    return;
  }
  s->bytes_down += (uint64_t)rc;
  if ((size_t)rc < n) /* alloc_cb sized the buffer to the window */
    stream_close(s, STREAM_SIDE_CONNECTOR, SP_ELIMIT);
}

void stream_read_cb(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf) {
  struct stream *s = tcp->data;

  if (nread > 0 && s->state == STREAM_OPEN && s->ms != NULL)
    stream_forward(s, buf->base, (size_t)nread);
  if (nread == 0 || s->state != STREAM_OPEN)
    return;

  if (nread == UV_EOF)
    stream_dest_eof(s);
  else if (nread < 0 && nread != UV_ENOBUFS)
    stream_close(s, STREAM_SIDE_DEST, (int)nread);
  else
    stream_update_reading(s);
}

void stream_on_writable(struct mux_stream *ms) {
  struct stream *s = mux_stream_user(ms);

  if (s != NULL)
    stream_update_reading(s);
}

void stream_resume_all(struct agent_tunnel *t) {
  struct stream *s, *next;

  for (s = t->streams; s != NULL; s = next) {
    next = s->next;
    stream_update_reading(s);
  }
}

/* ---- Relay to destination ---------------------------------------------- */

/* Bytes the destination has taken: count them and reopen the window. */
static int stream_forwarded(struct stream *s, size_t n) {
  s->bytes_up += n;
  if (s->ms != NULL && mux_consumed(s->ms, n) != 0) {
    stream_close(s, STREAM_SIDE_CONNECTOR, SP_ECLOSED);
    return SP_ECLOSED;
  }
  return 0;
}

static void write_cb(uv_write_t *req, int status) {
  struct stream_write *w = (struct stream_write *)req;
  struct stream *s = w->s;
  size_t len = w->len;

  free(w);
  if (status == UV_ECANCELED || s->state == STREAM_CLOSING)
    return;
  if (status < 0) {
    stream_close(s, STREAM_SIDE_DEST, status);
    return;
  }
  (void)stream_forwarded(s, len);
}

void stream_on_data(struct mux_stream *ms, const struct mux_piece *pieces,
                    size_t n) {
  struct stream *s = mux_stream_user(ms);
  uv_buf_t bufs[MUX_DATA_PIECES_MAX];
  struct stream_write *w;
  size_t i, total = 0, done = 0, at = 0;
  uv_buf_t buf;
  int rc;

  if (s == NULL)
    return;
  for (i = 0; i < n && i < MUX_DATA_PIECES_MAX; i++) {
    bufs[i] =
        uv_buf_init((char *)(uintptr_t)pieces[i].p, (unsigned)pieces[i].len);
    total += pieces[i].len;
  }
  n = i;

  /* With nothing queued, one writev usually takes it all. */
  if (uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) == 0) {
    rc = uv_try_write((uv_stream_t *)&s->tcp, bufs, (unsigned)n);
    if (rc < 0 && rc != UV_EAGAIN) {
      stream_close(s, STREAM_SIDE_DEST, rc);
      return;
    }
    done = rc > 0 ? (size_t)rc : 0;
    if (done > 0 && stream_forwarded(s, done) != 0)
      return;
    if (done == total)
      return;
  }

  /* The rest is copied into one request; it counts when written. */
  w = malloc(sizeof(*w) + total - done);
  if (w == NULL) {
    stream_close(s, STREAM_SIDE_CONNECTOR, SP_ENOMEM);
    return;
  }
  w->s = s;
  w->len = total - done;
  for (i = 0; i < n; i++) {
    if (done >= bufs[i].len) {
      done -= bufs[i].len;
      continue;
    }
    memcpy(w->data + at, bufs[i].base + done, bufs[i].len - done);
    at += bufs[i].len - done;
    done = 0;
  }
  buf = uv_buf_init(w->data, (unsigned)w->len);
  rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &buf, 1, write_cb);
  if (rc != 0) {
    free(w);
    stream_close(s, STREAM_SIDE_DEST, rc);
  }
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  struct stream *s = req->data;

  if (status == UV_ECANCELED || s->state == STREAM_CLOSING)
    return;
  s->shut_done = true;
  if (status < 0)
    stream_close(s, STREAM_SIDE_DEST, status);
  else if (s->mux_done)
    stream_close(s, s->fin_first, 0);
}

/* The relay's FIN: shut the destination's write side once the bytes
 * queued before it are written (libuv orders the two). */
void stream_on_fin(struct mux_stream *ms) {
  struct stream *s = mux_stream_user(ms);
  int rc;

  if (s == NULL)
    return;
  s->fin_in = true;
  if (!s->dest_eof)
    s->fin_first = STREAM_SIDE_RELAY;
  s->req.shut.data = s;
  rc = uv_shutdown(&s->req.shut, (uv_stream_t *)&s->tcp, shutdown_cb);
  if (rc != 0)
    stream_close(s, STREAM_SIDE_DEST, rc);
}

void stream_on_reset(struct mux_stream *ms, uint32_t code) {
  struct stream *s = mux_stream_user(ms);

  if (s == NULL)
    return;
  stream_detach(s);
  s->reset_code = (uint8_t)code;
  stream_close(s, STREAM_SIDE_RELAY, 0);
}

static void linger_timeout_cb(uv_timer_t *timer) {
  stream_close(timer->data, STREAM_SIDE_DEST, UV_ETIMEDOUT);
}

/* The mux has let go of the stream; what it means depends on why. */
void stream_on_closed(struct mux_stream *ms) {
  struct stream *s = mux_stream_user(ms);
  uint32_t code;
  enum mux_end end;

  if (s == NULL)
    return;
  end = mux_stream_end(ms, &code);
  stream_detach(s);
  if (end == MUX_END_FIN) {
    s->mux_done = true;
    if (s->shut_done)
      stream_close(s, s->fin_first, 0);
    else
      uv_timer_start(&s->timer, linger_timeout_cb, STREAM_LINGER_MS, 0);
  } else if (end == MUX_END_TUNNEL) {
    stream_close(s,
                 s->tunnel != NULL && s->tunnel->agent->stopping
                     ? STREAM_SIDE_CONNECTOR
                     : STREAM_SIDE_TUNNEL,
                 SP_ECLOSED);
  } else if (end == MUX_END_LOCAL_RESET || end == MUX_END_REMOTE_RESET) {
    /* A local reset here is the mux's own: the relay broke a rule. */
    s->reset_code = (uint8_t)code;
    stream_close(s, STREAM_SIDE_RELAY, 0);
  } else {
    stream_close(s, STREAM_SIDE_CONNECTOR, SP_ECLOSED);
  }
}

/* ---- Opening ----------------------------------------------------------- */

/* A stream with its strings copied from the OPEN, on `t`'s list. */
static struct stream *stream_new(struct agent_tunnel *t, struct mux_stream *ms,
                                 const struct tunnel_frame_open *o,
                                 const char *host) {
  const struct tunnel_str f[] = {o->user,   o->resource, o->rule,
                                 o->device, o->client,   o->dest};
  size_t i, off = 0, total = strlen(host) + 1 + STREAM_ADDR_MAX;
  struct stream *s;

  for (i = 0; i < STR_HOST; i++)
    total += f[i].len + 1;
  s = calloc(1, sizeof(*s) + total);
  if (s == NULL)
    return NULL;
  for (i = 0; i < STR_HOST; i++) {
    s->str[i] = (uint16_t)off;
    if (f[i].len > 0)
      memcpy(s->strs + off, f[i].p, f[i].len);
    off += f[i].len + 1;
  }
  s->str[STR_HOST] = (uint16_t)off;
  strcpy(s->strs + off, host);
  s->str[STR_ADDR] = (uint16_t)(off + strlen(host) + 1);

  s->tunnel = t;
  s->ms = ms;
  s->sid = mux_stream_id(ms);
  s->tid = t->tid;
  s->result = RESULT_NONE;
  s->fin_first = STREAM_SIDE_CONNECTOR;
  s->started_ms = uv_now(t->agent->loop);
  uv_timer_init(t->agent->loop, &s->timer);
  s->timer.data = s;
  s->timer_live = true;
  return s;
}

static void stream_link(struct stream *s, struct agent_tunnel *t) {
  s->next = t->streams;
  if (t->streams != NULL)
    t->streams->prev = s;
  t->streams = s;
}

void stream_open(struct agent_tunnel *t, struct mux_stream *ms,
                 const struct tunnel_frame_open *open) {
  char host[TUNNEL_HOST_MAX + 1] = "";
  struct stream *s;
  uint16_t port = 0;

  /* The codec has checked the destination; a failure here is a bug that
   * still must not dial anything. */
  if (tunnel_frame_dest_split(open->dest.p, open->dest.len, host, sizeof(host),
                              &port) != 0)
    port = 0;
  s = stream_new(t, ms, open, host);
  if (s == NULL) {
    sp_warn("stream", "no_memory", "sid=%u tid=%u", mux_stream_id(ms), t->tid);
    (void)mux_reset(ms, TUNNEL_RESET_INTERNAL);
    return;
  }
  mux_stream_set_user(ms, s);
  stream_link(s, t);
  s->port = port;

  s->verdict = port == 0 ? ALLOW_DEST_DENIED
                         : allow_check_dest(t->agent->opts->allow, host, port);
  if (s->verdict == ALLOW_DEST_DENIED) {
    stream_refuse(s, TUNNEL_RESULT_NOT_ALLOWED, STREAM_SIDE_CONNECTOR);
    return;
  }
  stream_resolve(s);
}

void stream_stop_all(struct agent_tunnel *t) {
  struct stream *s, *next;

  for (s = t->streams; s != NULL; s = next) {
    next = s->next;
    stream_close(s, STREAM_SIDE_CONNECTOR, SP_ECLOSED);
  }
}
