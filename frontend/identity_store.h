/* frontend/identity_store.h — AgentCore Identity's state in silod's SQLite database (issue 14
 * item 3 and the rows behind items 1-2): workload identities, OAuth2 and API-key credential
 * providers, users' stored OAuth2 tokens, and pending 3LO sessions. Every secret (client
 * secrets, API keys, access/refresh tokens, PKCE verifiers, tokens waiting for
 * CompleteResourceTokenAuth) lives in the token vault (token_vault.h, table vault_secrets),
 * never in these tables; each secret's vault name is derived from its row, so the AES-GCM
 * associated data binds it there.
 *
 * Schema: its own tables (CREATE TABLE IF NOT EXISTS) in the same database file as store.c's,
 * versioned in its own table identity_schema (store.c's PRAGMA user_version stays store.c's):
 *   identity_workloads (name PK, arn, return_urls JSON, created_at, updated_at)
 *   identity_oauth2_providers (name PK, arn, vendor, client_id, auth_method, discovery_url,
 *       issuer, authorization_endpoint, token_endpoint, config JSON, created_at, updated_at)
 *       vault: ("oauth2-client-secret", name)
 *   identity_apikey_providers (name PK, arn, created_at, updated_at)   vault: ("api-key", name)
 *   identity_user_tokens (id PK = hex SHA-256 of the binding, workload, user_kind, user_id,
 *       provider, scopes, expires_at, updated_at)       vault: ("user-access"|"user-refresh", id)
 *   identity_oauth2_sessions (session_uri PK, state_hash UNIQUE, workload, user_kind, user_id,
 *       provider, scopes, return_url, custom_state, status, created_at, expires_at,
 *       token_expires_at)     vault: ("pkce", session_uri), ("pending-access"|"pending-refresh",
 *       session_uri)
 * Times are milliseconds since the epoch except token/session expiries (seconds).
 *
 * How silod uses it (one database handle, the control plane's lock or its own transactions):
 *   start:   store_open(&st, path, …); idstore_init(st.db, …);
 *            vault_open_key_file(key_path, st.db, &vault, …)  (or key command + vault_check);
 *            idstore_sessions_expire(st.db, now) now and then (the reaper loop).
 *   ops:     each function below is one operation and runs in one transaction of its own,
 *            or joins the caller's (SAVEPOINT) when one is open.
 * Users are (kind, id) pairs as in workload_token.h: the same id under another kind is
 * another user.
 */
#ifndef SILO_FRONTEND_IDENTITY_STORE_H
#define SILO_FRONTEND_IDENTITY_STORE_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/token_vault.h"
#include "frontend/workload_token.h"

#define IDSTORE_SCHEMA_VERSION 1

enum idstore_rc {
    ID_OK = 0,
    ID_NOT_FOUND,
    ID_EXISTS,        /* create: the name is taken (ConflictException) */
    ID_INVALID,       /* validation (ValidationException); err says which field */
    ID_FORBIDDEN,     /* 3LO: another user, a used or expired state/session */
    ID_ERROR,         /* database or vault failure (InternalServerException) */
};
const char *idstore_rc_text(enum idstore_rc rc);

/* Creates or migrates the tables and vault_secrets. */
bool idstore_init(sqlite3 *db, char *err, size_t err_len);
int idstore_schema_version(sqlite3 *db);

/* --- workload identities ------------------------------------------------------------------ */
/* name: [A-Za-z0-9_.-]{3,255}; return_urls: JSON array of https URLs (http only for
 * localhost/127.0.0.1, as AgentCore accepts), at most 10 — NULL for []. */
enum idstore_rc idstore_workload_create(sqlite3 *db, const char *name, const char *arn, json_object *return_urls,
                                        int64_t now_ms, char *err, size_t err_len);
/* Replaces the return URLs. */
enum idstore_rc idstore_workload_update(sqlite3 *db, const char *name, json_object *return_urls, int64_t now_ms,
                                        char *err, size_t err_len);
/* *out: {name, workloadIdentityArn, allowedResourceOauth2ReturnUrls[], createdTime,
 * lastUpdatedTime (seconds, as numbers)}; json_object_put it. */
