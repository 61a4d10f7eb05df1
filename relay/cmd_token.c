/* sallyport-relay token list|revoke */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/timefmt.h"
#include "policy/token.h"
#include "relay/cli.h"

static const char usage[] =
    "usage: sallyport-relay token COMMAND\n"
    "\n"
    "  list [--user NAME] [--json]   tokens that are live or expired but\n"
    "                                not yet pruned; never the secret\n"
    "  revoke ID                     revokes the token with that id\n"
    "  revoke --user NAME            revokes every token of NAME\n"
    "\n"
    "A running relay notices a revocation within a second.\n";

struct list_ctx {
  int json;
  int count;
  int64_t now;
};

static int print_token(void *ctx, const struct token_rec *t) {
  struct list_ctx *l = ctx;
  char issued[SP_TIME_MAX], expires[SP_TIME_MAX];
  const char *state = l->now >= t->expires ? "expired" : "live";
  struct sp_json j;

  sp_time_format(issued, t->issued);
  sp_time_format(expires, t->expires);
  if (!l->json) {
    printf("%-16s %-24s %-7s %-4s %-39s %-20s %s\n", t->id, t->user, state,
           t->mfa ? "yes" : "no", t->source, issued, expires);
    return 0;
  }
  sp_json_begin(&j);
  sp_json_str(&j, "id", t->id);
  sp_json_str(&j, "user", t->user);
  sp_json_str(&j, "status", state);
  sp_json_bool(&j, "mfa", t->mfa);
  sp_json_str(&j, "source", t->source);
  sp_json_str(&j, "issued", issued);
  sp_json_str(&j, "expires", expires);
  printf("%s%s", l->count++ ? "," : "", sp_json_end(&j));
  sp_json_free(&j);
  return 0;
}

static int token_list_cmd(struct cli *c, int argc, char **argv) {
  static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                       {"json", no_argument, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  struct list_ctx l = {0, 0, time(NULL)};
  const char *user = NULL;
  struct store *s;
  MDB_txn *txn;
  int opt, rc;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'u')
      user = optarg;
    else if (opt == 'j')
      l.json = 1;
    else
      return cli_usage(c, "unknown option");
  }
  if (optind != argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  if (l.json)
    printf("[");
  else
    printf("%-16s %-24s %-7s %-4s %-39s %-20s %s\n", "ID", "USER", "STATUS",
           "MFA", "SOURCE", "ISSUED", "EXPIRES");
  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc == 0) {
    rc = token_foreach(s, txn, user, print_token, &l);
    mdb_txn_abort(txn);
  }
  if (l.json)
    printf("]\n");
  store_close(s);
  return rc == 0 ? CLI_OK : cli_fail(c, "%s", sp_strerror(rc));
}

static int token_revoke_cmd(struct cli *c, int argc, char **argv) {
  const char *user = NULL, *id = NULL;
  struct store *s;
  struct sp_json j;
  MDB_txn *txn;
  size_t n = 1;
  int rc;

  if (argc == 3 && strcmp(argv[1], "--user") == 0)
    user = argv[2];
  else if (argc == 2 && argv[1][0] != '-')
    id = argv[1];
  else
    return cli_usage(c, "expected a token id or --user NAME");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  rc = store_begin(s, 0, &txn);
  if (rc == 0) {
    rc = user ? token_revoke_user(s, txn, user, &n)
              : token_revoke_id(s, txn, id);
    if (rc == 0)
      rc = store_commit(s, txn);
    else
      mdb_txn_abort(txn);
  }
  store_close(s);
  if (rc == SP_ENOTFOUND)
    return cli_fail(c, "no token with id '%s'", id);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));

  sp_audit_begin(&j, "token_revoke");
  sp_json_str(&j, user ? "user" : "token", user ? user : id);
  sp_json_int(&j, "count", (int64_t)n);
  cli_audit(c, &j);
  printf("revoked %zu token%s\n", n, n == 1 ? "" : "s");
  return CLI_OK;
}

int cmd_token(struct cli *c, int argc, char **argv) {
  static const struct cli_command table[] = {{"list", token_list_cmd, NULL},
                                             {"revoke", token_revoke_cmd, NULL},
                                             {NULL, NULL, NULL}};

  if (argc >= 3 && cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  return cli_dispatch(c, table, usage, argc, argv);
}
