/*
 * The connector's own allowlist: what it will dial, whatever the relay
 * asks.  The relay's policy decides who may reach a resource; this list
 * is the branch office's independent limit on where a connector goes, so
 * a compromised or misconfigured relay still cannot make it dial outside.
 *
 * Entries come from `sallyport-connector run --allow ENTRY`, one of
 *
 *   10.20.0.0/16        an IPv4 network; a bare address means /32
 *   [2001:db8::]/32     an IPv6 network, always in brackets; a bare
 *                       [address] means /128
 *   wiki.corp           exactly this host name
 *   *.corp              any name ending in ".corp", but not "corp" itself
 *
 * each optionally followed by ":port" ("10.0.0.0/8:5432",
 * "[2001:db8::]/32:22", "*.corp:443"); without a port any port matches.
 * Names are compared without regard to case and a trailing dot.  An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is an IPv4 address, both in
 * entries (which are stored as IPv4) and in addresses being checked.  A
 * name whose last label is numeric ("10.1", "host.0x1f") is not a name:
 * resolvers read such strings as addresses, so they are refused.
 *
 * The rule the connector applies to a destination host:port:
 *   - an IP literal is dialled only if a network entry allows it;
 *   - a name allowed by a name or wildcard entry is resolved and any of
 *     its addresses may be dialled;
 *   - any other name is resolved, and only those of its addresses that a
 *     network entry allows may be dialled; if none is, nothing is.
 * allow_check_dest() and allow_check_resolved() encode this rule; the
 * connector calls them and nothing else.
 */
#ifndef SP_CONNECTOR_ALLOW_H
#define SP_CONNECTOR_ALLOW_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* The most entries one list holds; more is a configuration error. */
#define ALLOW_MAX_ENTRIES 4096
/* The longest host name, without a trailing dot. */
#define ALLOW_NAME_MAX 253
/* Room for the longest entry in text form, with its NUL. */
#define ALLOW_FORMAT_MAX 272

enum allow_kind {
  ALLOW_CIDR4 = 1, /* `addr[0..3]` / `prefix` */
  ALLOW_CIDR6,     /* `addr` / `prefix` */
  ALLOW_NAME,      /* exactly `name` */
  ALLOW_SUFFIX,    /* any name ending in "." `name` */
};

struct allow_entry {
  uint8_t kind;                  /* enum allow_kind */
  uint8_t prefix;                /* networks: the prefix length */
  uint16_t port;                 /* 0: any port */
  uint8_t addr[16];              /* networks: host bits are zero */
  char name[ALLOW_NAME_MAX + 1]; /* names: lower case, no trailing dot */
};

/* A list of entries; all zeroes is a valid empty list. */
struct allow_list {
  struct allow_entry *v; /* owns `n` entries */
  size_t n;
  size_t cap;
};

/* What allow_check_dest() lets the connector do with a destination. */
enum allow_verdict {
  ALLOW_DEST_DENIED,      /* dial nothing; do not even resolve the name */
  ALLOW_DEST_ANY_ADDR,    /* resolve; any resulting address may be dialled */
  ALLOW_DEST_CHECK_ADDRS, /* resolve; dial only the addresses that pass
                             allow_check_resolved() */
};

void allow_init(struct allow_list *l);

/* Frees the entries; `l` is an empty list afterwards. */
void allow_free(struct allow_list *l);

/*
 * Appends one entry given as text (`entry`, NUL-terminated).  Returns 0;
 * SP_EPARSE for a malformed entry, SP_ETOOBIG when the list is full, or
 * SP_ENOMEM, each with one line for people in `err` (`err_size` bytes;
 * `err` may be NULL).  On failure the list is unchanged.
 */
int allow_parse(struct allow_list *l, const char *entry, char *err,
                size_t err_size);

/*
 * 1 if a name or wildcard entry allows `host` (as the relay sent it) on
 * `port`, else 0.  An IP literal, or anything that is not a valid host
 * name, never matches.  Port 0 never matches.
 */
int allow_match_name(const struct allow_list *l, const char *host,
                     uint16_t port);

/*
 * 1 if a network entry allows the address in `sa` (AF_INET or AF_INET6;
 * any other family never matches) on `port`, else 0.  Port 0 never
 * matches.
 */
int allow_match_addr(const struct allow_list *l, const struct sockaddr *sa,
                     uint16_t port);

/*
 * The connector's rule for a destination `host`:`port` as it arrived in
 * OPEN (an IPv6 literal with or without brackets).  A name is only
 * resolved when the verdict is not ALLOW_DEST_DENIED; a name that no
 * entry could allow is denied before any lookup.
 */
enum allow_verdict allow_check_dest(const struct allow_list *l,
                                    const char *host, uint16_t port);

/*
 * 1 if the resolved address `sa` may be dialled for a destination whose
 * verdict was `v` on `port`, else 0.  For ALLOW_DEST_DENIED it is 0.
 */
int allow_check_resolved(const struct allow_list *l, enum allow_verdict v,
                         const struct sockaddr *sa, uint16_t port);

/*
 * Writes `e` in the canonical text form that allow_parse() reads back
 * ("10.0.0.0/8:5432", "[2001:db8::]/32", "*.corp:443") into `out`
 * (`n` bytes; ALLOW_FORMAT_MAX always suffices), for logs.  Returns
 * `out`.
 */
const char *allow_entry_format(const struct allow_entry *e, char *out,
                               size_t n);

#endif
