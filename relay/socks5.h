/*
 * The relay's SOCKS5 server side (RFC 1928) with username/password
 * authentication (RFC 1929), as a pure incremental parser: bytes go in as
 * they arrive, split anywhere; reply bytes and parsed fields come out.  No
 * I/O, no allocation, no clock.
 *
 * States, in the order a client moves through them:
 *
 *   SOCKS5_S_GREETING    waiting for VER(5) NMETHODS METHODS.  If the
 *                        methods include 0x02 the parser answers 05 02
 *                        and moves on; otherwise it answers 05 FF ("no
 *                        acceptable methods") and fails, because every
 *                        client must authenticate.
 *   SOCKS5_S_AUTH        waiting for VER(1) ULEN UNAME PLEN PASSWD.
 *   SOCKS5_S_AUTH_CHECK  `user` and `password` are filled; the caller
 *                        checks them and calls socks5_auth_result(),
 *                        which answers 01 00 (go on) or 01 01 (fail).
 *   SOCKS5_S_REQUEST     waiting for VER(5) CMD RSV(0) ATYP DST.ADDR
 *                        DST.PORT.  Only CONNECT is served; BIND and UDP
 *                        ASSOCIATE are answered 0x07, an unknown address
 *                        type 0x08.
 *   SOCKS5_S_CONNECT     `dest` holds the canonical destination; the
 *                        caller decides, dials and answers with
 *                        socks5_reply().  The parser is done.
 *   SOCKS5_S_FAILED      the exchange is over; send what is in `out`,
 *                        then close.  `reason` says why, for the log.
 *
 * The parser holds at most one message at a time (SOCKS5_MSG_MAX bytes,
 * the longest being an RFC 1929 request) and stops consuming input at
 * SOCKS5_S_AUTH_CHECK and SOCKS5_S_CONNECT: bytes after those points are
 * the caller's to keep (the next message, or early stream data).
 *
 * Outcomes are named with RFC 9209 Proxy-Status error types across the
 * relay; socks5_reply_for_error() maps them to reply codes:
 *
 *   Proxy-Status error type      SOCKS5 reply
 *   (none: success)              0x00 succeeded
 *   http_request_denied          0x02 connection not allowed by ruleset
 *   destination_ip_prohibited    0x02 connection not allowed by ruleset
 *   destination_unavailable      0x03 network unreachable
 *   destination_ip_unroutable    0x03 network unreachable
 *   dns_error                    0x04 host unreachable
 *   connection_refused           0x05 connection refused
 *   connection_timeout           0x06 TTL expired
 *   dns_timeout                  0x06 TTL expired
 *   connection_terminated        0x01 general SOCKS server failure
 *   http_request_error           0x01 general SOCKS server failure
 *   connection_limit_reached     0x01 general SOCKS server failure
 *   proxy_internal_error         0x01 general SOCKS server failure
 *   proxy_configuration_error    0x01 general SOCKS server failure
 *   any other type               0x01 general SOCKS server failure
 *
 * docs/proxy.md holds the same table with the HTTP CONNECT status codes.
 */
#ifndef SP_RELAY_SOCKS5_H
#define SP_RELAY_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

struct sockaddr;

/* The longest message a client sends: VER ULEN UNAME PLEN PASSWD. */
#define SOCKS5_MSG_MAX (1 + 1 + 255 + 1 + 255)
/* The longest reply: VER REP RSV ATYP, an IPv6 address and a port. */
#define SOCKS5_REPLY_MAX (4 + 16 + 2)
/* Room for everything the parser may queue before the caller drains it. */
#define SOCKS5_OUT_MAX 32
/* Credentials as RFC 1929 bounds them, with their NUL. */
#define SOCKS5_CRED_MAX 256

enum socks5_state {
  SOCKS5_S_GREETING,
  SOCKS5_S_AUTH,
  SOCKS5_S_AUTH_CHECK,
  SOCKS5_S_REQUEST,
  SOCKS5_S_CONNECT,
  SOCKS5_S_FAILED,
};

/* Authentication methods of the greeting (RFC 1928 section 3). */
enum socks5_method {
  SOCKS5_METHOD_NONE = 0x00,
  SOCKS5_METHOD_GSSAPI = 0x01,
  SOCKS5_METHOD_USERPASS = 0x02,
  SOCKS5_METHOD_NO_ACCEPTABLE = 0xff,
};

enum socks5_cmd {
  SOCKS5_CMD_CONNECT = 0x01,
  SOCKS5_CMD_BIND = 0x02,
  SOCKS5_CMD_UDP_ASSOCIATE = 0x03,
};

