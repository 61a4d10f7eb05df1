/*
 * SOCKS5 server side; see socks5.h for the states.
 *
 * Every client message carries its own length in its first bytes, so the
 * parser copies bytes into `msg` one at a time until the length it has
 * seen so far says the message is whole, checking each field as soon as
 * it has arrived so that garbage is refused at the byte that makes it
 * garbage, whatever the split of the input.  A message is handled only
 * when complete, which keeps the field logic free of partial reads.
 * Messages are at most SOCKS5_MSG_MAX bytes, so copying byte by byte
 * costs nothing that matters.
 */
#include "relay/socks5.h"

#include <arpa/inet.h>
#include <assert.h>
#include <mbedtls/platform_util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"

#define SOCKS5_VERSION 5
#define SOCKS5_AUTH_VERSION 1
#define SOCKS5_AUTH_OK 0x00
#define SOCKS5_AUTH_FAIL 0x01

void socks5_init(struct socks5_parser *p) {
  memset(p, 0, sizeof(*p));
  p->state = SOCKS5_S_GREETING;
}

void socks5_wipe(struct socks5_parser *p) {
  mbedtls_platform_zeroize(p->password, sizeof(p->password));
  mbedtls_platform_zeroize(p->msg, sizeof(p->msg));
  p->password_len = 0;
}

static void queue(struct socks5_parser *p, const uint8_t *b, size_t n) {
  assert(p->out_len + n <= sizeof(p->out));
  memcpy(p->out + p->out_len, b, n);
  p->out_len += n;
}

static void queue2(struct socks5_parser *p, uint8_t a, uint8_t b) {
  uint8_t two[2] = {a, b};

  queue(p, two, 2);
}

/* Ends the exchange, recording why; the password goes first. */
static int fail(struct socks5_parser *p, int rc, const char *reason) {
  socks5_wipe(p);
  p->state = SOCKS5_S_FAILED;
  p->reason = reason;
  return rc;
}

static int fail_reply(struct socks5_parser *p, enum socks5_reply_code code,
                      int rc, const char *reason) {
  uint8_t r[SOCKS5_REPLY_MAX];

  queue(p, r, socks5_reply(r, code, NULL));
  return fail(p, rc, reason);
}

/*
 * The full length of the message being assembled, as far as the bytes
 * so far tell: until its length fields have arrived this is only the
 * length needed to read them.
 */
static size_t msg_need(const struct socks5_parser *p) {
  const uint8_t *m = p->msg;
  size_t n = p->msg_len, ulen;

  switch (p->state) {
  case SOCKS5_S_GREETING:
    return n < 2 ? 2 : 2 + (size_t)m[1];
  case SOCKS5_S_AUTH:
    if (n < 2)
      return 2;
    ulen = m[1];
    return n < 3 + ulen ? 3 + ulen : 3 + ulen + m[2 + ulen];
  case SOCKS5_S_REQUEST:
    if (n < 4 || m[3] == SOCKS5_ATYP_IPV4)
      return n < 4 ? 4 : 4 + 4 + 2;
    if (m[3] == SOCKS5_ATYP_IPV6)
      return 4 + 16 + 2;
    return n < 5 ? 5 : 5 + (size_t)m[4] + 2;
  default:
    assert(0 && "no message in this state");
    return 0;
  }
}

/* Refuses a bad field as soon as it has arrived. */
static int check_fields(struct socks5_parser *p) {
  const uint8_t *m = p->msg;

  if (p->state == SOCKS5_S_GREETING && m[0] != SOCKS5_VERSION)
    return fail(p, SP_EPROTO, "greeting is not SOCKS version 5");
  if (p->state == SOCKS5_S_AUTH && m[0] != SOCKS5_AUTH_VERSION)
    return fail(p, SP_EPROTO, "authentication is not RFC 1929 version 1");
  if (p->state != SOCKS5_S_REQUEST)
    return 0;
  if (m[0] != SOCKS5_VERSION)
    return fail(p, SP_EPROTO, "request is not SOCKS version 5");
  if (p->msg_len < 4)
    return 0;
  if (m[1] != SOCKS5_CMD_CONNECT)
    return fail_reply(p, SOCKS5_REP_COMMAND_NOT_SUPPORTED, SP_EPROTO,
                      m[1] == SOCKS5_CMD_BIND            ? "BIND requested"
                      : m[1] == SOCKS5_CMD_UDP_ASSOCIATE ? "UDP ASSOCIATE "
                                                           "requested"
                                                         : "unknown command");
  if (m[2] != 0)
    return fail_reply(p, SOCKS5_REP_GENERAL_FAILURE, SP_EPROTO,
                      "reserved byte is not zero");
  if (m[3] != SOCKS5_ATYP_IPV4 && m[3] != SOCKS5_ATYP_DOMAIN &&
      m[3] != SOCKS5_ATYP_IPV6)
    return fail_reply(p, SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED, SP_EPROTO,
                      "unknown address type");
  return 0;
}

