/*
 * The crypto ceiling and how close tunnel/tls.c gets to it.
 *
 *   bench_crypto [--quick] [--mib N] [--conns N]
 *
 * 1. AEAD: mbedTLS's ChaCha20-Poly1305, AES-128-GCM and AES-256-GCM
 *    encrypting 16 KiB records in place (one record = one TLS record's
 *    plaintext, with a 13-byte header as additional data), one core.
 * 2. TLS over loopback TCP through tls_conn, once per suite: the client
 *    (its own thread and loop) writes N MiB with a 1 MiB high-water mark,
 *    the server (the main thread) counts them.  Each end has a core.
 * 3. Memory: the heap an idle connection holds after its handshake,
 *    measured with mallinfo2() (which sums every arena) over N client and
 *    N server ends and divided by 2N; also the handshake rate over those
 *    connections.
 *
 * MB is 10^6 bytes.  --quick uses 16 MiB and 10 connections; ctest runs
 * it that way only to prove the benchmark still works.  No figure is
 * ever asserted.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ftw.h>
#include <mbedtls/chachapoly.h>
#include <mbedtls/gcm.h>
#include <mbedtls/ssl.h>
#include <uv.h>

#include "common/err.h"
#include "common/rand.h"
#include "tunnel/pki.h"
#include "tunnel/tls.h"

#define RECORD 16384
#define AAD_LEN 13
#define WRITE_CHUNK (64 * 1024)
#define HIGH_WATER (1024 * 1024)

static double clock_s(clockid_t id) {
  struct timespec ts;

  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void) {
  return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread: other processes on a shared machine
 * slow the wall clock down, but hardly this. */
static double cpu_s(void) {
  return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* ---- 1. AEAD ----------------------------------------------------------- */

static unsigned char rec[RECORD];

static void report_aead(const char *name, uint64_t bytes, double secs,
                        double cpu) {
  printf("aead  %-40s %5llu MiB  wall %6.2f s %7.1f MB/s  cpu %6.2f s "
         "%7.1f MB/s\n",
         name, (unsigned long long)(bytes >> 20), secs,
         (double)bytes / secs / 1e6, cpu, (double)bytes / cpu / 1e6);
}

static int bench_chachapoly(uint64_t total) {
  unsigned char key[32] = {1}, nonce[12] = {0}, aad[AAD_LEN] = {0}, tag[16];
  mbedtls_chachapoly_context ctx;
  uint64_t done = 0, seq = 0;
  double t0, c0;
  int ret;

  mbedtls_chachapoly_init(&ctx);
  ret = mbedtls_chachapoly_setkey(&ctx, key);
  t0 = now_s();
  c0 = cpu_s();
  for (; ret == 0 && done < total; done += RECORD) {
    memcpy(nonce + 4, &seq, sizeof(seq));
    seq++;
    ret = mbedtls_chachapoly_encrypt_and_tag(&ctx, RECORD, nonce, aad, AAD_LEN,
                                             rec, rec, tag);
  }
  if (ret == 0)
    report_aead("chacha20-poly1305", done, now_s() - t0, cpu_s() - c0);
  mbedtls_chachapoly_free(&ctx);
  return ret;
}

static int bench_gcm(const char *name, unsigned bits, uint64_t total) {
  unsigned char key[32] = {1}, iv[12] = {0}, aad[AAD_LEN] = {0}, tag[16];
  mbedtls_gcm_context ctx;
  uint64_t done = 0, seq = 0;
  double t0, c0;
  int ret;

  mbedtls_gcm_init(&ctx);
  ret = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, bits);
  t0 = now_s();
  c0 = cpu_s();
  for (; ret == 0 && done < total; done += RECORD) {
    memcpy(iv + 4, &seq, sizeof(seq));
    seq++;
    ret = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, RECORD, iv,
                                    sizeof(iv), aad, AAD_LEN, rec, rec,
                                    sizeof(tag), tag);
  }
  if (ret == 0)
    report_aead(name, done, now_s() - t0, cpu_s() - c0);
  mbedtls_gcm_free(&ctx);
  return ret;
}

/* ---- 2 and 3. TLS over loopback ---------------------------------------- */

