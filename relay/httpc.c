/*
 * HTTP/1.1 request heads; see httpc.h for the states and limits.
 *
 * Input is copied line by line into `buf`, where each line is checked
 * and cut into NUL-terminated pieces in place as soon as its LF arrives,
 * so results can point into the buffer and no byte is looked at twice
 * whatever the split of the input.  Fields with a meaning for the relay
 * are only interpreted once the whole head is there, because the rules
 * about them (repeats, Transfer-Encoding against Content-Length) are
 * about the head as a whole.
 */
#include "relay/httpc.h"

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

/* Longest Allow and Content-Type values that responses accept. */
#define RESPONSE_VALUE_MAX 128
#define ERROR_TOKEN_MAX 64

void httpc_init(struct httpc_parser *p) {
  memset(p, 0, sizeof(*p));
  p->state = HTTPC_S_REQUEST_LINE;
  p->content_length = -1;
}

void httpc_wipe(struct httpc_parser *p) {
  mbedtls_platform_zeroize(p->password, sizeof(p->password));
  mbedtls_platform_zeroize(p->buf, sizeof(p->buf));
  p->password_len = 0;
}

static int fail(struct httpc_parser *p, int err, int status,
                const char *reason) {
  p->state = HTTPC_S_FAILED;
  p->err = err;
  p->status = status;
  p->reason = reason;
  return err;
}

static int bad(struct httpc_parser *p, const char *reason) {
  return fail(p, SP_EPROTO, 400, reason);
}

/* RFC 9110 tchar: what methods and field names are made of. */
static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Checks "HTTP/1.x" and records x; 505 for another major version. */
static int parse_version(struct httpc_parser *p, const char *v, size_t n) {
  if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) || v[6] != '.' ||
      !is_digit(v[7]))
    return bad(p, "malformed HTTP version");
  if (v[5] != '1')
    return fail(p, SP_EPROTO, 505, "HTTP version is not 1.x");
  p->version_minor = v[7] - '0';
  return 0;
}

/* `s` is the request line without its ending, `n` bytes, NUL after. */
static int on_request_line(struct httpc_parser *p, char *s, size_t n) {
  char *sp1 = memchr(s, ' ', n), *target, *sp2;
  size_t i;
  int rc;

  if (n > HTTPC_LINE_MAX)
    return fail(p, SP_ETOOBIG, 414, "request line too long");
  if (sp1 == NULL || sp1 == s)
    return bad(p, "malformed request line");
  for (i = 0; s + i < sp1; i++) {
    if (!is_tchar((unsigned char)s[i]))
      return bad(p, "bad character in method");
  }
  target = sp1 + 1;
  sp2 = memchr(target, ' ', n - (size_t)(target - s));
  if (sp2 == NULL || sp2 == target)
    return bad(p, "malformed request line");
  for (i = 0; target + i < sp2; i++) {
    if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
      return bad(p, "bad character in request target");
  }
  rc = parse_version(p, sp2 + 1, n - (size_t)(sp2 + 1 - s));
  if (rc != 0)
    return rc;

  *sp1 = *sp2 = '\0';
  p->method = s;
  p->target = target;
  if (strcmp(s, "CONNECT") == 0) {
    if (policy_addr_canon(target, p->authority, sizeof(p->authority)) != 0) {
      p->authority[0] = '\0';
      return bad(p, "CONNECT target is not host:port");
    }
  } else if (target[0] == '/') {
    p->path = target;
  }
  p->state = HTTPC_S_HEADERS;
  return 0;
}

/* `s` is one header field line without its ending, `n` bytes. */
static int on_field(struct httpc_parser *p, char *s, size_t n) {
  char *colon = memchr(s, ':', n), *v, *end = s + n;
  size_t i;

  if (s[0] == ' ' || s[0] == '\t')
    return bad(p, "obsolete line folding");
  if (colon == NULL || colon == s)
    return bad(p, "malformed header field");
  for (i = 0; s + i < colon; i++) {
    if (!is_tchar((unsigned char)s[i]))
      return bad(p, "bad character in header field name");
  }
  if (p->n_fields == HTTPC_FIELDS_MAX)
    return fail(p, SP_ETOOBIG, 431, "too many header fields");

  v = colon + 1;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  for (i = 0; v + i < end; i++) {
    unsigned char c = (unsigned char)v[i];

    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return bad(p, "control byte in header field value");
  }

  *colon = '\0';
  *end = '\0';
  p->fields[p->n_fields].name = s;
  p->fields[p->n_fields].value = v;
  p->n_fields++;
  return 0;
}

