/* Whole-file reads and careful writes for state and policy files. */
#ifndef SP_COMMON_FILEIO_H
#define SP_COMMON_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads `path` ("-" is standard input) into a new NUL-terminated buffer
 * that the caller owns and frees.  SP_ETOOBIG past `max` bytes.
 */
int sp_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Creates `path` with `mode` (never overwriting: SP_EEXIST), writes `n`
 * bytes and syncs.  The mode is set on the descriptor, whatever the
 * umask, so a key file is never readable by others even for a moment.
 */
int sp_write_file(const char *path, const void *p, size_t n, mode_t mode);

/*
 * Reads the first line of standard input into `buf` without its line
 * ending.  SP_ETOOBIG when the line does not fit; SP_EPARSE when the
 * input is empty.
 */
int sp_read_stdin_line(char *buf, size_t size, size_t *len);

#endif
