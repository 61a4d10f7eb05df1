/*
 * The policy language: what a parsed policy is, and the one pure function
 * that decides a request against a set of rules.
 *
 * A policy file (YAML, see docs/policy.md) declares resources, groups and
 * rules.  policy_parse() turns it into a struct policy; policy/compile.c
 * writes that into the store; the relay reads rules back out of the store
 * into the same struct policy_rule (borrowing the store's memory) and
 * calls policy_decide().  So the evaluator never cares where a rule came
 * from, and unit tests can decide straight from a parsed file.
 *
 * Semantics:
 *   - a request is allowed only if its destination is one declared
 *     resource, at least one enforcing allow rule matches every one of its
 *     conditions, and no enforcing deny rule matches;
 *   - rules in report mode are evaluated and their outcome recorded, but
 *     never change the decision;
 *   - an allow rule must name its resources; a deny rule without
 *     `resources` applies to every resource.
 */
#ifndef SP_POLICY_POLICY_H
#define SP_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/strlist.h"

enum policy_action {
  POLICY_ALLOW,
  POLICY_DENY,
};

enum policy_mode {
  POLICY_ENFORCE,
  POLICY_REPORT,
};

/*
 * A time zone as UTC-offset transitions, computed from the system
 * zoneinfo when the policy is parsed.  `trans` holds `n` entries of 12
 * bytes: the UTC second the offset starts (i64, little-endian; the first
 * entry is INT64_MIN) and the offset east of UTC in seconds (i32, LE).
 * Packed and unaligned because it may point into the store's pages.
 * n == 0 means UTC.
 */
struct policy_tz {
  const char *name; /* borrows */
  const uint8_t *trans;
  uint32_t n;
};

#define POLICY_TZ_ENTRY 12

/* The UTC offset in seconds of `tz` at UNIX time `t`. */
int32_t policy_tz_offset(const struct policy_tz *tz, int64_t t);

/*
 * Fills `tz` for the IANA zone `name` from the system zoneinfo ($TZDIR or
 * /usr/share/zoneinfo); `w` receives the transition table and must stay
 * alive as long as `tz` (see sp_strlist_build() for the same contract).
 * Returns SP_ENOTFOUND for an unknown zone.  Not thread-safe (it uses
 * the C library's TZ machinery): call it from parsers, not from the
 * relay's loops.
 */
int policy_tz_load(struct policy_tz *tz, struct sp_wbuf *w, const char *name);

/* Bit i of `days` is day i, Monday = 0 ... Sunday = 6. */
#define POLICY_ALL_DAYS 0x7f

struct policy_rule {
  const char *name; /* borrows, as do all lists below */
  uint32_t index;   /* position in the file, from 0 */
  unsigned line;    /* where the rule starts; 0 when read from the store */
  unsigned col;
  enum policy_action action;
  enum policy_mode mode;

  struct sp_strlist resources; /* resource names; n == 0: every one */
  struct sp_strlist users;     /* n == 0 and groups.n == 0: anyone */
  struct sp_strlist groups;
  int mfa;                     /* 1: the token must come from MFA */
  struct sp_strlist countries; /* ISO alpha-2, upper case; n == 0: none */
  int not_countries;           /* 1: `countries` lists excluded ones */
  const uint8_t *asns;         /* n_asns u32 LE, packed */
  uint32_t n_asns;
  int not_asns;
  uint8_t days;    /* POLICY_ALL_DAYS when not given */
  int hours_start; /* minutes from midnight; -1: no hours */
  int hours_end;   /* exclusive; may be < start (wraps) */
  struct policy_tz tz;
  struct sp_strlist device_tags;
  int max_risk; /* 0-100; -1: no cap */
};

struct policy_resource {
  const char *name;      /* borrows */
  const char *address;   /* canonical host:port, see policy_addr_canon() */
  const char *connector; /* a connector name; it may not be enrolled yet */
  unsigned line;
  unsigned col;
};

struct policy_group {
  const char *name;
  struct sp_strlist members; /* user names; users may not exist yet */
  unsigned line;
  unsigned col;
};

/* A parsed policy file.  Owns everything its members point to. */
struct policy {
  struct policy_resource *resources;
  size_t n_resources;
  struct policy_group *groups;
  size_t n_groups;
  struct policy_rule *rules;
  size_t n_rules;
  char *text; /* the file as given, for `policy show` */
  size_t text_len;
  void *mem; /* private: whatever the parser allocated */
};

