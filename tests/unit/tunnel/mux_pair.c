/* The multiplexer test bench (mux_pair.h). */
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

enum split split_mode = SPLIT_WHOLE;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

void q_append(struct queue *q, const void *p, size_t n) {
  if (q->len + n > q->cap) {
    q->cap = (q->len + n) * 2;
    q->p = realloc(q->p, q->cap);
    assert_non_null(q->p);
  }
  if (n > 0)
    memcpy(q->p + q->len, p, n);
  q->len += n;
}

struct app_stream *app_new(struct side *sd) {
  struct app_stream *a;

  assert_true(sd->pool_len < sd->pool_cap);
  a = &sd->pool[sd->pool_len++];
  memset(a, 0, sizeof(*a));
  a->hash = 2166136261u;
  a->hold = sd->hold_new;
  a->fin_on_fin = sd->fin_on_fin_new;
  return a;
}

uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
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

const struct mux_callbacks callbacks = {
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

void side_init(struct side *sd, const struct mux_config *cfg, size_t pool) {
  memset(sd, 0, sizeof(*sd));
  sd->pool_cap = pool;
  sd->pool = calloc(pool, sizeof(*sd->pool));
  assert_non_null(sd->pool);
  assert_int_equal(mux_new(cfg, &callbacks, sd, &sd->m), 0);
  assert_int_equal(mux_start(sd->m, 1000), 0);
}

void side_free(struct side *sd) {
  mux_free(sd->m);
  free(sd->out.p);
  free(sd->pool);
}

/* Hands everything `from` sent to `to`, split as split_mode says. */
int move(struct side *from, struct side *to) {
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

void pump(struct pair *p) {
  while (p->relay.out.len > 0 || p->conn.out.len > 0) {
    assert_int_equal(move(&p->relay, &p->conn), 0);
    assert_int_equal(move(&p->conn, &p->relay), 0);
  }
}

void default_config(struct mux_config *c, enum tunnel_role role) {
  memset(c, 0, sizeof(*c));
  c->role = role;
  c->name = role == TUNNEL_ROLE_RELAY ? "relay.example.com" : "paris-office";
  c->software = "sallyport 0.1.0";
  c->tid = role;
}

/* Two sides after the HELLO exchange, with optional config changes. */
void pair_up_with(struct pair *p, const struct mux_config *rc,
                  const struct mux_config *cc, size_t pool) {
  side_init(&p->relay, rc, pool);
  side_init(&p->conn, cc, pool);
  pump(p);
  assert_int_equal(p->relay.hello, 1);
  assert_int_equal(p->conn.hello, 1);
}

void pair_up_with_pool(struct pair *p, size_t pool) {
  struct mux_config rc, cc;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  rc.peer_name = "paris-office";
  pair_up_with(p, &rc, &cc, pool);
}

void pair_up(struct pair *p) {
  pair_up_with_pool(p, 64);
}

void pair_free(struct pair *p) {
  side_free(&p->relay);
  side_free(&p->conn);
}

struct app_stream *open_stream(struct pair *p) {
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
struct app_stream *peer_of(struct pair *p, const struct app_stream *a) {
  size_t i;

  for (i = 0; i < p->conn.pool_len; i++)
    if (p->conn.pool[i].id == a->id)
      return &p->conn.pool[i];
  fail_msg("no connector stream %u", a->id);
  return NULL;
}

/* Feeds one hand-made frame to `sd`, as a misbehaving peer would. */
int inject(struct side *sd, const struct tunnel_frame *f) {
  uint8_t buf[TUNNEL_FRAME_MAX];
  size_t n;

  assert_int_equal(tunnel_frame_encode(f, buf, sizeof(buf), &n), 0);
  return mux_feed(sd->m, buf, n);
}

/* The last frame `sd` sent, decoded (borrowing from its queue). */
void last_frame(struct side *sd, struct tunnel_frame *f) {
  size_t off = 0, used;

  assert_true(sd->out.len > 0);
  while (off < sd->out.len) {
    assert_int_equal(
        tunnel_frame_decode(sd->out.p + off, sd->out.len - off, f, &used, NULL),
        0);
    off += used;
  }
}

void drop_output(struct side *sd) {
  sd->out.len = 0;
}

void data_frame(struct tunnel_frame *f, uint32_t id, const void *p, size_t n,
                int fin) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_DATA;
  f->stream = id;
  f->flags = fin ? TUNNEL_FLAG_FIN : 0;
  f->u.data.p = p;
  f->u.data.len = n;
}

/* Checks that `sd` answered with GOAWAY protocol_error and `detail`. */
void expect_goaway(struct side *sd, uint32_t code, const char *detail) {
  struct tunnel_frame f;

  last_frame(sd, &f);
  assert_int_equal(f.type, TUNNEL_GOAWAY);
  assert_int_equal(f.u.goaway.code, code);
  assert_int_equal(f.u.goaway.detail.len, strlen(detail));
  assert_memory_equal(f.u.goaway.detail.p, detail, strlen(detail));
}

void raw_open(struct tunnel_frame *f, uint32_t id) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_OPEN;
  f->stream = id;
  f->u.open.window = 100;
  f->u.open.dest = tunnel_frame_str("wiki.corp:443");
  f->u.open.user = tunnel_frame_str("alice");
  f->u.open.resource = f->u.open.rule = tunnel_frame_str("wiki");
  f->u.open.client = tunnel_frame_str("1.2.3.4:5");
}
