/* The login page names the proxy ports this relay listens on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/api.h"
#include "relay/config.h"

static char *page_for(const char *socks, const char *http) {
  struct relay_listen l;
  char *page = NULL;
  size_t len = 0;

  memset(&l, 0, sizeof(l));
  strcpy(l.socks, socks);
  strcpy(l.http, http);
  strcpy(l.https, "127.0.0.1:8443");
  assert_int_equal(api_login_page_build(&l, &page, &len), 0);
  assert_int_equal(strlen(page), len);
  assert_non_null(strstr(page, "<!doctype html>"));
  assert_non_null(strstr(page, "</html>\n"));
  return page;
}

static void test_ports_from_the_listeners(void **state) {
  char *page = page_for("127.0.0.1:1081", "[::1]:3129");

  assert_non_null(
      strstr(page, "<body data-socks=\"1081\" data-http=\"3129\">"));
  free(page);
}

/* A listener that is off, or an address without a port of digits, gives
   an empty value, and the page leaves that line out. */
static void test_listener_off(void **state) {
  char *page = page_for("", "127.0.0.1:31a8");

  assert_non_null(strstr(page, "<body data-socks=\"\" data-http=\"\">"));
  assert_non_null(strstr(page, "if(d.socks)"));
  free(page);
  page = page_for("0.0.0.0:123456", "127.0.0.1:\"><script>");
  assert_non_null(strstr(page, "<body data-socks=\"\" data-http=\"\">"));
  free(page);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ports_from_the_listeners),
      cmocka_unit_test(test_listener_off),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
