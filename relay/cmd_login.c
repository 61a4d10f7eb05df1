/*
 * sallyport-relay login: what POST /v1/login does, from the command line
 * (for scripts and for admins issuing a token to a service account), and
 * sallyport-relay token list|revoke.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/timefmt.h"
#include "policy/login.h"
#include "policy/passwd.h"
#include "relay/cli.h"
#include "relay/config.h"

static const char login_usage[] =
    "usage: sallyport-relay login USER --password-stdin [--otp CODE]\n"
    "                             [--from ADDRESS]\n"
    "\n"
    "Logs USER in as POST /v1/login would and prints\n"
    "{\"token\":\"...\",\"expires\":\"...\"}.  The password is the first line\n"
    "of standard input; --otp is the current TOTP code (not needed for\n"
    "--no-mfa users).  The token is bound to --from (default 127.0.0.1):\n"
    "it only works for connections from that address.  Failures count\n"
    "towards lockouts like any other login.\n";

static void audit_login(const struct cli *c, const struct login_req *req,
                        const struct login_res *res, int rc) {
  struct sp_json j;

  sp_audit_begin(&j, "login");
  sp_json_str(&j, "user", req->user);
  sp_json_str(&j, "source", req->source);
  sp_json_str(&j, "outcome", rc == 0 ? "ok" : "fail");
  sp_json_str(&j, "reason", rc == 0 ? NULL : res->reason);
  sp_json_bool(&j, "mfa", res->mfa);
  sp_json_str(&j, "via", "cli");
  cli_audit(c, &j);
}

static int run_login(const struct cli *c, struct login_req *req) {
  char pw[PASSWD_MAX_LEN + 2], msg[512], expires[SP_TIME_MAX];
  struct relay_config cfg;
  struct login_res res;
  struct store *s;
  int rc;

  if (relay_config_load(&cfg, c->state, msg, sizeof(msg)) != 0)
    return cli_fail(c, "%s", msg);
  req->ttl = cfg.token_ttl;
  relay_config_free(&cfg);
  rc = sp_read_stdin_line(pw, sizeof(pw), &req->password_len);
  if (rc != 0)
    return cli_fail(c, "no password on standard input");
  req->password = pw;
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;

  req->now = time(NULL);
  rc = login(s, req, &res);
  memset(pw, 0, sizeof(pw));
  store_close(s);
  if (rc == 0 || rc == SP_EAUTH || rc == SP_ELOCKED)
    audit_login(c, req, &res, rc);
  if (rc == SP_ELOCKED)
    return cli_fail(c,
                    "too many failed logins: locked out for %lld more "
                    "seconds",
                    (long long)res.retry_after);
  if (rc == SP_EAUTH)
    return cli_fail(c, "login failed");
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  printf("{\"token\":\"%s\",\"expires\":\"%s\"}\n", res.token,
         sp_time_format(expires, res.expires));
  memset(&res, 0, sizeof(res));
  return CLI_OK;
}

int cmd_login(struct cli *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"password-stdin", no_argument, NULL, 'p'},
      {"otp", required_argument, NULL, 'o'},
      {"from", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct login_req req;
  int opt, pw_stdin = 0;

  memset(&req, 0, sizeof(req));
  req.source = "127.0.0.1";
  optind = 0;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(login_usage, stdout);
      return CLI_OK;
    } else if (opt == 'p') {
      pw_stdin = 1;
    } else if (opt == 'o') {
      req.otp = optarg;
    } else if (opt == 'f') {
      req.source = optarg;
    } else {
      return cli_usage(c, "unknown option");
    }
  }
  if (optind + 1 != argc)
    return cli_usage(c, "expected one user name");
  if (!pw_stdin)
    return cli_usage(c, "give the password on standard input with "
                        "--password-stdin");
  req.user = argv[optind];
  return run_login(c, &req);
}
