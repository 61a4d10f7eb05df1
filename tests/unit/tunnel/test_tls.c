/*
 * TLS connections over loopback, both ends in one libuv loop: mutual
 * authentication, refusals of every kind of wrong certificate, a 5 MiB
 * echo under backpressure, garbage and silence from the peer, and closing
 * from inside a callback, and pinned mode (trust by CA fingerprint, as an
 * enrolling connector does).  Certificates come from tunnel/pki.h: a "good"
 * CA and an "evil" one, each with a relay and a device certificate, made
 * once in a directory under /tmp.  Every test ends with no handle left.
 */
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

#define RELAY "relay.test"
#define DEVICE "laptop"
#define GUARD_MS 8000 /* SP_TEST_GUARD_MS overrides it (valgrind) */

#define ECHO_TOTAL (5 * 1024 * 1024)
#define ECHO_HIGH (256 * 1024)
#define ECHO_LOW (64 * 1024)
#define ECHO_CHUNK (64 * 1024)
#define ECHO_SOCKBUF (32 * 1024)
#define ECHO_PAUSE_AT (1024 * 1024)

static char root[64]; /* holds good/ and evil/ */

/* ROOT/CA/FILE into `out`. */
static const char *at(char *out, size_t n, const char *ca, const char *file) {
  snprintf(out, n, "%s/%s/%s", root, ca, file);
  return out;
}

