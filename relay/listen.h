/*
 * Listening sockets.  Opened by hand (socket, options, bind, listen)
 * and handed to libuv with uv_tcp_open, so that options are set once on
 * the listening socket.  SO_REUSEADDR lets a restart bind at once.
 * There is no SO_REUSEPORT: another relay on the same port must fail to
 * start ("address already in use"), not silently take a share of the
 * connections, since its tunnels and sessions are not this one's.
 *
 * Accepted sockets inherit the listening socket's TCP options on Linux,
 * so they are set once, on it, rather than with system calls for every
 * connection: Nagle's algorithm off (replies and spliced chunks are
 * written whole, and Nagle would only hold a second small write until
 * the peer's delayed ACK), and keepalive (common/keepalive.h), so that a
 * client that vanished without a FIN (a laptop closed, a NAT forgetting
 * it) is noticed in about two minutes instead of holding its session
 * until its token expires.
 *
 * Accepting: when accept() fails for want of descriptors (EMFILE,
 * ENFILE) or memory, the listener pauses for LISTEN_RETRY_MS and tries
 * again, so exhaustion slows the relay down instead of spinning or
 * aborting it.
 */
#ifndef SP_RELAY_LISTEN_H
#define SP_RELAY_LISTEN_H

#include <uv.h>

#define LISTEN_BACKLOG 1024
#define LISTEN_RETRY_MS 100

struct listener {
  uv_tcp_t tcp;
  uv_timer_t retry;
  /* A connection is waiting: the owner initialises a uv_tcp_t of its
     own on the loop and calls listener_accept() with it. */
  void (*on_accept_cb)(struct listener *l);
  void *data;       /* the owner's */
  const char *name; /* "socks", "http", ... for logs; borrowed */
  char addr[64];    /* as configured */
  int open;
  int paused;
};

/*
 * Binds `addr` ("IP:PORT" or "[IPv6]:PORT") and starts accepting.
 * Returns 0 or a negative errno (EADDRINUSE, EACCES...).
 */
int listener_start(struct listener *l, uv_loop_t *loop, const char *name,
                   const char *addr, void (*cb)(struct listener *l),
                   void *data);

/*
 * Accepts into `client` (initialised by the caller on the same loop).
 * On failure the caller closes `client`; running out of descriptors or
 * memory also pauses the listener for LISTEN_RETRY_MS.
 */
int listener_accept(struct listener *l, uv_tcp_t *client);

/* Stops accepting and closes the socket; safe if never started. */
void listener_stop(struct listener *l);

#define LISTEN_PEER_MAX 72 /* "[IPv6]:port" with its NUL */
#define LISTEN_IP_MAX 48

/*
 * The peer of `tcp` as "address:port" ("[IPv6]:port") and as the bare
 * canonical address (IPv4-mapped IPv6 as IPv4); "unknown" when the
 * socket has no peer.
 */
void listen_peer(uv_tcp_t *tcp, char out[LISTEN_PEER_MAX],
                 char ip[LISTEN_IP_MAX]);

/* Parses "IP:PORT" or "[IPv6]:PORT" into `ss`, PORT being decimal
   digits up to 65535; 0 or SP_EPARSE. */
int listen_parse_addr(const char *addr, struct sockaddr_storage *ss);

#endif
