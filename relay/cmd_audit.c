/* sallyport-relay audit [--follow]: prints DIR/audit.jsonl. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/cli.h"

static const char usage[] =
    "usage: sallyport-relay audit [--follow]\n"
    "\n"
    "Prints the audit trail, DIR/audit.jsonl: one JSON object per line\n"
    "(docs/audit.md).  --follow keeps printing lines as they are written,\n"
    "until interrupted.\n";

/* Copies what `fd` holds from its offset to stdout; -1 on an error. */
static int copy_out(int fd) {
  char buf[65536];
  ssize_t n;

  while ((n = read(fd, buf, sizeof(buf))) > 0)
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
      return -1;
  fflush(stdout);
  return n < 0 ? -1 : 0;
}

/* Reopens the file when it was replaced or truncated (log rotation). */
static int follow(const char *path, int fd) {
  struct stat st, now;

  for (;;) {
    if (fstat(fd, &st) != 0 || copy_out(fd) != 0)
      return -1;
    usleep(250000);
    if (stat(path, &now) != 0)
      continue;
    if (now.st_ino != st.st_ino || now.st_size < lseek(fd, 0, SEEK_CUR)) {
      close(fd);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return -1;
    }
  }
}

int cmd_audit(struct cli *c, int argc, char **argv) {
  char path[4096];
  int fd, follow_on = 0;

  if (cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  if (argc == 2 && strcmp(argv[1], "--follow") == 0)
    follow_on = 1;
  else if (argc != 1)
    return cli_usage(c, "unexpected argument '%s'", argv[1]);
  snprintf(path, sizeof(path), "%s/audit.jsonl", c->state);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cli_fail(c, "cannot read %s: %s", path, strerror(errno));
  if (follow_on)
    signal(SIGPIPE, SIG_DFL);
  if ((follow_on ? follow(path, fd) : copy_out(fd)) != 0)
    return cli_fail(c, "reading %s: %s", path, strerror(errno));
  close(fd);
  return CLI_OK;
}
