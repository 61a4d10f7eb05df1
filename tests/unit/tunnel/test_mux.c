/*
 * The multiplexer, end to end: a relay mux and a connector mux wired
 * together through in-memory queues.  Each side's send_cb appends to its
 * queue; pump() feeds each queue to the other side, whole, one byte at a
 * time or in random splits, until both are empty.  Hand-made frames are
 * fed to one side to play a misbehaving peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <malloc.h>

#include "common/err.h"
#include "common/log.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/mux_int.h"

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

static enum split split_mode = SPLIT_WHOLE;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

struct queue {
  uint8_t *p;
  size_t len, cap;
};

static void q_append(struct queue *q, const void *p, size_t n) {
  if (q->len + n > q->cap) {
    q->cap = (q->len + n) * 2;
    q->p = realloc(q->p, q->cap);
    assert_non_null(q->p);
  }
  if (n > 0)
    memcpy(q->p + q->len, p, n);
  q->len += n;
}

/* What one side's application knows about one of its streams. */
struct app_stream {
  struct mux_stream *s; /* NULL once closed */
  uint32_t id;
  int hold;       /* do not report bytes as consumed */
  size_t held;    /* received and not yet consumed */
  uint64_t got;   /* bytes received */
  uint32_t hash;  /* FNV-1a of the bytes received */
  unsigned datas; /* on_data_cb calls */
  int fin, writable, closed, result_seen;
  uint32_t reset_code, result;
  enum mux_end end;
  uint32_t end_code;
  uint64_t bytes_in, bytes_out; /* as the mux counted them at the end */
  int reset_on_data;            /* re-entrancy: mux_reset from on_data_cb */
  int echo;                     /* re-entrancy: write back what arrives */
  int fin_on_fin;               /* answer FIN with FIN from on_fin_cb */
};

enum answer { ANSWER_OK, ANSWER_REFUSE, ANSWER_LATER };

struct side {
  struct mux *m;
  struct queue out; /* what this side sent: the peer's input */
  struct app_stream *pool;
  size_t pool_len, pool_cap;
  enum answer answer; /* connector: how on_open_cb answers */
  struct app_stream *last_opened;
  int hold_new, fin_on_fin_new;
  int hello, dead, dead_err, goaways, certs, free_in_data, fail_send;
  uint32_t goaway_code, goaway_last;
  unsigned closed;
};

static struct app_stream *app_new(struct side *sd) {
  struct app_stream *a;

  assert_true(sd->pool_len < sd->pool_cap);
  a = &sd->pool[sd->pool_len++];
  memset(a, 0, sizeof(*a));
  a->hash = 2166136261u;
  a->hold = sd->hold_new;
  a->fin_on_fin = sd->fin_on_fin_new;
  return a;
}

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

static int send_cb(void *ctx, const struct mux_piece *pc, size_t n) {
  struct side *sd = ctx;
  size_t i;

  if (sd->fail_send)
    return SP_EIO;
  assert_true(n >= 1 && n <= MUX_SEND_PIECES_MAX);
  for (i = 0; i < n; i++)
    q_append(&sd->out, pc[i].p, pc[i].len);
  return 0;
}

static void on_hello(void *ctx, const struct tunnel_frame_hello *h) {
  ((struct side *)ctx)->hello++;
}

static void on_open(void *ctx, struct mux_stream *s,
                    const struct tunnel_frame *f) {
  struct side *sd = ctx;
  struct app_stream *a = app_new(sd);

  assert_int_equal(f->type, TUNNEL_OPEN);
  assert_int_equal(f->u.open.user.len, 5);
  a->s = s;
  a->id = mux_stream_id(s);
  mux_stream_set_user(s, a);
  sd->last_opened = a;
  if (sd->answer == ANSWER_OK)
    assert_int_equal(mux_open_result(s, TUNNEL_RESULT_OK, "10.20.0.5:443"), 0);
  else if (sd->answer == ANSWER_REFUSE)
    assert_int_equal(mux_open_result(s, TUNNEL_RESULT_NOT_ALLOWED, NULL), 0);
}

static void on_open_result(void *ctx, struct mux_stream *s,
                           enum tunnel_result result, struct tunnel_str addr) {
  struct app_stream *a = mux_stream_user(s);

  a->result_seen = 1;
  a->result = result;
  if (result == TUNNEL_RESULT_OK)
    assert_int_equal(addr.len, strlen("10.20.0.5:443"));
}

static void on_data(void *ctx, struct mux_stream *s,
                    const struct mux_piece *pieces, size_t n) {
  struct side *sd = ctx;
  struct app_stream *a = mux_stream_user(s);
  size_t i, total = 0;

  assert_true(n >= 1 && n <= MUX_DATA_PIECES_MAX);
  a->datas++;
  for (i = 0; i < n; i++) {
    assert_true(pieces[i].len > 0);
    total += pieces[i].len;
    a->hash = fnv(a->hash, pieces[i].p, pieces[i].len);
    if (a->echo)
      assert_int_equal(mux_write(s, pieces[i].p, pieces[i].len),
                       (int)pieces[i].len);
  }
  a->got += total;
  if (!a->hold)
    assert_int_equal(mux_consumed(s, total), 0);
  else
    a->held += total;
  if (a->reset_on_data) {
    assert_int_equal(mux_reset(s, TUNNEL_RESET_CANCEL), 0);
    assert_int_equal(mux_stream_state(s), MUX_STREAM_CLOSED);
    assert_int_equal(mux_write(s, "x", 1), SP_ECLOSED);
  }
  if (sd->free_in_data) {
    mux_free(sd->m);
    sd->m = NULL;
  }
}

static void on_fin(void *ctx, struct mux_stream *s) {
  struct app_stream *a = mux_stream_user(s);

  a->fin = 1;
  if (a->fin_on_fin)
    assert_int_equal(mux_fin(s), 0);
}

static void on_writable(void *ctx, struct mux_stream *s) {
  ((struct app_stream *)mux_stream_user(s))->writable++;
}

static void on_reset(void *ctx, struct mux_stream *s, uint32_t code) {
  ((struct app_stream *)mux_stream_user(s))->reset_code = code;
}

