/*
 * What connector/agent.c (the tunnels) and connector/stream.c (the
 * streams on them) share.  Not for other modules.
 */
#ifndef SP_CONNECTOR_AGENT_INT_H
#define SP_CONNECTOR_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "connector/agent.h"
#include "connector/backoff.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/tls.h"

struct stream;
struct agent;

/* A tunnel's states; see the block comment at the top of agent.c. */
#define AGENT_TUNNEL_STATE_MAP(X)                                              \
  X(AGENT_TUNNEL_WAITING, "waiting")                                           \
  X(AGENT_TUNNEL_RESOLVING, "resolving")                                       \
  X(AGENT_TUNNEL_DIALING, "dialing")                                           \
  X(AGENT_TUNNEL_HANDSHAKE, "handshake")                                       \
  X(AGENT_TUNNEL_UP, "up")                                                     \
  X(AGENT_TUNNEL_CLOSING, "closing")                                           \
  X(AGENT_TUNNEL_STOPPED, "stopped")

#define AGENT_ENUM_(name, token) name,
enum agent_tunnel_state { AGENT_TUNNEL_STATE_MAP(AGENT_ENUM_) };
#undef AGENT_ENUM_

/* One of the N tunnel slots.  Lives as long as the agent; each attempt
 * to connect reuses it. */
struct agent_tunnel {
  struct agent *agent; /* borrows */
  uint32_t tid;        /* 1 to N, in log lines */
  enum agent_tunnel_state state;
  uv_timer_t timer; /* the back-off wait, or the dial deadline */
  uv_timer_t tick;  /* mux_tick once a second while the mux lives */
  uv_getaddrinfo_t gai;
  uv_connect_t connect;
  uv_tcp_t tcp;
  struct addrinfo *addrs; /* owned while dialling */
  struct addrinfo *next;  /* the next address to dial */
  struct tls_conn *conn;  /* owned by tls.c from tls_conn_new to on_close */
  struct mux *mux;        /* owned; NULL outside the up state */
  struct backoff backoff;
  uint64_t up_since;      /* uv_now() at the relay's HELLO; 0 if not up */
  struct stream *streams; /* the live streams on this tunnel: a list */
  int last_err;           /* why the latest attempt or tunnel failed */
  bool tcp_live;          /* tcp is initialised and not yet closed */
  bool gai_active;        /* the lookup's callback is still due */
  bool congested;         /* the TLS write queue reached its high mark */
  uint8_t out[TUNNEL_FRAME_MAX]; /* send_cb gathers a frame here */
};

struct agent {
  uv_loop_t *loop;
  const struct agent_opts *opts; /* borrowed for agent_run */
  struct tls_conf *tls;          /* owned */
  struct agent_tunnel *tunnels;  /* owned, opts->tunnels of them */
  uv_signal_t sigint, sigterm;
  bool stopping; /* a signal came: no new attempt, no new stream */
};

#endif
