/*
 * Internals shared by tunnel/pki.c (what the CA does), tunnel/pki_cert.c
 * (how a certificate is put together and read back) and tunnel/pki_file.c
 * (how files are written).  Not for use outside tunnel/pki*.c.
 */
#ifndef SP_TUNNEL_PKI_INT_H
#define SP_TUNNEL_PKI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/pki.h"

/* What distinguishes one issued (not self-signed) certificate. */
struct pki_leaf {
  const char *kind;     /* for logs: "relay", "device" or "connector" */
  const char *name;     /* borrows; the relay's, device's or connector's */
  const char *subject;  /* borrows; an mbedTLS name, "CN=x,O=y" */
  int64_t not_after;    /* UNIX seconds */
  const char *san_name; /* borrows; non-NULL makes a server certificate */
};

/*
 * 0 when the mbedTLS result `code` is 0; otherwise logs it, with the name
 * of operation `op` (a literal), at debug level and returns SP_ECRYPTO.
 */
int pki_mbed(const char *op, int code);

/*
 * True when `name` (NULL accepted) is 1 to PKI_NAME_MAX bytes of letters,
 * digits, '.', '_', '-' and ':', not starting with '.' or '-'.  Such a
 * name is safe in an mbedTLS name string, in a file name and in a log.
 */
bool pki_name_ok(const char *name);

/* Sets up `key` (initialised, empty) as a new EC P-256 key. */
int pki_keygen(mbedtls_pk_context *key);

/* `days` (0 means `dflt`) from now as UNIX seconds; SP_EUSAGE past max. */
int pki_days_from_now(unsigned days, unsigned dflt, int64_t *out);

/*
 * Self-signs the CA certificate for `key` (borrowed) with `subject` and
 * writes its PEM, NUL-terminated, into `pem`.
 */
int pki_issue_ca(mbedtls_pk_context *key, const char *subject,
                 int64_t not_after, unsigned char pem[PKI_CRT_PEM_MAX]);

/*
 * Has `ca` sign a certificate for the public half of `key` (borrowed) as
 * `leaf` describes and writes its PEM, NUL-terminated, into `pem`.
 */
int pki_issue(struct pki_ca *ca, mbedtls_pk_context *key,
              const struct pki_leaf *leaf, unsigned char pem[PKI_CRT_PEM_MAX]);

/*
 * Reads all of `path` into `buf` (size `n`) and NUL-terminates it; *len
 * gets the length without the NUL.  SP_ENOTFOUND, SP_ETOOBIG or -errno.
 */
int pki_read_file(const char *path, unsigned char *buf, size_t n, size_t *len);

/*
 * Writes `key`'s private PEM to the new file `path` (mode 0600, never
 * replacing a file: SP_EEXIST) and wipes the copy in memory.
 */
int pki_write_pk(const char *path, mbedtls_pk_context *key);

#endif
