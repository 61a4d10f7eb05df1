/*
 * The rules section of a policy file: one reader per rule key.
 *
 * Each reader checks one key's value and fills the matching fields of
 * struct policy_rule; a key without a reader is an error, so a typo never
 * silently widens a rule.  Values are typed here, from their text, which
 * is why "08:00" and "NO" mean what an admin expects.
 */
#include "policy/parse_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define RISK_MAX 100

/* Reads a decimal number up to `max`; returns 0 for anything else. */
static int read_uint(const char *s, uint64_t max, uint64_t *out) {
  uint64_t v = 0;

  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9')
      return 0;
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > max)
      return 0;
  }
  *out = v;
  return 1;
}

static int scalar(struct pparse *ps, const struct ytree_node *k,
                  const struct ytree_node *v) {
  return pparse_kind(ps, k, v, YTREE_SCALAR);
}

/* A scalar that must be `first` (0 in *out) or `second` (1). */
static int read_pair(struct pparse *ps, const struct ytree_node *k,
                     const struct ytree_node *v, const char *first,
                     const char *second, int *out) {
  if (scalar(ps, k, v) != 0)
    return SP_EPOLICY;
  if (strcmp(v->str, first) == 0)
    *out = 0;
  else if (strcmp(v->str, second) == 0)
    *out = 1;
  else
    return pparse_fail(ps, v, "%s must be %s or %s, not \"%.64s\"", k->str,
                       first, second, v->str);
  return 0;
}

static int read_action(struct pparse *ps, const struct ytree_node *k,
                       const struct ytree_node *v, struct policy_rule *rule) {
  int deny = 0, rc = read_pair(ps, k, v, "allow", "deny", &deny);

  rule->action = deny ? POLICY_DENY : POLICY_ALLOW;
  return rc;
}

static int read_mode(struct pparse *ps, const struct ytree_node *k,
                     const struct ytree_node *v, struct policy_rule *rule) {
  int report = 0, rc = read_pair(ps, k, v, "enforce", "report", &report);

  rule->mode = report ? POLICY_REPORT : POLICY_ENFORCE;
  return rc;
}

static int read_mfa(struct pparse *ps, const struct ytree_node *k,
                    const struct ytree_node *v, struct policy_rule *rule) {
  int off = 0, rc = read_pair(ps, k, v, "true", "false", &off);

  rule->mfa = !off;
  return rc;
}

static int read_resources(struct pparse *ps, const struct ytree_node *k,
                          const struct ytree_node *v,
                          struct policy_rule *rule) {
  const struct ytree_node *item;
  size_t i;

  if (pparse_list(ps, k, v) != 0)
    return SP_EPOLICY;
  pparse_list_begin(ps);
  for (i = 0; i < v->n; i++) {
    item = v->kids[i];
    if (pparse_item(ps, k, item) != 0)
      return SP_EPOLICY;
    if (!pparse_resource_known(ps, item->str))
      return pparse_fail(ps, item, "unknown resource \"%.100s\"", item->str);
    pparse_list_add(ps, item->str);
  }
  return pparse_list_end(ps, &rule->resources, v->n);
}

static int read_users(struct pparse *ps, const struct ytree_node *k,
                      const struct ytree_node *v, struct policy_rule *rule) {
  return pparse_names(ps, k, v, "user name", &rule->users);
}

static int read_groups(struct pparse *ps, const struct ytree_node *k,
                       const struct ytree_node *v, struct policy_rule *rule) {
  return pparse_names(ps, k, v, "group name", &rule->groups);
}

static int read_tags(struct pparse *ps, const struct ytree_node *k,
                     const struct ytree_node *v, struct policy_rule *rule) {
  return pparse_names(ps, k, v, "device tag", &rule->device_tags);
}