enum idstore_rc idstore_workload_get(sqlite3 *db, const char *name, json_object **out);
/* Whether url is one of the workload's allowedResourceOauth2ReturnUrls (exact match). */
bool idstore_workload_allows_return_url(sqlite3 *db, const char *name, const char *url);
/* Deletes the identity with its users' tokens and pending sessions (and their vault rows). */
enum idstore_rc idstore_workload_delete(sqlite3 *db, const char *name);
/* Names after `after` ("" = from the start), at most max: a JSON array of get-shaped objects. */
json_object *idstore_workload_list(sqlite3 *db, const char *after, int max);

/* --- OAuth2 credential providers --------------------------------------------------------- */
struct idstore_oauth2_provider {
    const char *name, *arn, *vendor;   /* vendor: "CustomOauth2", "GithubOauth2", … */
    const char *client_id;
    const char *auth_method;           /* "client_secret_basic" (default) / "client_secret_post" */
    const char *discovery_url;         /* CustomOauth2: either this … */
    const char *issuer, *authorization_endpoint, *token_endpoint;   /* … or explicit metadata */
    json_object *config;               /* the request's oauth2ProviderConfigInput, without the
                                          secret, kept for Get (may be NULL) */
};
/* A vendor preset (configuration data in identity_store.c's table, JSON): fills issuer,
 * endpoints and the default auth method of a named vendor. false for an unknown vendor or
 * CustomOauth2 (which has no preset). */
bool idstore_vendor_preset(const char *vendor, const char **issuer, const char **authorization_endpoint,
                           const char **token_endpoint, const char **auth_method, const char **discovery_url);
/* Validates (a vendor preset fills what the request leaves out; a vendor without a preset
 * needs issuer+authorization_endpoint+token_endpoint; CustomOauth2 needs discovery_url xor
 * issuer+authorization_endpoint+token_endpoint), stores the row and the client secret in the
 * vault, in one transaction. */
enum idstore_rc idstore_oauth2_create(sqlite3 *db, const struct vault *v, const struct idstore_oauth2_provider *p,
                                      const char *client_secret, int64_t now_ms, char *err, size_t err_len);
/* UpdateOauth2CredentialProvider: validates p as create does and replaces the provider's
 * vendor, client, endpoints, config and secret (its ARN, createdTime, and its users' stored
 * tokens stay). ID_NOT_FOUND when there is no such provider. */
enum idstore_rc idstore_oauth2_update(sqlite3 *db, const struct vault *v, const struct idstore_oauth2_provider *p,
                                      const char *client_secret, int64_t now_ms, char *err, size_t err_len);
/* *out: {name, credentialProviderArn, credentialProviderVendor, clientId,
 * clientAuthenticationMethod, discoveryUrl?, issuer?, authorizationEndpoint?, tokenEndpoint?,
 * config?, createdTime, lastUpdatedTime} — never the secret. */
enum idstore_rc idstore_oauth2_get(sqlite3 *db, const char *name, json_object **out);
/* The client secret (vault_secret_free it). */
enum idstore_rc idstore_oauth2_client_secret(sqlite3 *db, const struct vault *v, const char *name, char **secret,
                                             size_t *len);
/* Deletes the provider, its secret, its users' tokens and pending sessions. */
enum idstore_rc idstore_oauth2_delete(sqlite3 *db, const char *name);
json_object *idstore_oauth2_list(sqlite3 *db, const char *after, int max);
/* Updates the token_endpoint / authorization_endpoint / issuer learnt by discovery. */
enum idstore_rc idstore_oauth2_set_endpoints(sqlite3 *db, const char *name, const char *issuer,
                                             const char *authorization_endpoint, const char *token_endpoint,
                                             int64_t now_ms);

/* --- API-key credential providers --------------------------------------------------------- */
enum idstore_rc idstore_apikey_create(sqlite3 *db, const struct vault *v, const char *name, const char *arn,
                                      const char *api_key, int64_t now_ms, char *err, size_t err_len);
/* Replaces the key. */
enum idstore_rc idstore_apikey_update(sqlite3 *db, const struct vault *v, const char *name, const char *api_key,
                                      int64_t now_ms);
/* *out: {name, credentialProviderArn, createdTime, lastUpdatedTime} — never the key. */
enum idstore_rc idstore_apikey_get(sqlite3 *db, const char *name, json_object **out);
enum idstore_rc idstore_apikey_key(sqlite3 *db, const struct vault *v, const char *name, char **key, size_t *len);
enum idstore_rc idstore_apikey_delete(sqlite3 *db, const char *name);
json_object *idstore_apikey_list(sqlite3 *db, const char *after, int max);

