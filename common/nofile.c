#include "common/nofile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"

/* A limit as the log shows it. */
static const char *shown(rlim_t v, char buf[24]) {
  if (v == RLIM_INFINITY)
    return "unlimited";
  snprintf(buf, 24, "%llu", (unsigned long long)v);
  return buf;
}

long sp_nofile_raise(const char *who) {
  struct rlimit lim, raised;
  char a[24], b[24], c[24];
  int err;

  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    err = errno;
    sp_warn(who, "nofile", "err=%s", strerror(err));
    return -err;
  }
  raised = lim;
  raised.rlim_cur =
      lim.rlim_max == RLIM_INFINITY || lim.rlim_max > SP_NOFILE_CAP
          ? SP_NOFILE_CAP
          : lim.rlim_max;
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= raised.rlim_cur)
    raised.rlim_cur = lim.rlim_cur; /* never lowered */
  if (raised.rlim_cur == lim.rlim_cur) {
    sp_info(who, "nofile", "soft=%s hard=%s", shown(lim.rlim_cur, a),
            shown(lim.rlim_max, b));
  } else if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
    sp_info(who, "nofile", "soft=%s hard=%s raised_from=%s",
            shown(raised.rlim_cur, a), shown(lim.rlim_max, b),
            shown(lim.rlim_cur, c));
    lim = raised;
  } else {
    sp_warn(who, "nofile", "soft=%s hard=%s err=%s", shown(lim.rlim_cur, a),
            shown(lim.rlim_max, b), strerror(errno));
  }
  return lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > SP_NOFILE_CAP
             ? SP_NOFILE_CAP
             : (long)lim.rlim_cur;
}
