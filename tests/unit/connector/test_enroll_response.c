/*
 * The enrolment exchange without the network (connector/enroll.h): the
 * request as it goes out; the relay's answer fed in every possible split,
 * at and over each limit, with good and bad status lines and fields; and
 * the checks on the certificates a 200 answer carries, against a CA made
 * in a directory under /tmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "connector/enroll.h"
#include "tunnel/pki.h"

/* ---- Helpers ----------------------------------------------------------- */

/* Feeds `text` in one piece and returns the result; `r` stays live. */
static int feed_all(struct enroll_resp *r, const char *text, size_t n) {
  enroll_resp_init(r);
  return enroll_resp_feed(r, text, n);
}

static int feed_str(struct enroll_resp *r, const char *text) {
  return feed_all(r, text, strlen(text));
}

/* The result of one answer in one piece, the parser freed. */
static int verdict(const char *text) {
  struct enroll_resp *r = malloc(sizeof(*r));
  int rc;

  assert_non_null(r);
  rc = feed_str(r, text);
  enroll_resp_free(r);
  free(r);
  return rc;
}

/* The same after the relay has closed: feed, then EOF. */
static int verdict_eof(const char *text) {
  struct enroll_resp *r = malloc(sizeof(*r));
  int rc;

  assert_non_null(r);
  rc = feed_str(r, text);
  if (rc == SP_EINCOMPLETE || rc == 0)
    rc = enroll_resp_eof(r);
  enroll_resp_free(r);
  free(r);
  return rc;
}

static const char good[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: application/x-pem-file\r\n"
                           "Content-Length: 11\r\n"
                           "Connection: close\r\n"
                           "\r\n"
                           "hello world";

/* ---- The request ------------------------------------------------------- */

static void test_request(void **state) {
  char out[ENROLL_REQUEST_MAX], length[40];
  uint8_t secret[32];
  const char *csr = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
                    "-----END CERTIFICATE REQUEST-----\n";
  int n;

  memset(secret, 0xfb, sizeof(secret));
  n = enroll_request_format(out, sizeof(out), "[::1]", "paris-office", secret,
                            csr);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(out));
  assert_non_null(strstr(out, "POST /v1/enroll HTTP/1.1\r\nHost: [::1]\r\n"));
  assert_non_null(strstr(out, "\r\nContent-Type: application/pkcs10\r\n"));
  assert_non_null(strstr(out, "\r\nSallyport-Connector: paris-office\r\n"));
  /* 0xfb bytes are "-_" heavy in base64url; 43 characters, no padding. */
  assert_non_null(strstr(out,
                         "\r\nSallyport-Enrol-Secret: "
                         "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s\r\n"));
  assert_non_null(strstr(out, "\r\nConnection: close\r\n\r\n"));
  assert_string_equal(strstr(out, "\r\n\r\n") + 4, csr);
  snprintf(length, sizeof(length), "\r\nContent-Length: %zu\r\n", strlen(csr));
  assert_non_null(strstr(out, length));

  /* Nothing can be smuggled into the head. */
  assert_int_equal(
      enroll_request_format(out, sizeof(out), "h", "a\r\nX: y", secret, csr),
      SP_EUSAGE);
  assert_int_equal(
      enroll_request_format(out, sizeof(out), "h o", "n", secret, csr),
      SP_EUSAGE);
  assert_int_equal(
      enroll_request_format(out, sizeof(out), "h", "n", secret, "a\001b"),
      SP_EUSAGE);
  assert_int_equal(enroll_request_format(out, 100, "h", "n", secret, csr),
                   SP_ETOOBIG);
}

/* ---- The answer: splits ------------------------------------------------ */

static void check_good(const struct enroll_resp *r) {
  assert_int_equal(r->state, ENROLL_RESP_DONE);
  assert_int_equal(r->status, 200);
  assert_int_equal(r->content_length, 11);
  assert_string_equal(r->content_type, "application/x-pem-file");
  assert_int_equal(r->body_len, 11);
  assert_string_equal(r->body, "hello world");
}

static void test_one_piece(void **state) {
  struct enroll_resp *r = malloc(sizeof(*r));

  assert_int_equal(feed_str(r, good), 0);
  check_good(r);
  assert_int_equal(enroll_resp_eof(r), 0);
  enroll_resp_free(r);
  free(r);
}

/* Every way to cut the answer in two, and byte by byte. */
static void test_every_split(void **state) {
  struct enroll_resp *r = malloc(sizeof(*r));
  size_t n = strlen(good), cut, i;
  int rc;

  for (cut = 0; cut <= n; cut++) {
    enroll_resp_init(r);
    rc = enroll_resp_feed(r, good, cut);
    assert_int_equal(rc, cut == n ? 0 : SP_EINCOMPLETE);
    assert_int_equal(enroll_resp_feed(r, good + cut, n - cut), 0);
    check_good(r);
    enroll_resp_free(r);
  }

  enroll_resp_init(r);
  for (i = 0; i < n; i++) {
    rc = enroll_resp_feed(r, good + i, 1);
    assert_int_equal(rc, i + 1 == n ? 0 : SP_EINCOMPLETE);
  }
  check_good(r);
  enroll_resp_free(r);
  free(r);
}

