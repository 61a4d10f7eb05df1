#include "relay/config.h"

#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "common/ytree.h"
#include "common/fileio.h"
#include "relay/listen.h"
#include "relay/proxyproto.h"

#define DEFAULT_GEOIP "/usr/share/sallyport/country.mmdb"

void relay_config_defaults(struct relay_config *c) {
  memset(c, 0, sizeof(*c));
  snprintf(c->name, sizeof(c->name), "localhost");
  snprintf(c->listen.socks, CONFIG_ADDR_MAX, "127.0.0.1:1080");
  snprintf(c->listen.http, CONFIG_ADDR_MAX, "127.0.0.1:3128");
  snprintf(c->listen.https, CONFIG_ADDR_MAX, "127.0.0.1:8443");
  snprintf(c->listen.connectors, CONFIG_ADDR_MAX, "127.0.0.1:7443");
  snprintf(c->listen.metrics, CONFIG_ADDR_MAX, "127.0.0.1:9090");
  snprintf(c->geoip, sizeof(c->geoip), "%s", DEFAULT_GEOIP);
  c->token_ttl = 12 * 3600;
  c->request_timeout = 30;
}

void relay_config_free(struct relay_config *c) {
  size_t i;

  for (i = 0; i < c->n_trusted_proxies; i++)
    free(c->trusted_proxies[i]);
  free(c->trusted_proxies);
  c->trusted_proxies = NULL;
  c->n_trusted_proxies = 0;
}

struct loader {
  const char *file;
  char *msg;
  size_t msg_size;
};

static int bad(struct loader *l, const struct ytree_node *n, const char *what,
               const char *detail) {
  snprintf(l->msg, l->msg_size, "%s:%u:%u: %s%s", l->file, n ? n->line : 0,
           n ? n->col : 0, what, detail ? detail : "");
  return SP_ECONFIG;
}

static int want_scalar(struct loader *l, const struct ytree_node *n,
                       const char *key) {
  char what[96];

  if (n->kind == YTREE_SCALAR)
    return 0;
  snprintf(what, sizeof(what), "%s: expected a string, found a ", key);
  return bad(l, n, what, ytree_kind_name(n->kind));
}

/* "IP:port" or "[IPv6]:port" as the listener will read it, with a port
   to listen on, or "" to disable the listener. */
static int listen_addr_valid(const char *s) {
  struct sockaddr_storage ss;
  const struct sockaddr_in *v4 = (const void *)&ss;
  const struct sockaddr_in6 *v6 = (const void *)&ss;

  if (s[0] == '\0')
    return 1;
  if (listen_parse_addr(s, &ss) != 0)
    return 0;
  return (ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port) != 0;
}

static int load_listen(struct loader *l, const struct ytree_node *map,
                       struct relay_listen *out) {
  struct {
    const char *key;
    char *dst;
  } keys[] = {{"socks", out->socks},
              {"http", out->http},
              {"https", out->https},
              {"connectors", out->connectors},
              {"metrics", out->metrics}};
  const struct ytree_node *k, *v;
  size_t i, j;
  int rc;

  if (map->kind != YTREE_MAP)
    return bad(l, map, "listen: expected a map of listener addresses", NULL);
  for (i = 0; i + 1 < map->n; i += 2) {
    k = map->kids[i];
    v = map->kids[i + 1];
    for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
      if (strcmp(k->str, keys[j].key) == 0)
        break;
    if (j == sizeof(keys) / sizeof(keys[0]))
      return bad(l, k, "listen: unknown listener ", k->str);
    if ((rc = want_scalar(l, v, k->str)) != 0)
      return rc;
    if (!listen_addr_valid(v->str) || v->len >= CONFIG_ADDR_MAX)
      return bad(l, v,
                 "listen address must be IP:PORT or [IPv6]:PORT, "
                 "not ",
                 v->str);
    memcpy(keys[j].dst, v->str, v->len + 1);
  }
  return 0;
}

static int load_proxies(struct loader *l, const struct ytree_node *seq,
                        struct relay_config *c) {
  size_t i;

  if (seq->kind != YTREE_SEQ)
    return bad(l, seq, "trusted_proxies: expected a list of CIDRs", NULL);
  c->trusted_proxies = calloc(seq->n + 1, sizeof(char *));
  if (c->trusted_proxies == NULL)
    return SP_ENOMEM;
  for (i = 0; i < seq->n; i++) {
    if (seq->kids[i]->kind != YTREE_SCALAR ||
        !proxyproto_cidr_valid(seq->kids[i]->str))
      return bad(l, seq->kids[i], "trusted_proxies: not a CIDR", NULL);
    c->trusted_proxies[i] = strdup(seq->kids[i]->str);
    if (c->trusted_proxies[i] == NULL)
      return SP_ENOMEM;
    c->n_trusted_proxies++;
  }
  return 0;
}

