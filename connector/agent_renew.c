/*
 * Certificate renewal, connector side (docs/connector.md, "Certificate
 * renewal"; the frames are in docs/tunnel.md).
 *
 * The certificate lives PKI_CONNECTOR_DAYS.  Once it has less than
 * --renew-before left (a third of its lifetime by default), checked at
 * start and then hourly, the connector:
 *
 *   1. makes a new key and a certificate request (pki_csr_make) and sends
 *      CERT_RENEW on one tunnel that is up.  At most one request is
 *      outstanding across all tunnels (`asked`); one that gets no answer
 *      within RENEW_ANSWER_MS is given up, and one whose tunnel goes down
 *      is asked again on another;
 *   2. on CERT_ISSUED `ok`, checks the certificate against its own
 *      ca.crt, its name and the new key, stages the pair next to the old
 *      one, builds a TLS role from the staged files and only then commits
 *      the pair (statedir.h says how that stays whole through a crash);
 *   3. new tunnels use the new role at once.  Those still on the old one
 *      are moved one at a time (roll_step): GOAWAY shutting_down, so the
 *      relay opens no new stream there, then close once their streams
 *      have ended or ROLL_DRAIN_MS have passed, and reconnect.  A tunnel
 *      is moved only while another one is up, so that new streams always
 *      find a tunnel, unless none other has come up for ROLL_ALONE_MS;
 *   4. once no connection uses the old role, it is freed (on the step
 *      timer, never inside a TLS callback of a connection that used it).
 *
 * The relay accepts the previous certificate until the tunnels have
 * moved (policy/connectors.h), so nothing drops at the moment of
 * renewal.  A refused or failed attempt is tried again at the next
 * hourly check.  The key is never logged, and its buffer is wiped once
 * the request is answered or given up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "connector/agent_int.h"
#include "connector/enroll.h"

#define RENEW_CHECK_MS (3600u * 1000u)
#define RENEW_STEP_MS 1000u
#define RENEW_ANSWER_MS 30000u
#define ROLL_DRAIN_MS 30000u
#define ROLL_ALONE_MS 60000u
#define STATE_FILE_MAX (64 * 1024)

/* ---- The certificate in use -------------------------------------------- */

static int64_t x509_seconds(const mbedtls_x509_time *t) {
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = t->year - 1900;
  tm.tm_mon = t->mon - 1;
  tm.tm_mday = t->day;
  tm.tm_hour = t->hour;
  tm.tm_min = t->min;
  tm.tm_sec = t->sec;
  return (int64_t)timegm(&tm);
}

/* Serial and dates of the first certificate in `pem` (NUL-terminated). */
static int cert_dates(struct agent_renew *r, const char *pem) {
  mbedtls_x509_crt crt;
  int rc = SP_ECRYPTO;

  mbedtls_x509_crt_init(&crt);
  if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem,
                             strlen(pem) + 1) == 0)
    rc = pki_crt_serial(&crt, r->serial);
  if (rc == 0) {
    r->not_before = x509_seconds(&crt.valid_from);
    rc = pki_crt_not_after(&crt, &r->not_after);
  }
  mbedtls_x509_crt_free(&crt);
  return rc;
}

static int read_state(const struct agent *a, const char *file, char **out,
                      size_t *len) {
  char path[4096];
  int rc = statedir_path(path, sizeof(path), a->opts->state, file);

  return rc != 0 ? rc : sp_read_file(path, STATE_FILE_MAX, out, len);
}

int agent_renew_init(struct agent *a, char *err, size_t errn) {
  char *pem = NULL;
  size_t len;
  int rc;

  rc = read_state(a, STATEDIR_CRT, &pem, &len);
  if (rc == 0)
    rc = cert_dates(&a->renew, pem);
  free(pem);
  if (rc != 0)
    snprintf(err, errn, "cannot read the dates of %s/%s: %s", a->opts->state,
             STATEDIR_CRT, sp_strerror(rc));
  return rc;
}

/* How long before expiry to renew: --renew-before, or a third of the
 * certificate's lifetime. */
static int64_t renew_before(const struct agent *a) {
  const struct agent_renew *r = &a->renew;

  if (a->opts->renew_before > 0)
    return a->opts->renew_before;
  return (r->not_after - r->not_before) / 3;
}

