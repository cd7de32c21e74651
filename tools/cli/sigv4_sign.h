/* tools/cli/sigv4_sign.h — the CLI's own SigV4 signer (see sigv4_sign.c for why it exists). */
#ifndef SILO_TOOLS_CLI_SIGV4_SIGN_H
#define SILO_TOOLS_CLI_SIGV4_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sigv4_sign_header {
    const char *name;    /* any case; lower-cased for signing */
    const char *value;   /* as sent; trimmed and space-collapsed for signing */
};

struct sigv4_sign_input {
    const char *method;
    const char *path;            /* as sent on the wire (already percent-encoded) */
    const char *query;           /* as sent, without '?', pairs strictly encoded; NULL for none */
    const struct sigv4_sign_header *headers;  /* every header to sign, host included */
    size_t header_count;
    const char *payload_hash;    /* lower-case hex SHA-256, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;        /* YYYYMMDDTHHMMSSZ, also sent as X-Amz-Date (and signed) */
    const char *access_key, *secret_key, *region, *service;
};

/* Formats t as the X-Amz-Date value. */
void sigv4_sign_date(time_t t, char out[17]);

/* Writes the Authorization header value into out. false when something does not fit. */
bool sigv4_sign(const struct sigv4_sign_input *in, char *out, size_t out_len);

/* Lower-case hex SHA-256 of a buffer. */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
