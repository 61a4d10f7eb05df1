/* sallyport-relay init: a new state directory with its CA and store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/err.h"
#include "common/fileio.h"
#include "policy/policy.h"
#include "relay/cli.h"
#include "relay/config.h"
#include "tunnel/pki.h"

static const char help[] =
    "usage: sallyport-relay init --state DIR [--name NAME]\n"
    "\n"
    "Creates DIR (mode 0700) with a new CA (ECDSA P-256), the relay's\n"
    "certificate for NAME, localhost, 127.0.0.1 and ::1, the store,\n"
    "relay.yaml with the defaults and an example policy.yaml.  Nothing is\n"
    "allowed until a policy is applied.  Refuses to overwrite anything.\n"
    "\n"
    "  --name NAME   the relay's public host name or address "
    "(default: localhost)\n";

static const char example_policy[] =
    "# An example policy; see docs/policy.md.  Nothing is allowed until\n"
    "# a policy is applied:  sallyport-relay policy apply policy.yaml\n"
    "resources:\n"
    "  wiki:     {address: wiki.corp:443,  connector: paris-office}\n"
    "  postgres: {address: 10.20.0.5:5432, connector: paris-office}\n"
    "groups:\n"
    "  engineering: [alice, bob]\n"
    "rules:\n"
    "  - name: engineers-wiki-office-hours\n"
    "    action: allow\n"
    "    resources: [wiki]\n"
    "    groups: [engineering]\n"
    "    mfa: true\n"
    "    days: [mon-fri]\n"
    "    hours: \"08:00-19:00\"\n"
    "    timezone: Europe/Paris\n"
    "  - name: dba-postgres\n"
    "    action: allow\n"
    "    resources: [postgres]\n"
    "    users: [bob]\n"
    "    mfa: true\n"
    "default: deny\n";

/* The files init creates; any of them present means "already a relay". */
static const char *const state_files[] = {
    "relay.yaml", "store.mdb",   "policy.yaml", PKI_CA_KEY,
    PKI_CA_CRT,   PKI_RELAY_KEY, PKI_RELAY_CRT, NULL};

static int name_valid(const char *name) {
  char addr[300], canon[POLICY_ADDR_MAX];

  if (strlen(name) == 0 || strlen(name) > PKI_NAME_MAX)
    return 0;
  snprintf(addr, sizeof(addr), strchr(name, ':') ? "[%s]:1" : "%s:1", name);
  return policy_addr_canon(addr, canon, sizeof(canon)) == 0;
}

/* mkdir -p, the last component 0700. */
static int make_dir(const char *dir) {
  char path[4096];
  char *p;

  if (strlen(dir) >= sizeof(path))
    return SP_ETOOBIG;
  strcpy(path, dir);
  for (p = path + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return -errno;
  return 0;
}

static int refuse_existing(const struct cli *c) {
  char path[4096];
  int i;

  for (i = 0; state_files[i] != NULL; i++) {
    snprintf(path, sizeof(path), "%s/%s", c->state, state_files[i]);
    if (access(path, F_OK) == 0)
      return cli_fail(c,
                      "%s already exists; refusing to overwrite a relay's "
                      "state",
                      path);
  }
  return 0;
}

/*
 * relay.crt carries the CA certificate after the relay's own, so a
 * connector that pins the CA by fingerprint (enrolment) finds it in the
 * chain the relay sends.
 */
static int append_ca(const struct cli *c) {
  char crt[4096], ca[4096], tmp[4200];
  char *leaf = NULL, *root = NULL, *both;
  size_t n1, n2;
  int rc;

  snprintf(crt, sizeof(crt), "%s/%s", c->state, PKI_RELAY_CRT);
  snprintf(ca, sizeof(ca), "%s/%s", c->state, PKI_CA_CRT);
  snprintf(tmp, sizeof(tmp), "%s.new", crt);
  rc = sp_read_file(crt, 65536, &leaf, &n1);
  if (rc == 0)
    rc = sp_read_file(ca, 65536, &root, &n2);
  both = rc == 0 ? malloc(n1 + n2) : NULL;
  if (rc == 0 && both == NULL)
    rc = SP_ENOMEM;
  if (rc == 0) {
    memcpy(both, leaf, n1);
    memcpy(both + n1, root, n2);
    rc = sp_write_file(tmp, both, n1 + n2, 0644);
  }
  if (rc == 0 && rename(tmp, crt) != 0)
    rc = -errno;
  free(leaf);
  free(root);
  free(both);
  return rc;
}

static int write_state(const struct cli *c, const char *name,
                       struct pki_cert_info *ca_info) {
  char path[4096];
  struct pki_ca ca;
  struct store *s;
  int rc;

  rc = store_open(&s, c->state, STORE_CREATE);
  if (rc != 0)
    return cli_fail(c, "cannot create the store: %s", sp_strerror(rc));
  store_close(s);

  pki_ca_init(&ca);
  rc = pki_ca_create(&ca, c->state, name);
  if (rc == 0)
    rc = pki_crt_info(&ca.crt, ca_info);
  if (rc == 0)
    rc = pki_relay_issue(&ca, c->state, name, NULL);
  pki_ca_free(&ca);
  if (rc == 0)
    rc = append_ca(c);
  if (rc != 0)
    return cli_fail(c, "cannot create the CA: %s", sp_strerror(rc));

  rc = relay_config_write_default(c->state, name);
  snprintf(path, sizeof(path), "%s/policy.yaml", c->state);
  if (rc == 0)
    rc = sp_write_file(path, example_policy, strlen(example_policy), 0644);
  if (rc != 0)
    return cli_fail(c, "cannot write the configuration: %s", sp_strerror(rc));
  return 0;
}

int cmd_init(struct cli *c, int argc, char **argv) {
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = "localhost";
  struct pki_cert_info ca_info;
  struct sp_json j;
  int opt, rc;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(help, stdout);
      return CLI_OK;
    }
    if (opt != 'n')
      return cli_usage(c, "unknown option");
    name = optarg;
  }
  if (optind != argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if (!name_valid(name))
    return cli_usage(c, "--name must be a host name or an IP address");

  rc = make_dir(c->state);
  if (rc != 0)
    return cli_fail(c, "cannot create %s: %s", c->state, sp_strerror(rc));
  if (refuse_existing(c) != 0 || write_state(c, name, &ca_info) != 0)
    return CLI_FAIL;

  sp_audit_begin(&j, "relay_init");
  sp_json_str(&j, "name", name);
  sp_json_str(&j, "ca_fingerprint", ca_info.fingerprint);
  cli_audit(c, &j);
  printf("Initialised relay \"%s\" in %s\n"
         "  CA certificate  %s/ca.crt (sha256 %s)\n"
         "  settings        %s/relay.yaml\n"
         "  example policy  %s/policy.yaml (not applied: everything is "
         "denied until 'policy apply')\n",
         name, c->state, c->state, ca_info.fingerprint, c->state, c->state);
  return CLI_OK;
}
