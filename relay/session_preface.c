/*
 * The first bytes of every client connection, before its protocol:
 * a PROXY protocol header (v1 or v2) is accepted only from an address in
 * relay.yaml's trusted_proxies, and then supplies the client address
 * used for GeoIP, token binding, audit and lockouts; from anyone else a
 * header is a protocol error, audited and closed.  Then the client's
 * address is looked up in the GeoIP database, and the connection starts
 * its protocol with whatever bytes followed (for HTTPS, the TLS
 * handshake gets them).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "geo/geo.h"
#include "policy/token.h"
#include "relay/proxyproto.h"
#include "relay/session.h"

static void audit_preface(struct relay_session *s, const char *reason) {
  struct sp_json j;

  s->relay->m.protocol_errors++;
  sp_audit_begin(&j, "proxy_header_refused");
  sp_json_int(&j, "sid", s->sid);
  sp_json_str(&j, "source", s->client_ip);
  sp_json_str(&j, "reason", reason);
  relay_audit(s->relay, &j);
}

static int peer_trusted(struct relay_session *s) {
  const struct relay_config *cfg = &s->relay->cfg;
  struct sockaddr_storage ss;
  int len = sizeof(ss);

  if (cfg->n_trusted_proxies == 0 ||
      uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  return proxyproto_trusted((const char *const *)cfg->trusted_proxies,
                            cfg->n_trusted_proxies,
                            (const struct sockaddr *)&ss);
}

/* The header names the real client: it replaces the proxy's address. */
static void take_client(struct relay_session *s,
                        const struct proxyproto_header *h) {
  const struct sockaddr_in *v4 = (const struct sockaddr_in *)&h->src;
  const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&h->src;
  char ip[LISTEN_IP_MAX];

  if (h->local || h->src.ss_family == AF_UNSPEC)
    return;
  if (h->src.ss_family == AF_INET) {
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
    snprintf(s->client, sizeof(s->client), "%s:%u", ip, ntohs(v4->sin_port));
  } else {
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
    snprintf(s->client, sizeof(s->client), "[%s]:%u", ip, ntohs(v6->sin6_port));
  }
  if (token_addr_canon(ip, s->client_ip) != 0)
    snprintf(s->client_ip, sizeof(s->client_ip), "%s", ip);
}

static void locate(struct relay_session *s) {
  struct geo_result g;

  memcpy(s->country, "XX", 3);
  s->asn = 0;
  if (s->relay->geo == NULL ||
      geo_lookup_ip(s->relay->geo, s->client_ip, &g) != 0)
    return;
  memcpy(s->country, g.country, 3);
  s->asn = g.asn;
}

/* Hands the connection to its protocol with the bytes that followed. */
static void start_protocol(struct relay_session *s, const uint8_t *p,
                           size_t n) {
  int rc;

  if (s->kind != SESSION_HTTPS) {
    session_set_state(s, SESSION_REQUEST);
    if (n > 0)
      session_client_input(s, p, n);
    return;
  }
  session_read(s, 0);
  session_set_state(s, SESSION_TLS);
  rc = https_start_tls(s);
  if (rc == 0)
    rc = tls_conn_prime(s->tls, p, n);
  if (rc != 0)
    session_close(s, "relay", "tls", rc);
}

/* Decides on the header once enough bytes are there. */
static void decide_preface(struct relay_session *s, const uint8_t *p,
                           size_t n) {
  struct proxyproto_header h;
  enum proxyproto_fault fault = 0;
  size_t used = 0;
  int rc = proxyproto_parse(p, n, &h, &used, &fault);

  if (rc == SP_EPROTO) {
    audit_preface(s, proxyproto_fault_name(fault));
    return session_close(s, "client", "preface", SP_EPROTO);
  }
  if (h.version > 0 && !peer_trusted(s)) {
    audit_preface(s, "untrusted_sender");
    return session_close(s, "client", "preface", SP_EPROTO);
  }
  if (h.version > 0)
    take_client(s, &h);
  locate(s);
  start_protocol(s, p + used, n - used);
}

void preface_input(struct relay_session *s, const uint8_t *p, size_t n) {
  struct proxyproto_header h;
  uint8_t *held;
  size_t used;
  int rc;

  if (s->preface == NULL) {
    rc = proxyproto_parse(p, n, &h, &used, NULL);
    if (rc != SP_EINCOMPLETE)
      return decide_preface(s, p, n);
  }
  /* A header split across reads: gather it (at most PROXYPROTO_MAX). */
  held = realloc(s->preface, s->preface_len + n);
  if (held == NULL)
    return session_close(s, "relay", "preface", SP_ENOMEM);
  memcpy(held + s->preface_len, p, n);
  s->preface = held;
  s->preface_len += n;
  rc = proxyproto_parse(held, s->preface_len, &h, &used, NULL);
  if (rc == SP_EINCOMPLETE)
    return;
  s->preface = NULL;
  decide_preface(s, held, s->preface_len);
  free(held);
}
