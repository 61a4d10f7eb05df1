/*
 * Counters for Prometheus, and the small HTTP server on listen.metrics
 * that serves them (/metrics) and the readiness probe (/healthz: 200
 * once every listener is bound and the store is open, 503 before that
 * and while shutting down).  Everything runs on the relay's loop, so
 * the counters are plain integers.
 */
#ifndef SP_RELAY_METRICS_H
#define SP_RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

struct listener;

enum metrics_listener {
  METRICS_SOCKS,
  METRICS_HTTP,
  METRICS_HTTPS,
  METRICS_CONNECTORS,
  METRICS_N_LISTENERS,
};

#define METRICS_N_REASONS 6

struct relay_metrics {
  uint64_t connections[METRICS_N_LISTENERS];
  uint64_t decisions[2][METRICS_N_REASONS]; /* [allow][reason] */
  uint64_t logins_ok;
  uint64_t logins_failed;
  uint64_t auth_failures; /* proxy credentials refused */
  uint64_t bytes_to_resource;
  uint64_t bytes_to_client;
  uint64_t streams_active;
  uint64_t tunnels_up;
  uint64_t connectors_up;
  uint64_t enrolments;
  uint64_t protocol_errors;
  uint64_t audit_failures; /* audit records that could not be written */
};

/* Renders the Prometheus text format into `out`; returns its length or
   0 if it did not fit. */
size_t metrics_render(const struct relay_metrics *m, int ready, char *out,
                      size_t n);

/* Accept callback for listen.metrics; l->data is the struct relay. */
void relay_metrics_accept(struct listener *l);

#endif