/* `countries` and `not_countries` are one condition; only one may be set. */
static int read_countries(struct pparse *ps, const struct ytree_node *k,
                          const struct ytree_node *v,
                          struct policy_rule *rule) {
  const struct ytree_node *item;
  char cc[3];
  size_t i;

  if (ps->countries_key != NULL)
    return pparse_fail(ps, k,
                       "countries and not_countries cannot be used together");
  ps->countries_key = k;
  rule->not_countries = k->str[0] == 'n';
  if (pparse_list(ps, k, v) != 0)
    return SP_EPOLICY;

  pparse_list_begin(ps);
  for (i = 0; i < v->n; i++) {
    item = v->kids[i];
    if (pparse_item(ps, k, item) != 0)
      return SP_EPOLICY;
    if (item->len != 2 ||
        !((item->str[0] | 0x20) >= 'a' && (item->str[0] | 0x20) <= 'z') ||
        !((item->str[1] | 0x20) >= 'a' && (item->str[1] | 0x20) <= 'z'))
      return pparse_fail(ps, item,
                         "invalid country code \"%.64s\" (two letters, ISO "
                         "3166 alpha-2, or XX for unknown)",
                         item->str);
    cc[0] = (char)(item->str[0] & ~0x20);
    cc[1] = (char)(item->str[1] & ~0x20);
    cc[2] = '\0';
    pparse_list_add(ps, cc);
  }
  return pparse_list_end(ps, &rule->countries, v->n);
}

/* `asns` and `not_asns` are one condition; only one may be set. */
static int read_asns(struct pparse *ps, const struct ytree_node *k,
                     const struct ytree_node *v, struct policy_rule *rule) {
  const struct ytree_node *item;
  uint8_t *out;
  uint64_t asn;
  size_t i;

  if (ps->asns_key != NULL)
    return pparse_fail(ps, k, "asns and not_asns cannot be used together");
  ps->asns_key = k;
  rule->not_asns = k->str[0] == 'n';
  if (pparse_list(ps, k, v) != 0)
    return SP_EPOLICY;
  out = pparse_alloc(ps, v->n * 4);
  if (out == NULL)
    return pparse_nomem(ps);

  for (i = 0; i < v->n; i++) {
    item = v->kids[i];
    if (pparse_item(ps, k, item) != 0)
      return SP_EPOLICY;
    if (!read_uint(item->str, UINT32_MAX, &asn) || asn == 0)
      return pparse_fail(ps, item,
                         "invalid AS number \"%.64s\" (a number from 1 to "
                         "4294967295)",
                         item->str);
    out[i * 4] = (uint8_t)asn;
    out[i * 4 + 1] = (uint8_t)(asn >> 8);
    out[i * 4 + 2] = (uint8_t)(asn >> 16);
    out[i * 4 + 3] = (uint8_t)(asn >> 24);
  }
  rule->asns = out;
  rule->n_asns = (uint32_t)v->n;
  return 0;
}

static const char *const day_names[7] = {"mon", "tue", "wed", "thu",
                                         "fri", "sat", "sun"};

/* The index of a three-letter day name, any case; -1 if it is none. */
static int day_index(const char *s, size_t n) {
  int d;

  if (n != 3)
    return -1;
  for (d = 0; d < 7; d++)
    if ((s[0] | 0x20) == day_names[d][0] && (s[1] | 0x20) == day_names[d][1] &&
        (s[2] | 0x20) == day_names[d][2])
      return d;
  return -1;
}

/* "mon" or a range "mon-fri", which may wrap ("fri-mon"); 0 if invalid. */
static uint8_t day_mask(const char *s) {
  const char *dash = strchr(s, '-');
  int a, b;
  uint8_t mask = 0;

  if (dash == NULL) {
    a = day_index(s, strlen(s));
    return a < 0 ? 0 : (uint8_t)(1u << a);
  }
  a = day_index(s, (size_t)(dash - s));
  b = day_index(dash + 1, strlen(dash + 1));
  if (a < 0 || b < 0)
    return 0;
  for (;; a = (a + 1) % 7) {
    mask |= (uint8_t)(1u << a);
    if (a == b)
      return mask;
  }
}

static int read_days(struct pparse *ps, const struct ytree_node *k,
                     const struct ytree_node *v, struct policy_rule *rule) {
  const struct ytree_node *one[1] = {v};
  const struct ytree_node *const *items = one;
  size_t i, n = 1;
  uint8_t days = 0, mask;

  if (v->kind != YTREE_SCALAR) {
    if (pparse_list(ps, k, v) != 0)
      return SP_EPOLICY;
    items = (const struct ytree_node *const *)v->kids;
    n = v->n;
  }
  for (i = 0; i < n; i++) {
    if (pparse_item(ps, k, items[i]) != 0)
      return SP_EPOLICY;
    if ((mask = day_mask(items[i]->str)) == 0)
      return pparse_fail(ps, items[i],
                         "invalid day \"%.64s\" (mon, tue, wed, thu, fri, "
                         "sat, sun, or a range such as mon-fri)",
                         items[i]->str);
    days |= mask;
  }
  rule->days = days;
  return 0;
}

