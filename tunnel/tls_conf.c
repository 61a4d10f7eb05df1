/*
 * Building a TLS role (struct tls_conf): the settings every connection of
 * the role shares.  What is chosen and why is in docs/tls.md; in short:
 * TLS 1.2 only, three ECDHE-ECDSA AEAD suites in measured order, X25519
 * then P-256 for the key exchange, SHA-256/384 signatures, the "next"
 * certificate profile, no tickets, no renegotiation, and verification set
 * explicitly for both roles.
 */
#include "tunnel/tls_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/rand.h"

/* Certificate and key files are small; anything larger is refused. */
#define CONF_FILE_MAX (256 * 1024)

/*
 * Fastest first, as measured by tests/bench/bench_crypto.c (docs/tls.md):
 * mbedTLS 2.28's ChaCha20-Poly1305 runs about twice as fast as its
 * AES-128-GCM, which uses AES-NI and PCLMUL one block at a time.  The
 * server's order decides.  AES-256-GCM is last, for peers that want it.
 */
static const int conf_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    0,
};

/* P-256 must be listed: mbedTLS also checks certificate keys against it. */
static const mbedtls_ecp_group_id conf_curves[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_NONE,
};

static const int conf_hashes[] = {
    MBEDTLS_MD_SHA256,
    MBEDTLS_MD_SHA384,
    MBEDTLS_MD_NONE,
};

const int *tls_suites(void) {
  return conf_suites;
}

int tls_mbed_err(uint64_t id, const char *op, int ret) {
  char text[128], quoted[160];

  mbedtls_strerror(ret, text, sizeof(text));
  sp_debug("tls", "mbed_error", "tls=%llu op=%s mbed=-0x%04x detail=%s",
           (unsigned long long)id, op, (unsigned)(ret < 0 ? -ret : ret),
           sp_log_quote(quoted, sizeof(quoted), text));
  switch (ret) {
  case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
  case MBEDTLS_ERR_X509_FATAL_ERROR: /* our verify callback refused */
  case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
  case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE: /* includes a wrong key usage */
  case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
    return SP_ECERT;
  case MBEDTLS_ERR_SSL_ALLOC_FAILED:
  case MBEDTLS_ERR_X509_ALLOC_FAILED:
  case MBEDTLS_ERR_PK_ALLOC_FAILED:
    return SP_ENOMEM;
  default:
    return SP_ETLS;
  }
}

bool tls_crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip,
                    size_t len) {
  const mbedtls_x509_sequence *cur;
  const unsigned char ip_tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;

  if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME))
    return false;
  for (cur = &crt->subject_alt_names; cur != NULL; cur = cur->next)
    if (cur->buf.tag == ip_tag && cur->buf.len == len &&
        memcmp(cur->buf.p, ip, len) == 0)
      return true;
  return false;
}

/* Parses the PEM in `buf` (`len` bytes plus a NUL) as certificates. */
static int conf_parse_crt(mbedtls_x509_crt *crt, const char *buf, size_t len) {
  int ret;

  ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)buf, len + 1);
  if (ret != 0) {
    tls_mbed_err(0, "crt_parse", ret);
    return SP_ECRYPTO;
  }
  return 0;
}

static int conf_load_crt(mbedtls_x509_crt *crt, const char *path) {
  size_t len;
  char *buf;
  int rc;

  rc = sp_read_file(path, CONF_FILE_MAX, &buf, &len);
  if (rc != 0)
    return rc;
  rc = conf_parse_crt(crt, buf, len);
  free(buf);
  return rc;
}

/* Loads a private key; the file's bytes are wiped after parsing. */
static int conf_load_key(mbedtls_pk_context *key, const char *path) {
  size_t len;
  char *buf;
  int rc, ret;

  rc = sp_read_file(path, CONF_FILE_MAX, &buf, &len);
  if (rc != 0)
    return rc;
  ret = mbedtls_pk_parse_key(key, (const unsigned char *)buf, len + 1, NULL, 0);
  mbedtls_platform_zeroize(buf, len);
  free(buf);
  if (ret != 0) {
    tls_mbed_err(0, "key_parse", ret);
    return SP_ECRYPTO;
  }
  return 0;
}

/* Loads the role's own certificate chain and key, which must match. */
static int conf_load_own(struct tls_conf *conf, const char *crt_file,
                         const char *key_file) {
  int rc, ret;

  rc = conf_load_crt(&conf->crt, crt_file);
  if (rc == 0)
    rc = conf_load_key(&conf->key, key_file);
  if (rc != 0)
    return rc;

  ret = mbedtls_pk_check_pair(&conf->crt.pk, &conf->key);
  if (ret == 0)
    ret = mbedtls_ssl_conf_own_cert(&conf->ssl, &conf->crt, &conf->key);
  if (ret != 0) {
    tls_mbed_err(0, "own_cert", ret);
    return SP_ECRYPTO;
  }
  return 0;
}

