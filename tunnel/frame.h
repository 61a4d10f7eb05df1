/*
 * The tunnel's wire format: frames between a connector and the relay.
 *
 * A tunnel is one TLS connection from a connector to the relay.  It
 * carries a sequence of frames, each an 8-byte header followed by at most
 * TUNNEL_MAX_PAYLOAD bytes of payload, all integers big-endian:
 *
 *    0        1        2        3        4        5        6        7
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   |  type  | flags  |  payload length |            stream id              |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *
 * Stream 0 is the tunnel itself (HELLO, PING, GOAWAY, CERT_RENEW,
 * CERT_ISSUED); every other frame belongs to one stream, a non-zero id
 * that the relay allocates when it sends OPEN.  Strings inside payloads
 * are a u16 length and that many bytes, with no NUL.  Decoding is strict:
 * an unknown type, an undefined flag, a stream id of the wrong kind, a
 * string over its limit, an unknown code or a byte left over at the end
 * of a payload all make the frame malformed, and a malformed frame is a
 * protocol error that ends the tunnel.  docs/tunnel.md is the reference
 * for every payload and for the rules (flow control, pings, shutdown)
 * that the multiplexer enforces on top of this codec.
 *
 * The codec is pure: no allocation, no I/O, no global state.  A decoded
 * frame borrows its strings and DATA bytes from the input buffer, so the
 * hot path (DATA) copies nothing; DATA is sent as a header from
 * tunnel_frame_encode_data_header() followed by the caller's own bytes.
 */
#ifndef SP_TUNNEL_FRAME_H
#define SP_TUNNEL_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The only protocol version so far; see HELLO in docs/tunnel.md. */
#define TUNNEL_VERSION 1

#define TUNNEL_HEADER_SIZE 8
#define TUNNEL_MAX_PAYLOAD 16384
/* A buffer of this size holds any one frame. */
#define TUNNEL_FRAME_MAX (TUNNEL_HEADER_SIZE + TUNNEL_MAX_PAYLOAD)

/* Longest strings, in bytes, of each kind of payload field. */
#define TUNNEL_DEST_MAX 263    /* "host:port", as in policy addresses */
#define TUNNEL_HOST_MAX 253    /* the host part, brackets removed */
#define TUNNEL_NAME_MAX 64     /* users, resources, rules, devices, peers */
#define TUNNEL_SOFTWARE_MAX 64 /* "sallyport 0.1.0" */
#define TUNNEL_ADDR_MAX 64     /* "203.0.113.9:51234", "[2001:db8::1]:22" */
#define TUNNEL_DETAIL_MAX 128  /* GOAWAY's explanation */
#define TUNNEL_PEM_MAX 16000   /* a CSR or a certificate chain, PEM */

/* Flow control: the largest window, and the proposed initial window. */
#define TUNNEL_WINDOW_MAX 0x7fffffffu
#define TUNNEL_INITIAL_WINDOW (1024u * 1024u)

/* Liveness: ping after this much silence; give up after this much. */
#define TUNNEL_PING_INTERVAL_MS 5000
#define TUNNEL_PING_TIMEOUT_MS 15000

enum tunnel_frame_type {
  TUNNEL_HELLO = 1,
  TUNNEL_OPEN = 2,
  TUNNEL_OPEN_RESULT = 3,
  TUNNEL_DATA = 4,
  TUNNEL_WINDOW_UPDATE = 5,
  TUNNEL_RESET = 6,
  TUNNEL_PING = 7,
  TUNNEL_GOAWAY = 8,
  TUNNEL_CERT_RENEW = 9,
  TUNNEL_CERT_ISSUED = 10,
};

/* DATA: the sender writes nothing more on this stream after these bytes. */
#define TUNNEL_FLAG_FIN 0x01
/* PING: this is the reply, echoing the request's opaque bytes. */
#define TUNNEL_FLAG_ACK 0x01

enum tunnel_role {
  TUNNEL_ROLE_RELAY = 1,
  TUNNEL_ROLE_CONNECTOR = 2,
};

/* OPEN_RESULT: what became of the connector's dial. */
#define TUNNEL_RESULT_MAP(X)                                                   \
  X(TUNNEL_RESULT_OK, 0, "ok")                                                 \
  X(TUNNEL_RESULT_NOT_ALLOWED, 1, "not_allowed")                               \
  X(TUNNEL_RESULT_DNS_FAILED, 2, "dns_failed")                                 \
  X(TUNNEL_RESULT_REFUSED, 3, "refused")                                       \
  X(TUNNEL_RESULT_UNREACHABLE, 4, "unreachable")                               \
  X(TUNNEL_RESULT_TIMED_OUT, 5, "timed_out")                                   \
  X(TUNNEL_RESULT_ERROR, 6, "error")