/* "HH:MM" at s into minutes; 24:00 only when `end`.  -1 if out of range. */
static int hhmm(const char *s, int end) {
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');

  if (m > 59 || h > 24 || (h == 24 && (!end || m != 0)))
    return -1;
  return h * 60 + m;
}

/* Whether `s` has the shape "HH:MM-HH:MM", digits where the 0s are. */
static int hours_shape(const char *s, size_t len) {
  static const char shape[] = "00:00-00:00";
  size_t i;

  if (len != sizeof(shape) - 1)
    return 0;
  for (i = 0; i < len; i++)
    if (shape[i] == '0' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
      return 0;
  return 1;
}

static int read_hours(struct pparse *ps, const struct ytree_node *k,
                      const struct ytree_node *v, struct policy_rule *rule) {
  const char *s = v->str;

  if (scalar(ps, k, v) != 0)
    return SP_EPOLICY;
  if (!hours_shape(s, v->len))
    return pparse_fail(
        ps, v, "hours must look like \"08:00-19:00\", not \"%.64s\"", s);

  rule->hours_start = hhmm(s, 0);
  rule->hours_end = hhmm(s + 6, 1);
  if (rule->hours_start < 0 || rule->hours_end < 0)
    return pparse_fail(ps, v,
                       "hours \"%s\": times run from 00:00 to 23:59, and an "
                       "end may be 24:00",
                       s);
  if (rule->hours_start == rule->hours_end)
    return pparse_fail(ps, v,
                       "hours \"%s\": the start and the end are the same; "
                       "leave hours out to allow the whole day",
                       s);
  return 0;
}

static int read_max_risk(struct pparse *ps, const struct ytree_node *k,
                         const struct ytree_node *v, struct policy_rule *rule) {
  uint64_t risk;

  if (scalar(ps, k, v) != 0)
    return SP_EPOLICY;
  if (!read_uint(v->str, RISK_MAX, &risk))
    return pparse_fail(ps, v,
                       "max_risk must be a whole number from 0 to 100, not "
                       "\"%.64s\"",
                       v->str);
  rule->max_risk = (int)risk;
  return 0;
}

/* Loads a zone once per parse; every rule naming it shares the table. */
static int load_zone(struct pparse *ps, const struct ytree_node *v,
                     struct policy_tz *tz) {
  struct pparse_zone *z;
  size_t bytes;
  uint8_t *copy;
  int r;

  if (ps->n_zones == ps->cap_zones) {
    z = realloc(ps->zones, (ps->cap_zones * 2 + 8) * sizeof(*z));
    if (z == NULL)
      return pparse_nomem(ps);
    ps->zones = z;
    ps->cap_zones = ps->cap_zones * 2 + 8;
  }
  z = &ps->zones[ps->n_zones];
  if ((z->name = pparse_strdup(ps, v->str)) == NULL)
    return pparse_nomem(ps);

  ps->scratch.len = 0;
  r = policy_tz_load(&z->tz, &ps->scratch, z->name);
  if (r == SP_ENOTFOUND)
    return pparse_fail(ps, v,
                       "unknown time zone \"%.64s\" (an IANA name such as "
                       "Europe/Paris)",
                       v->str);
  if (r != 0)
    return pparse_nomem(ps);
  bytes = (size_t)z->tz.n * POLICY_TZ_ENTRY;
  if (bytes > 0) {
    if ((copy = pparse_alloc(ps, bytes)) == NULL)
      return pparse_nomem(ps);
    memcpy(copy, z->tz.trans, bytes);
    z->tz.trans = copy;
  }
  ps->n_zones++;
  *tz = z->tz;
  return 0;
}

static int read_timezone(struct pparse *ps, const struct ytree_node *k,
                         const struct ytree_node *v, struct policy_rule *rule) {
  size_t i;

  if (scalar(ps, k, v) != 0)
    return SP_EPOLICY;
  for (i = 0; i < ps->n_zones; i++) {
    if (strcmp(ps->zones[i].name, v->str) == 0) {
      rule->tz = ps->zones[i].tz;
      return 0;
    }
  }
  return load_zone(ps, v, &rule->tz);
}

static int read_name(struct pparse *ps, const struct ytree_node *k,
                     const struct ytree_node *v, struct policy_rule *rule) {
  return 0; /* read first, by read_rule() */
}

struct rule_key {
  const char *key;
  int (*read)(struct pparse *ps, const struct ytree_node *k,
              const struct ytree_node *v, struct policy_rule *rule);
};

static const struct rule_key rule_keys[] = {
    {"name", read_name},           {"action", read_action},
    {"resources", read_resources}, {"users", read_users},
    {"groups", read_groups},       {"mfa", read_mfa},
    {"countries", read_countries}, {"not_countries", read_countries},
    {"asns", read_asns},           {"not_asns", read_asns},
    {"days", read_days},           {"hours", read_hours},
    {"timezone", read_timezone},   {"device_tags", read_tags},
    {"max_risk", read_max_risk},   {"mode", read_mode},
};

static int read_key(struct pparse *ps, const struct ytree_node *k,
                    const struct ytree_node *v, struct policy_rule *rule) {
  size_t i;

  for (i = 0; i < sizeof(rule_keys) / sizeof(rule_keys[0]); i++)
    if (strcmp(k->str, rule_keys[i].key) == 0)
      return rule_keys[i].read(ps, k, v, rule);
  return pparse_fail(ps, k, "unknown key \"%.64s\"", k->str);
}

/* Checks the name first, so that later messages can name the rule. */
static int read_rule_name(struct pparse *ps, const struct ytree_node *node,
                          size_t index, const struct ytree_node **name) {
  snprintf(ps->what, sizeof(ps->what), "rule %zu: ", index + 1);
  if (node->kind != YTREE_MAP)
    return pparse_fail(ps, node, "a rule must be a map, not a %s",
                       ytree_kind_name(node->kind));
  *name = ytree_get(node, "name");
  if (*name == NULL)
    return pparse_fail(ps, node, "missing name");
  if ((*name)->kind != YTREE_SCALAR || !policy_name_valid((*name)->str))
    return pparse_fail(ps, *name,
                       "invalid rule name \"%.100s\" " PPARSE_NAME_HINT,
                       (*name)->kind == YTREE_SCALAR ? (*name)->str : "");
  pparse_what(ps, "rule", (*name)->str);
  return 0;
}

static int read_rule(struct pparse *ps, const struct ytree_node *node,
                     size_t index, struct policy_rule *rule,
                     const struct ytree_node **name) {
  size_t i;
  int r;

  if ((r = read_rule_name(ps, node, index, name)) != 0)
    return r;
  if ((rule->name = pparse_strdup(ps, (*name)->str)) == NULL)
    return pparse_nomem(ps);
  rule->index = (uint32_t)index;
  rule->line = node->line;
  rule->col = node->col;
  rule->days = POLICY_ALL_DAYS;
  rule->hours_start = rule->hours_end = -1;
  rule->max_risk = -1;
  rule->tz.name = "UTC";
  ps->countries_key = ps->asns_key = NULL;

  for (i = 0; i + 1 < node->n; i += 2)
    if ((r = read_key(ps, node->kids[i], node->kids[i + 1], rule)) != 0)
      return r;

  if (ytree_get(node, "action") == NULL)
    return pparse_fail(ps, node, "missing action (allow or deny)");
  if (rule->action == POLICY_ALLOW && rule->resources.n == 0)
    return pparse_fail(ps, node, "an allow rule must name its resources");
  pparse_what(ps, NULL, NULL);
  return 0;
}

int pparse_rules(struct pparse *ps, const struct ytree_node *key,
                 const struct ytree_node *val) {
  struct policy *p = ps->p;
  struct pparse_ref *refs;
  size_t i, first = 0, bad;
  int r = 0;

  if (pparse_kind(ps, key, val, YTREE_SEQ) != 0)
    return SP_EPOLICY;
  p->rules = pparse_alloc(ps, val->n * sizeof(*p->rules));
  refs = calloc(val->n > 0 ? val->n : 1, sizeof(*refs));
  if (p->rules == NULL || refs == NULL) {
    free(refs);
    return pparse_nomem(ps);
  }

  for (i = 0; i < val->n && r == 0; i++) {
    r = read_rule(ps, val->kids[i], i, &p->rules[i], &refs[i].node);
    refs[i].key = p->rules[i].name;
    refs[i].index = i;
  }
  if (r == 0 && (bad = pparse_first_repeat(refs, val->n, &first)) < val->n)
    r = pparse_fail(ps, refs[bad].node,
                    "duplicate rule name \"%s\" (first on line %u)",
                    refs[bad].key, refs[first].node->line);
  free(refs);
  p->n_rules = r == 0 ? val->n : 0;
  return r;
}