static void on_closed(void *ctx, struct mux_stream *s) {
  struct side *sd = ctx;
  struct app_stream *a = mux_stream_user(s);

  assert_int_equal(mux_stream_state(s), MUX_STREAM_CLOSED);
  assert_false(a->closed);
  a->closed = 1;
  a->end = mux_stream_end(s, &a->end_code);
  a->bytes_in = mux_stream_bytes_in(s);
  a->bytes_out = mux_stream_bytes_out(s);
  a->s = NULL;
  sd->closed++;
}

static void on_goaway(void *ctx, const struct tunnel_frame_goaway *g) {
  struct side *sd = ctx;

  sd->goaways++;
  sd->goaway_code = g->code;
  sd->goaway_last = g->last_stream;
}

static void on_cert(void *ctx, const struct tunnel_frame *f) {
  ((struct side *)ctx)->certs++;
}

static void on_dead(void *ctx, int err) {
  struct side *sd = ctx;

  sd->dead++;
  sd->dead_err = err;
}

static const struct mux_callbacks callbacks = {
    .send_cb = send_cb,
    .on_hello_cb = on_hello,
    .on_open_cb = on_open,
    .on_open_result_cb = on_open_result,
    .on_data_cb = on_data,
    .on_fin_cb = on_fin,
    .on_writable_cb = on_writable,
    .on_reset_cb = on_reset,
    .on_stream_closed_cb = on_closed,
    .on_goaway_cb = on_goaway,
    .on_cert_cb = on_cert,
    .on_dead_cb = on_dead,
};

struct pair {
  struct side relay, conn;
};

static void side_init(struct side *sd, const struct mux_config *cfg,
                      size_t pool) {
  memset(sd, 0, sizeof(*sd));
  sd->pool_cap = pool;
  sd->pool = calloc(pool, sizeof(*sd->pool));
  assert_non_null(sd->pool);
  assert_int_equal(mux_new(cfg, &callbacks, sd, &sd->m), 0);
  assert_int_equal(mux_start(sd->m, 1000), 0);
}

static void side_free(struct side *sd) {
  mux_free(sd->m);
  free(sd->out.p);
  free(sd->pool);
}

/* Hands everything `from` sent to `to`, split as split_mode says. */
static int move(struct side *from, struct side *to) {
  struct queue q = from->out;
  size_t off = 0, k;
  int rc = 0;

  memset(&from->out, 0, sizeof(from->out));
  while (off < q.len && rc == 0 && to->m != NULL) {
    k = q.len - off;
    if (split_mode == SPLIT_BYTES)
      k = 1;
    else if (split_mode == SPLIT_RANDOM)
      k = 1 + rng() % (k < 40000 ? k : 40000);
    rc = mux_feed(to->m, q.p + off, k);
    off += k;
  }
  free(q.p);
  return rc;
}

static void pump(struct pair *p) {
  while (p->relay.out.len > 0 || p->conn.out.len > 0) {
    assert_int_equal(move(&p->relay, &p->conn), 0);
    assert_int_equal(move(&p->conn, &p->relay), 0);
  }
}

static void default_config(struct mux_config *c, enum tunnel_role role) {
  memset(c, 0, sizeof(*c));
  c->role = role;
  c->name = role == TUNNEL_ROLE_RELAY ? "relay.example.com" : "paris-office";
  c->software = "sallyport 0.1.0";
  c->tid = role;
}

/* Two sides after the HELLO exchange, with optional config changes. */
static void pair_up_with(struct pair *p, const struct mux_config *rc,
                         const struct mux_config *cc, size_t pool) {
  side_init(&p->relay, rc, pool);
  side_init(&p->conn, cc, pool);
  pump(p);
  assert_int_equal(p->relay.hello, 1);
  assert_int_equal(p->conn.hello, 1);
}

static void pair_up_with_pool(struct pair *p, size_t pool) {
  struct mux_config rc, cc;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  rc.peer_name = "paris-office";
  pair_up_with(p, &rc, &cc, pool);
}

static void pair_up(struct pair *p) {
  pair_up_with_pool(p, 64);
}

static void pair_free(struct pair *p) {
  side_free(&p->relay);
  side_free(&p->conn);
}

static struct app_stream *open_stream(struct pair *p) {
  struct mux_open_args args = {
      .dest = "wiki.corp:443",
      .user = "alice",
      .resource = "wiki",
      .rule = "engineers-wiki",
      .device = "laptop-42",
      .client = "81.2.69.160:51234",
      .expires = 1796288400,
  };
  struct app_stream *a = app_new(&p->relay);

  assert_int_equal(mux_open(p->relay.m, &args, a, &a->s), 0);
  a->id = mux_stream_id(a->s);
  return a;
}

/* The connector's record of the relay stream `a`. */
static struct app_stream *peer_of(struct pair *p, const struct app_stream *a) {
  size_t i;

  for (i = 0; i < p->conn.pool_len; i++)
    if (p->conn.pool[i].id == a->id)
      return &p->conn.pool[i];
  fail_msg("no connector stream %u", a->id);
  return NULL;
}

/* Feeds one hand-made frame to `sd`, as a misbehaving peer would. */
static int inject(struct side *sd, const struct tunnel_frame *f) {
  uint8_t buf[TUNNEL_FRAME_MAX];
  size_t n;

  assert_int_equal(tunnel_frame_encode(f, buf, sizeof(buf), &n), 0);
  return mux_feed(sd->m, buf, n);
}

/* The last frame `sd` sent, decoded (borrowing from its queue). */
static void last_frame(struct side *sd, struct tunnel_frame *f) {
  size_t off = 0, used;

  assert_true(sd->out.len > 0);
  while (off < sd->out.len) {
    assert_int_equal(
        tunnel_frame_decode(sd->out.p + off, sd->out.len - off, f, &used, NULL),
        0);
    off += used;
  }
}

static void drop_output(struct side *sd) {
  sd->out.len = 0;
}

