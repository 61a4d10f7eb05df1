/*
 * policy explain: decides one request exactly as the relay would, from
 * the same store, and shows admins everything a client is never told:
 * the decision, the deciding rule, the reason, and for every rule the
 * first condition that failed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/json.h"
#include "common/timefmt.h"
#include "geo/geo.h"
#include "policy/access.h"
#include "policy/device.h"
#include "policy/token.h"
#include "relay/config.h"
#include "relay/explain.h"

static const char help[] =
    "usage: sallyport-relay policy explain --user NAME --to HOST:PORT\n"
    "           [--from IP | --country CC] [--asn N] [--at RFC3339]\n"
    "           [--device NAME] [--no-mfa] [--risk N] [--json]\n"
    "\n"
    "Decides the request as the relay would, from the live policy, and\n"
    "prints `allow` or `deny`, the deciding rule and the reason, then for\n"
    "every rule the first condition that failed.  The token is assumed\n"
    "to come from an MFA login unless --no-mfa; --at defaults to now.\n"
    "--from looks the address up in the databases that relay.yaml names\n"
    "(geoip, geoip_asn; see docs/geoip.md); --country and --asn stand in\n"
    "for that lookup, and --asn overrides the ASN found for --from.\n"
    "Exit status 0 either way (an unknown user is a deny).\n";

struct explain_opts {
  struct access_query q;
  const char *from;               /* as given; NULL: none */
  char from_addr[TOKEN_ADDR_MAX]; /* its canonical text */
  const char *device; /* as given; q.device is set only if it counts */
  char country[3];
  int asn_given;
  int json;
};

static int country_valid(const char *s, char out[3]) {
  int i;

  if (strlen(s) != 2)
    return 0;
  for (i = 0; i < 2; i++) {
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
      return 0;
    out[i] = (char)(s[i] & ~0x20);
  }
  out[2] = '\0';
  return 1;
}

