/*
 * sallyport-connector: enrols with a relay, then runs the connector.
 *
 * `--state DIR` may stand anywhere on the command line; without it the
 * state directory is $SALLYPORT_STATE, or /var/lib/sallyport.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"

#include "common/err.h"
#include "common/log.h"
#include "common/nofile.h"
#include "common/timefmt.h"
#include "connector/agent.h"
#include "connector/allow.h"
#include "connector/cmd.h"
#include "connector/statedir.h"

#define DEFAULT_STATE "/var/lib/sallyport"

#ifndef SP_VERSION
#define SP_VERSION "0"
#endif

static const char usage[] =
    "usage: sallyport-connector [--state DIR] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  enroll      enrol with a relay using a one-time token\n"
    "  run         keep tunnels to the relay and dial what it asks for,\n"
    "              within the allowlist\n"
    "\n"
    "State: --state DIR, else $SALLYPORT_STATE, else " DEFAULT_STATE ".\n"
    "Every command takes --help.\n";

static const char run_help[] =
    "usage: sallyport-connector run --state DIR --allow ENTRY [--allow ENTRY"
    " ...]\n"
    "                           [--tunnels N] [--renew-before DURATION]\n"
    "                           [--debug]\n"
    "\n"
    "Keeps N tunnels (default 2) to the relay named in DIR/connector.yaml\n"
    "and dials, for the streams the relay opens, only destinations that an\n"
    "--allow entry permits.  An entry is a network (10.20.0.0/16,\n"
    "[2001:db8::]/32), a host name (wiki.corp) or a wildcard (*.corp), each\n"
    "with an optional :port.  Opens no listening socket.  Logs one\n"
    "key=value line per event on stderr; SIGINT or SIGTERM stops it.\n"
    "\n"
    "Renews the connector's certificate over a tunnel once it has less than\n"
    "--renew-before left (a duration such as 30d or 12h; by default a third\n"
    "of the certificate's lifetime), checking at start and then hourly.\n";

static void vsay(const char *cmd, const char *fmt, va_list ap) {
  fprintf(stderr, "sallyport-connector: %s%s", cmd != NULL ? cmd : "",
          cmd != NULL ? ": " : "");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int cmd_fail(const char *cmd, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsay(cmd, fmt, ap);
  va_end(ap);
  return CMD_FAIL;
}

int cmd_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsay(cmd, fmt, ap);
  va_end(ap);
  fprintf(stderr, "Try 'sallyport-connector %s%s--help'.\n",
          cmd != NULL ? cmd : "", cmd != NULL ? " " : "");
  return CMD_USAGE;
}

/* --tunnels N: 1 to AGENT_TUNNELS_MAX. */
static int parse_tunnels(const char *s, unsigned *out) {
  char *end;
  long v = strtol(s, &end, 10);

  if (*s == '\0' || *end != '\0' || v < 1 || v > AGENT_TUNNELS_MAX)
    return cmd_usage("run", "--tunnels must be 1 to %d", AGENT_TUNNELS_MAX);
  *out = (unsigned)v;
  return CMD_OK;
}

static int parse_allow(struct allow_list *l, const char *entry) {
  char err[200];

  if (allow_parse(l, entry, err, sizeof(err)) != 0)
    return cmd_usage("run", "bad --allow '%s': %s", entry, err);
  return CMD_OK;
}

/* --renew-before DURATION: more than 0, at most AGENT_RENEW_BEFORE_MAX. */
static int parse_renew_before(const char *s, int64_t *out) {
  int64_t v;

  if (sp_duration_parse(s, &v) != 0 || v <= 0 || v > AGENT_RENEW_BEFORE_MAX)
    return cmd_usage("run", "--renew-before wants a duration like 30d or "
                            "12h, at most 3650d");
  *out = v;
  return CMD_OK;
}

/* Reads the options of `run` into `o`; -1 after --help. */
static int run_args(int argc, char **argv, struct allow_list *allow,
                    struct agent_opts *o) {
  static const struct option opts[] = {
      {"allow", required_argument, NULL, 'a'},
      {"tunnels", required_argument, NULL, 'n'},
      {"renew-before", required_argument, NULL, 'r'},
      {"debug", no_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int opt, rc = CMD_OK;

  optind = 1;
  opterr = 0;
  while (rc == CMD_OK &&
         (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(run_help, stdout);
      return -1;
    }
    if (opt == 'a')
      rc = parse_allow(allow, optarg);
    else if (opt == 'n')
      rc = parse_tunnels(optarg, &o->tunnels);
    else if (opt == 'r')
      rc = parse_renew_before(optarg, &o->renew_before);
    else if (opt == 'd')
      sp_log_set_level(SP_LOG_DEBUG);
    else
      rc = cmd_usage("run", "unknown option '%s'", argv[optind - 1]);
  }
  if (rc == CMD_OK && optind < argc)
    rc = cmd_usage("run", "unexpected argument '%s'", argv[optind]);
  if (rc == CMD_OK && allow->n == 0)
    rc = cmd_usage("run", "at least one --allow is required: the connector "
                          "dials nothing outside its allowlist");
  return rc;
}

int cmd_run(const char *state, int argc, char **argv) {
  struct agent_opts o = {.state = state, .tunnels = AGENT_TUNNELS_DEFAULT};
  struct statedir_conf conf;
  struct allow_list allow;
  char err[512] = "";
  int rc;

  allow_init(&allow);
  rc = run_args(argc, argv, &allow, &o);
  if (rc == CMD_OK && statedir_conf_load(state, &conf, err, sizeof(err)) != 0)
    rc = cmd_fail("run",
                  "%s; is the connector enrolled ('sallyport-connector "
                  "enroll --state %s --token TOKEN')?",
                  err, state);
  if (rc == CMD_OK) {
    sp_nofile_raise("connector");
    o.conf = &conf;
    o.allow = &allow;
    if (agent_run(&o, err, sizeof(err)) != 0)
      rc = cmd_fail("run", "%s", err[0] != '\0' ? err : "stopped unclean");
  }
  allow_free(&allow);
  return rc < 0 ? CMD_OK : rc;
}

int main(int argc, char **argv) {
  const char *env = getenv("SALLYPORT_STATE");
  const char *state = env != NULL && env[0] != '\0' ? env : DEFAULT_STATE;

  /* A peer that closes while we write must not kill the daemon. */
  signal(SIGPIPE, SIG_IGN);
  argc = sp_take_state(argc, argv, &state);
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? CMD_USAGE : CMD_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("sallyport-connector %s\n", SP_VERSION);
    return CMD_OK;
  }
  if (state[0] == '\0')
    return cmd_usage(NULL, "--state needs a directory");
  if (strcmp(argv[1], "enroll") == 0)
    return cmd_enroll(state, argc - 1, argv + 1);
  if (strcmp(argv[1], "run") == 0)
    return cmd_run(state, argc - 1, argv + 1);
  return cmd_usage(NULL, "unknown command '%s'", argv[1]);
}
