/*
 * The descriptor limit of a daemon.  Every client connection, stream and
 * destination socket costs one descriptor, and the soft limit a shell or
 * a service manager hands down is often 1024, far below the tens of
 * thousands of streams a relay or connector is meant to carry; the hard
 * limit is the administrator's real ceiling.  So each daemon raises its
 * soft limit to the hard one when it starts, as nginx's
 * worker_rlimit_nofile and Go's runtime do, and logs both.
 */
#ifndef SP_COMMON_NOFILE_H
#define SP_COMMON_NOFILE_H

/* Above this the soft limit is left at this (an "unlimited" hard limit
   cannot be a soft descriptor limit on Linux). */
#define SP_NOFILE_CAP 1048576

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit (at most SP_NOFILE_CAP)
 * and logs one line, `ev=nofile`, under `who`: the soft limit now in
 * effect, the hard one, and the error if raising failed.  Returns the
 * soft limit now in effect, or a negative errno if it cannot be read.
 */
long sp_nofile_raise(const char *who);

#endif
