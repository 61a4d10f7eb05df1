/* The TLS test bench (tls_world.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>

#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509.h>
#include <uv.h>

#include "common/err.h"
#include "common/log.h"
#include "tunnel/batch.h"
#include "tunnel/pki.h"
#include "tunnel/tls.h"

#include "tls_world.h"

char root[64]; /* holds good/ and evil/ */

/* ROOT/CA/FILE into `out`. */
const char *at(char *out, size_t n, const char *ca, const char *file) {
  snprintf(out, n, "%s/%s/%s", root, ca, file);
  return out;
}

int make_ca(const char *name) {
  struct pki_ca ca;
  char dir[128];
  int rc;

  snprintf(dir, sizeof(dir), "%s/%s", root, name);
  if (mkdir(dir, 0700) != 0)
    return -1;
  pki_ca_init(&ca);
  rc = pki_ca_create(&ca, dir, RELAY);
  if (rc == 0)
    rc = pki_relay_issue(&ca, dir, RELAY, NULL);
  if (rc == 0)
    rc = pki_device_issue(&ca, dir, DEVICE, 0, NULL);
  pki_ca_free(&ca);
  return rc;
}

int group_setup(void **state) {
  snprintf(root, sizeof(root), "/tmp/sp-tls-XXXXXX");
  if (mkdtemp(root) == NULL)
    return -1;
  if (make_ca("good") != 0 || make_ca("evil") != 0)
    return -1;
  return 0;
}

static int remove_cb(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw) {
  return remove(path);
}

int group_teardown(void **state) {
  nftw(root, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* ---- Building confs ---------------------------------------------------- */

struct tls_conf *server_conf(const char *ca, enum tls_client_cert mode,
                             unsigned timeout_ms) {
  struct tls_server_opts o = {0};
  struct tls_conf *conf = NULL;
  struct paths p;

  o.ca_file = at(p.ca, sizeof(p.ca), "good", "ca.crt");
  o.crt_file = at(p.crt, sizeof(p.crt), ca, "relay.crt");
  o.key_file = at(p.key, sizeof(p.key), ca, "relay.key");
  o.client_cert = mode;
  o.limits.timeout_ms = timeout_ms;
  o.limits.write_high = ECHO_HIGH;
  o.limits.write_low = ECHO_LOW;
  assert_int_equal(tls_conf_server(&conf, &o), 0);
  return conf;
}

/* A client trusting the good CA, with `device_ca`'s device cert or none. */
struct tls_conf *client_conf(const char *device_ca, const char *name,
                             int suite) {
  struct tls_client_opts o = {0};
  struct tls_conf *conf = NULL;
  struct paths p;

  o.ca_file = at(p.ca, sizeof(p.ca), "good", "ca.crt");
  if (device_ca != NULL) {
    o.crt_file = at(p.crt, sizeof(p.crt), device_ca, DEVICE ".crt");
    o.key_file = at(p.key, sizeof(p.key), device_ca, DEVICE ".key");
  }
  o.server_name = name;
  o.suite = suite;
  o.limits.timeout_ms = 2000;
  o.limits.write_high = ECHO_HIGH;
  o.limits.write_low = ECHO_LOW;
  assert_int_equal(tls_conf_client(&conf, &o), 0);
  return conf;
}

/* ---- The world: a listener, a server side and a client side ------------ */

uint8_t gen_byte(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return (uint8_t)(*x >> 24);
}

void fnv(uint64_t *h, const uint8_t *p, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    *h = (*h ^ p[i]) * 0x100000001b3ull;
}

static void walk_cb(uv_handle_t *h, void *arg) {
  print_error("handle left: %s closing=%d\n", uv_handle_type_name(h->type),
              uv_is_closing(h));
}

static void plain_close_cb(uv_handle_t *h) {
}

static void side_done(struct side *s) {
  struct world *w = s->w;

  s->done = true;
  if (!w->server.done || !w->client.done)
    return;
  uv_close((uv_handle_t *)&w->listener, plain_close_cb);
  uv_close((uv_handle_t *)&w->guard, plain_close_cb);
  if (!uv_is_closing((uv_handle_t *)&w->pause))
    uv_close((uv_handle_t *)&w->pause, plain_close_cb);
}

/* ---- TLS callbacks ----------------------------------------------------- */

static void handshake_cb(struct tls_conn *conn, int status) {
  struct side *s = tls_conn_data(conn);
  const mbedtls_x509_crt *peer;

  s->hs_calls++;
  s->hs_status = status;
  if (status != 0)
    return;
  snprintf(s->cipher, sizeof(s->cipher), "%s", tls_conn_cipher(conn));
  peer = tls_conn_peer_cert(conn);
  s->peer = peer != NULL;
  if (peer != NULL)
    mbedtls_x509_dn_gets(s->peer_cn, sizeof(s->peer_cn), &peer->subject);
  if (s->script->open != NULL)
    s->script->open(s);
}

static void read_cb(struct tls_conn *conn, const uint8_t *p, size_t n) {
  struct side *s = tls_conn_data(conn);

  s->reads++;
  s->got += n;
  if (s->script->read != NULL)
    s->script->read(s, p, n);
}

static void drain_cb(struct tls_conn *conn) {
  struct side *s = tls_conn_data(conn);

  s->drains++;
  if (s->script->drain != NULL)
    s->script->drain(s);
}

static void close_cb(struct tls_conn *conn, int err) {
  struct side *s = tls_conn_data(conn);

  /* Closing again from here must be harmless. */
  tls_conn_close(conn, SP_EIO);
  s->close_calls++;
  s->close_err = err;
  s->conn = NULL;
  if (s->script->close != NULL)
    s->script->close(s);
  side_done(s);
}

static const struct tls_conn_cbs cbs = {
    .on_handshake = handshake_cb,
    .on_read = read_cb,
    .on_drain = drain_cb,
    .on_close = close_cb,
};

/* ---- Raw (not TLS) peers ----------------------------------------------- */

static void raw_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char sink[4096];

  *buf = uv_buf_init(sink, sizeof(sink));
}

static void raw_close_cb(uv_handle_t *h) {
  struct side *s = h->data;

  s->close_calls++;
  side_done(s);
}

static void raw_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct side *s = st->data;

  if (nread > 0)
    s->got += (size_t)nread;
  else if (nread < 0 && !uv_is_closing((uv_handle_t *)st))
    uv_close((uv_handle_t *)st, raw_close_cb);
}

