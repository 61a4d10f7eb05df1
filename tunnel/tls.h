/*
 * TLS 1.2 over libuv TCP handles, with mbedTLS (see docs/tls.md).
 *
 * A `struct tls_conf` holds what every connection of one role shares:
 * the certificates, the key, the verification rules and the limits.  It
 * is built once and is read-only afterwards, so the event loops of every
 * thread may share it.  A `struct tls_conn` runs one TLS connection on a
 * TCP handle that the caller has connected or accepted.
 *
 * Every role uses TLS 1.2 only, ECDHE-ECDSA suites with AEAD ciphers, and
 * verifies its peer explicitly: a client always requires the server's
 * certificate to chain to its trusted CA and to name the expected server;
 * a server asks for client certificates as its conf says.
 *
 * Errors: 0 or a negative code, either a libuv/errno code (UV_ETIMEDOUT,
 * UV_EOF, UV_ECONNRESET ...) or one of common/err.h: SP_ETLS for a
 * handshake or record failure, SP_ECERT when a certificate was refused on
 * this side, SP_ENOMEM, SP_EUSAGE.  Each mbedTLS failure is logged once at
 * debug level (`mod=tls ev=mbed_error`) with its code and text.
 */
#ifndef SP_TUNNEL_TLS_H
#define SP_TUNNEL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crt.h>
#include <uv.h>

/* Defaults for `struct tls_limits` fields left at 0. */
#define TLS_TIMEOUT_MS_DEFAULT 10000
#define TLS_WRITE_HIGH_DEFAULT (1024 * 1024)
#define TLS_WRITE_LOW_DEFAULT (256 * 1024)

/* What a server asks of its clients. */
enum tls_client_cert {
  TLS_CLIENT_CERT_NONE,     /* no certificate is requested */
  TLS_CLIENT_CERT_OPTIONAL, /* requested; one that is sent must verify */
  TLS_CLIENT_CERT_REQUIRED, /* no verified certificate, no handshake */
};

/* Limits for every connection of one conf; a field at 0 takes the default. */
struct tls_limits {
  /* How long a handshake may take, and how long a shutdown may wait for
   * the peer before the connection is cut (UV_ETIMEDOUT for a handshake). */
  unsigned timeout_ms;

  /* on_drain is called once the write queue, having reached write_high
   * after a tls_conn_write(), has fallen to write_low or below. */
  size_t write_high;
  size_t write_low;
};

/* A server's role.  Every pointer is borrowed for the call only. */
struct tls_server_opts {
  const char *ca_file;  /* PEM CAs for client certificates; NULL with NONE */
  const char *crt_file; /* own certificate chain, PEM, leaf first */
  const char *key_file; /* own private key, PEM */
  enum tls_client_cert client_cert;
  struct tls_limits limits;
};

/*
 * A client's role.  Every pointer is borrowed for the call only.
 *
 * Pinned mode (pin_sha256 set, ca_file and ca_pem NULL) is for a client
 * that knows its CA only by fingerprint, as a connector does while it
 * enrols: the server is trusted if and only if the chain it sends holds a
 * CA certificate whose DER has that SHA-256, and the server's own
 * certificate is signed by that very CA and names server_name.  Nothing
 * else the server sends is trusted, and no application data flows unless
 * the check passed.
 */
struct tls_client_opts {
  const char *ca_file;     /* PEM CAs to trust; NULL to use ca_pem */
  const char *ca_pem;      /* NUL-terminated PEM, when ca_file is NULL */
  const char *pin_sha256;  /* NULL, or 64 lower-case hex digits: pinned
                            * mode, with ca_file and ca_pem NULL */
  const char *crt_file;    /* own certificate chain; NULL for none */
  const char *key_file;    /* own key; NULL exactly when crt_file is */
  const char *server_name; /* required: a DNS name or an IP literal that
                            * the server's certificate must name */
  int suite;               /* 0: offer every suite; else the IANA id of
                            * one of them, offered alone (benchmarks) */
  struct tls_limits limits;
};

struct tls_conf;

/*
 * Builds a conf into `*out` (owned by the caller; tls_conf_free()).  A
 * missing file gives its errno code (-ENOENT ...), a file that does not
 * parse or a key that does not match its certificate SP_ECRYPTO, an
 * inconsistent option SP_EUSAGE.
 */
int tls_conf_server(struct tls_conf **out, const struct tls_server_opts *o);
int tls_conf_client(struct tls_conf **out, const struct tls_client_opts *o);

/* Frees `conf` (NULL accepted); every connection using it must be gone. */
void tls_conf_free(struct tls_conf *conf);

/* The IANA ids of the suites every conf offers, in preference order,
 * 0-terminated.  The list is static. */
const int *tls_suites(void);

struct tls_conn;

/*
 * Callbacks, all called from the loop, never from inside tls_conn_new().
 * Each may call any tls_conn_* function on its connection, including
 * tls_conn_close().
 */
