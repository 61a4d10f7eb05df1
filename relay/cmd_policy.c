/* sallyport-relay policy check|apply|show|explain */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/ytree.h"
#include "policy/compile.h"
#include "policy/policy.h"
#include "relay/cli.h"
#include "relay/explain.h"

static const char usage[] =
    "usage: sallyport-relay policy COMMAND\n"
    "\n"
    "  check FILE    validates FILE; changes nothing\n"
    "  apply FILE    validates FILE, compiles it into the store and makes\n"
    "                it live (a running relay picks it up within a second)\n"
    "  show          prints the live policy as it was applied\n"
    "  explain --user NAME --to HOST:PORT [--from IP | --country CC]\n"
    "          [--asn N] [--at RFC3339] [--device NAME] [--no-mfa]\n"
    "          [--risk N] [--json]\n"
    "                decides a request as the relay would and shows why\n"
    "\n"
    "Errors read FILE:LINE:COLUMN: message.  See docs/policy.md.\n";

static void print_warning(void *ctx, const char *line) {
  fprintf(stderr, "%s\n", line);
}

/* Loads and parses FILE ("-" for standard input); prints errors. */
static int load(const struct cli *c, const char *file, struct policy **p) {
  char msg[1024];
  char *text;
  size_t len;
  int rc;

  rc = sp_read_file(file, YTREE_MAX_INPUT, &text, &len);
  if (rc != 0)
    return cli_fail(c, "cannot read %s: %s", file, sp_strerror(rc));
  rc = policy_parse(file, text, len, p, msg, sizeof(msg));
  free(text);
  if (rc != 0) {
    fprintf(stderr, "%s\n", msg);
    return CLI_FAIL;
  }
  return 0;
}

static int check_or_apply(struct cli *c, int argc, char **argv, int apply) {
  struct policy_warn warn = {print_warning, NULL};
  struct policy *p;
  struct store *s = NULL;
  struct sp_json j;
  int rc;

  if (cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  if (argc != 2)
    return cli_usage(c, "expected one policy file");
  if (load(c, argv[1], &p) != 0)
    return CLI_FAIL;
  rc = cli_open_store(c, &s);
  if (rc == 0)
    rc = policy_lint(s, p, argv[1], &warn);
  if (rc == 0 && apply) {
    rc = policy_compile(s, p, argv[1], time(NULL));
    if (rc != 0)
      cli_fail(c, "cannot apply %s: %s", argv[1], sp_strerror(rc));
  }
  store_close(s);
  if (rc == 0) {
    printf("%s: %s (%zu resources, %zu groups, %zu rules)\n", argv[1],
           apply ? "applied" : "ok", p->n_resources, p->n_groups, p->n_rules);
    if (apply) {
      sp_audit_begin(&j, "policy_apply");
      sp_json_str(&j, "file", argv[1]);
      sp_json_int(&j, "rules", (int64_t)p->n_rules);
      sp_json_int(&j, "resources", (int64_t)p->n_resources);
      cli_audit(c, &j);
    }
  }
  policy_free(p);
  return rc == 0 ? CLI_OK : CLI_FAIL;
}

static int policy_check_cmd(struct cli *c, int argc, char **argv) {
  return check_or_apply(c, argc, argv, 0);
}

static int policy_apply_cmd(struct cli *c, int argc, char **argv) {
  return check_or_apply(c, argc, argv, 1);
}

static int policy_show_cmd(struct cli *c, int argc, char **argv) {
  struct store *s;
  MDB_txn *txn;
  const char *text;
  size_t len;
  int rc;

  if (argc != 1)
    return cli_usage(c, "'policy show' takes no arguments");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc == 0) {
    rc = policy_text_get(s, txn, &text, &len);
    if (rc == 0)
      fwrite(text, 1, len, stdout);
    else if (rc == SP_ENOTFOUND)
      printf("# No policy has been applied: every request is denied.\n");
    mdb_txn_abort(txn);
  }
  store_close(s);
  if (rc != 0 && rc != SP_ENOTFOUND)
    return cli_fail(c, "%s", sp_strerror(rc));
  return CLI_OK;
}

int cmd_policy(struct cli *c, int argc, char **argv) {
  static const struct cli_command table[] = {
      {"check", policy_check_cmd, NULL},
      {"apply", policy_apply_cmd, NULL},
      {"show", policy_show_cmd, NULL},
      {"explain", policy_explain_cmd, NULL},
      {NULL, NULL, NULL}};

  return cli_dispatch(c, table, usage, argc, argv);
}
