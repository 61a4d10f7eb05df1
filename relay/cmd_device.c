/* sallyport-relay device add|revoke|list */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "policy/device.h"
#include "policy/policy.h"
#include "policy/user.h"
#include "relay/cli.h"
#include "tunnel/pki.h"

static const char usage[] =
    "usage: sallyport-relay device COMMAND\n"
    "\n"
    "  add NAME --user USER --out DIR [--tags T1,T2] [--days N]\n"
    "      Issues a client certificate for USER's device NAME, signed by\n"
    "      the relay's CA, and writes DIR/NAME.key (0600), DIR/NAME.crt and\n"
    "      DIR/ca.crt.  Rules with device_tags match requests that present\n"
    "      it on the HTTPS listener.  Valid N days (default 365).\n"
    "  revoke NAME     the certificate is refused from then on\n"
    "  list [--json]\n";

struct add_args {
  const char *name;
  const char *user;
  const char *out;
  char *tags;
  unsigned days;
};

static int parse_add(const struct cli *c, int argc, char **argv,
                     struct add_args *a) {
  static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"tags", required_argument, NULL, 't'},
                                       {"days", required_argument, NULL, 'd'},
                                       {NULL, 0, NULL, 0}};
  char *end;
  long v;
  int opt;

  memset(a, 0, sizeof(*a));
  optind = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'u') {
      a->user = optarg;
    } else if (opt == 'o') {
      a->out = optarg;
    } else if (opt == 't') {
      a->tags = optarg;
    } else if (opt == 'd') {
      v = strtol(optarg, &end, 10);
      if (*end != '\0' || v < 1 || v > PKI_MAX_DAYS)
        return cli_usage(c, "--days wants 1 to %d", PKI_MAX_DAYS);
      a->days = (unsigned)v;
    } else {
      return cli_usage(c, "unknown option");
    }
  }
  if (optind + 1 != argc)
    return cli_usage(c, "expected one device name");
  a->name = argv[optind];
  if (!policy_name_valid(a->name))
    return cli_usage(c, "'%s' is not a valid device name", a->name);
  if (a->user == NULL || a->out == NULL)
    return cli_usage(c, "--user and --out are required");
  return 0;
}

/* Splits "a,b" into a strlist of valid names, built in `w`. */
static int parse_tags(const struct cli *c, char *arg, struct sp_wbuf *w,
                      struct sp_strlist *out) {
  const char *items[64];
  char *tok, *save = NULL;
  size_t n = 0;

  for (tok = arg ? strtok_r(arg, ",", &save) : NULL; tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    if (!policy_name_valid(tok) || n == 64)
      return cli_usage(c, "bad tag '%s'", tok);
    items[n++] = tok;
  }
  return sp_strlist_build(out, w, items, n) == 0 ? 0 : cli_fail(c, "no memory");
}

/* Checks the user and the name inside the write transaction. */
static int check_free(const struct cli *c, struct store *s, MDB_txn *txn,
                      const struct add_args *a) {
  struct user_rec u;
  struct device_rec d;
  int rc;

  rc = user_get(s, txn, a->user, &u);
  if (rc == SP_ENOTFOUND)
    return cli_fail(c, "no user '%s'", a->user);
  rc = rc ? rc : device_get(s, txn, a->name, &d);
  if (rc == 0 && !d.revoked)
    return cli_fail(c, "device '%s' exists; revoke it first", a->name);
  if (rc != 0 && rc != SP_ENOTFOUND)
    return cli_fail(c, "%s", sp_strerror(rc));
  return 0;
}

static int issue(const struct cli *c, struct store *s, const struct add_args *a,
                 const struct sp_strlist *tags) {
  struct pki_cert_info info;
  struct device_rec d;
  struct pki_ca ca;
  MDB_txn *txn;
  int rc;

  rc = store_begin(s, 0, &txn);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  if (check_free(c, s, txn, a) != 0) {
    mdb_txn_abort(txn);
    return CLI_FAIL;
  }
  if (mkdir(a->out, 0700) != 0 && errno != EEXIST) {
    mdb_txn_abort(txn);
    return cli_fail(c, "cannot create %s: %s", a->out, strerror(errno));
  }
  pki_ca_init(&ca);
  rc = pki_ca_load(&ca, c->state);
  if (rc == 0)
    rc = pki_device_issue(&ca, a->out, a->name, a->days, &info);
  pki_ca_free(&ca);
  if (rc == 0) {
    memset(&d, 0, sizeof(d));
    d = (struct device_rec){
        a->name,          a->user,    *tags,          info.serial,
        info.fingerprint, time(NULL), info.not_after, 0};
    rc = device_put(s, txn, &d);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return cli_fail(c, "cannot issue the certificate: %s", sp_strerror(rc));
  }
  rc = store_commit(s, txn);
  return rc == 0 ? 0 : cli_fail(c, "%s", sp_strerror(rc));
}