/* HELLO both ways, OPEN and an ok result, a little data, FIN both ways. */
static void basic_exchange(void) {
  struct app_stream *a, *b;
  struct pair p;

  pair_up(&p);
  assert_string_equal(mux_peer_name(p.relay.m), "paris-office");
  assert_string_equal(mux_peer_software(p.conn.m), "sallyport 0.1.0");
  assert_int_equal(mux_version(p.relay.m), 1);
  assert_int_equal(mux_streams_left(p.relay.m), MUX_DEFAULT_MAX_STREAMS);

  a = open_stream(&p);
  assert_ptr_equal(mux_stream_mux(a->s), p.relay.m);
  assert_int_equal(mux_stream_state(a->s), MUX_STREAM_OPENING);
  assert_int_equal(mux_write(a->s, "x", 1), SP_EUSAGE);
  pump(&p);
  b = peer_of(&p, a);
  assert_true(a->result_seen);
  assert_int_equal(a->result, TUNNEL_RESULT_OK);
  assert_int_equal(mux_window(a->s), TUNNEL_INITIAL_WINDOW);

  assert_int_equal(mux_write(a->s, "GET / HTTP/1.0\r\n\r\n", 18), 18);
  assert_int_equal(mux_write(b->s, "HTTP/1.0 200 OK\r\n", 17), 17);
  assert_int_equal(mux_fin(b->s), 0);
  pump(&p);
  assert_int_equal(b->got, 18);
  assert_int_equal(a->got, 17);
  assert_true(a->fin);
  assert_int_equal(mux_stream_state(a->s), MUX_STREAM_REMOTE_FIN);
  assert_int_equal(mux_fin(a->s), 0);
  assert_true(a->closed);
  pump(&p);
  assert_true(b->fin && b->closed);
  assert_int_equal(a->end, MUX_END_FIN);
  assert_int_equal(b->end, MUX_END_FIN);
  assert_int_equal(a->bytes_out, 18);
  assert_int_equal(a->bytes_in, 17);
  assert_int_equal(mux_stats(p.relay.m)->bytes_out,
                   mux_stats(p.conn.m)->bytes_in);
  assert_int_equal(mux_stats(p.conn.m)->streams_active, 0);
  pair_free(&p);
}

static void test_basic_whole(void **state) {
  split_mode = SPLIT_WHOLE;
  basic_exchange();
}

static void test_basic_bytes(void **state) {
  split_mode = SPLIT_BYTES;
  basic_exchange();
  split_mode = SPLIT_WHOLE;
}

static void test_basic_random(void **state) {
  int i;

  split_mode = SPLIT_RANDOM;
  for (i = 0; i < 20; i++)
    basic_exchange();
  split_mode = SPLIT_WHOLE;
}

static void test_refused_and_later(void **state) {
  struct app_stream *a, *b;
  struct pair p;

  pair_up(&p);
  p.conn.answer = ANSWER_REFUSE;
  a = open_stream(&p);
  pump(&p);
  assert_true(a->result_seen && a->closed);
  assert_int_equal(a->result, TUNNEL_RESULT_NOT_ALLOWED);
  assert_int_equal(a->end, MUX_END_REFUSED);
  assert_int_equal(a->end_code, TUNNEL_RESULT_NOT_ALLOWED);
  assert_true(peer_of(&p, a)->closed);

  /* An answer given later, outside any callback. */
  p.conn.answer = ANSWER_LATER;
  a = open_stream(&p);
  pump(&p);
  b = p.conn.last_opened;
  assert_false(a->result_seen);
  assert_int_equal(mux_open_result(b->s, TUNNEL_RESULT_OK, ""), SP_EUSAGE);
  assert_int_equal(mux_open_result(b->s, TUNNEL_RESULT_OK, "10.20.0.5:443"), 0);
  assert_int_equal(mux_open_result(b->s, TUNNEL_RESULT_OK, "10.20.0.5:443"),
                   SP_EUSAGE);
  pump(&p);
  assert_true(a->result_seen);

  /* A connector may refuse with RESET limit instead of a result. */
  a = open_stream(&p);
  pump(&p);
  assert_int_equal(mux_reset(p.conn.last_opened->s, TUNNEL_RESET_LIMIT), 0);
  assert_true(p.conn.last_opened->closed);
  pump(&p);
  assert_true(a->closed);
  assert_int_equal(a->reset_code, TUNNEL_RESET_LIMIT);
  assert_false(a->result_seen);
  pair_free(&p);
}

/* Writes `len` bytes of `src` on each stream, both ways, pumping. */
struct flow {
  struct mux_stream *s;
  const uint8_t *src;
  size_t len, pos;
  uint32_t hash;
};

static void run_flows(struct pair *p, struct flow *f, size_t nf) {
  size_t i, left, want;
  int k, busy = 1;

  while (busy) {
    busy = 0;
    for (i = 0; i < nf; i++) {
      left = f[i].len - f[i].pos;
      if (left == 0)
        continue;
      busy = 1;
      want = 1 + rng() % 70000;
      k = mux_write(f[i].s, f[i].src + f[i].pos, want < left ? want : left);
      assert_true(k >= 0);
      f[i].hash = fnv(f[i].hash, f[i].src + f[i].pos, (size_t)k);
      f[i].pos += (size_t)k;
    }
    pump(p);
  }
}

static void test_data_checksums(void **state) {
  enum { STREAMS = 4, LEN = 1024 * 1024 };
  struct app_stream *a[STREAMS], *b[STREAMS];
  struct flow f[2 * STREAMS];
  uint8_t *src = malloc(LEN + 4096);
  struct pair p;
  size_t i;

  assert_non_null(src);
  for (i = 0; i < LEN + 4096; i++)
    src[i] = (uint8_t)rng();
  split_mode = SPLIT_RANDOM;
  pair_up(&p);
  for (i = 0; i < STREAMS; i++)
    a[i] = open_stream(&p);
  pump(&p);
  for (i = 0; i < STREAMS; i++) {
    b[i] = peer_of(&p, a[i]);
    f[2 * i] = (struct flow){a[i]->s, src + i * 512, LEN, 0, 2166136261u};
    f[2 * i + 1] = (struct flow){b[i]->s, src + i * 777, LEN, 0, 2166136261u};
  }
  run_flows(&p, f, 2 * STREAMS);

  for (i = 0; i < STREAMS; i++) {
    assert_int_equal(b[i]->got, LEN);
    assert_int_equal(a[i]->got, LEN);
    assert_int_equal(b[i]->hash, f[2 * i].hash);
    assert_int_equal(a[i]->hash, f[2 * i + 1].hash);
    assert_int_equal(mux_fin(a[i]->s), 0);
    assert_int_equal(mux_fin(b[i]->s), 0);
  }
  pump(&p);
  assert_int_equal(p.relay.closed, STREAMS);
  assert_int_equal(p.conn.closed, STREAMS);
  assert_int_equal(mux_stats(p.relay.m)->data_out, STREAMS * LEN);
  assert_int_equal(mux_stats(p.conn.m)->data_in, STREAMS * LEN);
  split_mode = SPLIT_WHOLE;
  pair_free(&p);
  free(src);
}

