/* sallyport-relay serve: the daemon. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/nofile.h"
#include "geo/geo.h"
#include "policy/access.h"
#include "relay/api.h"
#include "relay/cli.h"
#include "relay/relay.h"
#include "relay/session.h"
#include "tunnel/tls.h"

static const char help[] =
    "usage: sallyport-relay serve --state DIR [--debug]\n"
    "\n"
    "Runs the relay: SOCKS5, HTTP CONNECT and HTTPS for clients, mutual\n"
    "TLS for connectors, Prometheus metrics, as set in DIR/relay.yaml.\n"
    "Logs one key=value line per event on stderr; audit records go to\n"
    "DIR/audit.jsonl.  SIGINT or SIGTERM stops it.\n";

MDB_txn *relay_txn_begin(struct relay *r) {
  if (mdb_txn_renew(r->rtxn) != 0)
    return NULL;
  return r->rtxn;
}

void relay_txn_end(struct relay *r) {
  mdb_txn_reset(r->rtxn);
}

/* A failed record is counted (sallyport_audit_failures_total) and logged,
   at most once a second: a full disk must not flood the log as well. */
void relay_audit(struct relay *r, struct sp_json *j) {
  int rc = sp_audit_write(&r->audit, j);
  uint64_t now;

  if (rc == 0)
    return;
  r->m.audit_failures++;
  r->audit_unlogged++;
  now = uv_now(r->loop);
  if (r->audit_logged_ms != 0 && now - r->audit_logged_ms < 1000)
    return;
  sp_warn("relay", "audit_failed", "err=%s failures=%llu", sp_err_name(rc),
          (unsigned long long)r->audit_unlogged);
  r->audit_logged_ms = now;
  r->audit_unlogged = 0;
}

int64_t relay_now(struct relay *r) {
  (void)r;
  return (int64_t)time(NULL);
}

static void poll_generation(struct relay *r) {
  MDB_txn *txn = relay_txn_begin(r);
  uint64_t gen;

  if (txn == NULL)
    return;
  gen = store_generation(r->store, txn);
  relay_txn_end(r);
  if (gen == r->generation)
    return;
  sp_debug("relay", "store_changed", "generation=%llu",
           (unsigned long long)gen);
  r->generation = gen;
  relay_tunnels_recheck(r);
  relay_sessions_recheck(r);
}

/* A changed database file is picked up without dropping anything. */
static void reload_geo(struct relay *r) {
  char err[512];
  int reopened = 0;

  if (r->geo == NULL)
    return;
  if (geo_reopen_if_changed(r->geo, &reopened, err, sizeof(err)) != 0)
    sp_warn("relay", "geoip_reload_failed", "why=\"%s\"", err);
  else if (reopened)
    sp_info("relay", "geoip_reloaded", "layout=%s", geo_layout_name(r->geo));
}

/* After logrotate (or any rename) the relay's records follow the path,
   where the admin commands write theirs. */
static void follow_audit(struct relay *r) {
  int rc = sp_audit_reopen_if_moved(&r->audit, r->state);

  if (rc > 0)
    sp_info("relay", "audit_reopened", "path=%s/audit.jsonl", r->state);
  else if (rc < 0 && !r->audit_reopen_failing) /* once, not every tick */
    sp_warn("relay", "audit_reopen_failed", "err=%s", sp_err_name(rc));
  r->audit_reopen_failing = rc < 0;
}

static void tick_cb(uv_timer_t *t) {
  struct relay *r = t->data;
  int64_t minute = relay_now(r) / 60;

  follow_audit(r);
  relay_tunnels_tick(r, uv_now(r->loop));
  relay_sessions_tick(r, uv_now(r->loop));
  poll_generation(r);

  /* Time windows open and close on minute boundaries: every live
     session is decided again when the minute changes. */
  if (minute != r->minute) {
    r->minute = minute;
    relay_sessions_recheck(r);
    reload_geo(r);
  }
}

static void stop(struct relay *r, const char *why) {
  if (r->stopping)
    return;
  r->stopping = 1;
  sp_info("relay", "stopping", "why=%s", why);
  listener_stop(&r->socks);
  listener_stop(&r->http);
  listener_stop(&r->https);
  listener_stop(&r->connectors);
  listener_stop(&r->metrics);
  relay_sessions_close_all(r);
  relay_tunnels_close_all(r);
  if (r->ready) /* a relay that never started leaves the tables alone */
    relay_live_clear(r);
  uv_close((uv_handle_t *)&r->tick, NULL);
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  uv_close((uv_handle_t *)&r->sighup, NULL);
}

