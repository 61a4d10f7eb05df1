#include "relay/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/audit.h"
#include "common/err.h"

static void vsay(const struct cli *c, const char *fmt, va_list ap) {
  fprintf(stderr, "sallyport-relay: %s%s", c->cmd ? c->cmd : "",
          c->cmd ? ": " : "");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int cli_fail(const struct cli *c, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsay(c, fmt, ap);
  va_end(ap);
  return CLI_FAIL;
}

int cli_usage(const struct cli *c, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsay(c, fmt, ap);
  va_end(ap);
  fprintf(stderr, "Try 'sallyport-relay %s --help'.\n", c->cmd ? c->cmd : "");
  return CLI_USAGE;
}

int cli_open_store(const struct cli *c, struct store **s) {
  int rc = store_open(s, c->state, 0);

  if (rc == SP_ENOTFOUND) {
    cli_fail(c, "no relay state in %s; run 'sallyport-relay init --state %s'",
             c->state, c->state);
  } else if (rc == SP_EFORMAT) {
    cli_fail(c, "the store in %s has a format this version cannot read",
             c->state);
  } else if (rc != 0) {
    cli_fail(c, "cannot open the store in %s: %s", c->state, sp_strerror(rc));
  }
  return rc;
}

void cli_audit(const struct cli *c, struct sp_json *j) {
  struct sp_audit a;
  int rc;

  rc = sp_audit_open(&a, c->state);
  if (rc == 0) {
    rc = sp_audit_write(&a, j);
    sp_audit_close(&a);
  } else {
    sp_json_free(j);
  }
  if (rc != 0)
    fprintf(stderr,
            "sallyport-relay: warning: audit record not written: "
            "%s\n",
            sp_strerror(rc));
}

int cli_wants_help(int argc, char **argv) {
  int i;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return 1;
  }
  return 0;
}

int cli_dispatch(struct cli *c, const struct cli_command *table,
                 const char *usage, int argc, char **argv) {
  char name[64];
  const struct cli_command *cmd;

  if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "--help") == 0) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_USAGE : CLI_OK;
  }
  for (cmd = table; cmd->name != NULL; cmd++)
    if (strcmp(cmd->name, argv[1]) == 0)
      break;
  if (cmd->name == NULL)
    return cli_usage(c, "unknown command '%s'", argv[1]);
  snprintf(name, sizeof(name), "%s%s%s", c->cmd ? c->cmd : "",
           c->cmd ? " " : "", cmd->name);
  c->cmd = name;
  return cmd->run(c, argc - 1, argv + 1);
}
