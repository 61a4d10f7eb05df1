/*
 * The store: everything the relay knows, in LMDB, under the state dir.
 *
 * Two environments:
 *
 *   DIR/store.mdb     durable: users, tokens, devices, connectors and the
 *                     compiled policy.  Every commit is synced, so a crash
 *                     at any moment leaves the last committed state.
 *   DIR/volatile.mdb  counters that may be lost (failed-login lockouts).
 *                     Opened without syncs, so counting on the login and
 *                     connection paths never waits on the disk; if a
 *                     system crash leaves it unreadable it is recreated.
 *
 * Admin subcommands and the running relay open the same files: LMDB
 * allows one writer and many readers across processes.  Every durable
 * write bumps a generation counter, which the relay polls to notice
 * changes.  The meta database holds the format version; a store of
 * another version is refused (SP_EFORMAT) rather than misread, so a
 * later release can migrate it explicitly.
 *
 * Readers use short transactions (MDB_NOTLS: a reset read transaction
 * can be renewed on any thread) and never hold one across a callback.
 */
#ifndef SP_POLICY_STORE_H
#define SP_POLICY_STORE_H

#include <lmdb.h>
#include <stdint.h>

#define STORE_FORMAT 1
#define STORE_MAP_SIZE (1ull << 30)
#define STORE_VOLATILE_MAP_SIZE (256ull << 20)

enum store_flags {
  STORE_CREATE = 1, /* make the files; fail if the store exists */
};

struct store {
  MDB_env *env; /* owns */
  MDB_dbi meta;
  MDB_dbi users;
  MDB_dbi tokens;
  MDB_dbi devices;
  MDB_dbi connectors;
  MDB_dbi policy;
  MDB_env *venv; /* owns; the volatile environment */
  MDB_dbi lockouts;
  MDB_dbi live;     /* volatile: connectors' live status */
  MDB_dbi sessions; /* volatile: the running relay's client sessions */
  MDB_dbi kills;    /* volatile: `sessions kill` requests */
  char *dir;        /* owns */
};

/* Opens (or with STORE_CREATE, creates) the store under state dir `dir`. */
int store_open(struct store **out, const char *dir, unsigned flags);
void store_close(struct store *s);

/* Translates an LMDB result into a code of common/err.h. */
int store_err(int mdb_rc);

/* Begins a durable transaction; MDB_RDONLY for readers. */
int store_begin(struct store *s, unsigned mdb_flags, MDB_txn **txn);

/* Bumps the generation and commits a durable write transaction. */
int store_commit(struct store *s, MDB_txn *txn);

/*
 * Commits without bumping the generation, for writes that can take no
 * access away from anyone (a login issuing a token and recording its
 * TOTP step).  The running relay re-checks every live connection when
 * the generation moves, so logins must not make it do that each time.
 */
int store_commit_quiet(MDB_txn *txn);

/* The generation as of `txn`; 0 for a new store. */
uint64_t store_generation(struct store *s, MDB_txn *txn);

/* Begins a transaction on the volatile environment. */
int store_vbegin(struct store *s, unsigned mdb_flags, MDB_txn **txn);

/* mdb_get/mdb_put/mdb_del with keys as bytes and errors translated. */
int store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
              MDB_val *val);
int store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
              const void *val, size_t vlen, unsigned flags);
int store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/* Longest key store_foreach_name() hands out, with its NUL. */
#define STORE_NAME_MAX 80

/*
 * Calls `fn` for every record of `dbi` whose key is a name (shorter than
 * STORE_NAME_MAX), in key order, with the key as a C string; stops at
 * the first non-zero return, which is returned unless positive.
 */
int store_foreach_name(MDB_txn *txn, MDB_dbi dbi,
                       int (*fn)(void *ctx, const char *name,
                                 const MDB_val *val),
                       void *ctx);

#endif
