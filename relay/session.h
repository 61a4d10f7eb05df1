/*
 * A client session: one connection on listen.socks, listen.http or
 * listen.https, carrying one request for one destination.
 *
 *   PREFACE   the first bytes: a PROXY protocol header from a trusted
 *             proxy replaces the client's address; from anyone else it
 *             is a protocol error.  GeoIP looks the address up.
 *   TLS       HTTPS only: the handshake; a verified client certificate
 *             may name a registered device
 *   REQUEST   parsing the SOCKS5 exchange or the HTTP request head;
 *             credentials checked, then the request decided
 *   OPENING   allowed: waiting for the connector to dial
 *   SPLICE    bytes flow both ways, each way with its own window, until
 *             both sides have finished or either fails
 *   CLOSING   session_close() was called: the stream is reset if it is
 *             still open, the client connection closes, and the memory
 *             goes with the client handle's close callback
 *
 * session_close() is the one place a session ends: it writes the one
 * end-of-session log line (and the audit record for a decided request)
 * saying which side ended it, in which phase, and why.
 */
#ifndef SP_RELAY_SESSION_H
#define SP_RELAY_SESSION_H

#include "policy/access.h"
#include "relay/httpc.h"
#include "relay/relay.h"
#include "relay/socks5.h"
#include "tunnel/tls.h"

/* One read from the client: four full DATA frames, which mux_write
 * sends as one TLS write (docs/tunnel.md, "Batching"). */
#define SESSION_READ_SIZE (MUX_WRITE_FRAMES * MUX_DEFAULT_MAX_DATA)

/* Client bytes held while the stream's window is shut, at most.  Reading
 * stops when a read is held, so one read's worth is the most it holds. */
#define SESSION_PENDING_MAX (2 * SESSION_READ_SIZE)

enum session_kind {
  SESSION_SOCKS,
  SESSION_HTTP,
  SESSION_HTTPS,
};

#define SESSION_STATE_MAP(X)                                                   \
  X(SESSION_PREFACE, "preface")                                                \
  X(SESSION_TLS, "tls")                                                        \
  X(SESSION_REQUEST, "request")                                                \
  X(SESSION_OPENING, "opening")                                                \
  X(SESSION_SPLICE, "splice")                                                  \
  X(SESSION_CLOSING, "closing")

#define SESSION_ENUM_(name, token) name,
enum session_state { SESSION_STATE_MAP(SESSION_ENUM_) };
#undef SESSION_ENUM_

struct relay_session {
  struct relay_stream_owner owner; /* first: the stream's events */
  struct relay *relay;
  struct relay_session *next; /* in relay->sessions */
  enum session_kind kind;
  enum session_state state;
  uint32_t sid;
  uv_tcp_t tcp;
  struct tls_conn *tls; /* HTTPS only */
  int tls_owned;        /* TLS took over (and closes) the handle */
  uint8_t *preface;     /* owns: a partial PROXY header, rarely */
  size_t preface_len;
  struct mux_stream *stream;   /* from OPENING until the stream closes */
  struct socks5_parser *socks; /* REQUEST only (owns) */
  struct httpc_parser *http;   /* REQUEST only (owns) */

  /* Who and where, for decisions, logs and audit. */
  char client[LISTEN_PEER_MAX];  /* "address:port" */
  char client_ip[LISTEN_IP_MAX]; /* canonical, as tokens are bound */
  char country[3];               /* of client_ip; "XX" unknown */
  uint32_t asn;                  /* 0 unknown */
  char user[65];
  char device[65];
  char cert_name[65];         /* HTTPS: the verified client certificate's CN */
  char cert_serial[65];       /* ... and serial, until matched to a device */
  struct sp_wbuf device_tags; /* owns the strlist below */
  struct sp_strlist tags;
  int mfa;
  int64_t token_expires;
  uint8_t token_hash[32]; /* to re-check the token, never the token */
  char dest[POLICY_ADDR_MAX];
  struct access_result decision;
  int decided;
  char dialled[TUNNEL_ADDR_MAX + 1];

