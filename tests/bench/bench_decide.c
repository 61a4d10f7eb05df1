/*
 * Decision benchmark: a store with 100,000 users, 10,000 resources and
 * 10,000 rules, decided the way the relay decides (renew a read
 * transaction, access_decide(), reset), one core.  Prints decisions per
 * second and the median and p99 latency of one decision.
 *
 *   bench_decide [--quick] [--decisions N] [--geoip FILE]
 *
 * With a GeoIP database (--geoip, or the default
 * /usr/share/sallyport/country.mmdb when it exists) every decision
 * first looks up a random IPv4 client address, as the relay does per
 * connection, and the lookup alone is measured too.
 *
 * --quick uses a tenth of the sizes; ctest runs it that way only to
 * prove the benchmark still works.  No figure is ever asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/pack.h"
#include "geo/geo.h"
#include "policy/access.h"
#include "policy/compile.h"
#include "policy/policy.h"
#include "policy/store.h"
#include "policy/user.h"

struct sizes {
  int users;
  int resources;
  int rules;
  int groups;
  int decisions;
};

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_users(struct store *s, const struct sizes *z) {
  char name[32], group[32];
  const char *items[1];
  struct sp_wbuf w;
  struct user_rec u;
  MDB_txn *txn;
  int i, rc;

  rc = store_begin(s, 0, &txn);
  for (i = 0; i < z->users && rc == 0; i++) {
    snprintf(name, sizeof(name), "user%d", i);
    snprintf(group, sizeof(group), "team%d", i % z->groups);
    items[0] = group;
    sp_wbuf_init(&w);
    memset(&u, 0, sizeof(u));
    u.name = name;
    u.pw.iterations = 1;
    sp_strlist_build(&u.groups, &w, items, 1);
    rc = user_put(s, txn, &u);
    sp_wbuf_free(&w);
  }
  return rc == 0 ? store_commit(s, txn) : rc;
}

/* Rule i allows resource i to team (i % groups), with a spread of
   conditions; every tenth rule has an office-hours window in Paris. */
