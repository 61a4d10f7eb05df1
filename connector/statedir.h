/*
 * The connector's state directory (`--state DIR`): the files enrolment
 * writes and `run` reads, and DIR/connector.yaml, which says who the
 * connector is and where its relay is:
 *
 *   name: "paris-office"
 *   relay: "relay.example.com:7443"
 *   server_name: "relay.example.com"
 *
 * `relay` is the relay's connector endpoint as the enrolment token gave
 * it (an IPv6 literal in brackets), `server_name` the name the relay's
 * certificate must carry (the relay's host, without brackets).
 */
#ifndef SP_CONNECTOR_STATEDIR_H
#define SP_CONNECTOR_STATEDIR_H

#include <stddef.h>

#include "connector/enroll_token.h"

#define STATEDIR_KEY "connector.key"
#define STATEDIR_CRT "connector.crt"
#define STATEDIR_CA "ca.crt"
#define STATEDIR_CONF "connector.yaml"
/* A renewed key and certificate, staged before they replace the pair. */
#define STATEDIR_KEY_NEW "connector.key.new"
#define STATEDIR_CRT_NEW "connector.crt.new"

/* The longest host in an endpoint, and a port's digits with the NUL. */
#define STATEDIR_HOST_MAX 253
#define STATEDIR_PORT_MAX 6

/* What connector.yaml says, with the endpoint split for dialling. */
struct statedir_conf {
  char name[ENROLL_TOKEN_NAME_MAX + 1];
  char relay[ENROLL_TOKEN_ADDR_MAX + 1];   /* "host:port" */
  char server_name[STATEDIR_HOST_MAX + 1]; /* for the relay's certificate */
  char relay_host[STATEDIR_HOST_MAX + 1];  /* no brackets */
  char relay_port[STATEDIR_PORT_MAX];      /* decimal */
};

/* DIR/FILE into `out` (`n` bytes); SP_ETOOBIG when it does not fit. */
int statedir_path(char *out, size_t n, const char *dir, const char *file);

/*
 * Splits an endpoint "host:port" or "[v6]:port" into a host without
 * brackets and a port of 1 to 65535 in decimal.  Returns 0 or SP_EPARSE.
 */
int statedir_split_addr(const char *addr, char host[STATEDIR_HOST_MAX + 1],
                        char port[STATEDIR_PORT_MAX]);

/*
 * Fills `c` from its name, endpoint and server name (each
 * NUL-terminated), checking each: 0, or SP_EPARSE with a sentence in
 * `err` (`errn` bytes).
 */
int statedir_conf_set(struct statedir_conf *c, const char *name,
                      const char *relay, const char *server_name, char *err,
                      size_t errn);

/* Writes the text of connector.yaml for `c` into `out` (`n` bytes);
 * returns its length or SP_ETOOBIG. */
int statedir_conf_format(const struct statedir_conf *c, char *out, size_t n);

/*
 * Reads DIR/connector.yaml into `c`.  Returns 0; the file's errno code
 * (-ENOENT when the connector has not enrolled); or SP_ECONFIG, each with
 * a sentence in `err`.
 */
int statedir_conf_load(const char *dir, struct statedir_conf *c, char *err,
                       size_t errn);

/* The same for the `len` bytes of `text`, read from `file` (for the
   messages): 0 or SP_ECONFIG with a sentence in `err`. */
int statedir_conf_parse(const char *text, size_t len, const char *file,
                        struct statedir_conf *c, char *err, size_t errn);

/*
 * Replacing the key and certificate after a renewal.  The pair must
 * change together: a key without its certificate cannot open a tunnel.
 * So the new pair is staged under STATEDIR_KEY_NEW (0600) and
 * STATEDIR_CRT_NEW (0644), both synced, and committed by two renames, the
 * key's first, each followed by a sync of the directory.  Whatever moment
 * a crash hits, statedir_creds_recover() finds one of three states:
 *
 *   key.new present            the commit had not begun: the staged
 *                              files are removed, the old pair stands
 *   only crt.new present       the key was moved: the certificate
 *                              follows it, completing the new pair
 *   neither                    nothing to do
 *
 * which is why staging writes the key first and unstaging removes the
 * certificate first.
 */

/* Stages `key_pem` and `crt_pem` (NUL-terminated) in DIR, replacing what
 * an earlier attempt left there.  0 or an errno code; nothing is left
 * staged on failure. */
int statedir_creds_stage(const char *dir, const char *key_pem,
                         const char *crt_pem);

/* Removes a staged pair, certificate first. */
void statedir_creds_unstage(const char *dir);

/* Moves the staged pair into place (see above).  0 or an errno code. */
int statedir_creds_commit(const char *dir);

/*
 * Completes or undoes a commit that a crash interrupted; `*what` (NULL
 * accepted) becomes "none", "completed" or "discarded".  0 or an errno
 * code.
 */
int statedir_creds_recover(const char *dir, const char **what);

#endif