/* Blanks a field value in the buffer: it held credentials. */
static void blank(struct httpc_parser *p, const char *value) {
  size_t off = (size_t)(value - p->buf);

  mbedtls_platform_zeroize(p->buf + off, strlen(value));
}

/*
 * Splits decoded "user:password" at the first colon and checks both.
 * Returns NULL, or why the credentials can never be valid.
 */
static const char *take_credentials(struct httpc_parser *p, const uint8_t *raw,
                                    size_t n) {
  const uint8_t *colon = memchr(raw, ':', n);
  size_t ulen, plen;

  if (colon == NULL)
    return "no colon in Basic credentials";
  if (memchr(raw, 0, n) != NULL)
    return "NUL byte in Basic credentials";
  ulen = (size_t)(colon - raw);
  plen = n - ulen - 1;
  if (ulen == 0 || ulen > HTTPC_USER_MAX)
    return "user is not a valid name";
  memcpy(p->user, raw, ulen);
  p->user[ulen] = '\0';
  if (!policy_name_valid(p->user))
    return "user is not a valid name";
  if (plen == 0 || plen > HTTPC_PASSWORD_MAX)
    return "password is empty or too long";

  memcpy(p->password, colon + 1, plen);
  p->password[plen] = '\0';
  p->password_len = plen;
  return NULL;
}

/* Decodes `Basic base64(user:password)` (RFC 7617); NULL or why not. */
static const char *parse_basic(struct httpc_parser *p, const char *v) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789+/=";
  uint8_t raw[HTTPC_USER_MAX + 1 + HTTPC_PASSWORD_MAX];
  const char *b64, *reason;
  size_t n, blen;
  int rc;

  if (strncasecmp(v, "Basic", 5) != 0 || v[5] != ' ')
    return "credentials are not Basic";
  b64 = v + 6;
  while (*b64 == ' ')
    b64++;
  blen = strlen(b64);
  if (blen == 0 || strspn(b64, alphabet) != blen)
    return "Basic credentials are not base64";

  rc = mbedtls_base64_decode(raw, sizeof(raw), &n, (const unsigned char *)b64,
                             blen);
  if (rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
    reason = "Basic credentials too long";
  else if (rc != 0)
    reason = "Basic credentials are not base64";
  else
    reason = take_credentials(p, raw, n);
  mbedtls_platform_zeroize(raw, sizeof(raw));
  return reason;
}

static int parse_length(struct httpc_parser *p, const char *v) {
  int64_t n = 0;

  if (p->content_length >= 0)
    return bad(p, "repeated Content-Length");
  if (*v == '\0')
    return bad(p, "malformed Content-Length");
  for (; *v != '\0'; v++) {
    if (!is_digit(*v))
      return bad(p, "malformed Content-Length");
    n = n * 10 + (*v - '0');
    if (n > HTTPC_BODY_MAX)
      return fail(p, SP_ETOOBIG, 413, "Content-Length over the limit");
  }
  p->content_length = n;
  return 0;
}

static int set_once(struct httpc_parser *p, const char **slot, const char *v,
                    const char *reason) {
  if (*slot != NULL)
    return bad(p, reason);
  *slot = v;
  return 0;
}

/* Reads one field the relay cares about; `te` keeps the last TE. */
static int known_field(struct httpc_parser *p, const struct httpc_field *f,
                       const char **te) {
  if (strcasecmp(f->name, "Host") == 0)
    return set_once(p, &p->host, f->value, "repeated Host");
  if (strcasecmp(f->name, "Content-Type") == 0)
    return set_once(p, &p->content_type, f->value, "repeated Content-Type");
  if (strcasecmp(f->name, "Content-Length") == 0)
    return parse_length(p, f->value);
  if (strcasecmp(f->name, "Connection") == 0 && p->connection == NULL)
    p->connection = f->value;
  if (strcasecmp(f->name, "Transfer-Encoding") == 0)
    *te = f->value;
  if (strcasecmp(f->name, "Proxy-Authorization") == 0) {
    if (p->auth != HTTPC_AUTH_NONE)
      return bad(p, "repeated Proxy-Authorization");
    p->auth_reason = parse_basic(p, f->value);
    p->auth = p->auth_reason == NULL ? HTTPC_AUTH_BASIC : HTTPC_AUTH_INVALID;
    blank(p, f->value);
  }
  return 0;
}

