/* sallyport-relay user add|disable|enable|remove|list */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/timefmt.h"
#include "policy/passwd.h"
#include "policy/policy.h"
#include "policy/totp.h"
#include "policy/user.h"
#include "relay/cli.h"
#include "relay/config.h"

static const char usage[] =
    "usage: sallyport-relay user COMMAND\n"
    "\n"
    "  add NAME --password-stdin [--groups G1,G2] [--no-mfa]\n"
    "      Adds a user.  The password is the first line of standard input.\n"
    "      Prints the TOTP secret (base32) and, on the last line, an\n"
    "      otpauth:// URI for an authenticator app; --no-mfa users log in\n"
    "      with the password alone.\n"
    "  disable NAME    refuses new logins and revokes every token\n"
    "  enable NAME\n"
    "  remove NAME     deletes the user and revokes every token\n"
    "  list [--json]\n";

/* Splits "a,b,c" into a strlist; every item must be a valid name. */
static int parse_groups(const struct cli *c, char *arg, struct sp_wbuf *w,
                        struct sp_strlist *out) {
  const char *items[256];
  size_t n = 0;
  char *tok, *save = NULL;

  for (tok = strtok_r(arg, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    if (!policy_name_valid(tok))
      return cli_usage(c, "'%s' is not a valid group name", tok);
    if (n == sizeof(items) / sizeof(items[0]))
      return cli_usage(c, "too many groups");
    items[n++] = tok;
  }
  if (sp_strlist_build(out, w, items, n) != 0)
    return cli_fail(c, "out of memory");
  return 0;
}

static int read_password(const struct cli *c, char *pw, size_t size,
                         size_t *len) {
  int rc = sp_read_stdin_line(pw, size, len);

  if (rc == SP_ETOOBIG)
    return cli_fail(c, "the password is longer than %d bytes", PASSWD_MAX_LEN);
  if (rc != 0 || *len == 0)
    return cli_fail(c, "no password on standard input");
  return 0;
}

static void print_secret(const struct cli *c, const char *name,
                         const uint8_t *secret) {
  struct relay_config cfg;
  char b32[TOTP_BASE32_MAX], uri[TOTP_URI_MAX], account[400], msg[512];

  /* The account shown in authenticator apps names the relay too. */
  if (relay_config_load(&cfg, c->state, msg, sizeof(msg)) != 0)
    relay_config_defaults(&cfg);
  snprintf(account, sizeof(account), "%s@%s", name, cfg.name);
  relay_config_free(&cfg);
  totp_base32(b32, sizeof(b32), secret, TOTP_SECRET_LEN);
  totp_uri(uri, sizeof(uri), "Sallyport", account, secret, TOTP_SECRET_LEN);
  printf("TOTP secret (base32): %s\n%s\n", b32, uri);
}

static int user_add_cmd(struct cli *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"groups", required_argument, NULL, 'g'},
      {"password-stdin", no_argument, NULL, 'p'},
      {"no-mfa", no_argument, NULL, 'm'},
      {NULL, 0, NULL, 0}};
  char pw[PASSWD_MAX_LEN + 2], *groups_arg = NULL;
  uint8_t secret[TOTP_SECRET_LEN];
  struct sp_strlist groups = {0};
  struct sp_wbuf gbuf;
  struct store *s;
  struct sp_json j;
  int opt, rc, pw_stdin = 0, no_mfa = 0;
  size_t pw_len;
  const char *name;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'g')
      groups_arg = optarg;
    else if (opt == 'p')
      pw_stdin = 1;
    else if (opt == 'm')
      no_mfa = 1;
    else
      return cli_usage(c, "unknown option");
  }
  if (optind + 1 != argc)
    return cli_usage(c, "expected one user name");
  name = argv[optind];
  if (!policy_name_valid(name))
    return cli_usage(c,
                     "'%s' is not a valid user name (1-64 of "
                     "A-Z a-z 0-9 . _ @ -)",
                     name);
  if (!pw_stdin)
    return cli_usage(c, "give the password on standard input with "
                        "--password-stdin");

  sp_wbuf_init(&gbuf);
  if ((groups_arg && parse_groups(c, groups_arg, &gbuf, &groups) != 0) ||
      read_password(c, pw, sizeof(pw), &pw_len) != 0) {
    sp_wbuf_free(&gbuf);
    return CLI_FAIL;
  }
  rc = cli_open_store(c, &s);
  if (rc == 0) {
    rc = user_add(s, name, &groups, pw, pw_len, no_mfa, 0, time(NULL), secret);
    store_close(s);
    if (rc == SP_EEXIST)
      cli_fail(c, "user '%s' already exists", name);
    else if (rc != 0)
      cli_fail(c, "cannot add '%s': %s", name, sp_strerror(rc));
  }
  memset(pw, 0, sizeof(pw));
  if (rc != 0) {
    sp_wbuf_free(&gbuf);
    return CLI_FAIL;
  }

  sp_audit_begin(&j, "user_add");
  sp_json_str(&j, "user", name);
  sp_json_str(&j, "groups", groups_arg ? groups_arg : "");
  sp_json_bool(&j, "mfa", !no_mfa);
  cli_audit(c, &j);
  sp_wbuf_free(&gbuf);
  printf("Added user %s%s\n", name, no_mfa ? " (no MFA)" : "");
  if (!no_mfa)
    print_secret(c, name, secret);
  memset(secret, 0, sizeof(secret));
  return CLI_OK;
}