/*
 * mbedTLS caches a table of multiples of a curve's generator inside the
 * group of the key that first multiplies by it (ecp_mul_comb() sets
 * grp->T).  Signing with our key and verifying with a CA's key both do,
 * so on a conf shared by several loop threads the first two handshakes
 * could race to fill the same cache.  Filling it here, before any
 * connection exists, leaves only reads for later.
 */
static int conf_warm_key(const mbedtls_pk_context *pk) {
  mbedtls_ecp_keypair *ec;
  mbedtls_ecp_point r;
  mbedtls_mpi one;
  int ret;

  if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY))
    return 0;
  ec = mbedtls_pk_ec(*pk);
  if (mbedtls_ecp_get_type(&ec->grp) != MBEDTLS_ECP_TYPE_SHORT_WEIERSTRASS)
    return 0;

  mbedtls_ecp_point_init(&r);
  mbedtls_mpi_init(&one);
  ret = mbedtls_mpi_lset(&one, 1);
  if (ret == 0)
    ret = mbedtls_ecp_mul(&ec->grp, &r, &one, &ec->grp.G, sp_random_mbed, NULL);
  mbedtls_mpi_free(&one);
  mbedtls_ecp_point_free(&r);
  return ret;
}

static int conf_warm(struct tls_conf *conf) {
  const mbedtls_x509_crt *c;
  int ret = 0;

  if (mbedtls_pk_get_type(&conf->key) != MBEDTLS_PK_NONE)
    ret = conf_warm_key(&conf->key);
  for (c = &conf->ca; ret == 0 && c != NULL && c->raw.len > 0; c = c->next)
    ret = conf_warm_key(&c->pk);
  if (ret != 0) {
    tls_mbed_err(0, "warm", ret);
    return SP_ECRYPTO;
  }
  return 0;
}