struct tls_conn_cbs {
  /* Once: 0 when the handshake is done, or the reason it failed, after
   * which on_close follows.  Not called when the caller closed first. */
  void (*on_handshake)(struct tls_conn *conn, int status);

  /* Plaintext from the peer; `p` is borrowed for the call only. */
  void (*on_read)(struct tls_conn *conn, const uint8_t *p, size_t n);

  /* May be NULL.  See `struct tls_limits`. */
  void (*on_drain)(struct tls_conn *conn);

  /* Exactly once, after the TCP handle's close callback: `err` is the
   * cause (0 after tls_conn_shutdown() or tls_conn_close(conn, 0), UV_EOF
   * when the peer closed).  The caller may now free the TCP handle's
   * memory; the module frees `conn` when this returns. */
  void (*on_close)(struct tls_conn *conn, int err);
};

/*
 * Starts TLS on `tcp`, initialised on its loop and connected or accepted
 * by the caller.  `conf` is borrowed and must outlive the connection;
 * `cbs` is copied (on_drain may be NULL, the others may not); `data` is
 * the caller's (tls_conn_data()).  The handshake starts on the next loop
 * iteration.
 *
 * On success the connection takes over `tcp`: its `data` field, reading
 * from it, writing to it and closing it.  `tcp` remains the caller's
 * memory, which must stay valid until on_close.  On failure nothing is
 * taken and the caller still closes `tcp`.
 */
int tls_conn_new(struct tls_conn **out, const struct tls_conf *conf,
                 uv_tcp_t *tcp, const struct tls_conn_cbs *cbs, void *data);

/*
 * Gives the connection bytes already read from `tcp` before it was
 * handed over (what followed a PROXY protocol header, say), to be
 * consumed before anything the socket delivers.  Only right after
 * tls_conn_new(), at most one TLS record's worth; SP_EUSAGE otherwise.
 */
int tls_conn_prime(struct tls_conn *conn, const void *p, size_t n);

/*
 * Encrypts `n` bytes of `p` (borrowed for the call only) and queues them
 * on the socket.  The queue is unbounded: the caller keeps it in check
 * with tls_conn_write_queued() and on_drain.  UV_ENOTCONN before the
 * handshake is done, UV_EPIPE once the connection is shutting down or
 * closing; any other failure closes the connection (on_close follows).
 */
int tls_conn_write(struct tls_conn *conn, const void *p, size_t n);

/*
 * The same for `n` pieces, sent in order as if they were one buffer:
 * small pieces share records, so a frame header and its payload go out
 * as one record, and the whole call as one write to the socket.
 */
int tls_conn_writev(struct tls_conn *conn, const uv_buf_t *bufs, size_t n);

/*
 * Lets `b` flush what tls_conn_write() and tls_conn_writev() seal, once
 * per loop iteration before the loop waits, instead of at every call:
 * the records of many calls (many streams' frames on a tunnel) then
 * leave in one write.  Full chunks of four records still leave at once.
 * NULL flushes what waits and goes back to flushing at every call.
 */
struct batch;
void tls_conn_set_batch(struct tls_conn *conn, struct batch *b);

/* Ciphertext bytes queued that the kernel has not taken yet. */
size_t tls_conn_write_queued(const struct tls_conn *conn);

/*
 * Stop and resume on_read.  While stopped, nothing is read from the
 * socket, so the peer is held back by TCP.  After a start, plaintext that
 * mbedTLS had already decrypted or buffered is delivered on the next loop
 * iteration, before the socket is waited on.  Reading is on at first.
 */
void tls_conn_read_stop(struct tls_conn *conn);
void tls_conn_read_start(struct tls_conn *conn);

/*
 * Ends gracefully: sends close_notify after what is queued, then closes
 * once the peer has closed too or the timeout has passed; on_close gets 0.
 * Before the handshake is done this is tls_conn_close(conn, 0).
 */
void tls_conn_shutdown(struct tls_conn *conn);

/*
 * Ends now, dropping what is queued; on_close follows with `err`.  Safe
 * from inside any callback of this connection (on_close included), and a
 * no-op once the connection is closing.  It also cuts a shutdown short.
 */
void tls_conn_close(struct tls_conn *conn, int err);

/*
 * The peer's certificate once the handshake is done and only if it was
 * verified; NULL otherwise (a server that did not ask for one, a client
 * that sent none).  Valid until on_close returns.
 */
const mbedtls_x509_crt *tls_conn_peer_cert(const struct tls_conn *conn);

/* The negotiated suite's name for logs, or "none" before the handshake. */
const char *tls_conn_cipher(const struct tls_conn *conn);

/* The caller's pointer given to tls_conn_new(). */
void *tls_conn_data(const struct tls_conn *conn);

/* The TCP handle, for uv_tcp_getpeername() and the like; never close it. */
uv_tcp_t *tls_conn_tcp(const struct tls_conn *conn);

#endif
