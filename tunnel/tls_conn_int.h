/*
 * One TLS connection's state, shared by tunnel/tls.c (the engine: the
 * handshake, reading, shutdown and teardown) and tunnel/tls_out.c (the
 * output: ciphertext chunks, writes, batching and backpressure).  Not
 * for use outside those two files.
 */
#ifndef SP_TUNNEL_TLS_CONN_INT_H
#define SP_TUNNEL_TLS_CONN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <uv.h>

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

/* tls.c: the one teardown; a failure that also ends a handshake; an
   engine result translated (preferring what a BIO callback saw). */
void tls_end(struct tls_conn *conn, int err);
void tls_fail(struct tls_conn *conn, int err);
int tls_engine_err(struct tls_conn *conn, const char *op, int ret);

/* tls_out.c: hands the chunk being filled to the kernel; mbedTLS's send
   callback, which appends to it. */
int tls_out_flush(struct tls_conn *conn);
int tls_out_bio_send(void *ctx, const unsigned char *p, size_t n);

#endif
