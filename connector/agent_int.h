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
#include "tunnel/batch.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/pki.h"
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
  /* The client role `conn` was made with, borrowed from the agent: the
   * current one, or the previous one during a renewal; NULL without a
   * connection. */
  const struct tls_conf *conf;
  struct backoff backoff;
  uint64_t up_since;      /* uv_now() at the relay's HELLO; 0 if not up */
  struct stream *streams; /* the live streams on this tunnel: a list */
  int last_err;           /* why the latest attempt or tunnel failed */
  bool tcp_live;          /* tcp is initialised and not yet closed */
  bool gai_active;        /* the lookup's callback is still due */
  bool congested;         /* the TLS write queue reached its high mark */
  bool draining;          /* moving to a renewed certificate: GOAWAY sent */
  uint64_t drain_since;   /* uv_now() when draining began */
};

/* Certificate renewal (agent_renew.c); see the comment at its top. */
struct agent_renew {
  uv_timer_t check; /* hourly: is the certificate due? */
  uv_timer_t step;  /* each second while a request or a roll-over runs */
  char serial[PKI_SERIAL_HEX_MAX]; /* of the certificate in use */
  int64_t not_before, not_after;   /* UNIX seconds, of the same */
  bool due;                        /* ask as soon as a tunnel is up */
  /* The tunnel the one outstanding CERT_RENEW went out on, or NULL. */
  struct agent_tunnel *asked;
  uint64_t asked_at;             /* uv_now() when it went out */
  uint64_t stored_at;            /* uv_now() when the new pair was stored */
  char key_pem[PKI_KEY_PEM_MAX]; /* the new key while asked; wiped after */
  /* Owned: the replaced certificate's role, kept while a connection
   * still uses it; NULL otherwise. */
  struct tls_conf *prev;
};

struct agent {
  uv_loop_t *loop;
  const struct agent_opts *opts; /* borrowed for agent_run */
  struct tls_conf *tls;          /* owned: the role new tunnels use */
  struct agent_tunnel *tunnels;  /* owned, opts->tunnels of them */
  uv_signal_t sigint, sigterm;
  struct batch batch; /* TLS writes and log lines: once per iteration */
  struct agent_renew renew;
  bool stopping; /* a signal came: no new attempt, no new stream */
};

/* ---- What agent.c gives agent_renew.c ---- */

/* Builds the client role from ca.crt and the key and certificate files
 * named `crt_name` and `key_name` inside the state directory. */
int agent_tls_load(struct agent *a, const char *crt_name, const char *key_name,
                   struct tls_conf **out, char *err, size_t errn);

/* Ends an up tunnel with close_notify; the slot reconnects with back-off,
 * using the agent's current role. */
void agent_tunnel_end(struct agent_tunnel *t);

/* ---- What agent_renew.c gives agent.c ---- */

/* Before the loop: reads the dates of the certificate in use.  0, or a
 * negative code with a sentence in `err` (`errn` bytes). */
int agent_renew_init(struct agent *a, char *err, size_t errn);

/* Starts the hourly check, the first one at once. */
void agent_renew_start(struct agent *a);

/* Closes the timers and forgets any request; on SIGINT or SIGTERM. */
void agent_renew_stop(struct agent *a);

/* A tunnel is up (the relay's HELLO came) or went down. */
void agent_renew_tunnel_up(struct agent_tunnel *t);
void agent_renew_tunnel_down(struct agent_tunnel *t);

/* A CERT_ISSUED arrived on `t` (`f` borrowed for the call). */
void agent_renew_on_cert(struct agent_tunnel *t, const struct tunnel_frame *f);

#endif
