/* base/sigv4_canon.h — the one AWS Signature Version 4 canonicaliser (HMAC-SHA256, OpenSSL
 * libcrypto): canonical request, string to sign, signing key, signature. Both sides of SigV4
 * use it: silod's verifier (frontend/sigv4.c) and the CLI's signer (tools/cli/sigv4_sign.c), so
 * what one signs the other verifies by construction. Checked byte for byte against the AWS
 * SigV4 test suite (tests/data/sigv4-suite) by tests/unit/test_sigv4.c and test_sigv4_canon.c.
 *
 * The canonical request is built as the AWS SDKs build it for non-S3 services:
 *   - canonical URI: the path *as received on the wire* URI-encoded once more ('/' kept), so a
 *     percent-encoded runtime ARN `arn%3Aaws…` becomes `arn%253Aaws…`; with
 *     SIGV4_CANON_NORMALIZE_PATH the dot segments and empty segments are removed first (a
 *     trailing '/' stays);
 *   - canonical query: each pair percent-decoded, re-encoded strictly (RFC 3986 unreserved
 *     kept), sorted by name then value; a pair without '=' gets an empty value;
 *   - canonical headers: for each name of the signed-header list, every value of that header
 *     (any case; duplicates joined with ','), trimmed, runs of white space (SP, HT, CR, LF)
 *     collapsed to one space;
 *   - then the signed-header list and the payload hash.
 * Allocation failure aborts. Links -lcrypto; includes nothing above base/.
 */
#ifndef SILO_BASE_SIGV4_CANON_H
#define SILO_BASE_SIGV4_CANON_H

#include <stdbool.h>
#include <stddef.h>

struct sigv4_header {
    const char *name;   /* any case */
    const char *value;  /* as received or sent (folded lines allowed); NULL reads as "" */
};

struct sigv4_request {
    const char *method;
    const char *path;   /* raw path as on the wire, without the query */
    const char *query;  /* raw query without '?', or NULL */
    const struct sigv4_header *headers;
    size_t header_count;
};

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

enum sigv4_canon_flags {
    SIGV4_CANON_NORMALIZE_PATH = 1u << 0,  /* every non-S3 service */
    SIGV4_CANON_PRESIGNED      = 1u << 1,  /* leave X-Amz-Signature out of the query */
    SIGV4_CANON_OMIT_TOKEN     = 1u << 2,  /* leave X-Amz-Security-Token out of the query */
};

/* The canonical request for the ';'-separated lower-case signed-header list and the payload
 * hash (lower-case hex, or "UNSIGNED-PAYLOAD"; "" gives the prefix a streamed body's hash is
 * appended to later). malloc'd; NULL when the query has a broken escape or %00, or a name of
 * the list is empty or longer than 128 bytes. */
char *sigv4_canonical_request(const struct sigv4_request *req, const char *signed_headers,
                              const char *payload_hash, unsigned flags);

/* What a signer signs: the names of all of req's headers, lower-cased, sorted, duplicates
 * once, joined with ';'. malloc'd; NULL when a name is empty, longer than 128 bytes or holds a
 * character outside [A-Za-z0-9-_.]. */
char *sigv4_signed_header_list(const struct sigv4_request *req);

/* "YYYYMMDD/region/service/aws4_request" from the first 8 characters of amz_date. malloc'd. */
char *sigv4_scope(const char *amz_date, const char *region, const char *service);

/* "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(SHA-256(canonical[0..len))). malloc'd. */
char *sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical, size_t len);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date8), region), service), "aws4_request").
 * date8 is YYYYMMDD (more characters are ignored). Intermediates are wiped. */
void sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                       unsigned char key[32]);

/* HMAC-SHA256(key, string_to_sign[0..len)): the signature, raw. */
void sigv4_signature(const unsigned char key[32], const char *string_to_sign, size_t len, unsigned char sig[32]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void sigv4_hex(const unsigned char *bytes, size_t n, char *out);

/* Lower-case hex SHA-256 of a buffer (the payload hash). */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
