/* frontend/identity_tokens.c — AgentCore Identity's data plane (identity_internal.h):
 * workload access tokens (GetWorkloadAccessToken, …ForJWT, …ForUserId), resource tokens
 * (GetResourceOauth2Token: M2M cached until expiry; USER_FEDERATION with PKCE, session binding
 * and refresh), API keys (GetResourceApiKey), CompleteResourceTokenAuth, and the browser's
 * return from the provider (identity_callback). Everything a resource operation reveals is
 * keyed on exactly the (workload, user kind, user id) sealed in the workload access token. */
#include "frontend/identity_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "frontend/aws_error.h"
#include "frontend/oauth2_callback.h"
#include "frontend/oauth2_client.h"
#include "frontend/strbuf.h"

#define MAX_URL_FORM 2048
#define MAX_SCOPES 100
#define MAX_SCOPE 128
#define EXPIRY_MARGIN_S 60
#define SESSION_URI_PREFIX "urn:ietf:params:oauth:request_uri:"

/* s percent-encoded for a URL query (libcurl's escaping), malloc'd. */
static char *curl_escape_copy(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    if (!out)
        abort();
    return out;
}

/* ---------------------------------------------------------------- workload access tokens */

static void answer_wat(struct idn_call *call, const char *workload, enum wat_user_kind kind, const char *user)
{
    struct identity *id = call->id;
    json_object *row = NULL;
    idn_lock(id);
    enum idstore_rc rc = idstore_workload_get(id->db, workload, &row);
    idn_unlock(id);
    json_object_put(row);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "workload identity", NULL);
        return;
    }
    char token[WAT_MAX_TOKEN + 1];
    if (!identity_mint_wat(id, workload, kind, user, token, sizeof token)) {
        idn_error(call, AWS_VALIDATION, "the workload name or user id cannot be put in a token");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "workloadAccessToken", json_object_new_string(token));
    idn_answer(call, o);
}

void idn_get_wat(struct idn_call *call)
{
    const char *workload;
    if (idn_string(call, "workloadName", true, WAT_MAX_WORKLOAD, &workload))
        answer_wat(call, workload, WAT_USER_NONE, NULL);
}

void idn_get_wat_for_user(struct idn_call *call)
{
    const char *workload, *user;
    if (idn_string(call, "workloadName", true, WAT_MAX_WORKLOAD, &workload) &&
        idn_string(call, "userId", true, WAT_MAX_USER_ID, &user))
        answer_wat(call, workload, WAT_USER_ID, user);
}

/* A user's JWT → "iss|sub" through the runtime's authorizer (silod's verify_user_jwt). */
static bool jwt_user(struct idn_call *call, const char *workload, const char *token, char *user, size_t len)
{
    char why[256] = "no JWT verifier is configured";
    if (call->id->cfg.verify_user_jwt &&
        call->id->cfg.verify_user_jwt(call->id->cfg.jwt_ctx, workload, token, user, len, why, sizeof why))
        return true;
    idn_error(call, AWS_ACCESS_DENIED, "the user token was refused: %s", why);
    return false;
}

void idn_get_wat_for_jwt(struct idn_call *call)
{
    const char *workload, *token;
    char user[WAT_MAX_USER_ID + 2];
    if (idn_string(call, "workloadName", true, WAT_MAX_WORKLOAD, &workload) &&
        idn_string(call, "userToken", true, 131072, &token) && jwt_user(call, workload, token, user, sizeof user))
        answer_wat(call, workload, WAT_USER_JWT, user);
}

/* ---------------------------------------------------------------- API keys */

void idn_get_api_key(struct idn_call *call)
{
    struct wat_claims claims;
    const char *provider;
    if (!idn_open_workload_token(call, &claims) ||
        !idn_string(call, "resourceCredentialProviderName", true, 255, &provider))
        return;
    char *key = NULL;
    size_t len = 0;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_apikey_key(call->id->db, call->id->vault, provider, &key, &len);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "API key credential provider", NULL);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "apiKey", json_object_new_string_len(key, (int)len));
    vault_secret_free(key, len);
    idn_answer(call, o);
}

