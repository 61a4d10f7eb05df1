/*
 * The enrolment exchange, connector side, without any I/O: the request
 * it sends, a strict parser for the relay's answer, and the checks on the
 * certificates that come back.  docs/connector.md describes the exchange;
 * connector/enroll_cmd.c runs it over TLS.
 *
 *   POST /v1/enroll HTTP/1.1
 *   Host: HOST
 *   Content-Type: application/pkcs10
 *   Sallyport-Connector: NAME
 *   Sallyport-Enrol-Secret: unpadded base64url of the 32-byte secret
 *   Content-Length: N
 *   Connection: close
 *
 *   <certificate request, PEM>
 *
 * The relay answers 200 with Content-Type application/x-pem-file and the
 * connector's certificate followed by the CA certificate, both PEM; or
 * 400, 401, 403 (or any other status) with a short text body; then it
 * closes the connection.
 *
 * The parser takes the answer in pieces split anywhere.  It accepts an
 * HTTP/1.0 or HTTP/1.1 status line, header lines ended by CRLF, at most
 * ENROLL_HEAD_MAX bytes of head and ENROLL_BODY_MAX of body.  The body is
 * Content-Length bytes long, or runs to the end of the connection when
 * there is no Content-Length.  It refuses interim (1xx) answers, a
 * Transfer-Encoding, folded or malformed header lines, a second or
 * malformed Content-Length, and bytes after the body.
 */
#ifndef SP_CONNECTOR_ENROLL_H
#define SP_CONNECTOR_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/pki.h"

#define ENROLL_PATH "/v1/enroll"
#define ENROLL_HEAD_MAX (16 * 1024)
#define ENROLL_BODY_MAX (64 * 1024)
/* The longest Content-Type kept; a longer one is refused. */
#define ENROLL_TYPE_MAX 127
/* Room for the request: head and a request from pki_csr_make(). */
#define ENROLL_REQUEST_MAX (1024 + PKI_CSR_PEM_MAX)

/* Where the parser is. */
enum enroll_resp_state {
  ENROLL_RESP_HEAD, /* reading the status line and header fields */
  ENROLL_RESP_BODY, /* reading the body */
  ENROLL_RESP_DONE, /* the answer is whole */
  ENROLL_RESP_FAILED,
};

/* One answer being read.  Zeroed by enroll_resp_init. */
struct enroll_resp {
  enum enroll_resp_state state;
  int status;                             /* 200 ...; 0 before the head */
  int64_t content_length;                 /* -1 when absent */
  char content_type[ENROLL_TYPE_MAX + 1]; /* "" when absent */
  char *body;      /* owns; NUL-terminated once DONE; NULL before */
  size_t body_len; /* bytes of body so far */
  size_t body_cap; /* bytes `body` can hold, the NUL aside */
  const char *why; /* a static phrase saying what failed, or NULL */
  size_t head_len; /* bytes of head so far */
  char head[ENROLL_HEAD_MAX];
};

/* Formats the request for `name` into `out` (`n` bytes).  `host` is the
 * Host field (an IPv6 literal in brackets), `csr_pem` NUL-terminated.
 * Returns the length, SP_EUSAGE for an empty or unsafe field, or
 * SP_ETOOBIG. */
int enroll_request_format(char *out, size_t n, const char *host,
                          const char *name, const uint8_t secret[32],
                          const char *csr_pem);

void enroll_resp_init(struct enroll_resp *r);
void enroll_resp_free(struct enroll_resp *r);

/*
 * Takes `n` more bytes of the answer (`p` borrowed).  Returns 0 once the
 * answer is whole, SP_EINCOMPLETE while more is needed, or, for good,
 * SP_EPARSE (malformed, or bytes after the body), SP_ETOOBIG (over a
 * limit) or SP_ENOMEM; `why` then says what.  Feeding after DONE is
 * SP_EPARSE.
 */
int enroll_resp_feed(struct enroll_resp *r, const void *p, size_t n);

/* The relay closed the connection: 0 if the answer is whole (a body
 * without Content-Length ends here), else SP_EPARSE. */
int enroll_resp_eof(struct enroll_resp *r);

/* What enroll_check_certs() keeps: both certificates, PEM, re-encoded
 * from the DER that was checked. */
struct enroll_certs {
  char crt_pem[PKI_CRT_PEM_MAX];
  char ca_pem[PKI_CRT_PEM_MAX];
};

/*
 * Checks the body of a 200 answer (`body`, NUL-terminated): exactly two
 * certificates, the second a CA whose DER has the SHA-256 `pin` (64
 * lower-case hex digits) and the first issued by that CA, valid now, for
 * TLS clients, with the subject CN `name` and the public key of
 * `key_pem` (the connector's key, NUL-terminated).  Returns 0 and fills
 * `out`, or SP_ECERT / SP_EPARSE with a sentence in `err` (`errn` bytes).
 */
int enroll_check_certs(const char *body, const char *name, const char *pin,
                       const char *key_pem, struct enroll_certs *out, char *err,
                       size_t errn);

#endif
