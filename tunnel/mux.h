/*
 * The stream multiplexer: docs/tunnel.md's rules for one tunnel, on top
 * of the frame codec, for either end (relay or connector).
 *
 * The multiplexer does no I/O and reads no clock.  Its owner feeds it the
 * plaintext that arrived on the tunnel (mux_feed), gives it the frames it
 * must write through send_cb, and calls mux_tick from a timer.  So the
 * same code runs over the TLS adapter and, in the tests, over two muxes
 * wired together in memory.
 *
 * Streams are opened by the relay (mux_open) and answered by the
 * connector (on_open_cb, then mux_open_result).  Each direction of a
 * stream has its own window: mux_write sends at most what the peer has
 * granted, and the receiver grants more only as its application reports
 * bytes forwarded (mux_consumed), so a stalled client stalls only its own
 * stream.  The stream state machine is described at the top of mux.c and
 * in docs/tunnel.md, "Multiplexer".
 *
 * Callbacks may call any mux function, for any stream of the same mux,
 * and may call mux_free; see the re-entrancy notes at struct
 * mux_callbacks.
 */
#ifndef SP_TUNNEL_MUX_H
#define SP_TUNNEL_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"

/* A side that has not received HELLO this long after mux_start ends. */
#define MUX_HELLO_TIMEOUT_MS 10000
/* The lowest protocol version this code speaks (TUNNEL_VERSION the top). */
#define MUX_VERSION_MIN 1
/* Default of how many streams a connector lets the relay have at once. */
#define MUX_DEFAULT_MAX_STREAMS 1024
/* Default budget of receive credit granted across a tunnel's streams. */
#define MUX_DEFAULT_BUDGET (64u * 1024u * 1024u)
/* The smallest initial window granted while the budget runs short. */
#define MUX_MIN_WINDOW (16u * 1024u)
/* Default largest DATA payload sent: header and payload fit one record. */
#define MUX_DEFAULT_MAX_DATA (TUNNEL_MAX_PAYLOAD - TUNNEL_HEADER_SIZE)

/* DATA frames mux_write hands to one send_cb (64 KiB of payload at the
 * default max_data), and so the most pieces send_cb gets. */
#define MUX_WRITE_FRAMES 4
#define MUX_SEND_PIECES_MAX (2 * MUX_WRITE_FRAMES)

/* The most pieces one on_data_cb gets. */
#define MUX_DATA_PIECES_MAX 8

struct mux;
struct mux_stream;

/* Where a stream is; see the block comment at the top of mux.c. */
#define MUX_STREAM_STATE_MAP(X)                                                \
  X(MUX_STREAM_OPENING, "opening")                                             \
  X(MUX_STREAM_OPEN, "open")                                                   \
  X(MUX_STREAM_LOCAL_FIN, "local_fin")                                         \
  X(MUX_STREAM_REMOTE_FIN, "remote_fin")                                       \
  X(MUX_STREAM_CLOSED, "closed")

/* How a stream ended, for the owner's end-of-session line. */
#define MUX_END_MAP(X)                                                         \
  X(MUX_END_NONE, "none")                 /* still running */                  \
  X(MUX_END_FIN, "fin")                   /* FIN went both ways */             \
  X(MUX_END_REFUSED, "refused")           /* OPEN_RESULT other than ok */      \
  X(MUX_END_LOCAL_RESET, "local_reset")   /* this side sent RESET */           \
  X(MUX_END_REMOTE_RESET, "remote_reset") /* the peer sent RESET */            \
  X(MUX_END_TUNNEL, "tunnel")             /* mux_free with the stream live */

#define MUX_ENUM_(name, token) name,
enum mux_stream_state { MUX_STREAM_STATE_MAP(MUX_ENUM_) };
enum mux_end { MUX_END_MAP(MUX_ENUM_) };
#undef MUX_ENUM_

/* One piece of a frame to write; `p` borrows, valid during send_cb. */
struct mux_piece {
  const void *p;
  size_t len;
};