static int parse_opts(const struct cli *c, int argc, char **argv,
                      struct explain_opts *o) {
  static const struct option opts[] = {
      {"user", required_argument, NULL, 'u'},
      {"to", required_argument, NULL, 't'},
      {"from", required_argument, NULL, 'f'},
      {"country", required_argument, NULL, 'c'},
      {"asn", required_argument, NULL, 'a'},
      {"at", required_argument, NULL, 'T'},
      {"device", required_argument, NULL, 'd'},
      {"no-mfa", no_argument, NULL, 'M'},
      {"risk", required_argument, NULL, 'r'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  char *end;
  long v;
  int opt;

  memset(o, 0, sizeof(*o));
  o->q.mfa = 1;
  o->q.now = time(NULL);
  optind = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (opt) {
    case 'u':
      o->q.user = optarg;
      break;
    case 't':
      o->q.dest = optarg;
      break;
    case 'f':
      o->from = optarg;
      break;
    case 'c':
      o->q.country = optarg;
      break;
    case 'd':
      o->device = optarg;
      break;
    case 'M':
      o->q.mfa = 0;
      break;
    case 'j':
      o->json = 1;
      break;
    case 'h':
      fputs(help, stdout);
      return -1;
    case 'T':
      if (sp_time_parse(optarg, &o->q.now) != 0)
        return cli_usage(c, "--at wants a time like 2026-12-03T09:00:00Z");
      break;
    case 'a':
    case 'r':
      v = strtol(optarg, &end, 10);
      if (*optarg == '\0' || *end != '\0' || v < 0 ||
          v > (opt == 'r' ? 100 : 4294967295L))
        return cli_usage(c, "--%s wants a number", opt == 'r' ? "risk" : "asn");
      if (opt == 'r') {
        o->q.risk = (int)v;
      } else {
        o->q.asn = (uint32_t)v;
        o->asn_given = 1;
      }
      break;
    default:
      return cli_usage(c, "unknown option");
    }
  }
  if (optind != argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if (o->q.user == NULL || o->q.dest == NULL)
    return cli_usage(c, "--user and --to are required");
  if (o->from != NULL && o->q.country != NULL)
    return cli_usage(c, "--from and --country exclude each other");
  if (o->from != NULL && token_addr_canon(o->from, o->from_addr) != 0)
    return cli_usage(c, "--from wants an IP address");
  if (o->q.country != NULL && !country_valid(o->q.country, o->country))
    return cli_usage(c, "--country wants a two-letter code, like FR");
  if (o->q.country != NULL)
    o->q.country = o->country;
  return 0;
}

/*
 * Looks --from up as the relay would: in the databases relay.yaml names.
 * An address they do not know reads XX and ASN 0, which the policy
 * treats as unknown; a database that cannot be used is an error, not an
 * unknown, so that an explanation never rests on a silent guess.
 */
static int resolve_from(const struct cli *c, struct explain_opts *o) {
  struct relay_config cfg;
  struct geo_result r;
  struct geo *g;
  char msg[4096 + 256];
  int rc;

  if (relay_config_load(&cfg, c->state, msg, sizeof(msg)) != 0) {
    relay_config_free(&cfg);
    return cli_fail(c, "%s", msg);
  }
  rc = geo_open(&g, cfg.geoip, cfg.geoip_asn, msg, sizeof(msg));
  if (rc == SP_EUSAGE)
    snprintf(msg, sizeof(msg), "geoip is empty");
  relay_config_free(&cfg);
  if (rc != 0)
    return cli_fail(c,
                    "--from needs GeoIP: %s (set geoip and geoip_asn in "
                    "%s/relay.yaml; see docs/geoip.md)",
                    msg, c->state);

  rc = geo_lookup_ip(g, o->from_addr, &r);
  geo_close(g);
  if (rc != 0)
    return cli_fail(c, "--from %s: %s", o->from_addr, sp_strerror(rc));
  memcpy(o->country, r.country, sizeof(o->country));
  o->q.country = o->country;
  if (!o->asn_given)
    o->q.asn = r.asn;
  return 0;
}

/* Verdict lines are gathered first: the summary comes before them. */
struct printer {
  int json;
  int count;
  struct sp_wbuf out; /* text lines, or the JSON array's members */
};

static void print_verdict(void *ctx, const struct policy_verdict *v) {
  struct printer *p = ctx;
  struct sp_json j;
  char line[256];
  int n;

  if (!p->json) {
    n = snprintf(
        line, sizeof(line), "  %-32s %s%s\n", v->rule,
        v->matched ? "matched" : "failed: ", v->matched ? "" : v->failed);
    sp_wbuf_bytes(&p->out, line, (size_t)n < sizeof(line) ? (size_t)n : 0);
    return;
  }
  sp_json_begin(&j);
  sp_json_str(&j, "name", v->rule);
  sp_json_bool(&j, "matched", v->matched);
  sp_json_str(&j, "failed", v->failed);
  if (p->count++ > 0)
    sp_wbuf_u8(&p->out, ',');
  if (sp_json_end(&j) != NULL)
    sp_wbuf_bytes(&p->out, j.w.p, j.w.len - 1);
  sp_json_free(&j);
}

/*
 * The device counts only if it is registered, not revoked and the
 * user's own; otherwise the request is decided as having no device and
 * the note says why.
 */
static const char *resolve_device(struct store *s, MDB_txn *txn,
                                  struct access_query *q, int *rc) {
  struct device_rec d;
  const char *note = NULL;

  *rc = device_get(s, txn, q->device, &d);
  if (*rc == SP_ENOTFOUND) {
    *rc = 0;
    note = "not registered";
  } else if (*rc == 0 && d.revoked) {
    note = "revoked";
  } else if (*rc == 0 && strcmp(d.user, q->user) != 0) {
    note = "belongs to another user";
  } else if (*rc == 0) {
    q->device_tags = d.tags;
  }
  return note;
}

static void print_text(const struct explain_opts *o,
                       const struct access_result *r, const char *dev_note,
                       const struct sp_wbuf *lines) {
  char at[SP_TIME_MAX];

  printf("%s %s reason=%s\n", r->allow ? "allow" : "deny",
         r->rule[0] ? r->rule : "-", policy_reason_name(r->reason));
  printf("request: user=%s to=%s resource=%s connector=%s\n", o->q.user,
         o->q.dest, r->resource[0] ? r->resource : "-",
         r->connector[0] ? r->connector : "-");
  printf("context: mfa=%s device=%s%s%s%s country=%s asn=%u at=%s risk=%d\n",
         o->q.mfa ? "yes" : "no", o->device ? o->device : "-",
         dev_note ? " (" : "", dev_note ? dev_note : "", dev_note ? ")" : "",
         o->q.country ? o->q.country : "unknown", o->q.asn,
         sp_time_format(at, o->q.now), o->q.risk);
  if (r->report_rule[0])
    printf("report: rule %s (report mode) disagrees with this decision\n",
           r->report_rule);
  printf("rules:\n");
  fwrite(lines->p, 1, lines->len, stdout);
}

static void print_json(const struct explain_opts *o,
                       const struct access_result *r, struct sp_wbuf *rules) {
  struct sp_json j;

  sp_wbuf_u8(rules, ']');
  sp_wbuf_u8(rules, '\0');
  sp_json_begin(&j);
  sp_json_str(&j, "decision", r->allow ? "allow" : "deny");
  sp_json_str(&j, "rule", r->rule[0] ? r->rule : NULL);
  sp_json_str(&j, "reason", policy_reason_name(r->reason));
  sp_json_str(&j, "resource", r->resource[0] ? r->resource : NULL);
  sp_json_str(&j, "report_rule", r->report_rule[0] ? r->report_rule : NULL);
  sp_json_str(&j, "country", o->q.country);
  sp_json_int(&j, "asn", o->q.asn);
  sp_json_raw(&j, "rules", rules->err ? "[]" : (const char *)rules->p);
  printf("%s\n", sp_json_end(&j));
  sp_json_free(&j);
}

int policy_explain_cmd(struct cli *c, int argc, char **argv) {
  struct explain_opts o;
  struct access_result r;
  struct printer p = {0};
  const char *dev_note = NULL;
  struct store *s;
  MDB_txn *txn;
  int rc;

  rc = parse_opts(c, argc, argv, &o);
  if (rc != 0)
    return rc < 0 ? CLI_OK : rc;
  if (o.from != NULL && resolve_from(c, &o) != 0)
    return CLI_FAIL;
  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  p.json = o.json;
  sp_wbuf_init(&p.out);
  if (o.json)
    sp_wbuf_u8(&p.out, '[');

  rc = store_begin(s, MDB_RDONLY, &txn);
  if (rc == 0) {
    if (o.device != NULL) {
      o.q.device = o.device;
      dev_note = resolve_device(s, txn, &o.q, &rc);
      if (dev_note != NULL)
        o.q.device = NULL;
    }
    if (rc == 0)
      rc = access_explain(s, txn, &o.q, &r, print_verdict, &p);
    if (rc == 0 && o.json)
      print_json(&o, &r, &p.out);
    else if (rc == 0)
      print_text(&o, &r, dev_note, &p.out);
    mdb_txn_abort(txn);
  }
  sp_wbuf_free(&p.out);
  store_close(s);
  return rc == 0 ? CLI_OK : cli_fail(c, "%s", sp_strerror(rc));
}
