/*
 * How a certificate is put together and read back.
 *
 * mbedTLS 2.28 writes most of a certificate but has no writer for the
 * subjectAltName and extendedKeyUsage extensions, so those two are
 * DER-encoded here and added as raw extensions:
 *
 *   ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId (an OID)
 *   GeneralNames      ::= SEQUENCE OF GeneralName, where we use
 *     dNSName   [2] IMPLICIT IA5String
 *     iPAddress [7] IMPLICIT OCTET STRING (4 or 16 octets)
 *
 * The mbedtls_asn1_write_* functions fill a buffer from its end towards
 * its start, so a list is written last element first and every length
 * goes in front of the content it measures.
 */
#include "tunnel/pki_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rand.h"

/*
 * Not-before lies this far in the past, so that a peer whose clock runs a
 * little slow accepts a certificate the moment it is issued.
 */
#define PKI_BACKDATE 3600

#define PKI_SERIAL_LEN 16 /* 128 random bits */
#define PKI_DN_MAX 256
#define PKI_SAN_MAX 4
#define PKI_SAN_DNS 2
#define PKI_SAN_IP 7
#define PKI_SEQUENCE (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* One GeneralName of the relay's subjectAltName. */
struct pki_san {
  unsigned char tag; /* PKI_SAN_DNS or PKI_SAN_IP */
  unsigned char len;
  unsigned char data[PKI_NAME_MAX];
};

int pki_mbed(const char *op, int code) {
  char text[128], quoted[160];

  if (code == 0)
    return 0;
  mbedtls_strerror(code, text, sizeof(text));
  sp_debug("pki", "mbed_error", "op=%s mbed=-0x%04x detail=%s", op,
           (unsigned)(code < 0 ? -code : code),
           sp_log_quote(quoted, sizeof(quoted), text));
  return SP_ECRYPTO;
}

bool pki_name_ok(const char *name) {
  size_t i, n;
  char c;

  if (name == NULL)
    return false;
  n = strnlen(name, PKI_NAME_MAX + 1);
  if (n == 0 || n > PKI_NAME_MAX || name[0] == '.' || name[0] == '-')
    return false;

  for (i = 0; i < n; i++) {
    c = name[i];
    if ((c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') &&
        strchr("._-:", c) == NULL)
      return false;
  }
  return true;
}

int pki_keygen(mbedtls_pk_context *key) {
  int rc;

  rc = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0)
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
                             sp_random_mbed, NULL);
  return pki_mbed("keygen", rc);
}

int pki_days_from_now(unsigned days, unsigned dflt, int64_t *out) {
  if (days == 0)
    days = dflt;
  if (days > PKI_MAX_DAYS)
    return SP_EUSAGE;
  *out = (int64_t)time(NULL) + (int64_t)days * 86400;
  return 0;
}

/* `t` in UTC as "YYYYMMDDhhmmss", the form mbedTLS takes. */
static int utc_text(int64_t t, char out[32]) {
  time_t tt = (time_t)t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < 70 || tm.tm_year > 8099)
    return SP_EUSAGE;
  snprintf(out, 32, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return 0;
}

/* Puts a length and `tag` in front of the `len` bytes just written. */
static int asn1_wrap(unsigned char **p, unsigned char *start, int len,
                     unsigned char tag) {
  int r;

  if (len < 0)
    return len;
  r = mbedtls_asn1_write_len(p, start, (size_t)len);
  if (r < 0)
    return r;
  len += r;
  r = mbedtls_asn1_write_tag(p, start, tag);
  return r < 0 ? r : len + r;
}

static int crt_set_serial(mbedtls_x509write_cert *w) {
  mbedtls_mpi serial;
  int rc;

  /* Zero is no valid serial; drawing it is only theoretical, but redraw. */
  mbedtls_mpi_init(&serial);
  do
    rc = mbedtls_mpi_fill_random(&serial, PKI_SERIAL_LEN, sp_random_mbed, NULL);
  while (rc == 0 && mbedtls_mpi_cmp_int(&serial, 0) == 0);

  if (rc == 0)
    rc = mbedtls_x509write_crt_set_serial(w, &serial);
  mbedtls_mpi_free(&serial);
  return rc;
}