/* --- stored user tokens ------------------------------------------------------------------ */
/* A user's token (or, with WAT_USER_NONE, the workload's own M2M token) for provider and
 * scopes. scopes are normalised (split on spaces, sorted, de-duplicated) before keying, so
 * "b a" and "a b a" are one binding. */
struct idstore_token {
    char *access_token, *refresh_token;   /* refresh may be NULL */
    int64_t expires_at;                   /* seconds since the epoch; 0 = unknown */
};
void idstore_token_free(struct idstore_token *t);
enum idstore_rc idstore_token_put(sqlite3 *db, const struct vault *v, const char *workload, enum wat_user_kind kind,
                                  const char *user_id, const char *provider, const char *scopes,
                                  const char *access_token, const char *refresh_token, int64_t expires_at,
                                  int64_t now_ms);
/* The stored token for exactly this binding (expired ones too: the caller refreshes when
 * expires_at <= now + margin and a refresh token exists). */
enum idstore_rc idstore_token_get(sqlite3 *db, const struct vault *v, const char *workload, enum wat_user_kind kind,
                                  const char *user_id, const char *provider, const char *scopes,
                                  struct idstore_token *out);
enum idstore_rc idstore_token_delete(sqlite3 *db, const char *workload, enum wat_user_kind kind, const char *user_id,
                                     const char *provider, const char *scopes);
/* "a b" from " b  a b": the normalised scope string (malloc'd). */
char *idstore_normalize_scopes(const char *scopes);

/* --- pending 3LO sessions ------------------------------------------------------------------ */
enum idstore_session_status {
    IDSESS_IN_PROGRESS = 0,   /* authorization URL handed out, waiting for the callback */
    IDSESS_CALLBACK_DONE,     /* code exchanged; token pending until CompleteResourceTokenAuth */
    IDSESS_COMPLETED,         /* token moved to identity_user_tokens for the starting user */
    IDSESS_FAILED,
};
struct idstore_session {
    char *session_uri, *workload, *user_id, *provider, *scopes, *return_url, *custom_state;
    enum wat_user_kind user_kind;
    enum idstore_session_status status;
    int64_t created_at, expires_at;   /* seconds */
};
void idstore_session_free(struct idstore_session *s);
/* Starts a session: new random session_uri ("urn:ietf:params:oauth:request_uri:" + 43
 * chars, written to *session_uri, malloc'd) for the given state (stored as its SHA-256
 * only), the PKCE verifier in the vault, expiring at expires_at (seconds). */
enum idstore_rc idstore_session_create(sqlite3 *db, const struct vault *v, const struct idstore_session *s,
                                       const char *state, const char *pkce_verifier, char **session_uri,
                                       int64_t now_ms);
enum idstore_rc idstore_session_get(sqlite3 *db, const char *session_uri, struct idstore_session *out);
/* The callback: finds the IN_PROGRESS, unexpired session of this state and moves it to
 * CALLBACK_DONE in the same transaction, so a state works once (a replay is ID_FORBIDDEN,
 * an unknown state ID_NOT_FOUND). Returns the session and its PKCE verifier
 * (vault_secret_free it). */
enum idstore_rc idstore_session_take_state(sqlite3 *db, const struct vault *v, const char *state, int64_t now_s,
                                           struct idstore_session *out, char **pkce_verifier, size_t *verifier_len);
/* After the code exchange: the tokens wait in the vault for CompleteResourceTokenAuth. */
enum idstore_rc idstore_session_store_pending(sqlite3 *db, const struct vault *v, const char *session_uri,
                                              const char *access_token, const char *refresh_token,
                                              int64_t token_expires_at, int64_t now_ms);
enum idstore_rc idstore_session_fail(sqlite3 *db, const char *session_uri);
/* CompleteResourceTokenAuth: only the user who started the session (same kind and id), only
 * after the callback, only before expiry; moves the pending token to identity_user_tokens for
 * (workload, user, provider, scopes) and marks the session COMPLETED, in one transaction.
 * ID_FORBIDDEN for another user, ID_NOT_FOUND for an unknown session, ID_INVALID when the
 * callback has not come yet or it is already completed. */
enum idstore_rc idstore_session_complete(sqlite3 *db, const struct vault *v, const char *session_uri,
                                         enum wat_user_kind kind, const char *user_id, int64_t now_s,
                                         int64_t now_ms);
/* Deletes sessions that expired before now_s (and their vault rows). Returns how many. */
int idstore_sessions_expire(sqlite3 *db, int64_t now_s);

#endif
