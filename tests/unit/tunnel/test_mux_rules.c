/*
 * The multiplexer against a misbehaving peer and its own tunnel rules:
 * window and stream violations, malformed frames, HELLO and role rules,
 * OPEN limits, pings and the HELLO deadline, send failures and API
 * misuse.  The bench is mux_pair.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <malloc.h>

#include "common/err.h"
#include "common/log.h"
#include "tunnel/frame.h"
#include "tunnel/mux.h"
#include "tunnel/mux_int.h"
#include "mux_pair.h"

/* A peer that overruns a window loses that stream, not the tunnel. */
static void test_window_violation(void **state) {
  static uint8_t junk[2000];
  struct app_stream *a, *b, *c;
  struct mux_config rc, cc;
  struct tunnel_frame f;
  struct pair p;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  cc.initial_window = 1000;
  pair_up_with(&p, &rc, &cc, 16);
  a = open_stream(&p);
  c = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  assert_int_equal(mux_window(a->s), 1000);

  data_frame(&f, a->id, junk, 1001, 0);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->closed);
  assert_int_equal(b->got, 0);
  assert_int_equal(b->end, MUX_END_LOCAL_RESET);
  assert_int_equal(b->end_code, TUNNEL_RESET_FLOW_CONTROL);
  pump(&p);
  assert_int_equal(a->reset_code, TUNNEL_RESET_FLOW_CONTROL);

  /* A WINDOW_UPDATE past 2^31 - 1 is the same stream error. */
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_WINDOW_UPDATE;
  f.stream = c->id;
  f.u.window_increment = TUNNEL_WINDOW_MAX;
  assert_int_equal(inject(&p.conn, &f), 0);
  pump(&p);
  assert_int_equal(c->reset_code, TUNNEL_RESET_FLOW_CONTROL);

  /* Late frames for the closed ids are ignored; the tunnel lives on. */
  data_frame(&f, a->id, junk, 10, 1);
  assert_int_equal(inject(&p.conn, &f), 0);
  a = open_stream(&p);
  pump(&p);
  assert_int_equal(mux_write(a->s, junk, sizeof(junk)), 1000);
  pump(&p);
  assert_int_equal(peer_of(&p, a)->got, 1000);
  pair_free(&p);
}

/* DATA before the result, after FIN, or for an id never opened. */
static void test_stream_rules(void **state) {
  struct app_stream *a, *b;
  struct tunnel_frame f;
  struct pair p;

  pair_up(&p);
  p.conn.answer = ANSWER_LATER;
  a = open_stream(&p);
  pump(&p);
  b = p.conn.last_opened;
  data_frame(&f, a->id, "x", 1, 0);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->closed);
  assert_int_equal(b->end_code, TUNNEL_RESET_PROTOCOL);
  pump(&p);
  assert_true(a->closed);

  p.conn.answer = ANSWER_OK;
  a = open_stream(&p);
  pump(&p);
  b = peer_of(&p, a);
  data_frame(&f, a->id, NULL, 0, 1);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_true(b->fin);
  data_frame(&f, a->id, "x", 1, 0);
  assert_int_equal(inject(&p.conn, &f), 0);
  assert_int_equal(b->end_code, TUNNEL_RESET_PROTOCOL);
  drop_output(&p.conn);

  data_frame(&f, 999, "x", 1, 0);
  assert_int_equal(inject(&p.conn, &f), SP_EPROTO);
  last_frame(&p.conn, &f);
  assert_int_equal(f.type, TUNNEL_GOAWAY);
  assert_int_equal(f.u.goaway.code, TUNNEL_GOAWAY_PROTOCOL);
  assert_memory_equal(f.u.goaway.detail.p, "unknown_stream", 14);
  pair_free(&p);
}

static void test_malformed(void **state) {
  static const uint8_t zeros[8];
  static const uint8_t huge[8] = {TUNNEL_DATA, 0, 0xff, 0xff, 0, 0, 0, 1};
  struct pair p;
  size_t i;

  pair_up(&p);
  assert_int_equal(mux_feed(p.conn.m, zeros, sizeof(zeros)), SP_EPROTO);
  expect_goaway(&p.conn, TUNNEL_GOAWAY_PROTOCOL, "unknown_type");
  assert_int_equal(mux_feed(p.conn.m, zeros, 1), SP_EPROTO);
  pump(&p);
  assert_int_equal(p.relay.goaways, 1);
  assert_int_equal(p.relay.goaway_code, TUNNEL_GOAWAY_PROTOCOL);
  pair_free(&p);

  /* An oversized header is refused at its eighth byte. */
  pair_up(&p);
  for (i = 0; i < 7; i++)
    assert_int_equal(mux_feed(p.relay.m, huge + i, 1), 0);
  assert_int_equal(mux_feed(p.relay.m, huge + 7, 1), SP_EPROTO);
  expect_goaway(&p.relay, TUNNEL_GOAWAY_PROTOCOL, "oversized");
  pair_free(&p);
}