/* Two pairs with a 64 KiB window; the connector side of `a` never reads. */
static void test_flow_control(void **state) {
  enum { WIN = 64 * 1024, MB = 1024 * 1024 };
  static uint8_t big[MB];
  struct app_stream *a, *b, *ca, *cb;
  struct mux_config rc, cc;
  struct flow f;
  struct pair p;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  rc.initial_window = cc.initial_window = WIN;
  pair_up_with(&p, &rc, &cc, 16);
  a = open_stream(&p);
  b = open_stream(&p);
  pump(&p);
  ca = peer_of(&p, a);
  cb = peer_of(&p, b);
  ca->hold = 1;

  /* The stalled stream stops at exactly its window. */
  assert_int_equal(mux_write(a->s, big, sizeof(big)), WIN);
  assert_int_equal(mux_write(a->s, big, 1), 0);
  assert_int_equal(mux_window(a->s), 0);
  pump(&p);
  assert_int_equal(ca->got, WIN);

  /* Meanwhile the other stream on the same tunnel moves a MiB. */
  f = (struct flow){b->s, big, sizeof(big), 0, 2166136261u};
  run_flows(&p, &f, 1);
  assert_int_equal(cb->got, MB);
  assert_int_equal(ca->got, WIN);
  assert_int_equal(a->writable, 0);
  assert_int_equal(mux_window(a->s), 0);

  /* Less than half the window forwarded grants nothing yet. */
  assert_int_equal(mux_consumed(ca->s, WIN + 1), SP_EUSAGE);
  assert_int_equal(mux_consumed(ca->s, WIN / 2 - 1), 0);
  pump(&p);
  assert_int_equal(a->writable, 0);
  assert_int_equal(mux_consumed(ca->s, 1), 0);
  pump(&p);
  assert_int_equal(a->writable, 1);
  assert_int_equal(mux_window(a->s), WIN / 2);
  assert_int_equal(mux_write(a->s, big, sizeof(big)), WIN / 2);
  pump(&p);
  assert_int_equal(ca->got, WIN + WIN / 2);
  pair_free(&p);
}

static void test_half_close(void **state) {
  struct app_stream *a, *b;
  struct pair p;

  pair_up(&p);

  /* The relay finishes first; the connector still answers. */
  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  assert_int_equal(mux_fin(a->s), 0);
  assert_int_equal(mux_stream_state(a->s), MUX_STREAM_LOCAL_FIN);
  assert_int_equal(mux_write(a->s, "x", 1), SP_EUSAGE);
  assert_int_equal(mux_fin(a->s), SP_EUSAGE);
  pump(&p);
  assert_true(b->fin);
  assert_int_equal(mux_write(b->s, "late reply", 10), 10);
  assert_int_equal(mux_fin(b->s), 0);
  assert_true(b->closed);
  pump(&p);
  assert_int_equal(a->got, 10);
  assert_true(a->fin && a->closed);

  /* The connector finishes first; the relay still sends. */
  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  assert_int_equal(mux_fin(b->s), 0);
  pump(&p);
  assert_true(a->fin);
  assert_int_equal(mux_write(a->s, "more", 4), 4);
  assert_int_equal(mux_fin(a->s), 0);
  pump(&p);
  assert_int_equal(b->got, 4);
  assert_true(a->closed && b->closed);
  assert_int_equal(p.relay.closed, 2);
  assert_int_equal(p.conn.closed, 2);
  pair_free(&p);
}

static void test_reset_both_ways(void **state) {
  struct app_stream *a, *b;
  struct pair p;

  pair_up(&p);
  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  assert_int_equal(mux_reset(a->s, 99), SP_EUSAGE);
  assert_int_equal(mux_reset(a->s, TUNNEL_RESET_REVOKED), 0);
  /* Outside a callback the stream is reaped before mux_reset returns. */
  assert_true(a->closed);
  assert_int_equal(a->end, MUX_END_LOCAL_RESET);
  pump(&p);
  assert_true(b->closed);
  assert_int_equal(b->reset_code, TUNNEL_RESET_REVOKED);
  assert_int_equal(b->end, MUX_END_REMOTE_RESET);

  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  assert_int_equal(mux_write(a->s, "abc", 3), 3);
  assert_int_equal(mux_reset(b->s, TUNNEL_RESET_CANCEL), 0);
  /* Frames that crossed the RESET are ignored at the connector. */
  pump(&p);
  assert_int_equal(b->got, 0);
  assert_true(a->closed);
  assert_int_equal(a->reset_code, TUNNEL_RESET_CANCEL);
  assert_int_equal(mux_stats(p.relay.m)->resets_in, 1);
  assert_int_equal(mux_stats(p.relay.m)->resets_out, 1);
  pair_free(&p);
}

static void data_frame(struct tunnel_frame *f, uint32_t id, const void *p,
                       size_t n, int fin) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_DATA;
  f->stream = id;
  f->flags = fin ? TUNNEL_FLAG_FIN : 0;
  f->u.data.p = p;
  f->u.data.len = n;
}

/* A peer that overruns a window loses that stream, not the tunnel. */
static void test_window_violation(void **state) {
  static uint8_t junk[2000];
  struct app_stream *a, *b, *c;
  struct mux_config rc, cc;
  struct tunnel_frame f;
  struct pair p;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  cc.initial_window = 1000;
  pair_up_with(&p, &rc, &cc, 16);
  a = open_stream(&p);
  c = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  assert_int_equal(mux_window(a->s), 1000);

  data_frame(&f, a->id, junk, 1001, 0);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->closed);
  assert_int_equal(b->got, 0);
  assert_int_equal(b->end, MUX_END_LOCAL_RESET);
  assert_int_equal(b->end_code, TUNNEL_RESET_FLOW_CONTROL);
  pump(&p);
  assert_int_equal(a->reset_code, TUNNEL_RESET_FLOW_CONTROL);

  /* A WINDOW_UPDATE past 2^31 - 1 is the same stream error. */
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_WINDOW_UPDATE;
  f.stream = c->id;
  f.u.window_increment = TUNNEL_WINDOW_MAX;
  assert_int_equal(inject(&p.conn, &f), 0);
  pump(&p);
  assert_int_equal(c->reset_code, TUNNEL_RESET_FLOW_CONTROL);

  /* Late frames for the closed ids are ignored; the tunnel lives on. */
  data_frame(&f, a->id, junk, 10, 1);
  assert_int_equal(inject(&p.conn, &f), 0);
  a = open_stream(&p);
  pump(&p);
  assert_int_equal(mux_write(a->s, junk, sizeof(junk)), 1000);
  pump(&p);
  assert_int_equal(peer_of(&p, a)->got, 1000);
  pair_free(&p);
}

