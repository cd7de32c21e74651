/* frontend/http_auth.c — inbound authentication for silod's HTTP server: which method a
 * request uses (SigV4 for the control plane and GET /metrics; for an invocation, whatever its
 * runtime is configured for: a bearer JWT with a customJWTAuthorizer, else SigV4), the checks
 * themselves (sigv4.c, jwt.c), the AWS error each refusal gets, and the one "auth rejected"
 * log line every refusal writes (reason, never a secret or a token). See http_internal.h for
 * the interface and http_api.h for the rules as a caller sees them. */
#include "frontend/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "frontend/aws_error.h"
#include "frontend/identity.h"
#include "frontend/role_creds.h"

void http_auth_reject(struct request *r, const char *reason, const char *type, const char *msg)
{
    if (r->failed)
        return;
    fprintf(stderr, "silod: auth rejected id=%s %s %s: %s\n", r->request_id, r->method, r->log_path, reason);
    r->auth_rejected = true;
    http_fail(r, type, msg);
}

struct header_list {
    struct sigv4_header h[64];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    struct header_list *l = cls;
    if (l->n < 64)
        l->h[l->n++] = (struct sigv4_header){ k, v ? v : "" };
    return MHD_YES;
}

static const struct sigv4_key *lookup_key(void *ctx, const char *id)
{
    struct http_api *api = ctx;
    for (size_t i = 0; i < api->cfg.key_count; i++)
        if (strcmp(api->cfg.keys[i].access_key_id, id) == 0)
            return &api->cfg.keys[i];
    return role_creds_lookup(api->cfg.role_creds, id);   /* credentials vended to agents */
}

/* AWS's answers to a refused signature: an access key id (or session token) it does not know
 * is UnrecognizedClientException, anything wrong with the signature InvalidSignatureException;
 * both 403. The reason goes to the log only. */
static void reject_signature(struct request *r, enum sigv4_result res)
{
    const char *why = sigv4_result_name(res);
    if (res == SIGV4_UNKNOWN_KEY || res == SIGV4_BAD_TOKEN)
        http_auth_reject(r, why, AWS_UNRECOGNIZED_CLIENT, "The security token included in the request is invalid.");
    else if (res == SIGV4_CLOCK_SKEW)
        http_auth_reject(r, why, AWS_INVALID_SIGNATURE,
                         "Signature expired or not yet valid: the request time is too far from the server's.");
    else
        http_auth_reject(r, why, AWS_INVALID_SIGNATURE,
                         "The request signature we calculated does not match the signature you provided. "
                         "Check your AWS Secret Access Key and signing method.");
}

bool http_auth_sigv4(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct header_list l = { .n = 0 };
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &l);
    struct sigv4_request req = { r->method, r->path, r->query, l.h, l.n };
    struct sigv4_config cfg = { api->cfg.region, "bedrock-agentcore", time(NULL), 300, true,
                                lookup_key, api };
    enum sigv4_result res = sigv4_begin(&req, &cfg, &r->sig);
    if (res == SIGV4_OK) {
        r->auth = "sigv4";
        r->principal = sigv4_principal(r->sig);
        return true;
    }
    /* log the reason (never a secret); answer without detail */
    if (res == SIGV4_NO_AUTH)
        http_auth_reject(r, sigv4_result_name(res), AWS_UNAUTHORIZED, "missing authentication");
    else
        reject_signature(r, res);
    return false;
}

/* The bearer token: Authorization: Bearer, or (a WebSocket from a browser) the one
 * ws_check_request took from Sec-WebSocket-Protocol. */
static const char *bearer_token(struct MHD_Connection *c, const struct request *r)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if ((!a || strncasecmp(a, "Bearer ", 7) != 0) && r->ws_bearer)
        return r->ws_bearer;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    return a + 7 + strspn(a + 7, " ");
}