struct bench {
  int conns;      /* connections to open */
  uint64_t bytes; /* client to server on each connection; 0: none */
  const struct tls_conf *sconf;
  const struct tls_conf *cconf;
  struct sockaddr_storage addr;

  /* The server side, on the main thread. */
  uv_loop_t sloop;
  uv_tcp_t listener;
  uv_timer_t settle; /* lets the last write callbacks run before measuring */
  uv_tcp_t *stcp;
  struct tls_conn **sconn;
  int accepted, ready, sclosed;
  uint64_t got;
  double t_hs_first, t_hs_last, t_end;
  size_t heap_before, heap_after;

  /* The client side, on its own thread. */
  uv_loop_t cloop;
  uv_tcp_t *ctcp;
  uv_connect_t *creq;
  uint64_t sent;
  double t_start;
  int failures;

  double cpu_client; /* each side's thread CPU time for the round */
  double cpu_server;
};

static unsigned char payload[WRITE_CHUNK];

static size_t heap_in_use(void) {
  return mallinfo2().uordblks;
}

static void noop_close_cb(uv_handle_t *h) {
}

/* Measures the heap once every handshake is done, then closes all. */
static void settle_cb(uv_timer_t *t) {
  struct bench *b = t->data;
  int i;

  b->heap_after = heap_in_use();
  for (i = 0; i < b->conns; i++)
    if (b->sconn[i] != NULL)
      tls_conn_close(b->sconn[i], 0);
}

static void s_handshake_cb(struct tls_conn *conn, int status) {
  struct bench *b = tls_conn_data(conn);

  if (status != 0) {
    b->failures++;
    return;
  }
  if (++b->ready == b->conns && b->bytes == 0) {
    b->t_hs_last = now_s();
    uv_timer_start(&b->settle, settle_cb, 100, 0);
  }
}

static void s_read_cb(struct tls_conn *conn, const uint8_t *p, size_t n) {
  struct bench *b = tls_conn_data(conn);

  b->got += n;
  if (b->got == b->bytes * (uint64_t)b->conns)
    b->t_end = now_s();
}

static void s_close_cb(struct tls_conn *conn, int err) {
  struct bench *b = tls_conn_data(conn);
  int i;

  for (i = 0; i < b->conns; i++)
    if (b->sconn[i] == conn)
      b->sconn[i] = NULL;
  if (++b->sclosed == b->conns) {
    uv_close((uv_handle_t *)&b->listener, noop_close_cb);
    uv_close((uv_handle_t *)&b->settle, noop_close_cb);
  }
}

static const struct tls_conn_cbs server_cbs = {.on_handshake = s_handshake_cb,
                                               .on_read = s_read_cb,
                                               .on_close = s_close_cb};

static void s_connection_cb(uv_stream_t *listener, int status) {
  struct bench *b = listener->data;
  int i = b->accepted++;

  if (i == 0)
    b->t_hs_first = now_s();
  if (status != 0 || i >= b->conns ||
      uv_tcp_init(&b->sloop, &b->stcp[i]) != 0 ||
      uv_accept(listener, (uv_stream_t *)&b->stcp[i]) != 0 ||
      tls_conn_new(&b->sconn[i], b->sconf, &b->stcp[i], &server_cbs, b) != 0) {
    fprintf(stderr, "bench_crypto: accept failed\n");
    exit(1);
  }
}

static void c_pump_cb(struct tls_conn *conn) {
  struct bench *b = tls_conn_data(conn);

  while (b->sent < b->bytes && tls_conn_write_queued(conn) < HIGH_WATER) {
    if (tls_conn_write(conn, payload, sizeof(payload)) != 0)
      return;
    b->sent += sizeof(payload);
  }
  if (b->sent >= b->bytes && b->bytes > 0)
    tls_conn_shutdown(conn);
}

static void c_handshake_cb(struct tls_conn *conn, int status) {
  struct bench *b = tls_conn_data(conn);

  if (status != 0) {
    b->failures++;
    return;
  }
  if (b->bytes > 0) {
    b->t_start = now_s();
    c_pump_cb(conn);
  }
}

static void c_read_cb(struct tls_conn *conn, const uint8_t *p, size_t n) {
}

