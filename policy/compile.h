/*
 * The compiled policy: how a parsed policy lives in the store.
 *
 * `policy apply` replaces the whole "policy" database in one write
 * transaction, so a reader sees either the old policy or the new one,
 * never a mix.  Keys (one-byte prefix, then the rest):
 *
 *   "\0meta"           u8 version, i64 applied_at, u32 rules, u32
 *                      resources, u32 groups, str file name
 *   "\0text"           the file as applied, for `policy show`
 *   'a' + address      a resource by canonical address: u8 version, str
 *                      name, str address, str connector, u32 n, then for
 *                      each of the n rules that can apply to it (in file
 *                      order, including deny rules that name no
 *                      resources): u32 index, u32 length, the rule's
 *                      record, so a decision needs no lookup per rule
 *   'n' + name         the canonical address of resource `name`
 *   'm' + user         the policy groups that list `user` (a strlist)
 *   'r' + u32 BE index a rule, see rulerec.h
 *   'z' + zone name    a time zone's transition table (policy.h)
 *
 * So one decision reads three B-tree keys: the resource with its rules,
 * the user and the user's policy groups (and a time zone's table for a
 * rule with a time window).
 */
#ifndef SP_POLICY_COMPILE_H
#define SP_POLICY_COMPILE_H

#include <stdint.h>

#include "policy/policy.h"
#include "policy/store.h"

#define POLICY_DB_VERSION 1

struct policy_meta {
  int64_t applied_at;
  uint32_t n_rules;
  uint32_t n_resources;
  uint32_t n_groups;
  const char *file; /* borrows the transaction */
};

/* Called with one human-readable warning line ("FILE:L:C: warning: ..."). */
struct policy_warn {
  void (*fn)(void *ctx, const char *line);
  void *ctx;
};

/* Warnings that need the store (connectors not enrolled yet). */
int policy_lint(struct store *s, const struct policy *p, const char *file,
                const struct policy_warn *warn);

/* Replaces the live policy with `p` in one transaction. */
int policy_compile(struct store *s, const struct policy *p, const char *file,
                   int64_t now);

/* Reads the live policy's summary; SP_ENOTFOUND if none was applied. */
int policy_meta_get(struct store *s, MDB_txn *txn, struct policy_meta *m);

/* The live policy's text (borrowing `txn`); SP_ENOTFOUND if none. */
int policy_text_get(struct store *s, MDB_txn *txn, const char **text,
                    size_t *len);

#endif
