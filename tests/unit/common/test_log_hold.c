/*
 * Held mode of the log: nothing reaches stderr before the flush, a
 * warning takes what waits with it at once, and ending held mode
 * flushes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/sp-hold-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  return 0;
}

static int teardown(void **state) {
  rmdir(dir);
  return 0;
}

static off_t file_size(const char *p) {
  struct stat st;

  return stat(p, &st) == 0 ? st.st_size : -1;
}

/* Log lines go to stderr: point it at a file for the test. */
static void test_log_held(void **state) {
  char lpath[160];
  int fd, saved = dup(STDERR_FILENO);
  off_t before;

  snprintf(lpath, sizeof(lpath), "%s/log", dir);
  fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0 && saved >= 0);
  dup2(fd, STDERR_FILENO);
  close(fd);

  sp_log_hold(1);
  sp_info("test", "one", "n=%d", 1);
  sp_debug("test", "hidden", "n=%d", 0); /* below the level: never kept */
  assert_int_equal(file_size(lpath), 0);
  sp_log_flush();
  before = file_size(lpath);
  assert_true(before > 0);

  sp_info("test", "two", "n=%d", 0);
  sp_warn("test", "three", "n=%d", 0); /* a warning takes what waits with it */
  assert_true(file_size(lpath) > before);
  before = file_size(lpath);
  sp_info("test", "four", "n=%d", 0);
  assert_int_equal(file_size(lpath), before);
  sp_log_hold(0); /* ending held mode flushes */
  assert_true(file_size(lpath) > before);
  before = file_size(lpath);
  sp_info("test", "five", "n=%d", 0); /* not held: at once */
  assert_true(file_size(lpath) > before);

  dup2(saved, STDERR_FILENO);
  close(saved);
  unlink(lpath);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_log_held),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
