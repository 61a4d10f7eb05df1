/*
 * The certificate authority: the relay's private CA and everything it
 * issues (see docs/pki.md).
 *
 * `sallyport-relay init` creates the CA and the relay's server certificate
 * in the state directory; connector enrolment has the connector make its
 * own key and certificate request, which the relay signs; `device add`
 * has the relay make a device key and client certificate and write both
 * out.  Every key is ECDSA P-256 and every signature ECDSA with SHA-256.
 *
 * Files: keys are created with O_EXCL and mode 0600 from the first byte,
 * so a key is never overwritten and never readable by others, whatever
 * the umask.  Certificates are written to a temporary name, made 0644 and
 * then moved into place, so a reader sees the whole file or none.
 *
 * Errors: 0 or a negative code from common/err.h.  Every mbedTLS failure
 * becomes SP_ECRYPTO; the mbedTLS code and its text are logged at debug
 * level (event `mbed_error`).  Keys are never logged.
 */
#ifndef SP_TUNNEL_PKI_H
#define SP_TUNNEL_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

/* File names inside the state directory (and the device output dir). */
#define PKI_CA_KEY "ca.key"
#define PKI_CA_CRT "ca.crt"
#define PKI_RELAY_KEY "relay.key"
#define PKI_RELAY_CRT "relay.crt"

/* Lifetimes, in days; the CA lives PKI_CA_YEARS calendar years. */
#define PKI_CA_YEARS 10
#define PKI_RELAY_DAYS 825
#define PKI_CONNECTOR_DAYS 90
#define PKI_DEVICE_DAYS 365
#define PKI_MAX_DAYS 3650

/* Longest relay, connector or device name, in bytes. */
#define PKI_NAME_MAX 64

/* Buffer sizes that always suffice for what this module writes. */
#define PKI_KEY_PEM_MAX 1024
#define PKI_CSR_PEM_MAX 2048
#define PKI_CRT_PEM_MAX 4096

/* A request larger than this is refused unparsed (SP_ETOOBIG). */
#define PKI_CSR_IN_MAX 8192

/* Hex text sizes, each with its NUL. */
#define PKI_FINGERPRINT_HEX 65 /* SHA-256, 64 lower-case digits */
#define PKI_SERIAL_HEX_MAX 65  /* up to 32 octets, lower-case */

/* The CA as loaded into memory: owns both contexts. */
struct pki_ca {
  mbedtls_pk_context key; /* the CA's private key */
  mbedtls_x509_crt crt;   /* the CA certificate */
};

/* What callers record about an issued certificate. */
struct pki_cert_info {
  char serial[PKI_SERIAL_HEX_MAX];       /* no leading zero octets */
  char fingerprint[PKI_FINGERPRINT_HEX]; /* of the certificate's DER */
  int64_t not_after;                     /* UNIX seconds */
};

/* Prepares `ca` for pki_ca_create() or pki_ca_load(). */
void pki_ca_init(struct pki_ca *ca);

/* Frees what `ca` holds; safe after a failed create or load, and twice. */
void pki_ca_free(struct pki_ca *ca);

/*
 * Creates a new CA for the relay called `relay_name` (borrowed; a host
 * name or an IP literal) and writes DIR/ca.key and DIR/ca.crt.  Fails
 * with SP_EEXIST, leaving no file behind, when either already exists.
 * On success `ca` (initialised) holds the new key and certificate.
 */
int pki_ca_create(struct pki_ca *ca, const char *dir, const char *relay_name);

/*
 * Loads DIR/ca.key and DIR/ca.crt into `ca` (initialised).  SP_ENOTFOUND
 * when a file is missing; SP_ECRYPTO when the certificate is not a CA or
 * the key does not belong to it.
 */
int pki_ca_load(struct pki_ca *ca, const char *dir);

/*
 * Issues the relay's server certificate for `name` (borrowed), which also
 * covers localhost, 127.0.0.1 and ::1, and writes DIR/relay.key and
 * DIR/relay.crt; SP_EEXIST, leaving no file behind, when either exists.
 * `info` (NULL accepted) receives the certificate's details.
 */
int pki_relay_issue(struct pki_ca *ca, const char *dir, const char *name,
                    struct pki_cert_info *info);

/*
 * Issues a device certificate for `name` valid for `days` (0 means
 * PKI_DEVICE_DAYS) and writes OUT/NAME.key, OUT/NAME.crt and OUT/ca.crt.
 * An existing NAME.key or NAME.crt fails with SP_EEXIST and no file
 * changed; an existing ca.crt is replaced, since the new certificate
 * needs that CA.  `info` (NULL accepted) receives the details.
 */
int pki_device_issue(struct pki_ca *ca, const char *out_dir, const char *name,
                     unsigned days, struct pki_cert_info *info);

/*
 * Connector side of enrolment: makes a new key and a certificate request
 * for `name`.  Writes the key's PEM (secret: the caller stores it with
 * sp_write_file(..., 0600) and wipes the buffer) and the request's PEM, both
 * NUL-terminated, into the caller's buffers.
 */
int pki_csr_make(const char *name, char key_pem[PKI_KEY_PEM_MAX],
                 char csr_pem[PKI_CSR_PEM_MAX]);

/*
 * Relay side of enrolment: checks that `csr_pem` (borrowed, NUL-
 * terminated, from the network) is signed by its own key and that the key
 * is EC P-256, then issues a connector certificate for `name` valid for
 * `days` (0 means PKI_CONNECTOR_DAYS).  The request's subject is ignored:
 * the relay names the connector from its enrolment record.  Writes the
 * certificate's PEM into `crt_pem`; `info` (NULL accepted) receives the
 * details.  A request that fails a check gives SP_ECRYPTO.
 */
int pki_csr_sign(struct pki_ca *ca, const char *csr_pem, const char *name,
                 unsigned days, char crt_pem[PKI_CRT_PEM_MAX],
                 struct pki_cert_info *info);

/* The SHA-256 of `crt`'s DER, as 64 lower-case hex digits. */
int pki_crt_fingerprint(const mbedtls_x509_crt *crt,
                        char out[PKI_FINGERPRINT_HEX]);

/*
 * Verifies `leaf` alone (ignoring any chain it came with) against `ca`
 * alone, and its name against `name` when not NULL.  Returns mbedTLS's
 * MBEDTLS_X509_BADCERT_* flags: 0 when it verifies.
 */
uint32_t pki_verify_alone(const mbedtls_x509_crt *leaf,
                          const mbedtls_x509_crt *ca, const char *name);

/* `crt`'s serial number in lower-case hex; SP_ETOOBIG past 32 octets. */
int pki_crt_serial(const mbedtls_x509_crt *crt, char out[PKI_SERIAL_HEX_MAX]);

/* `crt`'s not-after time in UNIX seconds. */
int pki_crt_not_after(const mbedtls_x509_crt *crt, int64_t *out);

/* All three of the above, for `crt` (borrowed). */
int pki_crt_info(const mbedtls_x509_crt *crt, struct pki_cert_info *info);

/* The same for the first certificate in `pem` (borrowed, NUL-terminated). */
int pki_cert_info_pem(const char *pem, struct pki_cert_info *info);

/*
 * Writes `data` to `path` with mode 0644 through a temporary file in the
 * same directory.  With `replace` false an existing file is kept and the
 * call fails with SP_EEXIST.
 */
int pki_write_cert(const char *path, const void *data, size_t len,
                   bool replace);

#endif
