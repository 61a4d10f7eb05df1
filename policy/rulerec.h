/*
 * A rule's record in the compiled policy:
 *
 *   u8 version, str name, u8 action, u8 mode, strlist resources,
 *   strlist users, strlist groups, u8 mfa, u8 not_countries, strlist
 *   countries, u8 not_asns, u32 n_asns, n_asns * u32 asns, u8 days,
 *   u32 hours_start + 1, u32 hours_end + 1, str timezone, u32 max_risk + 1,
 *   strlist device_tags
 *
 * (+1 so that -1, "not set", packs as 0.)  Decoding borrows the record
 * and leaves rule->tz.trans for the caller to fill from the 'z' key.
 */
#ifndef SP_POLICY_RULEREC_H
#define SP_POLICY_RULEREC_H

#include "common/pack.h"
#include "policy/policy.h"

void rulerec_encode(struct sp_wbuf *w, const struct policy_rule *rule);
int rulerec_decode(const void *p, size_t len, uint32_t index,
                   struct policy_rule *rule);

/* The store key of rule `index`: 'r' and the index big-endian. */
void rulerec_key(uint8_t key[5], uint32_t index);

#endif
