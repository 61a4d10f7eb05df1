/* sallyport-relay connector add|list|revoke */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "connector/enroll_token.h"
#include "policy/connectors.h"
#include "policy/policy.h"
#include "relay/cli.h"
#include "relay/config.h"
#include "tunnel/pki.h"

#define TOKEN_TTL_DEFAULT (24 * 3600)

static const char usage[] =
    "usage: sallyport-relay connector COMMAND\n"
    "\n"
    "  add NAME [--relay HOST:PORT] [--ttl 24h]\n"
    "      Prints a one-time enrolment token, alone on standard output,\n"
    "      for `sallyport-connector enroll --token`.  It names the relay's\n"
    "      connector endpoint (default: relay.yaml's name and the port of\n"
    "      listen.connectors), pins the relay's CA, and expires after --ttl.\n"
    "      Adding a pending or revoked connector again issues a new token.\n"
    "  list [--json]   name, status (connected, offline, pending, revoked),\n"
    "                  tunnels, address and last-seen time; status comes\n"
    "                  from the running relay\n"
    "  revoke NAME     the relay drops its tunnels and refuses it\n";

/* relay.yaml's name with the port of listen.connectors. */
static int default_endpoint(const struct relay_config *cfg, char *out,
                            size_t n) {
  const char *port = strrchr(cfg->listen.connectors, ':');

  if (port == NULL)
    return SP_ECONFIG;
  snprintf(out, n, strchr(cfg->name, ':') ? "[%s]%s" : "%s%s", cfg->name, port);
  return 0;
}

static int ca_fingerprint(const struct cli *c, char fp[PKI_FINGERPRINT_HEX]) {
  struct pki_ca ca;
  int rc;

  pki_ca_init(&ca);
  rc = pki_ca_load(&ca, c->state);
  if (rc == 0)
    rc = pki_crt_fingerprint(&ca.crt, fp);
  pki_ca_free(&ca);
  return rc;
}

static int parse_add(const struct cli *c, int argc, char **argv,
                     const char **relay, int64_t *ttl) {
  static const struct option opts[] = {{"relay", required_argument, NULL, 'r'},
                                       {"ttl", required_argument, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
  int opt;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'r')
      *relay = optarg;
    else if (opt == 't' && sp_duration_parse(optarg, ttl) == 0 && *ttl >= 60)
      continue;
    else
      return cli_usage(c, opt == 't' ? "--ttl wants a duration like 24h"
                                     : "unknown option");
  }
  if (optind + 1 != argc)
    return cli_usage(c, "expected one connector name");
  if (!policy_name_valid(argv[optind]))
    return cli_usage(c, "'%s' is not a valid connector name", argv[optind]);
  return 0;
}

static int connector_add_cmd(struct cli *c, int argc, char **argv) {
  char msg[512], text[ENROLL_TOKEN_TEXT_MAX], canon[POLICY_ADDR_MAX];
  struct relay_config cfg;
  struct enroll_token t;
  const char *relay = NULL;
  int64_t ttl = TOKEN_TTL_DEFAULT, now = time(NULL);
  struct store *s;
  struct sp_json j;
  int rc;

  rc = parse_add(c, argc, argv, &relay, &ttl);
  if (rc != 0)
    return rc;
  memset(&t, 0, sizeof(t));
  snprintf(t.name, sizeof(t.name), "%s", argv[optind]);
  if (relay_config_load(&cfg, c->state, msg, sizeof(msg)) != 0)
    return cli_fail(c, "%s", msg);
  rc = relay ? 0 : default_endpoint(&cfg, t.addr, sizeof(t.addr));
  relay_config_free(&cfg);
  if (relay != NULL && policy_addr_canon(relay, canon, sizeof(canon)) != 0)
    return cli_usage(c, "--relay wants HOST:PORT");
  if (relay != NULL && strlen(canon) >= sizeof(t.addr))
    return cli_usage(c, "--relay is too long");
  if (relay != NULL)
    memcpy(t.addr, canon, strlen(canon) + 1);
  if (rc != 0 || ca_fingerprint(c, t.ca_fingerprint) != 0)
    return cli_fail(c, "cannot read the relay's CA in %s", c->state);
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  rc = connectors_add(s, t.name, now, ttl, t.secret);
  store_close(s);
  if (rc == SP_EEXIST)
    return cli_fail(c, "connector '%s' is enrolled; revoke it first", t.name);
  t.expires = now + ttl;
  if (rc == 0)
    rc = enroll_token_encode(&t, text, sizeof(text));
  enroll_token_wipe(&t);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  sp_audit_begin(&j, "connector_add");
  sp_json_str(&j, "connector", argv[optind]);
  sp_json_int(&j, "token_ttl", ttl);
  cli_audit(c, &j);
  printf("%s\n", text);
  return CLI_OK;
}

