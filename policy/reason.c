#include "policy/policy.h"

static const char *const reason_names[] = {
#define POLICY_REASON_NAME_(name, token) token,
    POLICY_REASON_MAP(POLICY_REASON_NAME_)
#undef POLICY_REASON_NAME_
};

const char *policy_reason_name(enum policy_reason r) {
  if ((unsigned)r >= sizeof(reason_names) / sizeof(reason_names[0]))
    return "unknown";
  return reason_names[r];
}