static int on_greeting(struct socks5_parser *p) {
  size_t i, n = p->msg[1];

  if (n == 0) {
    queue2(p, SOCKS5_VERSION, SOCKS5_METHOD_NO_ACCEPTABLE);
    return fail(p, SP_EPROTO, "greeting lists no methods");
  }
  for (i = 0; i < n; i++) {
    if (p->msg[2 + i] == SOCKS5_METHOD_USERPASS)
      break;
  }
  if (i == n) {
    queue2(p, SOCKS5_VERSION, SOCKS5_METHOD_NO_ACCEPTABLE);
    return fail(p, SP_EAUTH, "client offers no username/password method");
  }

  queue2(p, SOCKS5_VERSION, SOCKS5_METHOD_USERPASS);
  p->state = SOCKS5_S_AUTH;
  p->msg_len = 0;
  return SP_EINCOMPLETE;
}

/* Refuses the credentials outright: the caller never sees them. */
static int auth_refuse(struct socks5_parser *p, const char *reason) {
  queue2(p, SOCKS5_AUTH_VERSION, SOCKS5_AUTH_FAIL);
  return fail(p, SP_EAUTH, reason);
}

static int on_auth(struct socks5_parser *p) {
  size_t ulen = p->msg[1], plen = p->msg[2 + ulen];
  const uint8_t *user = p->msg + 2, *pw = p->msg + 3 + ulen;

  if (ulen == 0 || memchr(user, 0, ulen) != NULL)
    return auth_refuse(p, "user name is empty or holds a NUL byte");
  memcpy(p->user, user, ulen);
  p->user[ulen] = '\0';
  if (!policy_name_valid(p->user))
    return auth_refuse(p, "user name is not a valid name");
  if (plen == 0 || memchr(pw, 0, plen) != NULL)
    return auth_refuse(p, "password is empty or holds a NUL byte");

  memcpy(p->password, pw, plen);
  p->password[plen] = '\0';
  p->password_len = plen;
  mbedtls_platform_zeroize(p->msg, sizeof(p->msg));
  p->msg_len = 0;
  p->state = SOCKS5_S_AUTH_CHECK;
  return 0;
}

int socks5_auth_result(struct socks5_parser *p, int ok) {
  if (p->state != SOCKS5_S_AUTH_CHECK)
    return SP_EUSAGE;
  socks5_wipe(p);
  if (!ok) {
    queue2(p, SOCKS5_AUTH_VERSION, SOCKS5_AUTH_FAIL);
    return fail(p, SP_EAUTH, "credentials refused");
  }
  queue2(p, SOCKS5_AUTH_VERSION, SOCKS5_AUTH_OK);
  p->state = SOCKS5_S_REQUEST;
  return 0;
}

/*
 * Writes DST.ADDR:DST.PORT as text for policy_addr_canon().  A name that
 * holds a colon can only be an IPv6 literal, which the canonical form
 * wants in brackets.
 */
static int request_text(const struct socks5_parser *p, char *out, size_t n) {
  const uint8_t *m = p->msg, *port;
  char host[INET6_ADDRSTRLEN];
  size_t hlen;
  int r;

  if (m[3] == SOCKS5_ATYP_IPV4 || m[3] == SOCKS5_ATYP_IPV6) {
    inet_ntop(m[3] == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6, m + 4, host,
              sizeof(host));
    port = m + (m[3] == SOCKS5_ATYP_IPV4 ? 8 : 20);
    r = snprintf(out, n, m[3] == SOCKS5_ATYP_IPV4 ? "%s:%u" : "[%s]:%u", host,
                 (unsigned)(port[0] << 8 | port[1]));
    return r > 0 && (size_t)r < n ? 0 : SP_EPROTO;
  }

  hlen = m[4];
  port = m + 5 + hlen;
  if (hlen == 0 || memchr(m + 5, 0, hlen) != NULL)
    return SP_EPROTO;
  if (memchr(m + 5, ':', hlen) != NULL && m[5] != '[')
    r = snprintf(out, n, "[%.*s]:%u", (int)hlen, (const char *)(m + 5),
                 (unsigned)(port[0] << 8 | port[1]));
  else
    r = snprintf(out, n, "%.*s:%u", (int)hlen, (const char *)(m + 5),
                 (unsigned)(port[0] << 8 | port[1]));
  return r > 0 && (size_t)r < n ? 0 : SP_EPROTO;
}

