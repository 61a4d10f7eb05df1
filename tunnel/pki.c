/*
 * What the certificate authority does: create or load the CA, issue the
 * relay's server certificate, device certificates and (from a request)
 * connector certificates.  How a certificate is built lives in
 * tunnel/pki_cert.c, how files are written in tunnel/pki_file.c.
 *
 * Every operation that writes more than one file undoes its own files
 * when a later one fails, and never touches a file that existed before:
 * the key is created first with O_EXCL, so an existing key stops the
 * operation before anything is written.
 */
#include "tunnel/pki.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_csr.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rand.h"
#include "tunnel/pki_int.h"

#define PKI_SUBJECT_MAX 128
#define PKI_FILE_MAX 16384 /* the largest key or CA file we read */
#define PKI_PEM_BEGIN_CRT "-----BEGIN CERTIFICATE-----\n"
#define PKI_PEM_END_CRT "-----END CERTIFICATE-----\n"

void pki_ca_init(struct pki_ca *ca) {
  mbedtls_pk_init(&ca->key);
  mbedtls_x509_crt_init(&ca->crt);
}

void pki_ca_free(struct pki_ca *ca) {
  /* Both leave their context zeroed, which is the initialised state. */
  mbedtls_pk_free(&ca->key);
  mbedtls_x509_crt_free(&ca->crt);
}

/* DIR/NAME.EXT (`ext` may be "") into `out`; SP_ETOOBIG if too long. */
static int path_of(char out[PATH_MAX], const char *dir, const char *name,
                   const char *ext) {
  int n = snprintf(out, PATH_MAX, "%s/%s%s", dir, name, ext);

  return n < 0 || n >= PATH_MAX ? SP_ETOOBIG : 0;
}

/*
 * Writes a new key and its certificate.  If the certificate cannot be
 * written, the key (which this call created) is removed again.
 */
static int write_pair(const char *key_path, mbedtls_pk_context *key,
                      const char *crt_path, const unsigned char *pem) {
  int rc;

  rc = pki_write_pk(key_path, key);
  if (rc != 0)
    return rc;
  rc = pki_write_cert(crt_path, pem, strlen((const char *)pem), false);
  if (rc != 0)
    unlink(key_path);
  return rc;
}

/* Reads back what was just issued, logs it and hands it to the caller. */
static int issued(const unsigned char *pem, const char *kind, const char *name,
                  struct pki_cert_info *info) {
  struct pki_cert_info got;
  char quoted[PKI_NAME_MAX + 8];
  int rc;

  rc = pki_cert_info_pem((const char *)pem, &got);
  if (rc != 0)
    return rc;
  sp_debug("pki", "issued", "kind=%s name=%s serial=%s not_after=%lld", kind,
           sp_log_quote(quoted, sizeof(quoted), name), got.serial,
           (long long)got.not_after);
  if (info != NULL)
    *info = got;
  return 0;
}

/* The CA lives PKI_CA_YEARS calendar years; timegm() moves 29 Feb on. */
static int64_t ca_not_after(void) {
  time_t now = time(NULL);
  struct tm tm;

  gmtime_r(&now, &tm);
  tm.tm_year += PKI_CA_YEARS;
  return (int64_t)timegm(&tm);
}

int pki_ca_create(struct pki_ca *ca, const char *dir, const char *relay_name) {
  char kpath[PATH_MAX], cpath[PATH_MAX], subject[PKI_SUBJECT_MAX];
  unsigned char pem[PKI_CRT_PEM_MAX];
  int rc;

  if (!pki_name_ok(relay_name))
    return SP_EUSAGE;
  rc = path_of(kpath, dir, PKI_CA_KEY, "");
  if (rc == 0)
    rc = path_of(cpath, dir, PKI_CA_CRT, "");
  if (rc != 0)
    return rc;
  snprintf(subject, sizeof(subject), "CN=Sallyport CA for %s,O=Sallyport",
           relay_name);

  rc = pki_keygen(&ca->key);
  if (rc == 0)
    rc = pki_issue_ca(&ca->key, subject, ca_not_after(), pem);
  if (rc == 0)
    rc = pki_mbed("ca_parse", mbedtls_x509_crt_parse(&ca->crt, pem,
                                                     strlen((char *)pem) + 1));
  if (rc == 0)
    rc = write_pair(kpath, &ca->key, cpath, pem);
  if (rc == 0)
    rc = issued(pem, "ca", relay_name, NULL);
  if (rc != 0)
    pki_ca_free(ca);
  return rc;
}

/* Usable only if the certificate is a CA and the key is its own. */
static int ca_check(struct pki_ca *ca) {
  if (!ca->crt.ca_istrue) {
    sp_debug("pki", "ca_refused", "reason=not_a_ca");
    return SP_ECRYPTO;
  }
  return pki_mbed("ca_pair", mbedtls_pk_check_pair(&ca->crt.pk, &ca->key));
}

