/*
 * HTTP/1.1 request heads for the proxy listeners (plain on listen.http,
 * inside TLS on listen.https), as a pure incremental parser: bytes in, as
 * they arrive, until the empty line that ends the header block.  No I/O,
 * no allocation, no clock.
 *
 * States:
 *
 *   HTTPC_S_REQUEST_LINE  reading `METHOD SP target SP HTTP/1.x`; empty
 *                         lines before it are skipped (RFC 9112 2.2).
 *   HTTPC_S_HEADERS       reading `name: value` lines up to an empty one.
 *   HTTPC_S_DONE          the head is parsed; every result below is set.
 *   HTTPC_S_FAILED        the request is refused; `status` is the status
 *                         to answer with and `reason` says why.
 *
 * Lines end in CRLF or a bare LF.  The parser consumes input only up to
 * the end of the head: whatever follows (a POST body, or a TLS
 * ClientHello that a client pipelined after CONNECT) stays with the
 * caller, past `*used`.
 *
 * Limits and the status each one gets:
 *   request line over HTTPC_LINE_MAX bytes                 414
 *   head over HTTPC_HEAD_MAX bytes, or over HTTPC_FIELDS_MAX
 *   header fields                                          431
 *   Content-Length over HTTPC_BODY_MAX                     413
 *   Transfer-Encoding ending in chunked (without
 *   Content-Length)                                        411
 *   a version other than HTTP/1.x                          505
 *   anything malformed: obsolete line folding, a bare CR,
 *   a NUL or control byte, white space before a colon, a
 *   CONNECT target that is not host:port, repeated Host,
 *   Content-Length, Content-Type or Proxy-Authorization,
 *   Transfer-Encoding with Content-Length or not ending in
 *   chunked                                                400
 *
 * The parser does not judge the method: CONNECT gets its authority
 * canonicalised, every other method is reported as it came with its
 * origin-form path (if any), and the caller answers (405 for proxy use of
 * other methods; the HTTPS listener also serves GET /, POST /v1/login,
 * POST /v1/logout and GET /healthz).
 *
 * Proxy-Authorization: Basic credentials are decoded and split at the
 * first colon, so a password may hold colons.  Credentials that cannot
 * be valid (another scheme, bad base64, no colon, a user that is not a
 * valid name, a password over 255 bytes, a NUL byte) are not an error of
 * the request: `auth` says HTTPC_AUTH_INVALID and the caller answers 407
 * as it would without credentials, and audits the attempt.  Once decoded,
 * the field's value is blanked in the buffer, so `fields` never shows
 * the credentials.
 */
#ifndef SP_RELAY_HTTPC_H
#define SP_RELAY_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define HTTPC_LINE_MAX 8192  /* request line, without its line ending */
#define HTTPC_HEAD_MAX 16384 /* the whole head, line endings included */
#define HTTPC_FIELDS_MAX 100 /* header field lines */
#define HTTPC_BODY_MAX 65536 /* largest Content-Length accepted */
#define HTTPC_USER_MAX 64    /* what policy_name_valid() allows */
#define HTTPC_PASSWORD_MAX 255
/* Room for any response head that httpc_response_format() writes. */
#define HTTPC_RESPONSE_MAX 512

enum httpc_state {
  HTTPC_S_REQUEST_LINE,
  HTTPC_S_HEADERS,
  HTTPC_S_DONE,
  HTTPC_S_FAILED,
};

enum httpc_auth {
  HTTPC_AUTH_NONE,    /* no Proxy-Authorization field */
  HTTPC_AUTH_BASIC,   /* `user` and `password` are set */
  HTTPC_AUTH_INVALID, /* a field that can never authenticate anyone */
};

/* One header field line; both strings borrow the parser's buffer. */
struct httpc_field {
  const char *name;  /* as sent; compare without regard to case */
  const char *value; /* without surrounding white space */
};

/*
 * One request head.  It owns no memory, and every string result points
 * into `buf`, so results are valid while the parser is alive and not
 * re-initialised.  Fields below `state` are results: read them only.
 */
struct httpc_parser {
  enum httpc_state state;

  /* HTTPC_S_FAILED: the status to answer with, a short static phrase
     for the log, and the code httpc_feed() returned. */
  int status;
  const char *reason;
  int err;