/* What every certificate has: serial, validity, names, keys, SHA-256. */
static int crt_start(mbedtls_x509write_cert *w, mbedtls_pk_context *key,
                     mbedtls_pk_context *issuer_key, const char *subject,
                     const char *issuer, int64_t not_after) {
  char from[32], to[32];
  int rc;

  if (utc_text((int64_t)time(NULL) - PKI_BACKDATE, from) != 0 ||
      utc_text(not_after, to) != 0)
    return SP_EUSAGE;

  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w, key);
  mbedtls_x509write_crt_set_issuer_key(w, issuer_key);
  rc = crt_set_serial(w);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_validity(w, from, to);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_subject_name(w, subject);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_issuer_name(w, issuer);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_subject_key_identifier(w);
  return pki_mbed("crt_start", rc);
}

static int crt_set_eku(mbedtls_x509write_cert *w, const char *oid,
                       size_t oid_len) {
  unsigned char buf[32];
  unsigned char *p = buf + sizeof(buf);
  int len;

  len = mbedtls_asn1_write_oid(&p, buf, oid, oid_len);
  len = asn1_wrap(&p, buf, len, PKI_SEQUENCE);
  if (len < 0)
    return len;
  return mbedtls_x509write_crt_set_extension(
      w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
      MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, (size_t)len);
}

/* Appends a name to `list` unless it is there already. */
static void san_add(struct pki_san *list, size_t *n, unsigned char tag,
                    const void *data, size_t len) {
  const char *text = data;
  size_t i;

  for (i = 0; i < *n; i++) {
    if (list[i].tag != tag || list[i].len != len)
      continue;
    if (tag == PKI_SAN_IP
            ? memcmp(list[i].data, data, len) == 0
            : strncasecmp((const char *)list[i].data, text, len) == 0)
      return;
  }
  list[*n].tag = tag;
  list[*n].len = (unsigned char)len;
  memcpy(list[*n].data, data, len);
  (*n)++;
}

/* The relay's names: its own (a DNS name or an IP literal), then loopback. */
static size_t san_list(const char *name, struct pki_san list[PKI_SAN_MAX]) {
  static const unsigned char lo4[4] = {127, 0, 0, 1};
  static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 1};
  unsigned char ip[16];
  size_t n = 0;

  if (inet_pton(AF_INET, name, ip) == 1)
    san_add(list, &n, PKI_SAN_IP, ip, 4);
  else if (inet_pton(AF_INET6, name, ip) == 1)
    san_add(list, &n, PKI_SAN_IP, ip, 16);
  else
    san_add(list, &n, PKI_SAN_DNS, name, strlen(name));

  san_add(list, &n, PKI_SAN_DNS, "localhost", strlen("localhost"));
  san_add(list, &n, PKI_SAN_IP, lo4, sizeof(lo4));
  san_add(list, &n, PKI_SAN_IP, lo6, sizeof(lo6));
  return n;
}

static int crt_set_san(mbedtls_x509write_cert *w, const char *name) {
  struct pki_san list[PKI_SAN_MAX];
  unsigned char buf[PKI_SAN_MAX * (PKI_NAME_MAX + 4) + 8];
  unsigned char *p = buf + sizeof(buf);
  size_t n = san_list(name, list);
  int len = 0, r;

  while (n-- > 0) {
    r = mbedtls_asn1_write_raw_buffer(&p, buf, list[n].data, list[n].len);
    r = asn1_wrap(&p, buf, r, MBEDTLS_ASN1_CONTEXT_SPECIFIC | list[n].tag);
    if (r < 0)
      return r;
    len += r;
  }

  len = asn1_wrap(&p, buf, len, PKI_SEQUENCE);
  if (len < 0)
    return len;
  return mbedtls_x509write_crt_set_extension(
      w, MBEDTLS_OID_SUBJECT_ALT_NAME,
      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, (size_t)len);
}