/* RESET: why one stream ends abruptly, in both directions. */
#define TUNNEL_RESET_MAP(X)                                                    \
  X(TUNNEL_RESET_CANCEL, 1, "cancel")                                          \
  X(TUNNEL_RESET_PROTOCOL, 2, "protocol_error")                                \
  X(TUNNEL_RESET_FLOW_CONTROL, 3, "flow_control")                              \
  X(TUNNEL_RESET_REVOKED, 4, "revoked")                                        \
  X(TUNNEL_RESET_TIMED_OUT, 5, "timed_out")                                    \
  X(TUNNEL_RESET_LIMIT, 6, "limit")                                            \
  X(TUNNEL_RESET_INTERNAL, 7, "internal_error")

/* GOAWAY: why the sender is ending the whole tunnel. */
#define TUNNEL_GOAWAY_MAP(X)                                                   \
  X(TUNNEL_GOAWAY_SHUTDOWN, 1, "shutting_down")                                \
  X(TUNNEL_GOAWAY_REVOKED, 2, "revoked")                                       \
  X(TUNNEL_GOAWAY_PROTOCOL, 3, "protocol_error")                               \
  X(TUNNEL_GOAWAY_VERSION, 4, "unsupported_version")                           \
  X(TUNNEL_GOAWAY_TIMED_OUT, 5, "timed_out")                                   \
  X(TUNNEL_GOAWAY_INTERNAL, 6, "internal_error")

/* CERT_ISSUED: whether the relay signed the request. */
#define TUNNEL_CERT_MAP(X)                                                     \
  X(TUNNEL_CERT_OK, 0, "ok")                                                   \
  X(TUNNEL_CERT_REJECTED, 1, "rejected")                                       \
  X(TUNNEL_CERT_UNAVAILABLE, 2, "unavailable")

/* Why a frame is malformed; stable tokens for logs and GOAWAY's detail. */
#define TUNNEL_FAULT_MAP(X)                                                    \
  X(TUNNEL_FAULT_NONE, 0, "none")                                              \
  X(TUNNEL_FAULT_UNKNOWN_TYPE, 1, "unknown_type")                              \
  X(TUNNEL_FAULT_OVERSIZED, 2, "oversized")                                    \
  X(TUNNEL_FAULT_BAD_FLAGS, 3, "bad_flags")                                    \
  X(TUNNEL_FAULT_BAD_STREAM, 4, "bad_stream_id")                               \
  X(TUNNEL_FAULT_BAD_LENGTH, 5, "bad_length")                                  \
  X(TUNNEL_FAULT_TRUNCATED, 6, "truncated_field")                              \
  X(TUNNEL_FAULT_TRAILING, 7, "trailing_bytes")                                \
  X(TUNNEL_FAULT_STRING_TOO_LONG, 8, "string_too_long")                        \
  X(TUNNEL_FAULT_BAD_STRING, 9, "bad_string")                                  \
  X(TUNNEL_FAULT_BAD_VALUE, 10, "bad_value")                                   \
  X(TUNNEL_FAULT_BAD_DEST, 11, "bad_destination")

#define TUNNEL_ENUM_(name, value, token) name = value,
enum tunnel_result { TUNNEL_RESULT_MAP(TUNNEL_ENUM_) };
enum tunnel_reset_code { TUNNEL_RESET_MAP(TUNNEL_ENUM_) };
enum tunnel_goaway_code { TUNNEL_GOAWAY_MAP(TUNNEL_ENUM_) };
enum tunnel_cert_status { TUNNEL_CERT_MAP(TUNNEL_ENUM_) };
enum tunnel_frame_fault { TUNNEL_FAULT_MAP(TUNNEL_ENUM_) };
#undef TUNNEL_ENUM_

/*
 * A string inside a payload.  `p` borrows `len` bytes (not NUL-terminated)
 * from the decoded buffer, or from the caller when encoding; it may be
 * NULL when `len` is 0.
 */
struct tunnel_str {
  const char *p;
  size_t len;
};

/* Sent once by each side as the first frame of a tunnel. */
struct tunnel_frame_hello {
  uint16_t version;           /* the highest version the sender speaks */
  uint8_t role;               /* enum tunnel_role */
  uint32_t max_streams;       /* concurrent streams the sender accepts */
  struct tunnel_str name;     /* the sender's connector or relay name */
  struct tunnel_str software; /* "sallyport 0.1.0"; may be empty */
};

/* Relay to connector: dial `dest` on behalf of this grant. */
struct tunnel_frame_open {
  uint32_t window;        /* bytes the connector may send at first */
  uint64_t expires;       /* the grant's expiry, UNIX seconds */
  struct tunnel_str dest; /* "host:port", see tunnel_frame_dest_split */
  struct tunnel_str user;
  struct tunnel_str resource;
  struct tunnel_str rule;
  struct tunnel_str device; /* empty when no device certificate */
  struct tunnel_str client; /* the client's address and port */
};

/* Connector to relay: the outcome of an OPEN. */
struct tunnel_frame_open_result {
  uint8_t result;            /* enum tunnel_result */
  uint32_t window;           /* bytes the relay may send at first */
  struct tunnel_str address; /* what was dialled; required when ok */
};

struct tunnel_frame_goaway {
  uint32_t last_stream;     /* highest stream the sender acted on */
  uint32_t code;            /* enum tunnel_goaway_code */
  struct tunnel_str detail; /* for people; may be empty */
};

