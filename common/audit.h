/*
 * The audit trail: DIR/audit.jsonl, one JSON object per line, appended.
 * The format is documented in docs/audit.md.  Each record is written
 * with one write(2) on a file opened O_APPEND, so lines from the relay
 * and from admin commands never interleave.  Writing does not fsync:
 * the connection path never waits on the disk.
 */
#ifndef SP_COMMON_AUDIT_H
#define SP_COMMON_AUDIT_H

#include <stdint.h>

#include "common/json.h"

struct sp_audit {
  int fd;
};

int sp_audit_open(struct sp_audit *a, const char *dir);
void sp_audit_close(struct sp_audit *a);

/*
 * For a daemon that keeps the file open: when DIR/audit.jsonl is no
 * longer the file `a` writes to (logrotate or an administrator renamed
 * or removed it), opens the one at the path, creating it, so that the
 * daemon's records and the admin commands' go on landing in the same
 * file.  Returns 1 when it reopened, 0 when nothing moved, or -errno with
 * the old descriptor kept.
 */
int sp_audit_reopen_if_moved(struct sp_audit *a, const char *dir);

/*
 * Starts a record with "time" (now, RFC 3339 with milliseconds) and
 * "event"; add fields with sp_json_*(), then sp_audit_write().
 */
void sp_audit_begin(struct sp_json *j, const char *event);

/* Ends `j`, appends it as one line and frees it.  0 or -errno. */
int sp_audit_write(struct sp_audit *a, struct sp_json *j);

#endif