/* ---------------------------------------------------------------- OAuth2 resource tokens */

/* What GetResourceOauth2Token needs of a provider, endpoints discovered when missing. */
struct provider {
    char *name, *client_id, *auth_method, *authorization_endpoint, *token_endpoint;
    char *secret;
    size_t secret_len;
};

static void provider_free(struct provider *p)
{
    free(p->name);
    free(p->client_id);
    free(p->auth_method);
    free(p->authorization_endpoint);
    free(p->token_endpoint);
    vault_secret_free(p->secret, p->secret_len);
    memset(p, 0, sizeof *p);
}

static char *dup_member(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return strdup(json_object_get_string(v));
}

/* Loads the provider and its secret; discovers its endpoints (without the lock) the first time
 * they are needed. False with the answer set. */
static bool provider_load(struct idn_call *call, const char *name, bool need_authorization, struct provider *p)
{
    struct identity *id = call->id;
    json_object *row = NULL;
    memset(p, 0, sizeof *p);
    idn_lock(id);
    enum idstore_rc rc = idstore_oauth2_get(id->db, name, &row);
    if (rc == ID_OK)
        rc = idstore_oauth2_client_secret(id->db, id->vault, name, &p->secret, &p->secret_len);
    idn_unlock(id);
    if (rc != ID_OK) {
        json_object_put(row);
        idn_store_error(call, rc, "OAuth2 credential provider", NULL);
        return false;
    }
    p->name = strdup(name);
    p->client_id = dup_member(row, "clientId");
    p->auth_method = dup_member(row, "clientAuthenticationMethod");
    p->authorization_endpoint = dup_member(row, "authorizationEndpoint");
    p->token_endpoint = dup_member(row, "tokenEndpoint");
    char *discovery = dup_member(row, "discoveryUrl"), *issuer = dup_member(row, "issuer");
    json_object_put(row);
    bool ok = true;
    if (!p->token_endpoint || (need_authorization && !p->authorization_endpoint)) {
        struct oauth2_metadata m = { 0 };
        char err[256] = "";
        enum oauth2_status st = discovery ? oauth2_discover(&id->cfg.oauth2, discovery, &m, err, sizeof err)
                              : issuer    ? oauth2_discover_issuer(&id->cfg.oauth2, issuer, &m, err, sizeof err)
                                          : OAUTH2_INVALID_ARGUMENT;
        if (st == OAUTH2_OK) {
            free(p->token_endpoint);
            free(p->authorization_endpoint);
            p->token_endpoint = m.token_endpoint ? strdup(m.token_endpoint) : NULL;
            p->authorization_endpoint = m.authorization_endpoint ? strdup(m.authorization_endpoint) : NULL;
            idn_lock(id);
            idstore_oauth2_set_endpoints(id->db, name, m.issuer, m.authorization_endpoint, m.token_endpoint,
                                         idn_now_ms(id));
            idn_unlock(id);
        } else {
            idn_error(call, AWS_INTERNAL, "the provider's metadata could not be discovered: %s %s",
                      oauth2_status_text(st), err);
            ok = false;
        }
        oauth2_metadata_free(&m);
    }
    free(discovery);
    free(issuer);
    if (ok && (!p->token_endpoint || (need_authorization && !p->authorization_endpoint))) {
        idn_error(call, AWS_VALIDATION, "the provider has no %s endpoint", p->token_endpoint ? "authorization" : "token");
        ok = false;
    }
    if (!ok)
        provider_free(p);
    return ok;
}

static struct oauth2_client client_of(const struct provider *p)
{
    struct oauth2_client c = { p->token_endpoint, p->client_id, p->secret, OAUTH2_AUTH_CLIENT_SECRET_BASIC };
    if (p->auth_method)
        oauth2_client_auth_parse(p->auth_method, &c.auth);
    return c;
}

