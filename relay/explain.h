#ifndef SP_RELAY_EXPLAIN_H
#define SP_RELAY_EXPLAIN_H

#include "relay/cli.h"

/* sallyport-relay policy explain: see docs/policy.md, "Explain". */
int policy_explain_cmd(struct cli *c, int argc, char **argv);

#endif