static void forget_key(struct agent_renew *r) {
  mbedtls_platform_zeroize(r->key_pem, sizeof(r->key_pem));
}

static void step_cb(uv_timer_t *timer);

static void step_start(struct agent *a) {
  if (!uv_is_active((uv_handle_t *)&a->renew.step))
    uv_timer_start(&a->renew.step, step_cb, RENEW_STEP_MS, RENEW_STEP_MS);
}

/* ---- Asking ------------------------------------------------------------ */

/* A tunnel that is up and not being moved, to carry the request. */
static struct agent_tunnel *pick_tunnel(struct agent *a) {
  struct agent_tunnel *t;
  unsigned i;

  for (i = 0; i < a->opts->tunnels; i++) {
    t = &a->tunnels[i];
    if (t->state == AGENT_TUNNEL_UP && t->up_since != 0 && !t->draining)
      return t;
  }
  return NULL;
}

/* Sends the one CERT_RENEW, if one is due and a tunnel is up; otherwise
 * the next tunnel to come up asks. */
static void renew_ask(struct agent *a) {
  struct agent_renew *r = &a->renew;
  struct agent_tunnel *t = pick_tunnel(a);
  char csr[PKI_CSR_PEM_MAX];
  struct tunnel_frame f;
  int rc;

  if (!r->due || r->asked != NULL || a->stopping || t == NULL)
    return;
  r->due = false;
  rc = pki_csr_make(a->opts->conf->name, r->key_pem, csr);
  if (rc == 0) {
    memset(&f, 0, sizeof(f));
    f.type = TUNNEL_CERT_RENEW;
    f.u.csr.p = csr;
    f.u.csr.len = strlen(csr);
    rc = mux_send_cert(t->mux, &f);
  }
  if (rc != 0) {
    forget_key(r);
    sp_warn("connector", "renew_failed", "tid=%u step=request err=%s", t->tid,
            sp_err_name(rc));
    return;
  }
  r->asked = t;
  r->asked_at = uv_now(a->loop);
  sp_info("connector", "renew_requested", "tid=%u serial=%s", t->tid,
          r->serial);
  step_start(a);
}

static void check_cb(uv_timer_t *timer) {
  struct agent *a = timer->data;
  struct agent_renew *r = &a->renew;
  int64_t left = r->not_after - (int64_t)time(NULL), before = renew_before(a);
  char when[SP_TIME_MAX];

  if (r->due || r->asked != NULL || r->prev != NULL)
    return; /* a renewal is under way */
  sp_log(left < before ? SP_LOG_INFO : SP_LOG_DEBUG, "connector", "renew_check",
         "serial=%s not_after=%s left_s=%lld renew_before_s=%lld due=%d",
         r->serial, sp_time_format(when, r->not_after), (long long)left,
         (long long)before, left < before);
  if (left >= before)
    return;
  r->due = true;
  renew_ask(a);
  step_start(a);
}

/* ---- Storing the answer ------------------------------------------------ */

/*
 * The relay sends the certificate alone.  With our own ca.crt after it
 * and that CA's fingerprint as the pin, enroll_check_certs() makes the
 * checks of enrolment: issued by exactly that CA, valid now, for TLS
 * clients, with our name and the public half of the new key.
 */
static int renew_check(struct agent *a, struct tunnel_str pem,
                       struct enroll_certs *out, char *err, size_t errn) {
  struct pki_cert_info ca;
  char *ca_pem = NULL, *body = NULL;
  size_t ca_len = 0;
  int rc;

  rc = read_state(a, STATEDIR_CA, &ca_pem, &ca_len);
  if (rc == 0)
    rc = pki_cert_info_pem(ca_pem, &ca);
  if (rc == 0 && (body = malloc(pem.len + ca_len + 2)) == NULL)
    rc = SP_ENOMEM;
  if (rc != 0) {
    snprintf(err, errn, "cannot read %s: %s", STATEDIR_CA, sp_strerror(rc));
    free(ca_pem);
    return rc;
  }
  memcpy(body, pem.p, pem.len);
  body[pem.len] = '\n';
  memcpy(body + pem.len + 1, ca_pem, ca_len + 1);
  rc = enroll_check_certs(body, a->opts->conf->name, ca.fingerprint,
                          a->renew.key_pem, out, err, errn);
  free(body);
  free(ca_pem);
  return rc;
}