/* The request's scopes as one space-joined string (each printable, no spaces). */
static char *scopes_joined(struct idn_call *call)
{
    json_object *list;
    if (!idn_string_array(call, "scopes", MAX_SCOPES, MAX_SCOPE, &list))
        return NULL;
    if (!list) {
        idn_error(call, AWS_VALIDATION, "scopes is required");
        return NULL;
    }
    size_t n = json_object_array_length(list), len = 1;
    for (size_t i = 0; i < n; i++)
        len += (size_t)json_object_get_string_len(json_object_array_get_idx(list, i)) + 1;
    char *out = calloc(1, len);
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(list, i));
        for (const char *c = s; *c; c++)
            if (*c <= ' ' || *c > '~' || *c == '"' || *c == '\\') {
                free(out);
                idn_error(call, AWS_VALIDATION, "scopes must be printable ASCII without spaces or quotes");
                return NULL;
            }
        if (i)
            strcat(out, " ");
        strcat(out, s);
    }
    return out;
}

/* k=v&… of a string list member (audiences → audience=, resources → resource=), url-encoded. */
static bool append_form_list(struct idn_call *call, const char *member, const char *key, struct strbuf *form)
{
    json_object *list;
    if (!idn_string_array(call, member, 20, MAX_URL_FORM, &list))
        return false;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        char *v = curl_escape_copy(json_object_get_string(json_object_array_get_idx(list, i)));
        strbuf_printf(form, "%s%s=%s", form->len ? "&" : "", key, v);
        free(v);
    }
    return true;
}

static void answer_access_token(struct idn_call *call, const char *token)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "accessToken", json_object_new_string(token));
    idn_answer(call, o);
}

/* Stores a token fetched for (workload, user, provider, scopes). */
static void keep_token(struct idn_call *call, const struct wat_claims *who, enum wat_user_kind kind, const char *provider,
                       const char *scopes, const struct oauth2_token *t, const char *old_refresh)
{
    struct identity *id = call->id;
    int64_t expires = t->expires_in > 0 ? idn_now_s(id) + t->expires_in : 0;
    idn_lock(id);
    idstore_token_put(id->db, id->vault, who->workload, kind, kind == WAT_USER_NONE ? "" : who->user_id, provider, scopes,
                      t->access_token, t->refresh_token ? t->refresh_token : old_refresh, expires, idn_now_ms(id));
    idn_unlock(id);
}

static bool token_fresh(struct identity *id, const struct idstore_token *t)
{
    return t->access_token && (t->expires_at == 0 || t->expires_at > idn_now_s(id) + EXPIRY_MARGIN_S);
}

/* M2M: the workload's own token (client credentials), cached until shortly before expiry. */
static void m2m_token(struct idn_call *call, const struct wat_claims *who, const char *provider, const char *scopes)
{
    struct identity *id = call->id;
    struct idstore_token cached = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_token_get(id->db, id->vault, who->workload, WAT_USER_NONE, "", provider, scopes, &cached);
    idn_unlock(id);
    if (rc == ID_OK && token_fresh(id, &cached)) {
        answer_access_token(call, cached.access_token);
        idstore_token_free(&cached);
        return;
    }
    idstore_token_free(&cached);
    struct strbuf form = { 0 };
    if (!append_form_list(call, "audiences", "audience", &form) || !append_form_list(call, "resources", "resource", &form)) {
        strbuf_free(&form);
        return;
    }
    struct provider p;
    if (!provider_load(call, provider, false, &p)) {
        strbuf_free(&form);
        return;
    }
    struct oauth2_client c = client_of(&p);
    struct oauth2_token t = { 0 };
    char err[256] = "";
    enum oauth2_status st = oauth2_client_credentials(&id->cfg.oauth2, &c, *scopes ? scopes : NULL,
                                                      form.len ? form.data : NULL, &t, err, sizeof err);
    strbuf_free(&form);
    provider_free(&p);
    if (st != OAUTH2_OK) {
        idn_error(call, AWS_ACCESS_DENIED, "the provider refused the client credentials grant: %s %s",
                  oauth2_status_text(st), err);
        return;
    }
    keep_token(call, who, WAT_USER_NONE, provider, scopes, &t, NULL);
    answer_access_token(call, t.access_token);
    oauth2_token_free(&t);
}