/* How the client named the destination (ATYP). */
enum socks5_atyp {
  SOCKS5_ATYP_IPV4 = 0x01,
  SOCKS5_ATYP_DOMAIN = 0x03,
  SOCKS5_ATYP_IPV6 = 0x04,
};

/* The REP field of a reply (RFC 1928 section 6). */
enum socks5_reply_code {
  SOCKS5_REP_SUCCEEDED = 0x00,
  SOCKS5_REP_GENERAL_FAILURE = 0x01,
  SOCKS5_REP_NOT_ALLOWED = 0x02,
  SOCKS5_REP_NETWORK_UNREACHABLE = 0x03,
  SOCKS5_REP_HOST_UNREACHABLE = 0x04,
  SOCKS5_REP_CONNECTION_REFUSED = 0x05,
  SOCKS5_REP_TTL_EXPIRED = 0x06,
  SOCKS5_REP_COMMAND_NOT_SUPPORTED = 0x07,
  SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED = 0x08,
};

/*
 * One client's exchange.  Embed it in the session; it owns no memory.
 * Fields below `state` are results: read them, never write them.
 */
struct socks5_parser {
  enum socks5_state state;

  /* Bytes to send to the client, in order; the caller sends them and
     sets out_len to 0.  Never more than SOCKS5_OUT_MAX. */
  uint8_t out[SOCKS5_OUT_MAX];
  size_t out_len;

  /* SOCKS5_S_FAILED: a short static phrase for the log; else NULL. */
  const char *reason;

  /* From SOCKS5_S_AUTH_CHECK on: the RFC 1929 user (never empty).  The
     password is there only in SOCKS5_S_AUTH_CHECK and wiped by
     socks5_auth_result(); neither holds a NUL byte. */
  char user[SOCKS5_CRED_MAX];
  char password[SOCKS5_CRED_MAX];
  size_t password_len;

  /* SOCKS5_S_CONNECT: the destination in policy_addr_canon() form, and
     whether the client sent an IPv4 address, a name or an IPv6
     address.  A name that is an IP literal ("10.0.0.1") is canonical as
     that literal, but `atyp` still says SOCKS5_ATYP_DOMAIN. */
  char dest[POLICY_ADDR_MAX];
  enum socks5_atyp atyp;

  /* Private: the message being assembled. */
  uint8_t msg[SOCKS5_MSG_MAX];
  size_t msg_len;
};

void socks5_init(struct socks5_parser *p);

/*
 * Feeds `len` bytes (`data` may be NULL when `len` is 0); `*used`
 * receives how many the parser consumed.  Returns
 *   SP_EINCOMPLETE  all consumed, more input needed;
 *   0               the state is SOCKS5_S_AUTH_CHECK or SOCKS5_S_CONNECT
 *                   and the caller must act; bytes past `*used` are not
 *                   the parser's;
 *   SP_EAUTH        the client offered no username/password method, or
 *                   sent credentials that can never be valid;
 *   SP_EPROTO       the client broke the protocol.
 * After an error the state is SOCKS5_S_FAILED, `*used` counts the bytes
 * up to and including the one that was refused, and `out` may hold a
 * last reply to send before closing.  Feeding in SOCKS5_S_AUTH_CHECK or
 * SOCKS5_S_CONNECT consumes nothing and returns 0; in SOCKS5_S_FAILED it
 * consumes nothing and returns SP_EPROTO.  Always check `out` first.
 */
int socks5_feed(struct socks5_parser *p, const uint8_t *data, size_t len,
                size_t *used);

/*
 * The caller's verdict on the credentials of SOCKS5_S_AUTH_CHECK: queues
 * 01 00 and moves to SOCKS5_S_REQUEST when `ok`, else queues 01 01 and
 * fails.  Wipes the password either way.  Returns 0, or SP_EAUTH when
 * refused; SP_EUSAGE in any other state.
 */
int socks5_auth_result(struct socks5_parser *p, int ok);

/*
 * Writes a reply (VER 5, `code`, RSV, then `bound` as BND.ADDR and
 * BND.PORT) to `out` and returns its length, 10 or 22.  `bound` may be
 * NULL, or of a family other than AF_INET and AF_INET6, for 0.0.0.0:0.
 */
size_t socks5_reply(uint8_t out[SOCKS5_REPLY_MAX], enum socks5_reply_code code,
                    const struct sockaddr *bound);

/* The RFC 1928 name of a reply code ("connection refused"); never NULL. */
const char *socks5_reply_name(enum socks5_reply_code code);

/*
 * The reply for an RFC 9209 Proxy-Status error type, per the table at
 * the top of this file; NULL means success.
 */
enum socks5_reply_code socks5_reply_for_error(const char *proxy_error);

/* Wipes the credentials; call it when dropping a parser early. */
void socks5_wipe(struct socks5_parser *p);

#endif