int pki_ca_load(struct pki_ca *ca, const char *dir) {
  char path[PATH_MAX];
  unsigned char buf[PKI_FILE_MAX];
  size_t len;
  int rc;

  rc = path_of(path, dir, PKI_CA_CRT, "");
  if (rc == 0)
    rc = pki_read_file(path, buf, sizeof(buf), &len);
  if (rc == 0)
    rc = pki_mbed("ca_parse", mbedtls_x509_crt_parse(&ca->crt, buf, len + 1));

  if (rc == 0)
    rc = path_of(path, dir, PKI_CA_KEY, "");
  if (rc == 0)
    rc = pki_read_file(path, buf, sizeof(buf), &len);
  if (rc == 0)
    rc = pki_mbed("ca_key_parse",
                  mbedtls_pk_parse_key(&ca->key, buf, len + 1, NULL, 0));
  mbedtls_platform_zeroize(buf, sizeof(buf));

  if (rc == 0)
    rc = ca_check(ca);
  if (rc != 0)
    pki_ca_free(ca);
  return rc;
}

/* Makes a key, has the CA certify it as `leaf` says, writes both files. */
static int issue_pair(struct pki_ca *ca, const struct pki_leaf *leaf,
                      const char *key_path, const char *crt_path,
                      struct pki_cert_info *info) {
  mbedtls_pk_context key;
  unsigned char pem[PKI_CRT_PEM_MAX];
  int rc;

  mbedtls_pk_init(&key);
  rc = pki_keygen(&key);
  if (rc == 0)
    rc = pki_issue(ca, &key, leaf, pem);
  if (rc == 0)
    rc = write_pair(key_path, &key, crt_path, pem);
  mbedtls_pk_free(&key);
  return rc != 0 ? rc : issued(pem, leaf->kind, leaf->name, info);
}

/* A name that is no IP literal goes into a dNSName, which has no ':'. */
static bool relay_name_ok(const char *name) {
  unsigned char ip[16];

  if (!pki_name_ok(name))
    return false;
  return strchr(name, ':') == NULL || inet_pton(AF_INET6, name, ip) == 1;
}

int pki_relay_issue(struct pki_ca *ca, const char *dir, const char *name,
                    struct pki_cert_info *info) {
  char kpath[PATH_MAX], cpath[PATH_MAX], subject[PKI_SUBJECT_MAX];
  struct pki_leaf leaf;
  int rc;

  if (!relay_name_ok(name))
    return SP_EUSAGE;
  rc = path_of(kpath, dir, PKI_RELAY_KEY, "");
  if (rc == 0)
    rc = path_of(cpath, dir, PKI_RELAY_CRT, "");
  if (rc == 0)
    rc = pki_days_from_now(PKI_RELAY_DAYS, 0, &leaf.not_after);
  if (rc != 0)
    return rc;

  snprintf(subject, sizeof(subject), "CN=%s", name);
  leaf.kind = "relay";
  leaf.name = name;
  leaf.subject = subject;
  leaf.san_name = name;
  return issue_pair(ca, &leaf, kpath, cpath, info);
}

/* Replaces PATH with the CA certificate, so that it matches new files. */
static int write_ca_copy(struct pki_ca *ca, const char *path) {
  unsigned char pem[PKI_CRT_PEM_MAX];
  size_t len;
  int rc;

  rc = mbedtls_pem_write_buffer(PKI_PEM_BEGIN_CRT, PKI_PEM_END_CRT,
                                ca->crt.raw.p, ca->crt.raw.len, pem,
                                sizeof(pem), &len);
  if (rc != 0)
    return pki_mbed("ca_pem", rc);
  return pki_write_cert(path, pem, strlen((const char *)pem), true);
}

int pki_device_issue(struct pki_ca *ca, const char *out_dir, const char *name,
                     unsigned days, struct pki_cert_info *info) {
  char kpath[PATH_MAX], cpath[PATH_MAX], capath[PATH_MAX];
  char subject[PKI_SUBJECT_MAX];
  struct pki_leaf leaf;
  int rc;

  if (!pki_name_ok(name))
    return SP_EUSAGE;
  rc = path_of(kpath, out_dir, name, ".key");
  if (rc == 0)
    rc = path_of(cpath, out_dir, name, ".crt");
  if (rc == 0)
    rc = path_of(capath, out_dir, PKI_CA_CRT, "");
  if (rc == 0)
    rc = pki_days_from_now(days, PKI_DEVICE_DAYS, &leaf.not_after);
  if (rc != 0)
    return rc;

  snprintf(subject, sizeof(subject), "CN=%s,O=Sallyport device", name);
  leaf.kind = "device";
  leaf.name = name;
  leaf.subject = subject;
  leaf.san_name = NULL;
  rc = issue_pair(ca, &leaf, kpath, cpath, info);
  if (rc != 0)
    return rc;

  rc = write_ca_copy(ca, capath);
  if (rc != 0) {
    unlink(kpath);
    unlink(cpath);
  }
  return rc;
}