/* The empty line split across calls in each of its three places. */
static void test_split_terminator(void **state) {
  const char *text =
      "HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nno\n";
  const char *end = strstr(text, "\r\n\r\n");
  struct enroll_resp *r = malloc(sizeof(*r));
  size_t k, at;

  for (k = 1; k < 4; k++) {
    at = (size_t)(end - text) + k;
    enroll_resp_init(r);
    assert_int_equal(enroll_resp_feed(r, text, at), SP_EINCOMPLETE);
    assert_int_equal(enroll_resp_feed(r, text + at, strlen(text) - at), 0);
    assert_int_equal(r->status, 401);
    assert_string_equal(r->body, "no\n");
    assert_string_equal(r->content_type, "");
    enroll_resp_free(r);
  }
  free(r);
}

/* ---- The answer: status lines ------------------------------------------ */

static void test_status_lines(void **state) {
  struct enroll_resp *r = malloc(sizeof(*r));

  assert_int_equal(feed_str(r, "HTTP/1.0 403 Forbidden\r\n"
                               "Content-Length: 0\r\n\r\n"),
                   0);
  assert_int_equal(r->status, 403);
  assert_int_equal(r->body_len, 0);
  assert_string_equal(r->body, "");
  enroll_resp_free(r);
  free(r);

  assert_int_equal(verdict("HTTP/1.1 400\r\nContent-Length: 0\r\n\r\n"), 0);
  assert_int_equal(verdict("HTTP/1.1 400 \r\nContent-Length: 0\r\n\r\n"), 0);
  assert_int_equal(
      verdict("HTTP/1.1 599 x\ty\x80\r\nContent-Length: 0\r\n\r\n"), 0);
}

static void test_bad_status_lines(void **state) {
  static const char *const bad[] = {
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.2 200 OK\r\n\r\n",
      "http/1.1 200 OK\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 20x OK\r\n\r\n",
      "HTTP/1.1 099 Odd\r\n\r\n",
      "HTTP/1.1 600 Odd\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 200 O\001K\r\n\r\n",
      "HTTP/1.1 200 OK\n\r\n\r\n",
      "HTTP/1.1 200 OK\r\r\n\r\n",
      " HTTP/1.1 200 OK\r\n\r\n",
      "\r\n\r\n",
      "SSH-2.0-OpenSSH\r\n\r\n",
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    print_message("bad status line %zu\n", i);
    assert_int_equal(verdict(bad[i]), SP_EPARSE);
  }
}

/* ---- The answer: fields ------------------------------------------------ */

static void test_fields(void **state) {
  struct enroll_resp *r = malloc(sizeof(*r));

  /* Names in any case, OWS around values, fields we do not know. */
  assert_int_equal(feed_str(r, "HTTP/1.1 200 OK\r\n"
                               "content-type:\t application/x-pem-file \r\n"
                               "X-Whatever:\r\n"
                               "CONTENT-LENGTH:2\r\n\r\nab"),
                   0);
  assert_string_equal(r->content_type, "application/x-pem-file");
  assert_int_equal(r->content_length, 2);
  assert_string_equal(r->body, "ab");
  enroll_resp_free(r);
  free(r);
}

static void test_bad_fields(void **state) {
  static const char *const bad[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\001b\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Type: a\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX(y): z\r\n\r\n",
  };
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    print_message("bad field %zu\n", i);
    assert_int_equal(verdict(bad[i]), SP_EPARSE);
  }
}

/* ---- The answer: limits and ends --------------------------------------- */

/* A head of exactly `size` bytes: a status line, padding, the end. */
static char *head_of(size_t size) {
  static const char start[] = "HTTP/1.1 200 OK\r\nX-Pad: ";
  static const char end[] = "\r\nContent-Length: 0\r\n\r\n";
  char *h = malloc(size + 1);

  assert_non_null(h);
  assert_true(size > sizeof(start) + sizeof(end));
  memcpy(h, start, sizeof(start) - 1);
  memset(h + sizeof(start) - 1, 'p', size - (sizeof(start) - 1));
  memcpy(h + size - (sizeof(end) - 1), end, sizeof(end));
  assert_int_equal(strlen(h), size);
  return h;
}

