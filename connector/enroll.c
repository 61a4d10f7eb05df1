/*
 * The enrolment exchange without I/O; see enroll.h.
 *
 * The response parser gathers the head whole (at most ENROLL_HEAD_MAX
 * bytes, up to the empty line) before reading any of it, so that how the
 * bytes were split can never change the outcome, and then parses it in
 * one pass: the status line, then one header field per line.  The body
 * goes to a buffer sized from Content-Length, or of ENROLL_BODY_MAX bytes
 * when the relay sends none and closes instead.
 */
#include "connector/enroll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "common/err.h"

#define PEM_BEGIN_CRT "-----BEGIN CERTIFICATE-----\n"
#define PEM_END_CRT "-----END CERTIFICATE-----\n"

/* ---- The request ------------------------------------------------------- */

/* Printable ASCII without spaces: safe inside a header field. */
static int field_safe(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++)
    if (*s <= 0x20 || *s >= 0x7f)
      return 0;
  return 1;
}

/* A PEM text: printable ASCII and line ends only. */
static int pem_safe(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++)
    if ((*s < 0x20 || *s >= 0x7f) && *s != '\r' && *s != '\n')
      return 0;
  return 1;
}

/* The secret as unpadded base64url (RFC 4648 section 5): 43 characters. */
static int secret_text(const uint8_t secret[32], char out[48]) {
  size_t n, i;

  if (mbedtls_base64_encode((unsigned char *)out, 48, &n, secret, 32) != 0)
    return SP_ETOOBIG;
  while (n > 0 && out[n - 1] == '=')
    n--;
  out[n] = '\0';
  for (i = 0; i < n; i++) {
    if (out[i] == '+')
      out[i] = '-';
    else if (out[i] == '/')
      out[i] = '_';
  }
  return 0;
}

int enroll_request_format(char *out, size_t n, const char *host,
                          const char *name, const uint8_t secret[32],
                          const char *csr_pem) {
  char b64[48];
  int len;

  if (!field_safe(host) || !field_safe(name) || !pem_safe(csr_pem))
    return SP_EUSAGE;
  if (secret_text(secret, b64) != 0)
    return SP_EUSAGE;

  len = snprintf(out, n,
                 "POST " ENROLL_PATH " HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Content-Type: application/pkcs10\r\n"
                 "Sallyport-Connector: %s\r\n"
                 "Sallyport-Enrol-Secret: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "Connection: close\r\n"
                 "\r\n"
                 "%s",
                 host, name, b64, strlen(csr_pem), csr_pem);
  memset(b64, 0, sizeof(b64));
  if (len < 0 || (size_t)len >= n) {
    if (n > 0)
      memset(out, 0, n);
    return SP_ETOOBIG;
  }
  return len;
}

/* ---- The response ------------------------------------------------------ */

void enroll_resp_init(struct enroll_resp *r) {
  memset(r, 0, offsetof(struct enroll_resp, head));
  r->state = ENROLL_RESP_HEAD;
  r->content_length = -1;
}

void enroll_resp_free(struct enroll_resp *r) {
  free(r->body);
  r->body = NULL;
  r->body_cap = r->body_len = 0;
}

static int fail(struct enroll_resp *r, int code, const char *why) {
  r->state = ENROLL_RESP_FAILED;
  r->why = why;
  return code;
}

/* RFC 9110 tchar: what a field name is made of. */
static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* What a reason phrase or a field value may hold: HTAB, SP, VCHAR and
 * obs-text; no other control byte. */
static int is_text(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* "HTTP/1.x DDD[ reason]" in `line` (`n` bytes, no CRLF). */
static int parse_status(struct enroll_resp *r, const char *line, size_t n) {
  size_t i;

  if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
      (line[7] != '0' && line[7] != '1') || line[8] != ' ')
    return fail(r, SP_EPARSE, "malformed status line");
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      line[9] < '1' || line[9] > '5' || (n > 12 && line[12] != ' '))
    return fail(r, SP_EPARSE, "malformed status code");
  for (i = 13; i < n; i++)
    if (!is_text((unsigned char)line[i]))
      return fail(r, SP_EPARSE, "control byte in the reason phrase");

  r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (r->status < 200)
    return fail(r, SP_EPARSE, "unexpected interim answer");
  return 0;
}