static void hello_frame(struct tunnel_frame *f, uint8_t role,
                        const char *name) {
  memset(f, 0, sizeof(*f));
  f->type = TUNNEL_HELLO;
  f->u.hello.version = 7;
  f->u.hello.role = role;
  f->u.hello.max_streams = 10;
  f->u.hello.name = tunnel_frame_str(name);
}

/* One fresh relay fed `f` after an optional connector HELLO. */
static void relay_refuses(const struct tunnel_frame *first,
                          const struct tunnel_frame *f, const char *detail) {
  struct mux_config rc;
  struct side sd;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  rc.peer_name = "paris-office";
  side_init(&sd, &rc, 4);
  if (first != NULL)
    assert_int_equal(inject(&sd, first), 0);
  assert_int_equal(inject(&sd, f), SP_EPROTO);
  expect_goaway(&sd, TUNNEL_GOAWAY_PROTOCOL, detail);
  side_free(&sd);
}

static void test_tunnel_rules(void **state) {
  struct tunnel_frame hello, f;

  hello_frame(&hello, TUNNEL_ROLE_CONNECTOR, "paris-office");
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_PING;
  relay_refuses(NULL, &f, "frame_before_hello");
  relay_refuses(&hello, &hello, "second_hello");
  hello_frame(&f, TUNNEL_ROLE_RELAY, "paris-office");
  relay_refuses(NULL, &f, "wrong_role");
  hello_frame(&f, TUNNEL_ROLE_CONNECTOR, "lyon-office");
  relay_refuses(NULL, &f, "wrong_name");

  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_OPEN;
  f.stream = 1;
  f.u.open.dest = tunnel_frame_str("a:1");
  f.u.open.user = f.u.open.resource = f.u.open.rule = tunnel_frame_str("x");
  f.u.open.client = tunnel_frame_str("1.2.3.4:5");
  relay_refuses(&hello, &f, "wrong_sender");
}

/* Ids must rise; OPENs over the limit or after GOAWAY get RESET limit. */
static void test_open_limits(void **state) {
  struct app_stream *a;
  struct mux_config rc, cc;
  struct tunnel_frame f;
  struct pair p;

  default_config(&rc, TUNNEL_ROLE_RELAY);
  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  cc.max_streams = 2;
  pair_up_with(&p, &rc, &cc, 16);
  assert_int_equal(mux_streams_left(p.relay.m), 2);
  a = open_stream(&p);
  open_stream(&p);
  assert_int_equal(mux_streams_left(p.relay.m), 0);
  pump(&p);

  raw_open(&f, 3);
  assert_int_equal(inject(&p.conn, &f), 0);
  last_frame(&p.conn, &f);
  assert_int_equal(f.type, TUNNEL_RESET);
  assert_int_equal(f.stream, 3);
  assert_int_equal(f.u.reset_code, TUNNEL_RESET_LIMIT);
  assert_int_equal(mux_stats(p.conn.m)->streams_refused, 1);
  drop_output(&p.conn);

  /* A graceful GOAWAY stops new streams; the old ones carry on. */
  assert_int_equal(mux_goaway(p.conn.m, TUNNEL_GOAWAY_SHUTDOWN, "drain"), 0);
  pump(&p);
  assert_int_equal(p.relay.goaways, 1);
  assert_int_equal(p.relay.goaway_last, 3);
  assert_int_equal(mux_reset(a->s, TUNNEL_RESET_CANCEL), 0);
  assert_int_equal(mux_streams_left(p.relay.m), 0);
  assert_int_equal(mux_write(p.relay.pool[1].s, "hi", 2), 2);
  pump(&p);
  assert_int_equal(p.conn.pool[1].got, 2);

  raw_open(&f, 2);
  assert_int_equal(inject(&p.conn, &f), SP_EPROTO);
  expect_goaway(&p.conn, TUNNEL_GOAWAY_PROTOCOL, "stream_id_not_increasing");
  pair_free(&p);
}