static void test_head_limit(void **state) {
  char *h = head_of(ENROLL_HEAD_MAX);

  assert_int_equal(verdict(h), 0);
  free(h);
  h = head_of(ENROLL_HEAD_MAX + 1);
  assert_int_equal(verdict(h), SP_ETOOBIG);
  free(h);

  /* No end of head at all: refused once the limit is passed. */
  h = malloc(ENROLL_HEAD_MAX + 2);
  memset(h, 'x', ENROLL_HEAD_MAX + 1);
  memcpy(h, "HTTP/1.1 200 OK\r\nX: ", 20);
  h[ENROLL_HEAD_MAX + 1] = '\0';
  assert_int_equal(verdict(h), SP_ETOOBIG);
  free(h);
}

/* An answer with a body of `n` bytes, with or without Content-Length. */
static char *body_of(size_t n, int with_length) {
  char *t = malloc(n + 128);
  int len;

  assert_non_null(t);
  len = with_length
            ? sprintf(t, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n)
            : sprintf(t, "HTTP/1.1 200 OK\r\n\r\n");
  memset(t + len, 'b', n);
  t[len + (int)n] = '\0';
  return t;
}

static void test_body_limit(void **state) {
  char *t;

  t = body_of(ENROLL_BODY_MAX, 1);
  assert_int_equal(verdict(t), 0);
  free(t);
  t = body_of(ENROLL_BODY_MAX + 1, 1);
  assert_int_equal(verdict(t), SP_ETOOBIG);
  free(t);
  assert_int_equal(verdict("HTTP/1.1 200 OK\r\nContent-Length: "
                           "99999999999999999999999\r\n\r\n"),
                   SP_ETOOBIG);

  /* Without Content-Length the body runs to the end of the connection. */
  t = body_of(ENROLL_BODY_MAX, 0);
  assert_int_equal(verdict(t), SP_EINCOMPLETE);
  assert_int_equal(verdict_eof(t), 0);
  free(t);
  t = body_of(ENROLL_BODY_MAX + 1, 0);
  assert_int_equal(verdict(t), SP_ETOOBIG);
  free(t);
}