static void raw_write_cb(uv_write_t *req, int status) {
}

void raw_start(struct side *s) {
  uv_buf_t buf;

  s->tcp.data = s;
  assert_int_equal(
      uv_read_start((uv_stream_t *)&s->tcp, raw_alloc_cb, raw_read_cb), 0);
  if (s->raw_len == 0)
    return;
  buf = uv_buf_init(s->raw_send, (unsigned)s->raw_len);
  assert_int_equal(
      uv_write(&s->raw_req, (uv_stream_t *)&s->tcp, &buf, 1, raw_write_cb), 0);
}

/* ---- Running a world --------------------------------------------------- */

void side_start(struct side *s, const struct tls_conf *conf) {
  int size = ECHO_SOCKBUF;

  if (s->w->small_buffers) {
    uv_send_buffer_size((uv_handle_t *)&s->tcp, &size);
    uv_recv_buffer_size((uv_handle_t *)&s->tcp, &size);
  }
  if (s->raw) {
    raw_start(s);
    return;
  }
  assert_int_equal(tls_conn_new(&s->conn, conf, &s->tcp, &cbs, s), 0);
  if (s->w->batched)
    tls_conn_set_batch(s->conn, &s->w->batch);
  /* Writing before the handshake is refused without harm. */
  assert_int_equal(tls_conn_write(s->conn, "x", 1), UV_ENOTCONN);
}

static void connection_cb(uv_stream_t *listener, int status) {
  struct world *w = listener->data;

  assert_int_equal(status, 0);
  assert_int_equal(uv_tcp_init(&w->loop, &w->server.tcp), 0);
  assert_int_equal(uv_accept(listener, (uv_stream_t *)&w->server.tcp), 0);
  side_start(&w->server, w->sconf);
}

static void connect_cb(uv_connect_t *req, int status) {
  struct world *w = req->data;

  assert_int_equal(status, 0);
  side_start(&w->client, w->cconf);
}

static void guard_side(struct side *s) {
  if (s->raw && !uv_is_closing((uv_handle_t *)&s->tcp))
    uv_close((uv_handle_t *)&s->tcp, raw_close_cb);
  else if (s->conn != NULL)
    tls_conn_close(s->conn, UV_ETIMEDOUT);
}

static void guard_cb(uv_timer_t *t) {
  struct world *w = t->data;

  w->timed_out = true;
  guard_side(&w->server);
  guard_side(&w->client);
}

static uint64_t guard_ms(void) {
  const char *env = getenv("SP_TEST_GUARD_MS");

  return env != NULL ? strtoull(env, NULL, 10) : GUARD_MS;
}

