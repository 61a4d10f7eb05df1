#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

static int read_fd(int fd, size_t max, char **out, size_t *len) {
  size_t n = 0, cap = 4096;
  char *buf = malloc(cap + 1), *p;
  ssize_t r;

  if (buf == NULL)
    return SP_ENOMEM;
  for (;;) {
    if (n == cap) {
      if (cap > max) {
        free(buf);
        return SP_ETOOBIG;
      }
      cap *= 2;
      if ((p = realloc(buf, cap + 1)) == NULL) {
        free(buf);
        return SP_ENOMEM;
      }
      buf = p;
    }
    r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      free(buf);
      return -errno;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  if (n > max) {
    free(buf);
    return SP_ETOOBIG;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

int sp_read_file(const char *path, size_t max, char **out, size_t *len) {
  int fd, rc;

  if (strcmp(path, "-") == 0)
    return read_fd(STDIN_FILENO, max, out, len);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  rc = read_fd(fd, max, out, len);
  close(fd);
  return rc;
}

int sp_write_file(const char *path, const void *p, size_t n, mode_t mode) {
  const char *c = p;
  ssize_t w;
  int fd, rc = 0;

  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return errno == EEXIST ? SP_EEXIST : -errno;
  if (fchmod(fd, mode) != 0)
    rc = -errno;
  while (rc == 0 && n > 0) {
    w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      rc = -errno;
    else {
      c += w;
      n -= (size_t)w;
    }
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  close(fd);
  if (rc != 0)
    unlink(path);
  return rc;
}

int sp_read_stdin_line(char *buf, size_t size, size_t *len) {
  size_t n = 0;
  ssize_t r;
  char c;

  /* Byte by byte, so nothing after the first line is consumed. */
  for (;;) {
    r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0 || c == '\n')
      break;
    if (n + 1 >= size)
      return SP_ETOOBIG;
    buf[n++] = c;
  }
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  *len = n;
  return n == 0 && r == 0 ? SP_EPARSE : 0;
}
