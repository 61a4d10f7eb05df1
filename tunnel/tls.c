/*
 * TLS connections over libuv TCP handles (see tls.h and docs/tls.md).
 *
 * The BIO adapter.  mbedTLS never touches the socket.  Its receive
 * callback copies from `in`, a buffer of TLS_IN_MAX bytes that uv_read
 * fills (alloc_cb hands libuv the free tail of it), and answers WANT_READ
 * when the buffer is empty, or 0 (end of file) once the peer has shut its
 * side.  `in` exists only while it holds bytes: an idle connection keeps
 * nothing but mbedTLS's own record buffers.  The send callback, and all
 * of writing, is in tls_out.c: it appends ciphertext to a chunk that
 * leaves without waiting, so the engine never blocks and never sees
 * WANT_WRITE.
 *
 * Reading.  Whenever bytes arrive the engine runs until it wants more
 * (handshake steps, then mbedtls_ssl_read() in a loop), which empties
 * `in` again unless the caller stops reading.  While reading is stopped
 * the socket is not read, and plaintext may wait in three places: `in`,
 * a record mbedTLS has fetched but not decrypted, and decrypted bytes not
 * yet handed out.  tls_conn_read_start() arms the timer at 0 so that all
 * of it is delivered on the next loop iteration, before the loop waits
 * on the socket again.
 *
 * States; conn_set_state() checks every move and logs it at debug level.
 *   START      made; the timer fires at once and begins the handshake, so
 *              no callback ever runs inside tls_conn_new()
 *   HANDSHAKE  the timer is the handshake deadline
 *   OPEN       application data flows; the timer, armed at 0, delivers
 *              plaintext left buffered by a read_stop
 *   SHUTDOWN   close_notify is queued and the TCP write side shut down
 *              after it; bytes that still arrive are dropped; the peer's
 *              end of file or the timer ends it
 *   CLOSING    uv_close() was called on the TCP handle and the timer; the
 *              last close callback calls on_close and frees the conn
 *
 * Pinned mode.  A pinned client has no CA to give mbedTLS, so mbedTLS's
 * own verdict on the chain (always "not trusted") is thrown away in the
 * verify callback and replaced by pin_check(): find the pinned CA among
 * the certificates the server sent, and verify the server's certificate
 * against that CA alone.  The callback records the outcome in `pin_ok`,
 * and a handshake that completes without it is failed anyway, so no
 * application data can flow on a connection whose pin check did not pass.
 *
 * tls_end() is the one teardown.  Memory is freed only in a libuv close
 * callback, which never runs inside another callback of this module, and
 * every loop that calls back into the caller checks the state after each
 * call, so closing from inside any callback is safe.
 */
#include "tunnel/tls.h"
#include "tunnel/pki.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

#include "common/err.h"
#include "common/log.h"
#include "tunnel/tls_conn_int.h"

static const char *const state_names[] = {"start", "handshake", "open",
                                          "shutdown", "closing"};

/* The legal moves, one bit per next state. */
#define TO(s) (1u << (s))
static const unsigned state_moves[] = {
    [TLS_START] = TO(TLS_HANDSHAKE) | TO(TLS_CLOSING),
    [TLS_HANDSHAKE] = TO(TLS_OPEN) | TO(TLS_CLOSING),
    [TLS_OPEN] = TO(TLS_SHUTDOWN) | TO(TLS_CLOSING),
    [TLS_SHUTDOWN] = TO(TLS_CLOSING),
    [TLS_CLOSING] = 0,
};

static _Atomic uint64_t next_id = 1;

static void timer_cb(uv_timer_t *timer);

/* A code's stable name, whether it is a libuv code or one of ours. */
static const char *err_name(int err, char *buf, size_t n) {
  if (err < 0 && err > -4096)
    return uv_err_name_r(err, buf, n);
  return sp_err_name(err);
}

/* Every change of state goes through here; an illegal move is a bug. */
static void conn_set_state(struct tls_conn *conn, enum tls_state next) {
  bool legal = (state_moves[conn->state] & TO(next)) != 0;

  sp_log(legal ? SP_LOG_DEBUG : SP_LOG_ERROR, "tls", "state",
         "tls=%llu from=%s to=%s%s", (unsigned long long)conn->id,
         state_names[conn->state], state_names[next],
         legal ? "" : " illegal=1");
  assert(legal);
  conn->state = next;
}

