#include "common/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

const char *sp_time_format(char out[SP_TIME_MAX], int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;

  /* By hand rather than strftime's %Y, which does not pad years before
     1000 to the four digits RFC 3339 wants.  The fields are in range
     once gmtime_r has made them; the modulos tell the compiler so. */
  if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 ||
      tm.tm_year > 9999 - 1900)
    snprintf(out, SP_TIME_MAX, "@%lld", (long long)t);
  else
    snprintf(out, SP_TIME_MAX, "%04u-%02u-%02uT%02u:%02u:%02uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u);
  return out;
}

/* Reads exactly `n` digits; -1 if they are not there. */
static int digits(const char **s, int n) {
  int v = 0;

  while (n-- > 0) {
    if (!isdigit((unsigned char)**s))
      return -1;
    v = v * 10 + (*(*s)++ - '0');
  }
  return v;
}

static int expect(const char **s, const char *any) {
  if (**s == '\0' || strchr(any, **s) == NULL)
    return -1;
  (*s)++;
  return 0;
}

/* Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int parse_zone(const char **s, int *offset) {
  int sign, hh, mm;

  if (**s == 'Z' || **s == 'z') {
    (*s)++;
    *offset = 0;
    return 0;
  }
  if (**s != '+' && **s != '-')
    return -1;
  sign = *(*s)++ == '-' ? -1 : 1;
  hh = digits(s, 2);
  if (hh < 0 || expect(s, ":") != 0 || (mm = digits(s, 2)) < 0 || hh > 23 ||
      mm > 59)
    return -1;
  *offset = sign * (hh * 3600 + mm * 60);
  return 0;
}

int sp_time_parse(const char *s, int64_t *t) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, mo, d, h, mi, sec, offset;

  y = digits(&s, 4);
  if (y < 0 || expect(&s, "-") || (mo = digits(&s, 2)) < 1 || mo > 12 ||
      expect(&s, "-") || (d = digits(&s, 2)) < 1 || d > mdays[mo - 1] ||
      expect(&s, "Tt ") || (h = digits(&s, 2)) < 0 || h > 23 ||
      expect(&s, ":") || (mi = digits(&s, 2)) < 0 || mi > 59 ||
      expect(&s, ":") || (sec = digits(&s, 2)) < 0 || sec > 60)
    return SP_EPARSE;
  if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
    return SP_EPARSE;
  if (*s == '.') {
    s++;
    if (!isdigit((unsigned char)*s))
      return SP_EPARSE;
    while (isdigit((unsigned char)*s))
      s++;
  }
  if (parse_zone(&s, &offset) != 0 || *s != '\0')
    return SP_EPARSE;
  *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
  return 0;
}

int sp_duration_parse(const char *s, int64_t *secs) {
  int64_t total = 0, v;
  int any = 0;

  while (*s != '\0') {
    if (!isdigit((unsigned char)*s))
      return SP_EPARSE;
    for (v = 0; isdigit((unsigned char)*s); s++) {
      v = v * 10 + (*s - '0');
      if (v > 100000000)
        return SP_EPARSE;
    }
    switch (*s) {
    case 'd':
      v *= 86400;
      s++;
      break;
    case 'h':
      v *= 3600;
      s++;
      break;
    case 'm':
      v *= 60;
      s++;
      break;
    case 's':
      s++;
      break;
    case '\0':
      if (any)
        return SP_EPARSE;
      break;
    default:
      return SP_EPARSE;
    }
    if (total > INT64_MAX - v)
      return SP_EPARSE;
    total += v;
    any = 1;
  }
  if (!any)
    return SP_EPARSE;
  *secs = total;
  return 0;
}
