#include "common/ytree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/err.h"

struct builder {
  struct ytree_node *stack[YTREE_MAX_DEPTH];
  int depth;
  struct ytree_node *root;
  size_t nodes;
  int documents;
  struct ytree_err *err;
};

static int fail(struct builder *b, const yaml_mark_t *mark, int code,
                const char *msg) {
  b->err->line = mark ? (unsigned)mark->line + 1 : 0;
  b->err->col = mark ? (unsigned)mark->column + 1 : 0;
  snprintf(b->err->msg, sizeof(b->err->msg), "%s", msg);
  return code;
}

static int add_kid(struct ytree_node *parent, struct ytree_node *kid) {
  struct ytree_node **kids;
  size_t cap;

  if (parent->n == parent->cap) {
    cap = parent->cap ? parent->cap * 2 : 8;
    kids = realloc(parent->kids, cap * sizeof(*kids));
    if (kids == NULL)
      return SP_ENOMEM;
    parent->kids = kids;
    parent->cap = cap;
  }
  parent->kids[parent->n++] = kid;
  return 0;
}

/* Attaches a finished or newly opened node to the open container. */
static int attach(struct builder *b, struct ytree_node *node,
                  const yaml_mark_t *mark) {
  struct ytree_node *parent;

  if (++b->nodes > YTREE_MAX_NODES) {
    ytree_free(node);
    return fail(b, mark, SP_ETOOBIG, "too many nodes");
  }
  if (b->depth == 0) {
    if (b->root != NULL) {
      ytree_free(node);
      return fail(b, mark, SP_EPARSE, "more than one document");
    }
    b->root = node;
    return 0;
  }
  parent = b->stack[b->depth - 1];
  if (parent->kind == YTREE_MAP && parent->n % 2 == 0 &&
      node->kind != YTREE_SCALAR) {
    ytree_free(node);
    return fail(b, mark, SP_EPARSE, "a map key must be a plain string");
  }
  if (add_kid(parent, node) != 0) {
    ytree_free(node);
    return fail(b, mark, SP_ENOMEM, "out of memory");
  }
  return 0;
}

static struct ytree_node *node_new(enum ytree_kind kind,
                                   const yaml_mark_t *mark) {
  struct ytree_node *node = calloc(1, sizeof(*node));

  if (node != NULL) {
    node->kind = kind;
    node->line = (unsigned)mark->line + 1;
    node->col = (unsigned)mark->column + 1;
  }
  return node;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev) {
  const yaml_mark_t *mark = &ev->start_mark;
  size_t len = ev->data.scalar.length;
  struct ytree_node *node;

  if (len > YTREE_MAX_SCALAR)
    return fail(b, mark, SP_ETOOBIG, "string too long");
  node = node_new(YTREE_SCALAR, mark);
  if (node == NULL || (node->str = malloc(len + 1)) == NULL) {
    free(node);
    return fail(b, mark, SP_ENOMEM, "out of memory");
  }
  memcpy(node->str, ev->data.scalar.value, len);
  node->str[len] = '\0';
  node->len = len;
  node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (memchr(node->str, '\0', len) != NULL) {
    ytree_free(node);
    return fail(b, mark, SP_EPARSE, "NUL byte in a string");
  }
  return attach(b, node, mark);
}

static int on_open(struct builder *b, const yaml_event_t *ev,
                   enum ytree_kind kind) {
  const yaml_mark_t *mark = &ev->start_mark;
  struct ytree_node *node;
  int r;

  if (b->depth == YTREE_MAX_DEPTH)
    return fail(b, mark, SP_ETOOBIG, "nested too deeply");
  node = node_new(kind, mark);
  if (node == NULL)
    return fail(b, mark, SP_ENOMEM, "out of memory");
  r = attach(b, node, mark);
  if (r == 0)
    b->stack[b->depth++] = node;
  return r;
}

static int key_cmp(const void *a, const void *b) {
  const struct ytree_node *x = *(struct ytree_node *const *)a;
  const struct ytree_node *y = *(struct ytree_node *const *)b;
  int c = strcmp(x->str, y->str);

  if (c != 0)
    return c;
  if (x->line != y->line)
    return x->line < y->line ? -1 : 1;
  return x->col < y->col ? -1 : x->col > y->col;
}

