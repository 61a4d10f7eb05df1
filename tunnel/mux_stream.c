/*
 * The multiplexer, stream side: the state setter, the stream frames
 * (OPEN, OPEN_RESULT, DATA, WINDOW_UPDATE, RESET) and the calls the owner
 * makes on a stream.  The state machine is described at the top of mux.c.
 *
 * Flow control, receiving: a stream's initial window comes out of the
 * tunnel's budget (see grant_window), so the credit granted across all
 * streams never exceeds it; when less than MUX_MIN_WINDOW is left a new
 * stream is refused with RESET limit (connector) or SP_ELIMIT (relay).
 * Window updates only ever give back what the owner has forwarded, so a
 * stream never holds more than its initial window and a stalled stream
 * keeps only its own credit.
 */
#include "tunnel/mux_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

static const char *const state_names[] = {
#define MUX_NAME_(name, token) token,
    MUX_STREAM_STATE_MAP(MUX_NAME_)};
static const char *const end_names[] = {MUX_END_MAP(MUX_NAME_)};
#undef MUX_NAME_

const char *mux_stream_state_name(unsigned state) {
  if (state >= sizeof(state_names) / sizeof(state_names[0]))
    return "unknown";
  return state_names[state];
}

const char *mux_end_name(unsigned end) {
  if (end >= sizeof(end_names) / sizeof(end_names[0]))
    return "unknown";
  return end_names[end];
}

#define BIT_(state) (1u << (state))

/* The moves the state machine at the top of mux.c allows. */
static const uint8_t legal_moves[] = {
    [MUX_STREAM_OPENING] = BIT_(MUX_STREAM_OPEN) | BIT_(MUX_STREAM_CLOSED),
    [MUX_STREAM_OPEN] = BIT_(MUX_STREAM_LOCAL_FIN) |
                        BIT_(MUX_STREAM_REMOTE_FIN) | BIT_(MUX_STREAM_CLOSED),
    [MUX_STREAM_LOCAL_FIN] = BIT_(MUX_STREAM_CLOSED),
    [MUX_STREAM_REMOTE_FIN] = BIT_(MUX_STREAM_CLOSED),
    [MUX_STREAM_CLOSED] = 0,
};

/* The one place a stream's state changes. */
static void stream_set_state(struct mux_stream *s, enum mux_stream_state to) {
  if (!(legal_moves[s->state] & BIT_(to))) {
    sp_error("mux", "bad_stream_move", "tid=%u sid=%u from=%s to=%s",
             s->mux->cfg.tid, s->id, mux_stream_state_name(s->state),
             mux_stream_state_name(to));
    assert(!"illegal stream state change");
    return;
  }
  sp_debug("mux", "stream_state", "tid=%u sid=%u from=%s to=%s",
           s->mux->cfg.tid, s->id, mux_stream_state_name(s->state),
           mux_stream_state_name(to));
  s->state = (uint8_t)to;
}

/*
 * How much credit a new stream gets, or 0 to refuse it.  MUX_MIN_WINDOW
 * stays in reserve for every further stream the max streams allows, so
 * the first streams get the full initial window, later ones less, and a
 * stream is refused for the budget only when it was set below max streams
 * times MUX_MIN_WINDOW.
 */
static uint32_t grant_window(const struct mux *m) {
  uint64_t max = m->cfg.role == TUNNEL_ROLE_RELAY ? m->peer_max_streams
                                                  : m->cfg.max_streams;
  uint64_t after = max > m->table.count + 1ull ? max - m->table.count - 1 : 0;
  uint64_t left =
      m->cfg.budget > m->budget_used ? m->cfg.budget - m->budget_used : 0;
  uint32_t want = m->cfg.initial_window;
  uint32_t floor = want < MUX_MIN_WINDOW ? want : MUX_MIN_WINDOW;

  if (left < floor)
    return 0;
  if (left - floor < after * floor)
    return floor;
  left -= after * floor;
  return left < want ? (uint32_t)left : want;
}

static struct mux_stream *stream_new(struct mux *m, uint32_t id,
                                     uint32_t window) {
  struct mux_stream *s = calloc(1, sizeof(*s));

  if (s == NULL)
    return NULL;
  s->mux = m;
  s->id = id;
  s->recv_window = s->recv_initial = window;
  s->state = MUX_STREAM_OPENING;
  if (mux_table_insert(&m->table, s) != 0) {
    free(s);
    return NULL;
  }
  m->budget_used += window;
  m->stats.streams_opened++;
  m->stats.streams_active++;
  sp_debug("mux", "stream_new", "tid=%u sid=%u window=%u", m->cfg.tid, id,
           window);
  return s;
}

