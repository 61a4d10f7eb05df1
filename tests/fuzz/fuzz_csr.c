/*
 * The relay's side of enrolment: a certificate request from the network
 * goes through pki_csr_sign.  The input is the request's DER, wrapped in
 * PEM as a connector sends it, so that mutations reach the DER; an input
 * that starts with '-' is also tried as the PEM text itself.  Promises
 * checked: only the documented results; and a certificate is issued only
 * for a request signed by an EC P-256 key, for that very key, under the
 * relay's name for the connector, and it verifies against the CA alone.
 * The CA is made once, in a temporary directory removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "common/err.h"
#include "tunnel/pki.h"
#include "tests/fuzz/fuzz.h"

#define NAME "paris-office"

static struct pki_ca ca;
static char dir[] = "/tmp/sp-fuzz-csr-XXXXXX";

static void remove_ca(void) {
  char path[sizeof(dir) + 16];

  pki_ca_free(&ca);
  snprintf(path, sizeof(path), "%s/%s", dir, PKI_CA_KEY);
  unlink(path);
  snprintf(path, sizeof(path), "%s/%s", dir, PKI_CA_CRT);
  unlink(path);
  rmdir(dir);
}

static void make_ca(void) {
  static int done;

  if (done)
    return;
  done = 1;
  pki_ca_init(&ca);
  CHECK(mkdtemp(dir) != NULL);
  CHECK(pki_ca_create(&ca, dir, "relay.test") == 0);
  atexit(remove_ca);
}

/* The public key of `pk` as DER, at the end of `buf`; its length. */
static int pub_der(mbedtls_pk_context *pk, unsigned char *buf, size_t n) {
  return mbedtls_pk_write_pubkey_der(pk, buf, n);
}

/* What pki_csr_sign issued for `pem` must hold. */
static void check_issued(const char *pem, const char *crt_pem) {
  static unsigned char a[256], b[256];
  mbedtls_x509_csr csr;
  mbedtls_x509_crt crt;
  int la, lb;

  mbedtls_x509_csr_init(&csr);
  mbedtls_x509_crt_init(&crt);
  CHECK(mbedtls_x509_csr_parse(&csr, (const unsigned char *)pem,
                               strlen(pem) + 1) == 0);
  CHECK(mbedtls_x509_crt_parse(&crt, (const unsigned char *)crt_pem,
                               strlen(crt_pem) + 1) == 0);
  CHECK(mbedtls_pk_get_type(&csr.pk) == MBEDTLS_PK_ECKEY &&
        mbedtls_pk_ec(csr.pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1);
  la = pub_der(&csr.pk, a, sizeof(a));
  lb = pub_der(&crt.pk, b, sizeof(b));
  CHECK(la > 0 && la == lb &&
        memcmp(a + sizeof(a) - la, b + sizeof(b) - lb, (size_t)la) == 0);
  CHECK(pki_verify_alone(&crt, &ca.crt, NAME) == 0);
  mbedtls_x509_crt_free(&crt);
  mbedtls_x509_csr_free(&csr);
}

static void try_pem(const char *pem) {
  static char crt_pem[PKI_CRT_PEM_MAX];
  struct pki_cert_info info;
  int rc = pki_csr_sign(&ca, pem, NAME, 0, crt_pem, &info);

  CHECK(rc == 0 || rc == SP_ECRYPTO || rc == SP_ETOOBIG);
  if (rc == 0)
    check_issued(pem, crt_pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char head[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
  static const char foot[] = "\n-----END CERTIFICATE REQUEST-----\n";
  char *pem;
  size_t b64 = 0;

  make_ca();
  if (size > PKI_CSR_IN_MAX)
    return 0;
  pem = malloc(sizeof(head) + 4 * (size / 3 + 1) + sizeof(foot) + 1);
  if (pem == NULL)
    return 0;
  memcpy(pem, head, sizeof(head) - 1);
  mbedtls_base64_encode((unsigned char *)pem + sizeof(head) - 1,
                        4 * (size / 3 + 1) + 1, &b64, data, size);
  memcpy(pem + sizeof(head) - 1 + b64, foot, sizeof(foot));
  try_pem(pem);
  if (size > 0 && data[0] == '-') {
    memcpy(pem, data, size);
    pem[size] = '\0';
    try_pem(pem);
  }
  free(pem);
  return 0;
}