static int make_ca(const char *name) {
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

static int group_setup(void **state) {
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

static int group_teardown(void **state) {
  nftw(root, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* ---- Building confs ---------------------------------------------------- */

struct paths {
  char ca[160], crt[160], key[160];
};

static struct tls_conf *server_conf(const char *ca, enum tls_client_cert mode,
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
static struct tls_conf *client_conf(const char *device_ca, const char *name,
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

struct side;
struct world;

/* What a test does on each event; a NULL hook does nothing. */
struct script {
  void (*open)(struct side *s);
  void (*read)(struct side *s, const uint8_t *p, size_t n);
  void (*drain)(struct side *s);
  void (*close)(struct side *s);
};

struct side {
  struct world *w;
  uv_tcp_t tcp;
  uv_write_t raw_req;
  struct tls_conn *conn;
  const struct script *script;
  bool raw;          /* plain TCP, no TLS */
  char raw_send[64]; /* what a raw side sends */
  size_t raw_len;    /* 0 for silence */
  int hs_calls;
  int hs_status;
  int close_calls;
  int close_err;
  bool done;
  bool peer;
  char peer_cn[128];
  char cipher[64];
  size_t got;   /* plaintext bytes received */
  int reads;    /* on_read calls */
  int stops;    /* read_stop calls made by the script */
  int drains;   /* on_drain calls */
  size_t max_q; /* largest write queue seen after a write */
};

struct world {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_connect_t connect;
  uv_timer_t guard;
  uv_timer_t pause;
  const struct tls_conf *sconf;
  const struct tls_conf *cconf;
  struct side server;
  struct side client;
  bool timed_out;
  bool small_buffers;
  bool batched; /* both sides flush through `batch` */
  struct batch batch;
  int batch_turns; /* each_cb calls */

  /* The echo test's streams and checksums (FNV-1a). */
  size_t sent;
  uint32_t send_gen;
  uint32_t check_gen;
  uint64_t sum_sent;
  uint64_t sum_got;
  bool mismatch;
  bool paused;        /* the client stopped reading at ECHO_PAUSE_AT */
  int stops_at_pause; /* the server's stops then */
};

static uint8_t gen_byte(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return (uint8_t)(*x >> 24);
}

static void fnv(uint64_t *h, const uint8_t *p, size_t n) {
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

static void raw_start(struct side *s) {
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

static void side_start(struct side *s, const struct tls_conf *conf) {
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

static void world_init(struct world *w, const struct tls_conf *sconf,
                       const struct tls_conf *cconf,
                       const struct script *server,
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
static void world_run(struct world *w) {
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

static void world_free_confs(struct tls_conf *a, struct tls_conf *b) {
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

static const struct script ping_client = {.open = ping_open, .read = ping_read};
static const struct script echo_server = {.read = echo_read};

/* Runs a ping between `sconf` and `cconf`, then frees both confs. */
static void run_pair(struct world *w, struct tls_conf *sconf,
                     struct tls_conf *cconf) {
  world_init(w, sconf, cconf, &echo_server, &ping_client);
  world_run(w);
  world_free_confs(sconf, cconf);
}

static void assert_clean_ping(const struct world *w) {
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
static void assert_refused_by(const struct side *refuser,
                              const struct side *other) {
  assert_int_equal(refuser->hs_calls, 1);
  assert_int_equal(refuser->hs_status, SP_ECERT);
  assert_int_equal(refuser->close_calls, 1);
  assert_int_equal(refuser->close_err, SP_ECERT);
  assert_int_equal(other->hs_calls, 1);
  assert_true(other->hs_status < 0);
  assert_int_equal(other->close_calls, 1);
  assert_int_equal(refuser->got + other->got, 0);
}

/* ---- Tests: verification ----------------------------------------------- */

static void test_mutual_auth(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", RELAY, 0));
  assert_clean_ping(&w);
  assert_true(w.server.peer);
  assert_non_null(strstr(w.server.peer_cn, "CN=" DEVICE));
  assert_true(w.client.peer);
  assert_non_null(strstr(w.client.peer_cn, "CN=" RELAY));
  assert_string_equal(w.client.cipher, w.server.cipher);
  assert_string_equal(w.client.cipher,
                      mbedtls_ssl_get_ciphersuite_name(tls_suites()[0]));
}

static void test_every_suite(void **state) {
  const int *suite;
  struct world w;

  for (suite = tls_suites(); *suite != 0; suite++) {
    run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
             client_conf("good", RELAY, *suite));
    assert_clean_ping(&w);
    assert_string_equal(w.client.cipher,
                        mbedtls_ssl_get_ciphersuite_name(*suite));
  }
}

static void test_required_without_cert(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf(NULL, RELAY, 0));
  assert_refused_by(&w.server, &w.client);
}

static void test_client_cert_other_ca(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("evil", RELAY, 0));
  assert_refused_by(&w.server, &w.client);
}

static void test_server_cert_other_ca(void **state) {
  struct world w;

  run_pair(&w, server_conf("evil", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", RELAY, 0));
  assert_refused_by(&w.client, &w.server);
}

static void test_wrong_server_name(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "other.test", 0));
  assert_refused_by(&w.client, &w.server);

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "10.1.2.3", 0));
  assert_refused_by(&w.client, &w.server);
}

/* The relay's certificate names 127.0.0.1 and ::1 as IP addresses. */
static void test_ip_server_name(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "127.0.0.1", 0));
  assert_clean_ping(&w);
  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "::1", 0));
  assert_clean_ping(&w);
  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "localhost", 0));
  assert_clean_ping(&w);
}

static void test_optional_mode(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_OPTIONAL, 0),
           client_conf("good", RELAY, 0));
  assert_clean_ping(&w);
  assert_true(w.server.peer);
  assert_non_null(strstr(w.server.peer_cn, "CN=" DEVICE));

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_OPTIONAL, 0),
           client_conf(NULL, RELAY, 0));
  assert_clean_ping(&w);
  assert_false(w.server.peer);

  /* A certificate that is sent must verify, even when optional. */
  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_OPTIONAL, 0),
           client_conf("evil", RELAY, 0));
  assert_refused_by(&w.server, &w.client);
}

static void test_none_mode(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_NONE, 0),
           client_conf("good", RELAY, 0));
  assert_clean_ping(&w);
  assert_false(w.server.peer);
  assert_true(w.client.peer);
}