/* DATA before the result, after FIN, or for an id never opened. */
static void test_stream_rules(void **state) {
  struct app_stream *a, *b;
  struct tunnel_frame f;
  struct pair p;

  pair_up(&p);
  p.conn.answer = ANSWER_LATER;
  a = open_stream(&p);
  pump(&p);
  b = p.conn.last_opened;
  data_frame(&f, a->id, "x", 1, 0);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->closed);
  assert_int_equal(b->end_code, TUNNEL_RESET_PROTOCOL);
  pump(&p);
  assert_true(a->closed);

  p.conn.answer = ANSWER_OK;
  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  data_frame(&f, a->id, NULL, 0, 1);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->fin);
  data_frame(&f, a->id, "x", 1, 0);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_int_equal(b->end_code, TUNNEL_RESET_PROTOCOL);
  drop_output(&p.conn);

  data_frame(&f, 999, "x", 1, 0);
  assert_int_equal(inject(&p.conn, &f), SP_EPROTO);
  last_frame(&p.conn, &f);
  assert_int_equal(f.type, TUNNEL_GOAWAY);
  assert_int_equal(f.u.goaway.code, TUNNEL_GOAWAY_PROTOCOL);
  assert_memory_equal(f.u.goaway.detail.p, "unknown_stream", 14);
  pair_free(&p);
}

/* Checks that `sd` answered with GOAWAY protocol_error and `detail`. */
static void expect_goaway(struct side *sd, uint32_t code, const char *detail) {
  struct tunnel_frame f;

  last_frame(sd, &f);
  assert_int_equal(f.type, TUNNEL_GOAWAY);
  assert_int_equal(f.u.goaway.code, code);
  assert_int_equal(f.u.goaway.detail.len, strlen(detail));
  assert_memory_equal(f.u.goaway.detail.p, detail, strlen(detail));
}

static void test_malformed(void **state) {
  static const uint8_t zeros[8];
  static const uint8_t huge[8] = {TUNNEL_DATA, 0, 0xff, 0xff, 0, 0, 0, 1};
  struct pair p;
  size_t i;

  pair_up(&p);
  assert_int_equal(mux_feed(p.conn.m, zeros, sizeof(zeros)), SP_EPROTO);
  expect_goaway(&p.conn, TUNNEL_GOAWAY_PROTOCOL, "unknown_type");
  assert_int_equal(mux_feed(p.conn.m, zeros, 1), SP_EPROTO);
  pump(&p);
  assert_int_equal(p.relay.goaways, 1);
  assert_int_equal(p.relay.goaway_code, TUNNEL_GOAWAY_PROTOCOL);
  pair_free(&p);

  /* An oversized header is refused at its eighth byte. */
  pair_up(&p);
  for (i = 0; i < 7; i++)
    assert_int_equal(mux_feed(p.relay.m, huge + i, 1), 0);
  assert_int_equal(mux_feed(p.relay.m, huge + 7, 1), SP_EPROTO);
  expect_goaway(&p.relay, TUNNEL_GOAWAY_PROTOCOL, "oversized");
  pair_free(&p);
}

static void hello_frame(struct tunnel_frame *f, uint8_t role,
                        const char *name) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_HELLO;
  f->u.hello.version = 7;
  f->u.hello.role = role;
  f->u.hello.max_streams = 10;
  f->u.hello.name = tunnel_frame_str(name);
}

/* One fresh relay fed `f` after an optional connector HELLO. */
static void relay_refuses(const struct tunnel_frame *first,
                          const struct tunnel_frame *f, const char *detail) {
  struct mux_config rc;
  struct side sd;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  rc.peer_name = "paris-office";
  side_init(&sd, &rc, 4);
  if (first != NULL)
    assert_int_equal(inject(&sd, first), 0);
  assert_int_equal(inject(&sd, f), SP_EPROTO);
  expect_goaway(&sd, TUNNEL_GOAWAY_PROTOCOL, detail);
  side_free(&sd);
}

static void test_tunnel_rules(void **state) {
  struct tunnel_frame hello, f;

  hello_frame(&hello, TUNNEL_ROLE_CONNECTOR, "paris-office");
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_PING;
  relay_refuses(NULL, &f, "frame_before_hello");
  relay_refuses(&hello, &hello, "second_hello");
  hello_frame(&f, TUNNEL_ROLE_RELAY, "paris-office");
  relay_refuses(NULL, &f, "wrong_role");
  hello_frame(&f, TUNNEL_ROLE_CONNECTOR, "lyon-office");
  relay_refuses(NULL, &f, "wrong_name");

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_OPEN;
  f.stream = 1;
  f.u.open.dest = tunnel_frame_str("a:1");
  f.u.open.user = f.u.open.resource = f.u.open.rule = tunnel_frame_str("x");
  f.u.open.client = tunnel_frame_str("1.2.3.4:5");
  relay_refuses(&hello, &f, "wrong_sender");
}

static void raw_open(struct tunnel_frame *f, uint32_t id) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_OPEN;
  f->stream = id;
  f->u.open.window = 100;
  f->u.open.dest = tunnel_frame_str("wiki.corp:443");
  f->u.open.user = tunnel_frame_str("alice");
  f->u.open.resource = f->u.open.rule = tunnel_frame_str("wiki");
  f->u.open.client = tunnel_frame_str("1.2.3.4:5");
}