/* Moves a stream that has left the table to closed, for reaping. */
static void stream_retire(struct mux_stream *s, enum mux_end end,
                          uint32_t code) {
  struct mux *m = s->mux;

  m->budget_used -= s->recv_initial;
  m->stats.streams_active--;
  s->end = (uint8_t)end;
  s->end_code = code;
  stream_set_state(s, MUX_STREAM_CLOSED);
  if (m->closed_tail != NULL)
    m->closed_tail->next_closed = s;
  else
    m->closed_head = s;
  m->closed_tail = s;
}

static void stream_close(struct mux_stream *s, enum mux_end end,
                         uint32_t code) {
  mux_table_remove(&s->mux->table, s);
  stream_retire(s, end, code);
}

void mux_streams_end_all(struct mux *m) {
  struct mux_stream *s;
  uint32_t i;

  for (i = 0; i < m->table.cap; i++) {
    s = m->table.slots[i];
    if (s == NULL)
      continue;
    m->table.slots[i] = NULL;
    m->table.count--;
    stream_retire(s, MUX_END_TUNNEL, 0);
  }
}

static int send_reset(struct mux *m, uint32_t id, uint32_t code) {
  struct tunnel_frame f;

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_RESET;
  f.stream = id;
  f.u.reset_code = code;
  m->stats.resets_out++;
  sp_debug("mux", "reset_sent", "tid=%u sid=%u code=%s", m->cfg.tid, id,
           tunnel_frame_reset_name(code));
  return mux_send_frame(m, &f);
}

/* A stream error: RESET the stream, keep the tunnel. */
static int stream_error(struct mux_stream *s, uint32_t code) {
  int rc = send_reset(s->mux, s->id, code);

  stream_close(s, MUX_END_LOCAL_RESET, code);
  return rc;
}

/* Connector: an OPEN, answered at once with RESET when over a limit. */
static int on_open(struct mux *m, const struct tunnel_frame *f) {
  struct mux_stream *s;
  uint32_t window;

  if (f->stream <= m->last_id)
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL,
                            "stream_id_not_increasing");
  m->last_id = f->stream;
  window = grant_window(m);
  if (m->goaway_sent || m->table.count >= m->cfg.max_streams || window == 0) {
    m->stats.streams_refused++;
    return send_reset(m, f->stream, TUNNEL_RESET_LIMIT);
  }
  s = stream_new(m, f->stream, window);
  if (s == NULL) {
    m->stats.streams_refused++;
    return send_reset(m, f->stream, TUNNEL_RESET_INTERNAL);
  }
  s->send_window = f->u.open.window;
  m->cb.on_open_cb(m->ctx, s, f);
  return 0;
}

/* Relay: the connector's answer to our OPEN. */
static int on_open_result(struct mux_stream *s,
                          const struct tunnel_frame_open_result *r) {
  struct mux *m = s->mux;
  uint64_t window = (uint64_t)s->send_window + r->window;

  if (s->state != MUX_STREAM_OPENING)
    return stream_error(s, TUNNEL_RESET_PROTOCOL);
  if (r->result != TUNNEL_RESULT_OK) {
    stream_close(s, MUX_END_REFUSED, r->result);
  } else if (window > TUNNEL_WINDOW_MAX) {
    return stream_error(s, TUNNEL_RESET_FLOW_CONTROL);
  } else {
    s->send_window = (uint32_t)window;
    stream_set_state(s, MUX_STREAM_OPEN);
  }
  m->cb.on_open_result_cb(m->ctx, s, (enum tunnel_result)r->result, r->address);
  return 0;
}

static void remote_fin(struct mux_stream *s) {
  struct mux *m = s->mux;

  if (s->state == MUX_STREAM_LOCAL_FIN)
    stream_close(s, MUX_END_FIN, 0);
  else
    stream_set_state(s, MUX_STREAM_REMOTE_FIN);
  if (m->cb.on_fin_cb != NULL)
    m->cb.on_fin_cb(m->ctx, s);
}