/* The new pair is stored and loaded: new tunnels use it from now on. */
static void renew_switch(struct agent *a, struct tls_conf *conf,
                         const char *crt_pem) {
  struct agent_renew *r = &a->renew;
  char previous[PKI_SERIAL_HEX_MAX], when[SP_TIME_MAX];

  memcpy(previous, r->serial, sizeof(previous));
  r->prev = a->tls;
  a->tls = conf;
  if (cert_dates(r, crt_pem) != 0)
    r->not_after = r->not_before = 0; /* checked above; cannot happen */
  r->stored_at = uv_now(a->loop);
  sp_info("connector", "renew_stored", "serial=%s previous=%s not_after=%s",
          r->serial, previous, sp_time_format(when, r->not_after));
}

/* Stages the pair and builds a role from the staged files, so that a
 * pair TLS cannot use never replaces the one in use. */
static int renew_stage(struct agent *a, const char *crt_pem,
                       struct tls_conf **conf, char *err, size_t errn) {
  int rc = statedir_creds_stage(a->opts->state, a->renew.key_pem, crt_pem);

  if (rc != 0) {
    snprintf(err, errn, "cannot write %s and %s: %s", STATEDIR_KEY_NEW,
             STATEDIR_CRT_NEW, sp_strerror(rc));
    return rc;
  }
  rc = agent_tls_load(a, STATEDIR_CRT_NEW, STATEDIR_KEY_NEW, conf, err, errn);
  if (rc != 0)
    statedir_creds_unstage(a->opts->state);
  return rc;
}

/* Checks, stages, loads and commits the new pair; 0 once new tunnels
 * will use it.  On a failure the old pair stays in use. */
static int renew_install(struct agent *a, struct tunnel_str pem) {
  struct enroll_certs *certs = malloc(sizeof(*certs));
  struct tls_conf *conf = NULL;
  char err[256] = "", quoted[300];
  int rc = certs != NULL ? 0 : SP_ENOMEM;

  if (rc == 0)
    rc = renew_check(a, pem, certs, err, sizeof(err));
  if (rc == 0)
    rc = renew_stage(a, certs->crt_pem, &conf, err, sizeof(err));
  /* A failed commit is not undone here: statedir_creds_recover() at the
   * next start completes or discards it, and until then the old role,
   * which the relay still accepts, keeps the tunnels up. */
  if (rc == 0 && (rc = statedir_creds_commit(a->opts->state)) != 0)
    snprintf(err, sizeof(err), "cannot move the new pair into place: %s",
             sp_strerror(rc));
  if (rc == 0) {
    renew_switch(a, conf, certs->crt_pem);
  } else {
    sp_error("connector", "renew_failed", "step=store err=%s msg=%s",
             sp_err_name(rc),
             sp_log_quote(quoted, sizeof(quoted),
                          err[0] != '\0' ? err : sp_strerror(rc)));
    tls_conf_free(conf);
  }
  free(certs);
  return rc;
}

void agent_renew_on_cert(struct agent_tunnel *t, const struct tunnel_frame *f) {
  struct agent *a = t->agent;
  struct agent_renew *r = &a->renew;
  const struct tunnel_frame_cert_issued *ci = &f->u.cert_issued;

  if (f->type != TUNNEL_CERT_ISSUED || r->asked != t) {
    sp_warn("connector", "cert_unexpected", "tid=%u type=%s", t->tid,
            tunnel_frame_type_name(f->type));
    return;
  }
  r->asked = NULL;
  if (ci->status != TUNNEL_CERT_OK) {
    forget_key(r);
    sp_log(ci->status == TUNNEL_CERT_REJECTED ? SP_LOG_ERROR : SP_LOG_WARN,
           "connector", "renew_refused",
           "tid=%u status=%s msg=\"trying again at the next hourly check\"",
           t->tid, tunnel_frame_cert_status_name(ci->status));
    return;
  }
  sp_info("connector", "renew_issued", "tid=%u", t->tid);
  (void)renew_install(a, ci->pem);
  forget_key(r);
  step_start(a);
}