/* Translates an engine failure, preferring what a BIO callback saw. */
int tls_engine_err(struct tls_conn *conn, const char *op, int ret) {
  if (conn->bio_err != 0)
    return conn->bio_err;
  if (ret == MBEDTLS_ERR_SSL_CONN_EOF)
    return UV_EOF;
  if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && conn->ssl.in_msg != NULL)
    sp_debug("tls", "alert", "tls=%llu alert=%u", (unsigned long long)conn->id,
             (unsigned)conn->ssl.in_msg[1]);
  return tls_mbed_err(conn->id, op, ret);
}

static size_t conn_in_avail(const struct tls_conn *conn) {
  return conn->in_len - conn->in_off;
}

/* Drops what `in` holds (nothing, or bytes to discard) and frees it. */
static void conn_in_drop(struct tls_conn *conn) {
  free(conn->in);
  conn->in = NULL;
  conn->in_off = conn->in_len = 0;
}

/* Frees `in` once the engine has taken every byte. */
static void conn_in_trim(struct tls_conn *conn) {
  if (conn->in != NULL && conn_in_avail(conn) == 0)
    conn_in_drop(conn);
}

static void close_cb(uv_handle_t *handle) {
  struct tls_conn *conn = handle->data;

  assert(conn->closing > 0);
  if (--conn->closing > 0)
    return;
  batch_cancel(&conn->flush_item);
  conn->cbs.on_close(conn, conn->err);
  mbedtls_ssl_free(&conn->ssl);
  free(conn->out);
  free(conn->in);
  free(conn);
}

/*
 * The one teardown: records the cause, lets a pending alert go to the
 * kernel if it takes it at once, and closes both handles.  Queued writes
 * are cancelled by libuv before the close callbacks run.
 */
void tls_end(struct tls_conn *conn, int err) {
  char name[32];

  if (conn->state == TLS_CLOSING)
    return;
  conn_set_state(conn, TLS_CLOSING);
  conn->err = err;
  batch_cancel(&conn->flush_item);
  (void)tls_out_flush(conn);
  sp_debug("tls", "close", "tls=%llu err=%s in=%llu out=%llu",
           (unsigned long long)conn->id, err_name(err, name, sizeof(name)),
           (unsigned long long)conn->bytes_in,
           (unsigned long long)conn->bytes_out);
  conn->closing = 2;
  uv_close((uv_handle_t *)conn->tcp, close_cb);
  uv_close((uv_handle_t *)&conn->timer, close_cb);
}

/* Ends the connection; a handshake in progress is reported as failed. */
void tls_fail(struct tls_conn *conn, int err) {
  bool in_handshake = conn->state < TLS_OPEN;

  if (conn->state == TLS_SHUTDOWN)
    err = conn->err;
  tls_end(conn, err);
  if (in_handshake)
    conn->cbs.on_handshake(conn, err);
}

/* mbedTLS's receive callback: takes from `in`. */
static int bio_recv_cb(void *ctx, unsigned char *p, size_t n) {
  struct tls_conn *conn = ctx;
  size_t avail = conn_in_avail(conn);

  if (avail == 0)
    return conn->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  if (n > avail)
    n = avail;
  memcpy(p, conn->in + conn->in_off, n);
  conn->in_off += n;
  if (conn->in_off == conn->in_len)
    conn->in_off = conn->in_len = 0;
  return (int)n;
}

/* The CA among `c` and the certificates after it whose DER is the pin. */
static const mbedtls_x509_crt *pin_find(const struct tls_conf *conf,
                                        const mbedtls_x509_crt *c) {
  unsigned char hash[TLS_PIN_LEN];

  for (; c != NULL && c->raw.len > 0; c = c->next) {
    if (!c->ca_istrue || mbedtls_sha256_ret(c->raw.p, c->raw.len, hash, 0) != 0)
      continue;
    if (memcmp(hash, conf->pin, sizeof(hash)) == 0)
      return c;
  }
  return NULL;
}

