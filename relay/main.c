/*
 * sallyport-relay: the relay daemon and its admin subcommands.
 *
 * `--state DIR` may stand anywhere on the command line; without it the
 * state directory is $SALLYPORT_STATE, or /var/lib/sallyport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"

#include "relay/cli.h"

#define DEFAULT_STATE "/var/lib/sallyport"

static const char usage[] =
    "usage: sallyport-relay [--state DIR] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  init        create a relay's state directory\n"
    "  serve       run the relay\n"
    "  user        add, disable, enable, remove and list users\n"
    "  device      issue, revoke and list device certificates\n"
    "  connector   enrol, list and revoke connectors\n"
    "  policy      check, apply, show and explain the access policy\n"
    "  login       log a user in from the command line; prints a token\n"
    "  token       list and revoke access tokens\n"
    "  audit       print the audit trail (--follow to keep going)\n"
    "  sessions    list the running relay's sessions; kill one or a user's\n"
    "\n"
    "State: --state DIR, else $SALLYPORT_STATE, else " DEFAULT_STATE ".\n"
    "Every command takes --help.\n";

static const struct cli_command commands[] = {
    {"init", cmd_init, "create a relay's state directory"},
    {"serve", cmd_serve, "run the relay"},
    {"user", cmd_user, "manage users"},
    {"device", cmd_device, "manage device certificates"},
    {"connector", cmd_connector, "manage connectors"},
    {"policy", cmd_policy, "manage the access policy"},
    {"login", cmd_login, "log a user in"},
    {"token", cmd_token, "manage access tokens"},
    {"audit", cmd_audit, "print the audit trail"},
    {"sessions", cmd_sessions, "list or kill the relay's sessions"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
  struct cli c = {NULL, NULL};
  const char *env = getenv("SALLYPORT_STATE");

  c.state = env != NULL && env[0] != '\0' ? env : DEFAULT_STATE;
  argc = sp_take_state(argc, argv, &c.state);
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("sallyport-relay %s\n", SP_VERSION);
    return CLI_OK;
  }
  if (c.state[0] == '\0')
    return cli_usage(&c, "--state needs a directory");
  return cli_dispatch(&c, commands, usage, argc, argv);
}