/* Sorting a copy of the keys finds duplicates in n log n, not n^2. */
static int check_keys(struct builder *b, const struct ytree_node *map) {
  struct ytree_node **keys;
  size_t i, n = map->n / 2;
  int r = 0;
  yaml_mark_t mark;
  char msg[200];

  if (n < 2)
    return 0;
  keys = malloc(n * sizeof(*keys));
  if (keys == NULL)
    return fail(b, NULL, SP_ENOMEM, "out of memory");
  for (i = 0; i < n; i++)
    keys[i] = map->kids[2 * i];
  qsort(keys, n, sizeof(*keys), key_cmp);
  for (i = 1; i < n && r == 0; i++) {
    if (strcmp(keys[i - 1]->str, keys[i]->str) != 0)
      continue;
    mark.line = keys[i]->line - 1;
    mark.column = keys[i]->col - 1;
    snprintf(msg, sizeof(msg), "duplicate key \"%.100s\" (first on line %u)",
             keys[i]->str, keys[i - 1]->line);
    r = fail(b, &mark, SP_EPARSE, msg);
  }
  free(keys);
  return r;
}

static int on_event(struct builder *b, const yaml_event_t *ev) {
  struct ytree_node *top;

  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    return on_scalar(b, ev);
  case YAML_SEQUENCE_START_EVENT:
    return on_open(b, ev, YTREE_SEQ);
  case YAML_MAPPING_START_EVENT:
    return on_open(b, ev, YTREE_MAP);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    top = b->stack[--b->depth];
    return top->kind == YTREE_MAP ? check_keys(b, top) : 0;
  case YAML_ALIAS_EVENT:
    return fail(b, &ev->start_mark, SP_EPARSE,
                "aliases (*name) are not supported");
  case YAML_DOCUMENT_START_EVENT:
    if (++b->documents > 1)
      return fail(b, &ev->start_mark, SP_EPARSE, "more than one document");
    return 0;
  default:
    return 0;
  }
}

static int parse_error(struct builder *b, const yaml_parser_t *parser) {
  char msg[200];
  const yaml_mark_t *mark = &parser->problem_mark;

  if (parser->error == YAML_MEMORY_ERROR)
    return fail(b, NULL, SP_ENOMEM, "out of memory");
  if (parser->context != NULL)
    snprintf(msg, sizeof(msg), "%s %s", parser->problem, parser->context);
  else
    snprintf(msg, sizeof(msg), "%s",
             parser->problem ? parser->problem : "invalid YAML");
  if (parser->error == YAML_READER_ERROR)
    mark = NULL;
  return fail(b, mark, SP_EPARSE, msg);
}

int ytree_parse(const char *buf, size_t len, struct ytree_node **rootp,
                struct ytree_err *err) {
  struct builder b;
  yaml_parser_t parser;
  yaml_event_t ev;
  int r = 0, done = 0;

  memset(&b, 0, sizeof(b));
  memset(err, 0, sizeof(*err));
  b.err = err;
  *rootp = NULL;
  if (len > YTREE_MAX_INPUT)
    return fail(&b, NULL, SP_ETOOBIG, "file too large");
  if (!yaml_parser_initialize(&parser))
    return fail(&b, NULL, SP_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

  while (!done && r == 0) {
    if (!yaml_parser_parse(&parser, &ev)) {
      r = parse_error(&b, &parser);
      break;
    }
    r = on_event(&b, &ev);
    done = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);

  if (r != 0) {
    ytree_free(b.root);
    return r;
  }
  *rootp = b.root;
  return 0;
}

void ytree_free(struct ytree_node *node) {
  size_t i;

  if (node == NULL)
    return;
  for (i = 0; i < node->n; i++)
    ytree_free(node->kids[i]);
  free(node->kids);
  free(node->str);
  free(node);
}

const struct ytree_node *ytree_get(const struct ytree_node *map,
                                   const char *key) {
  size_t i;

  if (map == NULL || map->kind != YTREE_MAP)
    return NULL;
  for (i = 0; i + 1 < map->n; i += 2)
    if (strcmp(map->kids[i]->str, key) == 0)
      return map->kids[i + 1];
  return NULL;
}

const char *ytree_kind_name(enum ytree_kind kind) {
  switch (kind) {
  case YTREE_MAP:
    return "map";
  case YTREE_SEQ:
    return "list";
  default:
    return "string";
  }
}