/* A stored user token: fresh → answered; expired with a refresh token → refreshed, stored and
 * answered. True when answered. */
static bool stored_user_token(struct idn_call *call, const struct wat_claims *who, const char *provider,
                              const char *scopes)
{
    struct identity *id = call->id;
    struct idstore_token t = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_token_get(id->db, id->vault, who->workload, who->user_kind, who->user_id, provider,
                                           scopes, &t);
    idn_unlock(id);
    bool answered = false;
    if (rc == ID_OK && token_fresh(id, &t)) {
        answer_access_token(call, t.access_token);
        answered = true;
    } else if (rc == ID_OK && t.refresh_token) {
        struct provider p;
        if (provider_load(call, provider, false, &p)) {
            struct oauth2_client c = client_of(&p);
            struct oauth2_token fresh = { 0 };
            char err[256];
            if (oauth2_refresh(&id->cfg.oauth2, &c, t.refresh_token, NULL, &fresh, err, sizeof err) == OAUTH2_OK) {
                keep_token(call, who, who->user_kind, provider, scopes, &fresh, t.refresh_token);
                answer_access_token(call, fresh.access_token);
                answered = true;
            }
            oauth2_token_free(&fresh);
            provider_free(&p);
        } else {
            free(call->out->body);   /* the provider cannot refresh: start over below */
            memset(call->out, 0, sizeof *call->out);
        }
    }
    idstore_token_free(&t);
    return answered;
}

static void answer_session(struct idn_call *call, const char *session_uri, const char *status, const char *url)
{
    json_object *o = json_object_new_object();
    if (url)
        json_object_object_add(o, "authorizationUrl", json_object_new_string(url));
    json_object_object_add(o, "sessionUri", json_object_new_string(session_uri));
    json_object_object_add(o, "sessionStatus", json_object_new_string(status));
    idn_answer(call, o);
}

/* Polling with sessionUri: only the workload and user that started the session see it. */
static void poll_session(struct idn_call *call, const struct wat_claims *who, const char *session_uri)
{
    struct identity *id = call->id;
    struct idstore_session s = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_session_get(id->db, session_uri, &s);
    idn_unlock(id);
    if (rc != ID_OK) {
        idstore_session_free(&s);
        idn_store_error(call, rc, "session", NULL);
        return;
    }
    bool mine = strcmp(s.workload, who->workload) == 0 && s.user_kind == who->user_kind &&
                strcmp(s.user_id ? s.user_id : "", who->user_id) == 0;
    if (!mine) {
        idn_error(call, AWS_ACCESS_DENIED, "the session was started by another workload or user");
    } else if (s.status == IDSESS_COMPLETED) {
        if (!stored_user_token(call, who, s.provider, s.scopes))
            idn_error(call, AWS_NOT_FOUND, "the session's token is no longer stored");
    } else {
        answer_session(call, session_uri, s.status == IDSESS_FAILED ? "FAILED" : "IN_PROGRESS", NULL);
    }
    idstore_session_free(&s);
}

/* customParameters → extra form for the authorization URL. */
static bool custom_parameters(struct idn_call *call, struct strbuf *form)
{
    json_object *m;
    if (!json_object_object_get_ex(call->req, "customParameters", &m) || json_object_is_type(m, json_type_null))
        return true;
    if (!json_object_is_type(m, json_type_object) || json_object_object_length(m) > 10) {
        idn_error(call, AWS_VALIDATION, "customParameters must be a map of at most 10 strings");
        return false;
    }
    json_object_object_foreach(m, k, v) {
        static const char *const reserved[] = { "response_type", "client_id", "redirect_uri", "scope", "state",
                                                "code_challenge", "code_challenge_method" };
        for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
            if (strcmp(k, reserved[i]) == 0) {
                idn_error(call, AWS_VALIDATION, "customParameters may not set %s", k);
                return false;
            }
        if (!*k || strlen(k) > 256 || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 2048) {
            idn_error(call, AWS_VALIDATION, "customParameters must map names to strings of at most 2048 characters");
            return false;
        }
        char *ek = curl_escape_copy(k), *ev = curl_escape_copy(json_object_get_string(v));
        strbuf_printf(form, "%s%s=%s", form->len ? "&" : "", ek, ev);
        free(ek);
        free(ev);
    }
    return true;
}

