/*
 * A TLS connection's data path over loopback: a 5 MiB echo under
 * backpressure, unbatched and batched, garbage and silence from the peer,
 * the handshake and shutdown deadlines, and closing from inside a
 * callback.  The bench is tls_world.h; every test ends with no handle
 * left.
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

#include "tls_world.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_backpressure),
      cmocka_unit_test(test_echo_batched),
      cmocka_unit_test(test_garbage_to_server),
      cmocka_unit_test(test_garbage_to_client),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_close_inside_read),
      cmocka_unit_test(test_close_inside_handshake),
      cmocka_unit_test(test_garbage_after_handshake),
      cmocka_unit_test(test_shutdown_deadline),
  };

  if (getenv("SP_TEST_DEBUG") != NULL)
    sp_log_set_level(SP_LOG_DEBUG);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