  /* HTTPC_S_DONE: the request line.  `authority` is the CONNECT target
     in policy_addr_canon() form ("" for other methods); `path` is the
     target when it is in origin form ("/v1/login?x=1"), else NULL. */
  const char *method;
  const char *target;
  int version_minor; /* HTTP/1.x */
  char authority[POLICY_ADDR_MAX];
  const char *path;

  /* HTTPC_S_DONE: every header field line in order, and the ones the
     relay reads (NULL when absent). */
  struct httpc_field fields[HTTPC_FIELDS_MAX];
  size_t n_fields;
  const char *host;
  const char *content_type;
  const char *connection; /* the first Connection field */
  int64_t content_length; /* -1 when absent */

  /* HTTPC_S_DONE: Proxy-Authorization.  `auth_reason` says what is
     wrong with HTTPC_AUTH_INVALID credentials, for the audit log.  The
     password holds no NUL byte; httpc_wipe() clears it. */
  enum httpc_auth auth;
  const char *auth_reason;
  char user[HTTPC_USER_MAX + 1];
  char password[HTTPC_PASSWORD_MAX + 1];
  size_t password_len;

  /* Private: the head so far, and where its current line starts. */
  char buf[HTTPC_HEAD_MAX];
  size_t len;
  size_t line_start;
  size_t total; /* bytes consumed, skipped empty lines included */
};

void httpc_init(struct httpc_parser *p);

/*
 * Feeds `len` bytes (`data` may be NULL when `len` is 0); `*used`
 * receives how many the parser consumed.  Returns
 *   SP_EINCOMPLETE  all consumed, the head is not complete yet;
 *   0               HTTPC_S_DONE: bytes past `*used` follow the head;
 *   SP_ETOOBIG      a limit was exceeded (status 413, 414 or 431);
 *   SP_EPROTO       the request is malformed or not supported (status
 *                   400, 411 or 505).
 * After an error `*used` depends on how the input was split and means
 * nothing.  Once done or failed, further calls consume nothing and
 * return the same.
 */
int httpc_feed(struct httpc_parser *p, const uint8_t *data, size_t len,
               size_t *used);

/* The first value of header `name` (any case), or NULL. */
const char *httpc_header(const struct httpc_parser *p, const char *name);

/* Clears the credentials and the head that carried them. */
void httpc_wipe(struct httpc_parser *p);

/*
 * A response head.  The Proxy-Status field (RFC 9209) is sent when
 * `proxy_error` is set: "Proxy-Status: sallyport; error=TOKEN".  A 407
 * always carries `Proxy-Authenticate: Basic realm="sallyport"` and a 405
 * always carries Allow.
 */
struct httpc_response {
  int status;               /* 100 to 599 */
  const char *proxy_error;  /* RFC 9209 error type; NULL: none */
  const char *allow;        /* 405 only; NULL means "CONNECT" */
  const char *content_type; /* NULL: no Content-Type field */
  size_t content_length;    /* the body the caller sends after the head */
  int tunnel; /* a 2xx answer to CONNECT: no Content-Length at all */
  int close;  /* send Connection: close */
};

/*
 * Writes the head of `r` (status line, fields, empty line) to `out`
 * and returns its length.  SP_ETOOBIG when `n` is too small (never with
 * HTTPC_RESPONSE_MAX), SP_EUSAGE for a status out of range or an error
 * type or Allow value that is not a plain token list.
 */
int httpc_response_format(const struct httpc_response *r, char *out, size_t n);

/* The reason phrase of `status` ("Bad Gateway"), or "" when unknown. */
const char *httpc_status_text(int status);

/*
 * The status for an RFC 9209 Proxy-Status error type, the HTTP column of
 * the table in docs/proxy.md (the SOCKS5 column is socks5.h's):
 *
 *   (none: success)              200
 *   http_request_denied          403
 *   destination_ip_prohibited    403
 *   destination_unavailable      503
 *   destination_ip_unroutable    502
 *   dns_error                    502
 *   connection_refused           502
 *   connection_timeout           504
 *   dns_timeout                  504
 *   connection_terminated        502
 *   http_request_error           400
 *   connection_limit_reached     503
 *   proxy_internal_error         500
 *   proxy_configuration_error    500
 *   any other type               500
 */
int httpc_status_for_error(const char *proxy_error);

#endif
