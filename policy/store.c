#include "policy/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/pack.h"

static const char key_format[] = "format";
static const char key_generation[] = "generation";

int store_err(int rc) {
  switch (rc) {
  case MDB_SUCCESS:
    return 0;
  case MDB_NOTFOUND:
    return SP_ENOTFOUND;
  case MDB_KEYEXIST:
    return SP_EEXIST;
  case MDB_MAP_FULL:
    return SP_ESTOREFULL;
  case MDB_VERSION_MISMATCH:
  case MDB_INVALID:
    return SP_EFORMAT;
  case ENOMEM:
    return SP_ENOMEM;
  default:
    if (rc > 0 && rc < 4096)
      return -rc;
    return SP_ESTORE;
  }
}

static int env_open(MDB_env **envp, const char *path, size_t map_size,
                    unsigned extra_flags, unsigned maxdbs) {
  MDB_env *env = NULL;
  int rc;

  rc = mdb_env_create(&env);
  if (rc == 0)
    rc = mdb_env_set_mapsize(env, map_size);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(env, maxdbs);
  if (rc == 0)
    rc = mdb_env_set_maxreaders(env, 1024);
  if (rc == 0)
    rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS | extra_flags, 0600);
  if (rc != 0) {
    if (env != NULL)
      mdb_env_close(env);
    sp_debug("store", "env_open_failed", "path=%s err=%s", path,
             mdb_strerror(rc));
    return store_err(rc);
  }
  *envp = env;
  return 0;
}

static int open_dbis(struct store *s, MDB_txn *txn, unsigned flags) {
  struct {
    const char *name;
    MDB_dbi *dbi;
  } dbs[] = {
      {"meta", &s->meta},
      {"users", &s->users},
      {"tokens", &s->tokens},
      {"devices", &s->devices},
      {"connectors", &s->connectors},
      {"policy", &s->policy},
  };
  size_t i;
  int rc;

  for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
    rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
    if (rc != 0)
      return store_err(rc);
  }
  return 0;
}

/* Writes the format on a new store, or checks it on an existing one. */
static int check_format(struct store *s, MDB_txn *txn, int create) {
  uint8_t buf[4];
  struct sp_rbuf r;
  MDB_val val;
  int rc;

  rc = store_get(txn, s->meta, key_format, strlen(key_format), &val);
  if (rc == SP_ENOTFOUND && create) {
    buf[0] = STORE_FORMAT;
    buf[1] = buf[2] = buf[3] = 0;
    return store_put(txn, s->meta, key_format, strlen(key_format), buf, 4, 0);
  }
  if (rc == SP_ENOTFOUND)
    return SP_EFORMAT;
  if (rc != 0)
    return rc;
  sp_rbuf_init(&r, val.mv_data, val.mv_size);
  if (sp_rbuf_u32(&r) != STORE_FORMAT || r.err != 0)
    return SP_EFORMAT;
  return 0;
}

