/*
 * The multiplexer's insides, shared by mux.c (the tunnel: input, HELLO,
 * pings, GOAWAY, teardown), mux_stream.c (streams and flow control) and
 * mux_table.c (streams by id).  Not for other modules.
 */
#ifndef SP_TUNNEL_MUX_INT_H
#define SP_TUNNEL_MUX_INT_H

#include "tunnel/mux.h"

/*
 * One stream.  Receive-side credit obeys, while the stream can receive,
 * recv_window + buffered + pending == recv_initial: what the peer may
 * still send, what the owner holds, and what the owner has forwarded but
 * the mux has not yet granted back.
 */
struct mux_stream {
  struct mux *mux;                /* borrows: the tunnel it lives on */
  void *user;                     /* the owner's; never dereferenced */
  struct mux_stream *next_closed; /* link in mux.closed_head while closed */
  uint64_t data_in, data_out;     /* DATA payload bytes each way */
  uint32_t id;
  uint32_t send_window;  /* bytes this side may still send */
  uint32_t recv_window;  /* bytes the peer may still send */
  uint32_t recv_initial; /* the window granted at the start (budget) */
  uint32_t buffered;     /* delivered by on_data_cb, not yet consumed */
  uint32_t pending;      /* consumed, not yet granted back */
  uint32_t end_code;     /* result or reset code that goes with `end` */
  uint8_t state;         /* enum mux_stream_state */
  uint8_t end;           /* enum mux_end */
  uint8_t want_write;    /* mux_write found the window short */
};

/* Open addressing, linear probing, at most half full; owns `slots`. */
struct mux_table {
  struct mux_stream **slots; /* NULL when cap is 0 */
  uint32_t cap;              /* 0 or a power of two, 2^bits */
  uint32_t bits;
  uint32_t count;
};

/*
 * DATA payloads for one stream, decoded from the current input and not
 * yet handed to the owner: consecutive DATA frames of a stream go to
 * on_data_cb in one call.  The pieces borrow from the input, so the run
 * is flushed before that input is gone, before any other frame is
 * dispatched and before any other callback, so owners see events in the
 * order they came.
 */

struct mux_run {
  struct mux_stream *s; /* NULL when empty */
  size_t n;
  struct mux_piece pieces[MUX_DATA_PIECES_MAX];
};

struct mux {
  struct mux_config cfg; /* string pointers point at the copies below */
  struct mux_callbacks cb;
  void *ctx;
  char name[TUNNEL_NAME_MAX + 1];
  char software[TUNNEL_SOFTWARE_MAX + 1];
  char expect_peer[TUNNEL_NAME_MAX + 1];
  char peer_name[TUNNEL_NAME_MAX + 1];
  char peer_software[TUNNEL_SOFTWARE_MAX + 1];
  struct mux_table table;         /* live streams by id; owns them */
  struct mux_stream *closed_head; /* closed, awaiting on_stream_closed_cb */
  struct mux_stream *closed_tail;
  struct mux_stats stats;
  uint64_t budget_used; /* sum of recv_initial over live streams */
  uint64_t started_ms, last_rx_ms, last_ping_ms;
  uint32_t last_id;          /* the highest stream id opened on the tunnel */
  uint32_t peer_max_streams; /* from the connector's HELLO (relay side) */
  unsigned version;          /* agreed in HELLO; 0 before */
  int err;                   /* sticky: why the tunnel is unusable, or 0 */
  int send_err;              /* sticky: send_cb's failure, or 0 */
  unsigned depth;            /* nesting of mux calls; callbacks run at > 0 */
  uint8_t ping_data[8];      /* the outstanding PING's bytes */
  uint8_t ping_outstanding;
  uint8_t started, hello_received, goaway_sent, goaway_received;
  uint8_t rx_seen;      /* bytes arrived since the last tick */
  uint8_t free_pending; /* mux_free was called; every call now fails */
  struct mux_run run;   /* DATA awaiting delivery (mux_run_flush) */
  size_t in_len;        /* bytes of a partial frame held in `in` */
  uint8_t in[TUNNEL_FRAME_MAX];
  uint8_t out[TUNNEL_FRAME_MAX]; /* scratch for encoding control frames */
};

/* Hands the pending run, if any, to its stream's owner. */
void mux_run_flush(struct mux *m);

/* The role of the other end. */
enum tunnel_role mux_peer_role(const struct mux *m);

/* 0 while the tunnel works, else the code calls on it return. */
int mux_halted(const struct mux *m);

/* Brackets a public call that may run callbacks or close streams; the
 * outermost mux_leave reaps closed streams and runs a deferred mux_free,
 * so `m` may be gone after it. */
void mux_enter(struct mux *m);
void mux_leave(struct mux *m);

/* Encodes and sends a control frame; SP_EUSAGE if `f` is malformed. */
int mux_send_frame(struct mux *m, const struct tunnel_frame *f);

/* Sends one DATA frame: a header, then `n` bytes at `p` not copied. */
int mux_send_data(struct mux *m, uint32_t id, const void *p, size_t n, int fin);

/* Sends `frames` whole frames given as `n` pieces in one send_cb. */
int mux_send_pieces(struct mux *m, const struct mux_piece *pc, size_t n,
                    unsigned frames);

/* Sends GOAWAY `code`, logs the tunnel error, makes it sticky: SP_EPROTO. */
int mux_tunnel_error(struct mux *m, uint32_t code, const char *detail);

/* Handles OPEN, OPEN_RESULT, DATA, WINDOW_UPDATE and RESET. */
int mux_stream_frame(struct mux *m, const struct tunnel_frame *f);

/* Closes every live stream (MUX_END_TUNNEL) and empties the table. */
void mux_streams_end_all(struct mux *m);

/* The stream with `id`, or NULL. */
struct mux_stream *mux_table_find(const struct mux_table *t, uint32_t id);

/* Adds `s` (not owned by the table); 0 or SP_ENOMEM. */
int mux_table_insert(struct mux_table *t, struct mux_stream *s);

/* Removes `s`, which must be in the table. */
void mux_table_remove(struct mux_table *t, struct mux_stream *s);

/* Frees the table's slots (the streams must be gone). */
void mux_table_free(struct mux_table *t);

#endif
