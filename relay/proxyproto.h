/*
 * The PROXY protocol, versions 1 and 2: the header a load balancer in
 * front of the relay writes at the start of each TCP connection to say
 * who the client really is.
 *
 * Version 1 is one line of text, at most 107 bytes with its CRLF:
 *
 *   PROXY TCP4 203.0.113.9 198.51.100.1 51234 1080\r\n
 *   PROXY TCP6 2001:db8::9 2001:db8::1 51234 1080\r\n
 *   PROXY UNKNOWN<anything up to the CRLF>\r\n
 *
 * Version 2 is binary, all integers big-endian:
 *
 *   12 bytes  signature \r\n\r\n\0\r\nQUIT\n
 *    1 byte   version (high nibble, 2) and command (low: 0 LOCAL, 1 PROXY)
 *    1 byte   family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and
 *             transport (low: 0 UNSPEC, 1 STREAM, 2 DGRAM)
 *    2 bytes  length of what follows: the addresses (INET: source,
 *             destination, source port, destination port = 12 bytes;
 *             INET6: 36 bytes), then type-length-value records
 *
 * A header is recognised by its whole signature: the six bytes "PROXY "
 * or the twelve of version 2.  Bytes that part from both signatures
 * before either is complete are not a PROXY header, and the caller hands
 * them to the next protocol (SOCKS5, HTTP); bytes that carry a signature
 * and then break the format are a protocol error.  Whether a header is
 * allowed at all is the caller's decision (proxyproto_trusted()): from a
 * trusted proxy it is optional, since health checks may connect without
 * one; from any other address even a well-formed header is a protocol
 * error.
 *
 * Only TCP is relayed: a header for UDP or a UNIX socket is refused.
 * LOCAL (version 2), UNSPEC and UNKNOWN (version 1) carry no client
 * address; the connection's own peer address stands.  TLVs are checked
 * to fit the length and are otherwise skipped.  A version 2 header over
 * PROXYPROTO_MAX bytes is refused, so a caller's buffer of that size
 * always suffices.  The parser is pure: no allocation, no I/O, no state
 * between calls; it is fed everything received so far.
 */
#ifndef SP_RELAY_PROXYPROTO_H
#define SP_RELAY_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXYPROTO_V1_MAX 107
/* 16 bytes of header and up to 520 of addresses and TLVs. */
#define PROXYPROTO_MAX 536

/* Why a header is malformed; stable tokens for logs and the audit. */
#define PROXYPROTO_FAULT_MAP(X)                                                \
  X(PROXYPROTO_FAULT_NONE, 0, "none")                                          \
  X(PROXYPROTO_FAULT_V1_TOO_LONG, 1, "v1_too_long")                            \
  X(PROXYPROTO_FAULT_V1_SYNTAX, 2, "v1_syntax")                                \
  X(PROXYPROTO_FAULT_BAD_PROTOCOL, 3, "bad_protocol")                          \
  X(PROXYPROTO_FAULT_BAD_ADDRESS, 4, "bad_address")                            \
  X(PROXYPROTO_FAULT_BAD_PORT, 5, "bad_port")                                  \
  X(PROXYPROTO_FAULT_BAD_VERSION, 6, "bad_version")                            \
  X(PROXYPROTO_FAULT_BAD_COMMAND, 7, "bad_command")                            \
  X(PROXYPROTO_FAULT_BAD_FAMILY, 8, "bad_family")                              \
  X(PROXYPROTO_FAULT_V2_TOO_LONG, 9, "v2_too_long")                            \
  X(PROXYPROTO_FAULT_SHORT_ADDRESS, 10, "short_address")                       \
  X(PROXYPROTO_FAULT_BAD_TLV, 11, "bad_tlv")

#define PROXYPROTO_ENUM_(name, value, token) name = value,
enum proxyproto_fault { PROXYPROTO_FAULT_MAP(PROXYPROTO_ENUM_) };
#undef PROXYPROTO_ENUM_

struct proxyproto_header {
  int version; /* 1 or 2; 0: the bytes do not begin with a PROXY header */
  int local;   /* no client address (v2 LOCAL or UNSPEC, v1 UNKNOWN) */
  struct sockaddr_storage src; /* the client; ss_family AF_UNSPEC if local */
  struct sockaddr_storage dst; /* where the client connected */
};

/*
 * Parses the start of a connection, `len` bytes at `buf` (NULL when len
 * is 0).  Returns:
 *   0              decided: `h->version` is 0 when there is no header
 *                  (`*consumed` 0), else `h` holds it and `*consumed` is
 *                  its size, which the caller drops from the stream;
 *   SP_EINCOMPLETE more bytes are needed; never when len >=
 *                  PROXYPROTO_MAX;
 *   SP_EPROTO      a malformed header; `*fault` says why.
 * `fault` may be NULL; `h` and `consumed` may not.
 */
int proxyproto_parse(const uint8_t *buf, size_t len,
                     struct proxyproto_header *h, size_t *consumed,
                     enum proxyproto_fault *fault);

/*
 * Whether `peer` lies in one of the `n` CIDRs ("10.0.0.0/8",
 * "2001:db8::/32", or an address alone for one host), as in relay.yaml's
 * trusted_proxies.  IPv4-mapped IPv6 peers and CIDRs are compared as
 * IPv4.  A string that is not a CIDR matches nothing.
 */
int proxyproto_trusted(const char *const *cidrs, size_t n,
                       const struct sockaddr *peer);

/* Whether `s` is a CIDR that proxyproto_trusted() can match: what
   relay.yaml accepts in trusted_proxies. */
int proxyproto_cidr_valid(const char *s);

/* The fault's token; never NULL ("unknown" otherwise). */
const char *proxyproto_fault_name(unsigned fault);

#endif
