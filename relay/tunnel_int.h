/* Private to relay/tunnels.c and relay/enroll.c. */
#ifndef SP_RELAY_TUNNEL_INT_H
#define SP_RELAY_TUNNEL_INT_H

#include "common/pack.h"
#include "relay/httpc.h"
#include "relay/relay.h"
#include "tunnel/tls.h"

/*
 * A connection on listen.connectors.  After the TLS handshake it is
 * either an enrolment (no client certificate: one HTTP request, one
 * answer, close) or a tunnel (a connector certificate whose serial is
 * the one the store holds for that connector).
 *
 *   HANDSHAKE -> ENROL -> CLOSING
 *   HANDSHAKE -> TUNNEL -> CLOSING
 */
enum tunnel_conn_state {
  TUNNEL_CONN_HANDSHAKE,
  TUNNEL_CONN_ENROL,
  TUNNEL_CONN_TUNNEL,
  TUNNEL_CONN_CLOSING,
};

struct relay_tunnel {
  struct relay *relay;
  struct relay_tunnel *next; /* in relay->tunnels */
  uv_tcp_t tcp;
  struct tls_conn *tls; /* NULL before tls_conn_new succeeds */
  struct mux *mux;      /* TUNNEL only */
  enum tunnel_conn_state state;
  uint32_t tid;
  int up; /* the connector's HELLO arrived */
  int64_t since;
  char peer[LISTEN_PEER_MAX]; /* "address:port" */
  char connector[PKI_NAME_MAX + 1];
  char serial[PKI_SERIAL_HEX_MAX];
  /* ENROL only: the request head, then its body. */
  struct httpc_parser *req;
  struct sp_wbuf body;
  int64_t body_len;
};

/* Enrolment: feed plaintext; closes the connection when done. */
void enroll_feed(struct relay_tunnel *t, const uint8_t *p, size_t n);
void enroll_free(struct relay_tunnel *t);

/* Ends the connection now, for `why` (logged). */
void tunnel_close(struct relay_tunnel *t, int err, const char *why);

#endif