/*
 * What the owner learns from the mux.  `ctx` is the pointer given to
 * mux_new.  Every pointer argument borrows and is valid only during the
 * call.  A stream handed to a callback stays valid until its
 * on_stream_closed_cb returns, even if the callback closes it.
 *
 * Re-entrancy: callbacks other than send_cb may call any mux function
 * on this mux, including mux_free.  A stream closed from inside a
 * callback gets its on_stream_closed_cb once the outermost mux call
 * returns; a stream closed from outside any callback (mux_reset from the
 * owner's code, say) gets it before that call returns.  mux_free inside
 * a callback takes effect when the outermost mux call returns.
 */
struct mux_callbacks {
  /*
   * Required.  Writes one or more whole frames, given as `n` pieces in
   * order (for DATA, each frame's header and then the very bytes passed
   * to mux_write), before the next call.  It must take the bytes (copy or
   * encrypt them) before it returns.  Returns 0 or a negative code; after a
   * failure the mux sends nothing more and its calls return that code.  It must
   * not call mux functions.
   */
  int (*send_cb)(void *ctx, const struct mux_piece *pieces, size_t n);

  /* The peer's HELLO passed every check; may be NULL. */
  void (*on_hello_cb)(void *ctx, const struct tunnel_frame_hello *hello);

  /*
   * Connector, required: the relay asks for a dial.  `open` is the OPEN
   * frame (its strings borrow).  Answer now or later with
   * mux_open_result, or refuse with mux_reset.
   */
  void (*on_open_cb)(void *ctx, struct mux_stream *s,
                     const struct tunnel_frame *open);

  /*
   * Relay, required: the connector's answer.  With any result but
   * TUNNEL_RESULT_OK the stream is already closed and on_stream_closed_cb
   * follows.  `addr` is what was dialled (may be empty when not ok).
   */
  void (*on_open_result_cb)(void *ctx, struct mux_stream *s,
                            enum tunnel_result result, struct tunnel_str addr);

  /*
   * Required: bytes arrived on `s`, in `n` > 0 pieces of at least one
   * byte each, in order (the payloads of consecutive DATA frames from one
   * read of the tunnel, so that they can go on in one gathered write).
   * They are borrowed: copy or forward them now.  The window they used
   * is granted again only once the owner reports them with mux_consumed.
   */
  void (*on_data_cb)(void *ctx, struct mux_stream *s,
                     const struct mux_piece *pieces, size_t n);

  /* The peer's FIN arrived after all its data; may be NULL. */
  void (*on_fin_cb)(void *ctx, struct mux_stream *s);

  /* A WINDOW_UPDATE reopened a window mux_write had found short. */
  void (*on_writable_cb)(void *ctx, struct mux_stream *s);

  /* The peer reset `s` (already closed; on_stream_closed_cb follows). */
  void (*on_reset_cb)(void *ctx, struct mux_stream *s, uint32_t code);

  /*
   * The last call for `s`: the mux has finished with it and frees it when
   * this returns.  mux_stream_end says why it ended.  May be NULL.
   */
  void (*on_stream_closed_cb)(void *ctx, struct mux_stream *s);

  /* The peer sent GOAWAY (strings borrow); may be NULL. */
  void (*on_goaway_cb)(void *ctx, const struct tunnel_frame_goaway *g);

  /* A CERT_RENEW (at the relay) or CERT_ISSUED (at the connector). */
  void (*on_cert_cb)(void *ctx, const struct tunnel_frame *f);

  /*
   * The tunnel is dead and the owner should close it: `err` is
   * SP_ETIMEOUT when HELLO did not come within MUX_HELLO_TIMEOUT_MS (a
   * GOAWAY timed_out has been sent) or nothing at all arrived for
   * TUNNEL_PING_TIMEOUT_MS (nothing is sent).  May be NULL.
   */
  void (*on_dead_cb)(void *ctx, int err);
};

/* How to set up one end of a tunnel.  Strings are copied by mux_new. */
struct mux_config {
  enum tunnel_role role; /* which end this is */
  const char *name;      /* ours, for HELLO; required */
  const char *software;  /* NULL or "sallyport 0.1.0" */
  /* NULL, or the name the peer's HELLO must carry (the relay passes the
   * name in the connector's certificate). */
  const char *peer_name;
  uint32_t tid;            /* the tunnel's id in log lines (tid=) */
  uint32_t max_streams;    /* connector: 0 = MUX_DEFAULT_MAX_STREAMS */
  uint32_t initial_window; /* granted per stream; 0 = TUNNEL_INITIAL_WINDOW */
  uint64_t budget;         /* credit across streams; 0 = default */
  uint32_t max_data;       /* largest DATA sent; 0 = MUX_DEFAULT_MAX_DATA */
};