/* Ids must rise; OPENs over the limit or after GOAWAY get RESET limit. */
static void test_open_limits(void **state) {
  struct app_stream *a;
  struct mux_config rc, cc;
  struct tunnel_frame f;
  struct pair p;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  cc.max_streams = 2;
  pair_up_with(&p, &rc, &cc, 16);
  assert_int_equal(mux_streams_left(p.relay.m), 2);
  a = open_stream(&p);
  open_stream(&p);
  assert_int_equal(mux_streams_left(p.relay.m), 0);
  pump(&p);

  raw_open(&f, 3);
  assert_int_equal(inject(&p.conn, &f), 0);
  last_frame(&p.conn, &f);
  assert_int_equal(f.type, TUNNEL_RESET);
  assert_int_equal(f.stream, 3);
  assert_int_equal(f.u.reset_code, TUNNEL_RESET_LIMIT);
  assert_int_equal(mux_stats(p.conn.m)->streams_refused, 1);
  drop_output(&p.conn);

  /* A graceful GOAWAY stops new streams; the old ones carry on. */
  assert_int_equal(mux_goaway(p.conn.m, TUNNEL_GOAWAY_SHUTDOWN, "drain"), 0);
  pump(&p);
  assert_int_equal(p.relay.goaways, 1);
  assert_int_equal(p.relay.goaway_last, 3);
  assert_int_equal(mux_reset(a->s, TUNNEL_RESET_CANCEL), 0);
  assert_int_equal(mux_streams_left(p.relay.m), 0);
  assert_int_equal(mux_write(p.relay.pool[1].s, "hi", 2), 2);
  pump(&p);
  assert_int_equal(p.conn.pool[1].got, 2);

  raw_open(&f, 2);
  assert_int_equal(inject(&p.conn, &f), SP_EPROTO);
  expect_goaway(&p.conn, TUNNEL_GOAWAY_PROTOCOL, "stream_id_not_increasing");
  pair_free(&p);
}

/* A relay whose budget is short: smaller windows first, then refusals. */
static void budget_pair(struct pair *p, uint32_t max_streams, uint64_t budget) {
  struct mux_config rc, cc;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  rc.initial_window = 32 * 1024;
  rc.budget = budget;
  cc.max_streams = max_streams;
  pair_up_with(p, &rc, &cc, 16);
}

/* The window the connector may use on the relay's stream `a`. */
static size_t granted(struct pair *p, struct app_stream *a) {
  pump(p);
  return mux_window(peer_of(p, a)->s);
}

static void test_budget(void **state) {
  struct mux_open_args args = {"wiki.corp:443", "alice", "wiki", "r", NULL,
                               "1.2.3.4:5",     0};
  struct app_stream *a, *b;
  struct mux_stream *s;
  struct pair p;

  /* 16 KiB stays in reserve for the second stream the connector allows. */
  budget_pair(&p, 2, 48 * 1024);
  a = open_stream(&p);
  b = open_stream(&p);
  assert_int_equal(granted(&p, a), 32 * 1024);
  assert_int_equal(granted(&p, b), 16 * 1024);
  assert_int_equal(mux_reset(b->s, TUNNEL_RESET_CANCEL), 0);
  assert_int_equal(granted(&p, open_stream(&p)), 16 * 1024);
  pair_free(&p);

  /* A budget below max streams times 16 KiB refuses the third stream. */
  budget_pair(&p, 3, 40 * 1024);
  a = open_stream(&p);
  b = open_stream(&p);
  assert_int_equal(mux_open(p.relay.m, &args, NULL, &s), SP_ELIMIT);
  assert_int_equal(granted(&p, a), 16 * 1024);
  assert_int_equal(granted(&p, b), 16 * 1024);
  assert_int_equal(mux_reset(a->s, TUNNEL_RESET_CANCEL), 0);
  args.client = "not an address\x01";
  assert_int_equal(mux_open(p.relay.m, &args, NULL, &s), SP_EUSAGE);
  assert_int_equal(granted(&p, open_stream(&p)), 16 * 1024);
  pair_free(&p);
}

/* With the defaults a connector's 1024 streams all fit the budget. */
static void test_default_budget(void **state) {
  struct pair p;
  size_t i;

  split_mode = SPLIT_WHOLE;
  pair_up_with_pool(&p, 1100);
  for (i = 0; i < MUX_DEFAULT_MAX_STREAMS; i++)
    open_stream(&p);
  pump(&p);
  assert_int_equal(mux_stats(p.conn.m)->streams_active,
                   MUX_DEFAULT_MAX_STREAMS);
  assert_int_equal(mux_streams_left(p.relay.m), 0);
  assert_int_equal(mux_window(p.conn.pool[0].s), TUNNEL_INITIAL_WINDOW);
  assert_int_equal(mux_window(p.conn.pool[1023].s), MUX_MIN_WINDOW);
  assert_true(p.relay.m->budget_used <= MUX_DEFAULT_BUDGET);
  assert_true(p.conn.m->budget_used <= MUX_DEFAULT_BUDGET);
  pair_free(&p);
}

static void test_ping(void **state) {
  struct tunnel_frame f;
  struct pair p;

  pair_up(&p);
  mux_tick(p.relay.m, 1000);
  mux_tick(p.relay.m, 1000 + TUNNEL_PING_INTERVAL_MS - 1);
  assert_int_equal(p.relay.out.len, 0);
  mux_tick(p.relay.m, 1000 + TUNNEL_PING_INTERVAL_MS);
  last_frame(&p.relay, &f);
  assert_int_equal(f.type, TUNNEL_PING);
  assert_int_equal(f.flags, 0);

  /* The connector answers with ACK; the answer is a sign of life. */
  assert_int_equal(move(&p.relay, &p.conn), 0);
  last_frame(&p.conn, &f);
  assert_int_equal(f.type, TUNNEL_PING);
  assert_int_equal(f.flags, TUNNEL_FLAG_ACK);
  pump(&p);
  assert_int_equal(mux_stats(p.relay.m)->pings_acked, 1);
  mux_tick(p.relay.m, 7000);

  /* Then silence: pings every interval, dead after the timeout. */
  mux_tick(p.relay.m, 7000 + TUNNEL_PING_INTERVAL_MS);
  mux_tick(p.relay.m, 7000 + 2 * TUNNEL_PING_INTERVAL_MS);
  assert_int_equal(mux_stats(p.relay.m)->pings_out, 3);
  assert_int_equal(p.relay.dead, 0);
  mux_tick(p.relay.m, 7000 + TUNNEL_PING_TIMEOUT_MS);
  assert_int_equal(p.relay.dead, 1);
  assert_int_equal(p.relay.dead_err, SP_ETIMEOUT);
  mux_tick(p.relay.m, 7000 + 2 * TUNNEL_PING_TIMEOUT_MS);
  assert_int_equal(p.relay.dead, 1);
  assert_int_equal(mux_feed(p.relay.m, (const uint8_t *)"x", 1), SP_ETIMEOUT);
  pair_free(&p);
}

