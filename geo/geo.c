/*
 * The libmaxminddb wrapper.  See geo.h for the layouts and the threading
 * rules; what follows is how they are kept.
 *
 * Finding the layout: libmaxminddb has no call that lists a database's
 * keys, so geo_open() walks the search tree from the root, depth first,
 * and asks the first data records it meets for the keys of each layout.
 * The walk is bounded in depth (the address width), in nodes visited and
 * in records asked, so a corrupt or hostile file ends it quickly.  A
 * real database answers at its first record; ours has its first data
 * within a few dozen nodes of the root.
 *
 * Swapping: each open file is a heap-allocated struct geo_file that never
 * moves, because libmaxminddb's entries point back at their MMDB_s.  A
 * reopen builds new geo_files without the lock, then takes the write
 * lock only to exchange pointers; readers hold the read lock for the
 * whole of a lookup and copy everything out before they release it, so
 * the old files can be closed as soon as the write lock is released.
 * The lock prefers writers, or a busy relay could keep a reopen waiting
 * for ever.
 */
#include "geo/geo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"

/* How far geo_open() looks for data records before giving up. */
#define PROBE_NODES_MAX (1u << 20)
#define PROBE_RECORDS_MAX 64
#define PROBE_DEPTH_MAX 128

enum geo_kind { GEO_KIND_COUNTRY, GEO_KIND_ASN };

enum geo_layout { GEO_LAYOUT_MAXMIND, GEO_LAYOUT_IPLOCDB, GEO_LAYOUT_ASN };

struct geo_file {
  MMDB_s mmdb;
  enum geo_layout layout;
  /* The file's identity when it was opened, taken before MMDB_open() so
     that a replacement racing with the open is seen at the next check. */
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
};

struct geo {
  pthread_rwlock_t *lock;   /* owns; a pointer so const lookups can lock */
  struct geo_file *country; /* owns; never NULL */
  struct geo_file *asn;     /* owns; NULL: no ASN database */
  char *country_path;       /* owns */
  char *asn_path;           /* owns; NULL: no ASN database */
};

static const char *const path_country[] = {"country", "iso_code", NULL};
static const char *const path_registered[] = {"registered_country", "iso_code",
                                              NULL};
static const char *const path_continent[] = {"continent", "code", NULL};
static const char *const path_country_code[] = {"country_code", NULL};
static const char *const path_asn[] = {"autonomous_system_number", NULL};
static const char *const path_org[] = {"autonomous_system_organization", NULL};

