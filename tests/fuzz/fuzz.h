/*
 * What every fuzz target shares: libFuzzer's entry point, and CHECK(),
 * which turns a broken promise of the code under test into a crash, so
 * that libFuzzer reports it and keeps the input.
 */
#ifndef SP_TESTS_FUZZ_FUZZ_H
#define SP_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

#endif
