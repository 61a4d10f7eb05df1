/*
 * HTTP sessions: CONNECT on listen.http, and on listen.https CONNECT
 * inside TLS plus the login API and page (relay/api.c).  A verified
 * client certificate on listen.https may name a registered device.
 */
#include <mbedtls/oid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "relay/api.h"
#include "relay/session.h"

/* Answers with `status` (and `proxy_error` as Proxy-Status), then ends
   the session once the answer is written; `side` ended it, in `phase`,
   and its end is recorded before the answer goes out. */
static void respond(struct relay_session *s, int status,
                    const char *proxy_error, const char *side,
                    const char *phase, int err) {
  struct httpc_response resp = {0};
  char head[HTTPC_RESPONSE_MAX];
  const char *text = httpc_status_text(status);
  char body[128];
  int n, b;

  session_record_end(s, side, phase, err);
  b = snprintf(body, sizeof(body), "%d %s\n", status, text);
  resp.status = status;
  resp.proxy_error = proxy_error;
  resp.content_type = "text/plain";
  resp.content_length = (size_t)b;
  resp.close = 1;
  n = httpc_response_format(&resp, head, sizeof(head));
  if (n > 0 && session_write(s, head, (size_t)n) == 0)
    session_write(s, body, (size_t)b);
  session_close(s, side, phase, err);
}

static void connect_request(struct relay_session *s) {
  struct httpc_parser *q = s->http;
  char dest[POLICY_ADDR_MAX];
  int rc;

  if (q->auth != HTTPC_AUTH_BASIC ||
      session_authenticate(s, q->user, q->password) != 0) {
    if (q->auth == HTTPC_AUTH_NONE)
      s->relay->m.auth_failures++;
    return respond(s, 407, NULL, "relay", "auth", SP_EAUTH);
  }
  memcpy(dest, q->authority, sizeof(dest));
  rc = session_decide(s, dest);
  if (rc == SP_EPOLICY)
    return respond(s, 403, "http_request_denied", "relay", "denied",
                   SP_EDENIED);
  if (rc == 0)
    rc = session_open(s, NULL);
  if (rc == SP_ENOTFOUND)
    return respond(s, 503, session_open_error(rc), "relay", "connector_down",
                   SP_EUNAVAILABLE);
  if (rc == SP_ELIMIT)
    return respond(s, 503, session_open_error(rc), "relay", "connector_full",
                   SP_ELIMIT);
  if (rc != 0)
    return respond(s, 500, "proxy_internal_error", "relay", "open", rc);
}

void http_input(struct relay_session *s, const uint8_t *p, size_t n) {
  size_t used = 0;
  int rc;

  rc = httpc_feed(s->http, p, n, &used);
  if (rc == SP_EINCOMPLETE)
    return;
  if (s->http->state == HTTPC_S_FAILED) {
    s->relay->m.protocol_errors++;
    return respond(s, s->http->status ? s->http->status : 400, NULL, "client",
                   "request", SP_EPROTO);
  }
  if (strcmp(s->http->method, "CONNECT") != 0) {
    if (s->kind == SESSION_HTTPS)
      return api_request(s, p + used, n - used);
    return respond(s, 405, NULL, "client", "method", SP_EPROTO);
  }
  connect_request(s);
  if (s->state == SESSION_CLOSING)
    return;
  httpc_wipe(s->http);
  free(s->http);
  s->http = NULL;
  if (session_hold(s, p + used, n - used) != 0)
    session_close(s, "client", "request", SP_ETOOBIG);
}

void http_result(struct relay_session *s, const char *proxy_error) {
  struct httpc_response resp = {0};
  char head[HTTPC_RESPONSE_MAX];
  int n, status;

  if (proxy_error == NULL) {
    resp.status = 200;
    resp.tunnel = 1;
    n = httpc_response_format(&resp, head, sizeof(head));
    if (n <= 0 || session_reply(s, head, (size_t)n) != 0)
      session_close(s, "client", "reply", SP_ECLOSED);
    return;
  }
  status = httpc_status_for_error(proxy_error);
  respond(s, status, proxy_error, "resource", proxy_error, SP_EUNAVAILABLE);
}

/* ---- listen.https ---- */

static void cert_identity(struct relay_session *s,
                          const mbedtls_x509_crt *crt) {
  const mbedtls_x509_name *name;

  if (crt == NULL || pki_crt_serial(crt, s->cert_serial) != 0)
    return;
  for (name = &crt->subject; name != NULL; name = name->next)
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0 &&
        name->val.len < sizeof(s->cert_name)) {
      memcpy(s->cert_name, name->val.p, name->val.len);
      s->cert_name[name->val.len] = '\0';
    }
}

static void tls_handshake_cb(struct tls_conn *conn, int status) {
  struct relay_session *s = tls_conn_data(conn);

  if (status != 0) {
    sp_info("session", "tls_failed", "sid=%u client=%s err=%s", s->sid,
            s->client, sp_err_name(status));
    return; /* tls_close_cb follows */
  }
  cert_identity(s, tls_conn_peer_cert(conn));
  s->http = malloc(sizeof(*s->http));
  if (s->http == NULL)
    return session_close(s, "relay", "tls", SP_ENOMEM);
  httpc_init(s->http);
  session_set_state(s, SESSION_REQUEST);
  s->reading = 1;
}

static void tls_read_cb(struct tls_conn *conn, const uint8_t *p, size_t n) {
  session_client_input(tls_conn_data(conn), p, n);
}

static void tls_drain_cb(struct tls_conn *conn) {
  struct relay_session *s = tls_conn_data(conn);
  size_t n = s->unconsumed;

  s->unconsumed = 0;
  if (n > 0 && s->stream != NULL)
    mux_consumed(s->stream, n);
}

static void tls_close_cb(struct tls_conn *conn, int err) {
  struct relay_session *s = tls_conn_data(conn);

  s->tls = NULL;
  if (s->state != SESSION_CLOSING)
    session_close(s, "client", "tls", err == UV_EOF ? 0 : err);
  session_release(s);
}

static const struct tls_conn_cbs tls_cbs = {
    .on_handshake = tls_handshake_cb,
    .on_read = tls_read_cb,
    .on_drain = tls_drain_cb,
    .on_close = tls_close_cb,
};

int https_start_tls(struct relay_session *s) {
  int rc = tls_conn_new(&s->tls, s->relay->tls_clients, &s->tcp, &tls_cbs, s);

  if (rc != 0) {
    s->tls = NULL;
    return rc;
  }
  tls_conn_set_batch(s->tls, &s->relay->batch);
  s->tls_owned = 1;
  s->reading = 1;
  return 0;
}
