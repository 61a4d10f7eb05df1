/*
 * geo/ against the databases that tests/geo/make-test-mmdb.pl writes at
 * build time (SP_GEO_TEST_DIR): both country layouts, the ASN layout,
 * address forms, the continent table, files that cannot be used, and
 * reopening while other threads look up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "geo/geo.h"

#define DB(name) SP_GEO_TEST_DIR "/" name

static char tmpdir[64];

static int make_tmpdir(void **state) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/sp-geo-XXXXXX");
  return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state) {
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", tmpdir, name);
  return out;
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");

  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* Reads a whole file into a buffer the caller frees. */
static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *p;
  long len;

  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  len = ftell(f);
  assert_true(len > 0);
  rewind(f);
  p = malloc((size_t)len);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return p;
}

/* Puts a copy of `src` at `dst` the way an update should: by rename. */
static void install(const char *src, const char *dst) {
  char tmp[256];
  unsigned char *p;
  size_t n;

  snprintf(tmp, sizeof(tmp), "%s.new", dst);
  p = read_all(src, &n);
  write_bytes(tmp, p, n);
  free(p);
  assert_int_equal(rename(tmp, dst), 0);
}

static void check(const struct geo *g, const char *ip, const char *country,
                  const char *continent, uint32_t asn, const char *org) {
  struct geo_result r;

  assert_int_equal(geo_lookup_ip(g, ip, &r), 0);
  assert_string_equal(r.country, country);
  assert_string_equal(r.continent, continent);
  assert_int_equal(r.asn, asn);
  assert_string_equal(r.org, org);
}

static struct geo *open_ok(const char *country, const char *asn) {
  struct geo *g = NULL;
  char err[512] = "";

  if (geo_open(&g, country, asn, err, sizeof(err)) != 0)
    fail_msg("geo_open: %s", err);
  assert_non_null(g);
  return g;
}

static void test_maxmind_layout(void **state) {
  struct geo *g = open_ok(DB("maxmind-country.mmdb"), NULL);

  assert_string_equal(geo_layout_name(g), "maxmind");
  check(g, "127.0.0.2", "FR", "EU", 0, "");
  check(g, "127.0.0.3", "US", "NA", 0, "");
  check(g, "127.0.0.4", "DE", "EU", 0, "");
  check(g, "127.0.0.5", "KP", "AS", 0, "");
  check(g, "81.2.69.160", "GB", "EU", 0, "");

  /* No continent in the record: derived from the country. */
  check(g, "127.0.0.6", "BR", "SA", 0, "");

  /* Only the registered country, then only the continent. */
  check(g, "127.0.0.7", "JP", "AS", 0, "");
  check(g, "127.0.0.8", "XX", "EU", 0, "");

  check(g, "127.0.0.1", "XX", "--", 0, "");
  check(g, "::1", "XX", "--", 0, "");
  check(g, "2001:db8::1", "XX", "--", 0, "");
  geo_close(g);
}

static void test_iplocdb_layout(void **state) {
  struct geo *g = open_ok(DB("iplocdb-country.mmdb"), "");

  assert_string_equal(geo_layout_name(g), "ip-location-db");
  check(g, "127.0.0.2", "FR", "EU", 0, "");
  check(g, "127.0.0.3", "US", "NA", 0, "");
  check(g, "127.0.0.4", "DE", "EU", 0, "");
  check(g, "127.0.0.5", "KP", "AS", 0, "");
  check(g, "127.0.0.6", "BR", "SA", 0, "");
  check(g, "81.2.69.160", "GB", "EU", 0, "");
  check(g, "127.0.0.1", "XX", "--", 0, "");
  check(g, "::1", "XX", "--", 0, "");
  geo_close(g);
}

static void test_asn(void **state) {
  struct geo *g = open_ok(DB("iplocdb-country.mmdb"), DB("maxmind-asn.mmdb"));

  check(g, "127.0.0.2", "FR", "EU", 3215, "Orange");
  check(g, "127.0.0.3", "US", "NA", 15169, "Google");
  check(g, "127.0.0.4", "DE", "EU", 3320, "Deutsche Telekom");
  check(g, "127.0.0.5", "KP", "AS", 0, "");
  check(g, "127.0.0.1", "XX", "--", 0, "");
  check(g, "::1", "XX", "--", 0, "");
  geo_close(g);
}

static void test_mapped_and_sockaddr(void **state) {
  struct geo *g = open_ok(DB("maxmind-country.mmdb"), DB("maxmind-asn.mmdb"));
  struct sockaddr_in6 s6 = {0};
  struct sockaddr_in s4 = {0};
  struct geo_result r;

  check(g, "::ffff:127.0.0.2", "FR", "EU", 3215, "Orange");
  check(g, "::FFFF:7f00:4", "DE", "EU", 3320, "Deutsche Telekom");
  check(g, "::ffff:127.0.0.1", "XX", "--", 0, "");

  s6.sin6_family = AF_INET6;
  s6.sin6_port = htons(51234);
  assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.3", &s6.sin6_addr), 1);
  assert_int_equal(geo_lookup(g, (struct sockaddr *)&s6, &r), 0);
  assert_string_equal(r.country, "US");
  assert_int_equal(r.asn, 15169);

  s4.sin_family = AF_INET;
  assert_int_equal(inet_pton(AF_INET, "127.0.0.5", &s4.sin_addr), 1);
  assert_int_equal(geo_lookup(g, (struct sockaddr *)&s4, &r), 0);
  assert_string_equal(r.country, "KP");
  geo_close(g);
}

