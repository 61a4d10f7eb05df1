/* RFC 3339 timestamps, UTC, as used in audit lines and on the CLI. */
#ifndef SP_COMMON_TIMEFMT_H
#define SP_COMMON_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define SP_TIME_MAX 32

/* "2026-12-03T09:00:00Z" (years 0000 to 9999; "@SECONDS" outside
   them); returns `out`. */
const char *sp_time_format(char out[SP_TIME_MAX], int64_t t);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS" with an optional fraction and a zone of
 * "Z" or "+HH:MM"/"-HH:MM" ('t', 'z' and a space for 'T' are accepted).
 * Returns 0 and UNIX seconds in *t, or SP_EPARSE.
 */
int sp_time_parse(const char *s, int64_t *t);

/*
 * Parses a duration: a number with a unit s, m, h or d, or several
 * ("1h30m"); a bare number is seconds.  0 or SP_EPARSE.
 */
int sp_duration_parse(const char *s, int64_t *secs);

#endif
