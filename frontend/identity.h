/* frontend/identity.h — AgentCore Identity in silod (issue 14; reference §4), independent of
 * the HTTP server so it can be unit-tested: the `/identities/…` operations of both planes, the
 * OAuth2 callback a user's browser brings back, and the workload access tokens silod hands to
 * agents on invocation.
 *
 * Operations (all `POST /identities/<path>`, restJson1, SigV4; see identity.c's table):
 *   control plane (admin keys only; 201 for Create, 204 for Delete, else 200):
 *     Create/Get/Update/Delete/ListWorkloadIdentit(y|ies), Create/Get/Update/Delete/
 *     ListOauth2CredentialProvider(s), Create/Get/Update/Delete/ListApiKeyCredentialProvider(s),
 *     get-token-vault (GetTokenVault)
 *   data plane:
 *     GetWorkloadAccessToken, …ForJWT, …ForUserId, CompleteResourceTokenAuth (admin keys only:
 *     an agent never mints tokens for users of its choosing), oauth2/token
 *     (GetResourceOauth2Token) and api-key (GetResourceApiKey) (admins and agents: what they
 *     may see is bound by the workload access token they must present).
 *   the callback: `GET /identities/oauth2/callback?state=…&code=…` (no authentication: it is the
 *   user's browser; the single-use `state` is the credential), answered with a 302 to the
 *   session's resourceOauth2ReturnUrl carrying `session_id=<sessionUri>` (and `state=` with the
 *   agent's customState when it gave one), so the application there can check its logged-in
 *   user and call CompleteResourceTokenAuth.
 *
 * State lives in silod's SQLite database (identity_store.h: its own tables, its own connection
 * in WAL mode) and every secret in the token vault (token_vault.h) under a master key kept
 * outside the database. Every runtime has a workload identity named after its runtime id
 * (control_plane.c creates and deletes it with the runtime).
 *
 * Thread-safe: every entry point may be called from any connection thread. Outbound OAuth2
 * requests (libcurl, oauth2_client.h) run without the database lock held. */
#ifndef SILO_FRONTEND_IDENTITY_H
#define SILO_FRONTEND_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/control_plane.h"
#include "frontend/oauth2_client.h"
#include "frontend/token_vault.h"
#include "frontend/workload_token.h"

#define IDENTITY_CALLBACK_PATH "/identities/oauth2/callback"
#define IDENTITY_SESSION_TTL_S 600        /* a 3LO session waits this long for the user */

struct identity_config {
    const char *region, *account_id;       /* for ARNs */
    const char *callback_url;              /* silod's OAuth2 callback as providers and browsers
                                              reach it (ends in IDENTITY_CALLBACK_PATH) */
    struct oauth2_policy oauth2;           /* which provider URLs silod may fetch */
    int wat_ttl_s;                         /* workload access token lifetime (0: default) */
    /* Verifies a user's JWT for a workload (GetWorkloadAccessTokenForJWT, CompleteResource-
     * TokenAuth's userToken) against the authorizer of the runtime whose workload it is, and
     * writes "iss|sub" to user_id. NULL, or false (reason in why): refused. */
    bool (*verify_user_jwt)(void *ctx, const char *workload, const char *token, char *user_id, size_t user_id_len,
                            char *why, size_t why_len);
    void *jwt_ctx;
    /* Clock in milliseconds since the epoch; NULL for the real clock. */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
};

/* Who is calling, as authentication established it. */
struct identity_caller {
    const char *principal;     /* the SigV4 key's principal, never a secret */
    bool agent;                /* credentials vended to an agent (role:...) */
    const char *from_session;  /* the guest session the request came from ("" or NULL: none) */
    const char *from_runtime;  /* that session's runtime ("" or NULL: none): a workload access
                                  token presented from inside a guest must be for this runtime's
                                  workload, so a token passed to another runtime's agent is
                                  worthless there */
};

struct identity;

/* Opens its own connection to the database at db_path (which store.c created), creates its
 * tables, and takes ownership of vault (which must already be checked against the database:
 * vault_open_key_file / vault_check). NULL with a reason in err. */
struct identity *identity_new(const char *db_path, struct vault *vault, const struct identity_config *cfg,
                              char *err, size_t err_len);
void identity_free(struct identity *id);

/* True for `POST /identities/<op>` of an operation above, and for the callback's GET. */
bool identity_owns(const char *method, const char *raw_path);
/* True for the callback (which takes no authentication). */
bool identity_is_callback(const char *method, const char *raw_path);
/* True when the operation at raw_path is one an agent's role credentials may call. */
bool identity_agent_may_call(const char *raw_path);

/* Handles one operation (raw_path as on the wire, body the JSON request). out->body must be
 * freed by the caller. */
void identity_handle(struct identity *id, const char *raw_path, const char *body, size_t body_len,
                     const struct identity_caller *caller, struct control_plane_response *out);

/* The browser's return from the provider. status 302 with location (malloc'd) on success,
 * else 4xx/5xx with a short text/plain body (malloc'd) saying what went wrong, never a secret.
 * Free both. */
struct identity_redirect {
    unsigned status;
    char *location;
    char *body;
};
void identity_callback(struct identity *id, const char *query, struct identity_redirect *out);

/* A workload access token for (workload, user) to hand to an agent (kind WAT_USER_NONE: no
 * user). false when the workload or user is invalid. */
bool identity_mint_wat(struct identity *id, const char *workload, enum wat_user_kind kind, const char *user_id,
                       char *out, size_t cap);

/* Drops expired 3LO sessions (silod's reaper calls it now and then). Returns how many. */
int identity_expire_sessions(struct identity *id);

#endif