static const char **json_strings(json_object *list, size_t *count)
{
    *count = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    if (!*count)
        return NULL;
    const char **out = calloc(*count, sizeof *out);
    if (!out)
        abort();
    for (size_t i = 0; i < *count; i++)
        out[i] = json_object_get_string(json_object_array_get_idx(list, i));
    return out;
}

/* Verifies token against a runtime's customJWTAuthorizer (jwt_cfg); on JWT_OK writes the user
 * identity "iss|sub" ("iss|client_id" without sub) into user_id. */
static enum jwt_result verify_jwt_user(struct jwt_keystore *keys, json_object *jwt_cfg, const char *token,
                                       char *user_id, size_t user_id_len)
{
    json_object *v;
    if (!keys || !json_object_object_get_ex(jwt_cfg, "discoveryUrl", &v))
        return JWT_DISCOVERY_FAILED;
    struct jwt_policy policy = { .discovery_url = json_object_get_string(v), .leeway_seconds = 60 };
    const char **aud = NULL, **clients = NULL, **scopes = NULL;
    if (json_object_object_get_ex(jwt_cfg, "allowedAudience", &v))
        policy.allowed_audience = aud = json_strings(v, &policy.allowed_audience_count);
    if (json_object_object_get_ex(jwt_cfg, "allowedClients", &v))
        policy.allowed_clients = clients = json_strings(v, &policy.allowed_clients_count);
    if (json_object_object_get_ex(jwt_cfg, "allowedScopes", &v))
        policy.allowed_scopes = scopes = json_strings(v, &policy.allowed_scopes_count);
    if (json_object_object_get_ex(jwt_cfg, "customClaims", &v))
        policy.custom_claims = v;
    struct jwt_identity id = { 0 };
    enum jwt_result res = jwt_verify(keys, &policy, token, time(NULL), &id);
    free(aud);
    free(clients);
    free(scopes);
    if (res == JWT_OK) {
        const char *sub = id.subject ? id.subject : id.client_id;
        int n = sub ? snprintf(user_id, user_id_len, "%s|%s", id.issuer, sub) : -1;
        if (n <= 0 || (size_t)n >= user_id_len || !agent_header_value_ok(user_id, USER_ID_MAX))
            res = JWT_MALFORMED;
    }
    jwt_identity_free(&id);
    return res;
}

/* Verifies the bearer token against the runtime's customJWTAuthorizer; on success writes the
 * user identity (iss|sub) into user_id. */
static bool authenticate_jwt(struct http_api *api, struct MHD_Connection *c, struct request *r,
                             json_object *jwt_cfg, char *user_id, size_t user_id_len)
{
    const char *token = bearer_token(c, r);
    if (!token || !*token) {
        http_auth_reject(r, "jwt missing token", AWS_UNAUTHORIZED, "missing bearer token");
        return false;
    }
    enum jwt_result res = verify_jwt_user(api->cfg.jwt_keys, jwt_cfg, token, user_id, user_id_len);
    if (res == JWT_OK) {
        r->auth = "jwt";
        return true;
    }
    /* the reason goes to the log only; the caller learns nothing that helps */
    char why[96];
    snprintf(why, sizeof why, "jwt %s", jwt_result_name(res));
    if (res == JWT_DISCOVERY_FAILED)
        http_auth_reject(r, why, AWS_INTERNAL, "the identity provider could not be reached");
    else if (res == JWT_BAD_AUDIENCE || res == JWT_BAD_CLIENT || res == JWT_BAD_SCOPE ||
             res == JWT_BAD_CLAIM)
        http_auth_reject(r, why, AWS_ACCESS_DENIED, "the bearer token is not allowed to invoke this agent runtime");
    else
        http_auth_reject(r, why, AWS_UNAUTHORIZED, "the bearer token is not valid");
    return false;
}

