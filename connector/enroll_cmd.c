/*
 * sallyport-connector enroll: turns a one-time token into the connector's
 * key and certificate (docs/connector.md, "Enrolment").
 *
 * Everything that can be checked without the network is checked first
 * (the token, its expiry, the state directory), then the key and request
 * are made in memory and one exchange runs on a private event loop:
 *
 *   resolve the relay's endpoint, dial each address in turn (10 s each),
 *   TLS in pinned mode (trust only the CA whose fingerprint the token
 *   carries), send the request, read the answer to its end.
 *
 * The files are written only after the answer has passed every check,
 * so a failed enrolment leaves the directory as it found it and can be
 * run again (with a new token if the relay spent the old one).  The
 * secret and the key never reach a log line; the buffers that held them
 * are wiped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>
#include <uv.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "connector/cmd.h"
#include "connector/enroll.h"
#include "connector/enroll_token.h"
#include "connector/statedir.h"
#include "tunnel/pki.h"
#include "tunnel/tls.h"

#define CMD "enroll"
#define DIAL_TIMEOUT_MS 10000
#define EXCHANGE_TIMEOUT_MS 30000
#define MSG_MAX 320

static const char help[] =
    "usage: sallyport-connector enroll --state DIR --token TOKEN\n"
    "\n"
    "Enrols this connector with the relay named in TOKEN (printed by\n"
    "'sallyport-relay connector add NAME').  Makes the connector's key,\n"
    "has the relay sign a certificate for it, trusting only the CA whose\n"
    "fingerprint the token carries, and writes DIR/connector.key,\n"
    "DIR/connector.crt, DIR/ca.crt and DIR/connector.yaml.  DIR is\n"
    "created (mode 0700) if needed; a DIR that already holds an enrolment\n"
    "is refused.\n";

/* One enrolment; owns everything in it. */
struct enrol {
  uv_loop_t loop;
  const char *dir; /* borrowed from argv */
  struct enroll_token token;
  struct statedir_conf conf;
  char host_field[STATEDIR_HOST_MAX + 3]; /* Host: an IPv6 literal in [] */
  char key_pem[PKI_KEY_PEM_MAX];          /* secret; wiped */
  char csr_pem[PKI_CSR_PEM_MAX];
  char request[ENROLL_REQUEST_MAX]; /* holds the secret; wiped */
  size_t request_len;
  struct tls_conf *tls;
  uv_getaddrinfo_t gai;
  struct addrinfo *addrs; /* owned; freed with uv_freeaddrinfo */
  struct addrinfo *next;  /* the next address to dial */
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_timer_t timer; /* the current step's deadline */
  struct tls_conn *conn;
  struct enroll_resp resp;
  int last_dial_err; /* why the latest address failed */
  bool tcp_live;     /* tcp is initialised and not yet closed */
  bool ended;        /* enrol_end() ran */
  bool answered;     /* `resp` holds a whole answer */
  char msg[MSG_MAX]; /* the first failure, for the user; "" if none */
};