static void test_bad_addresses(void **state) {
  struct geo *g = open_ok(DB("maxmind-country.mmdb"), NULL);
  struct sockaddr_un su = {0};
  struct geo_result r;

  assert_int_equal(geo_lookup_ip(g, "wiki.corp", &r), SP_EPARSE);
  assert_string_equal(r.country, "XX");
  assert_int_equal(geo_lookup_ip(g, "127.0.0.2:80", &r), SP_EPARSE);
  assert_int_equal(geo_lookup_ip(g, "[::1]", &r), SP_EPARSE);
  assert_int_equal(geo_lookup_ip(g, "", &r), SP_EPARSE);
  assert_int_equal(geo_lookup_ip(g, NULL, &r), SP_EPARSE);

  su.sun_family = AF_UNIX;
  assert_int_equal(geo_lookup(g, (struct sockaddr *)&su, &r), SP_EUSAGE);
  assert_string_equal(r.continent, "--");
  assert_int_equal(geo_lookup(g, NULL, &r), SP_EUSAGE);
  geo_close(g);
}

static void test_continent_table(void **state) {
  char cc[3] = "AA";
  int count = 0, a, b;

  for (a = 'A'; a <= 'Z'; a++) {
    for (b = 'A'; b <= 'Z'; b++) {
      cc[0] = (char)a;
      cc[1] = (char)b;
      if (strcmp(geo_continent_of(cc), "--") != 0)
        count++;
    }
  }
  /* The 249 assigned ISO 3166-1 codes and XK. */
  assert_int_equal(count, 250);

  assert_string_equal(geo_continent_of("BR"), "SA");
  assert_string_equal(geo_continent_of("br"), "SA");
  assert_string_equal(geo_continent_of("AQ"), "AN");
  assert_string_equal(geo_continent_of("AU"), "OC");
  assert_string_equal(geo_continent_of("ZW"), "AF");
  assert_string_equal(geo_continent_of("AD"), "EU");
  assert_string_equal(geo_continent_of("VI"), "NA");
  assert_string_equal(geo_continent_of("RU"), "EU");
  assert_string_equal(geo_continent_of("TR"), "AS");
  assert_string_equal(geo_continent_of("XK"), "EU");
  assert_string_equal(geo_continent_of("XX"), "--");
  assert_string_equal(geo_continent_of("FRA"), "--");
  assert_string_equal(geo_continent_of("F"), "--");
  assert_string_equal(geo_continent_of(""), "--");
  assert_string_equal(geo_continent_of(NULL), "--");
}

/* geo_open() must fail with `rc` and a message naming `path`. */
static void open_fails(const char *country, const char *asn, int rc,
                       const char *path, const char *words) {
  struct geo *g = (struct geo *)&g;
  char err[512] = "";

  assert_int_equal(geo_open(&g, country, asn, err, sizeof(err)), rc);
  assert_null(g);
  if (strstr(err, path) == NULL || strstr(err, words) == NULL)
    fail_msg("unexpected message: %s", err);
}

static void test_unusable_files(void **state) {
  static const char garbage[] = "this is not a MaxMind DB file at all\n";
  char missing[128], junk[128], empty[128], half[128], tree[128];
  unsigned char *p;
  size_t n;

  tmp_path(missing, sizeof(missing), "missing.mmdb");
  open_fails(missing, NULL, -ENOENT, missing, "No such file or directory");
  open_fails(DB("maxmind-country.mmdb"), missing, -ENOENT, missing,
             "No such file");

  write_bytes(tmp_path(junk, sizeof(junk), "junk.mmdb"), garbage,
              sizeof(garbage));
  open_fails(junk, NULL, SP_EGEO, junk, "not a usable MaxMind DB file (");
  write_bytes(tmp_path(empty, sizeof(empty), "empty.mmdb"), "", 0);
  open_fails(empty, NULL, SP_EGEO, empty, "not a usable MaxMind DB file");
  open_fails(tmpdir, NULL, SP_EGEO, tmpdir, "not a regular file");

  /* The first half: the metadata at the end is gone. */
  p = read_all(DB("maxmind-country.mmdb"), &n);
  write_bytes(tmp_path(half, sizeof(half), "half.mmdb"), p, n / 2);
  open_fails(half, NULL, SP_EGEO, half, "not a usable MaxMind DB file");

  /* Intact metadata over a search tree whose records all point nowhere. */
  memset(p, 0xff, 96);
  write_bytes(tmp_path(tree, sizeof(tree), "tree.mmdb"), p, n);
  free(p);
  open_fails(tree, NULL, SP_EGEO, tree, "corrupt");
}

