#include "relay/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "policy/login.h"
#include "policy/token.h"
#include "relay/form.h"
#include "relay/session.h"

static void reply(struct relay_session *s, int status, const char *type,
                  const char *body, size_t len) {
  struct httpc_response resp = {0};
  char head[HTTPC_RESPONSE_MAX];
  int n;

  resp.status = status;
  resp.content_type = type;
  resp.content_length = len;
  resp.close = 1;
  n = httpc_response_format(&resp, head, sizeof(head));
  if (n > 0 && session_write(s, head, (size_t)n) == 0 && len > 0)
    session_write(s, body, len);
  session_close(s, "relay", "api", 0);
}

static void reply_json(struct relay_session *s, int status, struct sp_json *j) {
  const char *text = sp_json_end(j);

  if (text == NULL)
    reply(s, 500, "text/plain", "no memory\n", 10);
  else
    reply(s, status, "application/json", text, strlen(text));
  sp_json_free(j);
}

static void reply_error(struct relay_session *s, int status,
                        const char *error) {
  struct sp_json j;

  sp_json_begin(&j);
  sp_json_str(&j, "error", error);
  reply_json(s, status, &j);
}

/* ---- login, on the thread pool ---- */

struct login_work {
  uv_work_t req;
  struct relay_session *s;
  struct form_login form;
  struct login_req lr;
  struct login_res res;
  int rc;
};

static void login_run_cb(uv_work_t *req) {
  struct login_work *w = req->data;

  w->rc = login(w->s->relay->store, &w->lr, &w->res);
}

static void audit_login(struct login_work *w) {
  struct relay *r = w->s->relay;
  struct sp_json j;

  if (w->rc == 0)
    r->m.logins_ok++;
  else
    r->m.logins_failed++;
  sp_audit_begin(&j, "login");
  sp_json_str(&j, "user", w->lr.user);
  sp_json_str(&j, "source", w->lr.source);
  sp_json_str(&j, "country", w->s->country);
  sp_json_int(&j, "asn", w->s->asn);
  sp_json_str(&j, "outcome", w->rc == 0 ? "ok" : "fail");
  sp_json_str(&j, "reason", w->rc == 0 ? NULL : w->res.reason);
  sp_json_bool(&j, "mfa", w->res.mfa);
  sp_json_str(&j, "via", "https");
  relay_audit(r, &j);
}

static void login_done_cb(uv_work_t *req, int status) {
  struct login_work *w = req->data;
  struct relay_session *s = w->s;
  char expires[SP_TIME_MAX];
  struct sp_json j;

  s->work_pending = 0;
  if (w->rc == 0 || w->rc == SP_EAUTH || w->rc == SP_ELOCKED)
    audit_login(w);
  if (s->release_pending) {
    session_release(s);
  } else if (w->rc == 0) {
    sp_json_begin(&j);
    sp_json_str(&j, "token", w->res.token);
    sp_json_str(&j, "expires", sp_time_format(expires, w->res.expires));
    reply_json(s, 200, &j);
  } else if (w->rc == SP_ELOCKED) {
    sp_json_begin(&j);
    sp_json_str(&j, "error", "too many failed logins");
    sp_json_int(&j, "retry_after", w->res.retry_after);
    reply_json(s, 429, &j);
  } else {
    reply_error(s, w->rc == SP_EAUTH ? 401 : 500, "login failed");
  }
  form_login_wipe(&w->form);
  memset(&w->res, 0, sizeof(w->res));
  free(w);
}

static void do_login(struct relay_session *s, enum form_type type) {
  struct login_work *w = calloc(1, sizeof(*w));
  const char *why = NULL;

  if (w == NULL)
    return reply_error(s, 500, "no memory");
  if (form_parse_login(type, (const char *)s->body.p, s->body.len, &w->form,
                       &why) != 0 ||
      !w->form.has_user || !w->form.has_password) {
    free(w);
    return reply_error(s, 400, why ? why : "user and password are required");
  }
  w->s = s;
  w->req.data = w;
  w->lr = (struct login_req){
      w->form.user, w->form.password,    w->form.password_len,   w->form.otp,
      s->client_ip, relay_now(s->relay), s->relay->cfg.token_ttl};
  s->work_pending = 1;
  if (uv_queue_work(s->relay->loop, &w->req, login_run_cb, login_done_cb) !=
      0) {
    s->work_pending = 0;
    form_login_wipe(&w->form);
    free(w);
    reply_error(s, 500, "busy");
  }
}

/* ---- logout ---- */

static void do_logout(struct relay_session *s) {
  struct httpc_parser *q = s->http;
  struct relay *r = s->relay;
  struct token_rec t;
  struct sp_json j;
  MDB_txn *txn;
  char id[TOKEN_ID_LEN + 1];
  int rc;

  if (q->auth != HTTPC_AUTH_BASIC)
    return reply_error(s, 401,
                       "send the token as the password of "
                       "Proxy-Authorization");
  rc = store_begin(r->store, 0, &txn);
  if (rc == 0) {
    rc = token_check(r->store, txn, q->user, q->password, s->client_ip,
                     relay_now(r), &t);
    if (rc == 0) {
      snprintf(id, sizeof(id), "%s", t.id);
      rc = token_revoke_id(r->store, txn, id);
    }
    if (rc == 0)
      rc = store_commit(r->store, txn);
    else
      mdb_txn_abort(txn);
  }
  if (rc != 0)
    return reply_error(s, 401, "unknown token");
  sp_audit_begin(&j, "logout");
  sp_json_str(&j, "user", q->user);
  sp_json_str(&j, "token", id);
  sp_json_str(&j, "source", s->client_ip);
  relay_audit(r, &j);
  sp_json_begin(&j);
  sp_json_bool(&j, "revoked", 1);
  reply_json(s, 200, &j);
}

/* ---- routing ---- */

static int is(const struct httpc_parser *q, const char *method,
              const char *path) {
  return strcmp(q->method, method) == 0 && q->path != NULL &&
         strcmp(q->path, path) == 0;
}

void api_request(struct relay_session *s, const uint8_t *p, size_t n) {
  struct httpc_parser *q = s->http;
  size_t want = q->content_length > 0 ? (size_t)q->content_length : 0;
  enum form_type type;

  if (is(q, "GET", "/") || is(q, "GET", "/index.html"))
    return reply(s, 200, "text/html; charset=utf-8", s->relay->login_page,
                 s->relay->login_page_len);
  if (is(q, "GET", "/healthz"))
    return s->relay->ready && !s->relay->stopping
               ? reply(s, 200, "text/plain", "ok\n", 3)
               : reply(s, 503, "text/plain", "not ready\n", 10);
  if (!is(q, "POST", "/v1/login") && !is(q, "POST", "/v1/logout"))
    return reply_error(s, 404, "not found");
  if (s->body.len + n > want)
    return reply_error(s, 400, "body longer than Content-Length");
  sp_wbuf_bytes(&s->body, p, n);
  if (s->body.err != 0)
    return reply_error(s, 500, "no memory");
  if (s->body.len < want)
    return; /* more of the body to come */
  if (is(q, "POST", "/v1/logout"))
    return do_logout(s);
  type = form_content_type(q->content_type);
  if (type == FORM_UNSUPPORTED)
    return reply_error(s, 415,
                       "send application/x-www-form-urlencoded or "
                       "application/json");
  session_read(s, 0);
  do_login(s, type);
}