static void test_conf_errors(void **state) {
  struct tls_server_opts so = {0};
  struct tls_client_opts co = {0};
  struct tls_conf *conf = NULL;
  struct paths p;

  so.ca_file = at(p.ca, sizeof(p.ca), "good", "ca.crt");
  so.crt_file = at(p.crt, sizeof(p.crt), "good", "relay.crt");
  so.key_file = at(p.key, sizeof(p.key), "evil", "relay.key");
  so.client_cert = TLS_CLIENT_CERT_REQUIRED;
  assert_int_equal(tls_conf_server(&conf, &so), SP_ECRYPTO);
  so.key_file = at(p.key, sizeof(p.key), "good", "missing.key");
  assert_int_equal(tls_conf_server(&conf, &so), UV_ENOENT);
  so.key_file = at(p.key, sizeof(p.key), "good", "ca.crt");
  assert_int_equal(tls_conf_server(&conf, &so), SP_ECRYPTO);
  so.key_file = at(p.key, sizeof(p.key), "good", "relay.key");
  so.ca_file = NULL;
  assert_int_equal(tls_conf_server(&conf, &so), SP_EUSAGE);

  co.ca_file = at(p.ca, sizeof(p.ca), "good", "ca.crt");
  assert_int_equal(tls_conf_client(&conf, &co), SP_EUSAGE); /* no name */
  co.server_name = RELAY;
  co.suite = MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
  assert_int_equal(tls_conf_client(&conf, &co), SP_EUSAGE);
  co.suite = 0;
  co.crt_file = at(p.crt, sizeof(p.crt), "good", DEVICE ".crt");
  assert_int_equal(tls_conf_client(&conf, &co), SP_EUSAGE); /* no key */
  co.ca_file = NULL;
  co.ca_pem = "not a certificate";
  co.crt_file = NULL;
  assert_int_equal(tls_conf_client(&conf, &co), SP_ECRYPTO);
  assert_null(conf);
}

/* ---- Tests: the echo under backpressure -------------------------------- */

static void pump(struct side *s) {
  struct world *w = s->w;
  uint8_t buf[ECHO_CHUNK];
  size_t i, n;

  while (w->sent < ECHO_TOTAL && tls_conn_write_queued(s->conn) < ECHO_HIGH) {
    n = ECHO_TOTAL - w->sent < sizeof(buf) ? ECHO_TOTAL - w->sent : sizeof(buf);
    for (i = 0; i < n; i++)
      buf[i] = gen_byte(&w->send_gen);
    fnv(&w->sum_sent, buf, n);
    assert_int_equal(tls_conn_write(s->conn, buf, n), 0);
    w->sent += n;
    if (tls_conn_write_queued(s->conn) > s->max_q)
      s->max_q = tls_conn_write_queued(s->conn);
  }
}

static void resume_cb(uv_timer_t *t) {
  struct world *w = t->data;

  if (w->client.conn != NULL)
    tls_conn_read_start(w->client.conn);
}

static void bulk_client_read(struct side *s, const uint8_t *p, size_t n) {
  struct world *w = s->w;
  size_t i;

  for (i = 0; i < n; i++)
    if (p[i] != gen_byte(&w->check_gen))
      w->mismatch = true;
  fnv(&w->sum_got, p, n);

  /* Stop once, mid-stream, until the server's queue has filled up and
   * it has stopped reading; plaintext stays buffered meanwhile. */
  if (!w->paused && s->got >= ECHO_PAUSE_AT) {
    w->paused = true;
    w->stops_at_pause = w->server.stops;
    s->stops++;
    tls_conn_read_stop(s->conn);
  }
  if (s->got == ECHO_TOTAL)
    tls_conn_shutdown(s->conn);
}

/* Echoes through tls_conn_writev in uneven pieces (a small one first,
 * like a frame header), so that gathering into records is checked by the
 * client's byte-for-byte comparison. */
