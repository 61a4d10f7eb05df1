/*
 * Error codes.
 *
 * Every function that can fail returns 0 or a negative code.  Codes from
 * -1 to -4095 are negated errno values (libuv's codes are the same on
 * Linux) and pass through unchanged.  Sallyport's own codes live in the
 * band below SP_ERR_BASE, one table (code, stable token, message) so that
 * logs, the audit trail and metrics name errors the same way everywhere.
 * Results of mbedTLS, LMDB, libyaml and libmaxminddb are translated at
 * their wrappers; the original code is kept by the caller as detail.
 */
#ifndef SP_COMMON_ERR_H
#define SP_COMMON_ERR_H

#define SP_ERR_BASE (-30000)

/* X(name, token, message) */
#define SP_ERR_MAP(X)                                                          \
  X(SP_EUSAGE, "usage", "invalid arguments")                                   \
  X(SP_ENOMEM, "no_memory", "out of memory")                                   \
  X(SP_EEXIST, "exists", "already exists")                                     \
  X(SP_ENOTFOUND, "not_found", "not found")                                    \
  X(SP_EPARSE, "parse_error", "could not parse input")                         \
  X(SP_ETOOBIG, "too_large", "input exceeds a limit")                          \
  X(SP_EIO, "io_error", "input/output error")                                  \
  X(SP_ESTORE, "store_error", "the store reported an error")                   \
  X(SP_ESTOREFULL, "store_full", "the store has reached its map size")         \
  X(SP_EFORMAT, "store_format", "the store has an unsupported format")         \
  X(SP_ECORRUPT, "corrupt_record", "a stored record is malformed")             \
  X(SP_ECRYPTO, "crypto_error", "a cryptographic operation failed")            \
  X(SP_EAUTH, "auth_failed", "authentication failed")                          \
  X(SP_ELOCKED, "locked_out", "too many failures; locked out for a while")     \
  X(SP_EDISABLED, "user_disabled", "the user is disabled")                     \
  X(SP_ETOKEN, "token_invalid", "the token is unknown or revoked")             \
  X(SP_EEXPIRED, "token_expired", "the token has expired")                     \
  X(SP_EBINDING, "token_wrong_source",                                         \
    "the token was issued to another source address")                          \
  X(SP_EREPLAY, "otp_replayed", "the one-time code was already used")          \
  X(SP_EPOLICY, "policy_invalid", "the policy is invalid")                     \
  X(SP_ECONFIG, "config_invalid", "the configuration is invalid")              \
  X(SP_EINCOMPLETE, "incomplete", "more input is needed")                      \
  X(SP_EPROTO, "protocol_error", "the peer broke the protocol")                \
  X(SP_ETIMEOUT, "timed_out", "the peer did not answer in time")               \
  X(SP_ECLOSED, "closed", "the tunnel or stream is closed")                    \
  X(SP_ELIMIT, "limit_reached", "a limit on streams or memory was reached")    \
  X(SP_ETLS, "tls_error", "TLS handshake or record failure")                   \
  X(SP_ECERT, "bad_certificate", "the peer's certificate was refused")         \
  X(SP_EGEO, "geoip_error", "a GeoIP database is unusable")                    \
  X(SP_EDENIED, "denied", "the request was denied")                            \
  X(SP_EUNAVAILABLE, "unavailable", "no tunnel to the resource is up")

enum sp_err {
  SP_ERR_FIRST_ = SP_ERR_BASE,
#define SP_ERR_ENUM_(name, token, msg) name,
  SP_ERR_MAP(SP_ERR_ENUM_)
#undef SP_ERR_ENUM_
      SP_ERR_LAST_
};

/* The stable snake_case token of a code ("not_found"); never NULL. */
const char *sp_err_name(int code);

/* A sentence for people; never NULL. */
const char *sp_strerror(int code);

#endif
