/* frontend/identity_internal.h — what the identity files share, never included outside them
 * (the public interface is identity.h). The files:
 *
 *   identity.c           lifecycle, the ONE operation table {path, handler, who may call,
 *                        status}, the request body, answers, ARNs, the database lock, minting
 *   identity_control.c   the control plane: workload identities, OAuth2 and API-key credential
 *                        providers, GetTokenVault
 *   identity_tokens.c    the data plane: workload access tokens, GetResourceOauth2Token (M2M,
 *                        USER_FEDERATION), GetResourceApiKey, CompleteResourceTokenAuth, and
 *                        the browser's callback
 *
 * Locking: id->db is one SQLite connection used from many threads, so every use of it (each
 * idstore_* / vault_* call, or a group of them that must be consistent) runs between
 * idn_lock() and idn_unlock(). Never hold the lock across an outbound OAuth2 request. */
#ifndef SILO_FRONTEND_IDENTITY_INTERNAL_H
#define SILO_FRONTEND_IDENTITY_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "frontend/identity.h"
#include "frontend/identity_store.h"

struct identity {
    struct identity_config cfg;
    char *callback_url, *region, *account_id;   /* owned copies of cfg's strings */
    sqlite3 *db;
    pthread_mutex_t lock;
    struct vault *vault;
    uint8_t wat_key[WAT_KEY_BYTES];            /* vault_derive_key(vault, WAT_KEY_LABEL) */
};

/* One operation as a handler sees it. */
struct idn_call {
    struct identity *id;
    const struct identity_caller *caller;
    json_object *req;                          /* the body: always a JSON object */
    unsigned ok_status;                        /* the operation's success status (200/201/204) */
    struct control_plane_response *out;
};

typedef void idn_handler(struct idn_call *call);

/* ---- identity.c: answers, clock, lock, ARNs, request fields */

void idn_lock(struct identity *id);
void idn_unlock(struct identity *id);
int64_t idn_now_ms(struct identity *id);
int64_t idn_now_s(struct identity *id);

/* An error answer: type from aws_error.h, message printf-style (never a secret). */
void idn_error(struct idn_call *call, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The answer for an idstore result other than ID_OK (ID_NOT_FOUND → ResourceNotFound, ID_EXISTS
 * → Conflict, ID_INVALID → Validation with err, ID_FORBIDDEN → AccessDenied, ID_ERROR →
 * InternalServer); what names the resource in messages. */
void idn_store_error(struct idn_call *call, enum idstore_rc rc, const char *what, const char *err);
/* A JSON answer with call->ok_status (takes o; NULL: an empty object, or no body for 204). */
void idn_answer(struct idn_call *call, json_object *o);

/* A required/optional string member: false (ValidationException naming the field) when
 * required and absent, not a string, empty, or longer than max bytes. *out NULL when optional
 * and absent. */
bool idn_string(struct idn_call *call, const char *field, bool required, size_t max, const char **out);
/* An optional boolean member (false when absent); false with ValidationException if not bool. */
bool idn_bool(struct idn_call *call, const char *field, bool *out);
/* An optional array of strings (each 1..max_item bytes, at most max_count): *out NULL when
 * absent (borrowed from call->req). */
bool idn_string_array(struct idn_call *call, const char *field, size_t max_count, size_t max_item,
                      json_object **out);
/* maxResults (1-20 default 10 for identities, as AgentCore) and nextToken (opaque: the last
 * name returned) of a List request. */
bool idn_paging(struct idn_call *call, int *max, const char **after);

/* The request's workloadIdentityToken, opened and checked: sealed by this silod, unexpired,
 * and — when the request comes from inside a guest — for that guest's runtime's workload.
 * False with AccessDeniedException (the reason named, never the token) otherwise. */
bool idn_open_workload_token(struct idn_call *call, struct wat_claims *claims);

/* ARNs silod makes for identity resources (region and account from the config). */
void idn_workload_arn(struct identity *id, const char *name, char *out, size_t len);
void idn_oauth2_provider_arn(struct identity *id, const char *name, char *out, size_t len);
void idn_apikey_provider_arn(struct identity *id, const char *name, char *out, size_t len);
/* The ARN of a vault secret (AgentCore answers a secret's ARN, never its value). */
void idn_secret_arn(struct identity *id, const char *kind, const char *name, char *out, size_t len);
void idn_token_vault_arn(struct identity *id, char *out, size_t len);

/* ---- identity_control.c */

idn_handler idn_create_workload, idn_get_workload, idn_update_workload, idn_delete_workload, idn_list_workloads;
idn_handler idn_create_oauth2, idn_get_oauth2, idn_update_oauth2, idn_delete_oauth2, idn_list_oauth2;
idn_handler idn_create_apikey, idn_get_apikey, idn_update_apikey, idn_delete_apikey, idn_list_apikey;
idn_handler idn_get_token_vault;

/* ---- identity_tokens.c */

idn_handler idn_get_wat, idn_get_wat_for_jwt, idn_get_wat_for_user;
idn_handler idn_get_oauth2_token, idn_get_api_key, idn_complete_token_auth;
/* identity_callback() is defined there too. */

#endif