/* A new 3LO flow: session (state hashed, PKCE verifier in the vault) and authorization URL. */
static void start_flow(struct idn_call *call, const struct wat_claims *who, const char *provider, const char *scopes)
{
    struct identity *id = call->id;
    const char *return_url, *custom_state;
    if (!idn_string(call, "resourceOauth2ReturnUrl", false, MAX_URL_FORM, &return_url) ||
        !idn_string(call, "customState", false, 4096, &custom_state))
        return;
    if (!return_url) {
        idn_error(call, AWS_VALIDATION, "resourceOauth2ReturnUrl is required to start a user federation flow");
        return;
    }
    idn_lock(id);
    bool allowed = idstore_workload_allows_return_url(id->db, who->workload, return_url);
    idn_unlock(id);
    if (!allowed) {
        idn_error(call, AWS_VALIDATION, "resourceOauth2ReturnUrl is not one of the workload identity's "
                                        "allowedResourceOauth2ReturnUrls");
        return;
    }
    struct strbuf extra = { 0 };
    struct provider p;
    if (!custom_parameters(call, &extra) || !provider_load(call, provider, true, &p)) {
        strbuf_free(&extra);
        return;
    }
    char state[OAUTH2_PKCE_LEN + 1], verifier[OAUTH2_PKCE_LEN + 1], challenge[OAUTH2_PKCE_LEN + 1];
    char *session_uri = NULL, *url = NULL;
    if (!oauth2_random_state(state) || !oauth2_pkce_new(verifier, challenge)) {
        idn_error(call, AWS_INTERNAL, "no randomness");
    } else {
        int64_t now = idn_now_s(id);
        struct idstore_session s = {
            .workload = (char *)who->workload, .user_id = (char *)who->user_id, .provider = (char *)provider,
            .scopes = (char *)scopes, .return_url = (char *)return_url, .custom_state = (char *)custom_state,
            .user_kind = who->user_kind, .status = IDSESS_IN_PROGRESS, .created_at = now,
            .expires_at = now + IDENTITY_SESSION_TTL_S,
        };
        idn_lock(id);
        enum idstore_rc rc = idstore_session_create(id->db, id->vault, &s, state, verifier, &session_uri, idn_now_ms(id));
        idn_unlock(id);
        url = rc == ID_OK ? oauth2_authorization_url(p.authorization_endpoint, p.client_id, id->callback_url,
                                                     *scopes ? scopes : NULL, state, challenge,
                                                     extra.len ? extra.data : NULL)
                          : NULL;
        if (rc != ID_OK)
            idn_store_error(call, rc, "session", NULL);
        else if (!url)
            idn_error(call, AWS_VALIDATION, "the provider's authorization endpoint is not a usable URL");
        else
            answer_session(call, session_uri, "IN_PROGRESS", url);
    }
    OPENSSL_cleanse(verifier, sizeof verifier);
    OPENSSL_cleanse(state, sizeof state);
    free(session_uri);
    free(url);
    strbuf_free(&extra);
    provider_free(&p);
}