/* Why a DATA frame of `len` bytes may not arrive on `s` now, or 0. */
static uint32_t data_fault(const struct mux_stream *s, size_t len) {
  /* No DATA before the result is out, or after the peer's FIN. */
  if (s->state != MUX_STREAM_OPEN && s->state != MUX_STREAM_LOCAL_FIN)
    return TUNNEL_RESET_PROTOCOL;
  if (len > s->recv_window)
    return TUNNEL_RESET_FLOW_CONTROL;
  return 0;
}

/*
 * Takes the payload into the run (see struct mux_run); mux_run_flush
 * hands it over.  Before a fault is judged the run goes out, since the
 * owner may consume bytes and so reopen the window.
 */
static int on_data(struct mux_stream *s, const struct tunnel_frame *f) {
  struct mux *m = s->mux;
  size_t len = f->u.data.len;
  uint32_t fault = data_fault(s, len);

  if (fault != 0 && m->run.s != NULL) {
    mux_run_flush(m);
    if (s->state == MUX_STREAM_CLOSED || m->free_pending)
      return 0;
    fault = data_fault(s, len);
  }
  if (fault != 0)
    return stream_error(s, fault);

  s->recv_window -= (uint32_t)len;
  s->buffered += (uint32_t)len;
  s->data_in += len;
  m->stats.data_in += len;
  if (len > 0) {
    if (m->run.n == MUX_DATA_PIECES_MAX)
      mux_run_flush(m);
    if (s->state == MUX_STREAM_CLOSED || m->free_pending)
      return 0;
    m->run.s = s;
    m->run.pieces[m->run.n].p = f->u.data.p;
    m->run.pieces[m->run.n].len = len;
    m->run.n++;
  }
  if (f->flags & TUNNEL_FLAG_FIN) {
    mux_run_flush(m);
    /* The callback may have closed the stream or freed the mux. */
    if (s->state == MUX_STREAM_CLOSED || m->free_pending)
      return 0;
    remote_fin(s);
  }
  return 0;
}

static int can_send(const struct mux_stream *s) {
  return s->state == MUX_STREAM_OPEN || s->state == MUX_STREAM_REMOTE_FIN;
}

static int on_window_update(struct mux_stream *s, uint32_t increment) {
  struct mux *m = s->mux;
  uint64_t window = (uint64_t)s->send_window + increment;

  if (window > TUNNEL_WINDOW_MAX)
    return stream_error(s, TUNNEL_RESET_FLOW_CONTROL);
  s->send_window = (uint32_t)window;
  if (s->want_write && can_send(s)) {
    s->want_write = 0;
    if (m->cb.on_writable_cb != NULL)
      m->cb.on_writable_cb(m->ctx, s);
  }
  return 0;
}

static int on_reset(struct mux_stream *s, uint32_t code) {
  struct mux *m = s->mux;

  m->stats.resets_in++;
  sp_debug("mux", "reset", "tid=%u sid=%u code=%s", m->cfg.tid, s->id,
           tunnel_frame_reset_name(code));
  stream_close(s, MUX_END_REMOTE_RESET, code);
  if (m->cb.on_reset_cb != NULL)
    m->cb.on_reset_cb(m->ctx, s, code);
  return 0;
}

int mux_stream_frame(struct mux *m, const struct tunnel_frame *f) {
  struct mux_stream *s;

  if (f->type == TUNNEL_OPEN)
    return on_open(m, f);

  /* Ids up to the highest opened may be late frames for closed streams. */
  s = mux_table_find(&m->table, f->stream);
  if (s == NULL && f->stream > m->last_id)
    return mux_tunnel_error(m, TUNNEL_GOAWAY_PROTOCOL, "unknown_stream");
  if (s == NULL)
    return 0;

  switch (f->type) {
  case TUNNEL_OPEN_RESULT:
    return on_open_result(s, &f->u.open_result);
  case TUNNEL_DATA:
    return on_data(s, f);
  case TUNNEL_WINDOW_UPDATE:
    return on_window_update(s, f->u.window_increment);
  case TUNNEL_RESET:
    return on_reset(s, f->u.reset_code);
  default:
    assert(!"a tunnel frame reached the stream dispatch");
    return 0;
  }
}

static void open_frame(struct tunnel_frame *f, uint32_t id, uint32_t window,
                       const struct mux_open_args *a) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_OPEN;
  f->stream = id;
  f->u.open.window = window;
  f->u.open.expires = a->expires;
  f->u.open.dest = tunnel_frame_str(a->dest);
  f->u.open.user = tunnel_frame_str(a->user);
  f->u.open.resource = tunnel_frame_str(a->resource);
  f->u.open.rule = tunnel_frame_str(a->rule);
  f->u.open.device = tunnel_frame_str(a->device);
  f->u.open.client = tunnel_frame_str(a->client);
}