int pki_csr_make(const char *name, char key_pem[PKI_KEY_PEM_MAX],
                 char csr_pem[PKI_CSR_PEM_MAX]) {
  char subject[PKI_SUBJECT_MAX];
  mbedtls_x509write_csr w;
  mbedtls_pk_context key;
  int rc;

  if (!pki_name_ok(name))
    return SP_EUSAGE;
  snprintf(subject, sizeof(subject), "CN=%s,O=Sallyport connector", name);

  mbedtls_pk_init(&key);
  mbedtls_x509write_csr_init(&w);
  rc = pki_keygen(&key);
  if (rc == 0) {
    mbedtls_x509write_csr_set_key(&w, &key);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    rc = mbedtls_x509write_csr_set_subject_name(&w, subject);
    if (rc == 0)
      rc = mbedtls_x509write_csr_pem(&w, (unsigned char *)csr_pem,
                                     PKI_CSR_PEM_MAX, sp_random_mbed, NULL);
    if (rc == 0)
      rc = mbedtls_pk_write_key_pem(&key, (unsigned char *)key_pem,
                                    PKI_KEY_PEM_MAX);
    rc = pki_mbed("csr_make", rc);
  }
  mbedtls_x509write_csr_free(&w);
  mbedtls_pk_free(&key);
  if (rc != 0)
    mbedtls_platform_zeroize(key_pem, PKI_KEY_PEM_MAX);
  return rc;
}

/*
 * mbedTLS 2.28 parses a request without checking its signature.  Checking
 * it proves that the sender holds the key; the key must be EC P-256 and
 * the hash at least SHA-256, so everything the CA signs is alike.
 */
static int csr_check(mbedtls_x509_csr *csr) {
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  const char *why = NULL;
  int rc;

  if (mbedtls_pk_get_type(&csr->pk) != MBEDTLS_PK_ECKEY ||
      mbedtls_pk_ec(csr->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
    why = "not_p256";
  else if (csr->sig_pk != MBEDTLS_PK_ECDSA || md == NULL ||
           mbedtls_md_get_size(md) < 32)
    why = "weak_signature";
  if (why != NULL) {
    sp_debug("pki", "csr_refused", "reason=%s", why);
    return SP_ECRYPTO;
  }

  rc = mbedtls_md(md, csr->cri.p, csr->cri.len, hash);
  if (rc == 0)
    rc = mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk,
                               csr->sig_md, hash, mbedtls_md_get_size(md),
                               csr->sig.p, csr->sig.len);
  return pki_mbed("csr_verify", rc);
}

int pki_csr_sign(struct pki_ca *ca, const char *csr_pem, const char *name,
                 unsigned days, char crt_pem[PKI_CRT_PEM_MAX],
                 struct pki_cert_info *info) {
  char subject[PKI_SUBJECT_MAX];
  struct pki_leaf leaf;
  mbedtls_x509_csr csr;
  size_t len;
  int rc;

  if (!pki_name_ok(name) || csr_pem == NULL)
    return SP_EUSAGE;
  len = strnlen(csr_pem, PKI_CSR_IN_MAX + 1);
  if (len > PKI_CSR_IN_MAX)
    return SP_ETOOBIG;
  rc = pki_days_from_now(days, PKI_CONNECTOR_DAYS, &leaf.not_after);
  if (rc != 0)
    return rc;
  snprintf(subject, sizeof(subject), "CN=%s,O=Sallyport connector", name);
  leaf.kind = "connector";
  leaf.name = name;
  leaf.subject = subject;
  leaf.san_name = NULL;

  mbedtls_x509_csr_init(&csr);
  rc = pki_mbed(
      "csr_parse",
      mbedtls_x509_csr_parse(&csr, (const unsigned char *)csr_pem, len + 1));
  if (rc == 0)
    rc = csr_check(&csr);
  if (rc == 0)
    rc = pki_issue(ca, &csr.pk, &leaf, (unsigned char *)crt_pem);
  mbedtls_x509_csr_free(&csr);
  return rc != 0 ? rc : issued((unsigned char *)crt_pem, leaf.kind, name, info);
}

uint32_t pki_verify_alone(const mbedtls_x509_crt *leaf,
                          const mbedtls_x509_crt *ca, const char *name) {
  mbedtls_x509_crt trust, alone;
  uint32_t flags = MBEDTLS_X509_BADCERT_NOT_TRUSTED;

  /* Copies, so neither certificate's chain takes part. */
  mbedtls_x509_crt_init(&trust);
  mbedtls_x509_crt_init(&alone);
  if (mbedtls_x509_crt_parse_der(&trust, ca->raw.p, ca->raw.len) == 0 &&
      mbedtls_x509_crt_parse_der(&alone, leaf->raw.p, leaf->raw.len) == 0 &&
      mbedtls_x509_crt_verify_with_profile(&alone, &trust, NULL,
                                           &mbedtls_x509_crt_profile_next, name,
                                           &flags, NULL, NULL) == 0)
    flags = 0;
  else if (flags == 0)
    flags = MBEDTLS_X509_BADCERT_NOT_TRUSTED;
  mbedtls_x509_crt_free(&alone);
  mbedtls_x509_crt_free(&trust);
  return flags;
}