static int device_add_cmd(struct cli *c, int argc, char **argv) {
  struct add_args a;
  struct sp_strlist tags = {0};
  char *copy = NULL;
  struct sp_wbuf w;
  struct store *s;
  struct sp_json j;
  int rc;

  rc = parse_add(c, argc, argv, &a);
  if (rc != 0)
    return rc;
  sp_wbuf_init(&w);
  if (a.tags != NULL && (copy = strdup(a.tags)) == NULL)
    return cli_fail(c, "out of memory");
  rc = parse_tags(c, copy, &w, &tags);
  if (rc == 0 && cli_open_store(c, &s) == 0) {
    rc = issue(c, s, &a, &tags);
    store_close(s);
  } else if (rc == 0) {
    rc = CLI_FAIL;
  }
  if (rc == 0) {
    sp_audit_begin(&j, "device_add");
    sp_json_str(&j, "device", a.name);
    sp_json_str(&j, "user", a.user);
    sp_json_str(&j, "tags", a.tags ? a.tags : "");
    cli_audit(c, &j);
    printf("Device %s of %s: %s/%s.crt, %s/%s.key, %s/ca.crt\n", a.name, a.user,
           a.out, a.name, a.out, a.name, a.out);
  }
  sp_wbuf_free(&w);
  free(copy);
  return rc;
}

static int device_revoke_cmd(struct cli *c, int argc, char **argv) {
  struct device_rec d;
  struct sp_wbuf tags;
  struct store *s;
  struct sp_json j;
  MDB_txn *txn = NULL;
  int rc;

  if (argc != 2 || argv[1][0] == '-')
    return cli_usage(c, "expected one device name");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  sp_wbuf_init(&tags);
  rc = store_begin(s, 0, &txn);
  if (rc == 0)
    rc = device_get(s, txn, argv[1], &d);
  if (rc == 0) {
    /* The record borrows the page being rewritten: copy the tags. */
    sp_wbuf_bytes(&tags, d.tags.p, d.tags.len);
    d.tags.p = tags.p;
    d.revoked = 1;
    rc = tags.err ? tags.err : device_put(s, txn, &d);
  }
  if (rc == 0)
    rc = store_commit(s, txn);
  else if (txn != NULL)
    mdb_txn_abort(txn);
  sp_wbuf_free(&tags);
  store_close(s);
  if (rc == SP_ENOTFOUND)
    return cli_fail(c, "no device '%s'", argv[1]);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  sp_audit_begin(&j, "device_revoke");
  sp_json_str(&j, "device", argv[1]);
  cli_audit(c, &j);
  printf("%s: revoked\n", argv[1]);
  return CLI_OK;
}

static int print_device(void *ctx, const struct device_rec *d) {
  int *json = ctx;
  char tags[512], expires[SP_TIME_MAX];
  struct sp_strlist_iter it;
  const char *t;
  size_t n = 0;
  struct sp_json j;

  tags[0] = '\0';
  sp_strlist_iter_init(&it, &d->tags);
  while ((t = sp_strlist_next(&it)) != NULL && n < sizeof(tags))
    n += (size_t)snprintf(tags + n, sizeof(tags) - n, "%s%s", n ? "," : "", t);
  sp_time_format(expires, d->not_after);
  if (!json[0]) {
    printf("%-20s %-20s %-8s %-20s %s\n", d->name, d->user,
           d->revoked ? "revoked" : "active", expires, tags[0] ? tags : "-");
    return 0;
  }
  sp_json_begin(&j);
  sp_json_str(&j, "name", d->name);
  sp_json_str(&j, "user", d->user);
  sp_json_str(&j, "status", d->revoked ? "revoked" : "active");
  sp_json_str(&j, "tags", tags);
  sp_json_str(&j, "serial", d->serial);
  sp_json_str(&j, "expires", expires);
  printf("%s%s", json[1]++ ? "," : "", sp_json_end(&j));
  sp_json_free(&j);
  return 0;
}

static int device_list_cmd(struct cli *c, int argc, char **argv) {
  int json[2] = {0, 0}, rc;
  struct store *s;
  MDB_txn *txn;

  if (argc == 2 && strcmp(argv[1], "--json") == 0)
    json[0] = 1;
  else if (argc != 1)
    return cli_usage(c, "usage: device list [--json]");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  if (json[0])
    printf("[");
  else
    printf("%-20s %-20s %-8s %-20s %s\n", "NAME", "USER", "STATUS", "EXPIRES",
           "TAGS");
  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc == 0) {
    rc = device_foreach(s, txn, print_device, json);
    mdb_txn_abort(txn);
  }
  if (json[0])
    printf("]\n");
  store_close(s);
  return rc == 0 ? CLI_OK : cli_fail(c, "%s", sp_strerror(rc));
}

int cmd_device(struct cli *c, int argc, char **argv) {
  static const struct cli_command table[] = {
      {"add", device_add_cmd, NULL},
      {"revoke", device_revoke_cmd, NULL},
      {"list", device_list_cmd, NULL},
      {NULL, NULL, NULL}};

  if (argc >= 3 && cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  return cli_dispatch(c, table, usage, argc, argv);
}
