/*
 * Who a TLS connection trusts: mutual authentication over loopback,
 * refusals of every kind of wrong certificate and name, the client
 * certificate modes, conf errors, and pinned mode (trust by CA
 * fingerprint, as an enrolling connector does).  The bench is
 * tls_world.h; every test ends with no handle left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>

#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509.h>
#include <uv.h>

#include "common/err.h"
#include "common/log.h"
#include "tunnel/batch.h"
#include "tunnel/pki.h"
#include "tunnel/tls.h"

#include "tls_world.h"

/* ---- Tests: verification ----------------------------------------------- */

static void test_mutual_auth(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", RELAY, 0));
  assert_clean_ping(&w);
  assert_true(w.server.peer);
  assert_non_null(strstr(w.server.peer_cn, "CN=" DEVICE));
  assert_true(w.client.peer);
  assert_non_null(strstr(w.client.peer_cn, "CN=" RELAY));
  assert_string_equal(w.client.cipher, w.server.cipher);
  assert_string_equal(w.client.cipher,
                      mbedtls_ssl_get_ciphersuite_name(tls_suites()[0]));
}

static void test_every_suite(void **state) {
  const int *suite;
  struct world w;

  for (suite = tls_suites(); *suite != 0; suite++) {
    run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
             client_conf("good", RELAY, *suite));
    assert_clean_ping(&w);
    assert_string_equal(w.client.cipher,
                        mbedtls_ssl_get_ciphersuite_name(*suite));
  }
}

static void test_required_without_cert(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf(NULL, RELAY, 0));
  assert_refused_by(&w.server, &w.client);
}

static void test_client_cert_other_ca(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("evil", RELAY, 0));
  assert_refused_by(&w.server, &w.client);
}

static void test_server_cert_other_ca(void **state) {
  struct world w;

  run_pair(&w, server_conf("evil", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", RELAY, 0));
  assert_refused_by(&w.client, &w.server);
}

static void test_wrong_server_name(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "other.test", 0));
  assert_refused_by(&w.client, &w.server);

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "10.1.2.3", 0));
  assert_refused_by(&w.client, &w.server);
}

/* The relay's certificate names 127.0.0.1 and ::1 as IP addresses. */
static void test_ip_server_name(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "127.0.0.1", 0));
  assert_clean_ping(&w);
  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "::1", 0));
  assert_clean_ping(&w);
  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_REQUIRED, 0),
           client_conf("good", "localhost", 0));
  assert_clean_ping(&w);
}

static void test_optional_mode(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_OPTIONAL, 0),
           client_conf("good", RELAY, 0));
  assert_clean_ping(&w);
  assert_true(w.server.peer);
  assert_non_null(strstr(w.server.peer_cn, "CN=" DEVICE));

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_OPTIONAL, 0),
           client_conf(NULL, RELAY, 0));
  assert_clean_ping(&w);
  assert_false(w.server.peer);

  /* A certificate that is sent must verify, even when optional. */
  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_OPTIONAL, 0),
           client_conf("evil", RELAY, 0));
  assert_refused_by(&w.server, &w.client);
}

static void test_none_mode(void **state) {
  struct world w;

  run_pair(&w, server_conf("good", TLS_CLIENT_CERT_NONE, 0),
           client_conf("good", RELAY, 0));
  assert_clean_ping(&w);
  assert_false(w.server.peer);
  assert_true(w.client.peer);
}

static void test_conf_errors(void **state) {
  struct tls_server_opts so = {0};
  struct tls_client_opts co = {0};
  struct tls_conf *conf = NULL;
  struct paths p;

  so.ca_file = at(p.ca, sizeof(p.ca), "good", "ca.crt");
  so.crt_file = at(p.crt, sizeof(p.crt), "good", "relay.crt");
  so.key_file = at(p.key, sizeof(p.key), "evil", "relay.key");
  so.client_cert = TLS_CLIENT_CERT_REQUIRED;
  assert_int_equal(tls_conf_server(&conf, &so), SP_ECRYPTO);
  so.key_file = at(p.key, sizeof(p.key), "good", "missing.key");
  assert_int_equal(tls_conf_server(&conf, &so), UV_ENOENT);
  so.key_file = at(p.key, sizeof(p.key), "good", "ca.crt");
  assert_int_equal(tls_conf_server(&conf, &so), SP_ECRYPTO);
  so.key_file = at(p.key, sizeof(p.key), "good", "relay.key");
  so.ca_file = NULL;
  assert_int_equal(tls_conf_server(&conf, &so), SP_EUSAGE);

  co.ca_file = at(p.ca, sizeof(p.ca), "good", "ca.crt");
  assert_int_equal(tls_conf_client(&conf, &co), SP_EUSAGE); /* no name */
  co.server_name = RELAY;
  co.suite = MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
  assert_int_equal(tls_conf_client(&conf, &co), SP_EUSAGE);
  co.suite = 0;
  co.crt_file = at(p.crt, sizeof(p.crt), "good", DEVICE ".crt");
  assert_int_equal(tls_conf_client(&conf, &co), SP_EUSAGE); /* no key */
  co.ca_file = NULL;
  co.ca_pem = "not a certificate";
  co.crt_file = NULL;
  assert_int_equal(tls_conf_client(&conf, &co), SP_ECRYPTO);
  assert_null(conf);
}

/* ---- Tests: pinned mode ----------------------------------------------- */

/* Writes the concatenation of files `a` and `b` to `out`. */
static void cat_files(const char *out, const char *a, const char *b) {
  const char *in[2] = {a, b};
  FILE *w = fopen(out, "w"), *r;
  char buf[4096];
  size_t i, n;

  assert_non_null(w);
  for (i = 0; i < 2; i++) {
    r = fopen(in[i], "r");
    assert_non_null(r);
    while ((n = fread(buf, 1, sizeof(buf), r)) > 0)
      assert_int_equal(fwrite(buf, 1, n, w), n);
    fclose(r);
  }
  assert_int_equal(fclose(w), 0);
}

