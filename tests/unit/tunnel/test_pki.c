/*
 * The certificate authority, checked two ways: with mbedTLS (the library
 * the relay and connector verify with) and with the openssl command line
 * (an independent implementation that clients such as curl rely on).
 * Every test works in its own directory under /tmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include "common/err.h"
#include "tunnel/pki.h"

#define RELAY "relay.example.com"
#define DAY 86400
#define OUT_MAX 8192

struct fixture {
  char dir[64];
};

static int fixture_setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));

  if (f == NULL)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/sp-pki-XXXXXX");
  if (mkdtemp(f->dir) == NULL) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int remove_cb(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw) {
  return remove(path);
}

static int fixture_teardown(void **state) {
  struct fixture *f = *state;

  nftw(f->dir, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* DIR/NAME into `out`, which has PATH_MAX-ish room. */
static const char *at(char *out, size_t n, const struct fixture *f,
                      const char *name) {
  snprintf(out, n, "%s/%s", f->dir, name);
  return out;
}

/* Runs a shell command; its exit status, and its stdout in `out`. */
__attribute__((format(printf, 3, 4))) static int run(char *out, size_t n,
                                                     const char *fmt, ...) {
  char cmd[1024];
  size_t got = 0, r;
  va_list ap;
  FILE *p;

  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  p = popen(cmd, "r");
  assert_non_null(p);
  while ((r = fread(out + got, 1, n - 1 - got, p)) > 0)
    got += r;
  out[got] = '\0';
  return pclose(p);
}

static mode_t mode_of(const char *path) {
  struct stat st;

  assert_int_equal(stat(path, &st), 0);
  return st.st_mode & 07777;
}

static void read_all(const char *path, char *buf, size_t n) {
  FILE *fp = fopen(path, "rb");
  size_t got;

  assert_non_null(fp);
  got = fread(buf, 1, n - 1, fp);
  buf[got] = '\0';
  fclose(fp);
}

static void make_ca(const struct fixture *f) {
  struct pki_ca ca;

  pki_ca_init(&ca);
  assert_int_equal(pki_ca_create(&ca, f->dir, RELAY), 0);
  pki_ca_free(&ca);
}

static void load_ca(const struct fixture *f, struct pki_ca *ca) {
  pki_ca_init(ca);
  assert_int_equal(pki_ca_load(ca, f->dir), 0);
}

/* Checks `crt` against the CA in DIR with mbedTLS, as the relay would. */
static void assert_verifies(const struct fixture *f, mbedtls_x509_crt *crt,
                            const char *cn) {
  mbedtls_x509_crt ca;
  uint32_t flags = 0;
  char path[256];

  mbedtls_x509_crt_init(&ca);
  assert_int_equal(
      mbedtls_x509_crt_parse_file(&ca, at(path, sizeof(path), f, "ca.crt")), 0);
  assert_int_equal(
      mbedtls_x509_crt_verify(crt, &ca, NULL, cn, &flags, NULL, NULL), 0);
  assert_int_equal(flags, 0);
  mbedtls_x509_crt_free(&ca);
}

static void assert_eku(const mbedtls_x509_crt *crt, bool server) {
  int srv = mbedtls_x509_crt_check_extended_key_usage(
      crt, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
  int cli = mbedtls_x509_crt_check_extended_key_usage(
      crt, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));

  assert_int_equal(srv == 0, server);
  assert_int_equal(cli == 0, !server);
}

static void assert_lifetime(int64_t not_after, int64_t days) {
  int64_t want = (int64_t)time(NULL) + days * DAY;

  assert_true(not_after <= want && not_after >= want - 60);
}