struct tunnel_frame_cert_issued {
  uint8_t status;        /* enum tunnel_cert_status */
  struct tunnel_str pem; /* the chain when ok, else empty */
};

/*
 * One frame, decoded or about to be encoded.  Which member of `u` is
 * meaningful depends on `type`; pointers inside borrow as described at
 * struct tunnel_str and at `data`.
 */
struct tunnel_frame {
  uint8_t type;  /* enum tunnel_frame_type */
  uint8_t flags; /* TUNNEL_FLAG_* allowed for this type, else 0 */
  uint32_t stream;
  union {
    struct tunnel_frame_hello hello;
    struct tunnel_frame_open open;
    struct tunnel_frame_open_result open_result;
    struct {
      const uint8_t *p; /* borrows; NULL allowed when len is 0 */
      size_t len;
    } data;
    uint32_t window_increment; /* WINDOW_UPDATE: 1..TUNNEL_WINDOW_MAX */
    uint32_t reset_code;       /* RESET: enum tunnel_reset_code */
    uint8_t ping[8];           /* PING: opaque, echoed in the ACK */
    struct tunnel_frame_goaway goaway;
    struct tunnel_str csr; /* CERT_RENEW: a PEM certificate request */
    struct tunnel_frame_cert_issued cert_issued;
  } u;
};

/*
 * Decodes the first frame in `buf` (`len` bytes; `buf` may be NULL when
 * `len` is 0).  Returns:
 *   0              `f` holds the frame, borrowing from `buf` (valid until
 *                  `buf` changes); `*consumed` is its size in bytes;
 *   SP_EINCOMPLETE more bytes are needed; nothing is consumed.  The header
 *                  is checked as soon as its 8 bytes are there, so a bad
 *                  header is reported without waiting for its payload;
 *   SP_EPROTO      the frame is malformed; `*fault` (when not NULL) says
 *                  why, and `f`'s type, flags and stream hold the header
 *                  if it was complete, for the log line.
 * `fault` may be NULL; `f` and `consumed` may not.
 */
int tunnel_frame_decode(const uint8_t *buf, size_t len, struct tunnel_frame *f,
                        size_t *consumed, enum tunnel_frame_fault *fault);

/*
 * Encodes `f` into `out` (`out_size` bytes; TUNNEL_FRAME_MAX always
 * suffices).  Returns 0 and sets `*written`; SP_EUSAGE when `f` breaks a
 * rule of the format (tunnel_frame_check() says which), so nothing this
 * writes is ever refused by tunnel_frame_decode(); SP_ETOOBIG when
 * `out_size` is too small.  Works for DATA too, by copying; the hot path
 * uses tunnel_frame_encode_data_header() instead.
 */
int tunnel_frame_encode(const struct tunnel_frame *f, uint8_t *out,
                        size_t out_size, size_t *written);

/*
 * Writes the header of a DATA frame that carries `len` bytes the caller
 * sends right after it, and returns TUNNEL_HEADER_SIZE.  The caller
 * guarantees stream != 0, len <= TUNNEL_MAX_PAYLOAD and (len > 0 || fin).
 */
size_t tunnel_frame_encode_data_header(uint8_t out[TUNNEL_HEADER_SIZE],
                                       uint32_t stream, size_t len, int fin);

/* Which rule of the format `f` breaks, or TUNNEL_FAULT_NONE. */
enum tunnel_frame_fault tunnel_frame_check(const struct tunnel_frame *f);

/*
 * Whether a peer in role `sender` may send frames of `type` (OPEN and
 * CERT_ISSUED come only from the relay, OPEN_RESULT and CERT_RENEW only
 * from the connector).  A frame from the wrong side is a protocol error.
 */
int tunnel_frame_sender_ok(uint8_t type, enum tunnel_role sender);

/*
 * Splits OPEN's destination "host:port" (`len` bytes at `dest`) into a
 * NUL-terminated host, brackets removed from an IPv6 literal, and a port
 * in 1..65535.  The host is a name or IPv4 literal from [A-Za-z0-9._-],
 * or a bracketed IPv6 literal; at most TUNNEL_HOST_MAX bytes.  Returns 0,
 * SP_EPARSE, or SP_ETOOBIG when `host_size` is too small.  `host` and
 * `port` may be NULL to only validate.
 */
int tunnel_frame_dest_split(const char *dest, size_t len, char *host,
                            size_t host_size, uint16_t *port);

/* Stable snake_case tokens for logs; never NULL ("unknown" otherwise). */
const char *tunnel_frame_type_name(unsigned type);
const char *tunnel_frame_result_name(unsigned result);
const char *tunnel_frame_reset_name(unsigned code);
const char *tunnel_frame_goaway_name(unsigned code);
const char *tunnel_frame_cert_status_name(unsigned status);
const char *tunnel_frame_fault_name(unsigned fault);
const char *tunnel_frame_role_name(unsigned role);

/* A struct tunnel_str over a NUL-terminated string (NULL gives ""). */
struct tunnel_str tunnel_frame_str(const char *s);

#endif
