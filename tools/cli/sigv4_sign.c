/* tools/cli/sigv4_sign.c — the CLI's own AWS SigV4 signer, used for the requests libcurl's
 * signer gets wrong.
 *
 * Why: InvokeAgentRuntime and StopRuntimeSession name the runtime by ARN, percent-encoded into
 * one path segment (`arn%3Aaws%3A…%2F…`). For every non-S3 service the SigV4 canonical URI is
 * the path as sent *encoded once more* (`arn%253Aaws…`), which is what the AWS SDKs sign and
 * what silod verifies. libcurl 7.88's CURLOPT_AWS_SIGV4 (Debian 12) puts the path into the
 * canonical request as it is, so its signature of such a path never verifies (checked against
 * silod: 403 "the request signature is not valid"). Every request whose path contains a '%' is
 * therefore signed here; all others use libcurl's signer (api_client.c).
 * SILO_CLI_OWN_SIGV4=1 makes every request go through this file (a check of this signer).
 *
 * The canonical request, string to sign and signing key are base/sigv4_canon.c's, the same
 * code silod's verifier (frontend/sigv4.c) uses; this file only assembles the Authorization
 * header. tests/unit/test_sigv4_sign.c signs every case of the AWS SigV4 suite with it.
 */
#include "tools/cli/sigv4_sign.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sigv4_sign_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

bool sigv4_sign(const struct sigv4_sign_input *in, char *out, size_t out_len)
{
    if (strlen(in->amz_date) != 16)
        return false;
    struct sigv4_request req = { in->method, in->path, in->query, in->headers, in->header_count };
    char *signed_headers = sigv4_signed_header_list(&req);
    char *canonical = signed_headers ? sigv4_canonical_request(&req, signed_headers, in->payload_hash,
                                                               in->keep_path ? 0 : SIGV4_CANON_NORMALIZE_PATH)
                                     : NULL;
    bool ok = false;
    if (canonical) {
        char *scope = sigv4_scope(in->amz_date, in->region, in->service);
        char *to_sign = sigv4_string_to_sign(in->amz_date, scope, canonical, strlen(canonical));
        unsigned char key[32], sig[32];
        sigv4_signing_key(in->secret_key, in->amz_date, in->region, in->service, key);
        sigv4_signature(key, to_sign, strlen(to_sign), sig);
        OPENSSL_cleanse(key, sizeof key);
        char sig_hex[65];
        sigv4_hex(sig, sizeof sig, sig_hex);
        int n = snprintf(out, out_len, SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                         in->access_key, scope, signed_headers, sig_hex);
        ok = n > 0 && (size_t)n < out_len;
        free(scope);
        free(to_sign);
    }
    free(canonical);
    free(signed_headers);
    return ok;
}