static void bulk_server_read(struct side *s, const uint8_t *p, size_t n) {
  size_t a = n < 7 ? n : 7, b = a + (n - a) / 3;
  uv_buf_t bufs[3] = {
      uv_buf_init((char *)(uintptr_t)p, (unsigned)a),
      uv_buf_init((char *)(uintptr_t)p + a, (unsigned)(b - a)),
      uv_buf_init((char *)(uintptr_t)p + b, (unsigned)(n - b)),
  };

  /* Batched, each piece is a call of its own: the batch must join them
     in order before the loop waits. */
  if (s->w->batched) {
    assert_int_equal(tls_conn_writev(s->conn, &bufs[0], 1), 0);
    assert_int_equal(tls_conn_writev(s->conn, &bufs[1], 1), 0);
    assert_int_equal(tls_conn_writev(s->conn, &bufs[2], 1), 0);
  } else {
    assert_int_equal(tls_conn_writev(s->conn, bufs, 3), 0);
  }
  if (tls_conn_write_queued(s->conn) > s->max_q)
    s->max_q = tls_conn_write_queued(s->conn);
  if (tls_conn_write_queued(s->conn) >= ECHO_HIGH) {
    s->stops++;
    tls_conn_read_stop(s->conn);
    if (s->w->paused && s->stops == s->w->stops_at_pause + 1)
      uv_timer_start(&s->w->pause, resume_cb, 0, 0);
  }
}

static void bulk_server_drain(struct side *s) {
  tls_conn_read_start(s->conn);
}

static const struct script bulk_client = {
    .open = pump, .read = bulk_client_read, .drain = pump};
static const struct script bulk_server = {.read = bulk_server_read,
                                          .drain = bulk_server_drain};

static void echo_backpressure(bool batched) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0);
  struct tls_conf *cconf = client_conf("good", RELAY, 0);
  struct world w;

  world_init(&w, sconf, cconf, &bulk_server, &bulk_client);
  w.small_buffers = true;
  w.batched = batched;
  world_run(&w);
  world_free_confs(sconf, cconf);

  print_message("echo: server stops=%d drains=%d max_q=%zu; client "
                "stops=%d drains=%d max_q=%zu\n",
                w.server.stops, w.server.drains, w.server.max_q, w.client.stops,
                w.client.drains, w.client.max_q);
  assert_int_equal(w.sent, ECHO_TOTAL);
  assert_int_equal(w.server.got, ECHO_TOTAL);
  assert_int_equal(w.client.got, ECHO_TOTAL);
  assert_false(w.mismatch);
  assert_true(w.sum_sent == w.sum_got);
  assert_int_equal(w.client.close_err, 0);
  assert_int_equal(w.server.close_err, UV_EOF);

  /* Both directions were held back, and the queues stayed bounded. */
  assert_true(w.server.stops >= 1);
  assert_true(w.server.drains >= 1);
  assert_true(w.client.drains >= 1);
  assert_true(w.server.max_q <= ECHO_HIGH + 66 * 1024);
  assert_true(w.client.max_q <= ECHO_HIGH + ECHO_CHUNK + 8 * 1024);
  if (batched)
    assert_true(w.batch_turns > 0);
}

static void test_echo_backpressure(void **state) {
  echo_backpressure(false);
}

/* The same echo with writes flushed once per loop iteration by a batch:
   pieces written by separate calls arrive whole and in order, and the
   drain callbacks still come (a flush from the batch can drain). */
static void test_echo_batched(void **state) {
  echo_backpressure(true);
}

/* ---- Tests: hostile and broken peers ----------------------------------- */

static const char garbage_http[] = "GET / HTTP/1.1\r\nHost: relay\r\n\r\n";

/* A record header announcing 65535 bytes, far past the limit. */
static const char garbage_record[] = "\x16\x03\x03\xff\xff"
                                     "0123456789abcdef";

static void test_garbage_to_server(void **state) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0);
  struct world w;

  world_init(&w, sconf, NULL, NULL, NULL);
  w.client.raw = true;
  w.client.raw_len = sizeof(garbage_http) - 1;
  memcpy(w.client.raw_send, garbage_http, w.client.raw_len);
  world_run(&w);
  tls_conf_free(sconf);

  assert_int_equal(w.server.hs_calls, 1);
  assert_int_equal(w.server.hs_status, SP_ETLS);
  assert_int_equal(w.server.close_calls, 1);
  assert_int_equal(w.server.close_err, SP_ETLS);
  assert_int_equal(w.client.close_calls, 1);
}