void world_init(struct world *w, const struct tls_conf *sconf,
                const struct tls_conf *cconf, const struct script *server,
                const struct script *client) {
  static const struct script none = {0};

  memset(w, 0, sizeof(*w));
  w->sconf = sconf;
  w->cconf = cconf;
  w->server.w = w->client.w = w;
  w->server.script = server != NULL ? server : &none;
  w->client.script = client != NULL ? client : &none;
  w->send_gen = w->check_gen = 2463534242u;
  w->sum_sent = w->sum_got = 0xcbf29ce484222325ull;
}

static void batch_turn_cb(void *data) {
  struct world *w = data;

  w->batch_turns++;
}

/* Runs until both sides have closed; checks that nothing is left. */
void world_run(struct world *w) {
  struct sockaddr_storage addr;
  struct sockaddr_in any;
  int len = sizeof(addr);

  assert_int_equal(uv_loop_init(&w->loop), 0);
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &any), 0);
  assert_int_equal(uv_tcp_init(&w->loop, &w->listener), 0);
  assert_int_equal(uv_tcp_bind(&w->listener, (const struct sockaddr *)&any, 0),
                   0);
  w->listener.data = w;
  assert_int_equal(uv_listen((uv_stream_t *)&w->listener, 8, connection_cb), 0);
  assert_int_equal(
      uv_tcp_getsockname(&w->listener, (struct sockaddr *)&addr, &len), 0);

  assert_int_equal(uv_timer_init(&w->loop, &w->guard), 0);
  assert_int_equal(uv_timer_init(&w->loop, &w->pause), 0);
  w->guard.data = w->pause.data = w;
  uv_timer_start(&w->guard, guard_cb, guard_ms(), 0);
  assert_int_equal(uv_tcp_init(&w->loop, &w->client.tcp), 0);
  w->connect.data = w;
  assert_int_equal(uv_tcp_connect(&w->connect, &w->client.tcp,
                                  (const struct sockaddr *)&addr, connect_cb),
                   0);

  if (w->batched)
    batch_init(&w->batch, &w->loop, batch_turn_cb, w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  if (w->batched) {
    batch_close(&w->batch);
    uv_run(&w->loop, UV_RUN_DEFAULT);
  }
  if (uv_loop_close(&w->loop) != 0) {
    uv_walk(&w->loop, walk_cb, NULL);
    fail_msg("handles left in the loop");
  }
  assert_false(w->timed_out);
}

void world_free_confs(struct tls_conf *a, struct tls_conf *b) {
  tls_conf_free(a);
  tls_conf_free(b);
}

/* ---- Scripts ----------------------------------------------------------- */

/* The client says "ping", the server echoes, the client shuts down. */
static void ping_open(struct side *s) {
  assert_int_equal(tls_conn_write(s->conn, "ping", 4), 0);
}

static void echo_read(struct side *s, const uint8_t *p, size_t n) {
  assert_int_equal(tls_conn_write(s->conn, p, n), 0);
}

static void ping_read(struct side *s, const uint8_t *p, size_t n) {
  if (s->got == 4)
    tls_conn_shutdown(s->conn);
}

const struct script ping_client = {.open = ping_open, .read = ping_read};
const struct script echo_server = {.read = echo_read};

/* Runs a ping between `sconf` and `cconf`, then frees both confs. */
void run_pair(struct world *w, struct tls_conf *sconf, struct tls_conf *cconf) {
  world_init(w, sconf, cconf, &echo_server, &ping_client);
  world_run(w);
  world_free_confs(sconf, cconf);
}

void assert_clean_ping(const struct world *w) {
  assert_int_equal(w->server.hs_calls, 1);
  assert_int_equal(w->server.hs_status, 0);
  assert_int_equal(w->client.hs_calls, 1);
  assert_int_equal(w->client.hs_status, 0);
  assert_int_equal(w->client.got, 4);
  assert_int_equal(w->server.got, 4);
  assert_int_equal(w->client.close_calls, 1);
  assert_int_equal(w->client.close_err, 0);
  assert_int_equal(w->server.close_calls, 1);
  assert_int_equal(w->server.close_err, UV_EOF);
}

/* The client's handshake failed and the server refused its certificate. */
void assert_refused_by(const struct side *refuser, const struct side *other) {
  assert_int_equal(refuser->hs_calls, 1);
  assert_int_equal(refuser->hs_status, SP_ECERT);
  assert_int_equal(refuser->close_calls, 1);
  assert_int_equal(refuser->close_err, SP_ECERT);
  assert_int_equal(other->hs_calls, 1);
  assert_true(other->hs_status < 0);
  assert_int_equal(other->close_calls, 1);
  assert_int_equal(refuser->got + other->got, 0);
}
