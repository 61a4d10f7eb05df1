/*
 * Enrolment, relay side: a connector without a certificate connects to
 * listen.connectors and sends one request (docs/connector.md):
 *
 *   POST /v1/enroll HTTP/1.1
 *   Sallyport-Connector: NAME
 *   Sallyport-Enrol-Secret: base64url of the token's 32-byte secret
 *   Content-Type: application/pkcs10
 *   Content-Length: N
 *
 *   <certificate request, PEM>
 *
 * The relay signs the request (its own key, made on the connector),
 * spends the one-time secret in the same store transaction that records
 * the certificate's serial, and answers 200 with the certificate and the
 * CA certificate, PEM, or 400 / 401 / 403.  Then it closes.
 */
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "policy/connectors.h"
#include "policy/policy.h"
#include "relay/tunnel_int.h"

#define ENROL_BODY_MAX 8192

void enroll_free(struct relay_tunnel *t) {
  if (t->req != NULL) {
    httpc_wipe(t->req);
    free(t->req);
    t->req = NULL;
  }
  sp_wbuf_free(&t->body);
}

static void answer(struct relay_tunnel *t, int status, const char *body,
                   size_t len, const char *type) {
  struct httpc_response resp = {0};
  char head[HTTPC_RESPONSE_MAX];
  int n;

  resp.status = status;
  resp.content_type = type;
  resp.content_length = len;
  resp.close = 1;
  n = httpc_response_format(&resp, head, sizeof(head));
  if (n > 0 && tls_conn_write(t->tls, head, (size_t)n) == 0 && len > 0)
    tls_conn_write(t->tls, body, len);
  t->state = TUNNEL_CONN_CLOSING;
  tls_conn_shutdown(t->tls);
}

static void refuse(struct relay_tunnel *t, int status, const char *reason) {
  char body[128];
  struct sp_json j;
  int n = snprintf(body, sizeof(body), "enrolment refused: %s\n", reason);

  sp_info("enroll", "refused", "tid=%u peer=%s connector=%s reason=%s", t->tid,
          t->peer, t->connector[0] ? t->connector : "-", reason);
  sp_audit_begin(&j, "connector_enrol");
  sp_json_str(&j, "connector", t->connector[0] ? t->connector : NULL);
  sp_json_str(&j, "source", t->peer);
  sp_json_str(&j, "outcome", "fail");
  sp_json_str(&j, "reason", reason);
  relay_audit(t->relay, &j);
  answer(t, status, body, (size_t)n, "text/plain");
}

/* Decodes unpadded base64url into exactly 32 bytes. */
static int decode_secret(const char *text, uint8_t out[32]) {
  unsigned char b64[64];
  size_t i, len = strlen(text), n;

  if (len != 43)
    return SP_EAUTH;
  for (i = 0; i < len; i++)
    b64[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : (uint8_t)text[i];
  b64[len] = '=';
  if (mbedtls_base64_decode(out, 32, &n, b64, len + 1) != 0 || n != 32)
    return SP_EAUTH;
  return 0;
}

static int reply_cert(struct relay_tunnel *t, const char *crt) {
  struct relay *r = t->relay;
  struct sp_wbuf body;
  struct sp_json j;

  sp_wbuf_init(&body);
  sp_wbuf_bytes(&body, crt, strlen(crt));
  sp_wbuf_bytes(&body, r->ca_pem, r->ca_pem_len);
  if (body.err != 0) {
    sp_wbuf_free(&body);
    return body.err;
  }
  r->m.enrolments++;
  sp_info("enroll", "enrolled", "tid=%u peer=%s connector=%s", t->tid, t->peer,
          t->connector);
  sp_audit_begin(&j, "connector_enrol");
  sp_json_str(&j, "connector", t->connector);
  sp_json_str(&j, "source", t->peer);
  sp_json_str(&j, "outcome", "ok");
  relay_audit(r, &j);
  answer(t, 200, (const char *)body.p, body.len, "application/x-pem-file");
  sp_wbuf_free(&body);
  return 0;
}

/* The whole request is in: check it, sign, spend the secret, answer. */
static void process(struct relay_tunnel *t) {
  struct relay *r = t->relay;
  const char *name = httpc_header(t->req, "Sallyport-Connector");
  const char *secret_text = httpc_header(t->req, "Sallyport-Enrol-Secret");
  char crt[PKI_CRT_PEM_MAX];
  struct pki_cert_info info;
  uint8_t secret[32];
  int rc;

  if (name == NULL || !policy_name_valid(name) || secret_text == NULL)
    return refuse(t, 400, "missing_headers");
  snprintf(t->connector, sizeof(t->connector), "%s", name);
  if (decode_secret(secret_text, secret) != 0)
    return refuse(t, 401, "bad_secret");
  sp_wbuf_u8(&t->body, 0);
  if (t->body.err != 0)
    return refuse(t, 400, "no_memory");
  rc = pki_csr_sign(&r->ca, (const char *)t->body.p, name, 0, crt, &info);
  if (rc != 0) {
    memset(secret, 0, sizeof(secret));
    return refuse(t, 400, "bad_request_csr");
  }
  rc = connectors_enroll(r->store, name, secret, relay_now(r), info.serial,
                         info.fingerprint, info.not_after);
  memset(secret, 0, sizeof(secret));
  if (rc == SP_ENOTFOUND || rc == SP_EAUTH)
    return refuse(t, 401, "unknown_used_or_revoked_token");
  if (rc == SP_EEXPIRED)
    return refuse(t, 401, "expired_token");
  if (rc != 0 || reply_cert(t, crt) != 0)
    return refuse(t, 500, sp_err_name(rc));
}

/* The head is in: check the request line and size the body. */
static int head_done(struct relay_tunnel *t) {
  struct httpc_parser *q = t->req;

  if (strcmp(q->method, "POST") != 0 || q->path == NULL ||
      strcmp(q->path, "/v1/enroll") != 0) {
    refuse(t, 404, "not_an_enrolment");
    return -1;
  }
  if (q->content_length <= 0 || q->content_length > ENROL_BODY_MAX) {
    refuse(t, 400, "bad_length");
    return -1;
  }
  t->body_len = q->content_length;
  return 0;
}

void enroll_feed(struct relay_tunnel *t, const uint8_t *p, size_t n) {
  size_t used = 0, want;
  int rc;

  if (t->req == NULL) {
    t->req = malloc(sizeof(*t->req));
    if (t->req == NULL)
      return tunnel_close(t, SP_ENOMEM, "enrol");
    httpc_init(t->req);
  }
  if (t->req->state != HTTPC_S_DONE) {
    rc = httpc_feed(t->req, p, n, &used);
    if (t->req->state == HTTPC_S_FAILED)
      return refuse(t, t->req->status ? t->req->status : 400, "bad_request");
    if (rc == SP_EINCOMPLETE || t->req->state != HTTPC_S_DONE)
      return;
    if (head_done(t) != 0)
      return;
  }
  want = (size_t)t->body_len - t->body.len;
  if (n - used > want)
    return refuse(t, 400, "trailing_bytes");
  sp_wbuf_bytes(&t->body, p + used, n - used);
  if (t->body.len == (size_t)t->body_len)
    process(t);
}
