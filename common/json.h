/*
 * A tiny JSON object writer for one-line records (audit lines, --json
 * output).  Values are appended as "key":value pairs; strings are
 * escaped per RFC 8259 and bytes that are not valid UTF-8 are replaced
 * with U+FFFD, so any input yields valid JSON.  The buffer grows as
 * needed; an allocation failure is remembered and reported by
 * sp_json_end().
 */
#ifndef SP_COMMON_JSON_H
#define SP_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/pack.h"

struct sp_json {
  struct sp_wbuf w; /* owns */
  int first;        /* no member written yet at this level */
};

void sp_json_begin(struct sp_json *j); /* writes "{" */
void sp_json_str(struct sp_json *j, const char *key, const char *v);
void sp_json_int(struct sp_json *j, const char *key, int64_t v);
void sp_json_bool(struct sp_json *j, const char *key, int v);
void sp_json_null(struct sp_json *j, const char *key);
/* Writes `raw` (already valid JSON) as the value of `key`. */
void sp_json_raw(struct sp_json *j, const char *key, const char *raw);
/* Writes "}" and a NUL; returns the text (owned by `j`) or NULL. */
const char *sp_json_end(struct sp_json *j);
void sp_json_free(struct sp_json *j);

/* Appends `s` as a quoted JSON string to `w`. */
void sp_json_quote(struct sp_wbuf *w, const char *s);

#endif
