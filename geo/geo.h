/*
 * GeoIP: the country, continent and autonomous system of an address,
 * from MaxMind DB (.mmdb) files read with libmaxminddb.
 *
 * Two layouts of country database are read, and which one a file has is
 * found once, at open, from its first data records:
 *
 *   MaxMind (GeoLite2/GeoIP2 Country or City): country.iso_code, with
 *   registered_country.iso_code when the country is missing, and
 *   continent.code;
 *   ip-location-db: a top-level country_code and nothing else.
 *
 * An ASN database (MaxMind GeoLite2-ASN, or ip-location-db's ASN files,
 * which share the layout) has autonomous_system_number and
 * autonomous_system_organization.  The continent comes from the
 * database when it has one, otherwise from the country through a fixed
 * table (geo_continent_of()).  Whatever is not known reads as "XX", "--"
 * and 0, which the policy never takes for a match of an exclusion list
 * (fail closed).
 *
 * Threads: a struct geo is read-only once open.  geo_lookup() and
 * geo_lookup_ip() may run from any number of threads at once, and
 * geo_reopen_if_changed() may run while they do: it opens the new files
 * aside and swaps them in under a write lock that lookups hold for
 * reading, so a lookup sees either the old databases or the new ones,
 * never a mix and never a closed one.  geo_close() needs every other
 * call to have returned.
 */
#ifndef SP_GEO_GEO_H
#define SP_GEO_GEO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest AS organisation kept, with its NUL; longer names are cut. */
#define GEO_ORG_MAX 128

struct geo;

struct geo_result {
  char country[3];       /* ISO 3166-1 alpha-2, upper case; "XX" unknown */
  char continent[3];     /* AF AN AS EU NA OC SA; "--" unknown */
  uint32_t asn;          /* 0 unknown */
  char org[GEO_ORG_MAX]; /* the AS organisation, UTF-8; "" unknown */
};

/*
 * Opens the country database at `country_path` (required) and the ASN
 * database at `asn_path` (NULL or "" for none).  On success `*out` owns
 * both; free it with geo_close().  On failure `*out` is NULL, `err`
 * (`errn` bytes; may be NULL when errn is 0) holds one line naming the
 * file and what is wrong with it, and the result is
 *   -errno     the file cannot be read (a missing file is -ENOENT);
 *   SP_EGEO    not a MaxMind DB file, a corrupt one, or one with neither
 *              layout (no country for a country database, no
 *              autonomous_system_number for an ASN database);
 *   SP_EUSAGE  no country path;
 *   SP_ENOMEM.
 */
int geo_open(struct geo **out, const char *country_path, const char *asn_path,
             char *err, size_t errn);

/* Closes both databases and frees `g`; NULL is accepted. */
void geo_close(struct geo *g);

/*
 * Looks up an IPv4 or IPv6 socket address; IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are looked up as IPv4.  `r` is always filled, with
 * unknowns for what the databases do not say.  Returns 0 (an address the
 * databases do not know is not an error), SP_EUSAGE for another address
 * family, or SP_EGEO when a database turns out to be corrupt at this
 * address; `r` then reads unknown.
 */
int geo_lookup(const struct geo *g, const struct sockaddr *sa,
               struct geo_result *r);

/*
 * The same for an IP literal ("81.2.69.160", "2001:db8::1"); SP_EPARSE
 * when `ip` is not one (names are never resolved).
 */
int geo_lookup_ip(const struct geo *g, const char *ip, struct geo_result *r);

/*
 * Reopens each database whose file changed (device, inode, size or
 * modification time) since it was opened: for SIGHUP, or a timer that
 * notices a new download.  Replace files by renaming a new file over
 * the old one, never by writing into it: libmaxminddb maps the file, so
 * rewriting it in place changes what running lookups read.  Returns 0
 * with `*reopened` (NULL accepted) set to 1 when something was swapped
 * in; on any error nothing changes, the old databases stay in use, and
 * the result and `err` are as for geo_open().
 */
int geo_reopen_if_changed(struct geo *g, int *reopened, char *err, size_t errn);

/* "maxmind" or "ip-location-db": the country database's layout. */
const char *geo_layout_name(const struct geo *g);

/*
 * The continent of an ISO 3166-1 alpha-2 country code, either case:
 * "AF", "AN", "AS", "EU", "NA", "OC" or "SA"; "--" for anything else
 * ("XX", NULL, a code that is not assigned).  Never NULL.
 */
const char *geo_continent_of(const char *country);

#endif