/* Removes colons and lowers the case of openssl's hex, in place. */
static void normalise_hex(char *s) {
  char *w = s;

  for (; *s != '\0'; s++) {
    if (*s == ':' || *s == '\n')
      continue;
    *w++ = (char)(*s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
  }
  *w = '\0';
}

static void test_ca_create(void **state) {
  struct fixture *f = *state;
  char path[256], subject[256], out[OUT_MAX];
  struct pki_cert_info info;
  struct pki_ca ca;
  mode_t old;
  int rc;

  /* A tight umask must neither loosen the key nor hide the certificate. */
  old = umask(0277);
  pki_ca_init(&ca);
  rc = pki_ca_create(&ca, f->dir, RELAY);
  umask(old);
  assert_int_equal(rc, 0);
  assert_int_equal(mode_of(at(path, sizeof(path), f, "ca.key")), 0600);
  assert_int_equal(mode_of(at(path, sizeof(path), f, "ca.crt")), 0644);

  assert_true(ca.crt.ca_istrue);
  assert_int_equal(ca.crt.max_pathlen, 1); /* mbedTLS stores pathlen + 1 */
  assert_true(ca.crt.key_usage & MBEDTLS_X509_KU_KEY_CERT_SIGN);
  assert_true(ca.crt.key_usage & MBEDTLS_X509_KU_CRL_SIGN);
  assert_true(mbedtls_x509_dn_gets(subject, sizeof(subject), &ca.crt.subject) >
              0);
  assert_string_equal(subject, "CN=Sallyport CA for " RELAY ", O=Sallyport");
  assert_int_equal(pki_crt_info(&ca.crt, &info), 0);
  assert_true(strlen(info.serial) > 0 && strlen(info.serial) <= 32);
  assert_true(info.not_after > (int64_t)time(NULL) + 3652 * (int64_t)DAY - 60);
  assert_true(info.not_after < (int64_t)time(NULL) + 3654 * (int64_t)DAY);
  pki_ca_free(&ca);

  assert_int_equal(run(out, sizeof(out),
                       "openssl x509 -noout -ext basicConstraints,keyUsage "
                       "-in %s",
                       path),
                   0);
  assert_non_null(strstr(out, "Basic Constraints: critical"));
  assert_non_null(strstr(out, "CA:TRUE, pathlen:0"));
  assert_non_null(strstr(out, "Key Usage: critical"));
  assert_non_null(strstr(out, "Certificate Sign, CRL Sign"));
}

static void test_ca_load(void **state) {
  struct fixture *f = *state;
  char path[256], relay[256];
  struct pki_ca ca;

  pki_ca_init(&ca);
  assert_int_equal(pki_ca_load(&ca, f->dir), SP_ENOTFOUND);
  make_ca(f);
  load_ca(f, &ca);
  assert_true(ca.crt.ca_istrue);
  pki_ca_free(&ca);
  pki_ca_free(&ca);

  /* A certificate that is not a CA is refused as one. */
  load_ca(f, &ca);
  assert_int_equal(pki_relay_issue(&ca, f->dir, RELAY, NULL), 0);
  pki_ca_free(&ca);
  assert_int_equal(unlink(at(path, sizeof(path), f, "ca.crt")), 0);
  assert_int_equal(rename(at(relay, sizeof(relay), f, "relay.crt"), path), 0);
  assert_int_equal(pki_ca_load(&ca, f->dir), SP_ECRYPTO);
}

static void test_refuses_overwrite(void **state) {
  struct fixture *f = *state;
  char path[256], before[OUT_MAX], after[OUT_MAX];
  struct pki_ca ca;

  make_ca(f);
  read_all(at(path, sizeof(path), f, "ca.key"), before, sizeof(before));
  pki_ca_init(&ca);
  assert_int_equal(pki_ca_create(&ca, f->dir, RELAY), SP_EEXIST);
  read_all(path, after, sizeof(after));
  assert_string_equal(before, after);

  /* With only ca.crt in place, no ca.key may be left behind. */
  assert_int_equal(unlink(path), 0);
  assert_int_equal(pki_ca_create(&ca, f->dir, RELAY), SP_EEXIST);
  assert_int_equal(access(path, F_OK), -1);
  pki_ca_free(&ca);

  /* The relay certificate is not issued twice either. */
  unlink(at(path, sizeof(path), f, "ca.crt"));
  make_ca(f);
  load_ca(f, &ca);
  assert_int_equal(pki_relay_issue(&ca, f->dir, RELAY, NULL), 0);
  assert_int_equal(pki_relay_issue(&ca, f->dir, RELAY, NULL), SP_EEXIST);
  pki_ca_free(&ca);
}

static void test_relay_cert(void **state) {
  struct fixture *f = *state;
  char path[256], ca_path[256], out[OUT_MAX];
  struct pki_cert_info info;
  mbedtls_x509_crt crt;
  struct pki_ca ca;

  make_ca(f);
  load_ca(f, &ca);
  assert_int_equal(pki_relay_issue(&ca, f->dir, RELAY, &info), 0);
  pki_ca_free(&ca);
  assert_int_equal(mode_of(at(path, sizeof(path), f, "relay.key")), 0600);
  assert_int_equal(mode_of(at(path, sizeof(path), f, "relay.crt")), 0644);
  assert_lifetime(info.not_after, 825);

  mbedtls_x509_crt_init(&crt);
  assert_int_equal(mbedtls_x509_crt_parse_file(&crt, path), 0);
  assert_verifies(f, &crt, RELAY);
  assert_verifies(f, &crt, "localhost");
  assert_false(crt.ca_istrue);
  assert_eku(&crt, true);
  mbedtls_x509_crt_free(&crt);

  at(ca_path, sizeof(ca_path), f, "ca.crt");
  assert_int_equal(run(out, sizeof(out),
                       "openssl verify -purpose sslserver -CAfile %s %s",
                       ca_path, path),
                   0);
  assert_non_null(strstr(out, ": OK"));
  assert_int_equal(run(out, sizeof(out),
                       "openssl x509 -noout -ext subjectAltName -in %s", path),
                   0);
  assert_non_null(strstr(out, "DNS:" RELAY ", DNS:localhost, "
                              "IP Address:127.0.0.1, "
                              "IP Address:0:0:0:0:0:0:0:1"));
}

static void test_relay_ip_name(void **state) {
  struct fixture *f = *state;
  char path[256], out[OUT_MAX];
  struct pki_ca ca;

  make_ca(f);
  load_ca(f, &ca);
  assert_int_equal(pki_relay_issue(&ca, f->dir, "bad:name", NULL), SP_EUSAGE);
  assert_int_equal(pki_relay_issue(&ca, f->dir, "a,O=x", NULL), SP_EUSAGE);
  assert_int_equal(pki_relay_issue(&ca, f->dir, "../x", NULL), SP_EUSAGE);
  assert_int_equal(pki_relay_issue(&ca, f->dir, "", NULL), SP_EUSAGE);
  assert_int_equal(pki_relay_issue(&ca, f->dir, "192.0.2.7", NULL), 0);
  pki_ca_free(&ca);

  assert_int_equal(run(out, sizeof(out),
                       "openssl x509 -noout -ext subjectAltName -in %s",
                       at(path, sizeof(path), f, "relay.crt")),
                   0);
  assert_non_null(strstr(out, "IP Address:192.0.2.7, DNS:localhost, "
                              "IP Address:127.0.0.1, "
                              "IP Address:0:0:0:0:0:0:0:1"));
  assert_null(strstr(out, "DNS:192"));
}

/* An IP literal that is already a loopback name is listed once. */
static void test_relay_loopback_name(void **state) {
  struct fixture *f = *state;
  char path[256], out[OUT_MAX];
  struct pki_ca ca;

  make_ca(f);
  load_ca(f, &ca);
  assert_int_equal(pki_relay_issue(&ca, f->dir, "::1", NULL), 0);
  pki_ca_free(&ca);
  assert_int_equal(run(out, sizeof(out),
                       "openssl x509 -noout -ext subjectAltName -in %s",
                       at(path, sizeof(path), f, "relay.crt")),
                   0);
  assert_non_null(strstr(out, "IP Address:0:0:0:0:0:0:0:1, DNS:localhost, "
                              "IP Address:127.0.0.1\n"));
}

static void test_csr_round_trip(void **state) {
  struct fixture *f = *state;
  char key[PKI_KEY_PEM_MAX], csr[PKI_CSR_PEM_MAX], crt_pem[PKI_CRT_PEM_MAX];
  char subject[256];
  struct pki_cert_info info;
  mbedtls_x509_crt crt;
  mbedtls_pk_context pk;
  struct pki_ca ca;

  assert_int_equal(pki_csr_make("paris-office", key, csr), 0);
  assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----"));
  assert_non_null(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
  make_ca(f);
  load_ca(f, &ca);
  assert_int_equal(pki_csr_sign(&ca, csr, "paris-office", 0, crt_pem, &info),
                   0);
  assert_lifetime(info.not_after, 90);

  mbedtls_x509_crt_init(&crt);
  assert_int_equal(mbedtls_x509_crt_parse(&crt, (unsigned char *)crt_pem,
                                          strlen(crt_pem) + 1),
                   0);
  assert_verifies(f, &crt, NULL);
  assert_eku(&crt, false);
  assert_true(mbedtls_x509_dn_gets(subject, sizeof(subject), &crt.subject) > 0);
  assert_string_equal(subject, "CN=paris-office, O=Sallyport connector");

  /* The certificate is for the connector's own key. */
  mbedtls_pk_init(&pk);
  assert_int_equal(
      mbedtls_pk_parse_key(&pk, (unsigned char *)key, strlen(key) + 1, NULL, 0),
      0);
  assert_int_equal(mbedtls_pk_check_pair(&crt.pk, &pk), 0);
  mbedtls_pk_free(&pk);
  mbedtls_x509_crt_free(&crt);

  /* The relay names the connector; the request's subject counts for naught. */
  assert_int_equal(pki_csr_sign(&ca, csr, "lyon-office", 30, crt_pem, &info),
                   0);
  assert_lifetime(info.not_after, 30);
  assert_non_null(strstr(crt_pem, "-----BEGIN CERTIFICATE-----"));
  assert_int_equal(
      pki_csr_sign(&ca, csr, "lyon-office", PKI_MAX_DAYS + 1, crt_pem, NULL),
      SP_EUSAGE);
  pki_ca_free(&ca);
}

/* Re-encodes a request with one byte of its signed part changed. */
static void tamper(const char *csr, char *out, size_t n) {
  mbedtls_pem_context pem;
  unsigned char der[2048];
  const unsigned char *buf;
  size_t len, used, i;

  mbedtls_pem_init(&pem);
  assert_int_equal(
      mbedtls_pem_read_buffer(&pem, "-----BEGIN CERTIFICATE REQUEST-----",
                              "-----END CERTIFICATE REQUEST-----",
                              (const unsigned char *)csr, NULL, 0, &used),
      0);
  buf = pem.buf;
  len = pem.buflen;
  assert_true(len <= sizeof(der));
  memcpy(der, buf, len);
  mbedtls_pem_free(&pem);

  for (i = 0; i + 5 < len && memcmp(der + i, "paris", 5) != 0; i++)
    ;
  assert_true(i + 5 < len);
  der[i] = 'b';
  assert_int_equal(
      mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE REQUEST-----\n",
                               "-----END CERTIFICATE REQUEST-----\n", der, len,
                               (unsigned char *)out, n, &used),
      0);
}

static void test_csr_refused(void **state) {
  struct fixture *f = *state;
  char key[PKI_KEY_PEM_MAX], csr[PKI_CSR_PEM_MAX], bad[PKI_CSR_PEM_MAX];
  char crt_pem[PKI_CRT_PEM_MAX], *big;
  struct pki_ca ca;

  assert_int_equal(pki_csr_make("paris-office", key, csr), 0);
  make_ca(f);
  load_ca(f, &ca);

  tamper(csr, bad, sizeof(bad));
  assert_int_equal(pki_csr_sign(&ca, bad, "paris-office", 0, crt_pem, NULL),
                   SP_ECRYPTO);
  assert_int_equal(
      pki_csr_sign(&ca, "no request", "paris-office", 0, crt_pem, NULL),
      SP_ECRYPTO);
  assert_int_equal(pki_csr_sign(&ca, csr, "a/b", 0, crt_pem, NULL), SP_EUSAGE);

  big = malloc(PKI_CSR_IN_MAX + 2);
  assert_non_null(big);
  memset(big, 'A', PKI_CSR_IN_MAX + 1);
  big[PKI_CSR_IN_MAX + 1] = '\0';
  assert_int_equal(pki_csr_sign(&ca, big, "paris-office", 0, crt_pem, NULL),
                   SP_ETOOBIG);
  free(big);
  pki_ca_free(&ca);
}

/* Requests for keys other than P-256, made by openssl, are refused. */
static void test_csr_wrong_key(void **state) {
  static const char *const newkey[] = {"rsa:2048",
                                       "ec -pkeyopt ec_paramgen_curve:P-384"};
  struct fixture *f = *state;
  char path[256], keyp[256], out[OUT_MAX], csr[OUT_MAX];
  char crt_pem[PKI_CRT_PEM_MAX];
  struct pki_ca ca;
  size_t i;

  make_ca(f);
  load_ca(f, &ca);
  at(path, sizeof(path), f, "other.csr");
  at(keyp, sizeof(keyp), f, "other.key");
  for (i = 0; i < sizeof(newkey) / sizeof(newkey[0]); i++) {
    assert_int_equal(run(out, sizeof(out),
                         "openssl req -new -newkey %s -nodes -subj "
                         "/CN=paris-office -keyout %s -out %s 2>/dev/null",
                         newkey[i], keyp, path),
                     0);
    read_all(path, csr, sizeof(csr));
    assert_int_equal(pki_csr_sign(&ca, csr, "paris-office", 0, crt_pem, NULL),
                     SP_ECRYPTO);
    unlink(path);
    unlink(keyp);
  }

  /* The same command with P-256 gives a request the CA accepts. */
  assert_int_equal(run(out, sizeof(out),
                       "openssl req -new -newkey ec -pkeyopt "
                       "ec_paramgen_curve:P-256 -nodes -subj /CN=x "
                       "-keyout %s -out %s 2>/dev/null",
                       keyp, path),
                   0);
  read_all(path, csr, sizeof(csr));
  assert_int_equal(pki_csr_sign(&ca, csr, "paris-office", 0, crt_pem, NULL), 0);
  pki_ca_free(&ca);
}

static void test_device(void **state) {
  struct fixture *f = *state;
  char out_dir[256], path[256], a[OUT_MAX], b[OUT_MAX], out[OUT_MAX];
  struct pki_cert_info info;
  mbedtls_x509_crt crt;
  struct pki_ca ca;

  make_ca(f);
  load_ca(f, &ca);
  at(out_dir, sizeof(out_dir), f, "out");
  assert_int_equal(mkdir(out_dir, 0700), 0);
  assert_int_equal(pki_device_issue(&ca, out_dir, "laptop-42", 0, &info), 0);
  assert_lifetime(info.not_after, 365);

  at(path, sizeof(path), f, "out/laptop-42.key");
  assert_int_equal(mode_of(path), 0600);
  at(path, sizeof(path), f, "out/ca.crt");
  assert_int_equal(mode_of(path), 0644);
  read_all(path, a, sizeof(a));
  read_all(at(out, sizeof(out), f, "ca.crt"), b, sizeof(b));
  assert_string_equal(a, b);

  at(path, sizeof(path), f, "out/laptop-42.crt");
  assert_int_equal(mode_of(path), 0644);
  mbedtls_x509_crt_init(&crt);
  assert_int_equal(mbedtls_x509_crt_parse_file(&crt, path), 0);
  assert_verifies(f, &crt, NULL);
  assert_eku(&crt, false);
  assert_true(mbedtls_x509_dn_gets(a, sizeof(a), &crt.subject) > 0);
  assert_string_equal(a, "CN=laptop-42, O=Sallyport device");
  mbedtls_x509_crt_free(&crt);
  assert_int_equal(run(out, sizeof(out),
                       "openssl verify -purpose sslclient -CAfile %s/ca.crt "
                       "%s",
                       out_dir, path),
                   0);

  /* Same name again: refused, the files as they were. */
  read_all(path, a, sizeof(a));
  assert_int_equal(pki_device_issue(&ca, out_dir, "laptop-42", 7, NULL),
                   SP_EEXIST);
  read_all(path, b, sizeof(b));
  assert_string_equal(a, b);

  /* Another device in the same directory shares the ca.crt there. */
  assert_int_equal(pki_device_issue(&ca, out_dir, "laptop-43", 7, &info), 0);
  assert_lifetime(info.not_after, 7);
  pki_ca_free(&ca);
}

static void test_fingerprint_and_serial(void **state) {
  struct fixture *f = *state;
  char path[256], pem[OUT_MAX], out[OUT_MAX];
  struct pki_cert_info info;
  const char *eq;

  make_ca(f);
  read_all(at(path, sizeof(path), f, "ca.crt"), pem, sizeof(pem));
  assert_int_equal(pki_cert_info_pem(pem, &info), 0);
  assert_int_equal(strlen(info.fingerprint), 64);

  assert_int_equal(run(out, sizeof(out),
                       "openssl x509 -noout -fingerprint -sha256 -in %s", path),
                   0);
  eq = strchr(out, '=');
  assert_non_null(eq);
  memmove(out, eq + 1, strlen(eq + 1) + 1);
  normalise_hex(out);
  assert_string_equal(out, info.fingerprint);

  assert_int_equal(
      run(out, sizeof(out), "openssl x509 -noout -serial -in %s", path), 0);
  assert_true(strncmp(out, "serial=", 7) == 0);
  memmove(out, out + 7, strlen(out + 7) + 1);
  normalise_hex(out);
  assert_string_equal(out, info.serial);
  assert_int_equal(pki_cert_info_pem("garbage", &info), SP_ECRYPTO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn)                                                                  \
  cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
      T(test_ca_create),
      T(test_ca_load),
      T(test_refuses_overwrite),
      T(test_relay_cert),
      T(test_relay_ip_name),
      T(test_relay_loopback_name),
      T(test_csr_round_trip),
      T(test_csr_refused),
      T(test_csr_wrong_key),
      T(test_device),
      T(test_fingerprint_and_serial),
#undef T
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
