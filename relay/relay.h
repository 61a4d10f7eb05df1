/*
 * The running relay (`sallyport-relay serve`): one event loop that owns
 * the listeners, the connector tunnels, the client sessions, the store
 * and the audit trail.
 *
 * Everything here runs on that loop's thread.  The store is read in
 * short transactions (relay_txn_begin/end renew and reset one read
 * transaction), never across a callback, and written only for logins and
 * enrolments.  A timer ticks every RELAY_TICK_MS: it drives the tunnels'
 * pings, writes the connectors' live status for `connector list`, and
 * polls the store's generation so that a change made by an admin
 * command reaches live connections within a second.
 */
#ifndef SP_RELAY_RELAY_H
#define SP_RELAY_RELAY_H

#include <stdint.h>
#include <uv.h>

#include "common/audit.h"
#include "policy/store.h"
#include "relay/config.h"
#include "relay/listen.h"
#include "relay/metrics.h"
#include "tunnel/batch.h"
#include "tunnel/mux.h"
#include "tunnel/pki.h"

#define RELAY_TICK_MS 250

struct geo;
struct tls_conf;
struct relay_tunnel;
struct relay_session;

struct relay {
  uv_loop_t *loop;
  const char *state; /* the state directory; borrowed from the CLI */
  struct relay_config cfg;
  struct store *store;
  MDB_txn *rtxn; /* the reset read transaction */
  uint64_t generation;
  struct geo *geo; /* NULL without a GeoIP database */
  struct pki_ca ca;
  char *ca_pem; /* owns: DIR/ca.crt as text, for enrolment answers */
  size_t ca_pem_len;
  char *login_page; /* owns: GET / on listen.https (relay/login_page.c) */
  size_t login_page_len;
  struct tls_conf *tls_clients; /* listen.https: device certs optional */
  struct tls_conf *tls_tunnels; /* listen.connectors: certs optional, since
                                   enrolment comes without one */
  struct listener socks, http, https, connectors, metrics;
  uv_timer_t tick;
  uv_signal_t sigint, sigterm, sighup;
  struct batch batch; /* TLS writes and log lines: once per iteration */
  struct sp_audit audit;
  int audit_reopen_failing; /* warned already; quiet until it works */
  uint64_t audit_logged_ms; /* when a failed record was last logged */
  uint64_t audit_unlogged;  /* failed records since */
  struct relay_metrics m;
  struct relay_tunnel *tunnels;   /* every connection on listen.connectors */
  struct relay_session *sessions; /* every client connection */
  int64_t live_written; /* the second the live status was last written */
  /* Sessions gone since the last publish whose records must go too;
     `publish_all` asks for the table to be rewritten whole instead. */
  uint32_t *unpublish;
  size_t unpublish_len, unpublish_cap;
  int publish_all;
  int64_t minute; /* the wall-clock minute of the last re-check */
  uint32_t next_tid;
  uint32_t next_sid;
  int ready;    /* every listener bound and the store open */
  int stopping; /* shutting down: refuse new work */
};

/* A read transaction for one decision or check; end it before returning
   to the loop. */
MDB_txn *relay_txn_begin(struct relay *r);
void relay_txn_end(struct relay *r);

/* Seconds since the epoch, from the loop's cached clock. */
int64_t relay_now(struct relay *r);

/*
 * Who owns a stream through a tunnel: the session embeds this as its
 * first member and passes its address to relay_stream_open; every mux
 * event for the stream is forwarded to `ops`.
 */
struct relay_stream_ops;
struct relay_stream_owner {
  const struct relay_stream_ops *ops;
};

struct relay_stream_ops {
  void (*on_result_cb)(struct relay_stream_owner *o, enum tunnel_result result,
                       const char *addr);
  /* `n` > 0 pieces, in order; see the mux's on_data_cb. */
  void (*on_data_cb)(struct relay_stream_owner *o,
                     const struct mux_piece *pieces, size_t n);
  void (*on_fin_cb)(struct relay_stream_owner *o);
  void (*on_writable_cb)(struct relay_stream_owner *o);
  void (*on_reset_cb)(struct relay_stream_owner *o, uint32_t code);
  /* The last event: the stream is gone once this returns. */
  void (*on_closed_cb)(struct relay_stream_owner *o, enum mux_end end);
};

/*
 * Opens a stream to `args->dest` through one of `connector`'s tunnels
 * (the one with the fewest live streams), never through the one whose
 * multiplexer is `avoid` (NULL: any).  SP_ENOTFOUND when the connector
 * has no tunnel up, SP_ELIMIT when every tunnel it has is at its stream
 * limit or avoided; otherwise mux_open's result.
 */
int relay_stream_open(struct relay *r, const char *connector,
                      const struct mux_open_args *args,
                      struct relay_stream_owner *owner, const struct mux *avoid,
                      struct mux_stream **out);

/* Appends an audit record begun with sp_audit_begin(). */
void relay_audit(struct relay *r, struct sp_json *j);

/* Tunnels (relay/tunnels.c) and enrolment (relay/enroll.c). */
void relay_tunnel_accept(struct listener *l);
void relay_tunnels_tick(struct relay *r, uint64_t now_ms);
void relay_tunnels_recheck(struct relay *r);
void relay_tunnels_close_all(struct relay *r);
/* Forgets the live status of a previous run (or of this one, at exit):
   until the next heartbeat every connector reads offline. */
void relay_live_clear(struct relay *r);

/* Client sessions (relay/session*.c). */
void relay_socks_accept(struct listener *l);
void relay_http_accept(struct listener *l);
void relay_https_accept(struct listener *l);
void relay_sessions_recheck(struct relay *r);
/* Writes the session list for `sessions` and applies kill requests. */
void relay_sessions_publish(struct relay *r);
/* Notes that a session whose record was published is gone. */
void relay_sessions_unpublish(struct relay *r, uint32_t sid);
void relay_sessions_close_all(struct relay *r);

#endif
