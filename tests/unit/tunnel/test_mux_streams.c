/*
 * The multiplexer carrying streams between well-behaved peers: opening
 * and refusing, data intact under any split, flow control and budgets,
 * half-close and reset, DATA runs, re-entrant callbacks and the stream
 * table under load.  The bench is mux_pair.h.
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
#include "mux_pair.h"

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
      cmocka_unit_test(test_budget),
      cmocka_unit_test(test_default_budget),
      cmocka_unit_test(test_data_runs),
      cmocka_unit_test(test_reentrant),
      cmocka_unit_test(test_table_collisions),
      cmocka_unit_test(test_many_streams),
  };

  sp_log_set_level(SP_LOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
