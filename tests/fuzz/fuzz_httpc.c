/*
 * Parses the input as a request head twice, whole and in reads of a
 * size taken from the first byte, and checks that both runs agree on
 * everything and that every result keeps the parser's promises: a
 * failure has a status from the documented set, a CONNECT authority is
 * canonical, decoded credentials are in bounds.  Whatever follows the
 * head goes through both login body parsers, as a POST body would, and
 * a response head is formatted from the parsed values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "relay/form.h"
#include "relay/httpc.h"
#include "tests/fuzz/fuzz.h"

static int feed(struct httpc_parser *p, const uint8_t *in, size_t n,
                size_t step, size_t *used) {
  size_t off = 0, len, u;
  int rc;

  httpc_init(p);
  do {
    len = step == 0 || n - off < step ? n - off : step;
    rc = httpc_feed(p, in + off, len, &u);
    CHECK(u <= len);
    off += u;
  } while (rc == SP_EINCOMPLETE && off < n);
  *used = off;
  return rc;
}

static int same(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_failed(const struct httpc_parser *p, int rc) {
  CHECK(p->state == HTTPC_S_FAILED && p->reason != NULL && p->err == rc);
  if (rc == SP_ETOOBIG)
    CHECK(p->status == 413 || p->status == 414 || p->status == 431);
  else
    CHECK(rc == SP_EPROTO &&
          (p->status == 400 || p->status == 411 || p->status == 505));
}

static void check_done(const struct httpc_parser *p) {
  char again[POLICY_ADDR_MAX];

  CHECK(p->state == HTTPC_S_DONE && p->method != NULL && p->target != NULL);
  CHECK(p->n_fields <= HTTPC_FIELDS_MAX);
  CHECK(p->content_length >= -1 && p->content_length <= HTTPC_BODY_MAX);
  if (strcmp(p->method, "CONNECT") == 0) {
    CHECK(policy_addr_canon(p->authority, again, sizeof(again)) == 0);
    CHECK(strcmp(again, p->authority) == 0);
  } else {
    CHECK(p->authority[0] == '\0');
  }
  if (p->auth == HTTPC_AUTH_BASIC) {
    CHECK(policy_name_valid(p->user));
    CHECK(p->password_len > 0 && p->password_len <= HTTPC_PASSWORD_MAX);
    CHECK(strlen(p->password) == p->password_len);
  } else {
    CHECK(p->password_len == 0 && p->password[0] == '\0');
    CHECK((p->auth == HTTPC_AUTH_INVALID) == (p->auth_reason != NULL));
  }
}

static void compare(const struct httpc_parser *a,
                    const struct httpc_parser *b) {
  size_t i;

  CHECK(a->state == b->state && a->status == b->status);
  if (a->state != HTTPC_S_DONE)
    return;
  CHECK(same(a->method, b->method) && same(a->target, b->target));
  CHECK(same(a->path, b->path) && same(a->authority, b->authority));
  CHECK(same(a->host, b->host) && same(a->content_type, b->content_type));
  CHECK(a->content_length == b->content_length && a->auth == b->auth);
  CHECK(same(a->user, b->user) && same(a->password, b->password));
  CHECK(a->n_fields == b->n_fields);
  for (i = 0; i < a->n_fields; i++) {
    CHECK(same(a->fields[i].name, b->fields[i].name));
    CHECK(same(a->fields[i].value, b->fields[i].value));
  }
}

static void check_body(enum form_type type, const uint8_t *b, size_t n) {
  struct form_login f;
  const char *reason = NULL;
  int rc = form_parse_login(type, (const char *)b, n, &f, &reason);

  if (rc != 0) {
    CHECK(rc == SP_EPARSE || rc == SP_ETOOBIG || rc == SP_EUSAGE);
    CHECK(reason != NULL && !f.has_user && !f.has_password && !f.has_otp);
    return;
  }
  CHECK(reason == NULL);
  CHECK(strlen(f.user) <= FORM_USER_MAX && strlen(f.otp) <= FORM_OTP_MAX);
  CHECK(strlen(f.password) == f.password_len);
  CHECK(f.has_password || f.password_len == 0);
}

static void check_response(const struct httpc_parser *p, const uint8_t *d) {
  struct httpc_response r = {0};
  char out[HTTPC_RESPONSE_MAX];
  int n;

  r.status = p->state == HTTPC_S_FAILED ? p->status : 100 + d[0] * 2;
  r.proxy_error = p->state == HTTPC_S_DONE ? p->target : "http_request_error";
  r.allow = p->state == HTTPC_S_DONE ? p->method : NULL;
  r.content_type = p->state == HTTPC_S_DONE ? p->content_type : NULL;
  r.content_length = (size_t)d[0] * 1000;
  r.tunnel = d[0] & 1;
  r.close = d[0] & 2;
  n = httpc_response_format(&r, out, sizeof(out));
  CHECK(n == SP_EUSAGE ||
        (n > 0 && (size_t)n < sizeof(out) && strlen(out) == (size_t)n &&
         memcmp(out + n - 4, "\r\n\r\n", 4) == 0));
  CHECK(httpc_status_for_error(r.proxy_error) >= 400);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct httpc_parser whole, split;
  size_t used_whole, used_split, step;
  int rc_whole, rc_split;

  if (size < 1)
    return 0;
  step = data[0] % 64;
  rc_whole = feed(&whole, data + 1, size - 1, 0, &used_whole);
  rc_split = feed(&split, data + 1, size - 1, step, &used_split);
  CHECK(rc_whole == rc_split);
  compare(&whole, &split);
  check_response(&whole, data);

  if (rc_whole == SP_EINCOMPLETE) {
    CHECK(used_whole == size - 1 && used_split == size - 1);
    return 0;
  }
  if (rc_whole != 0) {
    check_failed(&whole, rc_whole);
    return 0;
  }
  CHECK(used_whole == used_split);
  check_done(&whole);
  check_body(FORM_URLENCODED, data + 1 + used_whole, size - 1 - used_whole);
  check_body(FORM_JSON, data + 1 + used_whole, size - 1 - used_whole);
  check_body(form_content_type(whole.content_type), data + 1 + used_whole,
             size - 1 - used_whole);
  httpc_wipe(&whole);
  return 0;
}
