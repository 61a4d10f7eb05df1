/* Error codes: Sallyport's own keep their tokens; system errors are
   named as errno names them, so a log line says which one it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"

static void test_names(void **state) {
  assert_string_equal(sp_err_name(0), "ok");
  assert_string_equal(sp_err_name(SP_ECORRUPT), "corrupt_record");
  assert_string_equal(sp_err_name(SP_EUNAVAILABLE), "unavailable");
  assert_string_equal(sp_err_name(-ECONNRESET), "ECONNRESET");
  assert_string_equal(sp_err_name(-ETIMEDOUT), "ETIMEDOUT");
  assert_string_equal(sp_err_name(-4000), "system_error");
  assert_string_equal(sp_err_name(-5000), "unknown_error");
  assert_string_equal(sp_err_name(7), "unknown_error");
}

static void test_messages(void **state) {
  assert_string_equal(sp_strerror(SP_ECORRUPT), "a stored record is malformed");
  assert_string_equal(sp_strerror(-ECONNREFUSED), strerror(ECONNREFUSED));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_messages),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
