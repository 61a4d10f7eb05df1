#include "relay/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "relay/httpc.h"
#include "relay/relay.h"

static const char *const listener_names[] = {"socks", "http", "https",
                                             "connectors"};

size_t metrics_render(const struct relay_metrics *m, int ready, char *out,
                      size_t n) {
  size_t len = 0;
  int i, a, w;

#define EMIT(...)                                                              \
  do {                                                                         \
    w = snprintf(out + len, n - len, __VA_ARGS__);                             \
    if (w < 0 || (size_t)w >= n - len)                                         \
      return 0;                                                                \
    len += (size_t)w;                                                          \
  } while (0)

  EMIT("# HELP sallyport_ready 1 once every listener is bound.\n"
       "# TYPE sallyport_ready gauge\nsallyport_ready %d\n",
       ready);
  EMIT("# HELP sallyport_connections_total Connections accepted.\n"
       "# TYPE sallyport_connections_total counter\n");
  for (i = 0; i < METRICS_N_LISTENERS; i++)
    EMIT("sallyport_connections_total{listener=\"%s\"} %llu\n",
         listener_names[i], (unsigned long long)m->connections[i]);
  EMIT("# HELP sallyport_decisions_total Access decisions.\n"
       "# TYPE sallyport_decisions_total counter\n");
  for (a = 0; a < 2; a++)
    for (i = 0; i < METRICS_N_REASONS; i++)
      EMIT("sallyport_decisions_total{decision=\"%s\",reason=\"%s\"} %llu\n",
           a ? "allow" : "deny", policy_reason_name((enum policy_reason)i),
           (unsigned long long)m->decisions[a][i]);
  EMIT("# TYPE sallyport_logins_total counter\n"
       "sallyport_logins_total{outcome=\"ok\"} %llu\n"
       "sallyport_logins_total{outcome=\"fail\"} %llu\n",
       (unsigned long long)m->logins_ok, (unsigned long long)m->logins_failed);
  EMIT("# TYPE sallyport_proxy_auth_failures_total counter\n"
       "sallyport_proxy_auth_failures_total %llu\n",
       (unsigned long long)m->auth_failures);
  EMIT("# TYPE sallyport_bytes_total counter\n"
       "sallyport_bytes_total{direction=\"to_resource\"} %llu\n"
       "sallyport_bytes_total{direction=\"to_client\"} %llu\n",
       (unsigned long long)m->bytes_to_resource,
       (unsigned long long)m->bytes_to_client);
  EMIT("# TYPE sallyport_streams_active gauge\nsallyport_streams_active %llu\n"
       "# TYPE sallyport_tunnels_up gauge\nsallyport_tunnels_up %llu\n"
       "# TYPE sallyport_connectors_up gauge\nsallyport_connectors_up %llu\n",
       (unsigned long long)m->streams_active, (unsigned long long)m->tunnels_up,
       (unsigned long long)m->connectors_up);
  EMIT("# TYPE sallyport_enrolments_total counter\n"
       "sallyport_enrolments_total %llu\n"
       "# TYPE sallyport_protocol_errors_total counter\n"
       "sallyport_protocol_errors_total %llu\n"
       "# HELP sallyport_audit_failures_total Audit records not written.\n"
       "# TYPE sallyport_audit_failures_total counter\n"
       "sallyport_audit_failures_total %llu\n",
       (unsigned long long)m->enrolments,
       (unsigned long long)m->protocol_errors,
       (unsigned long long)m->audit_failures);
#undef EMIT
  return len;
}

/* One request per connection, then close: probes and scrapers.  The
   request must come within request_timeout. */
struct mconn {
  uv_tcp_t tcp;
  uv_timer_t deadline;
  int handles; /* open handles: freed when the last one has closed */
  uv_write_t wr;
  struct relay *relay;
  struct httpc_parser *req; /* owns; freed once answered */
  char *out;                /* owns */
  char in[2048];
};

static void mconn_closed_cb(uv_handle_t *h) {
  struct mconn *c = h->data;

  if (--c->handles > 0)
    return;
  free(c->req);
  free(c->out);
  free(c);
}

static void mconn_close(struct mconn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, mconn_closed_cb);
    uv_close((uv_handle_t *)&c->deadline, mconn_closed_cb);
  }
}

static void deadline_cb(uv_timer_t *t) {
  mconn_close(t->data);
}

static void written_cb(uv_write_t *w, int status) {
  mconn_close(w->data);
}

static void respond(struct mconn *c, int status, const char *type,
                    const char *body, size_t body_len) {
  struct httpc_response resp = {0};
  uv_buf_t buf;
  int head;

  resp.status = status;
  resp.content_type = type;
  resp.content_length = body_len;
  resp.close = 1;
  c->out = malloc(HTTPC_RESPONSE_MAX + body_len);
  head = c->out ? httpc_response_format(&resp, c->out, HTTPC_RESPONSE_MAX) : -1;
  if (head <= 0) {
    mconn_close(c);
    return;
  }
  memcpy(c->out + head, body, body_len);
  buf = uv_buf_init(c->out, (unsigned)(head + (int)body_len));
  c->wr.data = c;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, written_cb) != 0)
    mconn_close(c);
}

static void answer(struct mconn *c) {
  static char page[16384];
  struct relay *r = c->relay;
  const char *path = c->req->path ? c->req->path : "";
  size_t n;

  if (strcmp(c->req->method, "GET") != 0) {
    respond(c, 405, "text/plain", "GET only\n", 9);
  } else if (strcmp(path, "/healthz") == 0) {
    if (r->ready && !r->stopping)
      respond(c, 200, "text/plain", "ok\n", 3);
    else
      respond(c, 503, "text/plain", "not ready\n", 10);
  } else if (strcmp(path, "/metrics") == 0) {
    n = metrics_render(&r->m, r->ready && !r->stopping, page, sizeof(page));
    respond(c, n ? 200 : 500, "text/plain; version=0.0.4", page, n);
  } else {
    respond(c, 404, "text/plain", "not found\n", 10);
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct mconn *c = h->data;

  *buf = uv_buf_init(c->in, sizeof(c->in));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct mconn *c = s->data;
  size_t used;
  int rc;

  if (n < 0) {
    mconn_close(c);
    return;
  }
  rc = httpc_feed(c->req, (const uint8_t *)buf->base, (size_t)n, &used);
  if (c->req->state == HTTPC_S_DONE)
    answer(c);
  else if (c->req->state == HTTPC_S_FAILED || (rc != 0 && rc != SP_EINCOMPLETE))
    respond(c, c->req->status ? c->req->status : 400, "text/plain",
            "bad request\n", 12);
}

void relay_metrics_accept(struct listener *l) {
  struct relay *r = l->data;
  struct mconn *c = calloc(1, sizeof(*c));

  if (c == NULL || (c->req = malloc(sizeof(*c->req))) == NULL) {
    free(c);
    return;
  }
  c->relay = r;
  httpc_init(c->req);
  uv_tcp_init(r->loop, &c->tcp);
  c->tcp.data = c;
  uv_timer_init(r->loop, &c->deadline);
  c->deadline.data = c;
  c->handles = 2;
  uv_timer_start(&c->deadline, deadline_cb,
                 (uint64_t)r->cfg.request_timeout * 1000, 0);
  if (listener_accept(l, &c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
    mconn_close(c);
}