/* Content-Length: digits only, once, within the body limit. */
static int parse_length(struct enroll_resp *r, const char *v, size_t n) {
  int64_t len = 0;
  size_t i;

  if (r->content_length >= 0)
    return fail(r, SP_EPARSE, "Content-Length given twice");
  if (n == 0)
    return fail(r, SP_EPARSE, "malformed Content-Length");
  for (i = 0; i < n; i++) {
    if (!is_digit((unsigned char)v[i]))
      return fail(r, SP_EPARSE, "malformed Content-Length");
    len = len * 10 + (v[i] - '0');
    if (len > ENROLL_BODY_MAX)
      return fail(r, SP_ETOOBIG, "body over the limit");
  }
  r->content_length = len;
  return 0;
}

static int parse_type(struct enroll_resp *r, const char *v, size_t n) {
  if (r->content_type[0] != '\0')
    return fail(r, SP_EPARSE, "Content-Type given twice");
  if (n > ENROLL_TYPE_MAX)
    return fail(r, SP_ETOOBIG, "Content-Type over the limit");
  memcpy(r->content_type, v, n);
  r->content_type[n] = '\0';
  return 0;
}

static int name_is(const char *p, size_t n, const char *name) {
  return n == strlen(name) && strncasecmp(p, name, n) == 0;
}

/* "name: value" in `line` (`n` bytes, no CRLF); OWS around the value. */
static int parse_field(struct enroll_resp *r, const char *line, size_t n) {
  size_t i, j, name_len, end;

  for (i = 0; i < n && is_tchar((unsigned char)line[i]); i++)
    ;
  if (i == 0 || i == n || line[i] != ':')
    return fail(r, SP_EPARSE, "malformed header field");
  name_len = i++;
  while (i < n && (line[i] == ' ' || line[i] == '\t'))
    i++;
  for (end = n; end > i && (line[end - 1] == ' ' || line[end - 1] == '\t');)
    end--;
  for (j = i; j < end; j++)
    if (!is_text((unsigned char)line[j]))
      return fail(r, SP_EPARSE, "control byte in a header field");

  if (name_is(line, name_len, "Content-Length"))
    return parse_length(r, line + i, end - i);
  if (name_is(line, name_len, "Content-Type"))
    return parse_type(r, line + i, end - i);
  if (name_is(line, name_len, "Transfer-Encoding"))
    return fail(r, SP_EPARSE, "Transfer-Encoding is not supported");
  return 0;
}

/* The next line of the head from `*off`: its length without CRLF, or -1
 * when a CR or LF stands alone. */
static long next_line(const char *h, size_t len, size_t *off) {
  size_t start = *off, i;

  for (i = start; i < len; i++) {
    if (h[i] == '\n')
      return -1;
    if (h[i] == '\r') {
      if (i + 1 >= len || h[i + 1] != '\n')
        return -1;
      *off = i + 2;
      return (long)(i - start);
    }
  }
  return -1;
}

/* The whole head, from the status line to the empty line. */
static int parse_head(struct enroll_resp *r) {
  size_t off = 0, start;
  long n;
  int rc;

  n = next_line(r->head, r->head_len, &off);
  if (n < 0)
    return fail(r, SP_EPARSE, "bare CR or LF in the head");
  rc = parse_status(r, r->head, (size_t)n);

  while (rc == 0) {
    start = off;
    n = next_line(r->head, r->head_len, &off);
    if (n < 0)
      return fail(r, SP_EPARSE, "bare CR or LF in the head");
    if (n == 0)
      break;
    if (r->head[start] == ' ' || r->head[start] == '\t')
      return fail(r, SP_EPARSE, "folded header field");
    rc = parse_field(r, r->head + start, (size_t)n);
  }
  return rc;
}

