/* The connector's state directory; see statedir.h. */
#include "connector/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/names.h"
#include "common/fileio.h"
#include "common/ytree.h"

/* connector.yaml is three short lines; anything larger is not it. */
#define CONF_FILE_MAX 4096

int statedir_path(char *out, size_t n, const char *dir, const char *file) {
  int len = snprintf(out, n, "%s/%s", dir, file);

  return len < 0 || (size_t)len >= n ? SP_ETOOBIG : 0;
}

/* A port in plain decimal, 1 to 65535, with no leading zero. */
static int port_ok(const char *s) {
  size_t n = strlen(s), i;
  long v = 0;

  if (n == 0 || n > 5 || s[0] == '0')
    return 0;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  return v <= 65535;
}

int statedir_split_addr(const char *addr, char host[STATEDIR_HOST_MAX + 1],
                        char port[STATEDIR_PORT_MAX]) {
  const char *colon, *start = addr, *end;

  if (addr[0] == '[') {
    end = strstr(addr, "]:");
    if (end == NULL)
      return SP_EPARSE;
    start = addr + 1;
    colon = end + 1;
  } else {
    colon = strrchr(addr, ':');
    if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
      return SP_EPARSE;
    end = colon;
  }
  if (end == start || (size_t)(end - start) > STATEDIR_HOST_MAX ||
      strlen(colon + 1) >= STATEDIR_PORT_MAX || !port_ok(colon + 1))
    return SP_EPARSE;

  memcpy(host, start, (size_t)(end - start));
  host[end - start] = '\0';
  strcpy(port, colon + 1);
  return 0;
}

/* A server name: printable, no spaces or quotes, as a certificate has. */
static int server_name_ok(const char *s) {
  size_t n = strlen(s);

  if (n == 0 || n > STATEDIR_HOST_MAX)
    return 0;
  for (; *s != '\0'; s++)
    if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
      return 0;
  return 1;
}

int statedir_conf_set(struct statedir_conf *c, const char *name,
                      const char *relay, const char *server_name, char *err,
                      size_t errn) {
  memset(c, 0, sizeof(*c));
  if (!sp_name_valid(name)) {
    snprintf(err, errn, "'name' is not a valid connector name");
    return SP_EPARSE;
  }
  if (strlen(relay) > ENROLL_TOKEN_ADDR_MAX ||
      statedir_split_addr(relay, c->relay_host, c->relay_port) != 0 ||
      !server_name_ok(c->relay_host)) {
    snprintf(err, errn, "'relay' is not a host:port endpoint");
    return SP_EPARSE;
  }
  if (!server_name_ok(server_name)) {
    snprintf(err, errn, "'server_name' is not a host name or address");
    return SP_EPARSE;
  }
  strcpy(c->name, name);
  strcpy(c->relay, relay);
  strcpy(c->server_name, server_name);
  return 0;
}

int statedir_conf_format(const struct statedir_conf *c, char *out, size_t n) {
  int len;

  /* Every value is quoted: an IPv6 endpoint would otherwise read as a
   * YAML list.  statedir_conf_set() let no quote or backslash in. */
  len = snprintf(out, n, "name: \"%s\"\nrelay: \"%s\"\nserver_name: \"%s\"\n",
                 c->name, c->relay, c->server_name);
  return len < 0 || (size_t)len >= n ? SP_ETOOBIG : len;
}

/* The string under `key` in `map`, or NULL with a sentence in `err`. */
static const char *conf_string(const struct ytree_node *map, const char *key,
                               char *err, size_t errn) {
  const struct ytree_node *v = ytree_get(map, key);

  if (v == NULL || v->kind != YTREE_SCALAR) {
    snprintf(err, errn, "'%s' is missing or not a string", key);
    return NULL;
  }
  return v->str;
}

/* Only the three known keys, so that a typing mistake is noticed. */
static int conf_keys_known(const struct ytree_node *map, char *err,
                           size_t errn) {
  static const char *const known[] = {"name", "relay", "server_name"};
  size_t i, k;

  for (i = 0; i < map->n; i += 2) {
    for (k = 0; k < 3 && strcmp(map->kids[i]->str, known[k]) != 0; k++)
      ;
    if (k == 3) {
      snprintf(err, errn, "line %u: unknown key", map->kids[i]->line);
      return SP_ECONFIG;
    }
  }
  return 0;
}

