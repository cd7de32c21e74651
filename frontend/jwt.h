/* frontend/jwt.h — inbound JWT bearer verification for runtimes with a customJWTAuthorizer.
 *
 * A jwt_keystore holds, per OIDC discovery URL, the issuer and the signing keys of that
 * provider: it fetches `discoveryUrl` (the `issuer` and `jwks_uri` members), then the JWKS,
 * caches both for JWT_KEYS_TTL_SECONDS, and refetches at once when a token names a `kid` it
 * does not know (at most once per JWT_REFETCH_MIN_SECONDS, so unknown kids cannot be used to
 * hammer the provider). Documents come through a jwt_fetch_fn: silod uses jwt_curl_fetch
 * (libcurl; https, or http to the hosts of jwt_http_allowed_hosts only, 1 MiB cap, 5 s timeout).
 * Each provider has its own lock and fetches without holding it: a slow provider never delays
 * another's tokens, and its own tokens are verified with the cached keys while a refresh runs
 * or after it failed (stale-while-revalidate); failed fetches back off (5 s doubling to 300 s).
 *
 * jwt_verify accepts only RS256, PS256 and ES256 (`none`, HS* and everything else are
 * refused before any key is looked at), and checks: the signature with the JWK named by
 * `kid` (whose `alg`/`use` must agree when present), `iss` equal to the discovered issuer,
 * `exp` required and `nbf` honoured with `leeway_seconds`, `aud` (string or array) meeting
 * allowedAudience, `client_id` (or `azp`) in allowedClients, at least one of allowedScopes
 * among `scope` and `scp` (each a space-separated string or an array of strings), and every
 * customClaims rule (see jwt_policy.custom_claims). An `iat` more than leeway_seconds in the
 * future is refused as not yet valid. Empty lists are not checked. The keystore is thread-safe.
 */
#ifndef SILO_FRONTEND_JWT_H
#define SILO_FRONTEND_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "frontend/strbuf.h"

struct json_object;

#define JWT_KEYS_TTL_SECONDS 3600
#define JWT_REFETCH_MIN_SECONDS 30
#define JWT_MAX_TOKEN_BYTES 16384

/* Fetches url into out; returns 0 on a 2xx answer, -1 otherwise. */
typedef int (*jwt_fetch_fn)(void *ctx, const char *url, struct strbuf *out);

#define JWT_FETCH_TIMEOUT_SECONDS 5
#define JWT_BACKOFF_MIN_SECONDS 5
#define JWT_BACKOFF_MAX_SECONDS 300

/* Where jwt_curl_fetch may go: any https URL, and plain http only to these hosts (exact host
 * names or addresses as written in the URL, e.g. "127.0.0.1"; config jwt_http_allowed_hosts). */
struct jwt_fetch_policy {
    const char *const *http_hosts;
    size_t http_host_count;
};
bool jwt_url_allowed(const struct jwt_fetch_policy *pol, const char *url);

/* The libcurl fetcher used by silod; ctx is a struct jwt_fetch_policy * (NULL: https only). */
int jwt_curl_fetch(void *ctx, const char *url, struct strbuf *out);

struct jwt_policy {
    const char *discovery_url;
    const char *const *allowed_audience;
    size_t allowed_audience_count;
    const char *const *allowed_clients;
    size_t allowed_clients_count;
    const char *const *allowed_scopes;
    size_t allowed_scopes_count;
    int leeway_seconds;          /* 60 in silod */
    /* The customJWTAuthorizer's `customClaims` array as validated by the control plane (NULL:
     * none). Every rule must hold: STRING + EQUALS → the claim is a JSON string equal to
     * matchValueString; STRING_ARRAY + CONTAINS → the claim is an array of strings holding
     * matchValueString; STRING_ARRAY + CONTAINS_ANY → an array of strings holding at least one
     * of matchValueStringList. A missing claim, another JSON type (numbers, objects, nested
     * arrays, an array with a non-string member) or no match is JWT_BAD_CLAIM; so is a rule
     * that is not one of those shapes (fail closed). Borrowed, not copied. */
    struct json_object *custom_claims;
};

enum jwt_result {
    JWT_OK = 0,
    JWT_MALFORMED,
    JWT_BAD_ALGORITHM,
    JWT_DISCOVERY_FAILED,
    JWT_UNKNOWN_KEY,
    JWT_BAD_SIGNATURE,
    JWT_EXPIRED,
    JWT_NOT_YET_VALID,
    JWT_BAD_ISSUER,
    JWT_BAD_AUDIENCE,
    JWT_BAD_CLIENT,
    JWT_BAD_SCOPE,
    JWT_BAD_CLAIM,      /* a customClaims rule does not hold */
};

const char *jwt_result_name(enum jwt_result r);

/* The caller identity a verified token yields (iss + sub go to the session). */
struct jwt_identity {
    char *issuer;
    char *subject;    /* may be NULL for client-credentials tokens without sub */
    char *client_id;  /* may be NULL */
};

void jwt_identity_free(struct jwt_identity *id);

struct jwt_keystore;

struct jwt_keystore *jwt_keystore_new(jwt_fetch_fn fetch, void *fetch_ctx);
void jwt_keystore_free(struct jwt_keystore *ks);

enum jwt_result jwt_verify(struct jwt_keystore *ks, const struct jwt_policy *policy,
                           const char *token, time_t now, struct jwt_identity *out);

/* base64url without padding; returns false on any character outside the alphabet. */
bool jwt_base64url_decode(const char *in, size_t len, struct strbuf *out);

#endif
