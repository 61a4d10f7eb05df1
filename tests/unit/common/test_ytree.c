#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/ytree.h"

static struct ytree_node *parse_ok(const char *text) {
  struct ytree_node *root = NULL;
  struct ytree_err err;

  assert_int_equal(ytree_parse(text, strlen(text), &root, &err), 0);
  return root;
}

static void expect_error(const char *text, unsigned line, unsigned col,
                         const char *needle) {
  struct ytree_node *root = NULL;
  struct ytree_err err;

  assert_int_equal(ytree_parse(text, strlen(text), &root, &err), SP_EPARSE);
  assert_null(root);
  assert_int_equal(err.line, line);
  assert_int_equal(err.col, col);
  assert_non_null(strstr(err.msg, needle));
}

static void test_maps_lists_scalars(void **state) {
  struct ytree_node *root =
      parse_ok("a: [x, \"y\"]\nb:\n  c: NO\n  d: 08:00\n");
  const struct ytree_node *a, *b, *c;

  assert_int_equal(root->kind, YTREE_MAP);
  a = ytree_get(root, "a");
  assert_non_null(a);
  assert_int_equal(a->kind, YTREE_SEQ);
  assert_int_equal(a->n, 2);
  assert_string_equal(a->kids[1]->str, "y");
  assert_false(a->kids[1]->plain);
  assert_true(a->kids[0]->plain);
  b = ytree_get(root, "b");
  c = ytree_get(b, "c");
  assert_string_equal(c->str, "NO");
  assert_int_equal(c->line, 3);
  assert_int_equal(c->col, 6);
  assert_string_equal(ytree_get(b, "d")->str, "08:00");
  assert_null(ytree_get(root, "zz"));
  ytree_free(root);
}

static void test_empty_document(void **state) {
  assert_null(parse_ok(""));
  assert_null(parse_ok("# only a comment\n"));
}

static void test_duplicate_key(void **state) {
  expect_error("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key \"a\"");
}

static void test_alias_refused(void **state) {
  expect_error("x: &a [1]\ny: *a\n", 2, 4, "aliases");
}

static void test_complex_key_refused(void **state) {
  expect_error("? [a, b]\n: 1\n", 1, 3, "map key");
}

static void test_syntax_error_position(void **state) {
  struct ytree_node *root = NULL;
  struct ytree_err err;
  const char *text = "a: [1, 2\nb: 3\n";

  assert_int_equal(ytree_parse(text, strlen(text), &root, &err), SP_EPARSE);
  assert_true(err.line >= 1);
  assert_true(strlen(err.msg) > 0);
}

static void test_two_documents(void **state) {
  expect_error("a: 1\n---\nb: 2\n", 2, 1, "more than one document");
}

static void test_depth_limit(void **state) {
  char text[400];
  struct ytree_node *root = NULL;
  struct ytree_err err;
  int i;

  for (i = 0; i < 100; i++)
    text[i] = '[';
  text[i] = '\0';
  assert_int_equal(ytree_parse(text, strlen(text), &root, &err), SP_ETOOBIG);
  assert_non_null(strstr(err.msg, "deeply"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maps_lists_scalars),
      cmocka_unit_test(test_empty_document),
      cmocka_unit_test(test_duplicate_key),
      cmocka_unit_test(test_alias_refused),
      cmocka_unit_test(test_complex_key_refused),
      cmocka_unit_test(test_syntax_error_position),
      cmocka_unit_test(test_two_documents),
      cmocka_unit_test(test_depth_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