static void test_ends(void **state) {
  struct enroll_resp *r = malloc(sizeof(*r));

  /* Bytes after the body, in the same piece or a later one. */
  assert_int_equal(verdict("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab"),
                   SP_EPARSE);
  assert_int_equal(verdict("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nx"),
                   SP_EPARSE);
  assert_int_equal(feed_str(r, good), 0);
  assert_int_equal(enroll_resp_feed(r, "x", 1), SP_EPARSE);
  assert_int_equal(r->state, ENROLL_RESP_FAILED);
  assert_int_equal(enroll_resp_feed(r, "x", 1), SP_EPARSE);
  enroll_resp_free(r);

  /* The relay closing early. */
  enroll_resp_init(r);
  assert_int_equal(enroll_resp_eof(r), SP_EPARSE);
  assert_string_equal(r->why, "the relay closed without answering");
  enroll_resp_free(r);
  free(r);
  assert_int_equal(verdict_eof("HTTP/1.1 200 OK\r\n"), SP_EPARSE);
  assert_int_equal(verdict_eof("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                               "abc"),
                   SP_EPARSE);
  assert_int_equal(verdict_eof("HTTP/1.1 401 No\r\n\r\nused token"), 0);
}

/* ---- The certificates -------------------------------------------------- */

static char root[64];
static char ca_pem[PKI_CRT_PEM_MAX], evil_pem[PKI_CRT_PEM_MAX];
static char ca_pin[PKI_FINGERPRINT_HEX], evil_pin[PKI_FINGERPRINT_HEX];
static struct pki_ca ca, evil;

static int load_ca(struct pki_ca *c, const char *name, char *pem, char *pin) {
  char dir[128], path[160], *buf;
  size_t len;
  int rc;

  snprintf(dir, sizeof(dir), "%s/%s", root, name);
  if (mkdir(dir, 0700) != 0)
    return -1;
  pki_ca_init(c);
  rc = pki_ca_create(c, dir, "relay.test");
  snprintf(path, sizeof(path), "%s/ca.crt", dir);
  if (rc == 0)
    rc = sp_read_file(path, PKI_CRT_PEM_MAX - 1, &buf, &len);
  if (rc != 0)
    return -1;
  memcpy(pem, buf, len + 1);
  free(buf);
  return pki_crt_fingerprint(&c->crt, pin);
}

static int group_setup(void **state) {
  snprintf(root, sizeof(root), "/tmp/sp-enrol-XXXXXX");
  if (mkdtemp(root) == NULL)
    return -1;
  if (load_ca(&ca, "good", ca_pem, ca_pin) != 0 ||
      load_ca(&evil, "evil", evil_pem, evil_pin) != 0)
    return -1;
  return 0;
}

static int remove_cb(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw) {
  return remove(path);
}

static int group_teardown(void **state) {
  pki_ca_free(&ca);
  pki_ca_free(&evil);
  nftw(root, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* A key, and a certificate for it from `issuer` naming `name`. */
struct issued {
  char key[PKI_KEY_PEM_MAX];
  char crt[PKI_CRT_PEM_MAX];
};

static void issue(struct pki_ca *issuer, const char *name, struct issued *out) {
  char csr[PKI_CSR_PEM_MAX];

  assert_int_equal(pki_csr_make(name, out->key, csr), 0);
  assert_int_equal(pki_csr_sign(issuer, csr, name, 0, out->crt, NULL), 0);
}

/* `a` followed by `b` (NULL: nothing), in a static buffer. */
static const char *concat(const char *a, const char *b) {
  static char body[4 * PKI_CRT_PEM_MAX];
  size_t na = strlen(a), nb = b != NULL ? strlen(b) : 0;

  assert_true(na + nb < sizeof(body));
  memcpy(body, a, na);
  memcpy(body + na, b != NULL ? b : "", nb);
  body[na + nb] = '\0';
  return body;
}

/* Runs the check on `a` followed by `b` (NULL: nothing). */
static int check(const char *a, const char *b, const char *name,
                 const char *pin, const char *key, char *err, size_t errn) {
  static struct enroll_certs out;

  return enroll_check_certs(concat(a, b), name, pin, key, &out, err, errn);
}

static void test_certs_good(void **state) {
  static struct enroll_certs out;
  static struct issued mine;

  issue(&ca, "paris-office", &mine);
  assert_int_equal(enroll_check_certs(concat(mine.crt, ca_pem), "paris-office",
                                      ca_pin, mine.key, &out, NULL, 0),
                   0);
  assert_string_equal(out.ca_pem, ca_pem);
  assert_string_equal(out.crt_pem, mine.crt);
}

static void test_certs_refused(void **state) {
  static struct issued mine, other, evil_crt;
  char err[256];

  issue(&ca, "paris-office", &mine);
  issue(&ca, "paris-office", &other);
  issue(&evil, "paris-office", &evil_crt);

  /* A CA that is not the pinned one, even if it signed the certificate. */
  assert_int_equal(check(evil_crt.crt, evil_pem, "paris-office", ca_pin,
                         evil_crt.key, err, sizeof(err)),
                   SP_ECERT);
  assert_non_null(strstr(err, "fingerprint"));

  /* The pinned CA next to a certificate it did not sign. */
  assert_int_equal(check(evil_crt.crt, ca_pem, "paris-office", ca_pin,
                         evil_crt.key, err, sizeof(err)),
                   SP_ECERT);
  assert_non_null(strstr(err, "does not verify"));

  /* A certificate for another name, or for another key. */
  assert_int_equal(check(mine.crt, ca_pem, "lyon-office", ca_pin, mine.key, err,
                         sizeof(err)),
                   SP_ECERT);
  assert_int_equal(check(mine.crt, ca_pem, "paris-office", ca_pin, other.key,
                         err, sizeof(err)),
                   SP_ECERT);
  assert_non_null(strstr(err, "key"));

  /* The CA first, or as the only certificate. */
  assert_int_equal(check(ca_pem, mine.crt, "paris-office", ca_pin, mine.key,
                         err, sizeof(err)),
                   SP_ECERT);
  assert_int_equal(
      check(ca_pem, NULL, "paris-office", ca_pin, mine.key, err, sizeof(err)),
      SP_EPARSE);
}

static void test_certs_malformed(void **state) {
  static struct issued mine;
  static char three[3 * PKI_CRT_PEM_MAX];
  char err[256];

  issue(&ca, "paris-office", &mine);
  assert_int_equal(
      check("", NULL, "paris-office", ca_pin, mine.key, err, sizeof(err)),
      SP_EPARSE);
  assert_int_equal(check("garbage", NULL, "paris-office", ca_pin, mine.key, err,
                         sizeof(err)),
                   SP_EPARSE);
  strcpy(three, concat(mine.crt, ca_pem));
  assert_int_equal(
      check(three, ca_pem, "paris-office", ca_pin, mine.key, err, sizeof(err)),
      SP_EPARSE);
  assert_non_null(strstr(err, "exactly two"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request),
      cmocka_unit_test(test_one_piece),
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_split_terminator),
      cmocka_unit_test(test_status_lines),
      cmocka_unit_test(test_bad_status_lines),
      cmocka_unit_test(test_fields),
      cmocka_unit_test(test_bad_fields),
      cmocka_unit_test(test_head_limit),
      cmocka_unit_test(test_body_limit),
      cmocka_unit_test(test_ends),
      cmocka_unit_test(test_certs_good),
      cmocka_unit_test(test_certs_refused),
      cmocka_unit_test(test_certs_malformed),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