/* What the relay puts in OPEN; borrowed during mux_open. */
struct mux_open_args {
  const char *dest;     /* "host:port", required */
  const char *user;     /* required */
  const char *resource; /* required */
  const char *rule;     /* required: the rule that allowed the request */
  const char *device;   /* NULL or "" when there is no device */
  const char *client;   /* the client's "address:port", required */
  uint64_t expires;     /* the grant's end, UNIX seconds */
};

/* Counters for metrics; all only grow except streams_active. */
struct mux_stats {
  uint64_t bytes_in, bytes_out;   /* tunnel plaintext, headers included */
  uint64_t frames_in, frames_out; /* whole frames */
  uint64_t data_in, data_out;     /* DATA payload bytes */
  uint64_t streams_opened;        /* streams created by OPEN */
  uint64_t streams_refused;       /* OPENs answered by RESET, no stream */
  uint64_t resets_in, resets_out; /* RESET frames */
  uint64_t pings_out, pings_acked;
  uint32_t streams_active; /* streams not yet closed */
};

/*
 * Creates one end of a tunnel; nothing is sent until mux_start.  `cfg`
 * and `cb` are copied.  Returns 0 and `*out` (owned by the caller, ends
 * with mux_free), SP_EUSAGE for a bad config or missing callback, or
 * SP_ENOMEM.
 */
int mux_new(const struct mux_config *cfg, const struct mux_callbacks *cb,
            void *ctx, struct mux **out);

/*
 * Ends every live stream (each gets on_stream_closed_cb, ending
 * MUX_END_TUNNEL) without sending anything, since closing the tunnel ends
 * them at the peer too, then frees `m`.  Inside a callback it takes
 * effect when the outermost mux call returns.  NULL is accepted.
 */
void mux_free(struct mux *m);

/* Sends HELLO and starts the HELLO and liveness clocks at `now_ms`. */
int mux_start(struct mux *m, uint64_t now_ms);

/*
 * Takes `n` bytes of plaintext that arrived on the tunnel, split in any
 * way; a partial frame is kept (one frame at most) until the rest comes.
 * Frames are dispatched to the callbacks as they complete.  Returns 0;
 * SP_EPROTO after a tunnel error (a GOAWAY protocol_error or
 * unsupported_version has been sent; the owner flushes it and closes);
 * SP_ECLOSED once the tunnel is dead; SP_EUSAGE before mux_start or from
 * inside a callback; or send_cb's error.  0 whenever a callback freed
 * the multiplexer (mux_free), whatever else happened.  The DATA of the
 * frames before a fault reaches on_data_cb before the tunnel halts.
 */
int mux_feed(struct mux *m, const uint8_t *p, size_t n);

/*
 * Called from the owner's timer, about once a second.  Bytes fed since the
 * last tick count as received at `now_ms`, so silence is measured with
 * the tick's resolution.  Sends PING after TUNNEL_PING_INTERVAL_MS of
 * silence, and reports the tunnel dead through on_dead_cb after
 * TUNNEL_PING_TIMEOUT_MS or when HELLO is late.
 */
void mux_tick(struct mux *m, uint64_t now_ms);

/*
 * Sends GOAWAY with `code` and `detail` (NULL or printable ASCII, at most
 * TUNNEL_DETAIL_MAX bytes).  Afterwards the relay opens no stream and the
 * connector refuses OPENs with RESET limit; existing streams carry on.
 */
int mux_goaway(struct mux *m, enum tunnel_goaway_code code, const char *detail);

/*
 * Sends a CERT_RENEW (connector) or CERT_ISSUED (relay) frame, `f`
 * borrowed.  SP_EUSAGE for any other type or a malformed frame.
 */
int mux_send_cert(struct mux *m, const struct tunnel_frame *f);