static void test_wrong_layouts(void **state) {
  open_fails(DB("other-layout.mmdb"), NULL, SP_EGEO, "other-layout.mmdb",
             "neither the MaxMind layout (country.iso_code) nor the "
             "ip-location-db layout (country_code)");
  open_fails(DB("maxmind-asn.mmdb"), NULL, SP_EGEO, "maxmind-asn.mmdb",
             "neither");
  open_fails(DB("maxmind-country.mmdb"), DB("iplocdb-country.mmdb"), SP_EGEO,
             "iplocdb-country.mmdb",
             "not an ASN database (no autonomous_system_number)");
  open_fails(NULL, NULL, SP_EUSAGE, "", "no country database");
  open_fails("", DB("maxmind-asn.mmdb"), SP_EUSAGE, "", "no country");
}

static void test_reopen(void **state) {
  char country[128], asn[128], err[512] = "";
  struct geo *g;
  int reopened = -1;

  tmp_path(country, sizeof(country), "country.mmdb");
  tmp_path(asn, sizeof(asn), "asn.mmdb");
  install(DB("maxmind-country.mmdb"), country);
  install(DB("maxmind-asn.mmdb"), asn);
  g = open_ok(country, asn);
  check(g, "127.0.0.2", "FR", "EU", 3215, "Orange");
  assert_int_equal(geo_reopen_if_changed(g, &reopened, err, sizeof(err)), 0);
  assert_int_equal(reopened, 0);

  install(DB("maxmind-country-alt.mmdb"), country);
  assert_int_equal(geo_reopen_if_changed(g, &reopened, err, sizeof(err)), 0);
  assert_int_equal(reopened, 1);
  check(g, "127.0.0.2", "IT", "EU", 3215, "Orange");
  check(g, "127.0.0.9", "JP", "AS", 0, "");
  check(g, "127.0.0.4", "XX", "--", 3320, "Deutsche Telekom");

  /* A broken or missing replacement leaves the open files in use. */
  install(DB("other-layout.mmdb"), country);
  assert_int_equal(geo_reopen_if_changed(g, &reopened, err, sizeof(err)),
                   SP_EGEO);
  assert_int_equal(reopened, 0);
  assert_non_null(strstr(err, "neither"));
  check(g, "127.0.0.2", "IT", "EU", 3215, "Orange");
  assert_int_equal(unlink(country), 0);
  assert_int_equal(geo_reopen_if_changed(g, NULL, err, sizeof(err)), -ENOENT);
  check(g, "127.0.0.2", "IT", "EU", 3215, "Orange");

  install(DB("maxmind-country.mmdb"), country);
  assert_int_equal(geo_reopen_if_changed(g, &reopened, NULL, 0), 0);
  assert_int_equal(reopened, 1);
  check(g, "127.0.0.2", "FR", "EU", 3215, "Orange");
  geo_close(g);
}

struct reader {
  const struct geo *g;
  int odd; /* lookups that saw neither the old nor the new data */
};

static void *read_loop(void *arg) {
  struct reader *rd = arg;
  struct geo_result r;
  int i;

  for (i = 0; i < 20000; i++) {
    if (geo_lookup_ip(rd->g, "127.0.0.2", &r) != 0 ||
        (strcmp(r.country, "FR") != 0 && strcmp(r.country, "IT") != 0) ||
        r.asn != 3215)
      rd->odd++;
  }
  return NULL;
}

/* Lookups on two threads while the main thread swaps databases. */
static void test_reopen_under_load(void **state) {
  char country[128], asn[128], err[512] = "";
  struct reader rd[2];
  pthread_t t[2];
  struct geo *g;
  int i, reopened;

  tmp_path(country, sizeof(country), "load-country.mmdb");
  tmp_path(asn, sizeof(asn), "load-asn.mmdb");
  install(DB("maxmind-country.mmdb"), country);
  install(DB("maxmind-asn.mmdb"), asn);
  g = open_ok(country, asn);
  for (i = 0; i < 2; i++) {
    rd[i] = (struct reader){g, 0};
    assert_int_equal(pthread_create(&t[i], NULL, read_loop, &rd[i]), 0);
  }

  for (i = 0; i < 40; i++) {
    install(i % 2 ? DB("maxmind-country.mmdb") : DB("maxmind-country-alt.mmdb"),
            country);
    assert_int_equal(geo_reopen_if_changed(g, &reopened, err, sizeof(err)), 0);
    assert_int_equal(reopened, 1);
  }

  for (i = 0; i < 2; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(rd[i].odd, 0);
  }
  geo_close(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maxmind_layout),
      cmocka_unit_test(test_iplocdb_layout),
      cmocka_unit_test(test_asn),
      cmocka_unit_test(test_mapped_and_sockaddr),
      cmocka_unit_test(test_bad_addresses),
      cmocka_unit_test(test_continent_table),
      cmocka_unit_test(test_unusable_files),
      cmocka_unit_test(test_wrong_layouts),
      cmocka_unit_test(test_reopen),
      cmocka_unit_test(test_reopen_under_load),
  };

  return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
