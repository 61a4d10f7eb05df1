#ifndef SP_COMMON_RAND_H
#define SP_COMMON_RAND_H

#include <stddef.h>

/*
 * Fills `buf` with `n` bytes from the kernel's CSPRNG (getrandom(2)).
 * Returns 0 or a negative errno; never returns predictable bytes.
 */
int sp_random(void *buf, size_t n);

/* The same, shaped as mbedTLS's f_rng callback (`ctx` is unused). */
int sp_random_mbed(void *ctx, unsigned char *buf, size_t n);

#endif