/*
 * The relay reads bodies by Content-Length only.  A request whose
 * transfer codings end in chunked is well formed but not served (411
 * asks for a length); anything else with Transfer-Encoding has no
 * reliable length at all (RFC 9112 6.3), so it is malformed.
 */
static int check_framing(struct httpc_parser *p, const char *te) {
  const char *last;
  size_t n;

  if (te == NULL)
    return 0;
  if (p->content_length >= 0)
    return bad(p, "both Transfer-Encoding and Content-Length");
  last = strrchr(te, ',');
  last = last == NULL ? te : last + 1;
  while (*last == ' ' || *last == '\t')
    last++;
  n = strlen(last);
  if (n == 7 && strncasecmp(last, "chunked", 7) == 0)
    return fail(p, SP_EPROTO, 411, "chunked body; Content-Length required");
  return bad(p, "Transfer-Encoding does not end in chunked");
}

static int on_head_end(struct httpc_parser *p) {
  const char *te = NULL;
  size_t i;
  int rc;

  for (i = 0; i < p->n_fields; i++) {
    rc = known_field(p, &p->fields[i], &te);
    if (rc != 0)
      return rc;
  }
  rc = check_framing(p, te);
  if (rc != 0)
    return rc;

  p->state = HTTPC_S_DONE;
  return 0;
}

/* Handles the line that ends with the last byte in `buf`, an LF. */
static int on_line(struct httpc_parser *p) {
  char *s = p->buf + p->line_start;
  size_t n = p->len - p->line_start - 1;
  int rc;

  if (n > 0 && s[n - 1] == '\r')
    n--;
  s[n] = '\0';
  if (memchr(s, '\r', n) != NULL)
    return bad(p, "bare CR in head");
  if (memchr(s, '\0', n) != NULL)
    return bad(p, "NUL byte in head");

  if (p->state == HTTPC_S_REQUEST_LINE && n == 0) {
    p->len = p->line_start;
    return SP_EINCOMPLETE;
  }
  if (p->state == HTTPC_S_HEADERS && n == 0)
    return on_head_end(p);
  if (p->state == HTTPC_S_REQUEST_LINE)
    rc = on_request_line(p, s, n);
  else
    rc = on_field(p, s, n);
  p->line_start = p->len;
  return rc == 0 ? SP_EINCOMPLETE : rc;
}

/*
 * Refuses `seg` more bytes of the current line when they break a limit.
 * An unfinished request line may end in the CR of its line ending, so it
 * is only known to be too long past HTTPC_LINE_MAX + 1 bytes;
 * on_request_line() checks the exact length once the LF is there.
 */
static int check_limits(struct httpc_parser *p, size_t seg, int complete) {
  size_t line = p->len - p->line_start + seg;

  if (p->state == HTTPC_S_REQUEST_LINE && !complete &&
      line > HTTPC_LINE_MAX + 1)
    return fail(p, SP_ETOOBIG, 414, "request line too long");
  if (p->total + seg > HTTPC_HEAD_MAX) {
    if (p->state == HTTPC_S_REQUEST_LINE && line > HTTPC_LINE_MAX + 2)
      return fail(p, SP_ETOOBIG, 414, "request line too long");
    return fail(p, SP_ETOOBIG, 431, "header block too large");
  }
  return 0;
}

int httpc_feed(struct httpc_parser *p, const uint8_t *data, size_t len,
               size_t *used) {
  const uint8_t *start, *nl;
  size_t seg;
  int rc;

  *used = 0;
  if (p->state == HTTPC_S_DONE)
    return 0;
  if (p->state == HTTPC_S_FAILED)
    return p->err;

  while (*used < len) {
    start = data + *used;
    nl = memchr(start, '\n', len - *used);
    seg = nl != NULL ? (size_t)(nl - start) + 1 : len - *used;
    rc = check_limits(p, seg, nl != NULL);
    if (rc != 0)
      return rc;
    memcpy(p->buf + p->len, start, seg);
    p->len += seg;
    p->total += seg;
    *used += seg;
    if (nl == NULL)
      break;

    rc = on_line(p);
    if (rc != SP_EINCOMPLETE)
      return rc;
  }
  return SP_EINCOMPLETE;
}

