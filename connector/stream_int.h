/*
 * What connector/stream.c (a stream's life: splicing, ends, the log
 * line) and connector/stream_dial.c (resolving and dialing its
 * destination) share: the stream itself and the calls between them.
 * Nothing outside these two files includes it; see stream.c for the
 * states and the rules of ownership.
 */
#ifndef SP_CONNECTOR_STREAM_INT_H
#define SP_CONNECTOR_STREAM_INT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "connector/stream.h"

/* Room for "[v6 address]:port" and its NUL. */
#define STREAM_ADDR_MAX (INET6_ADDRSTRLEN + 8)

enum stream_state {
  STREAM_NEW,
  STREAM_RESOLVING,
  STREAM_DIALING,
  STREAM_OPEN,
  STREAM_CLOSING,
};

/* Who ended a stream. */
enum stream_side {
  STREAM_SIDE_RELAY,     /* its FIN or RESET, or a rule it broke */
  STREAM_SIDE_DEST,      /* the destination: end of file, error, no dial */
  STREAM_SIDE_CONNECTOR, /* our decision: allowlist, stop, no memory */
  STREAM_SIDE_TUNNEL,    /* the tunnel went away under the stream */
};

/* The strings a stream keeps, back to back in `strs`. */
enum stream_str {
  STR_USER,
  STR_RESOURCE,
  STR_RULE,
  STR_DEVICE,
  STR_CLIENT,
  STR_DEST,
  STR_HOST, /* the destination's host, brackets removed */
  STR_ADDR, /* what was dialled; STREAM_ADDR_MAX bytes of room */
  STR_COUNT,
};

/* The OPEN_RESULT field when none has been sent. */
#define RESULT_NONE 0xff

struct stream {
  struct agent_tunnel *tunnel; /* borrows; NULL once off its list */
  struct mux_stream *ms;       /* borrows; NULL once detached */
  struct stream *prev, *next;  /* the tunnel's list */
  struct addrinfo *addrs;      /* owned while resolving and dialing */
  struct addrinfo *next_addr;  /* the next to consider */
  uint64_t started_ms;         /* uv_now() at the OPEN */
  uint64_t bytes_up;           /* relay to destination, written */
  uint64_t bytes_down;         /* destination to relay, sent */
  uv_tcp_t tcp;                /* the destination */
  uv_timer_t timer;            /* the dial's deadline, then the linger */
  union {                      /* one at a time, in this order */
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_shutdown_t shut;
  } req;
  uint32_t sid, tid;
  int err;                 /* the cause of the end, or 0 */
  uint16_t port;           /* the destination's */
  uint16_t str[STR_COUNT]; /* offsets into `strs` */
  uint8_t state;           /* enum stream_state */
  uint8_t verdict;         /* enum allow_verdict */
  uint8_t result;          /* enum tunnel_result sent, or RESULT_NONE */
  uint8_t side;            /* enum stream_side: who ended it */
  uint8_t phase;           /* the state it ended in */
  uint8_t fin_first;       /* enum stream_side: whose FIN came first */
  uint8_t reset_code;      /* the relay's RESET code, or 0 */
  bool tcp_live : 1;       /* tcp is initialised and not yet closed */
  bool timer_live : 1;     /* likewise the timer */
  bool gai_active : 1;     /* the lookup's callback is still due */
  bool dialled : 1;        /* at least one address was dialled */
  bool reading : 1;        /* uv_read_start() is in effect */
  bool dest_eof : 1;       /* the destination ended; FIN went out */
  bool fin_in : 1;         /* the relay's FIN came */
  bool shut_done : 1;      /* the destination's write side is shut */
  bool mux_done : 1;       /* the mux closed the stream after both FINs */
  char strs[];             /* NUL-terminated strings; see `str` */
};

static inline const char *sstr(const struct stream *s, enum stream_str i) {
  return s->strs + s->str[i];
}

/* The loop, through the timer: it lives from stream_new() to the end. */
static inline uv_loop_t *sloop(const struct stream *s) {
  return s->timer.loop;
}

/* stream.c */
void stream_set_state(struct stream *s, enum stream_state to);
void stream_update_reading(struct stream *s);
void stream_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
void stream_read_cb(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf);
/* The destination's handle closed: for good, or to dial the next address. */
void stream_tcp_closed_cb(uv_handle_t *h);
void stream_maybe_free(struct stream *s);
/* Ends the stream once: answers or resets the OPEN, logs, closes. */
void stream_close(struct stream *s, enum stream_side side, int err);
/* A refusal of the OPEN with `result`, blamed on `side`. */
void stream_refuse(struct stream *s, enum tunnel_result result,
                   enum stream_side side);

/* stream_dial.c */
/* Resolves the host (an IP literal without the resolver), then dials. */
void stream_resolve(struct stream *s);
/* Dials the next address the allowlist lets through, or answers. */
void stream_dial_next(struct stream *s);

#endif