/* The settings both roles share. */
static int conf_common(struct tls_conf *conf, int endpoint) {
  int ret;

  ret = mbedtls_ssl_config_defaults(&conf->ssl, endpoint,
                                    MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    tls_mbed_err(0, "config_defaults", ret);
    return SP_ECRYPTO;
  }

  mbedtls_ssl_conf_min_version(&conf->ssl, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&conf->ssl, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&conf->ssl, conf_suites);
  mbedtls_ssl_conf_curves(&conf->ssl, conf_curves);
  mbedtls_ssl_conf_sig_hashes(&conf->ssl, conf_hashes);
  mbedtls_ssl_conf_cert_profile(&conf->ssl, &mbedtls_x509_crt_profile_next);
  mbedtls_ssl_conf_rng(&conf->ssl, sp_random_mbed, NULL);
  mbedtls_ssl_conf_session_tickets(&conf->ssl,
                                   MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  mbedtls_ssl_conf_renegotiation(&conf->ssl,
                                 MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  mbedtls_ssl_conf_legacy_renegotiation(&conf->ssl,
                                        MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
  return 0;
}

static void conf_limits(struct tls_conf *conf, const struct tls_limits *l) {
  conf->limits = *l;
  if (conf->limits.timeout_ms == 0)
    conf->limits.timeout_ms = TLS_TIMEOUT_MS_DEFAULT;
  if (conf->limits.write_high == 0)
    conf->limits.write_high = TLS_WRITE_HIGH_DEFAULT;
  if (conf->limits.write_low == 0)
    conf->limits.write_low = TLS_WRITE_LOW_DEFAULT;
  if (conf->limits.write_low > conf->limits.write_high)
    conf->limits.write_low = conf->limits.write_high;
}

static struct tls_conf *conf_alloc(bool server) {
  struct tls_conf *conf = calloc(1, sizeof(*conf));

  if (conf == NULL)
    return NULL;
  mbedtls_ssl_config_init(&conf->ssl);
  mbedtls_x509_crt_init(&conf->ca);
  mbedtls_x509_crt_init(&conf->crt);
  mbedtls_pk_init(&conf->key);
  conf->server = server;
  return conf;
}

void tls_conf_free(struct tls_conf *conf) {
  if (conf == NULL)
    return;
  mbedtls_ssl_config_free(&conf->ssl);
  mbedtls_x509_crt_free(&conf->ca);
  mbedtls_x509_crt_free(&conf->crt);
  mbedtls_pk_free(&conf->key);
  free(conf);
}

static int server_authmode(enum tls_client_cert mode) {
  switch (mode) {
  case TLS_CLIENT_CERT_NONE:
    return MBEDTLS_SSL_VERIFY_NONE;
  case TLS_CLIENT_CERT_OPTIONAL:
    return MBEDTLS_SSL_VERIFY_OPTIONAL;
  case TLS_CLIENT_CERT_REQUIRED:
    return MBEDTLS_SSL_VERIFY_REQUIRED;
  }
  return -1;
}

static int server_build(struct tls_conf *conf,
                        const struct tls_server_opts *o) {
  int rc;

  conf->authmode = server_authmode(o->client_cert);
  if (conf->authmode < 0 || o->crt_file == NULL || o->key_file == NULL ||
      (conf->authmode != MBEDTLS_SSL_VERIFY_NONE && o->ca_file == NULL))
    return SP_EUSAGE;

  rc = conf_common(conf, MBEDTLS_SSL_IS_SERVER);
  if (rc == 0 && conf->authmode != MBEDTLS_SSL_VERIFY_NONE)
    rc = conf_load_crt(&conf->ca, o->ca_file);
  if (rc == 0)
    rc = conf_load_own(conf, o->crt_file, o->key_file);
  if (rc == 0)
    rc = conf_warm(conf);
  if (rc != 0)
    return rc;

  mbedtls_ssl_conf_authmode(&conf->ssl, conf->authmode);
  if (conf->authmode != MBEDTLS_SSL_VERIFY_NONE)
    mbedtls_ssl_conf_ca_chain(&conf->ssl, &conf->ca, NULL);
  conf_limits(conf, &o->limits);
  return 0;
}

int tls_conf_server(struct tls_conf **out, const struct tls_server_opts *o) {
  struct tls_conf *conf = conf_alloc(true);
  int rc;

  if (conf == NULL)
    return SP_ENOMEM;
  rc = server_build(conf, o);
  if (rc != 0) {
    tls_conf_free(conf);
    return rc;
  }
  *out = conf;
  return 0;
}

/* Records the expected server: an IP literal or a DNS name. */
static int client_server_name(struct tls_conf *conf, const char *name) {
  size_t n = name != NULL ? strlen(name) : 0;

  if (n == 0 || n > TLS_NAME_MAX)
    return SP_EUSAGE;
  memcpy(conf->server_name, name, n + 1);
  if (inet_pton(AF_INET, name, conf->server_ip) == 1)
    conf->server_ip_len = 4;
  else if (inet_pton(AF_INET6, name, conf->server_ip) == 1)
    conf->server_ip_len = 16;
  return 0;
}

/* Checks that `suite` is one of ours and makes it the only one offered. */
static int client_one_suite(struct tls_conf *conf, int suite) {
  const int *s;

  for (s = conf_suites; *s != 0 && *s != suite; s++)
    ;
  if (*s == 0)
    return SP_EUSAGE;
  conf->one_suite[0] = suite;
  conf->one_suite[1] = 0;
  mbedtls_ssl_conf_ciphersuites(&conf->ssl, conf->one_suite);
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Reads a pin: exactly 64 lower-case hex digits, as pki.h writes them. */
static int client_pin(struct tls_conf *conf, const char *hex) {
  size_t i;
  int hi, lo;

  if (strlen(hex) != 2 * TLS_PIN_LEN)
    return SP_EUSAGE;
  for (i = 0; i < TLS_PIN_LEN; i++) {
    hi = hex_value(hex[2 * i]);
    lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return SP_EUSAGE;
    conf->pin[i] = (unsigned char)(hi << 4 | lo);
  }
  conf->pinned = true;
  return 0;
}

/*
 * What the client trusts: CA files, CA text, or only a pin.  A pinned
 * conf keeps `ca` empty; it is still handed to mbedTLS, which insists on
 * a CA chain for a required verification, but nothing can chain to it.
 */
static int client_trust(struct tls_conf *conf,
                        const struct tls_client_opts *o) {
  if (o->pin_sha256 != NULL) {
    if (o->ca_file != NULL || o->ca_pem != NULL)
      return SP_EUSAGE;
    return client_pin(conf, o->pin_sha256);
  }
  if (o->ca_file != NULL)
    return conf_load_crt(&conf->ca, o->ca_file);
  if (o->ca_pem != NULL)
    return conf_parse_crt(&conf->ca, o->ca_pem, strlen(o->ca_pem));
  return SP_EUSAGE;
}

static int client_build(struct tls_conf *conf,
                        const struct tls_client_opts *o) {
  int rc;

  if ((o->crt_file == NULL) != (o->key_file == NULL))
    return SP_EUSAGE;
  rc = client_server_name(conf, o->server_name);
  if (rc == 0)
    rc = conf_common(conf, MBEDTLS_SSL_IS_CLIENT);
  if (rc == 0 && o->suite != 0)
    rc = client_one_suite(conf, o->suite);
  if (rc == 0)
    rc = client_trust(conf, o);
  if (rc == 0 && o->crt_file != NULL)
    rc = conf_load_own(conf, o->crt_file, o->key_file);
  if (rc == 0)
    rc = conf_warm(conf);
  if (rc != 0)
    return rc;

  /* A client always verifies the server, whatever mbedTLS's default. */
  conf->authmode = MBEDTLS_SSL_VERIFY_REQUIRED;
  mbedtls_ssl_conf_authmode(&conf->ssl, conf->authmode);
  mbedtls_ssl_conf_ca_chain(&conf->ssl, &conf->ca, NULL);
  conf_limits(conf, &o->limits);
  return 0;
}

int tls_conf_client(struct tls_conf **out, const struct tls_client_opts *o) {
  struct tls_conf *conf = conf_alloc(false);
  int rc;

  if (conf == NULL)
    return SP_ENOMEM;
  rc = client_build(conf, o);
  if (rc != 0) {
    tls_conf_free(conf);
    return rc;
  }
  *out = conf;
  return 0;
}
