/*
 * The policy loader: YAML text in, a validated struct policy out.
 *
 * common/ytree.c gives a tree of maps, lists and strings with positions;
 * this file gives the tree its meaning and refuses anything it does not
 * understand, pointing at the offending node.  The sections are read in
 * a fixed order (resources, groups, rules, default) whatever their order
 * in the file, because rules refer to resources.
 *
 * Everything the result points to lives in one arena (p->mem) whose
 * chunks never move, so names, packed lists and time-zone tables can be
 * handed out as plain pointers and freed at once by policy_free().
 *
 * Files with tens of thousands of resources and rules must load quickly,
 * so lookups and duplicate checks sort once and then search, rather than
 * compare every pair.
 */
#include "policy/parse_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/names.h"

#define ARENA_CHUNK (64u * 1024)

struct arena_chunk {
  struct arena_chunk *next;
  size_t used;
  size_t cap;
  max_align_t data[]; /* aligns the bytes that follow the header */
};

struct arena {
  struct arena_chunk *head;
};

static struct arena *arena_new(void) {
  return calloc(1, sizeof(struct arena));
}

static void arena_free(struct arena *a) {
  struct arena_chunk *c, *next;

  if (a == NULL)
    return;
  for (c = a->head; c != NULL; c = next) {
    next = c->next;
    free(c);
  }
  free(a);
}