static int open_durable(struct store *s, int create) {
  char path[4096];
  MDB_txn *txn;
  int rc;

  snprintf(path, sizeof(path), "%s/store.mdb", s->dir);
  if (!create && access(path, F_OK) != 0)
    return SP_ENOTFOUND;
  if (create && access(path, F_OK) == 0)
    return SP_EEXIST;
  rc = env_open(&s->env, path, STORE_MAP_SIZE, 0, 8);
  if (rc != 0)
    return rc;

  rc = store_err(mdb_txn_begin(s->env, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = open_dbis(s, txn, create ? MDB_CREATE : 0);
  if (rc == SP_ENOTFOUND)
    rc = SP_EFORMAT;
  if (rc == 0)
    rc = check_format(s, txn, create);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_err(mdb_txn_commit(txn));
}

static int try_volatile(struct store *s, const char *path) {
  MDB_txn *txn;
  int rc;

  rc = env_open(&s->venv, path, STORE_VOLATILE_MAP_SIZE,
                MDB_NOSYNC | MDB_NOMETASYNC, 8);
  if (rc != 0)
    return rc;
  rc = store_err(mdb_txn_begin(s->venv, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = store_err(mdb_dbi_open(txn, "lockouts", MDB_CREATE, &s->lockouts));
  if (rc == 0)
    rc = store_err(mdb_dbi_open(txn, "live", MDB_CREATE, &s->live));
  if (rc == 0)
    rc = store_err(mdb_dbi_open(txn, "sessions", MDB_CREATE, &s->sessions));
  if (rc == 0)
    rc = store_err(mdb_dbi_open(txn, "kills", MDB_CREATE, &s->kills));
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_err(mdb_txn_commit(txn));
}

/* Counters may be lost: an unreadable volatile store is started anew. */
static int open_volatile(struct store *s) {
  char path[4096], lock[4200];
  int rc;

  snprintf(path, sizeof(path), "%s/volatile.mdb", s->dir);
  rc = try_volatile(s, path);
  if (rc == 0 || rc == SP_ENOMEM || rc == -EACCES)
    return rc;
  if (s->venv != NULL) {
    mdb_env_close(s->venv);
    s->venv = NULL;
  }
  sp_warn("store", "volatile_reset", "path=%s err=%s", path, sp_err_name(rc));
  snprintf(lock, sizeof(lock), "%s-lock", path);
  unlink(path);
  unlink(lock);
  return try_volatile(s, path);
}

int store_open(struct store **out, const char *dir, unsigned flags) {
  struct store *s = calloc(1, sizeof(*s));
  int rc;

  if (s == NULL || (s->dir = strdup(dir)) == NULL) {
    free(s);
    return SP_ENOMEM;
  }
  rc = open_durable(s, (flags & STORE_CREATE) != 0);
  if (rc == 0)
    rc = open_volatile(s);
  if (rc != 0) {
    store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(struct store *s) {
  if (s == NULL)
    return;
  if (s->venv != NULL)
    mdb_env_close(s->venv);
  if (s->env != NULL)
    mdb_env_close(s->env);
  free(s->dir);
  free(s);
}

int store_begin(struct store *s, unsigned mdb_flags, MDB_txn **txn) {
  return store_err(mdb_txn_begin(s->env, NULL, mdb_flags, txn));
}

int store_vbegin(struct store *s, unsigned mdb_flags, MDB_txn **txn) {
  return store_err(mdb_txn_begin(s->venv, NULL, mdb_flags, txn));
}

uint64_t store_generation(struct store *s, MDB_txn *txn) {
  struct sp_rbuf r;
  MDB_val val;
  uint64_t gen;

  if (store_get(txn, s->meta, key_generation, strlen(key_generation), &val) !=
      0)
    return 0;
  sp_rbuf_init(&r, val.mv_data, val.mv_size);
  gen = sp_rbuf_u64(&r);
  return r.err == 0 ? gen : 0;
}

int store_commit(struct store *s, MDB_txn *txn) {
  uint64_t gen = store_generation(s, txn) + 1;
  uint8_t buf[8];
  int i, rc;

  for (i = 0; i < 8; i++)
    buf[i] = (uint8_t)(gen >> (8 * i));
  rc = store_put(txn, s->meta, key_generation, strlen(key_generation), buf,
                 sizeof(buf), 0);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return store_err(mdb_txn_commit(txn));
}

int store_commit_quiet(MDB_txn *txn) {
  return store_err(mdb_txn_commit(txn));
}

int store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
              MDB_val *val) {
  MDB_val k = {klen, (void *)(uintptr_t)key};

  return store_err(mdb_get(txn, dbi, &k, val));
}

int store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
              const void *val, size_t vlen, unsigned flags) {
  MDB_val k = {klen, (void *)(uintptr_t)key};
  MDB_val v = {vlen, (void *)(uintptr_t)val};

  return store_err(mdb_put(txn, dbi, &k, &v, flags));
}

int store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen) {
  MDB_val k = {klen, (void *)(uintptr_t)key};

  return store_err(mdb_del(txn, dbi, &k, NULL));
}

int store_foreach_name(MDB_txn *txn, MDB_dbi dbi,
                       int (*fn)(void *ctx, const char *name,
                                 const MDB_val *val),
                       void *ctx) {
  char name[STORE_NAME_MAX];
  MDB_cursor *cur;
  MDB_val k, v;
  int rc, op = MDB_FIRST;

  rc = store_err(mdb_cursor_open(txn, dbi, &cur));
  if (rc != 0)
    return rc;
  while (rc == 0 && mdb_cursor_get(cur, &k, &v, op) == 0) {
    op = MDB_NEXT;
    if (k.mv_size >= sizeof(name))
      continue;
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = '\0';
    rc = fn(ctx, name, &v);
  }
  mdb_cursor_close(cur);
  return rc > 0 ? 0 : rc;
}
