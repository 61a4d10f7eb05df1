/*
 * The body of POST /v1/login: `user`, `password` and `otp`, sent either
 * as application/x-www-form-urlencoded (what `curl -d user=alice` sends)
 * or as application/json (a flat object of string values, what scripts
 * and the login page send).  Pure: no I/O, no allocation.
 *
 * Both parsers are strict about syntax and lenient about content: an
 * unknown key is ignored, a missing one is left unset for the caller to
 * judge, but a malformed body, a repeated key, a value too long for its
 * field or a NUL byte in a value is refused (the caller answers 400).
 *
 * Form bodies: pairs `key=value` joined by `&`; `+` is a space and `%XX`
 * a byte in both keys and values; an empty pair is skipped and a pair
 * without `=` has an empty value.  A `%` not followed by two hex digits
 * is malformed.
 *
 * JSON bodies (RFC 8259, a subset): white space, then one object whose
 * members are "key": "string" pairs, then white space and nothing else.
 * Strings must be valid UTF-8 with no raw control characters; the
 * escapes are \" \\ \/ \b \f \n \r \t and \uXXXX, where a UTF-16
 * surrogate pair becomes one code point and a lone surrogate is an error.
 * Numbers, booleans, null, arrays and nested objects are refused.
 */
#ifndef SP_RELAY_FORM_H
#define SP_RELAY_FORM_H

#include <stddef.h>

#define FORM_USER_MAX 64
#define FORM_PASSWORD_MAX 1024 /* as PASSWD_MAX_LEN in policy/passwd.h */
#define FORM_OTP_MAX 16

enum form_type {
  FORM_UNSUPPORTED, /* the caller answers 415 */
  FORM_URLENCODED,
  FORM_JSON,
};

/*
 * The login fields.  Each string is NUL-terminated, holds no NUL byte,
 * and is empty when its `has_` flag is 0.  form_login_wipe() clears it.
 */
struct form_login {
  char user[FORM_USER_MAX + 1];
  char password[FORM_PASSWORD_MAX + 1];
  size_t password_len;
  char otp[FORM_OTP_MAX + 1];
  int has_user;
  int has_password;
  int has_otp;
};

/*
 * The body format named by a Content-Type value (NULL accepted): the
 * media type is compared without regard to case and its parameters,
 * such as charset=utf-8, are ignored.
 */
enum form_type form_content_type(const char *content_type);

/*
 * Parses `len` bytes of `body` (not NUL-terminated; NULL when `len` is 0)
 * into `out`, which it clears first.  Returns 0, SP_EPARSE for a
 * malformed body or a repeated key, SP_ETOOBIG for a value longer than
 * its field, or SP_EUSAGE for FORM_UNSUPPORTED.  On error `*reason` (may
 * be NULL) receives a short static phrase for the log and `out` is
 * wiped.
 */
int form_parse_login(enum form_type type, const char *body, size_t len,
                     struct form_login *out, const char **reason);

void form_login_wipe(struct form_login *f);

#endif
