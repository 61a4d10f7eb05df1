/*
 * TLS connections over libuv TCP handles (see tls.h and docs/tls.md).
 *
 * The BIO adapter.  mbedTLS never touches the socket.  Its receive
 * callback copies from `in`, a buffer of TLS_IN_MAX bytes that uv_read
 * fills (alloc_cb hands libuv the free tail of it), and answers WANT_READ
 * when the buffer is empty, or 0 (end of file) once the peer has shut its
 * side.  `in` exists only while it holds bytes: an idle connection keeps
 * nothing but mbedTLS's own record buffers.  The send callback appends
 * ciphertext to `out`, the chunk being filled, which goes to uv_write when
 * full and at the end of every engine call, and is freed in the write
 * callback.  So the engine never blocks
 * and never sees WANT_WRITE; the caller bounds the write queue with
 * tls_conn_write_queued() and on_drain.
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
 * conn_end() is the one teardown.  Memory is freed only in a libuv close
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
#include "tunnel/batch.h"
#include "tunnel/tls_int.h"

/* The largest record's plaintext, each way. */
#define TLS_PLAIN_MAX MBEDTLS_SSL_IN_CONTENT_LEN
#define TLS_SEAL_MAX MBEDTLS_SSL_OUT_CONTENT_LEN

/* Upper bound of an AEAD record's overhead: header, nonce, tag. */
#define TLS_RECORD_OVERHEAD 32

/* Records taken per read and per delivery.  One read of four full
 * records, and one on_read of their plaintext, cost a quarter of the
 * system calls and wake-ups of one each (docs/tls.md, "Batching"). */
#define TLS_BATCH_RECORDS 4

/* Ciphertext read at once. */
#define TLS_IN_MAX (TLS_BATCH_RECORDS * (TLS_PLAIN_MAX + TLS_RECORD_OVERHEAD))

/* Plaintext handed to on_read at once. */
#define TLS_DELIVER_MAX (TLS_BATCH_RECORDS * TLS_PLAIN_MAX)

/* Ciphertext is gathered into chunks of up to four full records, so that
 * one uv_write carries a 64 KiB tls_conn_write(). */
#define TLS_OUT_CHUNK (TLS_BATCH_RECORDS * (TLS_SEAL_MAX + TLS_RECORD_OVERHEAD))

/* The first chunk of a handshake flight; certificates are under 1 KiB. */
#define TLS_OUT_HANDSHAKE 4096

enum tls_state {
  TLS_START,
  TLS_HANDSHAKE,
  TLS_OPEN,
  TLS_SHUTDOWN,
  TLS_CLOSING,
};

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

/* A chunk of ciphertext and the write request that carries it. */
struct tls_out {
  uv_write_t req; /* first, so the request is the chunk */
  size_t len;
  size_t cap;
  unsigned char data[];
};