static void signal_cb(uv_signal_t *s, int signum) {
  struct relay *r = s->data;

  if (signum == SIGHUP) {
    sp_info("relay", "sighup", "action=reload_geoip,reopen_audit");
    reload_geo(r);
    follow_audit(r);
    return;
  }
  stop(r, signum == SIGINT ? "sigint" : "sigterm");
}

static int open_tls(const struct cli *c, struct relay *r) {
  char ca[4096], crt[4096], key[4096];
  struct tls_server_opts o;
  int rc;

  snprintf(ca, sizeof(ca), "%s/%s", c->state, PKI_CA_CRT);
  snprintf(crt, sizeof(crt), "%s/%s", c->state, PKI_RELAY_CRT);
  snprintf(key, sizeof(key), "%s/%s", c->state, PKI_RELAY_KEY);
  memset(&o, 0, sizeof(o));
  o.ca_file = ca;
  o.crt_file = crt;
  o.key_file = key;
  o.client_cert = TLS_CLIENT_CERT_OPTIONAL;
  rc = tls_conf_server(&r->tls_clients, &o);
  if (rc == 0)
    rc = tls_conf_server(&r->tls_tunnels, &o);
  pki_ca_init(&r->ca);
  if (rc == 0)
    rc = pki_ca_load(&r->ca, c->state);
  if (rc == 0)
    rc = sp_read_file(ca, 1 << 16, &r->ca_pem, &r->ca_pem_len);
  if (rc != 0)
    return cli_fail(c, "cannot load the relay's certificates from %s: %s",
                    c->state, sp_strerror(rc));
  return 0;
}

static int start_listener(const struct cli *c, struct relay *r,
                          struct listener *l, const char *name,
                          const char *addr, void (*cb)(struct listener *)) {
  int rc;

  if (addr[0] == '\0')
    return 0;
  rc = listener_start(l, r->loop, name, addr, cb, r);
  if (rc != 0)
    return cli_fail(c, "cannot listen on %s (listen.%s): %s", addr, name,
                    rc == SP_EPARSE ? "bad address" : uv_strerror(rc));
  return 0;
}

static int start_listeners(const struct cli *c, struct relay *r) {
  const struct relay_listen *a = &r->cfg.listen;

  if (start_listener(c, r, &r->socks, "socks", a->socks, relay_socks_accept) !=
          0 ||
      start_listener(c, r, &r->http, "http", a->http, relay_http_accept) != 0 ||
      start_listener(c, r, &r->https, "https", a->https, relay_https_accept) !=
          0 ||
      start_listener(c, r, &r->connectors, "connectors", a->connectors,
                     relay_tunnel_accept) != 0 ||
      start_listener(c, r, &r->metrics, "metrics", a->metrics,
                     relay_metrics_accept) != 0)
    return CLI_FAIL;
  return 0;
}

/*
 * Opens the GeoIP databases when they exist.  Without them every
 * address is unknown, which fails every country and ASN condition; a
 * policy that has such conditions makes that a refusal to start.
 */
static int open_geo(const struct cli *c, struct relay *r) {
  const char *asn = r->cfg.geoip_asn;
  int countries = 0, asns = 0, rc;
  char err[512];

  rc = access_policy_needs_geo(r->store, r->rtxn, &countries, &asns);
  mdb_txn_reset(r->rtxn);
  if (rc != 0 && rc != SP_ENOTFOUND)
    return cli_fail(c, "cannot read the policy: %s", sp_strerror(rc));
  rc = geo_open(&r->geo, r->cfg.geoip, asn[0] ? asn : NULL, err, sizeof(err));
  if (rc == 0) {
    sp_info("relay", "geoip", "layout=%s path=%s", geo_layout_name(r->geo),
            r->cfg.geoip);
    return 0;
  }
  r->geo = NULL;
  if (countries || asns)
    return cli_fail(c,
                    "the policy has %s rules but GeoIP is unusable: %s "
                    "(see docs/geoip.md)",
                    countries ? "country" : "ASN", err);
  sp_warn("relay", "geoip_off", "why=\"%s\"", err);
  return 0;
}

