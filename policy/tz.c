/*
 * Time zones as tables of UTC-offset transitions.
 *
 * The relay must decide "is it 08:00-19:00 in Paris" without touching the
 * C library's global TZ state from its worker threads, so the parser asks
 * the C library once, while it is still single-threaded, and keeps the
 * answer as a table: every UTC second at which the zone's offset changes,
 * with the new offset.  The table is found by sampling the offset once a
 * day from 1970 to 2100 and narrowing every change down to its exact
 * second.  Deciding then needs only a binary search over plain bytes,
 * which may live in the store's pages.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

#define TZ_SCAN_START 0LL        /* 1970-01-01T00:00:00Z */
#define TZ_SCAN_END 4102444800LL /* 2100-01-01T00:00:00Z */
#define TZ_STEP 86400LL
#define TZ_NAME_MAX 128
#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"

static int64_t get_i64(const uint8_t *p) {
  uint64_t v = 0;
  int i;

  for (i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return (int64_t)v;
}

static int32_t get_i32(const uint8_t *p) {
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;

  return (int32_t)v;
}

int32_t policy_tz_offset(const struct policy_tz *tz, int64_t t) {
  uint32_t lo = 0, hi = tz->n, mid;

  if (tz->n == 0)
    return 0;

  /* Find the last entry that starts at or before t; entry 0 always does. */
  while (hi - lo > 1) {
    mid = lo + (hi - lo) / 2;
    if (get_i64(tz->trans + (size_t)mid * POLICY_TZ_ENTRY) <= t)
      lo = mid;
    else
      hi = mid;
  }
  return get_i32(tz->trans + (size_t)lo * POLICY_TZ_ENTRY + 8);
}

/*
 * A zone name must look like an IANA name and must not reach outside the
 * zoneinfo directory: no leading '/', no empty or dot-dot component.
 */
static int tz_name_valid(const char *name) {
  const char *s;
  size_t n = strlen(name);

  if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
    return 0;
  for (s = name; *s != '\0'; s++) {
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || *s == '_' || *s == '+' || *s == '-' ||
          *s == '/'))
      return 0;
    if (*s == '/' && s[1] == '/')
      return 0;
  }
  return strstr(name, "..") == NULL;
}

/* Whether the zoneinfo file for `name` exists and is a TZif file. */
static int tz_file_ok(const char *name) {
  const char *dir = getenv("TZDIR");
  char path[512], magic[4];
  FILE *f;
  int ok;

  if (dir == NULL || dir[0] == '\0')
    dir = TZ_DEFAULT_DIR;
  if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
    return 0;
  f = fopen(path, "rb");
  if (f == NULL)
    return 0;
  ok = fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
       memcmp(magic, "TZif", 4) == 0;
  fclose(f);
  return ok;
}

static int32_t offset_at(int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;

  if (localtime_r(&tt, &tm) == NULL)
    return 0;
  return (int32_t)tm.tm_gmtoff;
}

static void put_entry(struct sp_wbuf *w, int64_t start, int32_t off) {
  sp_wbuf_u64(w, (uint64_t)start);
  sp_wbuf_u32(w, (uint32_t)off);
}

/*
 * Appends every transition in (lo, hi] given the offset at lo, and
 * returns the offset at hi.  Each round finds the first second whose
 * offset differs, so two changes within one day are both found.
 */
static int32_t scan_span(struct sp_wbuf *w, int64_t lo, int64_t hi, int32_t off,
                         uint32_t *n) {
  int32_t end = offset_at(hi);
  int64_t a, b, mid;

  while (end != off) {
    a = lo;
    b = hi;
    while (b - a > 1) {
      mid = a + (b - a) / 2;
      if (offset_at(mid) == off)
        a = mid;
      else
        b = mid;
    }
    off = offset_at(b);
    put_entry(w, b, off);
    (*n)++;
    lo = b;
  }
  return end;
}

/* Builds the table with TZ already pointing at the zone. */
static uint32_t scan_zone(struct sp_wbuf *w) {
  int64_t t;
  int32_t off = offset_at(TZ_SCAN_START);
  uint32_t n = 1;

  put_entry(w, INT64_MIN, off);
  for (t = TZ_SCAN_START; t < TZ_SCAN_END; t += TZ_STEP)
    off = scan_span(w, t, t + TZ_STEP, off, &n);
  return n;
}

/* Points TZ at `name` (or back at `old`, which may be NULL). */
static int set_tz(const char *name, int colon) {
  char buf[TZ_NAME_MAX + 2];
  int r;

  if (name == NULL) {
    r = unsetenv("TZ");
  } else {
    snprintf(buf, sizeof(buf), "%s%s", colon ? ":" : "", name);
    r = setenv("TZ", colon ? buf : name, 1);
  }
  tzset();
  return r == 0 ? 0 : SP_ENOMEM;
}

int policy_tz_load(struct policy_tz *tz, struct sp_wbuf *w, const char *name) {
  char *old = NULL;
  size_t start = w->len;
  uint32_t n;
  int r;

  tz->name = name;
  tz->trans = NULL;
  tz->n = 0;
  if (strcmp(name, "UTC") == 0)
    return 0;
  if (!tz_name_valid(name) || !tz_file_ok(name))
    return SP_ENOTFOUND;

  if (getenv("TZ") != NULL && (old = strdup(getenv("TZ"))) == NULL)
    return SP_ENOMEM;
  r = set_tz(name, 1);
  n = r == 0 ? scan_zone(w) : 0;
  if (set_tz(old, 0) != 0 && r == 0)
    r = SP_ENOMEM;
  free(old);
  if (r == 0 && w->err != 0)
    r = w->err;
  if (r != 0)
    return r;

  /* A zone that is UTC all along needs no table. */
  if (n == 1 && get_i32(w->p + start + 8) == 0) {
    w->len = start;
    n = 0;
  }
  tz->trans = n > 0 ? w->p + start : NULL;
  tz->n = n;
  return 0;
}
