/*
 * Private to the policy loader (parse.c, parse_rule.c): the state of one
 * parse and the helpers both files share.  Every helper that can fail
 * writes the one-line message itself and returns SP_EPOLICY or SP_ENOMEM,
 * so callers just pass the code up.
 */
#ifndef SP_POLICY_PARSE_INT_H
#define SP_POLICY_PARSE_INT_H

#include <stddef.h>

#include "common/pack.h"
#include "common/ytree.h"
#include "policy/policy.h"

/* What policy_name_valid() accepts, for messages. */
#define PPARSE_NAME_HINT                                                       \
  "(1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter "    \
  "or digit)"

/* One time zone loaded during this parse, shared by every rule using it. */
struct pparse_zone {
  const char *name; /* in the arena */
  struct policy_tz tz;
};

struct pparse {
  const char *file; /* borrows; for messages */
  char *msg;        /* borrows; may be NULL */
  size_t msg_size;
  char what[96]; /* prefix naming the object being read, or "" */
  struct arena *mem;
  struct policy *p;
  struct sp_wbuf scratch;    /* owns; staging for lists and tables */
  const char **res_sorted;   /* owns; resource names, sorted */
  struct pparse_zone *zones; /* owns the array; tables are in the arena */
  size_t n_zones;
  size_t cap_zones;
  const struct ytree_node *countries_key; /* within the current rule */
  const struct ytree_node *asns_key;
};

/* Zeroed memory that lives as long as the policy; NULL when out of it. */
void *pparse_alloc(struct pparse *ps, size_t n);
const char *pparse_strdup(struct pparse *ps, const char *s);

/* Writes "FILE:LINE:COL: <what><message>" and returns SP_EPOLICY. */
int pparse_fail(struct pparse *ps, const struct ytree_node *at, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
int pparse_nomem(struct pparse *ps);

/* Sets the message prefix to `kind "name": `, or clears it (NULL). */
void pparse_what(struct pparse *ps, const char *kind, const char *name);

/* Checks that `val`, the value of `key`, is a `want`. */
int pparse_kind(struct pparse *ps, const struct ytree_node *key,
                const struct ytree_node *val, enum ytree_kind want);
/* Checks that `item`, in the list under `key`, is a single value. */
int pparse_item(struct pparse *ps, const struct ytree_node *key,
                const struct ytree_node *item);
/* Checks that `val` is a non-empty list. */
int pparse_list(struct pparse *ps, const struct ytree_node *key,
                const struct ytree_node *val);
/* Reads a non-empty list of valid names; `what` names them in messages. */
int pparse_names(struct pparse *ps, const struct ytree_node *key,
                 const struct ytree_node *val, const char *what,
                 struct sp_strlist *l);

/* Builds one packed list at a time in ps->scratch, then into the arena. */
void pparse_list_begin(struct pparse *ps);
void pparse_list_add(struct pparse *ps, const char *s);
int pparse_list_end(struct pparse *ps, struct sp_strlist *l, size_t n);

/* A key (a name, an address) and where it was written. */
struct pparse_ref {
  const char *key;
  size_t index;
  const struct ytree_node *node;
};

/*
 * Sorts `refs` and finds the earliest repeated key in file order: returns
 * its position in the sorted array and sets *first to the position of
 * the key's first occurrence; returns n when all keys differ.
 */
size_t pparse_first_repeat(struct pparse_ref *refs, size_t n, size_t *first);

/* Whether a resource of that name was declared. */
int pparse_resource_known(const struct pparse *ps, const char *name);

/* The rules section; resources must have been read. */
int pparse_rules(struct pparse *ps, const struct ytree_node *key,
                 const struct ytree_node *val);

#endif
