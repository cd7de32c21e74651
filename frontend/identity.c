/* frontend/identity.c — AgentCore Identity's front: its life cycle (own database connection,
 * the vault, the workload-token key), the ONE operation table {path, handler, who may call,
 * success status}, the request body, answers, ARNs and request fields every handler uses, and
 * minting the workload access tokens invocations carry. The operations themselves are in
 * identity_control.c and identity_tokens.c (see identity_internal.h). */
#include "frontend/identity_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "frontend/aws_error.h"

#define IDENTITY_MAX_BODY (256 * 1024)

/* Who may call an operation. */
enum idn_audience {
    IDN_ADMIN,      /* silod's configured keys only (control plane, minting, completing) */
    IDN_ANYONE,     /* also an agent's vended role credentials: bound by the token presented */
};

struct idn_operation {
    const char *path;            /* after "/identities/" */
    idn_handler *handler;
    enum idn_audience audience;
    unsigned ok_status;
};

static const struct idn_operation operations[] = {
    /* control plane */
    { "CreateWorkloadIdentity",           idn_create_workload,  IDN_ADMIN, 201 },
    { "GetWorkloadIdentity",              idn_get_workload,     IDN_ADMIN, 200 },
    { "UpdateWorkloadIdentity",           idn_update_workload,  IDN_ADMIN, 200 },
    { "DeleteWorkloadIdentity",           idn_delete_workload,  IDN_ADMIN, 204 },
    { "ListWorkloadIdentities",           idn_list_workloads,   IDN_ADMIN, 200 },
    { "CreateOauth2CredentialProvider",   idn_create_oauth2,    IDN_ADMIN, 201 },
    { "GetOauth2CredentialProvider",      idn_get_oauth2,       IDN_ADMIN, 200 },
    { "UpdateOauth2CredentialProvider",   idn_update_oauth2,    IDN_ADMIN, 200 },
    { "DeleteOauth2CredentialProvider",   idn_delete_oauth2,    IDN_ADMIN, 204 },
    { "ListOauth2CredentialProviders",    idn_list_oauth2,      IDN_ADMIN, 200 },
    { "CreateApiKeyCredentialProvider",   idn_create_apikey,    IDN_ADMIN, 201 },
    { "GetApiKeyCredentialProvider",      idn_get_apikey,       IDN_ADMIN, 200 },
    { "UpdateApiKeyCredentialProvider",   idn_update_apikey,    IDN_ADMIN, 200 },
    { "DeleteApiKeyCredentialProvider",   idn_delete_apikey,    IDN_ADMIN, 204 },
    { "ListApiKeyCredentialProviders",    idn_list_apikey,      IDN_ADMIN, 200 },
    { "get-token-vault",                  idn_get_token_vault,  IDN_ADMIN, 200 },
    /* data plane */
    { "GetWorkloadAccessToken",           idn_get_wat,          IDN_ADMIN, 200 },
    { "GetWorkloadAccessTokenForJWT",     idn_get_wat_for_jwt,  IDN_ADMIN, 200 },
    { "GetWorkloadAccessTokenForUserId",  idn_get_wat_for_user, IDN_ADMIN, 200 },
    { "CompleteResourceTokenAuth",        idn_complete_token_auth, IDN_ADMIN, 200 },
    { "oauth2/token",                     idn_get_oauth2_token, IDN_ANYONE, 200 },
    { "api-key",                          idn_get_api_key,      IDN_ANYONE, 200 },
};

#define IDENTITIES_PREFIX "/identities/"

static const struct idn_operation *operation_find(const char *raw_path)
{
    if (!raw_path || strncmp(raw_path, IDENTITIES_PREFIX, strlen(IDENTITIES_PREFIX)) != 0)
        return NULL;
    const char *op = raw_path + strlen(IDENTITIES_PREFIX);
    for (size_t i = 0; i < sizeof operations / sizeof operations[0]; i++)
        if (strcmp(operations[i].path, op) == 0)
            return &operations[i];
    return NULL;
}

bool identity_is_callback(const char *method, const char *raw_path)
{
    return raw_path && strcmp(method, "GET") == 0 && strcmp(raw_path, IDENTITY_CALLBACK_PATH) == 0;
}

bool identity_owns(const char *method, const char *raw_path)
{
    return identity_is_callback(method, raw_path) || (strcmp(method, "POST") == 0 && operation_find(raw_path));
}

bool identity_agent_may_call(const char *raw_path)
{
    const struct idn_operation *op = operation_find(raw_path);
    return op && op->audience == IDN_ANYONE;
}

/* ---------------------------------------------------------------- life cycle */

static char *dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

