#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sp_log_level log_level = SP_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sp_log_set_level(enum sp_log_level level) {
  log_level = level;
}

enum sp_log_level sp_log_get_level(void) {
  return log_level;
}

static size_t log_stamp(char *out, size_t n) {
  struct timespec ts;
  struct tm tm;
  size_t len;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  len += snprintf(out + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000);
  return len;
}

void sp_log(enum sp_log_level level, const char *mod, const char *ev,
            const char *fields, ...) {
  char line[2048];
  size_t len;
  int r;
  va_list ap;

  if (level < log_level)
    return;

  /* One write() per line keeps lines whole when threads log at once. */
  len = log_stamp(line, sizeof(line) - 1);
  len += snprintf(line + len, sizeof(line) - 1 - len, " lvl=%s mod=%s ev=%s",
                  level_names[level], mod, ev);
  if (fields[0] != '\0' && len < sizeof(line) - 2) {
    line[len++] = ' ';
    va_start(ap, fields);
    r = vsnprintf(line + len, sizeof(line) - 1 - len, fields, ap);
    va_end(ap);
    if (r > 0)
      len += (size_t)r;
  }
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2;
  line[len++] = '\n';
  if (write(STDERR_FILENO, line, len) < 0)
    return;
}

const char *sp_log_quote(char *out, size_t n, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  unsigned char c;

  out[o++] = '"';
  for (; *s != '\0'; s++) {
    if (o + 6 >= n) {
      if (n >= 6) {
        o = n - 6;
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = '\0';
  return out;
}
