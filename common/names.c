#include "common/names.h"

#include <stddef.h>

static int alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

int sp_name_valid(const char *s) {
  int i;

  if (s == NULL || !alnum(s[0]))
    return 0;
  for (i = 1; s[i] != '\0'; i++)
    if (i >= 64 || !(alnum(s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '@' ||
                     s[i] == '-'))
      return 0;
  return 1;
}
