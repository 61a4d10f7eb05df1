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

#endif
