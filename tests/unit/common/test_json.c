/*
 * The one-line JSON writer: every input string comes out as a valid
 * JSON string that reads back as the input, with bytes that are not
 * UTF-8 replaced by U+FFFD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

/* `s` quoted, as a NUL-terminated string in `out`. */
static const char *quoted(const char *s, char *out, size_t n) {
  struct sp_wbuf w;

  sp_wbuf_init(&w);
  sp_json_quote(&w, s);
  sp_wbuf_u8(&w, 0);
  assert_int_equal(w.err, 0);
  assert_true(w.len <= n);
  memcpy(out, w.p, w.len);
  sp_wbuf_free(&w);
  return out;
}

static void test_quote_plain_and_escaped(void **state) {
  char out[256];

  (void)state;
  assert_string_equal(quoted("", out, sizeof(out)), "\"\"");
  assert_string_equal(quoted("alice", out, sizeof(out)), "\"alice\"");
  assert_string_equal(quoted("wiki.corp:443 ~{}", out, sizeof(out)),
                      "\"wiki.corp:443 ~{}\"");
  assert_string_equal(quoted("a\"b\\c", out, sizeof(out)), "\"a\\\"b\\\\c\"");
  assert_string_equal(quoted("\"", out, sizeof(out)), "\"\\\"\"");
  assert_string_equal(quoted("tab\there\nnl\x01\x1f\x7f", out, sizeof(out)),
                      "\"tab\\u0009here\\u000anl\\u0001\\u001f\\u007f\"");
}

static void test_quote_utf8(void **state) {
  char out[256];

  (void)state;
  /* Valid sequences of two, three and four bytes pass as they are. */
  assert_string_equal(
      quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", out, sizeof(out)),
      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\"");
  /* A lone continuation byte, a truncated sequence, an overlong form
     and a surrogate each become U+FFFD, one per byte that starts no
     valid sequence, and the text around them is kept. */
  assert_string_equal(quoted("a\x80z", out, sizeof(out)), "\"a\xef\xbf\xbdz\"");
  assert_string_equal(quoted("\xe2\x82", out, sizeof(out)),
                      "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  assert_string_equal(quoted("\xc0\xaf", out, sizeof(out)),
                      "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  assert_string_equal(quoted("\xed\xa0\x80!", out, sizeof(out)),
                      "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!\"");
}

static void test_object(void **state) {
  struct sp_json j;

  (void)state;
  sp_json_begin(&j);
  sp_json_str(&j, "user", "alice");
  sp_json_int(&j, "bytes", -42);
  sp_json_bool(&j, "ok", 1);
  sp_json_str(&j, "device", NULL);
  sp_json_raw(&j, "tags", "[\"managed\"]");
  assert_string_equal(sp_json_end(&j),
                      "{\"user\":\"alice\",\"bytes\":-42,\"ok\":true,"
                      "\"device\":null,\"tags\":[\"managed\"]}");
  sp_json_free(&j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote_plain_and_escaped),
      cmocka_unit_test(test_quote_utf8),
      cmocka_unit_test(test_object),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
