#include "common/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

static int open_path(const char *dir) {
  char path[4096];

  snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

int sp_audit_open(struct sp_audit *a, const char *dir) {
  a->fd = open_path(dir);
  return a->fd < 0 ? -errno : 0;
}

int sp_audit_reopen_if_moved(struct sp_audit *a, const char *dir) {
  struct stat now, ours;
  char path[4096];
  int fd;

  snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
  if (fstat(a->fd, &ours) != 0)
    return -errno;
  if (stat(path, &now) == 0 && now.st_dev == ours.st_dev &&
      now.st_ino == ours.st_ino)
    return 0;
  fd = open_path(dir);
  if (fd < 0)
    return -errno;
  close(a->fd);
  a->fd = fd;
  return 1;
}

void sp_audit_close(struct sp_audit *a) {
  if (a->fd >= 0)
    close(a->fd);
  a->fd = -1;
}

void sp_audit_begin(struct sp_json *j, const char *event) {
  struct timespec ts;
  struct tm tm;
  char stamp[40];
  size_t n;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);
  sp_json_begin(j);
  sp_json_str(j, "time", stamp);
  sp_json_str(j, "event", event);
}

int sp_audit_write(struct sp_audit *a, struct sp_json *j) {
  const char *text = sp_json_end(j);
  size_t len;
  ssize_t n;
  int rc = 0;

  if (text == NULL) {
    sp_json_free(j);
    return SP_ENOMEM;
  }
  /* Replace the terminating NUL with the newline, written in one go. */
  len = strlen(text);
  j->w.p[len] = '\n';
  do
    n = write(a->fd, j->w.p, len + 1);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    rc = -errno;
  else if ((size_t)n != len + 1)
    rc = SP_EIO;
  sp_json_free(j);
  return rc;
}
