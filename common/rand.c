#include "common/rand.h"

#include <errno.h>
#include <sys/random.h>

int sp_random(void *buf, size_t n) {
  unsigned char *p = buf;
  ssize_t r;

  while (n > 0) {
    r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int sp_random_mbed(void *ctx, unsigned char *buf, size_t n) {
  (void)ctx;
  /* mbedTLS wants its own error space; -1 reads as a generic failure. */
  return sp_random(buf, n) == 0 ? 0 : -1;
}
