/*
 * Resolving and dialing a stream's destination (connector/stream.c has
 * the rest of its life).  The connector resolves names itself; each
 * address is checked against the allowlist before it is dialled, the
 * addresses are tried in turn within one deadline, and a failure is
 * told to the relay as what it was: refused, unreachable, timed out,
 * not allowed, or a failed lookup.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/keepalive.h"
#include "common/log.h"
#include "connector/agent_int.h"
#include "connector/allow.h"
#include "connector/stream_int.h"

/* The dial's deadline, all addresses together. */
#define STREAM_DIAL_MS 10000
/* When an open stream's destination socket gets TCP keepalive. */
#define STREAM_KEEPALIVE_AFTER_MS 10000

/* What a failed dial tells the relay. */
static enum tunnel_result dial_result(int err) {
  switch (err) {
  case UV_ECONNREFUSED:
    return TUNNEL_RESULT_REFUSED;
  case UV_ENETUNREACH:
  case UV_EHOSTUNREACH:
  case UV_ENETDOWN:
    return TUNNEL_RESULT_UNREACHABLE;
  case UV_ETIMEDOUT:
    return TUNNEL_RESULT_TIMED_OUT;
  default:
    return TUNNEL_RESULT_ERROR;
  }
}

/* "10.20.0.5:443" or "[2001:db8::5]:22" into the stream's STR_ADDR. */
static void stream_set_addr(struct stream *s, const struct sockaddr *sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  char *out = s->strs + s->str[STR_ADDR];

  if (sa->sa_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
    snprintf(out, STREAM_ADDR_MAX, "[%s]:%u", ip, s->port);
  } else {
    uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
    snprintf(out, STREAM_ADDR_MAX, "%s:%u", ip, s->port);
  }
}

/* The next address the allowlist lets us dial, its port set; or NULL. */
static struct addrinfo *next_allowed(struct stream *s) {
  const struct allow_list *allow = s->tunnel->agent->opts->allow;
  struct addrinfo *ai;

  for (ai = s->next_addr; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(s->port);
    else if (ai->ai_family == AF_INET6)
      ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(s->port);
    else
      continue;
    if (allow_check_resolved(allow, s->verdict, ai->ai_addr, s->port))
      break;
  }
  s->next_addr = ai != NULL ? ai->ai_next : NULL;
  return ai;
}

static void dial_timeout_cb(uv_timer_t *timer) {
  struct stream *s = timer->data;

  s->err = UV_ETIMEDOUT;
  stream_refuse(s, TUNNEL_RESULT_TIMED_OUT, STREAM_SIDE_DEST);
}

/* The stream has lived long enough to be worth watching for a vanished
   destination. */
static void keepalive_cb(uv_timer_t *timer) {
  struct stream *s = timer->data;
  uv_os_fd_t fd;
  int rc = uv_fileno((uv_handle_t *)&s->tcp, &fd);

  if (rc == 0)
    rc = sp_tcp_keepalive(fd);
  if (rc != 0)
    sp_warn("stream", "keepalive_failed", "sid=%u tid=%u err=%s", s->sid,
            s->tid, sp_err_name(rc));
}

static void connect_cb(uv_connect_t *req, int status) {
  struct stream *s = req->data;
  char name[32];
  int rc;

  if (status == UV_ECANCELED || s->state == STREAM_CLOSING)
    return;
  if (status != 0) {
    s->err = status;
    sp_debug("stream", "dial_failed", "sid=%u tid=%u addr=%s err=%s", s->sid,
             s->tid, sstr(s, STR_ADDR),
             uv_err_name_r(status, name, sizeof(name)));
    s->reading = false;
    uv_close((uv_handle_t *)&s->tcp, stream_tcp_closed_cb); /* then the next */
    return;
  }

  uv_timer_start(&s->timer, keepalive_cb, STREAM_KEEPALIVE_AFTER_MS, 0);
  uv_freeaddrinfo(s->addrs);
  s->addrs = s->next_addr = NULL;
  s->err = 0;
  stream_set_state(s, STREAM_OPEN);
  s->result = TUNNEL_RESULT_OK;
  rc = mux_open_result(s->ms, TUNNEL_RESULT_OK, sstr(s, STR_ADDR));
  if (rc != 0) {
    stream_close(s, STREAM_SIDE_CONNECTOR, rc);
    return;
  }
  stream_update_reading(s);
}