/*
 * Pinned mode's verdict on the server's certificate `leaf`, whose `next`
 * list is the rest of what the server sent: MBEDTLS_X509_BADCERT_* flags,
 * 0 when the pinned CA is among them and `leaf` alone (a copy without the
 * rest of the chain, so no intermediate can stand in between) verifies
 * against that CA alone, for the expected name.
 */
static uint32_t pin_check(const struct tls_conf *conf,
                          const mbedtls_x509_crt *leaf) {
  const mbedtls_x509_crt *ca = pin_find(conf, leaf->next);
  const char *name = conf->server_ip_len > 0 ? NULL : conf->server_name;
  uint32_t flags;

  if (ca == NULL)
    return MBEDTLS_X509_BADCERT_NOT_TRUSTED;
  flags = pki_verify_alone(leaf, ca, name);

  if (flags == 0 && conf->server_ip_len > 0 &&
      !tls_crt_has_ip(leaf, conf->server_ip, conf->server_ip_len))
    flags = MBEDTLS_X509_BADCERT_CN_MISMATCH;
  return flags;
}

/*
 * The verify callback in pinned mode.  mbedTLS calls it for the top of the
 * chain it built first and for the server's certificate (depth 0) last,
 * and ORs the flags left behind into its result: clearing them above the
 * leaf and putting pin_check()'s there makes that result ours alone.
 */
static int verify_pinned(struct tls_conn *conn, mbedtls_x509_crt *crt,
                         int depth, uint32_t *flags) {
  char info[256], quoted[320];

  if (depth > 0) {
    *flags = 0;
    return 0;
  }
  *flags = pin_check(conn->conf, crt);
  conn->pin_ok = *flags == 0;
  if (conn->pin_ok)
    return 0;

  mbedtls_x509_crt_verify_info(info, sizeof(info), "", *flags);
  sp_debug("tls", "pin_refused", "tls=%llu flags=0x%x reason=%s",
           (unsigned long long)conn->id, (unsigned)*flags,
           sp_log_quote(quoted, sizeof(quoted), info));
  return 0;
}

/*
 * Checks the expected server's IP address, which mbedTLS 2.28 does not,
 * and in optional mode turns a refused certificate into a failed
 * handshake: mbedTLS would otherwise go on with a certificate that did
 * not verify, which a server must not take for a device's.
 */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth,
                     uint32_t *flags) {
  struct tls_conn *conn = ctx;
  const struct tls_conf *conf = conn->conf;
  char info[256], quoted[320];

  if (conf->pinned)
    return verify_pinned(conn, crt, depth, flags);
  if (depth == 0 && conf->server_ip_len > 0 &&
      !tls_crt_has_ip(crt, conf->server_ip, conf->server_ip_len))
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  if (*flags == 0)
    return 0;

  mbedtls_x509_crt_verify_info(info, sizeof(info), "", *flags);
  sp_debug("tls", "cert_refused", "tls=%llu depth=%d flags=0x%x reason=%s",
           (unsigned long long)conn->id, depth, (unsigned)*flags,
           sp_log_quote(quoted, sizeof(quoted), info));
  if (conf->authmode == MBEDTLS_SSL_VERIFY_OPTIONAL)
    return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
  return 0;
}

static void alloc_cb(uv_handle_t *handle, size_t hint, uv_buf_t *buf);
static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void shutdown_cb(uv_shutdown_t *req, int status);

/* Reads the socket exactly when there is a use and room for the bytes. */
static void conn_update_reading(struct tls_conn *conn) {
  bool want;
  int rc;

  if (conn->state == TLS_CLOSING)
    return;
  want = conn->state != TLS_OPEN || conn->want_read;
  want = want && !conn->eof && conn_in_avail(conn) < TLS_IN_MAX;

  if (want && !conn->reading) {
    rc = uv_read_start((uv_stream_t *)conn->tcp, alloc_cb, read_cb);
    if (rc != 0) {
      tls_fail(conn, rc);
      return;
    }
    conn->reading = true;
  } else if (!want && conn->reading) {
    uv_read_stop((uv_stream_t *)conn->tcp);
    conn->reading = false;
  }
}

