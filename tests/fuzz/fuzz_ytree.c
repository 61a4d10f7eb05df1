#include <stddef.h>
#include <stdint.h>

#include "common/ytree.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ytree_node *root = NULL;
  struct ytree_err err;

  if (ytree_parse((const char *)data, size, &root, &err) == 0)
    ytree_free(root);
  return 0;
}