static int load_scalar(struct loader *l, const char *key,
                       const struct ytree_node *v, struct relay_config *c) {
  char *end;
  long n;

  if (strcmp(key, "token_ttl") == 0) {
    if (sp_duration_parse(v->str, &c->token_ttl) != 0 || c->token_ttl < 60 ||
        c->token_ttl > 366 * 86400)
      return bad(l, v,
                 "token_ttl: expected a duration from 1m to 366d "
                 "such as 12h or 30m, not ",
                 v->str);
  } else if (strcmp(key, "request_timeout") == 0) {
    if (sp_duration_parse(v->str, &c->request_timeout) != 0 ||
        c->request_timeout < 1 || c->request_timeout > 3600)
      return bad(l, v,
                 "request_timeout: expected a duration from 1s to 1h "
                 "such as 30s, not ",
                 v->str);
  } else if (strcmp(key, "workers") == 0) {
    n = strtol(v->str, &end, 10);
    if (v->str[0] == '\0' || *end != '\0' || n < 0 || n > 256)
      return bad(l, v, "workers: expected a number from 0 to 256", NULL);
    c->workers = (int)n;
  } else {
    char *dst = strcmp(key, "name") == 0    ? c->name
                : strcmp(key, "geoip") == 0 ? c->geoip
                                            : c->geoip_asn;
    size_t cap = dst == c->name ? sizeof(c->name) : sizeof(c->geoip);

    if (v->len >= cap)
      return bad(l, v, key, ": too long");
    memcpy(dst, v->str, v->len + 1);
  }
  return 0;
}

static int load_root(struct loader *l, const struct ytree_node *root,
                     struct relay_config *c) {
  static const char *const scalars[] = {
      "name", "geoip", "geoip_asn", "token_ttl", "request_timeout", "workers"};
  const struct ytree_node *k, *v;
  size_t i, j;
  int rc = 0;

  if (root == NULL)
    return 0;
  if (root->kind != YTREE_MAP)
    return bad(l, root, "expected a map of settings", NULL);
  for (i = 0; i + 1 < root->n && rc == 0; i += 2) {
    k = root->kids[i];
    v = root->kids[i + 1];
    if (strcmp(k->str, "listen") == 0) {
      rc = load_listen(l, v, &c->listen);
      continue;
    }
    if (strcmp(k->str, "trusted_proxies") == 0) {
      rc = load_proxies(l, v, c);
      continue;
    }
    for (j = 0; j < sizeof(scalars) / sizeof(scalars[0]); j++)
      if (strcmp(k->str, scalars[j]) == 0)
        break;
    if (j == sizeof(scalars) / sizeof(scalars[0]))
      return bad(l, k, "unknown setting ", k->str);
    rc = want_scalar(l, v, k->str);
    if (rc == 0)
      rc = load_scalar(l, k->str, v, c);
  }
  return rc;
}

int relay_config_parse(struct relay_config *c, const char *file,
                       const char *text, size_t len, char *msg,
                       size_t msg_size) {
  struct loader l = {file, msg, msg_size};
  struct ytree_node *root;
  struct ytree_err err;
  int rc;

  relay_config_defaults(c);
  rc = ytree_parse(text, len, &root, &err);
  if (rc != 0) {
    snprintf(msg, msg_size, "%s:%u:%u: %s", file, err.line, err.col, err.msg);
    return SP_ECONFIG;
  }
  rc = load_root(&l, root, c);
  ytree_free(root);
  if (rc != 0)
    relay_config_free(c);
  return rc;
}

int relay_config_load(struct relay_config *c, const char *dir, char *msg,
                      size_t msg_size) {
  char path[4096];
  char *text;
  size_t len;
  int rc;

  relay_config_defaults(c);
  snprintf(path, sizeof(path), "%s/relay.yaml", dir);
  rc = sp_read_file(path, YTREE_MAX_INPUT, &text, &len);
  if (rc != 0) {
    snprintf(msg, msg_size, "%s: %s", path, sp_strerror(rc));
    return rc;
  }
  rc = relay_config_parse(c, path, text, len, msg, msg_size);
  free(text);
  return rc;
}

static const char default_text[] =
    "# Sallyport relay settings; see docs/configuration.md.\n"
    "name: %s\n"
    "listen:\n"
    "  socks: 127.0.0.1:1080        # SOCKS5, RFC 1928 + RFC 1929\n"
    "  http: 127.0.0.1:3128         # HTTP CONNECT, Proxy-Authorization\n"
    "  https: 127.0.0.1:8443        # TLS: CONNECT, login page and API\n"
    "  connectors: 127.0.0.1:7443   # mutual TLS for connectors\n"
    "  metrics: 127.0.0.1:9090      # Prometheus /metrics, /healthz\n"
    "geoip: " DEFAULT_GEOIP "   # MaxMind or ip-location-db layout\n"
    "geoip_asn: \"\"                  # optional ASN database\n"
    "trusted_proxies: []            # CIDRs allowed to send PROXY headers\n"
    "token_ttl: 12h\n"
    "workers: 0                     # event-loop threads; 0 = one per core\n";

int relay_config_write_default(const char *dir, const char *name) {
  char path[4096], text[2048];
  int n;

  snprintf(path, sizeof(path), "%s/relay.yaml", dir);
  n = snprintf(text, sizeof(text), default_text, name);
  if (n < 0 || (size_t)n >= sizeof(text))
    return SP_ETOOBIG;
  return sp_write_file(path, text, (size_t)n, 0644);
}