static void test_garbage_to_client(void **state) {
  struct tls_conf *cconf = client_conf("good", RELAY, 0);
  struct world w;

  world_init(&w, NULL, cconf, NULL, NULL);
  w.server.raw = true;
  w.server.raw_len = sizeof(garbage_record) - 1;
  memcpy(w.server.raw_send, garbage_record, w.server.raw_len);
  world_run(&w);
  tls_conf_free(cconf);

  assert_int_equal(w.client.hs_calls, 1);
  assert_int_equal(w.client.hs_status, SP_ETLS);
  assert_int_equal(w.client.close_calls, 1);
  assert_int_equal(w.client.close_err, SP_ETLS);
  assert_int_equal(w.server.close_calls, 1);
}

static void test_handshake_timeout(void **state) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 200);
  struct world w;
  uint64_t start;

  world_init(&w, sconf, NULL, NULL, NULL);
  w.client.raw = true; /* connects and says nothing */
  start = uv_hrtime();
  world_run(&w);
  tls_conf_free(sconf);

  assert_true(uv_hrtime() - start >= 150 * 1000000ull);
  assert_int_equal(w.server.hs_calls, 1);
  assert_int_equal(w.server.hs_status, UV_ETIMEDOUT);
  assert_int_equal(w.server.close_err, UV_ETIMEDOUT);
  assert_int_equal(w.client.close_calls, 1);
}

/* The server closes on the first bytes, with more records in flight. */
static void close_in_read(struct side *s, const uint8_t *p, size_t n) {
  tls_conn_close(s->conn, SP_EPROTO);
  assert_int_equal(tls_conn_write(s->conn, "late", 4), UV_EPIPE);
  tls_conn_close(s->conn, SP_EIO);
  tls_conn_shutdown(s->conn);
  tls_conn_read_start(s->conn);
}

static void send_many(struct side *s) {
  static uint8_t block[3 * 16384 + 100];

  assert_int_equal(tls_conn_write(s->conn, block, sizeof(block)), 0);
}

static void test_close_inside_read(void **state) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0);
  struct tls_conf *cconf = client_conf("good", RELAY, 0);
  static const struct script closer = {.read = close_in_read};
  static const struct script sender = {.open = send_many};
  struct world w;

  world_init(&w, sconf, cconf, &closer, &sender);
  world_run(&w);
  world_free_confs(sconf, cconf);

  assert_int_equal(w.server.reads, 1);
  assert_int_equal(w.server.close_calls, 1);
  assert_int_equal(w.server.close_err, SP_EPROTO);
  assert_int_equal(w.client.close_calls, 1);
  assert_true(w.client.close_err < 0);
}

/* The client closes itself from on_handshake; the server sees the end. */
static void close_in_open(struct side *s) {
  tls_conn_close(s->conn, 0);
}

static void test_close_inside_handshake(void **state) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0);
  struct tls_conf *cconf = client_conf("good", RELAY, 0);
  static const struct script closer = {.open = close_in_open};
  struct world w;

  world_init(&w, sconf, cconf, NULL, &closer);
  world_run(&w);
  world_free_confs(sconf, cconf);

  assert_int_equal(w.client.close_err, 0);
  assert_int_equal(w.server.close_calls, 1);
  assert_true(w.server.close_err < 0);
}

/* Bytes that are not a record, written under the TLS layer's feet. */
static void inject_garbage(struct side *s) {
  char junk[5 + 32];
  uv_buf_t buf = uv_buf_init(junk, sizeof(junk));

  /* Application data, TLS 1.2, 32 bytes that will not authenticate. */
  memset(junk, 'x', sizeof(junk));
  memcpy(junk, "\x17\x03\x03\x00\x20", 5);

  assert_int_equal(uv_try_write((uv_stream_t *)&s->tcp, &buf, 1), (int)buf.len);
}

static void test_garbage_after_handshake(void **state) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0);
  struct tls_conf *cconf = client_conf("good", RELAY, 0);
  static const struct script injector = {.open = inject_garbage};
  struct world w;

  world_init(&w, sconf, cconf, NULL, &injector);
  world_run(&w);
  world_free_confs(sconf, cconf);

  assert_int_equal(w.server.hs_calls, 1);
  assert_int_equal(w.server.hs_status, 0);
  assert_int_equal(w.server.got, 0);
  assert_int_equal(w.server.close_err, SP_ETLS);
  assert_int_equal(w.client.close_calls, 1);
  assert_true(w.client.close_err < 0);
}

