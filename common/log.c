#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sp_log_level log_level = SP_LOG_INFO;

/* Held lines.  Worker threads log too (logins), hence the lock. */
#define LOG_HOLD_MAX (32 * 1024)
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static int hold_on;
static size_t hold_len;
static char hold_buf[LOG_HOLD_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sp_log_set_level(enum sp_log_level level) {
  log_level = level;
}

enum sp_log_level sp_log_get_level(void) {
  return log_level;
}

static void emit(const char *p, size_t n) {
  if (n > 0 && write(STDERR_FILENO, p, n) < 0)
    return;
}

/* Called with hold_lock held. */
static void flush_locked(void) {
  emit(hold_buf, hold_len);
  hold_len = 0;
}

void sp_log_flush(void) {
  pthread_mutex_lock(&hold_lock);
  flush_locked();
  pthread_mutex_unlock(&hold_lock);
}

void sp_log_flush_cb(void *unused) {
  (void)unused;
  sp_log_flush();
}

void sp_log_hold(int on) {
  pthread_mutex_lock(&hold_lock);
  if (!on)
    flush_locked();
  hold_on = on;
  pthread_mutex_unlock(&hold_lock);
}

/* One line: held, or written with one write() so that lines stay whole
   when threads log at once. */
static void put_line(enum sp_log_level level, const char *line, size_t n) {
  pthread_mutex_lock(&hold_lock);
  if (!hold_on) {
    pthread_mutex_unlock(&hold_lock);
    emit(line, n);
    return;
  }
  if (hold_len + n > sizeof(hold_buf))
    flush_locked();
  memcpy(hold_buf + hold_len, line, n);
  hold_len += n;
  if (level >= SP_LOG_WARN)
    flush_locked();
  pthread_mutex_unlock(&hold_lock);
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
  put_line(level, line, len);
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