static void test_hello_timeout(void **state) {
  struct mux_config cc;
  struct side sd;

  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  side_init(&sd, &cc, 4);
  drop_output(&sd);
  mux_tick(sd.m, 1000 + MUX_HELLO_TIMEOUT_MS - 1);
  assert_int_equal(sd.dead, 0);
  mux_tick(sd.m, 1000 + MUX_HELLO_TIMEOUT_MS);
  assert_int_equal(sd.dead, 1);
  expect_goaway(&sd, TUNNEL_GOAWAY_TIMED_OUT, "no_hello");
  side_free(&sd);
}

/*
 * Consecutive DATA frames of one stream in one feed reach the owner in
 * one on_data_cb, at most MUX_DATA_PIECES_MAX pieces; another stream's
 * frame between them, or a feed that ends, splits the run; a large
 * mux_write leaves in one send_cb.
 */
static void test_data_runs(void **state) {
  static uint8_t big[4 * MUX_DEFAULT_MAX_DATA];
  struct app_stream *a, *b, *c, *d;
  uint64_t frames;
  uint32_t hash;
  struct pair p;
  int i;

  pair_up(&p);
  a = open_stream(&p);
  c = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  d = peer_of(&p, c);

  assert_int_equal(mux_write(a->s, "one", 3), 3);
  assert_int_equal(mux_write(a->s, "two", 3), 3);
  assert_int_equal(mux_write(a->s, "six", 3), 3);
  pump(&p);
  assert_int_equal(b->datas, 1);
  assert_int_equal(b->got, 9);
  assert_int_equal(b->hash, fnv(2166136261u, (const uint8_t *)"onetwosix", 9));

  /* a, c, a: three runs. */
  assert_int_equal(mux_write(a->s, "x", 1), 1);
  assert_int_equal(mux_write(c->s, "y", 1), 1);
  assert_int_equal(mux_write(a->s, "z", 1), 1);
  pump(&p);
  assert_int_equal(b->datas, 3);
  assert_int_equal(d->datas, 1);

  /* Ten frames: a full run and the rest. */
  for (i = 0; i < 10; i++)
    assert_int_equal(mux_write(a->s, "k", 1), 1);
  pump(&p);
  assert_int_equal(b->datas, 5);
  assert_int_equal(b->got, 9 + 2 + 10);

  /* One feed per byte: a run never outlives its input. */
  split_mode = SPLIT_BYTES;
  assert_int_equal(mux_write(a->s, "ab", 2), 2);
  assert_int_equal(mux_write(a->s, "cd", 2), 2);
  pump(&p);
  split_mode = SPLIT_WHOLE;
  assert_int_equal(b->datas, 7);
  assert_int_equal(b->got, 25);

  /* 64 KiB: four frames in one send_cb, one run at the peer. */
  for (i = 0; i < (int)sizeof(big); i++)
    big[i] = (uint8_t)(i * 7);
  frames = mux_stats(p.relay.m)->frames_out;
  assert_int_equal(mux_write(a->s, big, sizeof(big)), (int)sizeof(big));
  assert_int_equal(mux_stats(p.relay.m)->frames_out, frames + 4);
  hash = fnv(b->hash, big, sizeof(big));
  pump(&p);
  assert_int_equal(b->datas, 8);
  assert_int_equal(b->hash, hash);
  pair_free(&p);
}

/* Closing from inside on_data, and mux_free from inside a callback. */
static void test_reentrant(void **state) {
  struct app_stream *a, *b, *c, *d;
  struct tunnel_frame f;
  struct pair p;

  pair_up(&p);
  a = open_stream(&p);
  c = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  d = peer_of(&p, c);
  b->reset_on_data = 1;
  d->echo = 1;

  /* Three DATA frames and a FIN for `a` arrive in one feed. */
  assert_int_equal(mux_write(a->s, "one", 3), 3);
  assert_int_equal(mux_write(c->s, "echo", 4), 4);
  assert_int_equal(mux_write(a->s, "two", 3), 3);
  assert_int_equal(mux_write(a->s, "six", 3), 3);
  assert_int_equal(mux_fin(a->s), 0);
  pump(&p);
  assert_int_equal(b->datas, 1);
  assert_false(b->fin);
  assert_true(b->closed);
  assert_true(a->closed);
  assert_int_equal(a->reset_code, TUNNEL_RESET_CANCEL);
  assert_int_equal(c->got, 4);

  /* Bytes and FIN in one frame: no on_fin_cb once on_data_cb reset it. */
  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  b->reset_on_data = 1;
  data_frame(&f, a->id, "z", 1, 1);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->closed);
  assert_false(b->fin);
  assert_int_equal(b->end, MUX_END_LOCAL_RESET);
  pump(&p);

  /* The owner frees the connector's mux from on_data. */
  p.conn.free_in_data = 1;
  assert_int_equal(mux_write(c->s, "bye", 3), 3);
  assert_int_equal(move(&p.relay, &p.conn), 0);
  assert_null(p.conn.m);
  assert_true(d->closed);
  assert_int_equal(d->end, MUX_END_TUNNEL);
  pair_free(&p);
}

static void test_cert_and_send_failure(void **state) {
  struct tunnel_frame f;
  struct app_stream *a;
  struct pair p;

  pair_up(&p);
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_CERT_RENEW;
  f.u.csr = tunnel_frame_str("-----BEGIN CERTIFICATE REQUEST-----\n");
  assert_int_equal(mux_send_cert(p.relay.m, &f), SP_EUSAGE);
  assert_int_equal(mux_send_cert(p.conn.m, &f), 0);
  pump(&p);
  assert_int_equal(p.relay.certs, 1);

  a = open_stream(&p);
  pump(&p);
  p.relay.fail_send = 1;
  assert_int_equal(mux_write(a->s, "x", 1), SP_EIO);
  p.relay.fail_send = 0;
  assert_int_equal(mux_write(a->s, "x", 1), SP_EIO);
  assert_int_equal(mux_reset(a->s, TUNNEL_RESET_CANCEL), 0);
  assert_true(a->closed);
  pair_free(&p);
}