static void test_ping(void **state) {
  struct tunnel_frame f;
  struct pair p;

  pair_up(&p);
  mux_tick(p.relay.m, 1000);
  mux_tick(p.relay.m, 1000 + TUNNEL_PING_INTERVAL_MS - 1);
  assert_int_equal(p.relay.out.len, 0);
  mux_tick(p.relay.m, 1000 + TUNNEL_PING_INTERVAL_MS);
  last_frame(&p.relay, &f);
  assert_int_equal(f.type, TUNNEL_PING);
  assert_int_equal(f.flags, 0);

  /* The connector answers with ACK; the answer is a sign of life. */
  assert_int_equal(move(&p.relay, &p.conn), 0);
  last_frame(&p.conn, &f);
  assert_int_equal(f.type, TUNNEL_PING);
  assert_int_equal(f.flags, TUNNEL_FLAG_ACK);
  pump(&p);
  assert_int_equal(mux_stats(p.relay.m)->pings_acked, 1);
  mux_tick(p.relay.m, 7000);

  /* Then silence: pings every interval, dead after the timeout. */
  mux_tick(p.relay.m, 7000 + TUNNEL_PING_INTERVAL_MS);
  mux_tick(p.relay.m, 7000 + 2 * TUNNEL_PING_INTERVAL_MS);
  assert_int_equal(mux_stats(p.relay.m)->pings_out, 3);
  assert_int_equal(p.relay.dead, 0);
  mux_tick(p.relay.m, 7000 + TUNNEL_PING_TIMEOUT_MS);
  assert_int_equal(p.relay.dead, 1);
  assert_int_equal(p.relay.dead_err, SP_ETIMEOUT);
  mux_tick(p.relay.m, 7000 + 2 * TUNNEL_PING_TIMEOUT_MS);
  assert_int_equal(p.relay.dead, 1);
  assert_int_equal(mux_feed(p.relay.m, (const uint8_t *)"x", 1), SP_ETIMEOUT);
  pair_free(&p);
}

static void test_hello_timeout(void **state) {
  struct mux_config cc;
  struct side sd;

  default_config(&cc, TUNNEL_ROLE_CONNECTOR);
  side_init(&sd, &cc, 4);
  drop_output(&sd);
  mux_tick(sd.m, 1000 + MUX_HELLO_TIMEOUT_MS - 1);
  assert_int_equal(sd.dead, 0);
  mux_tick(sd.m, 1000 + MUX_HELLO_TIMEOUT_MS);
  assert_int_equal(sd.dead, 1);
  expect_goaway(&sd, TUNNEL_GOAWAY_TIMED_OUT, "no_hello");
  side_free(&sd);
}

static void test_cert_and_send_failure(void **state) {
  struct tunnel_frame f;
  struct app_stream *a;
  struct pair p;

  pair_up(&p);
  memset(&f, 0, sizeof(f));
  f.type = TUNNEL_CERT_RENEW;
  f.u.csr = tunnel_frame_str("-----BEGIN CERTIFICATE REQUEST-----\n");
  assert_int_equal(mux_send_cert(p.relay.m, &f), SP_EUSAGE);
  assert_int_equal(mux_send_cert(p.conn.m, &f), 0);
  pump(&p);
  assert_int_equal(p.relay.certs, 1);

  a = open_stream(&p);
  pump(&p);
  p.relay.fail_send = 1;
  assert_int_equal(mux_write(a->s, "x", 1), SP_EIO);
  p.relay.fail_send = 0;
  assert_int_equal(mux_write(a->s, "x", 1), SP_EIO);
  assert_int_equal(mux_reset(a->s, TUNNEL_RESET_CANCEL), 0);
  assert_true(a->closed);
  pair_free(&p);
}

static void test_names_and_usage(void **state) {
  struct mux_config c;
  struct mux *m;

  assert_string_equal(mux_stream_state_name(MUX_STREAM_REMOTE_FIN),
                      "remote_fin");
  assert_string_equal(mux_stream_state_name(99), "unknown");
  assert_string_equal(mux_end_name(MUX_END_LOCAL_RESET), "local_reset");
  assert_string_equal(sp_err_name(SP_ELIMIT), "limit_reached");

  default_config(&c, TUNNEL_ROLE_RELAY);
  c.name = "bad name";
  assert_int_equal(mux_new(&c, &callbacks, NULL, &m), SP_EUSAGE);
  default_config(&c, 0);
  assert_int_equal(mux_new(&c, &callbacks, NULL, &m), SP_EUSAGE);
  default_config(&c, TUNNEL_ROLE_CONNECTOR);
  assert_int_equal(mux_new(&c, &callbacks, NULL, &m), 0);
  assert_int_equal(mux_feed(m, (const uint8_t *)"x", 1), SP_EUSAGE);
  mux_free(m);
  mux_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window_violation),
      cmocka_unit_test(test_stream_rules),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_tunnel_rules),
      cmocka_unit_test(test_open_limits),
      cmocka_unit_test(test_ping),
      cmocka_unit_test(test_hello_timeout),
      cmocka_unit_test(test_cert_and_send_failure),
      cmocka_unit_test(test_names_and_usage),
  };

  sp_log_set_level(SP_LOG_ERROR);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
