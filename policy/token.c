#include "policy/token.h"

#include <arpa/inet.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/pack.h"
#include "common/rand.h"

#define TOKEN_REC_VERSION 1
#define TOKEN_B64_LEN 43

int token_addr_canon(const char *in, char out[TOKEN_ADDR_MAX]) {
  unsigned char a[16];

  if (inet_pton(AF_INET, in, a) == 1) {
    inet_ntop(AF_INET, a, out, TOKEN_ADDR_MAX);
    return 0;
  }
  if (inet_pton(AF_INET6, in, a) != 1)
    return SP_EUSAGE;
  if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    inet_ntop(AF_INET, a + 12, out, TOKEN_ADDR_MAX);
  else
    inet_ntop(AF_INET6, a, out, TOKEN_ADDR_MAX);
  return 0;
}

static void token_hash(const char *text, size_t len, uint8_t out[32]) {
  mbedtls_sha256_ret((const unsigned char *)text, len, out, 0);
}

static void token_id(const uint8_t hash[32], char id[TOKEN_ID_LEN + 1]) {
  int i;

  for (i = 0; i < TOKEN_ID_LEN / 2; i++)
    snprintf(id + 2 * i, 3, "%02x", hash[i]);
}

static int token_text(const uint8_t raw[TOKEN_RAW_LEN],
                      char out[TOKEN_TEXT_MAX]) {
  unsigned char b64[64];
  size_t n, i, pre = strlen(TOKEN_PREFIX);

  if (mbedtls_base64_encode(b64, sizeof(b64), &n, raw, TOKEN_RAW_LEN) != 0)
    return SP_ECRYPTO;
  while (n > 0 && b64[n - 1] == '=')
    n--;
  memcpy(out, TOKEN_PREFIX, pre);
  for (i = 0; i < n; i++)
    out[pre + i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
  out[pre + n] = '\0';
  return 0;
}

static int token_decode(const MDB_val *val, struct token_rec *t) {
  struct sp_rbuf r;

  sp_rbuf_init(&r, val->mv_data, val->mv_size);
  if (sp_rbuf_u8(&r) != TOKEN_REC_VERSION)
    return SP_ECORRUPT;
  t->user = sp_rbuf_str(&r, NULL);
  t->source = sp_rbuf_str(&r, NULL);
  t->issued = (int64_t)sp_rbuf_u64(&r);
  t->expires = (int64_t)sp_rbuf_u64(&r);
  t->mfa = sp_rbuf_u8(&r);
  return r.err != 0 || r.off != r.len ? SP_ECORRUPT : 0;
}

int token_issue(struct store *s, MDB_txn *txn, const char *user,
                const char *source, int mfa, int64_t now, int64_t ttl,
                char out[TOKEN_TEXT_MAX], int64_t *expires) {
  uint8_t raw[TOKEN_RAW_LEN], hash[32];
  char addr[TOKEN_ADDR_MAX];
  struct sp_wbuf w;
  int rc;

  rc = token_addr_canon(source, addr);
  if (rc == 0)
    rc = sp_random(raw, sizeof(raw));
  if (rc == 0)
    rc = token_text(raw, out);
  memset(raw, 0, sizeof(raw));
  if (rc != 0)
    return rc;
  token_hash(out, strlen(out), hash);

  sp_wbuf_init(&w);
  sp_wbuf_u8(&w, TOKEN_REC_VERSION);
  sp_wbuf_str(&w, user);
  sp_wbuf_str(&w, addr);
  sp_wbuf_u64(&w, (uint64_t)now);
  sp_wbuf_u64(&w, (uint64_t)(now + ttl));
  sp_wbuf_u8(&w, mfa ? 1 : 0);
  rc = w.err;
  if (rc == 0)
    rc = store_put(txn, s->tokens, hash, sizeof(hash), w.p, w.len,
                   MDB_NOOVERWRITE);
  sp_wbuf_free(&w);
  if (rc == 0)
    *expires = now + ttl;
  return rc;
}

static int token_well_formed(const char *token) {
  size_t pre = strlen(TOKEN_PREFIX), i;

  if (strncmp(token, TOKEN_PREFIX, pre) != 0 ||
      strlen(token) != pre + TOKEN_B64_LEN)
    return 0;
  for (i = pre; token[i] != '\0'; i++)
    if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789-_",
               token[i]) == NULL)
      return 0;
  return 1;
}

