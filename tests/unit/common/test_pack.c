#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/pack.h"
#include "common/strlist.h"

static void test_round_trip(void **state) {
  struct sp_wbuf w;
  struct sp_rbuf r;
  size_t len;

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, 7);
  sp_wbuf_u16(&w, 0xbeef);
  sp_wbuf_u32(&w, 0xdeadbeef);
  sp_wbuf_u64(&w, 0x0123456789abcdefull);
  sp_wbuf_str(&w, "alice");
  assert_int_equal(w.err, 0);

  sp_rbuf_init(&r, w.p, w.len);
  assert_int_equal(sp_rbuf_u8(&r), 7);
  assert_int_equal(sp_rbuf_u16(&r), 0xbeef);
  assert_int_equal(sp_rbuf_u32(&r), 0xdeadbeef);
  assert_true(sp_rbuf_u64(&r) == 0x0123456789abcdefull);
  assert_string_equal(sp_rbuf_str(&r, &len), "alice");
  assert_int_equal(len, 5);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.off, w.len);

  /* Reading past the end fails once and keeps failing. */
  assert_int_equal(sp_rbuf_u32(&r), 0);
  assert_int_equal(r.err, SP_ECORRUPT);
  assert_string_equal(sp_rbuf_str(&r, NULL), "");
  sp_wbuf_free(&w);
}

static void test_truncated_string(void **state) {
  const uint8_t bad[] = {5, 0, 'a', 'b'};
  const uint8_t no_nul[] = {1, 0, 'a', 'b'};
  struct sp_rbuf r;

  sp_rbuf_init(&r, bad, sizeof(bad));
  sp_rbuf_str(&r, NULL);
  assert_int_equal(r.err, SP_ECORRUPT);
  sp_rbuf_init(&r, no_nul, sizeof(no_nul));
  sp_rbuf_str(&r, NULL);
  assert_int_equal(r.err, SP_ECORRUPT);
}

static void test_strlist(void **state) {
  const char *items[] = {"engineering", "ops"};
  struct sp_wbuf w, rec;
  struct sp_strlist l, back;
  struct sp_rbuf r;

  sp_wbuf_init(&w);
  assert_int_equal(sp_strlist_build(&l, &w, items, 2), 0);
  assert_true(sp_strlist_has(&l, "ops"));
  assert_false(sp_strlist_has(&l, "op"));

  sp_wbuf_init(&rec);
  sp_wbuf_strlist(&rec, &l);
  sp_rbuf_init(&r, rec.p, rec.len);
  sp_rbuf_strlist(&r, &back);
  assert_int_equal(r.err, 0);
  assert_int_equal(back.n, 2);
  assert_true(sp_strlist_has(&back, "engineering"));

  /* A count that lies about the contents is caught when decoding. */
  rec.p[0] = 3;
  sp_rbuf_init(&r, rec.p, rec.len);
  sp_rbuf_strlist(&r, &back);
  assert_int_equal(r.err, SP_ECORRUPT);
  assert_int_equal(back.n, 0);
  sp_wbuf_free(&rec);
  sp_wbuf_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_truncated_string),
      cmocka_unit_test(test_strlist),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