const char *httpc_header(const struct httpc_parser *p, const char *name) {
  size_t i;

  for (i = 0; i < p->n_fields; i++) {
    if (strcasecmp(p->fields[i].name, name) == 0)
      return p->fields[i].value;
  }
  return NULL;
}

const char *httpc_status_text(int status) {
  static const struct {
    int status;
    const char *text;
  } texts[] = {
      {200, "OK"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {407, "Proxy Authentication Required"},
      {408, "Request Timeout"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  size_t i;

  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    if (texts[i].status == status)
      return texts[i].text;
  }
  return "";
}

int httpc_status_for_error(const char *proxy_error) {
  static const struct {
    const char *token;
    int status;
  } map[] = {
      {"http_request_denied", 403},
      {"destination_ip_prohibited", 403},
      {"destination_unavailable", 503},
      {"destination_ip_unroutable", 502},
      {"dns_error", 502},
      {"connection_refused", 502},
      {"connection_timeout", 504},
      {"dns_timeout", 504},
      {"connection_terminated", 502},
      {"http_request_error", 400},
      {"connection_limit_reached", 503},
  };
  size_t i;

  if (proxy_error == NULL)
    return 200;
  for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    if (strcmp(map[i].token, proxy_error) == 0)
      return map[i].status;
  }
  return 500;
}

/* Whether every byte of `s` is in `set` (or a letter or digit). */
static int plain(const char *s, size_t max, const char *set) {
  size_t n = strlen(s), i;

  if (n == 0 || n > max)
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || strchr(set, c) != NULL))
      return 0;
  }
  return 1;
}

__attribute__((format(printf, 4, 5))) static int
append(char *out, size_t n, size_t *off, const char *fmt, ...) {
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = vsnprintf(out + *off, n - *off, fmt, ap);
  va_end(ap);
  if (r < 0 || (size_t)r >= n - *off)
    return SP_ETOOBIG;
  *off += (size_t)r;
  return 0;
}

static int response_valid(const struct httpc_response *r) {
  if (r->status < 100 || r->status > 599)
    return 0;
  if (r->proxy_error != NULL && !plain(r->proxy_error, ERROR_TOKEN_MAX, "_"))
    return 0;
  if (r->allow != NULL && !plain(r->allow, RESPONSE_VALUE_MAX, ", -"))
    return 0;
  return r->content_type == NULL ||
         plain(r->content_type, RESPONSE_VALUE_MAX, "/+.-; =\"_");
}

int httpc_response_format(const struct httpc_response *r, char *out, size_t n) {
  size_t off = 0;
  int rc;

  if (!response_valid(r))
    return SP_EUSAGE;
  if (n == 0)
    return SP_ETOOBIG;

  rc = append(out, n, &off, "HTTP/1.1 %d %s\r\n", r->status,
              httpc_status_text(r->status));
  if (rc == 0 && r->status == 407)
    rc = append(out, n, &off,
                "Proxy-Authenticate: Basic realm=\"sallyport\"\r\n");
  if (rc == 0 && r->status == 405)
    rc = append(out, n, &off, "Allow: %s\r\n",
                r->allow != NULL ? r->allow : "CONNECT");
  if (rc == 0 && r->proxy_error != NULL)
    rc = append(out, n, &off, "Proxy-Status: sallyport; error=%s\r\n",
                r->proxy_error);
  if (rc == 0 && r->content_type != NULL)
    rc = append(out, n, &off, "Content-Type: %s\r\n", r->content_type);
  if (rc == 0 && !r->tunnel)
    rc = append(out, n, &off, "Content-Length: %zu\r\n", r->content_length);
  if (rc == 0 && r->close)
    rc = append(out, n, &off, "Connection: close\r\n");
  if (rc == 0)
    rc = append(out, n, &off, "\r\n");
  return rc == 0 ? (int)off : rc;
}