/* Opens `n` streams at the connector with ids spread out at random. */
static void open_spread(struct pair *p, uint32_t *ids, size_t n, uint32_t *id) {
  struct tunnel_frame f;
  size_t i;

  for (i = 0; i < n; i++) {
    *id += 1 + rng() % 5000;
    ids[i] = *id;
    raw_open(&f, *id);
    assert_int_equal(inject(&p->conn, &f), 0);
  }
  drop_output(&p->conn);
}

/* Resets about half of `n` streams, picked at random. */
static void reset_some(struct pair *p, const uint32_t *ids, int *gone,
                       size_t n) {
  struct tunnel_frame f;
  size_t k, i;

  for (k = 0; k < n; k++) {
    i = rng() % n;
    if (gone[i])
      continue;
    memset(&f, 0, sizeof(f));
    f.type = TUNNEL_RESET;
    f.stream = ids[i];
    f.u.reset_code = TUNNEL_RESET_CANCEL;
    assert_int_equal(inject(&p->conn, &f), 0);
    gone[i] = 1;
  }
}

/*
 * Spread-out ids collide in the id table; removals in random order must
 * keep every other stream reachable (a DATA frame reaches it) and every
 * removed id forgotten (its DATA is ignored as late).
 */
static void test_table_collisions(void **state) {
  enum { N = 4000 };
  static uint32_t ids[N];
  static int gone[N];
  struct mux_config rc, cc;
  struct tunnel_frame f;
  uint32_t id = 0;
  struct pair p;
  size_t i;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  cc.max_streams = N;
  cc.initial_window = MUX_MIN_WINDOW;
  pair_up_with(&p, &rc, &cc, N);
  open_spread(&p, ids, N / 2, &id);
  reset_some(&p, ids, gone, N / 2);
  open_spread(&p, ids + N / 2, N / 2, &id);
  reset_some(&p, ids + N / 2, gone + N / 2, N / 2);
  reset_some(&p, ids, gone, N / 2);

  for (i = 0; i < N; i++) {
    data_frame(&f, ids[i], "x", 1, 0);
    assert_int_equal(inject(&p.conn, &f), 0);
  }
  for (i = 0; i < N; i++) {
    assert_int_equal(p.conn.pool[i].id, ids[i]);
    assert_int_equal(p.conn.pool[i].got, gone[i] ? 0 : 1);
    assert_int_equal(p.conn.pool[i].closed, gone[i]);
  }
  assert_int_equal(mux_stats(p.conn.m)->streams_active, N - p.conn.closed);
  pair_free(&p);
}

/* 10,000 streams at once on one tunnel, opened, used and closed. */
static void test_many_streams(void **state) {
  enum { N = 10000 };
  struct mux_config rc, cc;
  struct mallinfo2 before, after;
  struct pair p;
  size_t i;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  cc.max_streams = N;
  rc.initial_window = cc.initial_window = MUX_MIN_WINDOW;
  rc.budget = cc.budget = (uint64_t)N * MUX_MIN_WINDOW;
  pair_up_with(&p, &rc, &cc, N);
  p.conn.fin_on_fin_new = 1;

  before = mallinfo2();
  for (i = 0; i < N; i++)
    open_stream(&p);
  pump(&p);
  after = mallinfo2();
  print_message("mux: sizeof(struct mux) = %zu, sizeof(struct mux_stream) = "
                "%zu; heap per idle stream and side, table included: %.1f "
                "bytes\n",
                sizeof(struct mux), sizeof(struct mux_stream),
                (double)(after.uordblks - before.uordblks) / (2.0 * N));
  assert_int_equal(mux_stats(p.conn.m)->streams_active, N);
  assert_int_equal(mux_streams_left(p.relay.m), 0);

  for (i = 0; i < N; i++)
    assert_int_equal(mux_write(p.relay.pool[i].s, "ping", 4), 4);
  for (i = 0; i < N; i++)
    assert_int_equal(mux_fin(p.relay.pool[i].s), 0);
  pump(&p);
  assert_int_equal(p.relay.closed, N);
  assert_int_equal(p.conn.closed, N);
  assert_int_equal(mux_stats(p.relay.m)->streams_active, 0);
  assert_int_equal(p.relay.m->table.count, 0);
  assert_true(p.relay.m->table.cap <= 32);
  assert_int_equal(p.relay.m->budget_used, 0);
  pair_free(&p);
}

static void test_names_and_usage(void **state) {
  struct mux_config c;
  struct mux *m;

  assert_string_equal(mux_stream_state_name(MUX_STREAM_REMOTE_FIN),
                      "remote_fin");
  assert_string_equal(mux_stream_state_name(99), "unknown");
  assert_string_equal(mux_end_name(MUX_END_LOCAL_RESET), "local_reset");
  assert_string_equal(sp_err_name(SP_ELIMIT), "limit_reached");

  default_config(&c, TUNNEL_ROLE_RELAY);
  c.name = "bad name";
  assert_int_equal(mux_new(&c, &callbacks, NULL, &m), SP_EUSAGE);
  default_config(&c, 0);
  assert_int_equal(mux_new(&c, &callbacks, NULL, &m), SP_EUSAGE);
  default_config(&c, TUNNEL_ROLE_CONNECTOR);
  assert_int_equal(mux_new(&c, &callbacks, NULL, &m), 0);
  assert_int_equal(mux_feed(m, (const uint8_t *)"x", 1), SP_EUSAGE);
  mux_free(m);
  mux_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_whole),
      cmocka_unit_test(test_basic_bytes),
      cmocka_unit_test(test_basic_random),
      cmocka_unit_test(test_refused_and_later),
      cmocka_unit_test(test_data_checksums),
      cmocka_unit_test(test_flow_control),
      cmocka_unit_test(test_half_close),
      cmocka_unit_test(test_reset_both_ways),
      cmocka_unit_test(test_window_violation),
      cmocka_unit_test(test_stream_rules),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_tunnel_rules),
      cmocka_unit_test(test_open_limits),
      cmocka_unit_test(test_budget),
      cmocka_unit_test(test_default_budget),
      cmocka_unit_test(test_ping),
      cmocka_unit_test(test_hello_timeout),
      cmocka_unit_test(test_data_runs),
      cmocka_unit_test(test_reentrant),
      cmocka_unit_test(test_cert_and_send_failure),
      cmocka_unit_test(test_table_collisions),
      cmocka_unit_test(test_many_streams),
      cmocka_unit_test(test_names_and_usage),
  };

  sp_log_set_level(SP_LOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