struct tls_conn {
  mbedtls_ssl_context ssl;
  const struct tls_conf *conf; /* borrowed; outlives the conn */
  uv_tcp_t *tcp;               /* the caller's memory; the conn closes it */
  uv_timer_t timer;            /* its use depends on the state */
  uv_shutdown_t shut;
  struct tls_conn_cbs cbs;
  void *data; /* the caller's */
  uint64_t id;
  enum tls_state state;
  int err;           /* why it ends: set on leaving OPEN */
  int bio_err;       /* a failure inside a BIO callback, for translation */
  unsigned closing;  /* close callbacks still due */
  bool want_read;    /* the caller's read_start/read_stop */
  bool reading;      /* uv_read_start() is in effect */
  bool eof;          /* the peer shut its side of the TCP connection */
  bool shut_done;    /* our side is shut too (SHUTDOWN only) */
  bool established;  /* the handshake completed */
  bool above_high;   /* the write queue reached write_high */
  bool pin_ok;       /* pinned mode: pin_check() passed */
  uint64_t bytes_in; /* plaintext, for the closing log line */
  uint64_t bytes_out;
  struct batch *batch;          /* flushes writes before the loop waits */
  struct batch_item flush_item; /* queued while `out` waits for it */
  struct tls_out *out;          /* the chunk being filled; owned */
  size_t out_hint;              /* size of the next chunk */
  unsigned char *in; /* TLS_IN_MAX bytes, or NULL when empty; owned */
  size_t in_off;     /* `in` holds bytes [in_off, in_len) */
  size_t in_len;
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
static int conn_mbed(struct tls_conn *conn, const char *op, int ret) {
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

static void write_cb(uv_write_t *req, int status);

/* Hands the chunk being filled to uv_write. */
static int conn_flush(struct tls_conn *conn) {
  struct tls_out *o = conn->out;
  uv_buf_t buf;
  int rc;

  if (o == NULL)
    return 0;
  conn->out = NULL;
  buf = uv_buf_init((char *)o->data, (unsigned)o->len);

  /* With nothing queued, the kernel usually takes a chunk at once: that
     spares libuv arming the socket for writability and a callback. */
  if (uv_stream_get_write_queue_size((uv_stream_t *)conn->tcp) == 0) {
    rc = uv_try_write((uv_stream_t *)conn->tcp, &buf, 1);
    if (rc == (int)buf.len) {
      free(o);
      return 0;
    }
    if (rc > 0) {
      buf.base += rc;
      buf.len -= (size_t)rc;
    } else if (rc != UV_EAGAIN) {
      free(o);
      return rc;
    }
  }
  rc = uv_write(&o->req, (uv_stream_t *)conn->tcp, &buf, 1, write_cb);
  if (rc != 0) {
    free(o);
    return rc;
  }
  return 0;
}

/*
 * The one teardown: records the cause, lets a pending alert go to the
 * kernel if it takes it at once, and closes both handles.  Queued writes
 * are cancelled by libuv before the close callbacks run.
 */
static void conn_end(struct tls_conn *conn, int err) {
  char name[32];

  if (conn->state == TLS_CLOSING)
    return;
  conn_set_state(conn, TLS_CLOSING);
  conn->err = err;
  batch_cancel(&conn->flush_item);
  (void)conn_flush(conn);
  sp_debug("tls", "close", "tls=%llu err=%s in=%llu out=%llu",
           (unsigned long long)conn->id, err_name(err, name, sizeof(name)),
           (unsigned long long)conn->bytes_in,
           (unsigned long long)conn->bytes_out);
  conn->closing = 2;
  uv_close((uv_handle_t *)conn->tcp, close_cb);
  uv_close((uv_handle_t *)&conn->timer, close_cb);
}

/* Ends the connection; a handshake in progress is reported as failed. */
static void conn_fail(struct tls_conn *conn, int err) {
  bool in_handshake = conn->state < TLS_OPEN;

  if (conn->state == TLS_SHUTDOWN)
    err = conn->err;
  conn_end(conn, err);
  if (in_handshake)
    conn->cbs.on_handshake(conn, err);
}

/* Tells the caller once the queue, having reached write_high, is low. */
static void conn_check_drain(struct tls_conn *conn) {
  if (conn->above_high && conn->state == TLS_OPEN &&
      tls_conn_write_queued(conn) <= conn->conf->limits.write_low) {
    conn->above_high = false;
    if (conn->cbs.on_drain != NULL)
      conn->cbs.on_drain(conn);
  }
}

static void write_cb(uv_write_t *req, int status) {
  struct tls_conn *conn = req->handle->data;

  free((struct tls_out *)req);
  if (status < 0) {
    if (status != UV_ECANCELED)
      conn_fail(conn, status);
    return;
  }
  conn_check_drain(conn);
}

/* The batch's turn: the chunk written since the last flush goes out. */
static void batch_flush_cb(struct batch_item *it) {
  struct tls_conn *conn = batch_owner(it, struct tls_conn, flush_item);
  int rc;

  if (conn->state != TLS_OPEN)
    return;
  rc = conn_flush(conn);
  if (rc != 0)
    conn_end(conn, rc);
  else
    conn_check_drain(conn);
}

/* mbedTLS's send callback: appends to the chunk being filled. */
static int bio_send_cb(void *ctx, const unsigned char *p, size_t n) {
  struct tls_conn *conn = ctx;
  struct tls_out *o = conn->out;
  size_t cap;
  int rc;

  /* A chunk that later writes join (a batched connection's) grows up to
     TLS_OUT_CHUNK before it leaves; past that it leaves whole. */
  if (o != NULL && o->cap - o->len < n && o->len + n <= TLS_OUT_CHUNK) {
    cap = 2 * o->cap > o->len + n ? 2 * o->cap : o->len + n;
    cap = cap < TLS_OUT_CHUNK ? cap : TLS_OUT_CHUNK;
    o = realloc(o, sizeof(*o) + cap);
    if (o != NULL) {
      o->cap = cap;
      conn->out = o;
    } else {
      o = conn->out;
    }
  }
  if (o != NULL && o->cap - o->len < n) {
    rc = conn_flush(conn);
    if (rc != 0) {
      conn->bio_err = rc;
      return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    o = NULL;
  }

  if (o == NULL) {
    cap = n > conn->out_hint ? n : conn->out_hint;
    o = malloc(sizeof(*o) + cap);
    if (o == NULL) {
      conn->bio_err = SP_ENOMEM;
      return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    }
    o->len = 0;
    o->cap = cap;
    conn->out = o;
  }

  memcpy(o->data + o->len, p, n);
  o->len += n;
  return (int)n;
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
      conn_fail(conn, rc);
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
  rc = ret != 0 ? conn_mbed(conn, "close_notify", ret) : conn_flush(conn);
  if (rc == 0)
    rc = uv_shutdown(&conn->shut, (uv_stream_t *)conn->tcp, shutdown_cb);
  if (rc != 0) {
    conn_end(conn, err);
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
    conn_end(conn, conn->err);
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
      conn_end(conn, UV_EOF); /* the peer closed without close_notify */
    } else {
      conn_end(conn, conn_mbed(conn, "read", ret));
    }
  }

  /* Reading may have made the engine answer (an alert, say). */
  if (conn->state == TLS_OPEN && (ret = conn_flush(conn)) != 0)
    conn_end(conn, ret);
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
  rc = conn_flush(conn);
  if (ret != 0 && ret != MBEDTLS_ERR_SSL_WANT_READ)
    rc = conn_mbed(conn, "handshake", ret);
  if (rc == 0 && ret == 0 && conn->conf->pinned && !conn->pin_ok)
    rc = SP_ECERT; /* never expected: mbedTLS failed the handshake first */
  if (rc != 0)
    conn_fail(conn, rc);
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
      conn_end(conn, conn->err);
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
    conn_fail(conn, SP_ENOMEM);
    return;
  }
  if (nread < 0 && nread != UV_EOF && nread != UV_ENOBUFS) {
    conn_fail(conn, (int)nread);
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
    conn_fail(conn, UV_ETIMEDOUT);
    break;
  case TLS_OPEN:
    conn_deliver(conn);
    break;
  case TLS_SHUTDOWN:
    sp_debug("tls", "timeout", "tls=%llu phase=shutdown",
             (unsigned long long)conn->id);
    conn_end(conn, conn->err);
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
  mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send_cb, bio_recv_cb, NULL);
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

/* The next chunk's size for `n` bytes of plaintext. */
static size_t write_hint(size_t n) {
  size_t records = n / TLS_SEAL_MAX + 1;

  if (n > TLS_OUT_CHUNK)
    return TLS_OUT_CHUNK;
  n += records * TLS_RECORD_OVERHEAD;
  return n < TLS_OUT_CHUNK ? n : TLS_OUT_CHUNK;
}

/* Seals `n` bytes into as many records as they need; no flush. */
static int conn_seal(struct tls_conn *conn, const unsigned char *p, size_t n) {
  int ret;

  while (n > 0) {
    ret = mbedtls_ssl_write(&conn->ssl, p, n);
    if (ret <= 0)
      return conn_mbed(conn, "write", ret);
    p += ret;
    n -= (size_t)ret;
    conn->bytes_out += (uint64_t)ret;
  }
  return 0;
}

/*
 * Pieces are gathered into full records: a piece that starts a record
 * and fills it is sealed where it lies, and the rest is copied into
 * `stage` first, so that small pieces (frame headers) never make records
 * of their own.
 */
int tls_conn_writev(struct tls_conn *conn, const uv_buf_t *bufs, size_t n) {
  unsigned char stage[TLS_SEAL_MAX];
  size_t i, off, take, fill = 0, total = 0;
  const unsigned char *p;
  int rc = 0;

  if (conn->state != TLS_OPEN)
    return conn->state < TLS_OPEN ? UV_ENOTCONN : UV_EPIPE;

  for (i = 0; i < n; i++)
    total += bufs[i].len;
  conn->out_hint = write_hint(total);
  for (i = 0; i < n && rc == 0; i++) {
    p = (const unsigned char *)bufs[i].base;
    for (off = 0; off < bufs[i].len && rc == 0; off += take) {
      take = bufs[i].len - off;
      if (fill == 0 && take >= TLS_SEAL_MAX) {
        take -= take % TLS_SEAL_MAX;
        rc = conn_seal(conn, p + off, take);
        continue;
      }
      if (take > TLS_SEAL_MAX - fill)
        take = TLS_SEAL_MAX - fill;
      memcpy(stage + fill, p + off, take);
      fill += take;
      if (fill == TLS_SEAL_MAX) {
        rc = conn_seal(conn, stage, fill);
        fill = 0;
      }
    }
  }
  if (rc == 0 && fill > 0)
    rc = conn_seal(conn, stage, fill);
  if (rc == 0 && conn->batch != NULL && conn->out != NULL)
    batch_add(conn->batch, &conn->flush_item, batch_flush_cb);
  else if (rc == 0)
    rc = conn_flush(conn);
  if (rc != 0) {
    conn_end(conn, rc);
    return rc;
  }
  if (tls_conn_write_queued(conn) >= conn->conf->limits.write_high)
    conn->above_high = true;
  return 0;
}

int tls_conn_write(struct tls_conn *conn, const void *p, size_t n) {
  uv_buf_t buf = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);

  return tls_conn_writev(conn, &buf, 1);
}

void tls_conn_set_batch(struct tls_conn *conn, struct batch *b) {
  int rc;

  if (b == NULL && conn->batch != NULL) {
    batch_cancel(&conn->flush_item);
    if (conn->state == TLS_OPEN && (rc = conn_flush(conn)) != 0)
      conn_end(conn, rc);
  }
  conn->batch = b;
}

size_t tls_conn_write_queued(const struct tls_conn *conn) {
  size_t n = uv_stream_get_write_queue_size((const uv_stream_t *)conn->tcp);

  return conn->out != NULL ? n + conn->out->len : n;
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
    conn_end(conn, 0);
  else if (conn->state == TLS_OPEN)
    conn_shutdown(conn, 0);
}

void tls_conn_close(struct tls_conn *conn, int err) {
  conn_end(conn, err);
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