static int setup(const struct cli *c, struct relay *r) {
  char msg[1024];
  int rc;

  if (relay_config_load(&r->cfg, c->state, msg, sizeof(msg)) != 0)
    return cli_fail(c, "%s", msg);
  rc = api_login_page_build(&r->cfg.listen, &r->login_page, &r->login_page_len);
  if (rc != 0)
    return cli_fail(c, "cannot build the login page: %s", sp_strerror(rc));
  if (r->cfg.workers > 1)
    /* XXX(workers): one loop serves everything for now; see
       docs/KNOWN_ISSUES.md. */
    sp_warn("relay", "workers_ignored", "workers=%d using=1", r->cfg.workers);
  if (cli_open_store(c, &r->store) != 0)
    return CLI_FAIL;
  rc = store_begin(r->store, MDB_RDONLY, &r->rtxn);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  r->generation = store_generation(r->store, r->rtxn);
  mdb_txn_reset(r->rtxn);
  if (mdb_txn_renew(r->rtxn) != 0 || open_geo(c, r) != 0)
    return CLI_FAIL;
  if (open_tls(c, r) != 0)
    return CLI_FAIL;
  rc = sp_audit_open(&r->audit, c->state);
  if (rc != 0)
    return cli_fail(c, "cannot open the audit trail: %s", sp_strerror(rc));
  return 0;
}

static void start_loop_handles(struct relay *r) {
  /* The iteration's log lines leave in one write before the loop waits.
     Audit records are not held: each is appended before the client sees
     the outcome it records (docs/audit.md). */
  batch_init(&r->batch, r->loop, sp_log_flush_cb, NULL);
  sp_log_hold(1);
  uv_timer_init(r->loop, &r->tick);
  r->tick.data = r;
  uv_timer_start(&r->tick, tick_cb, RELAY_TICK_MS, RELAY_TICK_MS);
  uv_signal_init(r->loop, &r->sigint);
  uv_signal_init(r->loop, &r->sigterm);
  uv_signal_init(r->loop, &r->sighup);
  r->sigint.data = r->sigterm.data = r->sighup.data = r;
  uv_signal_start(&r->sigint, signal_cb, SIGINT);
  uv_signal_start(&r->sigterm, signal_cb, SIGTERM);
  uv_signal_start(&r->sighup, signal_cb, SIGHUP);
}

static void teardown(struct relay *r) {
  if (r->rtxn != NULL)
    mdb_txn_abort(r->rtxn);
  store_close(r->store);
  geo_close(r->geo);
  tls_conf_free(r->tls_clients);
  tls_conf_free(r->tls_tunnels);
  pki_ca_free(&r->ca);
  free(r->ca_pem);
  free(r->login_page);
  if (r->audit.fd >= 0)
    sp_audit_close(&r->audit);
  relay_config_free(&r->cfg);
  free(r->unpublish);
}

int cmd_serve(struct cli *c, int argc, char **argv) {
  struct relay r;
  uv_loop_t loop;
  int rc = CLI_FAIL, i;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(help, stdout);
      return CLI_OK;
    }
    if (strcmp(argv[i], "--debug") != 0)
      return cli_usage(c, "unexpected argument '%s'", argv[i]);
    sp_log_set_level(SP_LOG_DEBUG);
  }
  signal(SIGPIPE, SIG_IGN);
  sp_nofile_raise("relay");
  memset(&r, 0, sizeof(r));
  r.audit.fd = -1;
  r.publish_all = 1; /* the table may hold a previous run's sessions */
  r.state = c->state;
  uv_loop_init(&loop);
  r.loop = &loop;
  if (setup(c, &r) == 0) {
    start_loop_handles(&r);
    if (start_listeners(c, &r) == 0) {
      /* The live tables are this relay's only once it holds the ports:
         one that fails to start must not wipe a running one's. */
      relay_live_clear(&r);
      r.ready = 1;
      sp_info("relay", "ready", "state=%s", c->state);
      rc = CLI_OK;
    } else {
      stop(&r, "startup_failed");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    batch_finish(&r.batch);
    sp_log_hold(0);
  }
  if (uv_loop_close(&loop) != 0)
    sp_warn("relay", "handles_left", "loop=main");
  teardown(&r);
  sp_info("relay", "stopped", "state=%s", c->state);
  return rc;
}
