/*
 * A small YAML document tree over libyaml's event parser.
 *
 * Configuration and policy files are plain data: maps, sequences and
 * string scalars.  This builds exactly that and refuses the rest, so the
 * loaders above it only ever see a bounded, acyclic tree whose nodes
 * know their line and column:
 *
 *   - aliases are refused (no billion-laughs, no shared subtrees);
 *   - map keys must be scalars, and a key may appear once per map;
 *   - depth, node count, scalar and input sizes are capped;
 *   - only the first document of a stream is read; a second is an error.
 *
 * Scalars are kept as text; typing ("true", "08:00", "NO") is the
 * caller's business, which avoids YAML 1.1 surprises.
 */
#ifndef SP_COMMON_YTREE_H
#define SP_COMMON_YTREE_H

#include <stddef.h>

#define YTREE_MAX_INPUT (64u << 20)
#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES (4u << 20)
#define YTREE_MAX_SCALAR 65535

enum ytree_kind {
  YTREE_SCALAR,
  YTREE_MAP,
  YTREE_SEQ,
};

struct ytree_node {
  enum ytree_kind kind;
  unsigned line; /* 1-based */
  unsigned col;  /* 1-based */
  char *str;     /* owns; scalars only, NUL-terminated */
  size_t len;
  int plain; /* scalars: written without quotes */
  /* Maps hold key, value, key, value...; `n` counts nodes, not pairs. */
  struct ytree_node **kids; /* owns */
  size_t n;
  size_t cap;
};

struct ytree_err {
  unsigned line; /* 1-based; 0 when unknown */
  unsigned col;
  char msg[200];
};

/*
 * Parses `buf`.  On success *rootp owns the tree (NULL for an empty
 * document) and 0 is returned; on failure, SP_EPARSE, SP_ETOOBIG or
 * SP_ENOMEM with `err` filled in.
 */
int ytree_parse(const char *buf, size_t len, struct ytree_node **rootp,
                struct ytree_err *err);

void ytree_free(struct ytree_node *node);

/* The value under `key` in a map, or NULL.  Linear: for small maps. */
const struct ytree_node *ytree_get(const struct ytree_node *map,
                                   const char *key);

/* "map", "list" or "string", for error messages. */
const char *ytree_kind_name(enum ytree_kind kind);

#endif