bool http_verify_user_jwt(void *ctx, const char *workload, const char *token, char *user_id, size_t user_id_len,
                          char *why, size_t why_len)
{
    struct http_api *api = ctx;
    struct resolved_runtime rr;
    char msg[256];
    if (control_plane_resolve(api->cfg.cp, workload, NULL, &rr, msg, sizeof msg)) {
        snprintf(why, why_len, "workload %s is not an agent runtime's", workload);
        return false;
    }
    json_object *cfg = json_tokener_parse(rr.config_json), *ac = NULL, *jwt = NULL;
    free(rr.config_json);
    if (cfg && json_object_object_get_ex(cfg, "authorizerConfiguration", &ac))
        json_object_object_get_ex(ac, "customJWTAuthorizer", &jwt);
    enum jwt_result res = jwt ? verify_jwt_user(api->cfg.jwt_keys, jwt, token, user_id, user_id_len) : JWT_MALFORMED;
    if (!jwt)
        snprintf(why, why_len, "the agent runtime %s has no JWT authorizer", workload);
    else if (res != JWT_OK)
        snprintf(why, why_len, "the user token is not valid for %s (%s)", workload, jwt_result_name(res));
    json_object_put(cfg);
    return res == JWT_OK;
}

bool http_caller_verified(const struct request *r)
{
    return r->auth && !r->auth_rejected && (strcmp(r->auth, "jwt") == 0 || sigv4_signature_verified(r->sig));
}

bool http_auth_head(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    if (bearer_token(c, r)) {
        /* a bearer token: data plane only, checked against the runtime's JWT authorizer; the
         * body is not signed, so the invocation may start at once and the body stream */
        r->bearer = true;
        if (r->kind == REQ_CONTROL || r->kind == REQ_IDENTITY || r->kind == REQ_IMAGE_UPLOAD) {
            http_auth_reject(r, "bearer token on a SigV4-only operation", AWS_ACCESS_DENIED,
                             "this operation accepts SigV4 only");
            return false;
        }
        return true;
    }
    if (!http_auth_sigv4(api, c, r))
        return false;
    bool agent = role_creds_is_role_principal(r->principal);
    if (agent && (r->kind == REQ_CONTROL || r->kind == REQ_IMAGE_UPLOAD ||
                  (r->kind == REQ_IDENTITY && !identity_agent_may_call(r->path)))) {
        /* credentials vended to an agent for its execution role: the data plane only, and of
         * Identity only what the workload access token it holds bounds */
        http_auth_reject(r, "role credentials on the control plane", AWS_ACCESS_DENIED,
                         "credentials vended to an agent runtime may not call this operation");
        return false;
    }
    return true;
}

void http_auth_finish(struct request *r)
{
    if (r->failed || !r->sig || !sigv4_body_pending(r->sig))
        return;
    enum sigv4_result res = sigv4_finish(r->sig);
    if (res != SIGV4_OK)
        reject_signature(r, res);
}

bool http_auth_runtime(struct http_api *api, struct MHD_Connection *c, struct request *r, json_object *cfg,
                       char *user_id, size_t user_id_len, bool *is_jwt)
{
    json_object *ac = NULL, *jwt = NULL;
    user_id[0] = '\0';
    /* a runtime uses SigV4 or JWT, never both, never neither */
    if (json_object_object_get_ex(cfg, "authorizerConfiguration", &ac))
        json_object_object_get_ex(ac, "customJWTAuthorizer", &jwt);
    *is_jwt = jwt != NULL;
    if ((jwt != NULL) != r->bearer) {
        http_auth_reject(r, jwt ? "sigv4 on a jwt runtime" : "bearer token on a sigv4 runtime", AWS_ACCESS_DENIED,
                         "Authorization method mismatch: the agent runtime is configured for "
                         "a different authorization method than the request used");
        return false;
    }
    if (jwt)
        return authenticate_jwt(api, c, r, jwt, user_id, user_id_len);
    const char *uid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, USER_ID_HEADER);
    if (uid && (!*uid || !agent_header_value_ok(uid, USER_ID_MAX))) {
        http_fail(r, AWS_VALIDATION, "runtimeUserId must be 1 to 1024 printable characters");
        return false;
    }
    if (uid)
        snprintf(user_id, user_id_len, "%s", uid);
    return true;
}
