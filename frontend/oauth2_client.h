/* frontend/oauth2_client.h — silod as an OAuth2 client of the resource providers (AgentCore
 * Identity, issue 14 item 2), on libcurl:
 *   - discovery: an OIDC `.well-known/openid-configuration` or RFC 8414
 *     `.well-known/oauth-authorization-server` document (a full discoveryUrl, or an issuer:
 *     both well-known forms tried); the endpoints found must pass the same URL policy;
 *   - the client-credentials grant (M2M) with client_secret_basic or client_secret_post;
 *   - the 3LO authorization URL (response_type=code, state, PKCE S256) and PKCE/state makers;
 *   - the authorization-code exchange (with the PKCE verifier) and the refresh-token grant.
 *
 * Every request is bounded (OAUTH2_MAX_RESPONSE bytes, policy timeout, 3 s to connect, no
 * redirects) and every URL must be https, except plain http to a host the policy allow-lists
 * (tests use http://127.0.0.1). URLs with user-info are refused. Secrets (client secret,
 * codes, tokens, verifiers) never appear in error texts; the error text carries the
 * provider's `error` code (e.g. "invalid_grant") and HTTP status only.
 *
 * Thread-safe (one curl easy handle per call); curl_global_init is the caller's (silod's
 * main, once). All returned strings are malloc'd; oauth2_token_free / oauth2_metadata_free
 * wipe and free them. */
#ifndef SILO_FRONTEND_OAUTH2_CLIENT_H
#define SILO_FRONTEND_OAUTH2_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OAUTH2_MAX_RESPONSE (256 * 1024)
#define OAUTH2_DEFAULT_TIMEOUT_S 10

struct oauth2_policy {
    const char *const *http_hosts;   /* hosts reachable over plain http (tests: "127.0.0.1") */
    size_t http_host_count;
    long timeout_s;                  /* whole request; 0 = OAUTH2_DEFAULT_TIMEOUT_S */
};

enum oauth2_status {
    OAUTH2_OK = 0,
    OAUTH2_URL_REFUSED,    /* not https and not allow-listed, user-info, unparsable */
    OAUTH2_TRANSPORT,      /* connect, TLS, time-out */
    OAUTH2_TOO_LARGE,      /* answer beyond OAUTH2_MAX_RESPONSE */
    OAUTH2_HTTP_ERROR,     /* non-2xx, or a 2xx carrying `error` (GitHub does): err has the code */
    OAUTH2_BAD_RESPONSE,   /* not JSON, missing access_token / endpoints, wrong types */
    OAUTH2_INVALID_ARGUMENT,
};
const char *oauth2_status_text(enum oauth2_status st);

enum oauth2_client_auth {
    OAUTH2_AUTH_CLIENT_SECRET_BASIC = 0,   /* RFC 6749 §2.3.1: form-encoded id:secret in Basic */
    OAUTH2_AUTH_CLIENT_SECRET_POST,        /* client_id and client_secret in the body */
};
/* "client_secret_basic" / "client_secret_post" (AgentCore's clientAuthenticationMethod names
 * are mapped by the caller); false for anything else. */
bool oauth2_client_auth_parse(const char *name, enum oauth2_client_auth *out);

struct oauth2_metadata {
    char *issuer;
    char *authorization_endpoint;   /* may be NULL (a server for M2M only) */
    char *token_endpoint;
    char *token_endpoint_auth_methods;   /* space-joined; NULL when not advertised */
};
void oauth2_metadata_free(struct oauth2_metadata *m);

struct oauth2_token {
    char *access_token;
    char *refresh_token;   /* NULL when none */
    char *token_type;      /* as sent, e.g. "Bearer"; NULL when absent */
    char *scope;           /* granted scopes when the server says; NULL otherwise */
    int64_t expires_in;    /* seconds; 0 when the server did not say */
};
void oauth2_token_free(struct oauth2_token *t);

struct oauth2_client {
    const char *token_endpoint;
    const char *client_id;
    const char *client_secret;   /* NULL: a public client (PKCE only), client_id in the body */
    enum oauth2_client_auth auth;
};

/* Whether url may be fetched under policy. */
bool oauth2_url_allowed(const struct oauth2_policy *pol, const char *url);

/* Fetches discovery_url (a full .well-known URL) and reads its metadata. The document must
 * name an issuer and a token_endpoint; every endpoint must pass the policy. */
enum oauth2_status oauth2_discover(const struct oauth2_policy *pol, const char *discovery_url,
                                   struct oauth2_metadata *out, char *err, size_t err_len);
/* From an issuer: ISSUER/.well-known/openid-configuration, then RFC 8414's
 * https://host/.well-known/oauth-authorization-server[/path]; the document's issuer must
 * equal the one asked for. */
enum oauth2_status oauth2_discover_issuer(const struct oauth2_policy *pol, const char *issuer,
                                          struct oauth2_metadata *out, char *err, size_t err_len);

/* client_credentials grant; scopes space-separated or NULL; extra_form NULL or already
 * form-encoded "k=v&k2=v2" (e.g. audience / resource). */
enum oauth2_status oauth2_client_credentials(const struct oauth2_policy *pol, const struct oauth2_client *c,
                                             const char *scopes, const char *extra_form, struct oauth2_token *out,
                                             char *err, size_t err_len);
/* authorization_code grant with the PKCE verifier (NULL: none) and the redirect URI sent in
 * the authorization request. */
enum oauth2_status oauth2_exchange_code(const struct oauth2_policy *pol, const struct oauth2_client *c,
                                        const char *code, const char *redirect_uri, const char *code_verifier,
                                        struct oauth2_token *out, char *err, size_t err_len);
/* refresh_token grant; scopes NULL to keep the original ones. */
enum oauth2_status oauth2_refresh(const struct oauth2_policy *pol, const struct oauth2_client *c,
                                  const char *refresh_token, const char *scopes, struct oauth2_token *out, char *err,
                                  size_t err_len);

/* PKCE (RFC 7636): a 43-char verifier from 32 random bytes, and its S256 challenge. */
#define OAUTH2_PKCE_LEN 43
bool oauth2_pkce_new(char verifier[OAUTH2_PKCE_LEN + 1], char challenge[OAUTH2_PKCE_LEN + 1]);
void oauth2_pkce_challenge(const char *verifier, char challenge[OAUTH2_PKCE_LEN + 1]);
/* A fresh `state`: 32 random bytes, base64url (43 chars). */
bool oauth2_random_state(char state[OAUTH2_PKCE_LEN + 1]);

/* The 3LO authorization URL: authorization_endpoint + (?|&) response_type=code, client_id,
 * redirect_uri, scope (when given), state, code_challenge + code_challenge_method=S256 (when
 * given), then extra_form (already encoded, may be NULL). malloc'd; NULL when the endpoint
 * is not an absolute http(s) URL or already has a fragment. */
char *oauth2_authorization_url(const char *authorization_endpoint, const char *client_id, const char *redirect_uri,
                               const char *scopes, const char *state, const char *code_challenge,
                               const char *extra_form);

#endif