void *pparse_alloc(struct pparse *ps, size_t n) {
  const size_t align = sizeof(max_align_t);
  struct arena *a = ps->mem;
  struct arena_chunk *c = a->head;
  size_t cap;
  void *p;

  n = n == 0 ? align : (n + align - 1) / align * align;
  if (c == NULL || c->cap - c->used < n) {
    cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    c = calloc(1, sizeof(*c) + cap);
    if (c == NULL)
      return NULL;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  p = (unsigned char *)c->data + c->used;
  c->used += n;
  return p;
}

const char *pparse_strdup(struct pparse *ps, const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = pparse_alloc(ps, n);

  if (copy != NULL)
    memcpy(copy, s, n);
  return copy;
}

int pparse_fail(struct pparse *ps, const struct ytree_node *at, const char *fmt,
                ...) {
  char body[400];
  va_list ap;
  size_t i;

  va_start(ap, fmt);
  vsnprintf(body, sizeof(body), fmt, ap);
  va_end(ap);
  if (ps->msg != NULL && ps->msg_size > 0) {
    snprintf(ps->msg, ps->msg_size, "%s:%u:%u: %s%s", ps->file,
             at != NULL ? at->line : 1, at != NULL ? at->col : 1, ps->what,
             body);

    /* Names and values come from the file: keep the message one line. */
    for (i = 0; ps->msg[i] != '\0'; i++)
      if ((unsigned char)ps->msg[i] < 0x20 || ps->msg[i] == 0x7f)
        ps->msg[i] = '?';
  }
  return SP_EPOLICY;
}

int pparse_nomem(struct pparse *ps) {
  if (ps->msg != NULL && ps->msg_size > 0)
    snprintf(ps->msg, ps->msg_size, "%s:1:1: out of memory", ps->file);
  return SP_ENOMEM;
}

int policy_name_valid(const char *s) {
  return sp_name_valid(s);
}

int pparse_kind(struct pparse *ps, const struct ytree_node *key,
                const struct ytree_node *val, enum ytree_kind want) {
  if (val->kind == want)
    return 0;
  if (val->kind == YTREE_SCALAR && val->plain && val->len == 0)
    return pparse_fail(ps, val, "%s has no value; expected a %s", key->str,
                       ytree_kind_name(want));
  if (want == YTREE_SCALAR)
    return pparse_fail(ps, val, "%s must be a single value, not a %s", key->str,
                       ytree_kind_name(val->kind));
  return pparse_fail(ps, val, "%s must be a %s, not a %s", key->str,
                     ytree_kind_name(want), ytree_kind_name(val->kind));
}

int pparse_item(struct pparse *ps, const struct ytree_node *key,
                const struct ytree_node *item) {
  if (item->kind == YTREE_SCALAR)
    return 0;
  return pparse_fail(ps, item, "%s must list single values, not a %s", key->str,
                     ytree_kind_name(item->kind));
}

/* Lists are staged in ps->scratch, then copied into the arena. */
void pparse_list_begin(struct pparse *ps) {
  ps->scratch.len = 0;
}

void pparse_list_add(struct pparse *ps, const char *s) {
  sp_wbuf_str(&ps->scratch, s);
}

int pparse_list_end(struct pparse *ps, struct sp_strlist *l, size_t n) {
  uint8_t *copy;

  if (ps->scratch.err != 0)
    return pparse_nomem(ps);
  copy = pparse_alloc(ps, ps->scratch.len);
  if (copy == NULL)
    return pparse_nomem(ps);
  memcpy(copy, ps->scratch.p, ps->scratch.len);
  l->p = copy;
  l->len = ps->scratch.len;
  l->n = (uint32_t)n;
  return 0;
}

/*
 * A list of names: a non-empty YAML list whose items are valid names.
 * `what` says what the names are, for messages ("user name").
 */
int pparse_names(struct pparse *ps, const struct ytree_node *key,
                 const struct ytree_node *val, const char *what,
                 struct sp_strlist *l) {
  const struct ytree_node *item;
  size_t i;
  int r;

  if ((r = pparse_list(ps, key, val)) != 0)
    return r;
  pparse_list_begin(ps);
  for (i = 0; i < val->n; i++) {
    item = val->kids[i];
    if (pparse_item(ps, key, item) != 0)
      return SP_EPOLICY;
    if (!policy_name_valid(item->str))
      return pparse_fail(ps, item, "invalid %s \"%.100s\" " PPARSE_NAME_HINT,
                         what, item->str);
    pparse_list_add(ps, item->str);
  }
  return pparse_list_end(ps, l, val->n);
}

int pparse_list(struct pparse *ps, const struct ytree_node *key,
                const struct ytree_node *val) {
  int r = pparse_kind(ps, key, val, YTREE_SEQ);

  if (r == 0 && val->n == 0)
    r = pparse_fail(ps, val,
                    "%s is an empty list, which would match nothing; "
                    "name at least one item or leave the key out",
                    key->str);
  return r;
}

void pparse_what(struct pparse *ps, const char *kind, const char *name) {
  if (kind == NULL)
    ps->what[0] = '\0';
  else
    snprintf(ps->what, sizeof(ps->what), "%s \"%.64s\": ", kind, name);
}

/* Says what is wrong with an address that policy_addr_canon() refused. */
static const char *addr_problem(const char *s) {
  const char *colon = s[0] == '[' ? strstr(s, "]:") : strrchr(s, ':');
  const char *d;
  unsigned long port;

  if (colon == NULL)
    return s[0] == '[' ? "write IPv6 addresses as [2001:db8::5]:22"
                       : "no port; write host:port";
  if (s[0] == '[')
    colon++;
  else if (strchr(s, ':') != colon)
    return "IPv6 addresses go in brackets, e.g. [2001:db8::5]:22";

  for (d = colon + 1; *d >= '0' && *d <= '9'; d++)
    ;
  port = strtoul(colon + 1, NULL, 10);
  if (d == colon + 1 || *d != '\0' || port < 1 || port > 65535)
    return "the port must be a number from 1 to 65535";
  return s[0] == '[' ? "not a valid IPv6 address"
                     : "not a valid host name or IPv4 address";
}

/* Reads `address` and `connector` of one resource map. */
static int resource_fields(struct pparse *ps, const struct ytree_node *map,
                           struct policy_resource *res,
                           const struct ytree_node **addr_node) {
  char canon[POLICY_ADDR_MAX];
  const struct ytree_node *k, *v;
  size_t i;
  int is_address;

  for (i = 0; i + 1 < map->n; i += 2) {
    k = map->kids[i];
    v = map->kids[i + 1];
    is_address = strcmp(k->str, "address") == 0;
    if (!is_address && strcmp(k->str, "connector") != 0)
      return pparse_fail(ps, k,
                         "unknown key \"%.64s\" (a resource has an address "
                         "and a connector)",
                         k->str);
    if (pparse_kind(ps, k, v, YTREE_SCALAR) != 0)
      return SP_EPOLICY;
    if (is_address) {
      if (policy_addr_canon(v->str, canon, sizeof(canon)) != 0)
        return pparse_fail(ps, v, "invalid address \"%.100s\": %s", v->str,
                           addr_problem(v->str));
      res->address = pparse_strdup(ps, canon);
      *addr_node = v;
    } else {
      if (!policy_name_valid(v->str))
        return pparse_fail(
            ps, v, "invalid connector name \"%.100s\" " PPARSE_NAME_HINT,
            v->str);
      res->connector = pparse_strdup(ps, v->str);
    }
    if ((is_address ? res->address : res->connector) == NULL)
      return pparse_nomem(ps);
  }
  return 0;
}

static int read_resource(struct pparse *ps, const struct ytree_node *k,
                         const struct ytree_node *v,
                         struct policy_resource *res,
                         const struct ytree_node **addr_node) {
  int r;

  if (!policy_name_valid(k->str))
    return pparse_fail(
        ps, k, "invalid resource name \"%.100s\" " PPARSE_NAME_HINT, k->str);
  pparse_what(ps, "resource", k->str);
  if (v->kind != YTREE_MAP)
    return pparse_fail(ps, v,
                       "must be a map with an address and a "
                       "connector, not a %s",
                       ytree_kind_name(v->kind));

  res->name = pparse_strdup(ps, k->str);
  if (res->name == NULL)
    return pparse_nomem(ps);
  res->line = k->line;
  res->col = k->col;
  if ((r = resource_fields(ps, v, res, addr_node)) != 0)
    return r;
  if (res->address == NULL)
    return pparse_fail(ps, k, "missing address (host:port)");
  if (res->connector == NULL)
    return pparse_fail(ps, k, "missing connector");
  pparse_what(ps, NULL, NULL);
  return 0;
}

static int ref_cmp(const void *a, const void *b) {
  const struct pparse_ref *x = a, *y = b;
  int c = strcmp(x->key, y->key);

  if (c != 0)
    return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * After sorting, each run of equal keys starts with the earliest in the
 * file.  The repeat reported is the earliest one, so that the error reads
 * the way a top-to-bottom check would.
 */
size_t pparse_first_repeat(struct pparse_ref *refs, size_t n, size_t *first) {
  size_t i, run = 0, bad = n;

  qsort(refs, n, sizeof(*refs), ref_cmp);
  for (i = 1; i < n; i++) {
    if (strcmp(refs[i].key, refs[run].key) != 0)
      run = i;
    else if (bad == n || refs[i].index < refs[bad].index)
      bad = i;
  }
  if (bad == n)
    return n;
  for (run = bad; run > 0 && strcmp(refs[run - 1].key, refs[bad].key) == 0;)
    run--;
  *first = run;
  return bad;
}

/* Two resources with one address would make a destination ambiguous. */
static int check_addresses(struct pparse *ps, struct pparse_ref *refs,
                           size_t n) {
  const struct policy_resource *res = ps->p->resources;
  size_t first = 0, bad = pparse_first_repeat(refs, n, &first);

  if (bad == n)
    return 0;
  pparse_what(ps, "resource", res[refs[bad].index].name);
  return pparse_fail(
      ps, refs[bad].node, "same address %s as resource \"%s\" (line %u)",
      refs[bad].key, res[refs[first].index].name, res[refs[first].index].line);
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keeps the resource names sorted so that rules resolve them quickly. */
static int index_resources(struct pparse *ps) {
  struct policy *p = ps->p;
  size_t i;

  if (p->n_resources == 0)
    return 0;
  ps->res_sorted = malloc(p->n_resources * sizeof(*ps->res_sorted));
  if (ps->res_sorted == NULL)
    return pparse_nomem(ps);
  for (i = 0; i < p->n_resources; i++)
    ps->res_sorted[i] = p->resources[i].name;
  qsort(ps->res_sorted, p->n_resources, sizeof(*ps->res_sorted), name_cmp);
  return 0;
}

int pparse_resource_known(const struct pparse *ps, const char *name) {
  return ps->p->n_resources > 0 &&
         bsearch(&name, ps->res_sorted, ps->p->n_resources,
                 sizeof(*ps->res_sorted), name_cmp) != NULL;
}

static int parse_resources(struct pparse *ps, const struct ytree_node *key,
                           const struct ytree_node *val) {
  struct policy *p = ps->p;
  struct pparse_ref *refs;
  size_t i, n;
  int r = 0;

  if (val == NULL)
    return 0;
  if (pparse_kind(ps, key, val, YTREE_MAP) != 0)
    return SP_EPOLICY;
  n = val->n / 2;
  p->resources = pparse_alloc(ps, n * sizeof(*p->resources));
  refs = calloc(n > 0 ? n : 1, sizeof(*refs));
  if (p->resources == NULL || refs == NULL) {
    free(refs);
    return pparse_nomem(ps);
  }

  for (i = 0; i < n && r == 0; i++) {
    r = read_resource(ps, val->kids[2 * i], val->kids[2 * i + 1],
                      &p->resources[i], &refs[i].node);
    refs[i].key = p->resources[i].address;
    refs[i].index = i;
  }
  p->n_resources = r == 0 ? n : 0;
  if (r == 0)
    r = check_addresses(ps, refs, n);
  free(refs);
  return r != 0 ? r : index_resources(ps);
}

static int parse_groups(struct pparse *ps, const struct ytree_node *key,
                        const struct ytree_node *val) {
  struct policy *p = ps->p;
  const struct ytree_node *k, *v;
  size_t i, n;
  int r;

  if (val == NULL)
    return 0;
  if (pparse_kind(ps, key, val, YTREE_MAP) != 0)
    return SP_EPOLICY;
  n = val->n / 2;
  p->groups = pparse_alloc(ps, n * sizeof(*p->groups));
  if (p->groups == NULL)
    return pparse_nomem(ps);

  for (i = 0; i < n; i++) {
    k = val->kids[2 * i];
    v = val->kids[2 * i + 1];
    if (!policy_name_valid(k->str))
      return pparse_fail(
          ps, k, "invalid group name \"%.100s\" " PPARSE_NAME_HINT, k->str);
    pparse_what(ps, "group", k->str);
    if (v->kind != YTREE_SEQ)
      return pparse_fail(ps, v, "must be a list of user names, not a %s",
                         ytree_kind_name(v->kind));
    if (v->n == 0)
      return pparse_fail(ps, v, "an empty list matches nobody");
    if ((r = pparse_names(ps, k, v, "user name", &p->groups[i].members)) != 0)
      return r;
    p->groups[i].name = pparse_strdup(ps, k->str);
    if (p->groups[i].name == NULL)
      return pparse_nomem(ps);
    p->groups[i].line = k->line;
    p->groups[i].col = k->col;
    p->n_groups = i + 1;
  }
  pparse_what(ps, NULL, NULL);
  return 0;
}

static int parse_default(struct pparse *ps, const struct ytree_node *key,
                         const struct ytree_node *val) {
  if (val == NULL)
    return 0;
  if (val->kind != YTREE_SCALAR || strcmp(val->str, "deny") != 0)
    return pparse_fail(ps, val,
                       "deny is the only default: a request that no rule "
                       "allows is always denied");
  return 0;
}

static const char *const sections[] = {"resources", "groups", "rules",
                                       "default"};

/* Reads the root map: known sections only, each in a fixed order. */
static int parse_root(struct pparse *ps, const struct ytree_node *root) {
  const struct ytree_node *keys[4] = {NULL}, *vals[4] = {NULL};
  size_t i, j;
  int r;

  if (root->kind != YTREE_MAP)
    return pparse_fail(ps, root,
                       "a policy must be a map of resources, groups, rules "
                       "and default, not a %s",
                       ytree_kind_name(root->kind));
  for (i = 0; i + 1 < root->n; i += 2) {
    for (j = 0; j < 4 && strcmp(root->kids[i]->str, sections[j]) != 0; j++)
      ;
    if (j == 4)
      return pparse_fail(ps, root->kids[i],
                         "unknown top-level key \"%.64s\" (expected "
                         "resources, groups, rules or default)",
                         root->kids[i]->str);
    keys[j] = root->kids[i];
    vals[j] = root->kids[i + 1];
  }

  if ((r = parse_resources(ps, keys[0], vals[0])) != 0 ||
      (r = parse_groups(ps, keys[1], vals[1])) != 0)
    return r;
  if (vals[2] != NULL && (r = pparse_rules(ps, keys[2], vals[2])) != 0)
    return r;
  return parse_default(ps, keys[3], vals[3]);
}

/* Turns a ytree failure into the one-line message. */
static int tree_error(struct pparse *ps, int r, const struct ytree_err *err) {
  if (r == SP_ENOMEM)
    return pparse_nomem(ps);
  if (ps->msg != NULL && ps->msg_size > 0)
    snprintf(ps->msg, ps->msg_size, "%s:%u:%u: %s", ps->file,
             err->line ? err->line : 1, err->line ? err->col : 1, err->msg);
  return SP_EPOLICY;
}

static int start(struct pparse *ps, const char *buf, size_t len) {
  struct policy *p;

  ps->mem = arena_new();
  if (ps->mem == NULL)
    return pparse_nomem(ps);
  p = pparse_alloc(ps, sizeof(*p));
  if (p == NULL || (p->text = pparse_alloc(ps, len + 1)) == NULL)
    return pparse_nomem(ps);
  if (len > 0)
    memcpy(p->text, buf, len);
  p->text_len = len;
  p->mem = ps->mem;
  ps->p = p;
  return 0;
}

int policy_parse(const char *file, const char *buf, size_t len,
                 struct policy **out, char *msg, size_t msg_size) {
  struct pparse ps;
  struct ytree_node *root = NULL;
  struct ytree_err err;
  int r;

  memset(&ps, 0, sizeof(ps));
  ps.file = file;
  ps.msg = msg;
  ps.msg_size = msg_size;
  sp_wbuf_init(&ps.scratch);

  r = ytree_parse(buf, len, &root, &err);
  if (r != 0)
    return tree_error(&ps, r, &err);
  r = start(&ps, buf, len);
  if (r == 0 && root != NULL)
    r = parse_root(&ps, root);

  ytree_free(root);
  sp_wbuf_free(&ps.scratch);
  free(ps.res_sorted);
  free(ps.zones);
  if (r != 0) {
    arena_free(ps.mem);
    return r;
  }
  *out = ps.p;
  return 0;
}

void policy_free(struct policy *p) {
  if (p != NULL)
    arena_free(p->mem);
}