/* ---- Moving the tunnels over ------------------------------------------- */

/* A draining tunnel closes once its streams have ended, or at the end of
 * the drain period. */
static void drain_step(struct agent_tunnel *t, uint64_t now) {
  uint32_t left = mux_stats(t->mux)->streams_active;

  if (left > 0 && now - t->drain_since < ROLL_DRAIN_MS)
    return;
  sp_info("connector", "tunnel_rolled", "tid=%u streams_cut=%u", t->tid,
          (unsigned)left);
  agent_tunnel_end(t);
}

static void roll_step(struct agent *a, uint64_t now) {
  struct agent_renew *r = &a->renew;
  struct agent_tunnel *t, *old = NULL;
  unsigned i, up = 0, users = 0;

  for (i = 0; i < a->opts->tunnels; i++) {
    t = &a->tunnels[i];
    if (t->draining) {
      drain_step(t, now);
      return;
    }
    users += t->conf == r->prev;
    if (t->state != AGENT_TUNNEL_UP || t->up_since == 0)
      continue;
    up++;
    if (t->conf == r->prev && old == NULL)
      old = t;
  }
  if (users == 0) {
    tls_conf_free(r->prev);
    r->prev = NULL;
    sp_info("connector", "renew_done", "serial=%s", r->serial);
    return;
  }
  if (old == NULL)
    return; /* a handshake with the old role is still running */
  if (up < 2 && a->opts->tunnels > 1 && now - r->stored_at < ROLL_ALONE_MS)
    return;
  sp_info("connector", "tunnel_roll", "tid=%u streams=%u", old->tid,
          (unsigned)mux_stats(old->mux)->streams_active);
  (void)mux_goaway(old->mux, TUNNEL_GOAWAY_SHUTDOWN, "certificate renewed");
  old->draining = true;
  old->drain_since = now;
}

static void step_cb(uv_timer_t *timer) {
  struct agent *a = timer->data;
  struct agent_renew *r = &a->renew;
  uint64_t now = uv_now(a->loop);

  if (r->asked != NULL && now - r->asked_at >= RENEW_ANSWER_MS) {
    sp_warn("connector", "renew_failed", "tid=%u step=answer err=timed_out",
            r->asked->tid);
    r->asked = NULL;
    forget_key(r);
  }
  renew_ask(a);
  if (r->prev != NULL)
    roll_step(a, now);
  if (r->asked == NULL && r->prev == NULL && !r->due)
    uv_timer_stop(&r->step);
}

/* ---- The agent's hooks ------------------------------------------------- */

void agent_renew_start(struct agent *a) {
  struct agent_renew *r = &a->renew;
  char when[SP_TIME_MAX];

  uv_timer_init(a->loop, &r->check);
  uv_timer_init(a->loop, &r->step);
  r->check.data = r->step.data = a;
  sp_info("connector", "certificate",
          "serial=%s not_after=%s renew_before_s=%lld", r->serial,
          sp_time_format(when, r->not_after), (long long)renew_before(a));
  uv_timer_start(&r->check, check_cb, 0, RENEW_CHECK_MS);
}

void agent_renew_stop(struct agent *a) {
  struct agent_renew *r = &a->renew;

  r->asked = NULL;
  r->due = false;
  forget_key(r);
  uv_close((uv_handle_t *)&r->check, NULL);
  uv_close((uv_handle_t *)&r->step, NULL);
}

void agent_renew_tunnel_up(struct agent_tunnel *t) {
  renew_ask(t->agent);
}

void agent_renew_tunnel_down(struct agent_tunnel *t) {
  struct agent_renew *r = &t->agent->renew;

  if (r->asked != t)
    return;
  /* The request went down with the tunnel; the step timer, which runs
   * while a request is outstanding, asks again on another one. */
  sp_warn("connector", "renew_failed", "tid=%u step=answer err=tunnel_down",
          t->tid);
  r->asked = NULL;
  forget_key(r);
  r->due = !t->agent->stopping;
}