static void c_close_cb(struct tls_conn *conn, int err) {
}

static const struct tls_conn_cbs client_cbs = {.on_handshake = c_handshake_cb,
                                               .on_read = c_read_cb,
                                               .on_drain = c_pump_cb,
                                               .on_close = c_close_cb};

static void c_connect_cb(uv_connect_t *req, int status) {
  struct bench *b = req->data;
  struct tls_conn *conn;

  if (status != 0 || tls_conn_new(&conn, b->cconf, (uv_tcp_t *)req->handle,
                                  &client_cbs, b) != 0) {
    fprintf(stderr, "bench_crypto: connect failed\n");
    exit(1);
  }
}

static void client_thread(void *arg) {
  struct bench *b = arg;
  double c0 = cpu_s();
  int i;

  uv_loop_init(&b->cloop);
  for (i = 0; i < b->conns; i++) {
    uv_tcp_init(&b->cloop, &b->ctcp[i]);
    b->creq[i].data = b;
    uv_tcp_connect(&b->creq[i], &b->ctcp[i], (const struct sockaddr *)&b->addr,
                   c_connect_cb);
  }
  uv_run(&b->cloop, UV_RUN_DEFAULT);
  uv_loop_close(&b->cloop);
  b->cpu_client = cpu_s() - c0;
}

