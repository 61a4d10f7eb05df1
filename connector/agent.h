/*
 * The connector daemon (`sallyport-connector run`): keeps N tunnels to
 * the relay and splices the streams the relay opens on them to the
 * destinations the allowlist permits.  docs/connector.md describes what
 * it does; agent.c how.
 */
#ifndef SP_CONNECTOR_AGENT_H
#define SP_CONNECTOR_AGENT_H

#include <stdint.h>

#include "connector/allow.h"
#include "connector/statedir.h"

#define AGENT_TUNNELS_DEFAULT 2
#define AGENT_TUNNELS_MAX 16

/* The longest --renew-before: PKI_MAX_DAYS, the longest lifetime the CA
 * gives a certificate. */
#define AGENT_RENEW_BEFORE_MAX ((int64_t)3650 * 86400)

/* What the daemon runs with; every pointer is borrowed for agent_run. */
struct agent_opts {
  const char *state;                /* the state directory */
  const struct statedir_conf *conf; /* DIR/connector.yaml */
  const struct allow_list *allow;   /* at least one entry */
  unsigned tunnels;                 /* 1 to AGENT_TUNNELS_MAX */
  /* Renew the certificate once it has less than this many seconds left;
   * 0 means a third of its lifetime. */
  int64_t renew_before;
};

/*
 * First completes or undoes a replacement of the key and certificate
 * that a crash interrupted (statedir_creds_recover).  Then runs until
 * SIGINT or SIGTERM, renewing the certificate over a tunnel when it is
 * due (docs/connector.md, "Certificate renewal"); then says GOAWAY on
 * every tunnel, closes everything and returns 0 once the loop has no
 * handle left.  Fails before the loop starts with a sentence in `err`
 * (`errn` bytes) and a negative code: the TLS files cannot be loaded,
 * say.
 */
int agent_run(const struct agent_opts *o, char *err, size_t errn);

#endif