struct identity *identity_new(const char *db_path, struct vault *vault, const struct identity_config *cfg,
                              char *err, size_t err_len)
{
    struct identity *id = calloc(1, sizeof *id);
    if (!id)
        abort();
    id->cfg = *cfg;
    id->callback_url = dup_or_empty(cfg->callback_url);
    id->region = dup_or_empty(cfg->region);
    id->account_id = dup_or_empty(cfg->account_id);
    id->cfg.callback_url = id->callback_url;
    id->cfg.region = id->region;
    id->cfg.account_id = id->account_id;
    if (id->cfg.wat_ttl_s <= 0 || id->cfg.wat_ttl_s > WAT_MAX_TTL_S)
        id->cfg.wat_ttl_s = WAT_DEFAULT_TTL_S;
    pthread_mutex_init(&id->lock, NULL);
    id->vault = vault;
    if (sqlite3_open_v2(db_path, &id->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, err_len, "identity: cannot open the database %s: %s", db_path,
                 id->db ? sqlite3_errmsg(id->db) : "out of memory");
        identity_free(id);
        return NULL;
    }
    sqlite3_busy_timeout(id->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(id->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, err_len, "identity: %s", msg ? msg : "cannot set the journal mode");
        sqlite3_free(msg);
        identity_free(id);
        return NULL;
    }
    if (!idstore_init(id->db, err, err_len)) {
        identity_free(id);
        return NULL;
    }
    vault_derive_key(vault, WAT_KEY_LABEL, id->wat_key);
    return id;
}

void identity_free(struct identity *id)
{
    if (!id)
        return;
    if (id->db)
        sqlite3_close(id->db);
    vault_free(id->vault);
    OPENSSL_cleanse(id->wat_key, sizeof id->wat_key);
    pthread_mutex_destroy(&id->lock);
    free(id->callback_url);
    free(id->region);
    free(id->account_id);
    free(id);
}

/* ---------------------------------------------------------------- handling */

void identity_handle(struct identity *id, const char *raw_path, const char *body, size_t body_len,
                     const struct identity_caller *caller, struct control_plane_response *out)
{
    memset(out, 0, sizeof *out);
    struct idn_call call = { .id = id, .caller = caller, .out = out };
    const struct idn_operation *op = operation_find(raw_path);
    if (!op) {
        idn_error(&call, AWS_UNKNOWN_OPERATION, "no such operation");
        return;
    }
    call.ok_status = op->ok_status;
    if (op->audience == IDN_ADMIN && caller && caller->agent) {
        idn_error(&call, AWS_ACCESS_DENIED, "credentials vended to an agent runtime may not call %s", op->path);
        return;
    }
    if (body_len > IDENTITY_MAX_BODY) {
        idn_error(&call, AWS_VALIDATION, "request body too large");
        return;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok)
        abort();
    json_object *req = body_len ? json_tokener_parse_ex(tok, body, (int)body_len) : json_object_new_object();
    bool complete = !body_len || json_tokener_get_error(tok) == json_tokener_success;
    bool whole = !body_len || (size_t)json_tokener_get_parse_end(tok) == body_len;
    json_tokener_free(tok);
    if (!req || !complete || !whole || !json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        idn_error(&call, AWS_VALIDATION, "the request body must be one JSON object");
        return;
    }
    if (body_len && memchr(body, '\0', body_len)) {
        json_object_put(req);
        idn_error(&call, AWS_VALIDATION, "the request body contains a NUL");
        return;
    }
    call.req = req;
    op->handler(&call);
    json_object_put(req);
    if (!out->status)
        idn_error(&call, AWS_INTERNAL, "the operation gave no answer");
}

bool identity_mint_wat(struct identity *id, const char *workload, enum wat_user_kind kind, const char *user_id,
                       char *out, size_t cap)
{
    return wat_mint(id->wat_key, workload, kind, user_id, idn_now_s(id), id->cfg.wat_ttl_s, out, cap) == WAT_OK;
}

int identity_expire_sessions(struct identity *id)
{
    idn_lock(id);
    int n = idstore_sessions_expire(id->db, idn_now_s(id));
    idn_unlock(id);
    return n;
}

/* ---------------------------------------------------------------- shared helpers */

void idn_lock(struct identity *id) { pthread_mutex_lock(&id->lock); }
void idn_unlock(struct identity *id) { pthread_mutex_unlock(&id->lock); }

