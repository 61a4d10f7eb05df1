/*
 * Feeds arbitrary bytes to a multiplexer as if a peer had sent them, and
 * checks its promises: it only ever returns 0 or an error it documents;
 * everything it sends is one well-formed frame its role may send, with
 * DATA within the window the harness granted; a tunnel error is answered
 * with GOAWAY; it never frees a stream twice or leaks one (LeakSanitizer
 * sees the end of every run).
 *
 * The first input byte steers the harness:
 *   bit 0     feed a valid peer HELLO first, so stream frames are reached
 *             at once (otherwise the input must bring its own);
 *   bit 1     play the relay (three streams opened after the peer's
 *             HELLO) instead of the connector;
 *   bits 2-3  how the connector answers OPEN: ok at once, refused, later
 *             (after the next chunk), or RESET limit;
 *   bits 4-7  seed of the chunk sizes the rest of the input is cut into.
 * DATA that starts with 'H' is held (never reported consumed, so the
 * peer can overrun the window), 'R' resets its stream from on_data_cb,
 * 'F' sends FIN, 'X' frees the whole mux, anything else is consumed and
 * echoed.  Time moves on between chunks, sometimes by a long silence, so
 * pings and deaths happen too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tests/fuzz/fuzz.h"

#define MAX_LATER 64

struct harness {
  struct mux *m;
  enum tunnel_role role;
  unsigned answer;
  struct mux_stream *later[MAX_LATER]; /* connector: OPENs to answer */
  size_t n_later;
  uint8_t last_type; /* of the last frame sent */
  long live;         /* streams created minus streams closed */
};

static uint8_t frame_buf[TUNNEL_FRAME_MAX];

/* Everything sent must be exactly one valid frame from our role. */
static int send_cb(void *ctx, const struct mux_piece *pc, size_t n) {
  struct harness *h = ctx;
  struct tunnel_frame f;
  size_t i, len = 0, used;

  CHECK(n == 1 || n == 2);
  for (i = 0; i < n; i++) {
    CHECK(len + pc[i].len <= sizeof(frame_buf));
    memcpy(frame_buf + len, pc[i].p, pc[i].len);
    len += pc[i].len;
  }
  CHECK(tunnel_frame_decode(frame_buf, len, &f, &used, NULL) == 0);
  CHECK(used == len);
  CHECK(tunnel_frame_sender_ok(f.type, h->role));
  if (f.type == TUNNEL_DATA)
    CHECK(f.u.data.len <= MUX_DEFAULT_MAX_DATA);
  h->last_type = f.type;
  return 0;
}

static void later_remove(struct harness *h, struct mux_stream *s) {
  size_t i;

  for (i = 0; i < h->n_later; i++)
    if (h->later[i] == s) {
      h->later[i] = h->later[--h->n_later];
      return;
    }
}

static void on_open(void *ctx, struct mux_stream *s,
                    const struct tunnel_frame *f) {
  struct harness *h = ctx;

  h->live++;
  switch (h->answer) {
  case 0:
    CHECK(mux_open_result(s, TUNNEL_RESULT_OK, "10.0.0.1:80") == 0);
    break;
  case 1:
    CHECK(mux_open_result(s, TUNNEL_RESULT_REFUSED, NULL) == 0);
    break;
  case 2:
    if (h->n_later < MAX_LATER)
      h->later[h->n_later++] = s;
    else
      CHECK(mux_reset(s, TUNNEL_RESET_LIMIT) == 0);
    break;
  default:
    CHECK(mux_reset(s, TUNNEL_RESET_LIMIT) == 0);
  }
}

static void on_open_result(void *ctx, struct mux_stream *s,
                           enum tunnel_result result, struct tunnel_str addr) {
  CHECK(result <= TUNNEL_RESULT_ERROR);
}

static void on_data(void *ctx, struct mux_stream *s,
                    const struct mux_piece *pieces, size_t n) {
  struct harness *h = ctx;
  const uint8_t *p = pieces[0].p;
  size_t i, total = 0;
  int k;

  CHECK(n > 0 && n <= MUX_DATA_PIECES_MAX &&
        mux_stream_state(s) != MUX_STREAM_CLOSED);
  for (i = 0; i < n; i++) {
    CHECK(pieces[i].len > 0);
    total += pieces[i].len;
  }
  if (p[0] == 'H')
    return;
  CHECK(mux_consumed(s, total) == 0);
  if (p[0] == 'R') {
    CHECK(mux_reset(s, TUNNEL_RESET_CANCEL) == 0);
  } else if (p[0] == 'F') {
    k = mux_fin(s);
    CHECK(k == 0 || k == SP_EUSAGE);
  } else if (p[0] == 'X') {
    mux_free(h->m);
    h->m = NULL;
  } else {
    for (i = 0; i < n; i++) {
      k = mux_write(s, pieces[i].p, pieces[i].len);
      CHECK((k >= 0 && (size_t)k <= pieces[i].len) || k == SP_EUSAGE);
      if (k != (int)pieces[i].len)
        break;
    }
  }
}