int token_check(struct store *s, MDB_txn *txn, const char *user,
                const char *token, const char *source, int64_t now,
                struct token_rec *out) {
  uint8_t hash[32];
  char addr[TOKEN_ADDR_MAX];
  MDB_val val;
  int rc;

  if (!token_well_formed(token) || token_addr_canon(source, addr) != 0)
    return SP_ETOKEN;
  token_hash(token, strlen(token), hash);
  rc = store_get(txn, s->tokens, hash, sizeof(hash), &val);
  if (rc == SP_ENOTFOUND)
    return SP_ETOKEN;
  if (rc == 0)
    rc = token_decode(&val, out);
  if (rc != 0)
    return rc;
  token_id(hash, out->id);
  memcpy(out->hash, hash, sizeof(hash));

  /* Another user's token is as good as no token. */
  if (strcmp(out->user, user) != 0)
    return SP_ETOKEN;
  if (now >= out->expires)
    return SP_EEXPIRED;
  if (strcmp(out->source, addr) != 0)
    return SP_EBINDING;
  return 0;
}

int token_recheck(struct store *s, MDB_txn *txn, const uint8_t hash[32],
                  int64_t now) {
  struct token_rec t;
  MDB_val val;
  int rc = store_get(txn, s->tokens, hash, 32, &val);

  if (rc == SP_ENOTFOUND)
    return SP_ETOKEN;
  if (rc == 0)
    rc = token_decode(&val, &t);
  if (rc == 0 && now >= t.expires)
    rc = SP_EEXPIRED;
  return rc;
}

/*
 * Walks the token table, deleting the records `drop` picks.  A full
 * scan: tokens are few per user and this runs on admin actions and
 * logins only, never on the connection path.
 */
static int token_sweep(struct store *s, MDB_txn *txn,
                       int (*drop)(const struct token_rec *t,
                                   const uint8_t *hash, const void *arg),
                       const void *arg, size_t *count) {
  struct token_rec t;
  MDB_cursor *cur;
  MDB_val k, v;
  size_t n = 0;
  int rc, op = MDB_FIRST;

  rc = store_err(mdb_cursor_open(txn, s->tokens, &cur));
  if (rc != 0)
    return rc;
  while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
    op = MDB_NEXT;
    if (k.mv_size != 32 || token_decode(&v, &t) != 0 ||
        drop(&t, k.mv_data, arg)) {
      rc = store_err(mdb_cursor_del(cur, 0));
      if (rc != 0)
        break;
      n++;
    }
  }
  mdb_cursor_close(cur);
  if (count != NULL)
    *count = n;
  return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

static int drop_user(const struct token_rec *t, const uint8_t *hash,
                     const void *user) {
  return strcmp(t->user, user) == 0;
}

static int drop_id(const struct token_rec *t, const uint8_t *hash,
                   const void *id) {
  char mine[TOKEN_ID_LEN + 1];

  token_id(hash, mine);
  return strcmp(mine, id) == 0;
}

struct prune_arg {
  const char *user;
  int64_t now;
};

static int drop_expired(const struct token_rec *t, const uint8_t *hash,
                        const void *arg) {
  const struct prune_arg *p = arg;

  return (p->user == NULL || strcmp(t->user, p->user) == 0) &&
         p->now >= t->expires;
}

int token_revoke_user(struct store *s, MDB_txn *txn, const char *user,
                      size_t *count) {
  return token_sweep(s, txn, drop_user, user, count);
}

int token_revoke_id(struct store *s, MDB_txn *txn, const char *id) {
  size_t n;
  int rc = token_sweep(s, txn, drop_id, id, &n);

  return rc != 0 ? rc : n == 0 ? SP_ENOTFOUND : 0;
}

int token_prune(struct store *s, MDB_txn *txn, const char *user, int64_t now) {
  struct prune_arg arg = {user, now};

  return token_sweep(s, txn, drop_expired, &arg, NULL);
}

int token_foreach(struct store *s, MDB_txn *txn, const char *user,
                  int (*fn)(void *ctx, const struct token_rec *t), void *ctx) {
  struct token_rec t;
  MDB_cursor *cur = NULL;
  MDB_val k, v;
  int rc, op = MDB_FIRST;

  rc = store_err(mdb_cursor_open(txn, s->tokens, &cur));
  while (rc == 0 && mdb_cursor_get(cur, &k, &v, op) == 0) {
    op = MDB_NEXT;
    if (k.mv_size != 32 || token_decode(&v, &t) != 0)
      continue;
    if (user != NULL && strcmp(t.user, user) != 0)
      continue;
    token_id(k.mv_data, t.id);
    rc = fn(ctx, &t);
  }
  if (cur != NULL)
    mdb_cursor_close(cur);
  return rc > 0 ? 0 : rc;
}