  /* The splice. */
  uint8_t *reply; /* owns: plain TCP: the success reply, held (session_reply) */
  size_t reply_len;
  struct batch_item reply_item; /* queued while `reply` is held */
  uint8_t *pending; /* owns: client bytes the window did not take yet */
  size_t pending_len;
  size_t unconsumed; /* HTTPS: bytes to report once TLS drains */
  int reading;
  int client_eof;   /* the client finished sending */
  int resource_fin; /* the resource finished sending */
  uint64_t up;      /* bytes client -> resource */
  uint64_t down;    /* bytes resource -> client */
  uint64_t started_ms;
  uint64_t closing_ms; /* when a graceful close began */
  struct sp_wbuf body; /* HTTPS API: the request body so far (owns) */
  int work_pending;    /* a login runs on the thread pool */
  int release_pending; /* ... and the session ended meanwhile */
  int open_tries;      /* OPENs sent for this session (SESSION_OPEN_TRIES) */
  int shut_wr;         /* plain TCP: the write side was shut down */
  int shut_done;       /* ... and that shutdown completed */
  int end_recorded;    /* the end line and audit record are written */

  /* What relay_sessions_publish() last wrote of it. */
  int published;
  enum session_state pub_state;
  uint64_t pub_up, pub_down;
};

#define SESSION_LINGER_MS 10000

/* OPENs a session may send: the first, and retries on other tunnels of
   the same connector after a RESET `limit` (docs/relay.md). */
#define SESSION_OPEN_TRIES 3

void relay_sessions_tick(struct relay *r, uint64_t now_ms);

/* Session core (relay/session.c). */
struct relay_session *session_new(struct relay *r, enum session_kind kind);
/* Accepts on `l` into a new session; NULL (and nothing to do) on error. */
struct relay_session *session_accept(struct listener *l,
                                     enum session_kind kind);
/* Closes the client's TCP handle; the session is freed after it. */
void session_close_tcp(struct relay_session *s);
/* Frees the session; only once its client handle is closed. */
void session_release(struct relay_session *s);
void session_close(struct relay_session *s, const char *side, const char *phase,
                   int err);
/*
 * Writes the session's end line and its stream_end audit record, once;
 * session_close() does it unless this ran first.  A refusal calls it
 * before it answers the client, so that the trail shows the end before
 * the client can see it (docs/audit.md).
 */
void session_record_end(struct relay_session *s, const char *side,
                        const char *phase, int err);
void session_set_state(struct relay_session *s, enum session_state to);
const char *session_state_name(enum session_state state);
int session_write(struct relay_session *s, const void *p, size_t n);
/*
 * Sends the reply that opens the splice (SOCKS5 succeeded, HTTP 200).
 * On plain TCP it is held until the first bytes of the resource, which
 * usually come in the same loop iteration, and leaves with them in one
 * write (one segment, one wake-up of the client); else it leaves before
 * the loop next waits.  Anything written after it goes after it.
 */
int session_reply(struct relay_session *s, const void *p, size_t n);
void session_read(struct relay_session *s, int on);
void session_client_input(struct relay_session *s, const uint8_t *p, size_t n);
void session_client_eof(struct relay_session *s);
/* Holds client bytes that arrived before the stream was open. */
int session_hold(struct relay_session *s, const uint8_t *p, size_t n);

/* Authorisation and routing (relay/session_auth.c). */
int session_authenticate(struct relay_session *s, const char *user,
                         const char *token);
int session_decide(struct relay_session *s, const char *dest);
/* Opens the stream through the decided connector, avoiding the tunnel
   whose multiplexer is `avoid` (NULL: any); SP_ENOTFOUND when the
   connector has no tunnel up, SP_ELIMIT when none can take it. */
int session_open(struct relay_session *s, const struct mux *avoid);
const char *session_result_error(enum tunnel_result result);
/* The RFC 9209 error for session_open's SP_ENOTFOUND (no tunnel up) and
   SP_ELIMIT (no tunnel can take the stream). */
const char *session_open_error(int rc);

/* The first bytes (relay/session_preface.c). */
void preface_input(struct relay_session *s, const uint8_t *p, size_t n);
/* HTTPS: starts TLS on the session's handle (relay/session_http.c). */
int https_start_tls(struct relay_session *s);

/* Protocols (relay/session_socks.c, relay/session_http.c). */
void socks_input(struct relay_session *s, const uint8_t *p, size_t n);
void socks_result(struct relay_session *s, const char *proxy_error);
void http_input(struct relay_session *s, const uint8_t *p, size_t n);
void http_result(struct relay_session *s, const char *proxy_error);

#endif