/* Sizes the body once the head is in. */
static int body_start(struct enroll_resp *r) {
  r->body_cap = r->content_length >= 0 ? (size_t)r->content_length
                                       : (size_t)ENROLL_BODY_MAX;
  r->body = malloc(r->body_cap + 1);
  if (r->body == NULL)
    return fail(r, SP_ENOMEM, "out of memory");
  r->body[0] = '\0';
  r->state = ENROLL_RESP_BODY;
  if (r->content_length == 0)
    r->state = ENROLL_RESP_DONE;
  return 0;
}

static int body_feed(struct enroll_resp *r, const char *p, size_t n) {
  if (n > r->body_cap - r->body_len) {
    if (r->content_length >= 0)
      return fail(r, SP_EPARSE, "bytes after the body");
    return fail(r, SP_ETOOBIG, "body over the limit");
  }
  memcpy(r->body + r->body_len, p, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  if (r->content_length >= 0 && r->body_len == (size_t)r->content_length)
    r->state = ENROLL_RESP_DONE;
  return 0;
}

/*
 * Adds up to the rest of the head's room from `p` to the head and looks
 * for the empty line, starting three bytes back in case its CRLFCRLF was
 * split.  Returns how many of the bytes belonged to the head.
 */
static size_t head_take(struct enroll_resp *r, const char *p, size_t n,
                        int *whole) {
  size_t room = sizeof(r->head) - r->head_len, take = n < room ? n : room;
  size_t i = r->head_len > 3 ? r->head_len - 3 : 0, old = r->head_len;

  memcpy(r->head + r->head_len, p, take);
  r->head_len += take;
  *whole = 0;
  for (; i + 4 <= r->head_len; i++) {
    if (memcmp(r->head + i, "\r\n\r\n", 4) == 0) {
      r->head_len = i + 4;
      *whole = 1;
      return r->head_len - old;
    }
  }
  return take;
}

int enroll_resp_feed(struct enroll_resp *r, const void *p, size_t n) {
  const char *c = p;
  size_t used;
  int whole, rc;

  if (r->state == ENROLL_RESP_DONE && n > 0)
    return fail(r, SP_EPARSE, "bytes after the body");
  if (r->state == ENROLL_RESP_FAILED)
    return SP_EPARSE;

  if (r->state == ENROLL_RESP_HEAD && n > 0) {
    used = head_take(r, c, n, &whole);
    c += used;
    n -= used;
    if (!whole && r->head_len == sizeof(r->head))
      return fail(r, SP_ETOOBIG, "head over the limit");
    if (!whole)
      return SP_EINCOMPLETE;
    rc = parse_head(r);
    if (rc == 0)
      rc = body_start(r);
    if (rc != 0)
      return rc;
  }

  if (r->state == ENROLL_RESP_BODY && n > 0) {
    rc = body_feed(r, c, n);
    if (rc != 0)
      return rc;
    n = 0;
  }
  if (n > 0)
    return fail(r, SP_EPARSE, "bytes after the body");
  return r->state == ENROLL_RESP_DONE ? 0 : SP_EINCOMPLETE;
}

int enroll_resp_eof(struct enroll_resp *r) {
  switch (r->state) {
  case ENROLL_RESP_DONE:
    return 0;
  case ENROLL_RESP_BODY:
    if (r->content_length < 0) {
      r->state = ENROLL_RESP_DONE;
      return 0;
    }
    return fail(r, SP_EPARSE, "the answer ended inside its body");
  case ENROLL_RESP_HEAD:
    if (r->head_len == 0)
      return fail(r, SP_EPARSE, "the relay closed without answering");
    return fail(r, SP_EPARSE, "the answer ended inside its head");
  case ENROLL_RESP_FAILED:
    break;
  }
  return SP_EPARSE;
}

/* ---- The certificates -------------------------------------------------- */

/* Whether the DER of `crt` has the SHA-256 written in hex in `pin`. */
static int pin_matches(const mbedtls_x509_crt *crt, const char *pin) {
  char hex[PKI_FINGERPRINT_HEX];

  return pki_crt_fingerprint(crt, hex) == 0 && strcmp(hex, pin) == 0;
}

/* Whether the subject's common name of `crt` is exactly `name`. */
static int cn_is(const mbedtls_x509_crt *crt, const char *name) {
  const mbedtls_x509_name *n;

  for (n = &crt->subject; n != NULL; n = n->next)
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
      return n->val.len == strlen(name) &&
             memcmp(n->val.p, name, n->val.len) == 0;
  return 0;
}

/* Whether `crt` is for the private key in `key_pem`. */
static int key_matches(const mbedtls_x509_crt *crt, const char *key_pem) {
  mbedtls_pk_context key;
  int ok;

  mbedtls_pk_init(&key);
  ok = mbedtls_pk_parse_key(&key, (const unsigned char *)key_pem,
                            strlen(key_pem) + 1, NULL, 0) == 0 &&
       mbedtls_pk_check_pair(&crt->pk, &key) == 0;
  mbedtls_pk_free(&key);
  return ok;
}

/* The checks on a parsed pair, in the order a reader would make them. */
static int check_pair(const mbedtls_x509_crt *leaf, const mbedtls_x509_crt *ca,
                      const char *name, const char *pin, const char *key_pem,
                      char *err, size_t errn) {
  char info[200];
  uint32_t flags;

  if (!ca->ca_istrue || !pin_matches(ca, pin)) {
    snprintf(err, errn,
             "the relay sent a CA certificate that does not "
             "match the token's fingerprint");
    return SP_ECERT;
  }
  flags = pki_verify_alone(leaf, ca, NULL);
  if (flags != 0) {
    mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
    info[strcspn(info, "\n")] = '\0';
    snprintf(err, errn, "the certificate does not verify against the CA: %s",
             info);
    return SP_ECERT;
  }
  if (!cn_is(leaf, name) ||
      mbedtls_x509_crt_check_extended_key_usage(
          leaf, MBEDTLS_OID_CLIENT_AUTH,
          MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
    snprintf(err, errn, "the certificate is not a client certificate for %s",
             name);
    return SP_ECERT;
  }
  if (!key_matches(leaf, key_pem)) {
    snprintf(err, errn, "the certificate is not for this connector's key");
    return SP_ECERT;
  }
  return 0;
}

static int pem_of(const mbedtls_x509_crt *crt, char out[PKI_CRT_PEM_MAX]) {
  size_t olen;

  if (mbedtls_pem_write_buffer(PEM_BEGIN_CRT, PEM_END_CRT, crt->raw.p,
                               crt->raw.len, (unsigned char *)out,
                               PKI_CRT_PEM_MAX, &olen) != 0)
    return SP_ETOOBIG;
  return 0;
}

int enroll_check_certs(const char *body, const char *name, const char *pin,
                       const char *key_pem, struct enroll_certs *out, char *err,
                       size_t errn) {
  const mbedtls_x509_crt *c;
  mbedtls_x509_crt chain;
  int ret, count = 0, rc;

  mbedtls_x509_crt_init(&chain);
  ret = mbedtls_x509_crt_parse(&chain, (const unsigned char *)body,
                               strlen(body) + 1);
  for (c = &chain; ret == 0 && c != NULL && c->raw.len > 0; c = c->next)
    count++;
  if (ret != 0 || count != 2) {
    snprintf(err, errn,
             "the relay's answer does not hold exactly two certificates");
    rc = SP_EPARSE;
  } else {
    rc = check_pair(&chain, chain.next, name, pin, key_pem, err, errn);
  }
  if (rc == 0 && (pem_of(&chain, out->crt_pem) != 0 ||
                  pem_of(chain.next, out->ca_pem) != 0))
    rc = SP_ETOOBIG;
  mbedtls_x509_crt_free(&chain);
  return rc;
}