static int on_request(struct socks5_parser *p) {
  char text[POLICY_ADDR_MAX + 8];

  if (request_text(p, text, sizeof(text)) != 0 ||
      policy_addr_canon(text, p->dest, sizeof(p->dest)) != 0) {
    p->dest[0] = '\0';
    return fail_reply(p, SOCKS5_REP_HOST_UNREACHABLE, SP_EPROTO,
                      "destination is not a valid host and port");
  }

  p->atyp = (enum socks5_atyp)p->msg[3];
  p->msg_len = 0;
  p->state = SOCKS5_S_CONNECT;
  return 0;
}

static int on_message(struct socks5_parser *p) {
  switch (p->state) {
  case SOCKS5_S_GREETING:
    return on_greeting(p);
  case SOCKS5_S_AUTH:
    return on_auth(p);
  case SOCKS5_S_REQUEST:
    return on_request(p);
  default:
    assert(0 && "no message in this state");
    return SP_EPROTO;
  }
}

int socks5_feed(struct socks5_parser *p, const uint8_t *data, size_t len,
                size_t *used) {
  int rc;

  *used = 0;
  if (p->state == SOCKS5_S_FAILED)
    return SP_EPROTO;
  if (p->state == SOCKS5_S_AUTH_CHECK || p->state == SOCKS5_S_CONNECT)
    return 0;

  while (*used < len) {
    assert(msg_need(p) > p->msg_len && msg_need(p) <= sizeof(p->msg));
    p->msg[p->msg_len++] = data[(*used)++];

    rc = check_fields(p);
    if (rc != 0)
      return rc;
    if (p->msg_len < msg_need(p))
      continue;

    rc = on_message(p);
    if (rc != SP_EINCOMPLETE)
      return rc;
  }
  return SP_EINCOMPLETE;
}

size_t socks5_reply(uint8_t out[SOCKS5_REPLY_MAX], enum socks5_reply_code code,
                    const struct sockaddr *bound) {
  const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)bound;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)bound;

  out[0] = SOCKS5_VERSION;
  out[1] = (uint8_t)code;
  out[2] = 0;
  if (bound != NULL && bound->sa_family == AF_INET6) {
    out[3] = SOCKS5_ATYP_IPV6;
    memcpy(out + 4, &sin6->sin6_addr, 16);
    memcpy(out + 20, &sin6->sin6_port, 2);
    return 22;
  }
  out[3] = SOCKS5_ATYP_IPV4;
  if (bound != NULL && bound->sa_family == AF_INET) {
    memcpy(out + 4, &sin->sin_addr, 4);
    memcpy(out + 8, &sin->sin_port, 2);
  } else {
    memset(out + 4, 0, 6);
  }
  return 10;
}

const char *socks5_reply_name(enum socks5_reply_code code) {
  static const char *const names[] = {
      "succeeded",
      "general SOCKS server failure",
      "connection not allowed by ruleset",
      "network unreachable",
      "host unreachable",
      "connection refused",
      "TTL expired",
      "command not supported",
      "address type not supported",
  };

  if ((unsigned)code < sizeof(names) / sizeof(names[0]))
    return names[code];
  return "unassigned";
}

enum socks5_reply_code socks5_reply_for_error(const char *proxy_error) {
  static const struct {
    const char *token;
    enum socks5_reply_code code;
  } map[] = {
      {"http_request_denied", SOCKS5_REP_NOT_ALLOWED},
      {"destination_ip_prohibited", SOCKS5_REP_NOT_ALLOWED},
      {"destination_unavailable", SOCKS5_REP_NETWORK_UNREACHABLE},
      {"destination_ip_unroutable", SOCKS5_REP_NETWORK_UNREACHABLE},
      {"dns_error", SOCKS5_REP_HOST_UNREACHABLE},
      {"connection_refused", SOCKS5_REP_CONNECTION_REFUSED},
      {"connection_timeout", SOCKS5_REP_TTL_EXPIRED},
      {"dns_timeout", SOCKS5_REP_TTL_EXPIRED},
  };
  size_t i;

  if (proxy_error == NULL)
    return SOCKS5_REP_SUCCEEDED;
  for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    if (strcmp(map[i].token, proxy_error) == 0)
      return map[i].code;
  }
  return SOCKS5_REP_GENERAL_FAILURE;
}