static int conf_from_tree(const struct ytree_node *root,
                          struct statedir_conf *c, char *err, size_t errn) {
  const char *name, *relay, *server_name;

  if (root == NULL || root->kind != YTREE_MAP) {
    snprintf(err, errn, "not a map of keys to values");
    return SP_ECONFIG;
  }
  if (conf_keys_known(root, err, errn) != 0)
    return SP_ECONFIG;
  name = conf_string(root, "name", err, errn);
  relay = name != NULL ? conf_string(root, "relay", err, errn) : NULL;
  server_name =
      relay != NULL ? conf_string(root, "server_name", err, errn) : NULL;
  if (server_name == NULL)
    return SP_ECONFIG;
  if (statedir_conf_set(c, name, relay, server_name, err, errn) != 0)
    return SP_ECONFIG;
  return 0;
}

int statedir_conf_parse(const char *text, size_t len, const char *file,
                        struct statedir_conf *c, char *err, size_t errn) {
  struct ytree_node *root = NULL;
  struct ytree_err yerr;
  int rc;

  memset(c, 0, sizeof(*c));
  rc = ytree_parse(text, len, &root, &yerr);
  if (rc != 0) {
    snprintf(err, errn, "%s:%u:%u: %s", file, yerr.line, yerr.col, yerr.msg);
    return SP_ECONFIG;
  }
  rc = conf_from_tree(root, c, err, errn);
  ytree_free(root);
  return rc;
}

int statedir_conf_load(const char *dir, struct statedir_conf *c, char *err,
                       size_t errn) {
  char path[4096], *buf;
  size_t len;
  int rc;

  rc = statedir_path(path, sizeof(path), dir, STATEDIR_CONF);
  if (rc == 0)
    rc = sp_read_file(path, CONF_FILE_MAX, &buf, &len);
  if (rc != 0) {
    snprintf(err, errn, "cannot read %s: %s", path, sp_strerror(rc));
    return rc;
  }
  rc = statedir_conf_parse(buf, len, path, c, err, errn);
  free(buf);
  return rc;
}

/* ---- Replacing the key and certificate --------------------------------- */

/* The four paths a renewal touches. */
struct creds_paths {
  char key[4096], crt[4096], key_new[4096], crt_new[4096];
};

static int creds_paths(struct creds_paths *p, const char *dir) {
  if (statedir_path(p->key, sizeof(p->key), dir, STATEDIR_KEY) != 0 ||
      statedir_path(p->crt, sizeof(p->crt), dir, STATEDIR_CRT) != 0 ||
      statedir_path(p->key_new, sizeof(p->key_new), dir, STATEDIR_KEY_NEW) !=
          0 ||
      statedir_path(p->crt_new, sizeof(p->crt_new), dir, STATEDIR_CRT_NEW) != 0)
    return SP_ETOOBIG;
  return 0;
}

/* Makes the renames in DIR durable, in the order they were made. */
static int sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

  if (fd < 0)
    return -errno;
  if (fsync(fd) != 0)
    rc = -errno;
  close(fd);
  return rc;
}

/* unlink() that counts a missing file as removed. */
static int remove_file(const char *path) {
  return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

void statedir_creds_unstage(const char *dir) {
  struct creds_paths p;

  if (creds_paths(&p, dir) != 0)
    return;
  (void)remove_file(p.crt_new);
  (void)remove_file(p.key_new);
}

int statedir_creds_stage(const char *dir, const char *key_pem,
                         const char *crt_pem) {
  struct creds_paths p;
  int rc = creds_paths(&p, dir);

  if (rc != 0)
    return rc;
  statedir_creds_unstage(dir);
  rc = sp_write_file(p.key_new, key_pem, strlen(key_pem), 0600);
  if (rc == 0)
    rc = sp_write_file(p.crt_new, crt_pem, strlen(crt_pem), 0644);
  if (rc != 0)
    statedir_creds_unstage(dir);
  return rc;
}

int statedir_creds_commit(const char *dir) {
  struct creds_paths p;
  int rc = creds_paths(&p, dir);

  if (rc != 0)
    return rc;
  if (rename(p.key_new, p.key) != 0)
    return -errno;
  rc = sync_dir(dir);
  if (rc == 0 && rename(p.crt_new, p.crt) != 0)
    rc = -errno;
  if (rc == 0)
    rc = sync_dir(dir);
  return rc;
}

int statedir_creds_recover(const char *dir, const char **what) {
  struct creds_paths p;
  int rc = creds_paths(&p, dir);

  if (what != NULL)
    *what = "none";
  if (rc != 0)
    return rc;
  if (access(p.key_new, F_OK) == 0) {
    statedir_creds_unstage(dir);
    if (what != NULL)
      *what = "discarded";
    return sync_dir(dir);
  }
  if (access(p.crt_new, F_OK) != 0)
    return errno == ENOENT ? 0 : -errno;
  if (rename(p.crt_new, p.crt) != 0)
    return -errno;
  if (what != NULL)
    *what = "completed";
  return sync_dir(dir);
}