static int fail(char *err, size_t errn, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errn, int rc, const char *fmt, ...) {
  va_list ap;

  if (err != NULL && errn > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errn, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Whether `path` leads to data in `e`; a corrupt record reads as absent. */
static int get(MMDB_entry_s *e, const char *const *path, MMDB_entry_data_s *d) {
  MMDB_entry_s copy = *e;

  return MMDB_aget_value(&copy, d, path) == MMDB_SUCCESS && d->has_data;
}

/* Two ASCII letters at `path`, upper-cased into `out`; 0 if not there. */
static int get_code(MMDB_entry_s *e, const char *const *path, char out[3]) {
  MMDB_entry_data_s d;
  int i;
  char c;

  if (!get(e, path, &d) || d.type != MMDB_DATA_TYPE_UTF8_STRING ||
      d.data_size != 2)
    return 0;
  for (i = 0; i < 2; i++) {
    c = d.utf8_string[i];
    if (c >= 'a' && c <= 'z')
      c = (char)(c - 'a' + 'A');
    if (c < 'A' || c > 'Z')
      return 0;
    out[i] = c;
  }
  out[2] = '\0';
  return 1;
}

static int get_asn(MMDB_entry_s *e, uint32_t *asn) {
  MMDB_entry_data_s d;

  if (!get(e, path_asn, &d))
    return 0;
  if (d.type == MMDB_DATA_TYPE_UINT32)
    *asn = d.uint32;
  else if (d.type == MMDB_DATA_TYPE_UINT16)
    *asn = d.uint16;
  else if (d.type == MMDB_DATA_TYPE_UINT64 && d.uint64 <= UINT32_MAX)
    *asn = (uint32_t)d.uint64;
  else if (d.type == MMDB_DATA_TYPE_INT32 && d.int32 > 0)
    *asn = (uint32_t)d.int32;
  else
    return 0;
  return 1;
}

/* Copies the organisation, cut at a UTF-8 character boundary. */
static void get_org(MMDB_entry_s *e, char out[GEO_ORG_MAX]) {
  MMDB_entry_data_s d;
  size_t n;

  out[0] = '\0';
  if (!get(e, path_org, &d) || d.type != MMDB_DATA_TYPE_UTF8_STRING)
    return;
  n = d.data_size;
  if (n > GEO_ORG_MAX - 1) {
    n = GEO_ORG_MAX - 1;
    while (n > 0 && ((unsigned char)d.utf8_string[n] & 0xc0) == 0x80)
      n--;
  }
  memcpy(out, d.utf8_string, n);
  out[n] = '\0';
}

/* The layout a data record shows, or -1 when it shows none. */
static int classify(MMDB_entry_s *e, enum geo_kind kind) {
  MMDB_entry_data_s d;
  char cc[3];
  uint32_t asn;

  if (kind == GEO_KIND_ASN)
    return get_asn(e, &asn) ? GEO_LAYOUT_ASN : -1;
  if (get_code(e, path_country_code, cc))
    return GEO_LAYOUT_IPLOCDB;
  if (get_code(e, path_country, cc) || get_code(e, path_registered, cc) ||
      (get(e, path_continent, &d) && d.type == MMDB_DATA_TYPE_UTF8_STRING))
    return GEO_LAYOUT_MAXMIND;
  return -1;
}

/* The layout of one record of a node, counting data records seen. */
static int probe_record(uint8_t type, MMDB_entry_s *e, enum geo_kind kind,
                        size_t *records) {
  if (type != MMDB_RECORD_TYPE_DATA)
    return -1;
  (*records)++;
  return classify(e, kind);
}

struct probe_node {
  uint32_t node;
  unsigned depth;
};

/*
 * Walks the tree depth first, left before right, until a data record
 * shows a layout.  Returns the layout, SP_ENOTFOUND when none showed
 * within the bounds, or SP_EGEO when the tree is corrupt.
 */
static int probe_layout(MMDB_s *db, enum geo_kind kind) {
  struct probe_node stack[PROBE_DEPTH_MAX + 2], cur;
  MMDB_search_node_s n;
  unsigned max_depth = db->metadata.ip_version == 4 ? 32 : PROBE_DEPTH_MAX;
  size_t top = 0, visits = 0, records = 0;
  int layout;

  stack[top++] = (struct probe_node){0, 0};
  while (top > 0 && visits++ < PROBE_NODES_MAX && records < PROBE_RECORDS_MAX) {
    cur = stack[--top];
    if (MMDB_read_node(db, cur.node, &n) != MMDB_SUCCESS ||
        n.left_record_type == MMDB_RECORD_TYPE_INVALID ||
        n.right_record_type == MMDB_RECORD_TYPE_INVALID)
      return SP_EGEO;

    layout =
        probe_record(n.left_record_type, &n.left_record_entry, kind, &records);
    if (layout < 0)
      layout = probe_record(n.right_record_type, &n.right_record_entry, kind,
                            &records);
    if (layout >= 0)
      return layout;

    if (cur.depth + 1 >= max_depth || top + 2 > PROBE_DEPTH_MAX + 2)
      continue;
    if (n.right_record_type == MMDB_RECORD_TYPE_SEARCH_NODE)
      stack[top++] =
          (struct probe_node){(uint32_t)n.right_record, cur.depth + 1};
    if (n.left_record_type == MMDB_RECORD_TYPE_SEARCH_NODE)
      stack[top++] =
          (struct probe_node){(uint32_t)n.left_record, cur.depth + 1};
  }
  return SP_ENOTFOUND;
}

/* Translates MMDB_open()'s status; errno is still the open's. */
static int open_failed(const char *path, int status, char *err, size_t errn) {
  int e = errno;

  if (status == MMDB_OUT_OF_MEMORY_ERROR)
    return fail(err, errn, SP_ENOMEM, "%s: out of memory", path);
  if (status == MMDB_FILE_OPEN_ERROR && e > 0)
    return fail(err, errn, -e, "%s: %s", path, strerror(e));
  return fail(err, errn, SP_EGEO, "%s: not a usable MaxMind DB file (%s)", path,
              MMDB_strerror(status));
}

static int layout_missing(const char *path, enum geo_kind kind, int rc,
                          char *err, size_t errn) {
  if (rc == SP_EGEO)
    return fail(err, errn, rc, "%s: the search tree is corrupt", path);
  if (kind == GEO_KIND_ASN)
    return fail(err, errn, SP_EGEO,
                "%s: not an ASN database (no autonomous_system_number)", path);
  return fail(err, errn, SP_EGEO,
              "%s: neither the MaxMind layout (country.iso_code) nor the "
              "ip-location-db layout (country_code)",
              path);
}

static int file_open(const char *path, enum geo_kind kind,
                     struct geo_file **out, char *err, size_t errn) {
  struct geo_file *f;
  struct stat st;
  int status, rc;

  *out = NULL;
  if (stat(path, &st) != 0)
    return fail(err, errn, -errno, "%s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(err, errn, SP_EGEO, "%s: not a regular file", path);
  if (st.st_size == 0)
    return fail(err, errn, SP_EGEO,
                "%s: not a usable MaxMind DB file (it is empty)", path);
  f = calloc(1, sizeof(*f));
  if (f == NULL)
    return fail(err, errn, SP_ENOMEM, "%s: out of memory", path);

  errno = 0;
  status = MMDB_open(path, MMDB_MODE_MMAP, &f->mmdb);
  if (status != MMDB_SUCCESS) {
    free(f);
    return open_failed(path, status, err, errn);
  }

  rc = probe_layout(&f->mmdb, kind);
  if (rc < 0) {
    MMDB_close(&f->mmdb);
    free(f);
    return layout_missing(path, kind, rc, err, errn);
  }
  f->layout = (enum geo_layout)rc;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->size = st.st_size;
  f->mtime = st.st_mtim;
  *out = f;
  return 0;
}

static void file_close(struct geo_file *f) {
  if (f == NULL)
    return;
  MMDB_close(&f->mmdb);
  free(f);
}

static int lock_new(pthread_rwlock_t **out) {
  pthread_rwlockattr_t attr;
  int rc;

  *out = malloc(sizeof(**out));
  if (*out == NULL || pthread_rwlockattr_init(&attr) != 0) {
    free(*out);
    return SP_ENOMEM;
  }
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  rc = pthread_rwlock_init(*out, &attr);
  pthread_rwlockattr_destroy(&attr);
  if (rc != 0) {
    free(*out);
    return SP_ENOMEM;
  }
  return 0;
}

int geo_open(struct geo **out, const char *country_path, const char *asn_path,
             char *err, size_t errn) {
  struct geo *g;
  int rc;

  *out = NULL;
  if (country_path == NULL || country_path[0] == '\0')
    return fail(err, errn, SP_EUSAGE, "no country database given");
  g = calloc(1, sizeof(*g));
  if (g == NULL || lock_new(&g->lock) != 0) {
    free(g);
    return fail(err, errn, SP_ENOMEM, "out of memory");
  }

  g->country_path = strdup(country_path);
  if (asn_path != NULL && asn_path[0] != '\0')
    g->asn_path = strdup(asn_path);
  if (g->country_path == NULL ||
      (asn_path != NULL && asn_path[0] != '\0' && g->asn_path == NULL)) {
    geo_close(g);
    return fail(err, errn, SP_ENOMEM, "out of memory");
  }

  rc = file_open(g->country_path, GEO_KIND_COUNTRY, &g->country, err, errn);
  if (rc == 0 && g->asn_path != NULL)
    rc = file_open(g->asn_path, GEO_KIND_ASN, &g->asn, err, errn);
  if (rc != 0) {
    geo_close(g);
    return rc;
  }
  *out = g;
  return 0;
}

void geo_close(struct geo *g) {
  if (g == NULL)
    return;
  file_close(g->country);
  file_close(g->asn);
  if (g->lock != NULL) {
    pthread_rwlock_destroy(g->lock);
    free(g->lock);
  }
  free(g->country_path);
  free(g->asn_path);
  free(g);
}

static void set_unknown(struct geo_result *r) {
  memcpy(r->country, "XX", 3);
  memcpy(r->continent, "--", 3);
  r->asn = 0;
  r->org[0] = '\0';
}

/*
 * The entry for `sa` in `f`, or found = 0.  An IPv6 address in an IPv4
 * database is simply not there.
 */
static int find(const struct geo_file *f, const struct sockaddr *sa,
                MMDB_entry_s *e, int *found) {
  MMDB_lookup_result_s res;
  int mmerr;

  *found = 0;
  res = MMDB_lookup_sockaddr(&f->mmdb, sa, &mmerr);
  if (mmerr == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
    return 0;
  if (mmerr != MMDB_SUCCESS)
    return SP_EGEO;
  *found = res.found_entry;
  *e = res.entry;
  return 0;
}

/* One of the seven codes; anything else is derived from the country. */
static int continent_valid(const char code[3]) {
  static const char *const all[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};
  size_t i;

  for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (strcmp(code, all[i]) == 0)
      return 1;
  return 0;
}

static int lookup_country(const struct geo_file *f, const struct sockaddr *sa,
                          struct geo_result *r) {
  MMDB_entry_s e;
  char code[3];
  int found, rc;

  rc = find(f, sa, &e, &found);
  if (rc != 0 || !found)
    return rc;
  if (f->layout == GEO_LAYOUT_IPLOCDB) {
    get_code(&e, path_country_code, r->country);
    return 0;
  }
  if (!get_code(&e, path_country, r->country))
    get_code(&e, path_registered, r->country);
  if (get_code(&e, path_continent, code) && continent_valid(code))
    memcpy(r->continent, code, 3);
  return 0;
}

static int lookup_asn(const struct geo_file *f, const struct sockaddr *sa,
                      struct geo_result *r) {
  MMDB_entry_s e;
  int found, rc;

  rc = find(f, sa, &e, &found);
  if (rc != 0 || !found)
    return rc;
  if (get_asn(&e, &r->asn))
    get_org(&e, r->org);
  return 0;
}

/* IPv4-mapped IPv6 becomes IPv4 in `v4`; NULL for other families. */
static const struct sockaddr *unmap(const struct sockaddr *sa,
                                    struct sockaddr_in *v4) {
  const struct sockaddr_in6 *s6;

  if (sa == NULL)
    return NULL;
  if (sa->sa_family == AF_INET)
    return sa;
  if (sa->sa_family != AF_INET6)
    return NULL;
  s6 = (const struct sockaddr_in6 *)(const void *)sa;
  if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
    return sa;
  memset(v4, 0, sizeof(*v4));
  v4->sin_family = AF_INET;
  v4->sin_port = s6->sin6_port;
  memcpy(&v4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
  return (const struct sockaddr *)(const void *)v4;
}

int geo_lookup(const struct geo *g, const struct sockaddr *sa,
               struct geo_result *r) {
  struct sockaddr_in v4;
  int rc;

  set_unknown(r);
  sa = unmap(sa, &v4);
  if (sa == NULL)
    return SP_EUSAGE;

  rc = -pthread_rwlock_rdlock(g->lock);
  if (rc != 0)
    return rc;
  rc = lookup_country(g->country, sa, r);
  if (rc == 0 && g->asn != NULL)
    rc = lookup_asn(g->asn, sa, r);
  pthread_rwlock_unlock(g->lock);

  if (rc != 0) {
    set_unknown(r);
    return rc;
  }
  if (strcmp(r->continent, "--") == 0)
    memcpy(r->continent, geo_continent_of(r->country), 3);
  return 0;
}

int geo_lookup_ip(const struct geo *g, const char *ip, struct geo_result *r) {
  struct sockaddr_in v4 = {0};
  struct sockaddr_in6 v6 = {0};

  set_unknown(r);
  if (ip == NULL)
    return SP_EPARSE;
  if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return geo_lookup(g, (const struct sockaddr *)(const void *)&v4, r);
  }
  if (inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    return geo_lookup(g, (const struct sockaddr *)(const void *)&v6, r);
  }
  return SP_EPARSE;
}

/* Whether the file at `path` is no longer the one `f` has open. */
static int changed(const struct geo_file *f, const char *path, int *yes,
                   char *err, size_t errn) {
  struct stat st;

  if (stat(path, &st) != 0)
    return fail(err, errn, -errno, "%s: %s", path, strerror(errno));
  *yes = st.st_dev != f->dev || st.st_ino != f->ino || st.st_size != f->size ||
         st.st_mtim.tv_sec != f->mtime.tv_sec ||
         st.st_mtim.tv_nsec != f->mtime.tv_nsec;
  return 0;
}

/* Opens a new geo_file for `path` into `*out` if the file changed. */
static int reopen_one(const struct geo_file *f, const char *path,
                      enum geo_kind kind, struct geo_file **out, char *err,
                      size_t errn) {
  int yes = 0, rc;

  *out = NULL;
  if (f == NULL)
    return 0;
  rc = changed(f, path, &yes, err, errn);
  if (rc != 0 || !yes)
    return rc;
  return file_open(path, kind, out, err, errn);
}

static void swap(struct geo_file **a, struct geo_file **b) {
  struct geo_file *t = *a;

  *a = *b;
  *b = t;
}

int geo_reopen_if_changed(struct geo *g, int *reopened, char *err,
                          size_t errn) {
  struct geo_file *country, *asn = NULL;
  int rc;

  if (reopened != NULL)
    *reopened = 0;
  rc = reopen_one(g->country, g->country_path, GEO_KIND_COUNTRY, &country, err,
                  errn);
  if (rc == 0)
    rc = reopen_one(g->asn, g->asn_path, GEO_KIND_ASN, &asn, err, errn);
  if (rc != 0 || (country == NULL && asn == NULL)) {
    file_close(country);
    return rc;
  }

  /* After the swap `country` and `asn` hold the old files, or NULL. */
  pthread_rwlock_wrlock(g->lock);
  if (country != NULL)
    swap(&g->country, &country);
  if (asn != NULL)
    swap(&g->asn, &asn);
  pthread_rwlock_unlock(g->lock);

  file_close(country);
  file_close(asn);
  if (reopened != NULL)
    *reopened = 1;
  return 0;
}

const char *geo_layout_name(const struct geo *g) {
  return g->country->layout == GEO_LAYOUT_IPLOCDB ? "ip-location-db"
                                                  : "maxmind";
}
