/* frontend/sigv4.h — inbound AWS Signature Version 4 verification (HMAC-SHA256, OpenSSL).
 *
 * Verifies requests signed in the Authorization header or by query string (presigned URLs),
 * with the canonical request built exactly as AWS SDKs build it for non-S3 services by the
 * one canonicaliser shared with the CLI's signer, base/sigv4_canon.h (its rules are there);
 *   - the payload hash is `x-amz-content-sha256` when sent (hex or `UNSIGNED-PAYLOAD`),
 *     otherwise the SHA-256 of the body, computed while the body streams past (no copy).
 * Checks: algorithm, credential scope (date of x-amz-date, configured region and service,
 * `aws4_request`), clock skew (±max_skew_seconds for header auth; X-Amz-Expires ≤ 7 days for
 * presigned), `host` and the date header among the signed headers, a session token equal to
 * the configured one when the key has one, and the signature with CRYPTO_memcmp. The `host`
 * header is taken as received, or (a second form) without its ":port": the AgentCore TS SDK
 * presigns WebSocket URLs over the host name alone while the client sends the port.
 *
 * Use: sigv4_begin() with the head of the request. When the payload hash is already known
 * (the header was sent) the signature is decided there and sigv4_signature_verified() is
 * true, so the body may be streamed onward at once; every body byte still goes through
 * sigv4_update() and sigv4_finish() confirms the body matches the signed hash. Otherwise the
 * signature is decided by sigv4_finish(). Secrets never leave this module.
 */
#ifndef SILO_FRONTEND_SIGV4_H
#define SILO_FRONTEND_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/sigv4_canon.h"   /* struct sigv4_header, struct sigv4_request, the canonicaliser */

/* A configured credential. session_token is NULL for long-term keys. */
struct sigv4_key {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    const char *principal;  /* name the request is attributed to (never the secret) */
};

typedef const struct sigv4_key *(*sigv4_key_lookup_fn)(void *ctx, const char *access_key_id);

struct sigv4_config {
    const char *region;           /* required scope region */
    const char *service;          /* "bedrock-agentcore" in silod; "service" in the AWS suite */
    time_t now;                   /* the verifier's clock */
    int max_skew_seconds;         /* 300 for AWS */
    bool normalize_path;          /* true for every non-S3 service */
    sigv4_key_lookup_fn lookup;
    void *lookup_ctx;
};

enum sigv4_result {
    SIGV4_OK = 0,
    SIGV4_NO_AUTH,          /* neither header nor query signature present */
    SIGV4_MALFORMED,        /* unparseable Authorization / dates / hash */
    SIGV4_UNSUPPORTED,      /* another algorithm, or a streaming payload mode */
    SIGV4_UNKNOWN_KEY,
    SIGV4_BAD_SCOPE,        /* wrong date, region, service or terminator */
    SIGV4_CLOCK_SKEW,       /* too old, in the future, or presigned URL expired */
    SIGV4_BAD_TOKEN,        /* session token missing or different */
    SIGV4_BAD_SIGNATURE,
    SIGV4_PAYLOAD_MISMATCH, /* body differs from the signed x-amz-content-sha256 */
};

const char *sigv4_result_name(enum sigv4_result r);

struct sigv4_verifier;

/* Parses and checks the head. On SIGV4_OK *out is set (free with sigv4_free); on any other
 * result *out is NULL. */
enum sigv4_result sigv4_begin(const struct sigv4_request *req, const struct sigv4_config *cfg,
                              struct sigv4_verifier **out);
bool sigv4_signature_verified(const struct sigv4_verifier *v);
/* True while the body still decides the outcome (no x-amz-content-sha256: the signature itself;
 * a hex x-amz-content-sha256: whether the body matches it), i.e. until sigv4_finish(). False for
 * UNSIGNED-PAYLOAD. A body must not be used before sigv4_finish() said SIGV4_OK when this holds. */
bool sigv4_body_pending(const struct sigv4_verifier *v);
void sigv4_update(struct sigv4_verifier *v, const void *data, size_t len);
enum sigv4_result sigv4_finish(struct sigv4_verifier *v);
/* The principal of the verified key (valid until sigv4_free). */
const char *sigv4_principal(const struct sigv4_verifier *v);
void sigv4_free(struct sigv4_verifier *v);

#endif