struct list_ctx {
  struct store *s;
  MDB_txn *vtxn;
  int json;
  int count;
  int64_t now;
};

static int print_connector(void *ctx, const struct connectors_rec *c) {
  struct list_ctx *l = ctx;
  struct connectors_live live = {0, "", 0, 0};
  char seen[SP_TIME_MAX];
  const char *status = "offline";
  struct sp_json j;
  int fresh;

  if (l->vtxn != NULL)
    connectors_live_get(l->s, l->vtxn, c->name, &live);
  fresh =
      live.heartbeat > 0 && l->now - live.heartbeat <= CONNECTORS_LIVE_STALE;
  if (c->status == CONNECTORS_REVOKED)
    status = "revoked";
  else if (c->status == CONNECTORS_ENROLLED && fresh && live.tunnels > 0)
    status = "connected";
  if (!fresh || c->status != CONNECTORS_ENROLLED)
    live.tunnels = 0;
  if (live.last_seen > 0)
    sp_time_format(seen, live.last_seen);
  if (!l->json) {
    printf("%-24s %-10s %-8u %-40s %s%s\n", c->name, status, live.tunnels,
           live.tunnels ? live.address : "-", live.last_seen ? seen : "-",
           c->status == CONNECTORS_PENDING ? "  (not enrolled yet)" : "");
    return 0;
  }
  sp_json_begin(&j);
  sp_json_str(&j, "name", c->name);
  sp_json_str(&j, "status", status);
  sp_json_int(&j, "tunnels", live.tunnels);
  sp_json_str(&j, "address", live.tunnels ? live.address : NULL);
  sp_json_str(&j, "last_seen", live.last_seen ? seen : NULL);
  sp_json_bool(&j, "enrolled", c->status != CONNECTORS_PENDING);
  printf("%s%s", l->count++ ? "," : "", sp_json_end(&j));
  sp_json_free(&j);
  return 0;
}

static int connector_list_cmd(struct cli *c, int argc, char **argv) {
  struct list_ctx l = {NULL, NULL, 0, 0, time(NULL)};
  MDB_txn *txn;
  int rc;

  if (argc == 2 && strcmp(argv[1], "--json") == 0)
    l.json = 1;
  else if (argc != 1)
    return cli_usage(c, "usage: connector list [--json]");
  if (cli_open_store(c, &l.s) != 0)
    return CLI_FAIL;
  if (store_vbegin(l.s, MDB_RDONLY, &l.vtxn) != 0)
    l.vtxn = NULL;
  printf(l.json ? "[" : "%-24s %-10s %-8s %-40s %s\n", "NAME", "STATUS",
         "TUNNELS", "ADDRESS", "LAST SEEN");
  rc = store_begin(l.s, MDB_RDONLY, &txn);
  if (rc == 0) {
    rc = connectors_foreach(l.s, txn, print_connector, &l);
    mdb_txn_abort(txn);
  }
  if (l.json)
    printf("]\n");
  if (l.vtxn != NULL)
    mdb_txn_abort(l.vtxn);
  store_close(l.s);
  return rc == 0 ? CLI_OK : cli_fail(c, "%s", sp_strerror(rc));
}

static int connector_revoke_cmd(struct cli *c, int argc, char **argv) {
  struct store *s;
  struct sp_json j;
  int rc;

  if (argc != 2 || argv[1][0] == '-')
    return cli_usage(c, "expected one connector name");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  rc = connectors_revoke(s, argv[1]);
  store_close(s);
  if (rc == SP_ENOTFOUND)
    return cli_fail(c, "no connector '%s'", argv[1]);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  sp_audit_begin(&j, "connector_revoke");
  sp_json_str(&j, "connector", argv[1]);
  cli_audit(c, &j);
  printf("%s: revoked\n", argv[1]);
  return CLI_OK;
}

int cmd_connector(struct cli *c, int argc, char **argv) {
  static const struct cli_command table[] = {
      {"add", connector_add_cmd, NULL},
      {"list", connector_list_cmd, NULL},
      {"revoke", connector_revoke_cmd, NULL},
      {NULL, NULL, NULL}};

  if (argc >= 3 && cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  return cli_dispatch(c, table, usage, argc, argv);
}