/* Starts the graceful end: close_notify, then shut the write side. */
static void conn_shutdown(struct tls_conn *conn, int err) {
  int ret, rc;

  batch_cancel(&conn->flush_item);
  conn_set_state(conn, TLS_SHUTDOWN);
  conn->err = err;
  conn_in_drop(conn);
  conn->out_hint = TLS_RECORD_OVERHEAD;
  ret = mbedtls_ssl_close_notify(&conn->ssl);
  rc = ret != 0 ? tls_engine_err(conn, "close_notify", ret)
                : tls_out_flush(conn);
  if (rc == 0)
    rc = uv_shutdown(&conn->shut, (uv_stream_t *)conn->tcp, shutdown_cb);
  if (rc != 0) {
    tls_end(conn, err);
    return;
  }
  uv_timer_start(&conn->timer, timer_cb, conn->conf->limits.timeout_ms, 0);
  conn_update_reading(conn);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  struct tls_conn *conn = req->handle->data;

  if (conn->state != TLS_SHUTDOWN)
    return;
  conn->shut_done = true;
  if (status < 0 || conn->eof)
    tls_end(conn, conn->err);
}

/*
 * Runs the engine on what `in` holds and delivers plaintext while the
 * caller wants it, several records at a time: records are decrypted into
 * one buffer while a whole one still fits, then handed over in one call.
 * mbedTLS may also answer WANT_READ after a record that carried no data
 * (a refused renegotiation), so the loop goes on while input remains.
 */
static void conn_deliver(struct tls_conn *conn) {
  unsigned char plain[TLS_DELIVER_MAX];
  size_t filled;
  int ret;

  while (conn->state == TLS_OPEN && conn->want_read) {
    filled = 0;
    do {
      ret =
          mbedtls_ssl_read(&conn->ssl, plain + filled, sizeof(plain) - filled);
      if (ret > 0)
        filled += (size_t)ret;
    } while (ret > 0 && sizeof(plain) - filled >= TLS_PLAIN_MAX);

    if (filled > 0) {
      conn->bytes_in += filled;
      conn->cbs.on_read(conn, plain, filled);
      if (ret > 0 || conn->state != TLS_OPEN)
        continue; /* the buffer was full, or on_read ended the conn */
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
      if (conn_in_avail(conn) == 0 && !mbedtls_ssl_check_pending(&conn->ssl))
        break;
    } else if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      conn_shutdown(conn, UV_EOF);
    } else if (ret == 0) {
      tls_end(conn, UV_EOF); /* the peer closed without close_notify */
    } else {
      tls_end(conn, tls_engine_err(conn, "read", ret));
    }
  }

  /* Reading may have made the engine answer (an alert, say). */
  if (conn->state == TLS_OPEN && (ret = tls_out_flush(conn)) != 0)
    tls_end(conn, ret);
}

static void conn_log_handshake(struct tls_conn *conn) {
  const mbedtls_x509_crt *peer = tls_conn_peer_cert(conn);
  char dn[256], quoted[300];

  if (sp_log_get_level() > SP_LOG_DEBUG)
    return;
  if (peer == NULL || mbedtls_x509_dn_gets(dn, sizeof(dn), &peer->subject) < 0)
    snprintf(dn, sizeof(dn), "none");
  sp_debug("tls", "handshake", "tls=%llu suite=%s peer=%s",
           (unsigned long long)conn->id, tls_conn_cipher(conn),
           sp_log_quote(quoted, sizeof(quoted), dn));
}

static void conn_established(struct tls_conn *conn) {
  conn_set_state(conn, TLS_OPEN);
  conn->established = true;
  uv_timer_stop(&conn->timer);
  conn_log_handshake(conn);

  conn->cbs.on_handshake(conn, 0);
  if (conn->state == TLS_OPEN)
    conn_deliver(conn);
}

