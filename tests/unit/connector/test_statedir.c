/* Replacing the connector's key and certificate after a renewal: staging,
 * committing, and recovering from a crash at every point in between. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/fileio.h"
#include "connector/statedir.h"

struct fixture {
  char dir[64];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));

  strcpy(f->dir, "/tmp/sp-statedir-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static void put(struct fixture *f, const char *name, const char *text,
                mode_t mode) {
  char path[256];

  assert_int_equal(statedir_path(path, sizeof(path), f->dir, name), 0);
  unlink(path);
  assert_int_equal(sp_write_file(path, text, strlen(text), mode), 0);
}

/* The file's text, or "-" when it does not exist. */
static const char *text_of(struct fixture *f, const char *name) {
  static char buf[64];
  char path[256], *p;
  size_t len;

  assert_int_equal(statedir_path(path, sizeof(path), f->dir, name), 0);
  if (sp_read_file(path, sizeof(buf) - 1, &p, &len) != 0)
    return "-";
  memcpy(buf, p, len + 1);
  free(p);
  return buf;
}

static unsigned mode_of(struct fixture *f, const char *name) {
  char path[256];
  struct stat st;

  assert_int_equal(statedir_path(path, sizeof(path), f->dir, name), 0);
  assert_int_equal(stat(path, &st), 0);
  return st.st_mode & 0777;
}

/* The pair in place before a renewal. */
static void old_pair(struct fixture *f) {
  put(f, STATEDIR_KEY, "old key", 0600);
  put(f, STATEDIR_CRT, "old crt", 0644);
}

static void test_stage_and_commit(void **state) {
  struct fixture *f = *state;
  const char *what;

  old_pair(f);
  put(f, STATEDIR_CRT_NEW, "leftover", 0644); /* an earlier attempt */
  assert_int_equal(statedir_creds_stage(f->dir, "new key", "new crt"), 0);
  assert_int_equal(mode_of(f, STATEDIR_KEY_NEW), 0600);
  assert_int_equal(mode_of(f, STATEDIR_CRT_NEW), 0644);
  assert_string_equal(text_of(f, STATEDIR_KEY), "old key");

  assert_int_equal(statedir_creds_commit(f->dir), 0);
  assert_string_equal(text_of(f, STATEDIR_KEY), "new key");
  assert_string_equal(text_of(f, STATEDIR_CRT), "new crt");
  assert_int_equal(mode_of(f, STATEDIR_KEY), 0600);
  assert_int_equal(mode_of(f, STATEDIR_CRT), 0644);
  assert_string_equal(text_of(f, STATEDIR_KEY_NEW), "-");
  assert_string_equal(text_of(f, STATEDIR_CRT_NEW), "-");
  assert_int_equal(statedir_creds_recover(f->dir, &what), 0);
  assert_string_equal(what, "none");
}

static void test_unstage(void **state) {
  struct fixture *f = *state;

  old_pair(f);
  assert_int_equal(statedir_creds_stage(f->dir, "new key", "new crt"), 0);
  statedir_creds_unstage(f->dir);
  assert_string_equal(text_of(f, STATEDIR_KEY_NEW), "-");
  assert_string_equal(text_of(f, STATEDIR_CRT_NEW), "-");
  assert_string_equal(text_of(f, STATEDIR_KEY), "old key");
}

/* A crash before the key moved: the old pair stands. */
static void test_recover_before_commit(void **state) {
  struct fixture *f = *state;
  const char *what;

  old_pair(f);
  put(f, STATEDIR_KEY_NEW, "new key", 0600);
  put(f, STATEDIR_CRT_NEW, "half a crt", 0644);
  assert_int_equal(statedir_creds_recover(f->dir, &what), 0);
  assert_string_equal(what, "discarded");
  assert_string_equal(text_of(f, STATEDIR_KEY), "old key");
  assert_string_equal(text_of(f, STATEDIR_CRT), "old crt");
  assert_string_equal(text_of(f, STATEDIR_KEY_NEW), "-");
  assert_string_equal(text_of(f, STATEDIR_CRT_NEW), "-");

  /* A crash while staging the key, before the certificate. */
  put(f, STATEDIR_KEY_NEW, "new key", 0600);
  assert_int_equal(statedir_creds_recover(f->dir, &what), 0);
  assert_string_equal(what, "discarded");
  assert_string_equal(text_of(f, STATEDIR_KEY), "old key");
}

/* A crash between the two renames: the certificate follows the key. */
static void test_recover_between_renames(void **state) {
  struct fixture *f = *state;
  const char *what;

  old_pair(f);
  put(f, STATEDIR_KEY, "new key", 0600);
  put(f, STATEDIR_CRT_NEW, "new crt", 0644);
  assert_int_equal(statedir_creds_recover(f->dir, &what), 0);
  assert_string_equal(what, "completed");
  assert_string_equal(text_of(f, STATEDIR_KEY), "new key");
  assert_string_equal(text_of(f, STATEDIR_CRT), "new crt");
  assert_string_equal(text_of(f, STATEDIR_CRT_NEW), "-");
  assert_int_equal(statedir_creds_recover(f->dir, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stage_and_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unstage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recover_before_commit, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_recover_between_renames, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
