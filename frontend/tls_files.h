/* frontend/tls_files.h — silod's TLS certificate and key, read and checked at start.
 *
 * `tls_cert_file` (a PEM certificate chain: the server certificate first, then any
 * intermediates) and `tls_key_file` (its PEM private key) from silod's config are read whole
 * (bounded) and checked with OpenSSL before the HTTP server is started: both must parse, and the
 * key must be the certificate's. A refusal is one line naming the config key
 * ("tls_key_file cannot be read (/etc/silo/key.pem: Permission denied)"), so silod refuses to start
 * rather than fail on its first handshake. The PEM text is then handed to libmicrohttpd
 * (MHD_OPTION_HTTPS_MEM_CERT / _KEY, its GnuTLS build). */
#ifndef SILO_FRONTEND_TLS_FILES_H
#define SILO_FRONTEND_TLS_FILES_H

#include <stdbool.h>
#include <stddef.h>

#define TLS_FILE_MAX (1u << 20)       /* a certificate chain or key larger than this is refused */

struct tls_files {
    char *cert_pem;       /* NUL-terminated PEM text; NULL: no TLS */
    char *key_pem;        /* wiped when freed */
    char subject[256];    /* the certificate's subject, one line (for the start-up log) */
};

/* Reads and checks cert_path and key_path (both set). False with one line in err otherwise. */
bool tls_files_load(struct tls_files *t, const char *cert_path, const char *key_path, char *err, size_t err_len);
/* Wipes the key text and frees both; t may be zeroed. */
void tls_files_free(struct tls_files *t);

#endif