static char *make_policy(const struct sizes *z, size_t *len) {
  size_t cap = (size_t)(z->resources + z->rules) * 400 + 4096, n = 0;
  char *t = malloc(cap);
  int i;

  n += (size_t)snprintf(t + n, cap - n, "resources:\n");
  for (i = 0; i < z->resources; i++)
    n += (size_t)snprintf(t + n, cap - n,
                          "  res%d: {address: host%d.corp:443, connector: "
                          "c%d}\n",
                          i, i, i % 50);
  n += (size_t)snprintf(t + n, cap - n,
                        "rules:\n"
                        "  - {name: no-kp, action: deny, countries: [KP]}\n");
  for (i = 0; i < z->rules - 1; i++) {
    n += (size_t)snprintf(t + n, cap - n,
                          "  - name: rule%d\n    action: allow\n"
                          "    resources: [res%d]\n"
                          "    groups: [team%d, team%d]\n"
                          "    mfa: true\n    countries: [FR, DE, GB, US]\n",
                          i, i % z->resources, i % z->groups,
                          (i + 7) % z->groups);
    if (i % 10 == 0)
      n += (size_t)snprintf(t + n, cap - n,
                            "    days: [mon-fri]\n    hours: \"06:00-22:00\"\n"
                            "    timezone: Europe/Paris\n");
  }
  *len = n;
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static int build(struct store *s, const struct sizes *z) {
  char msg[512];
  struct policy *p;
  size_t len;
  char *text = make_policy(z, &len);
  double t0 = now_s();
  int rc;

  rc = add_users(s, z);
  printf("users:      %d written in %.2f s\n", z->users, now_s() - t0);
  t0 = now_s();
  rc = rc ? rc : policy_parse("bench.yaml", text, len, &p, msg, sizeof(msg));
  if (rc != 0) {
    fprintf(stderr, "bench: %s\n", msg);
    free(text);
    return rc;
  }
  printf("policy:     %d resources, %d rules parsed in %.2f s", z->resources,
         z->rules, now_s() - t0);
  t0 = now_s();
  rc = policy_compile(s, p, "bench.yaml", time(NULL));
  printf(", compiled in %.2f s\n", now_s() - t0);
  policy_free(p);
  free(text);
  return rc;
}

/* A random public-looking IPv4 address. */
static void random_ip(char *out, size_t n) {
  snprintf(out, n, "%d.%d.%d.%d", 1 + rand() % 223, rand() % 256, rand() % 256,
           1 + rand() % 254);
}

/* GeoIP lookups alone: per second, and median latency. */
static void bench_geo(const struct geo *g, int count) {
  double *lat = malloc(sizeof(double) * (size_t)count), t0, total;
  struct geo_result res;
  char ip[32];
  int i, known = 0;

  total = now_s();
  for (i = 0; i < count; i++) {
    random_ip(ip, sizeof(ip));
    t0 = now_s();
    geo_lookup_ip(g, ip, &res);
    lat[i] = now_s() - t0;
    known += strcmp(res.country, "XX") != 0;
  }
  total = now_s() - total;
  qsort(lat, (size_t)count, sizeof(double), cmp_double);
  printf("geoip:      %d lookups (%d known) at %.0f per second on one "
         "core; median %.2f us, p99 %.2f us\n",
         count, known, count / total, lat[count / 2] * 1e6,
         lat[(size_t)(count * 0.99)] * 1e6);
  free(lat);
}

static int run(struct store *s, const struct sizes *z, const struct geo *g) {
  static const char *const countries[] = {"FR", "DE", "US", "GB", "BR"};
  double *lat = malloc(sizeof(double) * (size_t)z->decisions), t0, t1, total;
  char user[32], dest[64], ip[32];
  struct geo_result where;
  struct access_query q;
  struct access_result r;
  MDB_txn *txn;
  int i, res, who, allowed = 0, rc;

  rc = store_begin(s, MDB_RDONLY, &txn);
  mdb_txn_reset(txn);
  srand(42);
  memset(&q, 0, sizeof(q));
  q.mfa = 1;
  q.user = user;
  q.dest = dest;
  total = now_s();
  for (i = 0; i < z->decisions && rc == 0; i++) {
    /* Half the requests come from a member of the resource's team. */
    res = rand() % (z->rules - 1);
    who = i % 2
              ? rand() % z->users
              : (rand() % (z->users / z->groups)) * z->groups + res % z->groups;
    snprintf(user, sizeof(user), "user%d", who);
    snprintf(dest, sizeof(dest), "host%d.corp:443", res);
    q.country = countries[rand() % 5];
    q.now = 1796374800 + (rand() % 604800);
    random_ip(ip, sizeof(ip));
    t0 = now_s();
    if (g != NULL && geo_lookup_ip(g, ip, &where) == 0)
      q.country = where.country;
    rc = store_err(mdb_txn_renew(txn));
    if (rc == 0)
      rc = access_decide(s, txn, &q, &r);
    mdb_txn_reset(txn);
    t1 = now_s();
    lat[i] = t1 - t0;
    allowed += r.allow;
  }
  total = now_s() - total;
  mdb_txn_abort(txn);
  qsort(lat, (size_t)i, sizeof(double), cmp_double);
  printf("decisions:  %d (%d allowed)%s in %.2f s: %.0f per second on "
         "one core\nlatency:    median %.2f us, p99 %.2f us, max %.2f us\n",
         i, allowed, g ? ", each with a GeoIP lookup" : "", total, i / total,
         lat[i / 2] * 1e6, lat[(size_t)(i * 0.99)] * 1e6, lat[i - 1] * 1e6);
  free(lat);
  return rc;
}

int main(int argc, char **argv) {
  struct sizes z = {100000, 10000, 10000, 1000, 1000000};
  char dir[] = "/tmp/sp-bench-XXXXXX", cmd[64], err[256];
  const char *geo_path = "/usr/share/sallyport/country.mmdb";
  struct geo *g = NULL;
  struct store *s;
  int i, rc;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      z = (struct sizes){10000, 1000, 1000, 100, 20000};
    else if (strcmp(argv[i], "--decisions") == 0 && i + 1 < argc)
      z.decisions = atoi(argv[++i]);
    else if (strcmp(argv[i], "--geoip") == 0 && i + 1 < argc)
      geo_path = argv[++i];
  }
  if (geo_open(&g, geo_path, NULL, err, sizeof(err)) != 0) {
    printf("geoip:      off (%s)\n", err);
    g = NULL;
  }
  if (z.decisions < 1 || mkdtemp(dir) == NULL)
    return 2;
  rc = store_open(&s, dir, STORE_CREATE);
  if (rc == 0) {
    rc = build(s, &z);
    if (rc == 0)
      rc = run(s, &z, NULL);
    if (rc == 0 && g != NULL) {
      bench_geo(g, z.decisions);
      rc = run(s, &z, g);
    }
    store_close(s);
  }
  geo_close(g);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "bench: could not remove %s\n", dir);
  if (rc != 0)
    fprintf(stderr, "bench: %s\n", sp_strerror(rc));
  return rc == 0 ? 0 : 1;
}
