#include "relay/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/keepalive.h"
#include "common/log.h"

int listen_parse_addr(const char *addr, struct sockaddr_storage *ss) {
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  char host[64];
  const char *colon = strrchr(addr, ':');
  char *end;
  size_t n;
  long port;

  memset(ss, 0, sizeof(*ss));
  if (colon == NULL || colon == addr)
    return SP_EPARSE;
  n = (size_t)(colon - addr);
  if (addr[0] == '[' && colon[-1] == ']') {
    addr++;
    n -= 2;
  }
  if (n >= sizeof(host))
    return SP_EPARSE;
  memcpy(host, addr, n);
  host[n] = '\0';
  port = strtol(colon + 1, &end, 10);
  if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port > 65535)
    return SP_EPARSE;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return SP_EPARSE;
}

/* Sets what every accepted socket should have; see listen.h. */
static int set_accepted_options(int fd) {
  int one = 1;

  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    return -errno;
  return sp_tcp_keepalive(fd);
}

static int open_socket(const struct sockaddr_storage *ss) {
  socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                           : sizeof(struct sockaddr_in6);
  int fd, one = 1, err;

  fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (set_accepted_options(fd) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (ss->ss_family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
      bind(fd, (const struct sockaddr *)ss, len) != 0 ||
      listen(fd, LISTEN_BACKLOG) != 0) {
    err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

static void listen_cb(uv_stream_t *server, int status);

static void retry_cb(uv_timer_t *t) {
  struct listener *l = t->data;
  int rc;

  l->paused = 0;
  rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, listen_cb);
  if (rc != 0)
    sp_error("listen", "resume_failed", "listener=%s err=%s", l->name,
             uv_err_name(rc));
}

/* Out of descriptors or memory: stop accepting for a moment. */
static void pause_accepting(struct listener *l, int err) {
  if (l->paused)
    return;
  l->paused = 1;
  sp_warn("listen", "accept_paused", "listener=%s err=%s retry_ms=%d", l->name,
          uv_err_name(err), LISTEN_RETRY_MS);
  /* libuv has no uv_listen_stop, but stopping reads on a listening
     stream stops polling its socket; uv_listen starts it again. */
  uv_read_stop((uv_stream_t *)&l->tcp);
  uv_timer_start(&l->retry, retry_cb, LISTEN_RETRY_MS, 0);
}

static void listen_cb(uv_stream_t *server, int status) {
  struct listener *l = server->data;

  if (status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOMEM ||
      status == UV_ENOBUFS) {
    pause_accepting(l, status);
    return;
  }
  if (status != 0) {
    sp_warn("listen", "accept_error", "listener=%s err=%s", l->name,
            uv_err_name(status));
    return;
  }
  if (!l->paused)
    l->on_accept_cb(l);
}

int listener_accept(struct listener *l, uv_tcp_t *client) {
  int rc = uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)client);

  if (rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOMEM || rc == UV_ENOBUFS)
    pause_accepting(l, rc);
  return rc;
}

int listener_start(struct listener *l, uv_loop_t *loop, const char *name,
                   const char *addr, void (*cb)(struct listener *l),
                   void *data) {
  struct sockaddr_storage ss;
  int fd, rc;

  memset(l, 0, sizeof(*l));
  l->name = name;
  l->on_accept_cb = cb;
  l->data = data;
  snprintf(l->addr, sizeof(l->addr), "%s", addr);
  if (listen_parse_addr(addr, &ss) != 0)
    return SP_EPARSE;
  fd = open_socket(&ss);
  if (fd < 0)
    return fd;
  uv_tcp_init(loop, &l->tcp);
  uv_timer_init(loop, &l->retry);
  l->tcp.data = l;
  l->retry.data = l;
  l->open = 1;
  rc = uv_tcp_open(&l->tcp, fd);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, listen_cb);
  if (rc != 0) {
    listener_stop(l);
    return rc;
  }
  sp_info("listen", "listening", "listener=%s addr=%s", name, addr);
  return 0;
}

void listener_stop(struct listener *l) {
  if (!l->open)
    return;
  l->open = 0;
  uv_close((uv_handle_t *)&l->tcp, NULL);
  uv_close((uv_handle_t *)&l->retry, NULL);
}

void listen_peer(uv_tcp_t *tcp, char out[LISTEN_PEER_MAX],
                 char ip[LISTEN_IP_MAX]) {
  struct sockaddr_storage ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  int len = sizeof(ss);

  snprintf(out, LISTEN_PEER_MAX, "unknown");
  snprintf(ip, LISTEN_IP_MAX, "unknown");
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
    inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], ip, LISTEN_IP_MAX);
    snprintf(out, LISTEN_PEER_MAX, "%s:%u", ip, ntohs(v6->sin6_port));
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, LISTEN_IP_MAX);
    snprintf(out, LISTEN_PEER_MAX, "[%s]:%u", ip, ntohs(v6->sin6_port));
  } else if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &v4->sin_addr, ip, LISTEN_IP_MAX);
    snprintf(out, LISTEN_PEER_MAX, "%s:%u", ip, ntohs(v4->sin_port));
  }
}
