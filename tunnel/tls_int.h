/*
 * Internals shared by tunnel/tls_conf.c (building a conf) and
 * tunnel/tls.c (running connections).  Not for use outside tunnel/tls*.c.
 */
#ifndef SP_TUNNEL_TLS_INT_H
#define SP_TUNNEL_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "tunnel/tls.h"

/* Longest expected server name, in bytes (a DNS name is at most 253). */
#define TLS_NAME_MAX 253

/* A pinned CA fingerprint: the SHA-256 of the certificate's DER. */
#define TLS_PIN_LEN 32

/*
 * One role.  Owns every context; read-only once built, so connections on
 * any thread may share it (see conf_warm() in tls_conf.c for the one
 * mbedTLS cache that would otherwise be filled on first use).
 */
struct tls_conf {
  mbedtls_ssl_config ssl;
  mbedtls_x509_crt ca;  /* trusted CAs; empty for a server without auth */
  mbedtls_x509_crt crt; /* own chain; empty for a client without one */
  mbedtls_pk_context key;
  struct tls_limits limits; /* defaults filled in */
  int authmode;             /* MBEDTLS_SSL_VERIFY_* */
  bool server;
  int one_suite[2]; /* the client's single suite, 0-terminated */

  /* A client's expected server: a DNS name for mbedtls_ssl_set_hostname(),
   * or an IP address (4 or 16 bytes) that tls.c matches itself, since
   * mbedTLS 2.28 compares names with DNS entries only. */
  char server_name[TLS_NAME_MAX + 1];
  unsigned char server_ip[16];
  size_t server_ip_len; /* 0 when server_name is a DNS name */

  /* A pinned client's CA fingerprint (tls_client_opts.pin_sha256); `ca`
   * is then empty and tls.c's verify callback decides alone. */
  bool pinned;
  unsigned char pin[TLS_PIN_LEN];
};

/*
 * Logs the mbedTLS result `ret` (< 0) once at debug level, with the
 * connection id `id` (0 for none) and operation `op` (a literal), and
 * returns its translation: SP_ECERT, SP_ENOMEM or SP_ETLS.
 */
int tls_mbed_err(uint64_t id, const char *op, int ret);

/* Whether `crt` lists the IP address `ip` (`len` 4 or 16 bytes). */
bool tls_crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip,
                    size_t len);

#endif
