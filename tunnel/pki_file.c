/*
 * Writing keys and certificates to disk.
 *
 * A key file is created by sp_write_file(): O_EXCL and mode 0600, so it
 * never replaces anything and is never readable by others, not even while
 * half written, with the mode set on the descriptor whatever the umask.  A
 * certificate is public: it is written to a temporary file beside its
 * final name and moved into place in one step, with link() when an
 * existing file must be kept (link fails if the name exists) and with
 * rename() when it may be replaced.  Both are fsync'ed with their
 * directory, since these files are made once, by an admin, and must
 * survive a crash right after.
 */
#include "tunnel/pki_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "common/err.h"
#include "common/fileio.h"

static int write_all(int fd, const void *data, size_t len) {
  const unsigned char *p = data;
  ssize_t r;

  while (len > 0) {
    r = write(fd, p, len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

/* Makes a new directory entry for `path` durable. */
static int sync_dir(const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  int fd, rc = 0;

  if (slash == NULL)
    snprintf(dir, sizeof(dir), ".");
  else if (slash == path)
    snprintf(dir, sizeof(dir), "/");
  else
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (fsync(fd) != 0)
    rc = -errno;
  close(fd);
  return rc;
}

/* Sets `fd`'s mode, writes `data`, syncs and closes `fd` in any case. */
static int fill(int fd, mode_t mode, const void *data, size_t len) {
  int rc;

  rc = fchmod(fd, mode) == 0 ? 0 : -errno;
  if (rc == 0)
    rc = write_all(fd, data, len);
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  return rc;
}

int pki_write_cert(const char *path, const void *data, size_t len,
                   bool replace) {
  char tmp[PATH_MAX];
  int n, fd, rc;

  n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return SP_ETOOBIG;
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return -errno;

  rc = fill(fd, 0644, data, len);
  if (rc == 0 && replace && rename(tmp, path) != 0)
    rc = -errno;
  if (rc == 0 && !replace && link(tmp, path) != 0)
    rc = errno == EEXIST ? SP_EEXIST : -errno;

  /* After rename() the temporary name is gone and this does nothing. */
  if (rc != 0 || !replace)
    unlink(tmp);
  return rc != 0 ? rc : sync_dir(path);
}

int pki_write_pk(const char *path, mbedtls_pk_context *key) {
  unsigned char pem[PKI_KEY_PEM_MAX];
  int rc;

  rc = mbedtls_pk_write_key_pem(key, pem, sizeof(pem));
  rc = rc == 0 ? sp_write_file(path, pem, strlen((const char *)pem), 0600)
               : pki_mbed("write_key", rc);
  mbedtls_platform_zeroize(pem, sizeof(pem));
  return rc == 0 ? sync_dir(path) : rc;
}

int pki_read_file(const char *path, unsigned char *buf, size_t n, size_t *len) {
  size_t got = 0;
  ssize_t r;
  int fd, rc = 0;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? SP_ENOTFOUND : -errno;

  /* One byte stays free for the NUL; filling the buffer means too big. */
  while (got < n) {
    r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      rc = -errno;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);

  if (rc == 0 && got >= n)
    rc = SP_ETOOBIG;
  if (rc == 0) {
    buf[got] = '\0';
    *len = got;
  }
  return rc;
}
