/*
 * Who is asking and may they: the proxy password is a token bound to
 * the user and the client's address; the request is decided from the
 * store by the same code as `policy explain`; an allowed request opens
 * a stream through the resource's connector.  Every outcome is audited.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "policy/device.h"
#include "policy/token.h"
#include "relay/session.h"

static void audit_auth_failure(struct relay_session *s, const char *user,
                               int rc) {
  struct sp_json j;

  s->relay->m.auth_failures++;
  sp_audit_begin(&j, "proxy_auth");
  sp_json_int(&j, "sid", s->sid);
  sp_json_str(&j, "user", user);
  sp_json_str(&j, "source", s->client_ip);
  sp_json_str(&j, "country", s->country);
  sp_json_int(&j, "asn", s->asn);
  sp_json_str(&j, "outcome", "fail");
  sp_json_str(&j, "reason", sp_err_name(rc));
  relay_audit(s->relay, &j);
}

/*
 * A verified client certificate counts as the request's device only if
 * it is a registered, unrevoked device of this very user, with this very
 * serial; anything else means no device (and device_tags rules fail).
 */
static void bind_device(struct relay_session *s, MDB_txn *txn) {
  struct device_rec d;

  if (s->cert_name[0] == '\0' ||
      device_get(s->relay->store, txn, s->cert_name, &d) != 0)
    return;
  if (d.revoked || strcmp(d.user, s->user) != 0 ||
      strcmp(d.serial, s->cert_serial) != 0) {
    sp_info("session", "device_ignored", "sid=%u device=%s user=%s why=%s",
            s->sid, s->cert_name, s->user,
            d.revoked                      ? "revoked"
            : strcmp(d.user, s->user) != 0 ? "other_user"
                                           : "old_certificate");
    return;
  }
  s->device_tags.len = 0;
  sp_wbuf_bytes(&s->device_tags, d.tags.p, d.tags.len);
  if (s->device_tags.err != 0)
    return;
  s->tags = d.tags;
  s->tags.p = s->device_tags.p;
  snprintf(s->device, sizeof(s->device), "%s", s->cert_name);
}

int session_authenticate(struct relay_session *s, const char *user,
                         const char *token) {
  struct relay *r = s->relay;
  struct token_rec t;
  MDB_txn *txn = relay_txn_begin(r);
  int rc;

  if (txn == NULL)
    return SP_ESTORE;
  rc = token_check(r->store, txn, user, token, s->client_ip, relay_now(r), &t);
  if (rc == 0) {
    snprintf(s->user, sizeof(s->user), "%s", user);
    s->mfa = t.mfa;
    s->token_expires = t.expires;
    memcpy(s->token_hash, t.hash, sizeof(s->token_hash));
    bind_device(s, txn);
  }
  relay_txn_end(r);
  if (rc != 0) {
    audit_auth_failure(s, user, rc);
    return SP_EAUTH;
  }
  return 0;
}

static void audit_decision(struct relay_session *s) {
  const struct access_result *d = &s->decision;
  struct sp_json j;

  sp_audit_begin(&j, "decision");
  sp_json_int(&j, "sid", s->sid);
  sp_json_str(&j, "user", s->user);
  sp_json_str(&j, "device", s->device[0] ? s->device : NULL);
  sp_json_str(&j, "source", s->client_ip);
  sp_json_str(&j, "country", s->country);
  sp_json_int(&j, "asn", s->asn);
  sp_json_str(&j, "dest", s->dest);
  sp_json_str(&j, "resource", d->resource[0] ? d->resource : NULL);
  sp_json_str(&j, "decision", d->allow ? "allow" : "deny");
  sp_json_str(&j, "rule", d->rule[0] ? d->rule : NULL);
  sp_json_str(&j, "reason", policy_reason_name(d->reason));
  sp_json_str(&j, "report_rule", d->report_rule[0] ? d->report_rule : NULL);
  relay_audit(s->relay, &j);
}

/* Decides the session's request; 0 when allowed, SP_EPOLICY when not. */
int session_decide(struct relay_session *s, const char *dest) {
  struct relay *r = s->relay;
  struct access_query q;
  MDB_txn *txn = relay_txn_begin(r);
  int rc;

  if (txn == NULL)
    return SP_ESTORE;
  if (dest != s->dest) /* a re-check passes the session's own */
    snprintf(s->dest, sizeof(s->dest), "%s", dest);
  memset(&q, 0, sizeof(q));
  q.user = s->user;
  q.dest = dest;
  q.mfa = s->mfa;
  q.device = s->device[0] ? s->device : NULL;
  q.device_tags = s->tags;
  q.country = s->country;
  q.asn = s->asn;
  q.now = relay_now(r);
  rc = access_decide(r->store, txn, &q, &s->decision);
  relay_txn_end(r);
  if (rc != 0)
    return rc;
  s->decided = 1;
  r->m.decisions[s->decision.allow ? 1 : 0][s->decision.reason]++;
  audit_decision(s);
  return s->decision.allow ? 0 : SP_EPOLICY;
}

int session_open(struct relay_session *s, const struct mux *avoid) {
  struct mux_open_args a;
  int rc;

  memset(&a, 0, sizeof(a));
  a.dest = s->decision.address;
  a.user = s->user;
  a.resource = s->decision.resource;
  a.rule = s->decision.rule;
  a.device = s->device;
  a.client = s->client;
  a.expires = (uint64_t)s->token_expires;
  rc = relay_stream_open(s->relay, s->decision.connector, &a, &s->owner, avoid,
                         &s->stream);
  if (rc == 0) {
    s->open_tries++;
    s->relay->m.streams_active++;
    if (s->state != SESSION_OPENING)
      session_set_state(s, SESSION_OPENING);
  }
  return rc;
}

const char *session_open_error(int rc) {
  return rc == SP_ENOTFOUND ? "destination_unavailable"
                            : "connection_limit_reached";
}

/* RFC 9209 Proxy-Status error types for the connector's answers. */
const char *session_result_error(enum tunnel_result result) {
  switch (result) {
  case TUNNEL_RESULT_OK:
    return NULL;
  case TUNNEL_RESULT_NOT_ALLOWED:
    return "destination_ip_prohibited";
  case TUNNEL_RESULT_DNS_FAILED:
    return "dns_error";
  case TUNNEL_RESULT_REFUSED:
    return "connection_refused";
  case TUNNEL_RESULT_UNREACHABLE:
    return "destination_ip_unroutable";
  case TUNNEL_RESULT_TIMED_OUT:
    return "connection_timeout";
  default:
    return "proxy_internal_error";
  }
}

/*
 * The store changed: every live session is checked again, token and
 * decision, and one that no longer qualifies is closed with the reason
 * in the audit trail.
 */
void relay_sessions_recheck(struct relay *r) {
  struct relay_session *s;
  MDB_txn *txn;
  int rc;

  for (s = r->sessions; s != NULL; s = s->next) {
    if (s->state != SESSION_SPLICE && s->state != SESSION_OPENING)
      continue;
    rc = session_decide(s, s->dest);
    if (rc == 0 && (txn = relay_txn_begin(r)) != NULL) {
      rc = token_recheck(r->store, txn, s->token_hash, relay_now(r));
      relay_txn_end(r);
    }
    if (rc == 0)
      continue;
    sp_info("session", "revoked", "sid=%u user=%s reason=%s", s->sid, s->user,
            rc == SP_EPOLICY ? policy_reason_name(s->decision.reason)
                             : sp_err_name(rc));
    session_close(s, "relay", "recheck", rc);
  }
}
