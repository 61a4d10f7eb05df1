#include "common/err.h"

#include <string.h>

struct err_entry {
  const char *token;
  const char *msg;
};

static const struct err_entry err_table[] = {
#define SP_ERR_ROW_(name, token, msg) {token, msg},
    SP_ERR_MAP(SP_ERR_ROW_)
#undef SP_ERR_ROW_
};

static const struct err_entry *err_find(int code) {
  int i = code - SP_ERR_FIRST_ - 1;

  if (i < 0 || i >= (int)(sizeof(err_table) / sizeof(err_table[0])))
    return NULL;
  return &err_table[i];
}

const char *sp_err_name(int code) {
  const struct err_entry *e = err_find(code);
  const char *name;

  if (code == 0)
    return "ok";
  if (e != NULL)
    return e->token;
  if (code < 0 && code > -4096) /* -errno, as libuv's codes are on Linux */
    return (name = strerrorname_np(-code)) != NULL ? name : "system_error";
  return "unknown_error";
}

const char *sp_strerror(int code) {
  const struct err_entry *e = err_find(code);

  if (code == 0)
    return "success";
  if (e != NULL)
    return e->msg;
  if (code < 0 && code > -4096)
    return strerror(-code);
  return "unknown error";
}