/* Runs one round; 0 when every handshake succeeded. */
static int bench_round(struct bench *b) {
  struct sockaddr_in any;
  int len = sizeof(b->addr);
  uv_thread_t thread;
  double c0;

  b->stcp = calloc((size_t)b->conns, sizeof(*b->stcp));
  b->sconn = calloc((size_t)b->conns, sizeof(*b->sconn));
  b->ctcp = calloc((size_t)b->conns, sizeof(*b->ctcp));
  b->creq = calloc((size_t)b->conns, sizeof(*b->creq));
  uv_loop_init(&b->sloop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  uv_tcp_init(&b->sloop, &b->listener);
  uv_timer_init(&b->sloop, &b->settle);
  b->listener.data = b->settle.data = b;
  if (uv_tcp_bind(&b->listener, (const struct sockaddr *)&any, 0) != 0 ||
      uv_listen((uv_stream_t *)&b->listener, 128, s_connection_cb) != 0 ||
      uv_tcp_getsockname(&b->listener, (struct sockaddr *)&b->addr, &len))
    return -1;

  b->heap_before = heap_in_use();
  c0 = cpu_s();
  uv_thread_create(&thread, client_thread, b);
  uv_run(&b->sloop, UV_RUN_DEFAULT);
  b->cpu_server = cpu_s() - c0;
  uv_thread_join(&thread);
  uv_loop_close(&b->sloop);
  free(b->stcp);
  free(b->sconn);
  free(b->ctcp);
  free(b->creq);
  return b->failures == 0 ? 0 : -1;
}

static int bench_tls(const struct tls_conf *sconf, const struct tls_conf *cconf,
                     int suite, uint64_t bytes) {
  struct bench b = {.conns = 1, .bytes = bytes, .sconf = sconf, .cconf = cconf};
  double secs;

  if (bench_round(&b) != 0 || b.got != bytes)
    return -1;
  secs = b.t_end - b.t_start;
  printf("tls   %-40s %5llu MiB  wall %6.2f s %7.1f MB/s  cpu client %.2f s "
         "%.1f MB/s, server %.2f s %.1f MB/s\n",
         mbedtls_ssl_get_ciphersuite_name(suite),
         (unsigned long long)(bytes >> 20), secs, (double)bytes / secs / 1e6,
         b.cpu_client, (double)bytes / b.cpu_client / 1e6, b.cpu_server,
         (double)bytes / b.cpu_server / 1e6);
  return 0;
}

static int bench_memory(const struct tls_conf *sconf,
                        const struct tls_conf *cconf, int conns) {
  struct bench b = {.conns = conns, .sconf = sconf, .cconf = cconf};

  if (bench_round(&b) != 0)
    return -1;
  printf("mem   %d connections after the handshake, idle: %zu bytes per "
         "end (heap of both ends / %d; the caller's uv_tcp_t excluded)\n",
         conns, (b.heap_after - b.heap_before) / (2 * (size_t)conns),
         2 * conns);
  printf("hs    %d handshakes (client and server on two threads) in %.3f s:"
         " %.0f/s\n",
         conns, b.t_hs_last - b.t_hs_first,
         conns / (b.t_hs_last - b.t_hs_first));
  printf("size  mbedtls_ssl_context %zu bytes; IN/OUT_CONTENT_LEN %d/%d\n",
         sizeof(mbedtls_ssl_context), MBEDTLS_SSL_IN_CONTENT_LEN,
         MBEDTLS_SSL_OUT_CONTENT_LEN);
  return 0;
}

/* ---- Set-up ------------------------------------------------------------ */

static char dir[64];

static int make_pki(void) {
  struct pki_ca ca;
  int rc;

  snprintf(dir, sizeof(dir), "/tmp/sp-bench-tls-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  pki_ca_init(&ca);
  rc = pki_ca_create(&ca, dir, "relay.bench");
  if (rc == 0)
    rc = pki_relay_issue(&ca, dir, "relay.bench", NULL);
  if (rc == 0)
    rc = pki_device_issue(&ca, dir, "bench", 0, NULL);
  pki_ca_free(&ca);
  return rc;
}

static int remove_cb(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw) {
  return remove(path);
}

static const char *at(char *out, size_t n, const char *file) {
  snprintf(out, n, "%s/%s", dir, file);
  return out;
}

static int client_conf(struct tls_conf **out, int suite) {
  struct tls_client_opts o = {0};
  char ca[96], crt[96], key[96];

  o.ca_file = at(ca, sizeof(ca), "ca.crt");
  o.crt_file = at(crt, sizeof(crt), "bench.crt");
  o.key_file = at(key, sizeof(key), "bench.key");
  o.server_name = "relay.bench";
  o.suite = suite;
  return tls_conf_client(out, &o);
}

static int server_conf(struct tls_conf **out) {
  struct tls_server_opts o = {0};
  char ca[96], crt[96], key[96];

  o.ca_file = at(ca, sizeof(ca), "ca.crt");
  o.crt_file = at(crt, sizeof(crt), "relay.crt");
  o.key_file = at(key, sizeof(key), "relay.key");
  o.client_cert = TLS_CLIENT_CERT_REQUIRED;
  return tls_conf_server(out, &o);
}

static int run_tls(uint64_t bytes, int conns) {
  struct tls_conf *sconf = NULL, *cconf = NULL;
  const int *suite;
  int rc;

  rc = server_conf(&sconf);
  for (suite = tls_suites(); rc == 0 && *suite != 0; suite++) {
    rc = client_conf(&cconf, *suite);
    if (rc == 0)
      rc = bench_tls(sconf, cconf, *suite, bytes);
    tls_conf_free(cconf);
    cconf = NULL;
  }
  if (rc == 0)
    rc = client_conf(&cconf, 0);
  if (rc == 0)
    rc = bench_memory(sconf, cconf, conns);
  tls_conf_free(cconf);
  tls_conf_free(sconf);
  return rc;
}

int main(int argc, char **argv) {
  uint64_t mib = 1024;
  int i, conns = 200, rc;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      mib = 16;
      conns = 10;
    } else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
      mib = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc) {
      conns = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_crypto [--quick] [--mib N] [--conns N]\n");
      return 2;
    }
  }
  if (mib == 0 || conns <= 0 || sp_random(rec, sizeof(rec)) != 0 ||
      sp_random(payload, sizeof(payload)) != 0)
    return 2;

  rc = bench_chachapoly(mib << 20);
  if (rc == 0)
    rc = bench_gcm("aes-128-gcm", 128, mib << 20);
  if (rc == 0)
    rc = bench_gcm("aes-256-gcm", 256, mib << 20);
  if (rc == 0)
    rc = make_pki();
  if (rc == 0)
    rc = run_tls(mib << 20, conns);
  nftw(dir, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) {
    fprintf(stderr, "bench_crypto: failed (%s)\n", sp_err_name(rc));
    return 1;
  }
  return 0;
}