static void conn_handshake(struct tls_conn *conn) {
  int ret, rc;

  conn->out_hint = TLS_OUT_HANDSHAKE;
  ret = mbedtls_ssl_handshake(&conn->ssl);
  if (ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
    /* mbedTLS hangs up without a word; RFC 5246 7.4.6 names this alert. */
    (void)mbedtls_ssl_send_alert_message(
        &conn->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
        MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
  rc = tls_out_flush(conn);
  if (ret != 0 && ret != MBEDTLS_ERR_SSL_WANT_READ)
    rc = tls_engine_err(conn, "handshake", ret);
  if (rc == 0 && ret == 0 && conn->conf->pinned && !conn->pin_ok)
    rc = SP_ECERT; /* never expected: mbedTLS failed the handshake first */
  if (rc != 0)
    tls_fail(conn, rc);
  else if (ret == 0)
    conn_established(conn);
}

/* Moves the connection on after input or end of file. */
static void conn_advance(struct tls_conn *conn) {
  switch (conn->state) {
  case TLS_START:
    break; /* the timer begins the handshake */
  case TLS_HANDSHAKE:
    conn_handshake(conn);
    break;
  case TLS_OPEN:
    conn_deliver(conn);
    break;
  case TLS_SHUTDOWN:
    conn_in_drop(conn);
    if (conn->eof && conn->shut_done)
      tls_end(conn, conn->err);
    break;
  case TLS_CLOSING:
    break;
  }
  conn_update_reading(conn);
}

/*
 * Hands libuv the free tail of `in`, allocating it or moving what is left
 * to the front first.  Out of memory, it hands nothing, and libuv reports
 * UV_ENOBUFS.
 */
static void alloc_cb(uv_handle_t *handle, size_t hint, uv_buf_t *buf) {
  struct tls_conn *conn = handle->data;
  size_t left = conn_in_avail(conn);

  *buf = uv_buf_init(NULL, 0);
  if (conn->in == NULL && (conn->in = malloc(TLS_IN_MAX)) == NULL)
    return;
  if (conn->in_off > 0) {
    memmove(conn->in, conn->in + conn->in_off, left);
    conn->in_off = 0;
    conn->in_len = left;
  }
  *buf = uv_buf_init((char *)conn->in + conn->in_len,
                     (unsigned)(TLS_IN_MAX - conn->in_len));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  struct tls_conn *conn = stream->data;

  if (conn->state == TLS_CLOSING)
    return;
  if (nread == UV_ENOBUFS && conn->in == NULL) {
    tls_fail(conn, SP_ENOMEM);
    return;
  }
  if (nread < 0 && nread != UV_EOF && nread != UV_ENOBUFS) {
    tls_fail(conn, (int)nread);
    return;
  }

  if (nread == UV_EOF)
    conn->eof = true;
  else if (nread > 0)
    conn->in_len += (size_t)nread;
  if (nread != 0)
    conn_advance(conn); /* also stops reading when `in` is full */
  conn_in_trim(conn);
}

static void timer_cb(uv_timer_t *timer) {
  struct tls_conn *conn = timer->data;

  switch (conn->state) {
  case TLS_START:
    conn_set_state(conn, TLS_HANDSHAKE);
    uv_timer_start(timer, timer_cb, conn->conf->limits.timeout_ms, 0);
    conn_handshake(conn);
    break;
  case TLS_HANDSHAKE:
    sp_debug("tls", "timeout", "tls=%llu phase=handshake",
             (unsigned long long)conn->id);
    tls_fail(conn, UV_ETIMEDOUT);
    break;
  case TLS_OPEN:
    conn_deliver(conn);
    break;
  case TLS_SHUTDOWN:
    sp_debug("tls", "timeout", "tls=%llu phase=shutdown",
             (unsigned long long)conn->id);
    tls_end(conn, conn->err);
    break;
  case TLS_CLOSING:
    break;
  }
  conn_update_reading(conn);
  conn_in_trim(conn);
}

/* Sets up the engine for `conn`; returns 0 or a translated error. */
static int conn_engine(struct tls_conn *conn) {
  const struct tls_conf *conf = conn->conf;
  int ret;

  mbedtls_ssl_init(&conn->ssl);
  ret = mbedtls_ssl_setup(&conn->ssl, &conf->ssl);
  if (ret == 0 && !conf->server && conf->server_ip_len == 0)
    ret = mbedtls_ssl_set_hostname(&conn->ssl, conf->server_name);
  if (ret != 0)
    return tls_mbed_err(conn->id, "setup", ret);
  mbedtls_ssl_set_bio(&conn->ssl, conn, tls_out_bio_send, bio_recv_cb, NULL);
  mbedtls_ssl_set_verify(&conn->ssl, verify_cb, conn);
  return 0;
}

int tls_conn_prime(struct tls_conn *conn, const void *p, size_t n) {
  if (n == 0)
    return 0;
  if (conn->state != TLS_START || conn->in != NULL || n > TLS_IN_MAX)
    return SP_EUSAGE;
  conn->in = malloc(TLS_IN_MAX);
  if (conn->in == NULL)
    return SP_ENOMEM;
  memcpy(conn->in, p, n);
  conn->in_off = 0;
  conn->in_len = n;
  return 0;
}

int tls_conn_new(struct tls_conn **out, const struct tls_conf *conf,
                 uv_tcp_t *tcp, const struct tls_conn_cbs *cbs, void *data) {
  struct tls_conn *conn;
  void *old_data = tcp->data;
  int rc;

  if (cbs->on_handshake == NULL || cbs->on_read == NULL ||
      cbs->on_close == NULL)
    return SP_EUSAGE;
  conn = calloc(1, sizeof(*conn));
  if (conn == NULL)
    return SP_ENOMEM;
  conn->conf = conf;
  conn->tcp = tcp;
  conn->cbs = *cbs;
  conn->data = data;
  conn->id = atomic_fetch_add(&next_id, 1);
  conn->want_read = true;

  rc = conn_engine(conn);
  if (rc == 0) {
    tcp->data = conn;
    rc = uv_read_start((uv_stream_t *)tcp, alloc_cb, read_cb);
  }
  if (rc != 0) {
    tcp->data = old_data;
    mbedtls_ssl_free(&conn->ssl);
    free(conn);
    return rc;
  }

  /* Records go out whole, one write per call, so Nagle only adds delay. */
  (void)uv_tcp_nodelay(tcp, 1);
  conn->reading = true;
  uv_timer_init(tcp->loop, &conn->timer);
  conn->timer.data = conn;
  uv_timer_start(&conn->timer, timer_cb, 0, 0);
  *out = conn;
  return 0;
}

void tls_conn_read_stop(struct tls_conn *conn) {
  conn->want_read = false;
  if (conn->state == TLS_OPEN)
    conn_update_reading(conn);
}

void tls_conn_read_start(struct tls_conn *conn) {
  if (conn->want_read)
    return;
  conn->want_read = true;
  if (conn->state != TLS_OPEN)
    return;
  if (conn_in_avail(conn) > 0 || conn->eof ||
      mbedtls_ssl_get_bytes_avail(&conn->ssl) > 0 ||
      mbedtls_ssl_check_pending(&conn->ssl))
    uv_timer_start(&conn->timer, timer_cb, 0, 0);
  conn_update_reading(conn);
}

void tls_conn_shutdown(struct tls_conn *conn) {
  if (conn->state < TLS_OPEN)
    tls_end(conn, 0);
  else if (conn->state == TLS_OPEN)
    conn_shutdown(conn, 0);
}

void tls_conn_close(struct tls_conn *conn, int err) {
  tls_end(conn, err);
}

const mbedtls_x509_crt *tls_conn_peer_cert(const struct tls_conn *conn) {
  if (!conn->established || mbedtls_ssl_get_verify_result(&conn->ssl) != 0)
    return NULL;
  return mbedtls_ssl_get_peer_cert(&conn->ssl);
}

const char *tls_conn_cipher(const struct tls_conn *conn) {
  const char *name;

  if (!conn->established)
    return "none";
  name = mbedtls_ssl_get_ciphersuite(&conn->ssl);
  return name != NULL ? name : "none";
}

void *tls_conn_data(const struct tls_conn *conn) {
  return conn->data;
}

uv_tcp_t *tls_conn_tcp(const struct tls_conn *conn) {
  return conn->tcp;
}
