/*
 * The test bench of the multiplexer's unit tests: a relay mux and a
 * connector mux wired together through in-memory queues.  Each side's
 * send_cb appends to its queue; pump() feeds each queue to the other
 * side, whole, one byte at a time or in random splits (split_mode),
 * until both are empty.  Hand-made frames fed to one side play a
 * misbehaving peer.  mux_pair.c has the definitions.
 */
#ifndef SP_TESTS_MUX_PAIR_H
#define SP_TESTS_MUX_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"
#include "tunnel/mux.h"

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

struct queue {
  uint8_t *p;
  size_t len, cap;
};

/* What one side's application knows about one of its streams. */
struct app_stream {
  struct mux_stream *s; /* NULL once closed */
  uint32_t id;
  int hold;       /* do not report bytes as consumed */
  size_t held;    /* received and not yet consumed */
  uint64_t got;   /* bytes received */
  uint32_t hash;  /* FNV-1a of the bytes received */
  unsigned datas; /* on_data_cb calls */
  int fin, writable, closed, result_seen;
  uint32_t reset_code, result;
  enum mux_end end;
  uint32_t end_code;
  uint64_t bytes_in, bytes_out; /* as the mux counted them at the end */
  int reset_on_data;            /* re-entrancy: mux_reset from on_data_cb */
  int echo;                     /* re-entrancy: write back what arrives */
  int fin_on_fin;               /* answer FIN with FIN from on_fin_cb */
};

enum answer { ANSWER_OK, ANSWER_REFUSE, ANSWER_LATER };

struct side {
  struct mux *m;
  struct queue out; /* what this side sent: the peer's input */
  struct app_stream *pool;
  size_t pool_len, pool_cap;
  enum answer answer; /* connector: how on_open_cb answers */
  struct app_stream *last_opened;
  int hold_new, fin_on_fin_new;
  int hello, dead, dead_err, goaways, certs, free_in_data, fail_send;
  uint32_t goaway_code, goaway_last;
  unsigned closed;
};

struct pair {
  struct side relay, conn;
};

extern enum split split_mode;
uint32_t rng(void);
extern const struct mux_callbacks callbacks;

void q_append(struct queue *q, const void *p, size_t n);
struct app_stream *app_new(struct side *sd);
uint32_t fnv(uint32_t h, const uint8_t *p, size_t n);
void side_init(struct side *sd, const struct mux_config *cfg, size_t pool);
void side_free(struct side *sd);
int move(struct side *from, struct side *to);
void pump(struct pair *p);
void default_config(struct mux_config *c, enum tunnel_role role);
void pair_up_with(struct pair *p, const struct mux_config *rc,
                  const struct mux_config *cc, size_t pool);
void pair_up_with_pool(struct pair *p, size_t pool);
void pair_up(struct pair *p);
void pair_free(struct pair *p);
struct app_stream *open_stream(struct pair *p);
struct app_stream *peer_of(struct pair *p, const struct app_stream *a);
int inject(struct side *sd, const struct tunnel_frame *f);
void last_frame(struct side *sd, struct tunnel_frame *f);
void drop_output(struct side *sd);
void data_frame(struct tunnel_frame *f, uint32_t id, const void *p, size_t n,
                int fin);
void expect_goaway(struct side *sd, uint32_t code, const char *detail);
void raw_open(struct tunnel_frame *f, uint32_t id);

#endif
