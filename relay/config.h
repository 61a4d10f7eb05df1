/*
 * DIR/relay.yaml: the relay's settings.  Every key is optional and has
 * the default documented in docs/configuration.md; unknown keys and bad
 * values are errors with FILE:LINE:COLUMN, so a typo never silently
 * falls back to a default.
 */
#ifndef SP_RELAY_CONFIG_H
#define SP_RELAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_ADDR_MAX 64

struct relay_listen {
  char socks[CONFIG_ADDR_MAX]; /* "" disables a listener */
  char http[CONFIG_ADDR_MAX];
  char https[CONFIG_ADDR_MAX];
  char connectors[CONFIG_ADDR_MAX];
  char metrics[CONFIG_ADDR_MAX];
};

struct relay_config {
  char name[256]; /* the relay's public name, as given to `init` */
  struct relay_listen listen;
  char geoip[4096];
  char geoip_asn[4096];
  char **trusted_proxies; /* owns; CIDR strings */
  size_t n_trusted_proxies;
  int64_t token_ttl;       /* seconds */
  int64_t request_timeout; /* seconds a connection has to make its request */
  int workers;             /* 0: one per core */
};

/* Fills `c` with the defaults. */
void relay_config_defaults(struct relay_config *c);

/* Loads DIR/relay.yaml; on error writes "FILE:L:C: message" to msg. */
int relay_config_load(struct relay_config *c, const char *dir, char *msg,
                      size_t msg_size);

/*
 * Reads settings from the `len` bytes of `text`, as the contents of
 * `file` (named in the messages).  Returns 0, or SP_ECONFIG (or
 * SP_ENOMEM) with "FILE:L:C: message" in msg and `c` freed.
 */
int relay_config_parse(struct relay_config *c, const char *file,
                       const char *text, size_t len, char *msg,
                       size_t msg_size);

void relay_config_free(struct relay_config *c);

/* Writes a commented DIR/relay.yaml with the defaults and `name`. */
int relay_config_write_default(const char *dir, const char *name);

#endif
