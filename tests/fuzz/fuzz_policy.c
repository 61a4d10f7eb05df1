/*
 * Fuzzes the policy loader, and the decision function over whatever
 * rules the loader accepted: a parsed policy must be safe to decide with.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_MAX_VERDICTS 64

static void decide_all(const struct policy *p) {
  struct policy_verdict v[FUZZ_MAX_VERDICTS];
  struct policy_request req;
  struct policy_decision d;
  size_t n = p->n_rules < FUZZ_MAX_VERDICTS ? p->n_rules : FUZZ_MAX_VERDICTS;

  memset(&req, 0, sizeof(req));
  req.user = "alice";
  req.resource = p->n_resources > 0 ? p->resources[0].name : NULL;
  req.mfa = 1;
  req.device = "laptop";
  memcpy(req.country, "FR", 3);
  req.asn = 3215;
  req.now = 1796288400;
  req.risk = 20;
  if (p->n_groups > 0)
    req.pgroups = p->groups[0].members;
  policy_decide(&req, p->rules, n, &d, v);
  policy_decide(&req, p->rules, p->n_rules, &d, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct policy *p = NULL;
  char msg[256];

  if (policy_parse("fuzz.yaml", (const char *)data, size, &p, msg,
                   sizeof(msg)) == 0) {
    decide_all(p);
    policy_free(p);
  }
  return 0;
}