/* Records the first failure's sentence and ends the exchange. */
static void enrol_fail(struct enrol *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void plain_close_cb(uv_handle_t *h) {
  (void)h;
}

static void tcp_closed_cb(uv_handle_t *h) {
  struct enrol *e = h->data;

  e->tcp_live = false;
}

/* The one teardown of the exchange: closes whatever is still open.  The
 * loop then runs out of handles and cmd_enroll() carries on. */
static void enrol_end(struct enrol *e) {
  if (e->ended)
    return;
  e->ended = true;
  uv_close((uv_handle_t *)&e->timer, plain_close_cb);
  if (e->conn != NULL)
    tls_conn_close(e->conn, SP_ECLOSED);
  else if (e->tcp_live && !uv_is_closing((uv_handle_t *)&e->tcp))
    uv_close((uv_handle_t *)&e->tcp, tcp_closed_cb);
}

static void enrol_fail(struct enrol *e, const char *fmt, ...) {
  va_list ap;

  if (e->msg[0] == '\0' && !e->answered) {
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
  }
  enrol_end(e);
}

/* ---- TLS and the exchange ---------------------------------------------- */

static void on_handshake(struct tls_conn *conn, int status) {
  struct enrol *e = tls_conn_data(conn);
  int rc;

  if (status == SP_ECERT) {
    enrol_fail(e,
               "the relay at %s is not the one the token names: its "
               "certificate does not chain to the pinned CA",
               e->conf.relay);
    return;
  }
  if (status != 0) {
    enrol_fail(e, "TLS with the relay at %s failed: %s", e->conf.relay,
               status > -4096 ? uv_strerror(status) : sp_strerror(status));
    return;
  }
  rc = tls_conn_write(conn, e->request, e->request_len);
  mbedtls_platform_zeroize(e->request, sizeof(e->request));
  if (rc != 0)
    enrol_fail(e, "cannot send the request: %s", sp_strerror(rc));
}

static void on_read(struct tls_conn *conn, const uint8_t *p, size_t n) {
  struct enrol *e = tls_conn_data(conn);
  int rc = enroll_resp_feed(&e->resp, p, n);

  if (rc == SP_EINCOMPLETE)
    return;
  if (rc != 0) {
    enrol_fail(e, "the relay's answer is malformed: %s", e->resp.why);
    return;
  }
  e->answered = true;
  tls_conn_shutdown(conn);
}

static void on_close(struct tls_conn *conn, int err) {
  struct enrol *e = tls_conn_data(conn);

  e->conn = NULL;
  e->tcp_live = false; /* the TLS connection closed it */
  if (!e->answered && !e->ended) {
    if (err == UV_EOF && enroll_resp_eof(&e->resp) == 0)
      e->answered = true;
    else if (err == UV_EOF)
      enrol_fail(e, "the relay's answer is malformed: %s", e->resp.why);
    else
      enrol_fail(e, "the connection to the relay failed: %s",
                 err > -4096 ? uv_strerror(err) : sp_strerror(err));
  }
  enrol_end(e);
}

static const struct tls_conn_cbs tls_cbs = {
    .on_handshake = on_handshake,
    .on_read = on_read,
    .on_close = on_close,
};

static void exchange_timeout_cb(uv_timer_t *t) {
  struct enrol *e = t->data;

  enrol_fail(e, "the relay at %s did not answer within %d s", e->conf.relay,
             EXCHANGE_TIMEOUT_MS / 1000);
}

/* ---- Dialling ---------------------------------------------------------- */

static void try_next(struct enrol *e);

static void retry_closed_cb(uv_handle_t *h) {
  struct enrol *e = h->data;

  e->tcp_live = false;
  if (!e->ended)
    try_next(e);
}

static void dial_failed(struct enrol *e, int err) {
  e->last_dial_err = err;
  uv_timer_stop(&e->timer);
  uv_close((uv_handle_t *)&e->tcp, retry_closed_cb);
}

static void dial_timeout_cb(uv_timer_t *t) {
  struct enrol *e = t->data;

  dial_failed(e, UV_ETIMEDOUT);
}

static void connect_cb(uv_connect_t *req, int status) {
  struct enrol *e = req->data;
  int rc;

  if (status == UV_ECANCELED || e->ended)
    return;
  if (status != 0) {
    dial_failed(e, status);
    return;
  }
  uv_timer_start(&e->timer, exchange_timeout_cb, EXCHANGE_TIMEOUT_MS, 0);
  rc = tls_conn_new(&e->conn, e->tls, &e->tcp, &tls_cbs, e);
  if (rc != 0)
    enrol_fail(e, "cannot start TLS: %s", sp_strerror(rc));
}

/* Dials the next address of the relay's, or gives up after the last. */
static void try_next(struct enrol *e) {
  struct addrinfo *ai = e->next;
  int rc;

  if (ai == NULL) {
    enrol_fail(e, "cannot connect to the relay at %s: %s", e->conf.relay,
               uv_strerror(e->last_dial_err));
    return;
  }
  e->next = ai->ai_next;
  uv_tcp_init(&e->loop, &e->tcp);
  e->tcp.data = e;
  e->tcp_live = true;
  e->connect.data = e;
  rc = uv_tcp_connect(&e->connect, &e->tcp, ai->ai_addr, connect_cb);
  if (rc != 0) {
    dial_failed(e, rc);
    return;
  }
  uv_timer_start(&e->timer, dial_timeout_cb, DIAL_TIMEOUT_MS, 0);
}

static void resolved_cb(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct enrol *e = req->data;

  if (status != 0) {
    enrol_fail(e, "cannot resolve %s: %s", e->conf.relay_host,
               uv_strerror(status));
    return;
  }
  e->addrs = e->next = res;
  e->last_dial_err = UV_EADDRNOTAVAIL;
  try_next(e);
}

/* Runs the exchange to its end; the outcome is in `e`. */
static void enrol_exchange(struct enrol *e) {
  struct addrinfo hints;
  int rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  uv_loop_init(&e->loop);
  uv_timer_init(&e->loop, &e->timer);
  e->timer.data = e;
  e->gai.data = e;

  rc = uv_getaddrinfo(&e->loop, &e->gai, resolved_cb, e->conf.relay_host,
                      e->conf.relay_port, &hints);
  if (rc != 0)
    enrol_fail(e, "cannot resolve %s: %s", e->conf.relay_host, uv_strerror(rc));
  uv_run(&e->loop, UV_RUN_DEFAULT);
  if (e->addrs != NULL)
    uv_freeaddrinfo(e->addrs);
  if (uv_loop_close(&e->loop) != 0)
    sp_warn("enroll", "handles_left", "loop=enroll");
}

/* ---- Before and after the exchange ------------------------------------- */

/* Creates DIR (0700) if needed and refuses one that holds an enrolment. */
static int prepare_dir(const char *dir) {
  static const char *const taken[] = {STATEDIR_KEY, STATEDIR_CRT};
  struct stat st;
  char path[4096];
  size_t i;

  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return cmd_fail(CMD, "cannot create %s: %s", dir, strerror(errno));
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return cmd_fail(CMD, "%s is not a directory", dir);
  for (i = 0; i < 2; i++) {
    if (statedir_path(path, sizeof(path), dir, taken[i]) != 0)
      return cmd_fail(CMD, "the state directory's name is too long");
    if (lstat(path, &st) == 0)
      return cmd_fail(CMD,
                      "%s already holds an enrolment (%s exists); use "
                      "another directory or remove it first",
                      dir, taken[i]);
  }
  return CMD_OK;
}

/* Reads and checks the token; the endpoint becomes the conf to write. */
static int prepare_token(struct enrol *e, const char *text) {
  char err[200], when[SP_TIME_MAX], host[STATEDIR_HOST_MAX + 1];
  char port[STATEDIR_PORT_MAX];

  if (enroll_token_decode(text, &e->token, err, sizeof(err)) != 0)
    return cmd_fail(CMD, "malformed token: %s", err);
  if (e->token.expires <= (int64_t)time(NULL))
    return cmd_fail(CMD, "the token expired at %s; ask for a new one",
                    sp_time_format(when, e->token.expires));
  if (statedir_split_addr(e->token.addr, host, port) != 0 ||
      statedir_conf_set(&e->conf, e->token.name, e->token.addr, host, err,
                        sizeof(err)) != 0)
    return cmd_fail(CMD, "malformed token: the relay address or name is "
                         "unusable");
  snprintf(e->host_field, sizeof(e->host_field),
           strchr(host, ':') != NULL ? "[%s]" : "%s", host);
  return CMD_OK;
}

/* The key, the request, and the pinned TLS role. */
static int prepare_crypto(struct enrol *e) {
  struct tls_client_opts o;
  int rc;

  rc = pki_csr_make(e->conf.name, e->key_pem, e->csr_pem);
  if (rc == SP_EUSAGE)
    return cmd_fail(CMD, "the name '%s' cannot go into a certificate",
                    e->conf.name);
  if (rc != 0)
    return cmd_fail(CMD, "cannot make a key: %s", sp_strerror(rc));
  rc = enroll_request_format(e->request, sizeof(e->request), e->host_field,
                             e->conf.name, e->token.secret, e->csr_pem);
  if (rc < 0)
    return cmd_fail(CMD, "cannot build the request: %s", sp_strerror(rc));
  e->request_len = (size_t)rc;

  memset(&o, 0, sizeof(o));
  o.pin_sha256 = e->token.ca_fingerprint;
  o.server_name = e->conf.server_name;
  rc = tls_conf_client(&e->tls, &o);
  if (rc != 0)
    return cmd_fail(CMD, "cannot set up TLS: %s", sp_strerror(rc));
  return CMD_OK;
}

/* The first line of a refusal's body, printable ASCII only. */
static const char *refusal_text(const struct enroll_resp *r, char *out,
                                size_t n) {
  size_t i, o = 0;

  for (i = 0; r->body != NULL && i < r->body_len && o + 1 < n; i++) {
    if (r->body[i] == '\r' || r->body[i] == '\n')
      break;
    out[o++] = r->body[i] >= 0x20 && r->body[i] < 0x7f ? r->body[i] : '?';
  }
  out[o] = '\0';
  return o > 0 ? out : "no reason given";
}

/* Turns an answer other than 200 into the user's one line. */
static int refused(const struct enroll_resp *r) {
  char text[160];

  refusal_text(r, text, sizeof(text));
  switch (r->status) {
  case 401:
    return cmd_fail(CMD, "the relay refused the token: it is unknown, used "
                         "or expired");
  case 403:
    return cmd_fail(CMD, "the relay refused: this connector is revoked");
  case 400:
    return cmd_fail(CMD, "the relay refused the request as malformed: %s",
                    text);
  default:
    return cmd_fail(CMD, "the relay answered %d: %s", r->status, text);
  }
}

/* Removes the files of `paths` (the first `n`), newest first. */
static void unwrite(char paths[][4096], size_t n) {
  while (n > 0)
    unlink(paths[--n]);
}

/*
 * Writes the four files: ca.crt and connector.yaml first, which a failed
 * earlier attempt may have left and which are replaced, then the key
 * (0600, never over an existing file) and the certificate.  On a failure
 * every file written here is removed again.
 */
static int write_files(struct enrol *e, const struct enroll_certs *c) {
  static const char *const names[] = {STATEDIR_CA, STATEDIR_CONF, STATEDIR_KEY,
                                      STATEDIR_CRT};
  char paths[4][4096], yaml[1024];
  const char *data[4];
  size_t i;
  int rc = 0, len;

  len = statedir_conf_format(&e->conf, yaml, sizeof(yaml));
  data[0] = c->ca_pem;
  data[1] = yaml;
  data[2] = e->key_pem;
  data[3] = c->crt_pem;
  for (i = 0; i < 4 && rc == 0; i++)
    rc = statedir_path(paths[i], sizeof(paths[i]), e->dir, names[i]);
  if (rc != 0 || len < 0)
    return cmd_fail(CMD, "the state directory's name is too long");

  for (i = 0; i < 4 && rc == 0; i++) {
    if (i == 2)
      rc = sp_write_file(paths[i], data[i], strlen(data[i]), 0600);
    else
      rc = pki_write_cert(paths[i], data[i], strlen(data[i]), i < 2);
  }
  if (rc != 0) {
    /* The file that failed was not written (or was removed by the
     * writer), and may be someone else's: only those before it go. */
    unwrite(paths, i - 1);
    return cmd_fail(CMD, "cannot write %s: %s", paths[i - 1], sp_strerror(rc));
  }
  return CMD_OK;
}

/* Whether a Content-Type is application/x-pem-file, parameters aside. */
static bool is_pem_type(const char *type) {
  size_t n = strcspn(type, "; \t");

  return n == strlen("application/x-pem-file") &&
         strncasecmp(type, "application/x-pem-file", n) == 0;
}

/* Judges the answer and, if it is good, stores the enrolment. */
static int finish(struct enrol *e) {
  struct enroll_certs *certs;
  char err[256];
  int rc;

  if (e->msg[0] != '\0' || !e->answered)
    return cmd_fail(CMD, "%s", e->msg[0] != '\0' ? e->msg : "no answer");
  if (e->resp.status != 200)
    return refused(&e->resp);
  if (!is_pem_type(e->resp.content_type))
    return cmd_fail(CMD, "the relay answered 200 with an unexpected "
                         "content type");

  certs = malloc(sizeof(*certs));
  if (certs == NULL)
    return cmd_fail(CMD, "out of memory");
  rc = enroll_check_certs(e->resp.body, e->conf.name, e->token.ca_fingerprint,
                          e->key_pem, certs, err, sizeof(err));
  rc = rc != 0 ? cmd_fail(CMD, "%s", err) : write_files(e, certs);
  free(certs);
  if (rc == CMD_OK)
    printf("enrolled as %s with relay %s\n", e->conf.name, e->conf.relay);
  return rc;
}

static int enroll_args(int argc, char **argv, char **token) {
  static const struct option opts[] = {
      {"token", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int opt;

  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(help, stdout);
      return -1;
    }
    if (opt != 't')
      return cmd_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    *token = optarg;
  }
  if (optind < argc)
    return cmd_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (*token == NULL)
    return cmd_usage(CMD, "--token is required");
  return CMD_OK;
}

static void enrol_free(struct enrol *e) {
  tls_conf_free(e->tls);
  enroll_resp_free(&e->resp);
  mbedtls_platform_zeroize(e, sizeof(*e));
  free(e);
}

int cmd_enroll(const char *state, int argc, char **argv) {
  char *token = NULL;
  struct enrol *e;
  int rc;

  rc = enroll_args(argc, argv, &token);
  if (rc != CMD_OK)
    return rc < 0 ? CMD_OK : rc;
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return cmd_fail(CMD, "out of memory");
  e->dir = state;
  enroll_resp_init(&e->resp);

  /* The token's secret should not linger where ps(1) can show it. */
  rc = prepare_token(e, token);
  mbedtls_platform_zeroize(token, strlen(token));
  if (rc == CMD_OK)
    rc = prepare_dir(state);
  if (rc == CMD_OK)
    rc = prepare_crypto(e);
  if (rc == CMD_OK) {
    enrol_exchange(e);
    rc = finish(e);
  }
  enrol_free(e);
  return rc;
}
