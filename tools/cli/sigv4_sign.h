/* tools/cli/sigv4_sign.h — the CLI's own SigV4 signer (see sigv4_sign.c for why it exists). The
 * canonical request, string to sign and key come from base/sigv4_canon.h, the canonicaliser
 * silod's verifier uses too. */
#ifndef SILO_TOOLS_CLI_SIGV4_SIGN_H
#define SILO_TOOLS_CLI_SIGV4_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/sigv4_canon.h"   /* struct sigv4_header, sigv4_sha256_hex */

struct sigv4_sign_input {
    const char *method;
    const char *path;            /* as sent on the wire (already percent-encoded) */
    const char *query;           /* as sent, without '?'; NULL for none */
    const struct sigv4_header *headers;  /* every header to sign, host and x-amz-date included */
    size_t header_count;
    const char *payload_hash;    /* lower-case hex SHA-256, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;        /* YYYYMMDDTHHMMSSZ, also sent as X-Amz-Date (and signed) */
    const char *access_key, *secret_key, *region, *service;
    bool keep_path;              /* sign the path without removing dot or empty segments
                                  * (S3-style; false, the default, is what every other service
                                  * and silod expect) */
};

/* Formats t as the X-Amz-Date value. */
void sigv4_sign_date(time_t t, char out[17]);

/* Writes the Authorization header value into out. false when a header name or the query cannot
 * be signed, or the result does not fit. */
bool sigv4_sign(const struct sigv4_sign_input *in, char *out, size_t out_len);

#endif
