/*
 * The bench of the TLS unit tests: certificates made once under /tmp (a
 * "good" CA and an "evil" one, each with a relay and a device
 * certificate), confs built from them, and a "world": one libuv loop
 * with a listener, a server side and a client side, each following a
 * script of hooks, TLS or raw TCP, under a guard timer.  tls_world.c has
 * the definitions.
 */
#ifndef SP_TESTS_TLS_WORLD_H
#define SP_TESTS_TLS_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tunnel/batch.h"
#include "tunnel/tls.h"

#define RELAY "relay.test"
#define DEVICE "laptop"
#define GUARD_MS 8000 /* SP_TEST_GUARD_MS overrides it (valgrind) */
#define ECHO_TOTAL (5 * 1024 * 1024)
#define ECHO_HIGH (256 * 1024)
#define ECHO_LOW (64 * 1024)
#define ECHO_CHUNK (64 * 1024)
#define ECHO_SOCKBUF (32 * 1024)
#define ECHO_PAUSE_AT (1024 * 1024)

struct side;
struct world;

struct paths {
  char ca[160], crt[160], key[160];
};

/* What a test does on each event; a NULL hook does nothing. */
struct script {
  void (*open)(struct side *s);
  void (*read)(struct side *s, const uint8_t *p, size_t n);
  void (*drain)(struct side *s);
  void (*close)(struct side *s);
};

struct side {
  struct world *w;
  uv_tcp_t tcp;
  uv_write_t raw_req;
  struct tls_conn *conn;
  const struct script *script;
  bool raw;          /* plain TCP, no TLS */
  char raw_send[64]; /* what a raw side sends */
  size_t raw_len;    /* 0 for silence */
  int hs_calls;
  int hs_status;
  int close_calls;
  int close_err;
  bool done;
  bool peer;
  char peer_cn[128];
  char cipher[64];
  size_t got;   /* plaintext bytes received */
  int reads;    /* on_read calls */
  int stops;    /* read_stop calls made by the script */
  int drains;   /* on_drain calls */
  size_t max_q; /* largest write queue seen after a write */
};

struct world {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_connect_t connect;
  uv_timer_t guard;
  uv_timer_t pause;
  const struct tls_conf *sconf;
  const struct tls_conf *cconf;
  struct side server;
  struct side client;
  bool timed_out;
  bool small_buffers;
  bool batched; /* both sides flush through `batch` */
  struct batch batch;
  int batch_turns; /* each_cb calls */

  /* The echo test's streams and checksums (FNV-1a). */
  size_t sent;
  uint32_t send_gen;
  uint32_t check_gen;
  uint64_t sum_sent;
  uint64_t sum_got;
  bool mismatch;
  bool paused;        /* the client stopped reading at ECHO_PAUSE_AT */
  int stops_at_pause; /* the server's stops then */
};

extern char root[64]; /* holds good/ and evil/ */
extern const struct script ping_client;
extern const struct script echo_server;

const char *at(char *out, size_t n, const char *ca, const char *file);
int make_ca(const char *name);
int group_setup(void **state);
int group_teardown(void **state);
struct tls_conf *server_conf(const char *ca, enum tls_client_cert mode,
                             unsigned timeout_ms);
struct tls_conf *client_conf(const char *device_ca, const char *name,
                             int suite);
uint8_t gen_byte(uint32_t *x);
void fnv(uint64_t *h, const uint8_t *p, size_t n);
void raw_start(struct side *s);
void side_start(struct side *s, const struct tls_conf *conf);
void world_init(struct world *w, const struct tls_conf *sconf,
                const struct tls_conf *cconf, const struct script *server,
                const struct script *client);
void world_run(struct world *w);
void world_free_confs(struct tls_conf *a, struct tls_conf *b);
void run_pair(struct world *w, struct tls_conf *sconf, struct tls_conf *cconf);
void assert_clean_ping(const struct world *w);
void assert_refused_by(const struct side *refuser, const struct side *other);

#endif