/* The server shuts down; the client never reads its close_notify. */
static void deaf_open(struct side *s) {
  tls_conn_read_stop(s->conn);
}

static void shut_open(struct side *s) {
  assert_int_equal(tls_conn_write(s->conn, "bye", 3), 0);
  tls_conn_shutdown(s->conn);
  assert_int_equal(tls_conn_write(s->conn, "x", 1), UV_EPIPE);
}

static void shut_close(struct side *s) {
  if (s->w->client.conn != NULL)
    tls_conn_close(s->w->client.conn, 0);
}

static void test_shutdown_deadline(void **state) {
  struct tls_conf *sconf = server_conf("good", TLS_CLIENT_CERT_REQUIRED, 1000);
  struct tls_conf *cconf = client_conf("good", RELAY, 0);
  static const struct script shutter = {.open = shut_open, .close = shut_close};
  static const struct script deaf = {.open = deaf_open};
  struct world w;
  uint64_t start = uv_hrtime();

  world_init(&w, sconf, cconf, &shutter, &deaf);
  world_run(&w);
  world_free_confs(sconf, cconf);

  assert_true(uv_hrtime() - start >= 900 * 1000000ull);
  assert_int_equal(w.server.close_err, 0);
  assert_int_equal(w.client.got, 0);
  assert_int_equal(w.client.close_err, 0);
}

/* ---- Tests: pinned mode ----------------------------------------------- */

/* Writes the concatenation of files `a` and `b` to `out`. */
static void cat_files(const char *out, const char *a, const char *b) {
  const char *in[2] = {a, b};
  FILE *w = fopen(out, "w"), *r;
  char buf[4096];
  size_t i, n;

  assert_non_null(w);
  for (i = 0; i < 2; i++) {
    r = fopen(in[i], "r");
    assert_non_null(r);
    while ((n = fread(buf, 1, sizeof(buf), r)) > 0)
      assert_int_equal(fwrite(buf, 1, n, w), n);
    fclose(r);
  }
  assert_int_equal(fclose(w), 0);
}

/* The fingerprint of CA `ca`'s certificate, as a token carries it. */
static void ca_pin(const char *ca, char out[PKI_FINGERPRINT_HEX]) {
  mbedtls_x509_crt crt;
  char path[160];

  mbedtls_x509_crt_init(&crt);
  assert_int_equal(
      mbedtls_x509_crt_parse_file(&crt, at(path, sizeof(path), ca, "ca.crt")),
      0);
  assert_int_equal(pki_crt_fingerprint(&crt, out), 0);
  mbedtls_x509_crt_free(&crt);
}

/* A server sending the chain file `chain` with `ca`'s relay key. */
static struct tls_conf *chain_server_conf(const char *chain, const char *ca) {
  struct tls_server_opts o = {0};
  struct tls_conf *conf = NULL;
  struct paths p;

  o.crt_file = chain;
  o.key_file = at(p.key, sizeof(p.key), ca, "relay.key");
  o.client_cert = TLS_CLIENT_CERT_NONE;
  assert_int_equal(tls_conf_server(&conf, &o), 0);
  return conf;
}

/* A client that knows its CA only by `pin`, as an enrolling connector. */
static struct tls_conf *pinned_client_conf(const char *pin, const char *name) {
  struct tls_client_opts o = {0};
  struct tls_conf *conf = NULL;

  o.pin_sha256 = pin;
  o.server_name = name;
  o.limits.timeout_ms = 2000;
  assert_int_equal(tls_conf_client(&conf, &o), 0);
  return conf;
}

/* Runs a ping from a pinned client to a server sending `chain`. */
static void run_pinned(struct world *w, const char *chain, const char *key_ca,
                       const char *pin, const char *name) {
  run_pair(w, chain_server_conf(chain, key_ca), pinned_client_conf(pin, name));
}