static void on_fin(void *ctx, struct mux_stream *s) {
  int rc = mux_fin(s);

  CHECK(rc == 0 || rc == SP_EUSAGE || rc == SP_ECLOSED);
}

static void on_closed(void *ctx, struct mux_stream *s) {
  struct harness *h = ctx;

  CHECK(mux_stream_state(s) == MUX_STREAM_CLOSED);
  CHECK(mux_stream_end(s, NULL) != MUX_END_NONE);
  later_remove(h, s);
  h->live--;
}

static const struct mux_callbacks callbacks = {
    .send_cb = send_cb,
    .on_open_cb = on_open,
    .on_open_result_cb = on_open_result,
    .on_data_cb = on_data,
    .on_fin_cb = on_fin,
    .on_stream_closed_cb = on_closed,
};

/* A valid HELLO from the peer of `role`, written into `out`. */
static size_t peer_hello(enum tunnel_role role, uint8_t *out, size_t size) {
  struct tunnel_frame f;
  size_t n = 0;

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_HELLO;
  f.u.hello.version = TUNNEL_VERSION;
  f.u.hello.role =
      role == TUNNEL_ROLE_RELAY ? TUNNEL_ROLE_CONNECTOR : TUNNEL_ROLE_RELAY;
  f.u.hello.max_streams = 8;
  f.u.hello.name = tunnel_frame_str("peer");
  CHECK(tunnel_frame_encode(&f, out, size, &n) == 0);
  return n;
}

static void relay_opens(struct harness *h) {
  struct mux_open_args a = {"wiki.corp:443", "alice", "wiki", "rule", NULL,
                            "1.2.3.4:5678",  0};
  struct mux_stream *s;
  int i;

  for (i = 0; i < 3 && h->m != NULL; i++)
    if (mux_open(h->m, &a, NULL, &s) == 0)
      h->live++;
}

static void answer_later(struct harness *h) {
  struct mux_stream *s;
  int rc;

  while (h->n_later > 0 && h->m != NULL) {
    s = h->later[--h->n_later];
    rc = mux_open_result(s, TUNNEL_RESULT_OK, "10.0.0.1:80");
    CHECK(rc == 0 || rc == SP_EPROTO || rc == SP_ETIMEOUT);
  }
}

/* Time moves on by 3 s a chunk; some seeds add silences of 6 or 16 s. */
static void advance(struct harness *h, uint64_t *now, uint32_t seed) {
  *now += 3000;
  if (h->m != NULL)
    mux_tick(h->m, *now);
  if ((seed & 0x300) == 0x300)
    *now += 6000;
  else if ((seed & 0x3f00) == 0x100)
    *now += 16000;
  if (h->m != NULL)
    mux_tick(h->m, *now);
}

/* Feeds `n` bytes in chunks; stops at the first error, as an owner would. */
static void feed_all(struct harness *h, const uint8_t *p, size_t n,
                     uint32_t seed) {
  uint64_t now = 1000;
  size_t k;
  int rc = 0;

  while (n > 0 && rc == 0 && h->m != NULL) {
    seed = seed * 1103515245u + 12345u;
    k = 1 + (seed >> 16) % 4096;
    k = k < n ? k : n;
    rc = mux_feed(h->m, p, k);
    CHECK(rc == 0 || rc == SP_EPROTO || rc == SP_ETIMEOUT);
    if (rc == SP_EPROTO)
      CHECK(h->last_type == TUNNEL_GOAWAY);
    p += k;
    n -= k;
    if (h->role == TUNNEL_ROLE_RELAY)
      relay_opens(h);
    answer_later(h);
    advance(h, &now, seed);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mux_config cfg;
  struct harness h;
  uint8_t hello[128];
  size_t n;

  if (size < 1)
    return 0;
  sp_log_set_level(SP_LOG_ERROR);
  memset(&h, 0, sizeof(h));
  h.role = (data[0] & 2) ? TUNNEL_ROLE_RELAY : TUNNEL_ROLE_CONNECTOR;
  h.answer = (data[0] >> 2) & 3;
  memset(&cfg, 0, sizeof(cfg));
  cfg.role = h.role;
  cfg.name = "fuzz";
  cfg.max_streams = 16;
  cfg.initial_window = 4096; /* small, so inputs can overrun it */
  CHECK(mux_new(&cfg, &callbacks, &h, &h.m) == 0);
  CHECK(mux_start(h.m, 1000) == 0);

  if (data[0] & 1) {
    n = peer_hello(h.role, hello, sizeof(hello));
    CHECK(mux_feed(h.m, hello, n) == 0);
  }
  if (h.role == TUNNEL_ROLE_RELAY)
    relay_opens(&h);
  feed_all(&h, data + 1, size - 1, data[0] >> 4);

  mux_free(h.m);
  CHECK(h.live == 0);
  return 0;
}