/* Whether the relay may open a stream now; 0 or the code to return. */
static int open_allowed(struct mux *m) {
  if (m->cfg.role != TUNNEL_ROLE_RELAY || !m->hello_received)
    return SP_EUSAGE;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  if (m->last_id == UINT32_MAX && !m->goaway_sent)
    (void)mux_goaway(m, TUNNEL_GOAWAY_SHUTDOWN, "stream_ids_used_up");
  if (m->goaway_sent || m->goaway_received)
    return SP_ECLOSED;
  if (m->table.count >= m->peer_max_streams)
    return SP_ELIMIT;
  return 0;
}

int mux_open(struct mux *m, const struct mux_open_args *args, void *user,
             struct mux_stream **out) {
  struct tunnel_frame f;
  struct mux_stream *s;
  uint32_t window;
  int rc;

  if (args == NULL || out == NULL)
    return SP_EUSAGE;
  rc = open_allowed(m);
  if (rc != 0)
    return rc;
  window = grant_window(m);
  if (window == 0)
    return SP_ELIMIT;
  open_frame(&f, m->last_id + 1, window, args);
  if (tunnel_frame_check(&f) != TUNNEL_FAULT_NONE)
    return SP_EUSAGE;

  s = stream_new(m, f.stream, window);
  if (s == NULL)
    return SP_ENOMEM;
  m->last_id = f.stream;
  s->user = user;
  rc = mux_send_frame(m, &f);
  if (rc != 0) {
    /* The owner never saw the stream, so it goes without a callback. */
    mux_table_remove(&m->table, s);
    m->budget_used -= window;
    m->stats.streams_active--;
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int mux_open_result(struct mux_stream *s, enum tunnel_result result,
                    const char *addr) {
  struct mux *m = s->mux;
  struct tunnel_frame f;
  int rc;

  if (m->cfg.role != TUNNEL_ROLE_CONNECTOR)
    return SP_EUSAGE;
  if (s->state == MUX_STREAM_CLOSED)
    return SP_ECLOSED;
  if (s->state != MUX_STREAM_OPENING)
    return SP_EUSAGE;
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_OPEN_RESULT;
  f.stream = s->id;
  f.u.open_result.result = (uint8_t)result;
  f.u.open_result.window = result == TUNNEL_RESULT_OK ? s->recv_initial : 0;
  f.u.open_result.address = tunnel_frame_str(addr);
  if ((unsigned)result > TUNNEL_RESULT_ERROR ||
      tunnel_frame_check(&f) != TUNNEL_FAULT_NONE)
    return SP_EUSAGE;
  if (mux_halted(m) != 0)
    return mux_halted(m);

  rc = mux_send_frame(m, &f);
  if (rc != 0)
    return rc;
  mux_enter(m);
  if (result == TUNNEL_RESULT_OK)
    stream_set_state(s, MUX_STREAM_OPEN);
  else
    stream_close(s, MUX_END_REFUSED, (uint32_t)result);
  mux_leave(m);
  return 0;
}

/*
 * Sends up to MUX_WRITE_FRAMES DATA frames per send_cb, so that a large
 * write leaves as one gathered TLS write.
 */
int mux_write(struct mux_stream *s, const void *p, size_t n) {
  struct mux *m = s->mux;
  const uint8_t *b = p;
  uint8_t hdr[MUX_WRITE_FRAMES][TUNNEL_HEADER_SIZE];
  struct mux_piece pc[2 * MUX_WRITE_FRAMES];
  size_t allow, chunk, batch, sent;
  unsigned frames;
  int rc;

  if (s->state == MUX_STREAM_CLOSED)
    return SP_ECLOSED;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  if (!can_send(s) || (n > 0 && p == NULL))
    return SP_EUSAGE;

  allow = n < s->send_window ? n : s->send_window;
  for (sent = 0; sent < allow; sent += batch) {
    for (frames = 0, batch = 0;
         frames < MUX_WRITE_FRAMES && sent + batch < allow; frames++) {
      chunk = allow - sent - batch;
      if (chunk > m->cfg.max_data)
        chunk = m->cfg.max_data;
      tunnel_frame_encode_data_header(hdr[frames], s->id, chunk, 0);
      pc[2 * frames].p = hdr[frames];
      pc[2 * frames].len = TUNNEL_HEADER_SIZE;
      pc[2 * frames + 1].p = b + sent + batch;
      pc[2 * frames + 1].len = chunk;
      batch += chunk;
    }
    rc = mux_send_pieces(m, pc, 2 * frames, frames);
    if (rc != 0)
      return rc;
    s->send_window -= (uint32_t)batch;
    s->data_out += batch;
    m->stats.data_out += batch;
  }
  if (allow < n)
    s->want_write = 1;
  return (int)allow;
}

size_t mux_window(const struct mux_stream *s) {
  return can_send(s) ? s->send_window : 0;
}

int mux_consumed(struct mux_stream *s, size_t n) {
  struct mux *m = s->mux;
  struct tunnel_frame f;
  int rc;

  if (s->state == MUX_STREAM_CLOSED)
    return 0;
  if (n > s->buffered)
    return SP_EUSAGE;
  s->buffered -= (uint32_t)n;
  s->pending += (uint32_t)n;

  /* Grant in halves of the initial window, never after the peer's FIN. */
  if (s->state == MUX_STREAM_REMOTE_FIN || s->pending == 0 ||
      s->pending < s->recv_initial - s->recv_initial / 2)
    return 0;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_WINDOW_UPDATE;
  f.stream = s->id;
  f.u.window_increment = s->pending;
  rc = mux_send_frame(m, &f);
  if (rc != 0)
    return rc;
  s->recv_window += s->pending;
  s->pending = 0;
  return 0;
}

int mux_fin(struct mux_stream *s) {
  struct mux *m = s->mux;
  int rc;

  if (s->state == MUX_STREAM_CLOSED)
    return SP_ECLOSED;
  if (mux_halted(m) != 0)
    return mux_halted(m);
  if (!can_send(s))
    return SP_EUSAGE;
  rc = mux_send_data(m, s->id, NULL, 0, 1);
  if (rc != 0)
    return rc;

  mux_enter(m);
  if (s->state == MUX_STREAM_REMOTE_FIN)
    stream_close(s, MUX_END_FIN, 0);
  else
    stream_set_state(s, MUX_STREAM_LOCAL_FIN);
  mux_leave(m);
  return 0;
}

int mux_reset(struct mux_stream *s, enum tunnel_reset_code code) {
  struct mux *m = s->mux;
  int rc = 0;

  if (s->state == MUX_STREAM_CLOSED)
    return SP_ECLOSED;
  if (code < TUNNEL_RESET_CANCEL || code > TUNNEL_RESET_INTERNAL)
    return SP_EUSAGE;

  /* The stream ends here even when the tunnel can no longer carry it. */
  mux_enter(m);
  if (mux_halted(m) == 0)
    rc = send_reset(m, s->id, code);
  if (s->state == MUX_STREAM_OPENING && m->cfg.role == TUNNEL_ROLE_CONNECTOR)
    m->stats.streams_refused++;
  stream_close(s, MUX_END_LOCAL_RESET, code);
  mux_leave(m);
  return rc;
}

uint32_t mux_stream_id(const struct mux_stream *s) {
  return s->id;
}

void *mux_stream_user(const struct mux_stream *s) {
  return s->user;
}

void mux_stream_set_user(struct mux_stream *s, void *user) {
  s->user = user;
}

struct mux *mux_stream_mux(const struct mux_stream *s) {
  return s->mux;
}

enum mux_stream_state mux_stream_state(const struct mux_stream *s) {
  return (enum mux_stream_state)s->state;
}

enum mux_end mux_stream_end(const struct mux_stream *s, uint32_t *code) {
  if (code != NULL)
    *code = s->end_code;
  return (enum mux_end)s->end;
}

uint64_t mux_stream_bytes_in(const struct mux_stream *s) {
  return s->data_in;
}

uint64_t mux_stream_bytes_out(const struct mux_stream *s) {
  return s->data_out;
}

uint32_t mux_streams_left(const struct mux *m) {
  if (m->cfg.role != TUNNEL_ROLE_RELAY || !m->hello_received ||
      m->goaway_sent || m->goaway_received || mux_halted(m) != 0 ||
      m->last_id == UINT32_MAX || m->table.count >= m->peer_max_streams)
    return 0;
  return m->peer_max_streams - m->table.count;
}
