/*
 * Reads the input as a timestamp and as a duration, the way `policy
 * explain --at`, relay.yaml and the CLI's --ttl options do, and checks
 * the parsers' promises: a parsed timestamp reads back as the same
 * second from what sp_time_format shows (unless a zone offset pushed
 * it out of the years 0000 to 9999, which it shows as @SECONDS); a parsed
 * duration is not negative and, below the parser's 10^8 limit on one
 * number, reads back the same written as seconds; and a failure leaves
 * the output untouched.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1), out[SP_TIME_MAX], secs[32];
  int64_t t = INT64_MIN, back = 0, d = -1;

  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';

  if (sp_time_parse(s, &t) == 0) {
    sp_time_format(out, t);
    if (out[0] != '@') {
      CHECK(sp_time_parse(out, &back) == 0);
      CHECK(back == t);
    }
  } else {
    CHECK(t == INT64_MIN);
  }

  if (sp_duration_parse(s, &d) == 0) {
    CHECK(d >= 0);
    if (d >= 100000000)
      d = 0;
    snprintf(secs, sizeof(secs), "%" PRId64 "s", d);
    CHECK(sp_duration_parse(secs, &back) == 0 && back == d);
  } else {
    CHECK(d == -1);
  }
  free(s);
  return 0;
}