/* The extensions of an end-entity certificate; returns mbedTLS codes. */
static int crt_set_leaf(mbedtls_x509write_cert *w,
                        const struct pki_leaf *leaf) {
  int rc;

  rc = mbedtls_x509write_crt_set_basic_constraints(w, 0, -1);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_authority_key_identifier(w);
  if (rc == 0)
    rc = mbedtls_x509write_crt_set_key_usage(w,
                                             MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
  if (rc != 0)
    return rc;

  if (leaf->san_name == NULL)
    return crt_set_eku(w, MBEDTLS_OID_CLIENT_AUTH,
                       MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
  rc = crt_set_eku(w, MBEDTLS_OID_SERVER_AUTH,
                   MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
  return rc != 0 ? rc : crt_set_san(w, leaf->san_name);
}

int pki_issue_ca(mbedtls_pk_context *key, const char *subject,
                 int64_t not_after, unsigned char pem[PKI_CRT_PEM_MAX]) {
  mbedtls_x509write_cert w;
  int rc;

  mbedtls_x509write_crt_init(&w);
  rc = crt_start(&w, key, key, subject, subject, not_after);
  if (rc == 0) {
    /* The CA signs end entities only; pathlen 0 rules out intermediates. */
    rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0);
    if (rc == 0)
      rc = mbedtls_x509write_crt_set_key_usage(
          &w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
    if (rc == 0)
      rc = mbedtls_x509write_crt_pem(&w, pem, PKI_CRT_PEM_MAX, sp_random_mbed,
                                     NULL);
    rc = pki_mbed("issue_ca", rc);
  }
  mbedtls_x509write_crt_free(&w);
  return rc;
}

int pki_issue(struct pki_ca *ca, mbedtls_pk_context *key,
              const struct pki_leaf *leaf, unsigned char pem[PKI_CRT_PEM_MAX]) {
  mbedtls_x509write_cert w;
  char issuer[PKI_DN_MAX];
  int64_t not_after, ca_end;
  int rc;

  /* Nothing the CA signs outlives the CA. */
  rc = pki_crt_not_after(&ca->crt, &ca_end);
  if (rc != 0)
    return rc;
  not_after = leaf->not_after < ca_end ? leaf->not_after : ca_end;
  rc = mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca->crt.subject);
  if (rc < 0)
    return pki_mbed("issuer_name", rc);

  mbedtls_x509write_crt_init(&w);
  rc = crt_start(&w, key, &ca->key, leaf->subject, issuer, not_after);
  if (rc == 0) {
    rc = crt_set_leaf(&w, leaf);
    if (rc == 0)
      rc = mbedtls_x509write_crt_pem(&w, pem, PKI_CRT_PEM_MAX, sp_random_mbed,
                                     NULL);
    rc = pki_mbed("issue", rc);
  }
  mbedtls_x509write_crt_free(&w);
  return rc;
}

static void hex(const unsigned char *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

int pki_crt_fingerprint(const mbedtls_x509_crt *crt,
                        char out[PKI_FINGERPRINT_HEX]) {
  unsigned char hash[32];
  int rc;

  rc = mbedtls_sha256_ret(crt->raw.p, crt->raw.len, hash, 0);
  if (rc != 0)
    return pki_mbed("fingerprint", rc);
  hex(hash, sizeof(hash), out);
  return 0;
}

int pki_crt_serial(const mbedtls_x509_crt *crt, char out[PKI_SERIAL_HEX_MAX]) {
  const unsigned char *p = crt->serial.p;
  size_t n = crt->serial.len;

  /* DER puts a zero octet before a number whose top bit is set. */
  while (n > 1 && *p == 0) {
    p++;
    n--;
  }
  if (n > (PKI_SERIAL_HEX_MAX - 1) / 2)
    return SP_ETOOBIG;
  hex(p, n, out);
  return 0;
}

int pki_crt_not_after(const mbedtls_x509_crt *crt, int64_t *out) {
  const mbedtls_x509_time *t = &crt->valid_to;
  struct tm tm;
  time_t s;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = t->year - 1900;
  tm.tm_mon = t->mon - 1;
  tm.tm_mday = t->day;
  tm.tm_hour = t->hour;
  tm.tm_min = t->min;
  tm.tm_sec = t->sec;
  s = timegm(&tm);
  if (s == (time_t)-1)
    return SP_EPARSE;
  *out = (int64_t)s;
  return 0;
}

int pki_crt_info(const mbedtls_x509_crt *crt, struct pki_cert_info *info) {
  int rc;

  rc = pki_crt_serial(crt, info->serial);
  if (rc == 0)
    rc = pki_crt_fingerprint(crt, info->fingerprint);
  if (rc == 0)
    rc = pki_crt_not_after(crt, &info->not_after);
  return rc;
}

int pki_cert_info_pem(const char *pem, struct pki_cert_info *info) {
  mbedtls_x509_crt crt;
  int rc;

  mbedtls_x509_crt_init(&crt);
  rc =
      mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1);
  rc = rc == 0 ? pki_crt_info(&crt, info) : pki_mbed("crt_parse", rc);
  mbedtls_x509_crt_free(&crt);
  return rc;
}