int64_t idn_now_ms(struct identity *id)
{
    if (id->cfg.now_ms)
        return id->cfg.now_ms(id->cfg.now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t idn_now_s(struct identity *id) { return idn_now_ms(id) / 1000; }

void idn_error(struct idn_call *call, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    control_plane_answer_error(call->out, type, msg);
}

void idn_store_error(struct idn_call *call, enum idstore_rc rc, const char *what, const char *err)
{
    switch (rc) {
    case ID_NOT_FOUND:
        idn_error(call, AWS_NOT_FOUND, "%s not found", what);
        break;
    case ID_EXISTS:
        idn_error(call, AWS_CONFLICT, "%s already exists", what);
        break;
    case ID_INVALID:
        idn_error(call, AWS_VALIDATION, "%s", err && *err ? err : "invalid request");
        break;
    case ID_FORBIDDEN:
        idn_error(call, AWS_ACCESS_DENIED, "%s", err && *err ? err : "not allowed");
        break;
    default:
        idn_error(call, AWS_INTERNAL, "%s could not be stored or read", what);
        break;
    }
}

void idn_answer(struct idn_call *call, json_object *o)
{
    if (call->ok_status == 204) {
        json_object_put(o);
        free(call->out->body);
        call->out->body = NULL;
        call->out->error_type = NULL;
        call->out->status = 204;
        return;
    }
    control_plane_answer_json(call->out, call->ok_status, o ? o : json_object_new_object());
}

bool idn_string(struct idn_call *call, const char *field, bool required, size_t max, const char **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(call->req, field, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            idn_error(call, AWS_VALIDATION, "%s is required", field);
        return !required;
    }
    if (!json_object_is_type(v, json_type_string)) {
        idn_error(call, AWS_VALIDATION, "%s must be a string", field);
        return false;
    }
    size_t len = (size_t)json_object_get_string_len(v);
    if (len == 0 || len > max) {
        idn_error(call, AWS_VALIDATION, "%s must be 1 to %zu characters", field, max);
        return false;
    }
    *out = json_object_get_string(v);
    return true;
}

bool idn_bool(struct idn_call *call, const char *field, bool *out)
{
    json_object *v;
    *out = false;
    if (!json_object_object_get_ex(call->req, field, &v) || json_object_is_type(v, json_type_null))
        return true;
    if (!json_object_is_type(v, json_type_boolean)) {
        idn_error(call, AWS_VALIDATION, "%s must be a boolean", field);
        return false;
    }
    *out = json_object_get_boolean(v);
    return true;
}

bool idn_string_array(struct idn_call *call, const char *field, size_t max_count, size_t max_item,
                      json_object **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(call->req, field, &v) || json_object_is_type(v, json_type_null))
        return true;
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max_count) {
        idn_error(call, AWS_VALIDATION, "%s must be a list of at most %zu strings", field, max_count);
        return false;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *item = json_object_array_get_idx(v, i);
        size_t len = json_object_is_type(item, json_type_string) ? (size_t)json_object_get_string_len(item) : 0;
        if (len == 0 || len > max_item) {
            idn_error(call, AWS_VALIDATION, "%s must hold strings of 1 to %zu characters", field, max_item);
            return false;
        }
    }
    *out = v;
    return true;
}

bool idn_paging(struct idn_call *call, int *max, const char **after)
{
    json_object *v;
    *max = 10;
    *after = "";
    if (json_object_object_get_ex(call->req, "maxResults", &v) && !json_object_is_type(v, json_type_null)) {
        int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
        if (n < 1 || n > 20) {
            idn_error(call, AWS_VALIDATION, "maxResults must be 1 to 20");
            return false;
        }
        *max = (int)n;
    }
    const char *token;
    if (!idn_string(call, "nextToken", false, 2048, &token))
        return false;
    if (token)
        *after = token;
    return true;
}

bool idn_open_workload_token(struct idn_call *call, struct wat_claims *claims)
{
    const char *token;
    if (!idn_string(call, "workloadIdentityToken", true, WAT_MAX_TOKEN, &token))
        return false;
    enum wat_status st = wat_verify(call->id->wat_key, token, idn_now_s(call->id), claims);
    if (st != WAT_OK) {
        idn_error(call, AWS_ACCESS_DENIED, "the workload access token is not valid: %s", wat_status_text(st));
        return false;
    }
    const char *runtime = call->caller ? call->caller->from_runtime : NULL;
    if (runtime && *runtime && strcmp(runtime, claims->workload) != 0) {
        idn_error(call, AWS_ACCESS_DENIED, "the workload access token is for another workload than this agent's");
        return false;
    }
    return true;
}

void idn_workload_arn(struct identity *id, const char *name, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:workload-identity-directory/default/workload-identity/%s",
             id->region, id->account_id, name);
}

void idn_oauth2_provider_arn(struct identity *id, const char *name, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:token-vault/default/oauth2credentialprovider/%s",
             id->region, id->account_id, name);
}

void idn_apikey_provider_arn(struct identity *id, const char *name, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:token-vault/default/apikeycredentialprovider/%s",
             id->region, id->account_id, name);
}

void idn_secret_arn(struct identity *id, const char *kind, const char *name, char *out, size_t len)
{
    /* AgentCore keeps these in Secrets Manager; silo's vault rows have the same role */
    snprintf(out, len, "arn:aws:secretsmanager:%s:%s:secret:silo-token-vault/%s/%s", id->region, id->account_id,
             kind, name);
}

void idn_token_vault_arn(struct identity *id, char *out, size_t len)
{
    snprintf(out, len, "arn:aws:bedrock-agentcore:%s:%s:token-vault/default", id->region, id->account_id);
}