/*
 * Parses and validates a policy file.  `file` is only used in messages.
 * On failure returns SP_EPOLICY (or SP_ENOMEM) and writes one line
 * "FILE:LINE:COLUMN: message" to `msg`; nothing else is changed.
 */
int policy_parse(const char *file, const char *buf, size_t len,
                 struct policy **out, char *msg, size_t msg_size);
void policy_free(struct policy *p);

/*
 * Whether `s` is a valid name for a user, group, resource, rule,
 * connector or device: 1 to 64 characters from [A-Za-z0-9._@-], starting
 * with a letter or digit.  One rule for every kind keeps logs, audit
 * lines and the store's keys free of quoting surprises.
 */
int policy_name_valid(const char *s);

/*
 * Canonical form of a destination or resource address "host:port":
 * host names lower-cased, IP literals in inet_ntop() form, IPv6 in
 * brackets ("[2001:db8::5]:22"), port in decimal without leading zeros.
 * An IP literal written as a name ("10.0.0.1") is an IP literal.
 * Returns 0, or SP_EPARSE with nothing useful in `out`.
 */
int policy_addr_canon(const char *in, char *out, size_t out_size);

/* Longest canonical address, with its NUL. */
#define POLICY_ADDR_MAX 264

/* What the relay knows about one request when it decides. */
struct policy_request {
  const char *user;          /* NULL: nobody we know */
  int user_disabled;         /* the user exists but is disabled */
  struct sp_strlist groups;  /* groups given with `user add` */
  struct sp_strlist pgroups; /* groups of the policy file naming user */
  int mfa;                   /* token came from a password+TOTP login */
  const char *device;        /* NULL: no registered device */
  struct sp_strlist device_tags;
  const char *resource; /* resolved resource name; NULL: none */
  char country[3];      /* ISO alpha-2; "XX" when unknown */
  uint32_t asn;         /* 0 when unknown */
  int64_t now;          /* UNIX seconds */
  int risk;             /* 0-100 */
};

/* Why a request was decided the way it was; stable tokens for audit. */
#define POLICY_REASON_MAP(X)                                                   \
  X(POLICY_R_ALLOWED, "allowed")                                               \
  X(POLICY_R_NO_RESOURCE, "no_resource")                                       \
  X(POLICY_R_UNKNOWN_USER, "unknown_user")                                     \
  X(POLICY_R_USER_DISABLED, "user_disabled")                                   \
  X(POLICY_R_DENY_RULE, "deny_rule")                                           \
  X(POLICY_R_NO_ALLOW_RULE, "no_allow_rule")

enum policy_reason {
#define POLICY_REASON_ENUM_(name, token) name,
  POLICY_REASON_MAP(POLICY_REASON_ENUM_)
#undef POLICY_REASON_ENUM_
};

const char *policy_reason_name(enum policy_reason r);

/* One rule's outcome, for `policy explain` and report-mode auditing. */
struct policy_verdict {
  const char *rule;   /* borrows the rule's name */
  int matched;        /* every condition held */
  const char *failed; /* the first condition that failed, as its YAML key
                         ("resources", "users", "groups", "mfa",
                         "device_tags", "countries", "not_countries",
                         "asns", "not_asns", "hours", "days", "max_risk");
                         NULL when matched */
};

struct policy_decision {
  int allow;
  enum policy_reason reason;
  const char *rule; /* the deciding rule's name; NULL when none decided */
  /* Report-mode rules that matched and disagree with the outcome. */
  const char *report_rule;
};

/*
 * The first condition of `rule` that `req` fails, or NULL if it meets
 * them all.  Conditions are checked in the order listed in
 * struct policy_verdict.
 */
const char *policy_rule_check(const struct policy_rule *rule,
                              const struct policy_request *req);

/*
 * Decides `req` against `rules` (in file order; the caller passes those
 * that can apply to req->resource, or all of them).  When `verdicts` is
 * not NULL it must hold `n` entries and receives every rule's outcome.
 * Pure: no I/O, no allocation, no clock.
 */
void policy_decide(const struct policy_request *req,
                   const struct policy_rule *rules, size_t n,
                   struct policy_decision *out,
                   struct policy_verdict *verdicts);

#endif
