/*
 * One stream at the connector: from the relay's OPEN to the one line
 * that says how it ended.
 *
 * States; stream_set_state() checks every move against `stream_moves`
 * and logs it at debug level.
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

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/keepalive.h"
#include "common/log.h"
#include "connector/agent_int.h"
#include "connector/allow.h"

/* The dial's deadline, all addresses together. */
#define STREAM_DIAL_MS 10000
/* How long the last bytes may take once FIN has gone both ways. */
#define STREAM_LINGER_MS 30000
/* When an open stream's destination socket gets TCP keepalive. */
#define STREAM_KEEPALIVE_AFTER_MS 10000
/* The largest read from a destination: four full DATA frames, which
 * mux_write sends as one TLS write (docs/tunnel.md, "Batching"). */
#define STREAM_READ_MAX (MUX_WRITE_FRAMES * MUX_DEFAULT_MAX_DATA)
/* Room for "[v6 address]:port" and its NUL. */
#define STREAM_ADDR_MAX (INET6_ADDRSTRLEN + 8)

enum stream_state {
  STREAM_NEW,
  STREAM_RESOLVING,
  STREAM_DIALING,
  STREAM_OPEN,
  STREAM_CLOSING,
};

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

/* Who ended a stream. */
enum stream_side {
  STREAM_SIDE_RELAY,     /* its FIN or RESET, or a rule it broke */
  STREAM_SIDE_DEST,      /* the destination: end of file, error, no dial */
  STREAM_SIDE_CONNECTOR, /* our decision: allowlist, stop, no memory */
  STREAM_SIDE_TUNNEL,    /* the tunnel went away under the stream */
};

static const char *const side_names[] = {"relay", "dest", "connector",
                                         "tunnel"};

/* The strings a stream keeps, back to back in `strs`. */
enum stream_str {
  STR_USER,
  STR_RESOURCE,
  STR_RULE,
  STR_DEVICE,
  STR_CLIENT,
  STR_DEST,
  STR_HOST, /* the destination's host, brackets removed */
  STR_ADDR, /* what was dialled; STREAM_ADDR_MAX bytes of room */
  STR_COUNT,
};

/* The OPEN_RESULT field when none has been sent. */
#define RESULT_NONE 0xff

struct stream {
  struct agent_tunnel *tunnel; /* borrows; NULL once off its list */
  struct mux_stream *ms;       /* borrows; NULL once detached */
  struct stream *prev, *next;  /* the tunnel's list */
  struct addrinfo *addrs;      /* owned while resolving and dialing */
  struct addrinfo *next_addr;  /* the next to consider */
  uint64_t started_ms;         /* uv_now() at the OPEN */
  uint64_t bytes_up;           /* relay to destination, written */
  uint64_t bytes_down;         /* destination to relay, sent */
  uv_tcp_t tcp;                /* the destination */
  uv_timer_t timer;            /* the dial's deadline, then the linger */
  union {                      /* one at a time, in this order */
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_shutdown_t shut;
  } req;
  uint32_t sid, tid;
  int err;                 /* the cause of the end, or 0 */
  uint16_t port;           /* the destination's */
  uint16_t str[STR_COUNT]; /* offsets into `strs` */
  uint8_t state;           /* enum stream_state */
  uint8_t verdict;         /* enum allow_verdict */
  uint8_t result;          /* enum tunnel_result sent, or RESULT_NONE */
  uint8_t side;            /* enum stream_side: who ended it */
  uint8_t phase;           /* the state it ended in */
  uint8_t fin_first;       /* enum stream_side: whose FIN came first */
  uint8_t reset_code;      /* the relay's RESET code, or 0 */
  bool tcp_live : 1;       /* tcp is initialised and not yet closed */
  bool timer_live : 1;     /* likewise the timer */
  bool gai_active : 1;     /* the lookup's callback is still due */
  bool dialled : 1;        /* at least one address was dialled */
  bool reading : 1;        /* uv_read_start() is in effect */
  bool dest_eof : 1;       /* the destination ended; FIN went out */
  bool fin_in : 1;         /* the relay's FIN came */
  bool shut_done : 1;      /* the destination's write side is shut */
  bool mux_done : 1;       /* the mux closed the stream after both FINs */
  char strs[];             /* NUL-terminated strings; see `str` */
};

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

