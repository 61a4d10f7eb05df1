#include "policy/rulerec.h"

#include <string.h>

#include "common/err.h"

#define RULEREC_VERSION 1

void rulerec_key(uint8_t key[5], uint32_t index) {
  key[0] = 'r';
  key[1] = (uint8_t)(index >> 24);
  key[2] = (uint8_t)(index >> 16);
  key[3] = (uint8_t)(index >> 8);
  key[4] = (uint8_t)index;
}

void rulerec_encode(struct sp_wbuf *w, const struct policy_rule *rule) {
  sp_wbuf_u8(w, RULEREC_VERSION);
  sp_wbuf_str(w, rule->name);
  sp_wbuf_u8(w, (uint8_t)rule->action);
  sp_wbuf_u8(w, (uint8_t)rule->mode);
  sp_wbuf_strlist(w, &rule->resources);
  sp_wbuf_strlist(w, &rule->users);
  sp_wbuf_strlist(w, &rule->groups);
  sp_wbuf_u8(w, rule->mfa ? 1 : 0);
  sp_wbuf_u8(w, rule->not_countries ? 1 : 0);
  sp_wbuf_strlist(w, &rule->countries);
  sp_wbuf_u8(w, rule->not_asns ? 1 : 0);
  sp_wbuf_u32(w, rule->n_asns);
  sp_wbuf_bytes(w, rule->asns, (size_t)rule->n_asns * 4);
  sp_wbuf_u8(w, rule->days);
  sp_wbuf_u32(w, (uint32_t)(rule->hours_start + 1));
  sp_wbuf_u32(w, (uint32_t)(rule->hours_end + 1));
  sp_wbuf_str(w, rule->tz.name ? rule->tz.name : "UTC");
  sp_wbuf_u32(w, (uint32_t)(rule->max_risk + 1));
  sp_wbuf_strlist(w, &rule->device_tags);
}

int rulerec_decode(const void *p, size_t len, uint32_t index,
                   struct policy_rule *rule) {
  uint32_t hours_start, hours_end, max_risk;
  struct sp_rbuf r;

  memset(rule, 0, sizeof(*rule));
  sp_rbuf_init(&r, p, len);
  if (sp_rbuf_u8(&r) != RULEREC_VERSION)
    return SP_ECORRUPT;
  rule->index = index;
  rule->name = sp_rbuf_str(&r, NULL);
  rule->action = sp_rbuf_u8(&r) ? POLICY_DENY : POLICY_ALLOW;
  rule->mode = sp_rbuf_u8(&r) ? POLICY_REPORT : POLICY_ENFORCE;
  sp_rbuf_strlist(&r, &rule->resources);
  sp_rbuf_strlist(&r, &rule->users);
  sp_rbuf_strlist(&r, &rule->groups);
  rule->mfa = sp_rbuf_u8(&r);
  rule->not_countries = sp_rbuf_u8(&r);
  sp_rbuf_strlist(&r, &rule->countries);
  rule->not_asns = sp_rbuf_u8(&r);
  rule->n_asns = sp_rbuf_u32(&r);
  if (rule->n_asns > (len / 4))
    return SP_ECORRUPT;
  rule->asns = sp_rbuf_bytes(&r, (size_t)rule->n_asns * 4);
  rule->days = sp_rbuf_u8(&r);
  hours_start = sp_rbuf_u32(&r);
  hours_end = sp_rbuf_u32(&r);
  rule->tz.name = sp_rbuf_str(&r, NULL);
  max_risk = sp_rbuf_u32(&r);
  sp_rbuf_strlist(&r, &rule->device_tags);
  /* Stored one up, so that 0 is "none" (-1). */
  if (r.err != 0 || r.off != r.len || hours_start > 24 * 60 + 1 ||
      hours_end > 24 * 60 + 1 || max_risk > 100 + 1)
    return SP_ECORRUPT;
  rule->hours_start = (int)hours_start - 1;
  rule->hours_end = (int)hours_end - 1;
  rule->max_risk = (int)max_risk - 1;
  return 0;
}