/* The fingerprint of CA `ca`'s certificate, as a token carries it. */
static void ca_pin(const char *ca, char out[PKI_FINGERPRINT_HEX]) {
  mbedtls_x509_crt crt;
  char path[160];

  mbedtls_x509_crt_init(&crt);
  assert_int_equal(
      mbedtls_x509_crt_parse_file(&crt, at(path, sizeof(path), ca, "ca.crt")),
      0);
  assert_int_equal(pki_crt_fingerprint(&crt, out), 0);
  mbedtls_x509_crt_free(&crt);
}

/* A server sending the chain file `chain` with `ca`'s relay key. */
static struct tls_conf *chain_server_conf(const char *chain, const char *ca) {
  struct tls_server_opts o = {0};
  struct tls_conf *conf = NULL;
  struct paths p;

  o.crt_file = chain;
  o.key_file = at(p.key, sizeof(p.key), ca, "relay.key");
  o.client_cert = TLS_CLIENT_CERT_NONE;
  assert_int_equal(tls_conf_server(&conf, &o), 0);
  return conf;
}

/* A client that knows its CA only by `pin`, as an enrolling connector. */
static struct tls_conf *pinned_client_conf(const char *pin, const char *name) {
  struct tls_client_opts o = {0};
  struct tls_conf *conf = NULL;

  o.pin_sha256 = pin;
  o.server_name = name;
  o.limits.timeout_ms = 2000;
  assert_int_equal(tls_conf_client(&conf, &o), 0);
  return conf;
}

/* Runs a ping from a pinned client to a server sending `chain`. */
static void run_pinned(struct world *w, const char *chain, const char *key_ca,
                       const char *pin, const char *name) {
  run_pair(w, chain_server_conf(chain, key_ca), pinned_client_conf(pin, name));
}

static void test_pinned_conf_errors(void **state) {
  struct tls_client_opts o = {0};
  struct tls_conf *conf = NULL;
  char pin[PKI_FINGERPRINT_HEX], path[160];

  ca_pin("good", pin);
  o.server_name = RELAY;
  o.pin_sha256 = pin;
  o.ca_file = at(path, sizeof(path), "good", "ca.crt");
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE); /* pin and CA */
  o.ca_file = NULL;
  o.ca_pem = "-----BEGIN CERTIFICATE-----";
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE);
  o.ca_pem = NULL;
  pin[0] = 'A'; /* upper case is not a pin */
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE);
  o.pin_sha256 = "00";
  assert_int_equal(tls_conf_client(&conf, &o), SP_EUSAGE);
  assert_null(conf);
}

static void test_pinned_mode(void **state) {
  char good_pin[PKI_FINGERPRINT_HEX], evil_pin[PKI_FINGERPRINT_HEX];
  char chain[160], mixed[160], a[160], b[160];
  struct world w;

  ca_pin("good", good_pin);
  ca_pin("evil", evil_pin);
  snprintf(chain, sizeof(chain), "%s/good-chain.crt", root);
  cat_files(chain, at(a, sizeof(a), "good", "relay.crt"),
            at(b, sizeof(b), "good", "ca.crt"));
  /* The evil relay's certificate followed by the good CA's. */
  snprintf(mixed, sizeof(mixed), "%s/mixed-chain.crt", root);
  cat_files(mixed, at(a, sizeof(a), "evil", "relay.crt"),
            at(b, sizeof(b), "good", "ca.crt"));

  /* The right pin, with the CA in the chain: trusted, data flows. */
  run_pinned(&w, chain, "good", good_pin, RELAY);
  assert_clean_ping(&w);
  assert_true(w.client.peer);
  assert_non_null(strstr(w.client.peer_cn, "CN=" RELAY));
  run_pinned(&w, chain, "good", good_pin, "127.0.0.1");
  assert_clean_ping(&w);

  /* A pin that no certificate in the chain has. */
  run_pinned(&w, chain, "good", evil_pin, RELAY);
  assert_refused_by(&w.client, &w.server);

  /* The server's certificate alone: no CA in the chain to pin. */
  run_pinned(&w, at(a, sizeof(a), "good", "relay.crt"), "good", good_pin,
             RELAY);
  assert_refused_by(&w.client, &w.server);

  /* The pinned CA is in the chain but did not sign the certificate. */
  run_pinned(&w, mixed, "evil", good_pin, RELAY);
  assert_refused_by(&w.client, &w.server);

  /* The pin holds but the certificate names another server. */
  run_pinned(&w, chain, "good", good_pin, "other.test");
  assert_refused_by(&w.client, &w.server);
  run_pinned(&w, chain, "good", good_pin, "10.1.2.3");
  assert_refused_by(&w.client, &w.server);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mutual_auth),
      cmocka_unit_test(test_every_suite),
      cmocka_unit_test(test_required_without_cert),
      cmocka_unit_test(test_client_cert_other_ca),
      cmocka_unit_test(test_server_cert_other_ca),
      cmocka_unit_test(test_wrong_server_name),
      cmocka_unit_test(test_ip_server_name),
      cmocka_unit_test(test_optional_mode),
      cmocka_unit_test(test_none_mode),
      cmocka_unit_test(test_conf_errors),
      cmocka_unit_test(test_pinned_conf_errors),
      cmocka_unit_test(test_pinned_mode),
  };

  if (getenv("SP_TEST_DEBUG") != NULL)
    sp_log_set_level(SP_LOG_DEBUG);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