/*
 * Dials the next allowed address.  When there is none left, the answer
 * is not_allowed if the allowlist let no address through, and otherwise
 * what the last dial met.
 */
void stream_dial_next(struct stream *s) {
  struct addrinfo *ai = next_allowed(s);
  int rc;

  if (ai == NULL && !s->dialled) {
    stream_refuse(s, TUNNEL_RESULT_NOT_ALLOWED, STREAM_SIDE_CONNECTOR);
    return;
  }
  if (ai == NULL) {
    stream_refuse(s, dial_result(s->err), STREAM_SIDE_DEST);
    return;
  }
  if (!s->dialled)
    uv_timer_start(&s->timer, dial_timeout_cb, STREAM_DIAL_MS, 0);
  s->dialled = true;
  if (s->state == STREAM_RESOLVING)
    stream_set_state(s, STREAM_DIALING);

  stream_set_addr(s, ai->ai_addr);
  uv_tcp_init(sloop(s), &s->tcp);
  /* Each DATA run is written whole, so Nagle's algorithm can only hold
     back the second of two small writes until the destination's delayed
     ACK (40 ms on Linux): off, as on the relay's sockets.  libuv applies
     it when connect creates the socket. */
  (void)uv_tcp_nodelay(&s->tcp, 1);
  s->tcp.data = s;
  s->tcp_live = true;
  s->req.connect.data = s;
  rc = uv_tcp_connect(&s->req.connect, &s->tcp, ai->ai_addr, connect_cb);
  if (rc != 0) {
    s->err = rc;
    uv_close((uv_handle_t *)&s->tcp, stream_tcp_closed_cb);
    return;
  }
  /* Read from the start: libuv runs connect_cb before any read_cb.
     Asked in connect_cb instead, libuv would have forgotten the socket
     when the connect ended and would add it again, meet EEXIST and
     modify it: a wasted epoll_ctl per stream.  connect_cb keeps or
     stops reading as the stream's state says. */
  s->reading = uv_read_start((uv_stream_t *)&s->tcp, stream_alloc_cb,
                             stream_read_cb) == 0;
}

static void resolved_cb(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct stream *s = req->data;

  s->gai_active = false;
  s->addrs = s->next_addr = res;
  if (s->state == STREAM_CLOSING) {
    stream_maybe_free(s);
    return;
  }
  if (status != 0) {
    s->err = status;
    stream_refuse(s, TUNNEL_RESULT_DNS_FAILED, STREAM_SIDE_DEST);
    return;
  }
  stream_dial_next(s);
}

void stream_resolve(struct stream *s) {
  struct addrinfo hints, *res;
  int rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  stream_set_state(s, STREAM_RESOLVING);

  /* An IP literal needs no resolver, so it skips the round trip through
     libuv's thread pool that uv_getaddrinfo() takes. */
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(sstr(s, STR_HOST), NULL, &hints, &res) == 0) {
    s->addrs = s->next_addr = res;
    stream_dial_next(s);
    return;
  }
  hints.ai_flags = 0;
  s->req.gai.data = s;
  rc = uv_getaddrinfo(sloop(s), &s->req.gai, resolved_cb, sstr(s, STR_HOST),
                      NULL, &hints);
  if (rc != 0) {
    s->err = rc;
    stream_refuse(s, TUNNEL_RESULT_ERROR, STREAM_SIDE_CONNECTOR);
    return;
  }
  s->gai_active = true;
}