static const char *sstr(const struct stream *s, enum stream_str i) {
  return s->strs + s->str[i];
}

/* The loop, through the timer: it lives from stream_new() to the end. */
static uv_loop_t *sloop(const struct stream *s) {
  return s->timer.loop;
}

static void stream_set_state(struct stream *s, enum stream_state to) {
  bool legal = (stream_moves[s->state] & TO(to)) != 0;

  sp_log(legal ? SP_LOG_DEBUG : SP_LOG_ERROR, "stream", "state",
         "sid=%u tid=%u from=%s to=%s%s", s->sid, s->tid, state_names[s->state],
         state_names[to], legal ? "" : " illegal=1");
  assert(legal);
  s->state = (uint8_t)to;
}

/* ---- Teardown ---------------------------------------------------------- */

static void stream_maybe_free(struct stream *s) {
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

static void stream_dial_next(struct stream *s);

/* Closes of the destination's handle, for a retry or for good. */
static void tcp_closed_cb(uv_handle_t *h) {
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
static void stream_close(struct stream *s, enum stream_side side, int err) {
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
    uv_close((uv_handle_t *)&s->tcp, tcp_closed_cb);
  stream_maybe_free(s);
}

/* A refusal of the OPEN with `result`, blamed on `side`. */
static void stream_refuse(struct stream *s, enum tunnel_result result,
                          enum stream_side side) {
  s->result = (uint8_t)result;
  stream_close(s, side, 0);
}

/* ---- Destination to relay ---------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void read_cb(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf);

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

static void stream_update_reading(struct stream *s) {
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
  rc = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
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
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
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

static void read_cb(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf) {
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

/* ---- Resolving and dialing --------------------------------------------- */

/* What a failed dial tells the relay. */
static enum tunnel_result dial_result(int err) {
  switch (err) {
  case UV_ECONNREFUSED:
    return TUNNEL_RESULT_REFUSED;
  case UV_ENETUNREACH:
  case UV_EHOSTUNREACH:
  case UV_ENETDOWN:
    return TUNNEL_RESULT_UNREACHABLE;
  case UV_ETIMEDOUT:
    return TUNNEL_RESULT_TIMED_OUT;
  default:
    return TUNNEL_RESULT_ERROR;
  }
}

/* "10.20.0.5:443" or "[2001:db8::5]:22" into the stream's STR_ADDR. */
static void stream_set_addr(struct stream *s, const struct sockaddr *sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  char *out = s->strs + s->str[STR_ADDR];

  if (sa->sa_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
    snprintf(out, STREAM_ADDR_MAX, "[%s]:%u", ip, s->port);
  } else {
    uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
    snprintf(out, STREAM_ADDR_MAX, "%s:%u", ip, s->port);
  }
}

/* The next address the allowlist lets us dial, its port set; or NULL. */
static struct addrinfo *next_allowed(struct stream *s) {
  const struct allow_list *allow = s->tunnel->agent->opts->allow;
  struct addrinfo *ai;

  for (ai = s->next_addr; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(s->port);
    else if (ai->ai_family == AF_INET6)
      ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(s->port);
    else
      continue;
    if (allow_check_resolved(allow, s->verdict, ai->ai_addr, s->port))
      break;
  }
  s->next_addr = ai != NULL ? ai->ai_next : NULL;
  return ai;
}

static void dial_timeout_cb(uv_timer_t *timer) {
  struct stream *s = timer->data;

  s->err = UV_ETIMEDOUT;
  stream_refuse(s, TUNNEL_RESULT_TIMED_OUT, STREAM_SIDE_DEST);
}

/* The stream has lived long enough to be worth watching for a vanished
   destination. */
static void keepalive_cb(uv_timer_t *timer) {
  struct stream *s = timer->data;
  uv_os_fd_t fd;
  int rc = uv_fileno((uv_handle_t *)&s->tcp, &fd);

  if (rc == 0)
    rc = sp_tcp_keepalive(fd);
  if (rc != 0)
    sp_warn("stream", "keepalive_failed", "sid=%u tid=%u err=%s", s->sid,
            s->tid, sp_err_name(rc));
}

static void connect_cb(uv_connect_t *req, int status) {
  struct stream *s = req->data;
  char name[32];
  int rc;

  if (status == UV_ECANCELED || s->state == STREAM_CLOSING)
    return;
  if (status != 0) {
    s->err = status;
    sp_debug("stream", "dial_failed", "sid=%u tid=%u addr=%s err=%s", s->sid,
             s->tid, sstr(s, STR_ADDR),
             uv_err_name_r(status, name, sizeof(name)));
    s->reading = false;
    uv_close((uv_handle_t *)&s->tcp, tcp_closed_cb); /* then the next */
    return;
  }

  uv_timer_start(&s->timer, keepalive_cb, STREAM_KEEPALIVE_AFTER_MS, 0);
  uv_freeaddrinfo(s->addrs);
  s->addrs = s->next_addr = NULL;
  s->err = 0;
  stream_set_state(s, STREAM_OPEN);
  s->result = TUNNEL_RESULT_OK;
  rc = mux_open_result(s->ms, TUNNEL_RESULT_OK, sstr(s, STR_ADDR));
  if (rc != 0) {
    stream_close(s, STREAM_SIDE_CONNECTOR, rc);
    return;
  }
  stream_update_reading(s);
}

/*
 * Dials the next allowed address.  When there is none left, the answer
 * is not_allowed if the allowlist let no address through, and otherwise
 * what the last dial met.
 */
static void stream_dial_next(struct stream *s) {
  struct addrinfo *ai = next_allowed(s);
  int rc;

  if (ai == NULL && !s->dialled) {
    stream_refuse(s, TUNNEL_RESULT_NOT_ALLOWED, STREAM_SIDE_CONNECTOR);
    return;
  }
  if (ai == NULL) {
    stream_refuse(s, dial_result(s->err), STREAM_SIDE_DEST);
    return;
  }
  if (!s->dialled)
    uv_timer_start(&s->timer, dial_timeout_cb, STREAM_DIAL_MS, 0);
  s->dialled = true;
  if (s->state == STREAM_RESOLVING)
    stream_set_state(s, STREAM_DIALING);

  stream_set_addr(s, ai->ai_addr);
  uv_tcp_init(sloop(s), &s->tcp);
  /* Each DATA run is written whole, so Nagle's algorithm can only hold
     back the second of two small writes until the destination's delayed
     ACK (40 ms on Linux): off, as on the relay's sockets.  libuv applies
     it when connect creates the socket. */
  (void)uv_tcp_nodelay(&s->tcp, 1);
  s->tcp.data = s;
  s->tcp_live = true;
  s->req.connect.data = s;
  rc = uv_tcp_connect(&s->req.connect, &s->tcp, ai->ai_addr, connect_cb);
  if (rc != 0) {
    s->err = rc;
    uv_close((uv_handle_t *)&s->tcp, tcp_closed_cb);
    return;
  }
  /* Read from the start: libuv runs connect_cb before any read_cb.
     Asked in connect_cb instead, libuv would have forgotten the socket
     when the connect ended and would add it again, meet EEXIST and
     modify it: a wasted epoll_ctl per stream.  connect_cb keeps or
     stops reading as the stream's state says. */
  s->reading = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) == 0;
}

static void resolved_cb(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct stream *s = req->data;

  s->gai_active = false;
  s->addrs = s->next_addr = res;
  if (s->state == STREAM_CLOSING) {
    stream_maybe_free(s);
    return;
  }
  if (status != 0) {
    s->err = status;
    stream_refuse(s, TUNNEL_RESULT_DNS_FAILED, STREAM_SIDE_DEST);
    return;
  }
  stream_dial_next(s);
}

static void stream_resolve(struct stream *s) {
  struct addrinfo hints, *res;
  int rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  stream_set_state(s, STREAM_RESOLVING);

  /* An IP literal needs no resolver, so it skips the round trip through
     libuv's thread pool that uv_getaddrinfo() takes. */
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(sstr(s, STR_HOST), NULL, &hints, &res) == 0) {
    s->addrs = s->next_addr = res;
    stream_dial_next(s);
    return;
  }
  hints.ai_flags = 0;
  s->req.gai.data = s;
  rc = uv_getaddrinfo(sloop(s), &s->req.gai, resolved_cb, sstr(s, STR_HOST),
                      NULL, &hints);
  if (rc != 0) {
    s->err = rc;
    stream_refuse(s, TUNNEL_RESULT_ERROR, STREAM_SIDE_CONNECTOR);
    return;
  }
  s->gai_active = true;
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
