#include "common/args.h"

#include <stddef.h>
#include <string.h>

int sp_take_state(int argc, char **argv, const char **state) {
  int i, j = 1;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      while (i < argc)
        argv[j++] = argv[i++];
      break;
    }
    if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
      *state = argv[++i];
      continue;
    }
    if (strncmp(argv[i], "--state=", 8) == 0) {
      *state = argv[i] + 8;
      continue;
    }
    argv[j++] = argv[i];
  }
  argv[j] = NULL;
  return j;
}
