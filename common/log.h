/*
 * Daemon logging: one line per event on stderr,
 *
 *   ts=2026-12-03T09:00:00.123Z lvl=info mod=store ev=open path="/x"
 *
 * `ts lvl mod ev` come first, then the caller's key=value fields.  Any
 * string that came from the network or from a user goes through
 * sp_log_quote().  Keys, passwords and tokens are never logged.
 */
#ifndef SP_COMMON_LOG_H
#define SP_COMMON_LOG_H

#include <stddef.h>

enum sp_log_level {
  SP_LOG_DEBUG,
  SP_LOG_INFO,
  SP_LOG_WARN,
  SP_LOG_ERROR,
};

void sp_log_set_level(enum sp_log_level level);
enum sp_log_level sp_log_get_level(void);

/*
 * Held mode, for a daemon's event loop: debug and info lines wait in
 * memory for sp_log_flush(), which the loop calls once per iteration, so
 * the lines of one iteration leave in one write.  A warning or an error
 * flushes at once, with everything before it, so the line that explains
 * a failure is never left in memory.  Ending held mode flushes.
 */
void sp_log_hold(int on);
void sp_log_flush(void);
/* sp_log_flush() as a per-iteration callback (batch_init's each_cb). */
void sp_log_flush_cb(void *unused);

/* `fields` is a printf format for the key=value part; it may be "". */
void sp_log(enum sp_log_level level, const char *mod, const char *ev,
            const char *fields, ...) __attribute__((format(printf, 4, 5)));

/*
 * Writes `s` as a double-quoted string into `out` (size `n` > 2), escaping
 * quotes, backslashes and control bytes; truncates with "..." when it
 * does not fit.  Returns `out`.
 */
const char *sp_log_quote(char *out, size_t n, const char *s);

#define sp_debug(mod, ev, ...) sp_log(SP_LOG_DEBUG, mod, ev, __VA_ARGS__)
#define sp_info(mod, ev, ...) sp_log(SP_LOG_INFO, mod, ev, __VA_ARGS__)
#define sp_warn(mod, ev, ...) sp_log(SP_LOG_WARN, mod, ev, __VA_ARGS__)
#define sp_error(mod, ev, ...) sp_log(SP_LOG_ERROR, mod, ev, __VA_ARGS__)

#endif
