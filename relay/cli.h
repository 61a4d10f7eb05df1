/*
 * What every `sallyport-relay` subcommand shares: the state directory,
 * one-line errors on stderr, opening the store, writing audit records.
 *
 * Exit codes: 0 success, 1 the command failed, 2 the command line was
 * wrong.  Errors are one line: "sallyport-relay: user add: message".
 */
#ifndef SP_RELAY_CLI_H
#define SP_RELAY_CLI_H

#include "common/json.h"
#include "policy/store.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli {
  const char *state; /* the state directory; never NULL */
  const char *cmd;   /* e.g. "user add", for messages */
};

struct cli_command {
  const char *name;
  int (*run)(struct cli *c, int argc, char **argv);
  const char *summary;
};

/* Prints "sallyport-relay: CMD: message" and returns CLI_FAIL. */
int cli_fail(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same, returning CLI_USAGE and pointing at --help. */
int cli_usage(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens the store with a clear message when it is missing or broken. */
int cli_open_store(const struct cli *c, struct store **s);

/* Appends an audit record begun with sp_audit_begin(); warns on error. */
void cli_audit(const struct cli *c, struct sp_json *j);

/* Runs the subcommand argv[0] of `table`, or prints `usage`. */
int cli_dispatch(struct cli *c, const struct cli_command *table,
                 const char *usage, int argc, char **argv);

/* 1 if argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

int cmd_init(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_sessions(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);
int cmd_device(struct cli *c, int argc, char **argv);
int cmd_connector(struct cli *c, int argc, char **argv);
int cmd_policy(struct cli *c, int argc, char **argv);
int cmd_login(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);

#endif