/*
 * Relay: opens a stream toward `args->dest` with a new id and sends OPEN.
 * `user` is the owner's pointer for the stream.  Returns 0 and `*out`
 * (valid until its on_stream_closed_cb returns), SP_EUSAGE (not the
 * relay, no HELLO from the peer yet, or bad args), SP_ECLOSED (GOAWAY
 * sent or received, ids used up), SP_ELIMIT (the connector's max streams
 * or this side's budget), SP_ENOMEM, or send_cb's error.
 */
int mux_open(struct mux *m, const struct mux_open_args *args, void *user,
             struct mux_stream **out);

/*
 * Connector: answers an OPEN.  `addr` is what was dialled ("10.20.0.5:443";
 * required when ok, may be NULL otherwise).  With any result but ok the
 * stream closes.  SP_EUSAGE when not the connector, already answered, or
 * a bad `addr`.
 */
int mux_open_result(struct mux_stream *s, enum tunnel_result result,
                    const char *addr);

/*
 * Sends up to `n` bytes from `p` as DATA, never more than the peer's
 * window allows, in frames of at most max_data bytes whose payloads point
 * at `p` (nothing is copied).  Returns how many bytes were sent (0 to n;
 * fewer than `n` means the window is spent, and on_writable_cb comes when
 * it reopens), SP_EUSAGE before the stream is open or after mux_fin,
 * SP_ECLOSED once it is closed, or the tunnel's error.
 */
int mux_write(struct mux_stream *s, const void *p, size_t n);

/* How many bytes mux_write would send now (0 unless it may send). */
size_t mux_window(const struct mux_stream *s);

/*
 * The owner has forwarded `n` more bytes that on_data_cb delivered.  Once
 * half the stream's initial window has been forwarded, the mux grants it
 * back with WINDOW_UPDATE.  SP_EUSAGE when `n` is more than was delivered
 * and not yet reported; 0 on a closed stream.
 */
int mux_consumed(struct mux_stream *s, size_t n);

/*
 * Half-closes the sending direction: DATA with FIN and no bytes.  The
 * stream closes when the peer's FIN has also arrived.  SP_EUSAGE before
 * the stream is open or after a first mux_fin.
 */
int mux_fin(struct mux_stream *s);

/*
 * Ends the stream in both directions with RESET `code` (at the connector,
 * also instead of mux_open_result; TUNNEL_RESET_LIMIT means refused
 * without dialling).  The stream closes even if the tunnel cannot send any
 * more.  SP_ECLOSED when already closed, SP_EUSAGE for an unknown code.
 */
int mux_reset(struct mux_stream *s, enum tunnel_reset_code code);

/* Accessors; `s` must be valid (see on_stream_closed_cb). */
uint32_t mux_stream_id(const struct mux_stream *s);
void *mux_stream_user(const struct mux_stream *s);
void mux_stream_set_user(struct mux_stream *s, void *user);
struct mux *mux_stream_mux(const struct mux_stream *s);
enum mux_stream_state mux_stream_state(const struct mux_stream *s);
/* Why `s` ended (MUX_END_NONE while live); `*code` (NULL accepted) gets
 * the result or reset code that goes with it, else 0. */
enum mux_end mux_stream_end(const struct mux_stream *s, uint32_t *code);
/* DATA payload bytes received and sent on `s`. */
uint64_t mux_stream_bytes_in(const struct mux_stream *s);
uint64_t mux_stream_bytes_out(const struct mux_stream *s);

/* Stable snake_case tokens for logs; never NULL ("unknown" otherwise). */
const char *mux_stream_state_name(unsigned state);
const char *mux_end_name(unsigned end);

/* The counters, valid as long as `m`. */
const struct mux_stats *mux_stats(const struct mux *m);

/* The peer's HELLO: name and software ("" before it), and the version the
 * tunnel speaks (0 before it). */
const char *mux_peer_name(const struct mux *m);
const char *mux_peer_software(const struct mux *m);
unsigned mux_version(const struct mux *m);

/*
 * Relay: how many more streams mux_open may open now (the connector's max
 * streams minus those live; 0 before its HELLO or after a GOAWAY).
 */
uint32_t mux_streams_left(const struct mux *m);

#endif