void idn_get_oauth2_token(struct idn_call *call)
{
    struct wat_claims who;
    const char *provider, *flow, *session_uri;
    bool force;
    if (!idn_open_workload_token(call, &who) ||
        !idn_string(call, "resourceCredentialProviderName", true, 255, &provider) ||
        !idn_string(call, "oauth2Flow", true, 64, &flow) || !idn_string(call, "sessionUri", false, 1024, &session_uri) ||
        !idn_bool(call, "forceAuthentication", &force))
        return;
    if (session_uri && (strncmp(session_uri, SESSION_URI_PREFIX, strlen(SESSION_URI_PREFIX)) != 0 ||
                        strspn(session_uri + strlen(SESSION_URI_PREFIX),
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") !=
                            strlen(session_uri + strlen(SESSION_URI_PREFIX)))) {
        idn_error(call, AWS_VALIDATION, "sessionUri must match urn:ietf:params:oauth:request_uri:[a-zA-Z0-9-._~]+");
        return;
    }
    char *joined = scopes_joined(call);
    if (!joined)
        return;
    char *scopes = idstore_normalize_scopes(joined);
    free(joined);
    if (!scopes)
        abort();
    if (strcmp(flow, "M2M") == 0) {
        m2m_token(call, &who, provider, scopes);
    } else if (strcmp(flow, "USER_FEDERATION") != 0) {
        idn_error(call, AWS_VALIDATION, "oauth2Flow %.64s is not supported (M2M and USER_FEDERATION are)", flow);
    } else if (who.user_kind == WAT_USER_NONE) {
        idn_error(call, AWS_VALIDATION, "USER_FEDERATION needs a workload access token for a user "
                                        "(GetWorkloadAccessTokenForJWT or ForUserId)");
    } else if (session_uri && !force) {
        poll_session(call, &who, session_uri);
    } else if (force || !stored_user_token(call, &who, provider, scopes)) {
        start_flow(call, &who, provider, scopes);
    }
    free(scopes);
}

/* ---------------------------------------------------------------- completing a 3LO flow */

void idn_complete_token_auth(struct idn_call *call)
{
    struct identity *id = call->id;
    const char *session_uri;
    json_object *ui;
    if (!idn_string(call, "sessionUri", true, 1024, &session_uri))
        return;
    if (!json_object_object_get_ex(call->req, "userIdentifier", &ui) || !json_object_is_type(ui, json_type_object) ||
        json_object_object_length(ui) != 1) {
        idn_error(call, AWS_VALIDATION, "userIdentifier must hold exactly one of userToken and userId");
        return;
    }
    json_object *token = NULL, *uid = NULL;
    json_object_object_get_ex(ui, "userToken", &token);
    json_object_object_get_ex(ui, "userId", &uid);
    json_object *given = token ? token : uid;
    size_t len = given && json_object_is_type(given, json_type_string) ? (size_t)json_object_get_string_len(given) : 0;
    if (!given || len == 0 || len > (token ? 131072u : (size_t)WAT_MAX_USER_ID)) {
        idn_error(call, AWS_VALIDATION, "userIdentifier must hold exactly one of userToken and userId, a string");
        return;
    }
    struct idstore_session s = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_session_get(id->db, session_uri, &s);
    idn_unlock(id);
    char user[WAT_MAX_USER_ID + 2];
    enum wat_user_kind kind = token ? WAT_USER_JWT : WAT_USER_ID;
    if (rc != ID_OK) {
        idn_store_error(call, rc, "session", NULL);
    } else if (token && !jwt_user(call, s.workload, json_object_get_string(token), user, sizeof user)) {
        ;   /* answered */
    } else {
        if (!token)
            snprintf(user, sizeof user, "%s", json_object_get_string(uid));
        idn_lock(id);
        rc = idstore_session_complete(id->db, id->vault, session_uri, kind, user, idn_now_s(id), idn_now_ms(id));
        idn_unlock(id);
        if (rc == ID_FORBIDDEN)
            idn_error(call, AWS_ACCESS_DENIED, "the session was started by another user");
        else if (rc == ID_INVALID)
            idn_error(call, AWS_VALIDATION, "the session is not waiting for completion (no consent yet, or done)");
        else if (rc != ID_OK)
            idn_store_error(call, rc, "session", NULL);
        else
            idn_answer(call, NULL);
    }
    idstore_session_free(&s);
}

/* ---------------------------------------------------------------- the browser's callback */

static void callback_text(struct identity_redirect *out, unsigned status, const char *text)
{
    out->status = status;
    out->body = strdup(text);
    if (!out->body)
        abort();
}

/* return_url + (? or &) session_id=…[&state=…] */
static char *return_location(const char *return_url, const char *session_uri, const char *custom_state)
{
    struct strbuf b = { 0 };
    char *sid = curl_escape_copy(session_uri);
    strbuf_printf(&b, "%s%ssession_id=%s", return_url, strchr(return_url, '?') ? "&" : "?", sid);
    free(sid);
    if (custom_state && *custom_state) {
        char *cs = curl_escape_copy(custom_state);
        strbuf_printf(&b, "&state=%s", cs);
        free(cs);
    }
    return b.data;
}

void identity_callback(struct identity *id, const char *query, struct identity_redirect *out)
{
    memset(out, 0, sizeof *out);
    struct oauth2_callback *cb = calloc(1, sizeof *cb);
    if (!cb)
        abort();
    enum oauth2_cb_status ps = oauth2_callback_parse(query, strlen(query), cb);
    if (ps != OAUTH2_CB_OK) {
        char msg[160];
        snprintf(msg, sizeof msg, "this is not a valid authorization response (%s)\n", oauth2_cb_status_text(ps));
        callback_text(out, 400, msg);
        free(cb);
        return;
    }
    struct idstore_session s = { 0 };
    char *verifier = NULL;
    size_t verifier_len = 0;
    idn_lock(id);
    enum idstore_rc rc = idstore_session_take_state(id->db, id->vault, cb->state, idn_now_s(id), &s, &verifier,
                                                    &verifier_len);
    idn_unlock(id);
    if (rc == ID_FORBIDDEN) {
        callback_text(out, 403, "this authorization was already used or has expired\n");
    } else if (rc != ID_OK) {
        callback_text(out, rc == ID_NOT_FOUND ? 404 : 500, "no authorization is waiting for this state\n");
    } else if (cb->error[0]) {
        idn_lock(id);
        idstore_session_fail(id->db, s.session_uri);
        idn_unlock(id);
        callback_text(out, 403, "the provider did not grant access; the agent's request fails\n");
    } else {
        struct idn_call call = { .id = id, .out = &(struct control_plane_response){ 0 } };
        struct provider p;
        bool loaded = provider_load(&call, s.provider, false, &p);
        free(call.out->body);
        struct oauth2_token t = { 0 };
        char err[256] = "";
        enum oauth2_status st = OAUTH2_INVALID_ARGUMENT;
        if (loaded) {
            struct oauth2_client c = client_of(&p);
            st = oauth2_exchange_code(&id->cfg.oauth2, &c, cb->code, id->callback_url, verifier, &t, err, sizeof err);
            provider_free(&p);
        }
        idn_lock(id);
        if (st == OAUTH2_OK)
            rc = idstore_session_store_pending(id->db, id->vault, s.session_uri, t.access_token, t.refresh_token,
                                               t.expires_in > 0 ? idn_now_s(id) + t.expires_in : 0, idn_now_ms(id));
        if (st != OAUTH2_OK || rc != ID_OK)
            idstore_session_fail(id->db, s.session_uri);
        idn_unlock(id);
        oauth2_token_free(&t);
        if (st != OAUTH2_OK || rc != ID_OK) {
            fprintf(stderr, "silod: identity: code exchange for provider %s failed: %s %s\n", s.provider,
                    oauth2_status_text(st), err);
            callback_text(out, 502, "the provider's token could not be obtained\n");
        } else {
            out->status = 302;
            out->location = return_location(s.return_url, s.session_uri, s.custom_state);
            callback_text(out, 302, "authorization received; continue in the application\n");
        }
    }
    vault_secret_free(verifier, verifier_len);
    idstore_session_free(&s);
    OPENSSL_cleanse(cb, sizeof *cb);
    free(cb);
}