/* disable, enable and remove share everything but the call. */
static int user_change_cmd(struct cli *c, int argc, char **argv,
                           const char *event) {
  struct store *s;
  struct sp_json j;
  int rc;

  if (cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  if (argc != 2)
    return cli_usage(c, "expected one user name");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  if (strcmp(event, "user_remove") == 0)
    rc = user_remove(s, argv[1]);
  else
    rc = user_set_disabled(s, argv[1], strcmp(event, "user_disable") == 0);
  store_close(s);
  if (rc == SP_ENOTFOUND)
    return cli_fail(c, "no user '%s'", argv[1]);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));

  sp_audit_begin(&j, event);
  sp_json_str(&j, "user", argv[1]);
  cli_audit(c, &j);
  printf("%s: %s\n", argv[1], event + 5);
  return CLI_OK;
}

static int user_disable_cmd(struct cli *c, int argc, char **argv) {
  return user_change_cmd(c, argc, argv, "user_disable");
}

static int user_enable_cmd(struct cli *c, int argc, char **argv) {
  return user_change_cmd(c, argc, argv, "user_enable");
}

static int user_remove_cmd(struct cli *c, int argc, char **argv) {
  return user_change_cmd(c, argc, argv, "user_remove");
}

static void groups_text(const struct sp_strlist *l, char *out, size_t n) {
  struct sp_strlist_iter it;
  const char *g;
  size_t len = 0;

  out[0] = '\0';
  sp_strlist_iter_init(&it, l);
  while ((g = sp_strlist_next(&it)) != NULL && len < n)
    len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", g);
}

static int print_user(void *ctx, const struct user_rec *u) {
  int *json = ctx;
  char groups[1024], created[SP_TIME_MAX];
  const char *status = u->flags & USER_DISABLED ? "disabled" : "enabled";
  struct sp_json j;

  groups_text(&u->groups, groups, sizeof(groups));
  sp_time_format(created, u->created);
  if (!*json) {
    printf("%-24s %-9s %-4s %-20s %s\n", u->name, status,
           u->flags & USER_NO_MFA ? "no" : "yes", created,
           groups[0] ? groups : "-");
    return 0;
  }
  sp_json_begin(&j);
  sp_json_str(&j, "name", u->name);
  sp_json_str(&j, "status", status);
  sp_json_bool(&j, "mfa", !(u->flags & USER_NO_MFA));
  sp_json_str(&j, "groups", groups);
  sp_json_str(&j, "created", created);
  printf("%s%s", json[1]++ ? "," : "", sp_json_end(&j));
  sp_json_free(&j);
  return 0;
}

static int user_list_cmd(struct cli *c, int argc, char **argv) {
  int json[2] = {0, 0}, rc;
  struct store *s;

  if (argc == 2 && strcmp(argv[1], "--json") == 0)
    json[0] = 1;
  else if (argc != 1)
    return cli_usage(c, "usage: user list [--json]");
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  if (json[0])
    printf("[");
  else
    printf("%-24s %-9s %-4s %-20s %s\n", "NAME", "STATUS", "MFA", "CREATED",
           "GROUPS");
  rc = user_foreach(s, print_user, json);
  if (json[0])
    printf("]\n");
  store_close(s);
  return rc == 0 ? CLI_OK : cli_fail(c, "%s", sp_strerror(rc));
}

int cmd_user(struct cli *c, int argc, char **argv) {
  static const struct cli_command table[] = {
      {"add", user_add_cmd, NULL},       {"disable", user_disable_cmd, NULL},
      {"enable", user_enable_cmd, NULL}, {"remove", user_remove_cmd, NULL},
      {"list", user_list_cmd, NULL},     {NULL, NULL, NULL}};

  if (argc >= 2 && cli_wants_help(argc, argv) &&
      strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  return cli_dispatch(c, table, usage, argc, argv);
}
