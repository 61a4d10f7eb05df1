/*
 * Replays fuzz inputs without libFuzzer: every file named on the command
 * line, or every file in a named directory, goes through the target once.
 * This keeps the seed corpus and past crashes running in every ctest.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;

  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
    fprintf(stderr, "cannot read %s\n", path);
    if (f != NULL)
      fclose(f);
    return 1;
  }
  rewind(f);
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

static int run_dir(const char *path, int *count) {
  DIR *d = opendir(path);
  struct dirent *e;
  char full[4096];
  int bad = 0;

  if (d == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
    bad |= run_file(full);
    (*count)++;
  }
  closedir(d);
  return bad;
}

int main(int argc, char **argv) {
  struct stat st;
  int i, bad = 0, count = 0;

  for (i = 1; i < argc; i++) {
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      bad |= run_dir(argv[i], &count);
    } else {
      bad |= run_file(argv[i]);
      count++;
    }
  }
  printf("%d inputs replayed\n", count);
  return bad || count == 0;
}
