/* SOCKS5 sessions (RFC 1928, RFC 1929): listen.socks. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "relay/session.h"

/* Sends what the parser queued for the client. */
static int flush_out(struct relay_session *s) {
  int rc = 0;

  if (s->socks->out_len > 0)
    rc = session_write(s, s->socks->out, s->socks->out_len);
  s->socks->out_len = 0;
  return rc;
}

/* Answers the request with failure `code` and ends the session, its end
   recorded before the client can read the answer. */
static void refuse(struct relay_session *s, enum socks5_reply_code code,
                   const char *side, const char *phase, int err) {
  uint8_t out[SOCKS5_REPLY_MAX];
  size_t n = socks5_reply(out, code, NULL);

  session_record_end(s, side, phase, err);
  (void)session_write(s, out, n);
  session_close(s, side, phase, err);
}

/* The request is complete: decide it and open the stream. */
static void connect_request(struct relay_session *s) {
  char dest[POLICY_ADDR_MAX];
  int rc;

  memcpy(dest, s->socks->dest, sizeof(dest));
  socks5_wipe(s->socks);
  free(s->socks);
  s->socks = NULL;

  rc = session_decide(s, dest);
  if (rc == SP_EPOLICY)
    return refuse(s, SOCKS5_REP_NOT_ALLOWED, "relay", "denied", SP_EDENIED);
  if (rc == 0)
    rc = session_open(s, NULL);
  if (rc == SP_ENOTFOUND || rc == SP_ELIMIT)
    return refuse(s, socks5_reply_for_error(session_open_error(rc)), "relay",
                  rc == SP_ELIMIT ? "connector_full" : "connector_down",
                  rc == SP_ELIMIT ? SP_ELIMIT : SP_EUNAVAILABLE);
  if (rc != 0)
    return refuse(s, SOCKS5_REP_GENERAL_FAILURE, "relay", "open", rc);
}

void socks_input(struct relay_session *s, const uint8_t *p, size_t n) {
  size_t used;
  int rc, ok;

  while (s->state == SESSION_REQUEST) {
    used = 0;
    rc = socks5_feed(s->socks, p, n, &used);
    if (flush_out(s) != 0)
      return session_close(s, "client", "request", SP_ECLOSED);
    p += used;
    n -= used;
    if (rc == SP_EINCOMPLETE)
      return;
    if (rc != 0) {
      sp_info("session", "socks_refused", "sid=%u client=%s reason=%s", s->sid,
              s->client, s->socks->reason ? s->socks->reason : "-");
      if (rc == SP_EPROTO)
        s->relay->m.protocol_errors++;
      return session_close(s, "client", "request",
                           rc == SP_EAUTH ? SP_EAUTH : SP_EPROTO);
    }
    if (s->socks->state == SOCKS5_S_AUTH_CHECK) {
      ok = session_authenticate(s, s->socks->user, s->socks->password) == 0;
      socks5_auth_result(s->socks, ok);
      if (flush_out(s) != 0 || !ok)
        return session_close(s, "client", "auth", SP_EAUTH);
      continue;
    }
    /* SOCKS5_S_CONNECT: bytes after the request wait for the stream. */
    connect_request(s);
    if (s->state != SESSION_CLOSING && session_hold(s, p, n) != 0)
      session_close(s, "client", "request", SP_ETOOBIG);
    return;
  }
}

/* The connector answered: tell the client. */
void socks_result(struct relay_session *s, const char *proxy_error) {
  uint8_t out[SOCKS5_REPLY_MAX];
  size_t n;

  if (proxy_error == NULL) {
    n = socks5_reply(out, SOCKS5_REP_SUCCEEDED, NULL);
    if (session_reply(s, out, n) != 0)
      session_close(s, "client", "reply", SP_ECLOSED);
    return;
  }
  refuse(s, socks5_reply_for_error(proxy_error), "resource", proxy_error,
         SP_EUNAVAILABLE);
}