static void test_pinned_conf_errors(void **state) {
  struct tls_client_opts o = {0};
  struct tls_conf *conf = NULL;
  char pin[PKI_FINGERPRINT_HEX], path[160];

  ca_pin("good", pin);
  o.server_name = RELAY;
  o.pin_sha256 = pin;
  o.ca_file = at(path, sizeof(path), "good", "ca.crt");
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE); /* pin and CA */
  o.ca_file = NULL;
  o.ca_pem = "-----BEGIN CERTIFICATE-----";
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE);
  o.ca_pem = NULL;
  pin[0] = 'A'; /* upper case is not a pin */
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE);
  o.pin_sha256 = "00";
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE);
  assert_null(conf);
}

static void test_pinned_mode(void **state) {
  char good_pin[PKI_FINGERPRINT_HEX], evil_pin[PKI_FINGERPRINT_HEX];
  char chain[160], mixed[160], a[160], b[160];
  struct world w;

  ca_pin("good", good_pin);
  ca_pin("evil", evil_pin);
  snprintf(chain, sizeof(chain), "%s/good-chain.crt", root);
  cat_files(chain, at(a, sizeof(a), "good", "relay.crt"),
            at(b, sizeof(b), "good", "ca.crt"));
  /* The evil relay's certificate followed by the good CA's. */
  snprintf(mixed, sizeof(mixed), "%s/mixed-chain.crt", root);
  cat_files(mixed, at(a, sizeof(a), "evil", "relay.crt"),
            at(b, sizeof(b), "good", "ca.crt"));

  /* The right pin, with the CA in the chain: trusted, data flows. */
  run_pinned(&w, chain, "good", good_pin, RELAY);
  assert_clean_ping(&w);
  assert_true(w.client.peer);
  assert_non_null(strstr(w.client.peer_cn, "CN=" RELAY));
  run_pinned(&w, chain, "good", good_pin, "127.0.0.1");
  assert_clean_ping(&w);

  /* A pin that no certificate in the chain has. */
  run_pinned(&w, chain, "good", evil_pin, RELAY);
  assert_refused_by(&w.client, &w.server);

  /* The server's certificate alone: no CA in the chain to pin. */
  run_pinned(&w, at(a, sizeof(a), "good", "relay.crt"), "good", good_pin,
             RELAY);
  assert_refused_by(&w.client, &w.server);

  /* The pinned CA is in the chain but did not sign the certificate. */
  run_pinned(&w, mixed, "evil", good_pin, RELAY);
  assert_refused_by(&w.client, &w.server);

  /* The pin holds but the certificate names another server. */
  run_pinned(&w, chain, "good", good_pin, "other.test");
  assert_refused_by(&w.client, &w.server);
  run_pinned(&w, chain, "good", good_pin, "10.1.2.3");
  assert_refused_by(&w.client, &w.server);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mutual_auth),
      cmocka_unit_test(test_every_suite),
      cmocka_unit_test(test_required_without_cert),
      cmocka_unit_test(test_client_cert_other_ca),
      cmocka_unit_test(test_server_cert_other_ca),
      cmocka_unit_test(test_wrong_server_name),
      cmocka_unit_test(test_ip_server_name),
      cmocka_unit_test(test_optional_mode),
      cmocka_unit_test(test_none_mode),
      cmocka_unit_test(test_conf_errors),
      cmocka_unit_test(test_echo_backpressure),
      cmocka_unit_test(test_echo_batched),
      cmocka_unit_test(test_garbage_to_server),
      cmocka_unit_test(test_garbage_to_client),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_close_inside_read),
      cmocka_unit_test(test_close_inside_handshake),
      cmocka_unit_test(test_garbage_after_handshake),
      cmocka_unit_test(test_shutdown_deadline),
      cmocka_unit_test(test_pinned_conf_errors),
      cmocka_unit_test(test_pinned_mode),
  };

  if (getenv("SP_TEST_DEBUG") != NULL)
    sp_log_set_level(SP_LOG_DEBUG);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
