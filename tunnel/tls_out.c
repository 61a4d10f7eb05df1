/*
 * The output side of a TLS connection (see tls_conn_int.h).
 *
 * mbedTLS's send callback appends ciphertext to `out`, the chunk being
 * filled.  The chunk is sized for the write at hand and grows, up to
 * TLS_OUT_CHUNK (four full records), when a later write joins it; it
 * goes to the kernel when it is full, at the end of every write, or,
 * on a connection given a batch, once per loop iteration before the
 * loop waits (docs/tls.md).  uv_try_write() comes first; what the
 * kernel does not take at once is queued with uv_write() and freed in
 * the write callback.  The caller bounds the queue with
 * tls_conn_write_queued() and on_drain.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tunnel/tls_conn_int.h"

static void write_cb(uv_write_t *req, int status);

/* Hands the chunk being filled to uv_write. */
int tls_out_flush(struct tls_conn *conn) {
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
      tls_fail(conn, status);
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
  rc = tls_out_flush(conn);
  if (rc != 0)
    tls_end(conn, rc);
  else
    conn_check_drain(conn);
}

/* mbedTLS's send callback: appends to the chunk being filled. */
int tls_out_bio_send(void *ctx, const unsigned char *p, size_t n) {
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
    rc = tls_out_flush(conn);
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
      return tls_engine_err(conn, "write", ret);
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
    rc = tls_out_flush(conn);
  if (rc != 0) {
    tls_end(conn, rc);
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
    if (conn->state == TLS_OPEN && (rc = tls_out_flush(conn)) != 0)
      tls_end(conn, rc);
  }
  conn->batch = b;
}

size_t tls_conn_write_queued(const struct tls_conn *conn) {
  size_t n = uv_stream_get_write_queue_size((const uv_stream_t *)conn->tcp);

  return conn->out != NULL ? n + conn->out->len : n;
}
