/*
 * Drives the SOCKS5 parser as a relay session would, twice: once with
 * the whole input in one read and once in reads of a size taken from the
 * first input byte.  The second byte says how the caller answers the
 * credential check.  Both runs must end in the same state with the same
 * reply bytes and the same destination, and every outcome must keep the
 * parser's promises: bounded output, a reason for every failure, no
 * password left once the check is over, and a canonical destination.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "common/err.h"
#include "relay/socks5.h"
#include "tests/fuzz/fuzz.h"

struct run {
  int rc;
  uint8_t out[64];
  size_t out_len;
  size_t used;
  struct socks5_parser p;
};

static void drain(struct run *r) {
  CHECK(r->p.out_len <= SOCKS5_OUT_MAX);
  CHECK(r->out_len + r->p.out_len <= sizeof(r->out));
  memcpy(r->out + r->out_len, r->p.out, r->p.out_len);
  r->out_len += r->p.out_len;
  r->p.out_len = 0;
}

static int password_gone(const struct socks5_parser *p) {
  size_t i;

  for (i = 0; i < sizeof(p->password); i++) {
    if (p->password[i] != 0)
      return 0;
  }
  return p->password_len == 0;
}

static void check_credentials(const struct socks5_parser *p) {
  CHECK(p->user[0] != '\0' && strlen(p->user) <= 64);
  CHECK(p->password_len > 0 && p->password_len <= 255);
  CHECK(strlen(p->password) == p->password_len);
}

static void run(struct run *r, const uint8_t *in, size_t n, size_t step,
                int approve) {
  size_t off = 0, len, used;

  memset(r, 0, sizeof(*r));
  socks5_init(&r->p);
  for (;;) {
    len = step == 0 || n - off < step ? n - off : step;
    r->rc = socks5_feed(&r->p, in + off, len, &used);
    CHECK(used <= len);
    drain(r);
    off += used;
    if (r->rc == 0 && r->p.state == SOCKS5_S_AUTH_CHECK) {
      check_credentials(&r->p);
      r->rc = socks5_auth_result(&r->p, approve);
      drain(r);
      CHECK(password_gone(&r->p));
      if (r->rc == 0)
        continue;
    }
    if (r->rc != SP_EINCOMPLETE || off == n)
      break;
  }
  r->used = off;
}

static void check_outcome(const struct run *r) {
  char again[POLICY_ADDR_MAX];

  /* 05 02, 01 00, then at most one failure reply, which is IPv4. */
  CHECK(r->out_len <= 2 + 2 + 10);
  if (r->out_len > 0)
    CHECK(r->out[0] == 5);
  if (r->rc == SP_EINCOMPLETE)
    return;
  if (r->rc == 0) {
    CHECK(r->p.state == SOCKS5_S_CONNECT);
    CHECK(policy_addr_canon(r->p.dest, again, sizeof(again)) == 0);
    CHECK(strcmp(again, r->p.dest) == 0);
    CHECK(r->p.atyp == SOCKS5_ATYP_IPV4 || r->p.atyp == SOCKS5_ATYP_DOMAIN ||
          r->p.atyp == SOCKS5_ATYP_IPV6);
    CHECK(password_gone(&r->p));
    return;
  }
  CHECK(r->rc == SP_EPROTO || r->rc == SP_EAUTH);
  CHECK(r->p.state == SOCKS5_S_FAILED);
  CHECK(r->p.reason != NULL && r->p.reason[0] != '\0');
  CHECK(password_gone(&r->p));
}

/* Replies and the error table take whatever they are given. */
static void check_helpers(const uint8_t *data, size_t size) {
  struct sockaddr_storage ss;
  uint8_t out[SOCKS5_REPLY_MAX];
  char token[32];
  size_t n = size < sizeof(ss) ? size : sizeof(ss), len;

  memset(&ss, 0, sizeof(ss));
  memcpy(&ss, data, n);
  len = socks5_reply(out, (enum socks5_reply_code)data[0],
                     (const struct sockaddr *)&ss);
  CHECK(len == 10 || len == 22);
  CHECK(socks5_reply_name((enum socks5_reply_code)data[0]) != NULL);

  n = size < sizeof(token) - 1 ? size : sizeof(token) - 1;
  memcpy(token, data, n);
  token[n] = '\0';
  CHECK(socks5_reply_for_error(token) <= SOCKS5_REP_TTL_EXPIRED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct run whole, split;
  size_t step;
  int approve;

  if (size < 2)
    return 0;
  step = data[0] % 17;
  approve = data[1] & 1;
  check_helpers(data, size);

  run(&whole, data + 2, size - 2, 0, approve);
  run(&split, data + 2, size - 2, step, approve);
  check_outcome(&whole);
  check_outcome(&split);
  CHECK(whole.rc == split.rc);
  CHECK(whole.p.state == split.p.state);
  CHECK(whole.used == split.used);
  CHECK(whole.out_len == split.out_len);
  CHECK(memcmp(whole.out, split.out, whole.out_len) == 0);
  CHECK(strcmp(whole.p.dest, split.p.dest) == 0);
  return 0;
}
