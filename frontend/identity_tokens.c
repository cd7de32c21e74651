/* frontend/identity_tokens.c — AgentCore Identity's data plane (identity_internal.h lists the
 * identity files). It owns:
 *   - GetWorkloadAccessToken / …ForJWT / …ForUserId: a sealed workload access token (WAT) for
 *     an existing workload identity and no user / a JWT user ("iss|sub") / a User-Id user;
 *   - GetResourceApiKey and GetResourceOauth2Token (M2M, USER_FEDERATION), which act only for
 *     the (workload, user kind, user id) sealed in the workloadIdentityToken presented: every
 *     stored token and session is looked up by exactly that triple;
 *   - CompleteResourceTokenAuth: the application at the return URL vouching for its user;
 *   - identity_callback(): the user's browser coming back from the provider.
 *
 * GetResourceOauth2Token:
 *   M2M            the workload's own token (client credentials), stored under (workload, no
 *                  user, provider, scopes + audiences + resources) whatever user the WAT names,
 *                  answered from the store while it has more than EXPIRY_MARGIN_S left (a token
 *                  without expires_in is kept M2M_UNKNOWN_LIFETIME_S); forceAuthentication
 *                  skips the store.
 *   USER_FEDERATION  (needs a WAT with a user)
 *                  with sessionUri: that session's state, only for the workload and user that
 *                  started it: {sessionUri, sessionStatus IN_PROGRESS} until
 *                  CompleteResourceTokenAuth, then {accessToken}; {…, FAILED} when the provider
 *                  refused, the exchange failed or the session expired;
 *                  without: the stored token when fresh (expires_at 0 = never expires), else
 *                  refreshed when a refresh token exists, else (and always with
 *                  forceAuthentication) a new session: {authorizationUrl, sessionUri,
 *                  sessionStatus IN_PROGRESS}. The authorization URL carries PKCE S256, a fresh
 *                  state (stored hashed), the scopes, audience=/resource= for audiences[] and
 *                  resources[], and customParameters (which may not set the standard ones).
 *   ON_BEHALF_OF_TOKEN_EXCHANGE  ValidationException (not supported).
 *
 * Error types:
 *   ValidationException   a field's type, length or pattern; USER_FEDERATION without a user or
 *                         without / with a not allow-listed resourceOauth2ReturnUrl; a sessionUri
 *                         of another provider; completing a session that has no token waiting
 *                         (consent not finished, failed, already completed) or has expired; a
 *                         provider URL the policy refuses.
 *   AccessDeniedException the WAT refused (the reason named, never the token); a JWT the
 *                         verifier refuses; a session of another workload or user; the
 *                         provider refusing a grant (its error code and HTTP status named).
 *   ResourceNotFoundException  unknown workload identity, credential provider or session.
 *   InternalServerException    the store, randomness, or the provider unreachable / answering
 *                         garbage.
 *
 * The callback (GET IDENTITY_CALLBACK_PATH?state=…&code=… from any browser; the single-use
 * state is the only credential):
 *   302  Location: <return URL>(?|&)session_id=<sessionUri>[&state=<customState>] after a
 *        successful code exchange (the token waits for CompleteResourceTokenAuth);
 *   302  Location: <return URL>(?|&)session_id=<sessionUri>&error=<the provider's error code>
 *        [&state=…] when the provider sent an error (the session is FAILED), so the application
 *        can tell its user;
 *   400  a malformed query, an unknown state, or an `iss` other than the provider's issuer;
 *   403  a state already used ("this authorization was already used") or expired;
 *   502  the provider refused the code or could not be reached (the session is FAILED);
 *   500  the store failed.
 * Values are percent-encoded into the Location (a fragment of the return URL stays last);
 * bodies are short fixed texts: nothing from the query, no secret.
 *
 * Locking: idn_lock() only around idstore_* calls; discovery, grants, refreshes and code
 * exchanges run unlocked. */
#include "frontend/identity_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/url.h"
#include "frontend/aws_error.h"
#include "frontend/oauth2_callback.h"
#include "frontend/oauth2_client.h"
#include "frontend/strbuf.h"

#define MAX_PROVIDER_NAME 255
#define MAX_USER_TOKEN 131072
#define MAX_FLOW 64
#define MAX_SCOPES 100
#define MAX_SCOPE 128
#define MAX_TARGETS 20             /* audiences[], resources[] */
#define MAX_TARGET 2048
#define MAX_URL 2048
#define MAX_CUSTOM_STATE 4096
#define MAX_CUSTOM_PARAMETERS 10
#define MAX_CUSTOM_KEY 256
#define MAX_CUSTOM_VALUE 2048
#define MAX_SESSION_URI 1024
#define EXPIRY_MARGIN_S 60
#define M2M_UNKNOWN_LIFETIME_S 300
#define SESSION_URI_PREFIX "urn:ietf:params:oauth:request_uri:"
#define UNRESERVED "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

/* ---------------------------------------------------------------- small helpers */

static char *copy_or_abort(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* Wipes and frees a secret string (NULL is fine). */
static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* s percent-encoded (RFC 3986: all but unreserved characters). */
static void put_encoded(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr(UNRESERVED, *s))
            strbuf_putc(b, *s);
        else
            strbuf_printf(b, "%%%02X", (unsigned char)*s);
    }
}

/* Appends key=value (both encoded) to a form, with & between parameters. */
static void put_param(struct strbuf *form, const char *key, const char *value)
{
    if (form->len)
        strbuf_putc(form, '&');
    put_encoded(form, key);
    strbuf_putc(form, '=');
    put_encoded(form, value);
}

static bool session_uri_valid(const char *s)
{
    size_t prefix = strlen(SESSION_URI_PREFIX);
    return strncmp(s, SESSION_URI_PREFIX, prefix) == 0 && s[prefix] &&
           strspn(s + prefix, UNRESERVED) == strlen(s + prefix);
}

/* The sessionUri member, checked against AgentCore's pattern. */
static bool session_uri_field(struct idn_call *call, bool required, const char **out)
{
    if (!idn_string(call, "sessionUri", required, MAX_SESSION_URI, out))
        return false;
    if (*out && !session_uri_valid(*out)) {
        idn_error(call, AWS_VALIDATION, "sessionUri must match urn:ietf:params:oauth:request_uri:[a-zA-Z0-9-._~]+");
        return false;
    }
    return true;
}

static bool has_control_character(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static bool same_user(enum wat_user_kind kind_a, const char *user_a, enum wat_user_kind kind_b, const char *user_b)
{
    return kind_a == kind_b && strcmp(user_a ? user_a : "", user_b ? user_b : "") == 0;
}

/* ---------------------------------------------------------------- failures not yet answered */

/* What went wrong where the answer is not an API answer yet (providers, grants): the API
 * handlers turn it into an error, the callback into a log line. */
struct failure {
    const char *type;
    char message[384];
};

static void __attribute__((format(printf, 3, 4))) fail(struct failure *f, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    f->type = type;
}

static void fail_oauth2(struct failure *f, enum oauth2_status st, const char *what, const char *provider,
                        const char *err)
{
    const char *type = st == OAUTH2_HTTP_ERROR                                  ? AWS_ACCESS_DENIED
                     : st == OAUTH2_URL_REFUSED || st == OAUTH2_INVALID_ARGUMENT ? AWS_VALIDATION
                                                                                 : AWS_INTERNAL;
    fail(f, type, "%s with credential provider %.128s failed: %s%s%s", what, provider, oauth2_status_text(st),
         err && *err ? ": " : "", err ? err : "");
}

static void answer_failure(struct idn_call *call, const struct failure *f)
{
    idn_error(call, f->type, "%s", f->message);
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
        idn_error(call, AWS_VALIDATION, "the workload name or user id cannot be put in a workload access token");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "workloadAccessToken", json_object_new_string(token));
    OPENSSL_cleanse(token, sizeof token);
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
    if (!idn_string(call, "workloadName", true, WAT_MAX_WORKLOAD, &workload) ||
        !idn_string(call, "userId", true, WAT_MAX_USER_ID, &user))
        return;
    if (has_control_character(user)) {
        idn_error(call, AWS_VALIDATION, "userId may not contain control characters");
        return;
    }
    answer_wat(call, workload, WAT_USER_ID, user);
}

/* A user's JWT → "iss|sub" through the workload's runtime authorizer (cfg.verify_user_jwt).
 * False with AccessDeniedException. */
static bool jwt_user(struct idn_call *call, const char *workload, const char *token, char *user, size_t len)
{
    struct identity *id = call->id;
    char why[256] = "no JWT verifier is configured";
    user[0] = 0;
    if (id->cfg.verify_user_jwt &&
        id->cfg.verify_user_jwt(id->cfg.jwt_ctx, workload, token, user, len, why, sizeof why) && user[0])
        return true;
    idn_error(call, AWS_ACCESS_DENIED, "the user token was refused: %s", why);
    return false;
}

void idn_get_wat_for_jwt(struct idn_call *call)
{
    const char *workload, *token;
    char user[WAT_MAX_USER_ID + 2];
    if (idn_string(call, "workloadName", true, WAT_MAX_WORKLOAD, &workload) &&
        idn_string(call, "userToken", true, MAX_USER_TOKEN, &token) &&
        jwt_user(call, workload, token, user, sizeof user))
        answer_wat(call, workload, WAT_USER_JWT, user);
}

/* ---------------------------------------------------------------- API keys */

void idn_get_api_key(struct idn_call *call)
{
    struct identity *id = call->id;
    struct wat_claims who;
    const char *provider;
    if (!idn_open_workload_token(call, &who) ||
        !idn_string(call, "resourceCredentialProviderName", true, MAX_PROVIDER_NAME, &provider))
        return;
    char *key = NULL;
    size_t len = 0;
    idn_lock(id);
    enum idstore_rc rc = idstore_apikey_key(id->db, id->vault, provider, &key, &len);
    idn_unlock(id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "API key credential provider", NULL);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "apiKey", json_object_new_string_len(key, (int)len));
    vault_secret_free(key, len);
    idn_answer(call, o);
}

/* ---------------------------------------------------------------- OAuth2 credential providers */

/* What a grant needs of a provider (endpoints discovered when the row lacks them). */
struct provider {
    char *name, *client_id, *auth_method, *issuer, *authorization_endpoint, *token_endpoint;
    char *secret;
    size_t secret_len;
};

static void provider_free(struct provider *p)
{
    free(p->name);
    free(p->client_id);
    free(p->auth_method);
    free(p->issuer);
    free(p->authorization_endpoint);
    free(p->token_endpoint);
    vault_secret_free(p->secret, p->secret_len);
    memset(p, 0, sizeof *p);
}

static char *member_copy(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return copy_or_abort(json_object_get_string(v));
}

/* The provider's row and client secret; *discovery the discovery URL (or NULL). */
static bool provider_read(struct identity *id, const char *name, struct provider *p, char **discovery,
                          struct failure *f)
{
    json_object *row = NULL;
    idn_lock(id);
    enum idstore_rc rc = idstore_oauth2_get(id->db, name, &row);
    if (rc == ID_OK)
        rc = idstore_oauth2_client_secret(id->db, id->vault, name, &p->secret, &p->secret_len);
    idn_unlock(id);
    if (rc != ID_OK) {
        json_object_put(row);
        if (rc == ID_NOT_FOUND)
            fail(f, AWS_NOT_FOUND, "OAuth2 credential provider %.128s not found", name);
        else
            fail(f, AWS_INTERNAL, "OAuth2 credential provider %.128s could not be read", name);
        return false;
    }
    p->name = copy_or_abort(name);
    p->client_id = member_copy(row, "clientId");
    p->auth_method = member_copy(row, "clientAuthenticationMethod");
    p->issuer = member_copy(row, "issuer");
    p->authorization_endpoint = member_copy(row, "authorizationEndpoint");
    p->token_endpoint = member_copy(row, "tokenEndpoint");
    *discovery = member_copy(row, "discoveryUrl");
    json_object_put(row);
    return true;
}

/* Fetches the provider's metadata (unlocked) and keeps the endpoints in its row. */
static bool provider_discover(struct identity *id, struct provider *p, const char *discovery, struct failure *f)
{
    if (!discovery && !p->issuer) {
        fail(f, AWS_VALIDATION, "credential provider %.128s has no endpoints and nothing to discover them from",
             p->name);
        return false;
    }
    struct oauth2_metadata m = { 0 };
    char err[256] = "";
    enum oauth2_status st = discovery ? oauth2_discover(&id->cfg.oauth2, discovery, &m, err, sizeof err)
                                      : oauth2_discover_issuer(&id->cfg.oauth2, p->issuer, &m, err, sizeof err);
    if (st != OAUTH2_OK) {
        fail_oauth2(f, st, "discovery", p->name, err);
        oauth2_metadata_free(&m);
        return false;
    }
    idn_lock(id);
    idstore_oauth2_set_endpoints(id->db, p->name, m.issuer, m.authorization_endpoint, m.token_endpoint, idn_now_ms(id));
    idn_unlock(id);
    free(p->issuer);
    free(p->authorization_endpoint);
    free(p->token_endpoint);
    p->issuer = m.issuer ? copy_or_abort(m.issuer) : NULL;
    p->authorization_endpoint = m.authorization_endpoint ? copy_or_abort(m.authorization_endpoint) : NULL;
    p->token_endpoint = m.token_endpoint ? copy_or_abort(m.token_endpoint) : NULL;
    oauth2_metadata_free(&m);
    return true;
}

static bool provider_complete(const struct provider *p, bool need_authorization)
{
    return p->client_id && p->token_endpoint && (!need_authorization || p->authorization_endpoint);
}

/* The provider ready for a grant (and, with need_authorization, for an authorization URL). */
static bool provider_load(struct identity *id, const char *name, bool need_authorization, struct provider *p,
                          struct failure *f)
{
    memset(p, 0, sizeof *p);
    char *discovery = NULL;
    bool ok = provider_read(id, name, p, &discovery, f);
    if (ok && !provider_complete(p, need_authorization))
        ok = provider_discover(id, p, discovery, f);
    free(discovery);
    if (ok && !provider_complete(p, need_authorization)) {
        fail(f, AWS_VALIDATION, "credential provider %.128s has no %s endpoint", name,
             p->token_endpoint ? "authorization" : "token");
        ok = false;
    }
    if (!ok)
        provider_free(p);
    return ok;
}

static struct oauth2_client client_of(const struct provider *p)
{
    struct oauth2_client c = { p->token_endpoint, p->client_id, p->secret, OAUTH2_AUTH_CLIENT_SECRET_BASIC };
    if (p->auth_method && !oauth2_client_auth_parse(p->auth_method, &c.auth))
        c.auth = OAUTH2_AUTH_CLIENT_SECRET_BASIC;
    return c;
}

/* ---------------------------------------------------------------- stored tokens */

static bool fresh(struct identity *id, int64_t expires_at)
{
    return expires_at == 0 || expires_at > idn_now_s(id) + EXPIRY_MARGIN_S;
}

/* Keeps a token the provider issued (a NULL refresh token keeps the stored one). */
static void keep_token(struct identity *id, const char *workload, enum wat_user_kind kind, const char *user,
                       const char *provider, const char *binding, const struct oauth2_token *t,
                       int64_t unknown_lifetime_s)
{
    int64_t now = idn_now_s(id);
    int64_t expires_at = t->expires_in > 0 ? now + t->expires_in : unknown_lifetime_s ? now + unknown_lifetime_s : 0;
    idn_lock(id);
    enum idstore_rc rc = idstore_token_put(id->db, id->vault, workload, kind, kind == WAT_USER_NONE ? "" : user,
                                           provider, binding, t->access_token, t->refresh_token, expires_at,
                                           idn_now_ms(id));
    idn_unlock(id);
    if (rc != ID_OK)
        fprintf(stderr, "silod: identity: a token of provider %s could not be stored: %s\n", provider,
                idstore_rc_text(rc));
}

/* A new access token from the stored refresh token (unlocked); NULL when that fails. */
static char *refreshed_token(struct identity *id, const struct wat_claims *who, const char *provider,
                             const char *binding, const char *refresh_token)
{
    struct provider p;
    struct failure f;
    if (!provider_load(id, provider, false, &p, &f))
        return NULL;
    struct oauth2_client c = client_of(&p);
    struct oauth2_token t = { 0 };
    char err[256] = "";
    enum oauth2_status st = oauth2_refresh(&id->cfg.oauth2, &c, refresh_token, NULL, &t, err, sizeof err);
    provider_free(&p);
    char *access = NULL;
    if (st == OAUTH2_OK) {
        keep_token(id, who->workload, who->user_kind, who->user_id, provider, binding, &t, 0);
        access = copy_or_abort(t.access_token);
    } else {
        fprintf(stderr, "silod: identity: refreshing a token of provider %s failed: %s %s\n", provider,
                oauth2_status_text(st), err);
    }
    oauth2_token_free(&t);
    return access;
}

/* The user's stored access token for (provider, binding): as stored while fresh, else
 * refreshed; NULL when there is none or it cannot be refreshed. free_secret() it. */
static char *usable_user_token(struct identity *id, const struct wat_claims *who, const char *provider,
                               const char *binding)
{
    struct idstore_token t = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_token_get(id->db, id->vault, who->workload, who->user_kind, who->user_id, provider,
                                           binding, &t);
    idn_unlock(id);
    char *access = NULL;
    if (rc == ID_OK && fresh(id, t.expires_at))
        access = copy_or_abort(t.access_token);
    else if (rc == ID_OK && t.refresh_token)
        access = refreshed_token(id, who, provider, binding, t.refresh_token);
    idstore_token_free(&t);
    return access;
}

static void answer_access_token(struct idn_call *call, const char *token)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "accessToken", json_object_new_string(token));
    idn_answer(call, o);
}

/* ---------------------------------------------------------------- GetResourceOauth2Token: the request */

struct token_request {
    struct wat_claims who;
    const char *provider, *flow, *session_uri, *return_url, *custom_state;
    bool force;
    char *scopes;              /* normalised, space-separated: what the provider is asked for */
    struct strbuf binding;     /* scopes plus "audience=…/"resource=… items: the storage key */
    struct strbuf targets;     /* audience=…&resource=… for the provider */
    struct strbuf custom;      /* customParameters, form-encoded */
};

static void token_request_free(struct token_request *r)
{
    free(r->scopes);
    strbuf_free(&r->binding);
    strbuf_free(&r->targets);
    strbuf_free(&r->custom);
}

/* A scope: printable ASCII without space, `"` or `\` (so `"` can mark the binding's extras). */
static bool scope_valid(const char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\')
            return false;
    return true;
}

static bool scopes_parse(struct idn_call *call, struct token_request *r)
{
    json_object *list;
    if (!idn_string_array(call, "scopes", MAX_SCOPES, MAX_SCOPE, &list))
        return false;
    if (!list) {
        idn_error(call, AWS_VALIDATION, "scopes is required");
        return false;
    }
    struct strbuf joined = { 0 };
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(list, i));
        if (!scope_valid(s)) {
            strbuf_free(&joined);
            idn_error(call, AWS_VALIDATION, "scopes must be printable ASCII without spaces, quotes or backslashes");
            return false;
        }
        strbuf_printf(&joined, "%s%s", i ? " " : "", s);
    }
    r->scopes = idstore_normalize_scopes(strbuf_str(&joined));
    strbuf_free(&joined);
    if (!r->scopes)
        abort();
    strbuf_puts(&r->binding, r->scopes);
    return true;
}

/* audiences[] / resources[]: form parameters for the provider, and part of the binding. */
static bool targets_parse(struct idn_call *call, const char *member, const char *key, struct token_request *r)
{
    json_object *list;
    if (!idn_string_array(call, member, MAX_TARGETS, MAX_TARGET, &list))
        return false;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(list, i));
        put_param(&r->targets, key, v);
        strbuf_printf(&r->binding, " \"%s=", key);
        put_encoded(&r->binding, v);
    }
    return true;
}

static bool reserved_parameter(const char *key)
{
    static const char *const reserved[] = { "response_type", "client_id", "redirect_uri", "scope", "state",
                                            "code_challenge", "code_challenge_method" };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(key, reserved[i]) == 0)
            return true;
    return false;
}

static bool custom_parameters_parse(struct idn_call *call, struct strbuf *form)
{
    json_object *m;
    if (!json_object_object_get_ex(call->req, "customParameters", &m) || json_object_is_type(m, json_type_null))
        return true;
    if (!json_object_is_type(m, json_type_object) || json_object_object_length(m) > MAX_CUSTOM_PARAMETERS) {
        idn_error(call, AWS_VALIDATION, "customParameters must be a map of at most %d strings", MAX_CUSTOM_PARAMETERS);
        return false;
    }
    json_object_object_foreach(m, key, value) {
        size_t klen = strlen(key);
        size_t vlen = json_object_is_type(value, json_type_string) ? (size_t)json_object_get_string_len(value) : 0;
        if (klen == 0 || klen > MAX_CUSTOM_KEY || vlen == 0 || vlen > MAX_CUSTOM_VALUE) {
            idn_error(call, AWS_VALIDATION, "customParameters must map names of 1 to %d characters to strings of 1 to "
                      "%d characters", MAX_CUSTOM_KEY, MAX_CUSTOM_VALUE);
            return false;
        }
        if (reserved_parameter(key)) {
            idn_error(call, AWS_VALIDATION, "customParameters may not set %s", key);
            return false;
        }
        put_param(form, key, json_object_get_string(value));
    }
    return true;
}

/* The whole request, checked before anything is fetched or stored (the token first: an
 * unauthenticated caller learns nothing else). */
static bool token_request_parse(struct idn_call *call, struct token_request *r)
{
    return idn_open_workload_token(call, &r->who) &&
           idn_string(call, "resourceCredentialProviderName", true, MAX_PROVIDER_NAME, &r->provider) &&
           idn_string(call, "oauth2Flow", true, MAX_FLOW, &r->flow) &&
           session_uri_field(call, false, &r->session_uri) &&
           idn_string(call, "resourceOauth2ReturnUrl", false, MAX_URL, &r->return_url) &&
           idn_string(call, "customState", false, MAX_CUSTOM_STATE, &r->custom_state) &&
           idn_bool(call, "forceAuthentication", &r->force) && scopes_parse(call, r) &&
           targets_parse(call, "audiences", "audience", r) && targets_parse(call, "resources", "resource", r) &&
           custom_parameters_parse(call, &r->custom);
}

/* ---------------------------------------------------------------- M2M */

static char *stored_m2m_token(struct identity *id, const struct token_request *r)
{
    struct idstore_token t = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_token_get(id->db, id->vault, r->who.workload, WAT_USER_NONE, "", r->provider,
                                           strbuf_str(&r->binding), &t);
    idn_unlock(id);
    char *access = rc == ID_OK && fresh(id, t.expires_at) ? copy_or_abort(t.access_token) : NULL;
    idstore_token_free(&t);
    return access;
}

/* client_credentials at the provider (unlocked), kept for the workload. */
static char *fetched_m2m_token(struct identity *id, const struct token_request *r, struct failure *f)
{
    struct provider p;
    if (!provider_load(id, r->provider, false, &p, f))
        return NULL;
    struct oauth2_client c = client_of(&p);
    struct oauth2_token t = { 0 };
    char err[256] = "";
    enum oauth2_status st = oauth2_client_credentials(&id->cfg.oauth2, &c, r->scopes[0] ? r->scopes : NULL,
                                                      r->targets.len ? strbuf_str(&r->targets) : NULL, &t, err,
                                                      sizeof err);
    provider_free(&p);
    char *access = NULL;
    if (st == OAUTH2_OK) {
        keep_token(id, r->who.workload, WAT_USER_NONE, "", r->provider, strbuf_str(&r->binding), &t,
                   M2M_UNKNOWN_LIFETIME_S);
        access = copy_or_abort(t.access_token);
    } else {
        fail_oauth2(f, st, "the client credentials grant", r->provider, err);
    }
    oauth2_token_free(&t);
    return access;
}

static void m2m_token(struct idn_call *call, const struct token_request *r)
{
    struct failure f = { AWS_INTERNAL, "no token was obtained" };
    char *token = r->force ? NULL : stored_m2m_token(call->id, r);
    if (!token)
        token = fetched_m2m_token(call->id, r, &f);
    if (token)
        answer_access_token(call, token);
    else
        answer_failure(call, &f);
    free_secret(token);
}

/* ---------------------------------------------------------------- USER_FEDERATION */

static void answer_session(struct idn_call *call, const char *session_uri, const char *status,
                           const char *authorization_url)
{
    json_object *o = json_object_new_object();
    if (authorization_url)
        json_object_object_add(o, "authorizationUrl", json_object_new_string(authorization_url));
    json_object_object_add(o, "sessionUri", json_object_new_string(session_uri));
    json_object_object_add(o, "sessionStatus", json_object_new_string(status));
    idn_answer(call, o);
}

/* A session as the agent that started it sees it. */
static void answer_session_state(struct idn_call *call, const struct wat_claims *who, const struct idstore_session *s)
{
    if (s->status == IDSESS_COMPLETED) {
        char *token = usable_user_token(call->id, who, s->provider, s->scopes);
        if (token)
            answer_access_token(call, token);
        else
            answer_session(call, s->session_uri, "FAILED", NULL);   /* gone or not refreshable */
        free_secret(token);
    } else if (s->status == IDSESS_FAILED || s->expires_at <= idn_now_s(call->id)) {
        answer_session(call, s->session_uri, "FAILED", NULL);
    } else {
        answer_session(call, s->session_uri, "IN_PROGRESS", NULL);
    }
}

/* Polling with sessionUri: only the workload and user that started the session see it. */
static void poll_session(struct idn_call *call, const struct token_request *r)
{
    struct identity *id = call->id;
    struct idstore_session s = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_session_get(id->db, r->session_uri, &s);
    idn_unlock(id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "authorization session", NULL);
    else if (strcmp(s.workload, r->who.workload) != 0 ||
             !same_user(s.user_kind, s.user_id, r->who.user_kind, r->who.user_id))
        idn_error(call, AWS_ACCESS_DENIED, "the authorization session was started by another workload or user");
    else if (strcmp(s.provider, r->provider) != 0)
        idn_error(call, AWS_VALIDATION, "the authorization session is for another credential provider");
    else
        answer_session_state(call, &r->who, &s);
    idstore_session_free(&s);
}

static bool return_url_allowed(struct idn_call *call, const struct token_request *r)
{
    if (!r->return_url) {
        idn_error(call, AWS_VALIDATION, "resourceOauth2ReturnUrl is required to start a user federation flow");
        return false;
    }
    idn_lock(call->id);
    bool allowed = idstore_workload_allows_return_url(call->id->db, r->who.workload, r->return_url);
    idn_unlock(call->id);
    if (!allowed)
        idn_error(call, AWS_VALIDATION, "resourceOauth2ReturnUrl is not one of the workload identity's "
                                        "allowedResourceOauth2ReturnUrls");
    return allowed;
}

/* audience/resource parameters, then customParameters. */
static char *authorization_extras(const struct token_request *r)
{
    struct strbuf extra = { 0 };
    strbuf_puts(&extra, strbuf_str(&r->targets));
    if (r->targets.len && r->custom.len)
        strbuf_putc(&extra, '&');
    strbuf_puts(&extra, strbuf_str(&r->custom));
    if (!extra.len) {
        strbuf_free(&extra);
        return NULL;
    }
    return strbuf_take(&extra);
}

/* The session row for a new flow (the binding as its scopes); NULL with the answer set. */
static char *session_create(struct idn_call *call, const struct token_request *r, const char *state,
                            const char *verifier)
{
    struct identity *id = call->id;
    int64_t now = idn_now_s(id);
    struct idstore_session s = {
        .workload = (char *)r->who.workload, .user_id = (char *)r->who.user_id, .user_kind = r->who.user_kind,
        .provider = (char *)r->provider, .scopes = (char *)strbuf_str(&r->binding),
        .return_url = (char *)r->return_url, .custom_state = (char *)r->custom_state,
        .status = IDSESS_IN_PROGRESS, .created_at = now, .expires_at = now + IDENTITY_SESSION_TTL_S,
    };
    char *session_uri = NULL;
    idn_lock(id);
    enum idstore_rc rc = idstore_session_create(id->db, id->vault, &s, state, verifier, &session_uri, idn_now_ms(id));
    idn_unlock(id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "authorization session", "the authorization session could not be started");
    return session_uri;
}

/* A new 3LO flow: the authorization URL (PKCE, fresh state) and its session. */
static void start_flow(struct idn_call *call, const struct token_request *r)
{
    struct identity *id = call->id;
    if (!id->callback_url[0]) {
        idn_error(call, AWS_INTERNAL, "silod has no OAuth2 callback URL configured");
        return;
    }
    if (!return_url_allowed(call, r))
        return;
    struct provider p;
    struct failure f;
    if (!provider_load(id, r->provider, true, &p, &f)) {
        answer_failure(call, &f);
        return;
    }
    char state[OAUTH2_PKCE_LEN + 1], verifier[OAUTH2_PKCE_LEN + 1], challenge[OAUTH2_PKCE_LEN + 1];
    char *extra = authorization_extras(r), *url = NULL, *session_uri = NULL;
    if (!oauth2_random_state(state) || !oauth2_pkce_new(verifier, challenge))
        idn_error(call, AWS_INTERNAL, "no randomness for the authorization request");
    else if (!(url = oauth2_authorization_url(p.authorization_endpoint, p.client_id, id->callback_url,
                                              r->scopes[0] ? r->scopes : NULL, state, challenge, extra)))
        idn_error(call, AWS_VALIDATION, "the authorization endpoint of credential provider %.128s is not a usable URL",
                  r->provider);
    else if ((session_uri = session_create(call, r, state, verifier)))
        answer_session(call, session_uri, "IN_PROGRESS", url);
    OPENSSL_cleanse(state, sizeof state);
    OPENSSL_cleanse(verifier, sizeof verifier);
    free(session_uri);
    free_secret(url);
    free(extra);
    provider_free(&p);
}

static void user_federation(struct idn_call *call, const struct token_request *r)
{
    if (r->who.user_kind == WAT_USER_NONE) {
        idn_error(call, AWS_VALIDATION, "USER_FEDERATION needs a workload access token for a user "
                                        "(GetWorkloadAccessTokenForJWT or ForUserId)");
        return;
    }
    if (r->session_uri && !r->force) {
        poll_session(call, r);
        return;
    }
    char *token = r->force ? NULL : usable_user_token(call->id, &r->who, r->provider, strbuf_str(&r->binding));
    if (token)
        answer_access_token(call, token);
    else
        start_flow(call, r);
    free_secret(token);
}

void idn_get_oauth2_token(struct idn_call *call)
{
    struct token_request r = { 0 };
    if (token_request_parse(call, &r)) {
        if (strcmp(r.flow, "M2M") == 0)
            m2m_token(call, &r);
        else if (strcmp(r.flow, "USER_FEDERATION") == 0)
            user_federation(call, &r);
        else if (strcmp(r.flow, "ON_BEHALF_OF_TOKEN_EXCHANGE") == 0)
            idn_error(call, AWS_VALIDATION, "oauth2Flow ON_BEHALF_OF_TOKEN_EXCHANGE is not supported");
        else
            idn_error(call, AWS_VALIDATION, "oauth2Flow must be M2M, USER_FEDERATION or ON_BEHALF_OF_TOKEN_EXCHANGE");
    }
    token_request_free(&r);
}

/* ---------------------------------------------------------------- CompleteResourceTokenAuth */

/* userIdentifier: a union, exactly one of userToken (a JWT) and userId. */
static bool user_identifier(struct idn_call *call, const char **token, const char **user_id)
{
    json_object *ui, *v = NULL;
    *token = *user_id = NULL;
    if (!json_object_object_get_ex(call->req, "userIdentifier", &ui) || !json_object_is_type(ui, json_type_object) ||
        json_object_object_length(ui) != 1) {
        idn_error(call, AWS_VALIDATION, "userIdentifier must hold exactly one of userToken and userId");
        return false;
    }
    bool is_token = json_object_object_get_ex(ui, "userToken", &v);
    if (!is_token && !json_object_object_get_ex(ui, "userId", &v)) {
        idn_error(call, AWS_VALIDATION, "userIdentifier must hold exactly one of userToken and userId");
        return false;
    }
    size_t len = json_object_is_type(v, json_type_string) ? (size_t)json_object_get_string_len(v) : 0;
    if (len == 0 || len > (is_token ? MAX_USER_TOKEN : WAT_MAX_USER_ID) ||
        (!is_token && has_control_character(json_object_get_string(v)))) {
        idn_error(call, AWS_VALIDATION, "userIdentifier.%s must be a string of 1 to %d characters",
                  is_token ? "userToken" : "userId", is_token ? MAX_USER_TOKEN : WAT_MAX_USER_ID);
        return false;
    }
    *(is_token ? token : user_id) = json_object_get_string(v);
    return true;
}

static const char *not_waiting_reason(enum idstore_session_status status)
{
    switch (status) {
    case IDSESS_IN_PROGRESS:
        return "the user has not come back from the provider yet";
    case IDSESS_COMPLETED:
        return "the authorization session is already completed";
    case IDSESS_FAILED:
        return "the authorization failed at the provider";
    default:
        return "the authorization session has no token waiting";
    }
}

/* Moves the session's token to the user, who must be the one who started it. */
static void complete_session(struct idn_call *call, const struct idstore_session *s, enum wat_user_kind kind,
                             const char *user)
{
    struct identity *id = call->id;
    if (!same_user(s->user_kind, s->user_id, kind, user)) {
        idn_error(call, AWS_ACCESS_DENIED, "the session was started by another user");
        return;
    }
    if (s->expires_at <= idn_now_s(id)) {
        idn_error(call, AWS_VALIDATION, "the authorization session has expired; the agent must start a new one");
        return;
    }
    idn_lock(id);
    enum idstore_rc rc = idstore_session_complete(id->db, id->vault, s->session_uri, kind, user, idn_now_s(id),
                                                  idn_now_ms(id));
    idn_unlock(id);
    if (rc == ID_OK)
        idn_answer(call, NULL);
    else if (rc == ID_INVALID)
        idn_error(call, AWS_VALIDATION, "%s", not_waiting_reason(s->status));
    else
        idn_store_error(call, rc, "authorization session", "the authorization session is no longer open");
}

void idn_complete_token_auth(struct idn_call *call)
{
    struct identity *id = call->id;
    const char *session_uri, *token, *user_id;
    if (!session_uri_field(call, true, &session_uri) || !user_identifier(call, &token, &user_id))
        return;
    struct idstore_session s = { 0 };
    idn_lock(id);
    enum idstore_rc rc = idstore_session_get(id->db, session_uri, &s);
    idn_unlock(id);
    char user[WAT_MAX_USER_ID + 2];
    if (rc != ID_OK)
        idn_store_error(call, rc, "authorization session", NULL);
    else if (user_id)
        complete_session(call, &s, WAT_USER_ID, user_id);
    else if (jwt_user(call, s.workload, token, user, sizeof user))
        complete_session(call, &s, WAT_USER_JWT, user);
    idstore_session_free(&s);
}

/* ---------------------------------------------------------------- the browser's callback */

static void callback_text(struct identity_redirect *out, unsigned status, const char *text)
{
    out->status = status;
    free(out->body);
    out->body = copy_or_abort(text);
}

/* return_url (?|&)session_id=…[&error=…][&state=…], its fragment (if any) kept last. */
static char *return_location(const struct idstore_session *s, const char *error)
{
    const char *url = s->return_url;
    size_t before_fragment = strcspn(url, "#");
    struct strbuf b = { 0 };
    strbuf_append(&b, url, before_fragment);
    const char *q = memchr(url, '?', before_fragment);
    char last = before_fragment ? url[before_fragment - 1] : 0;
    strbuf_puts(&b, !q ? "?" : last == '?' || last == '&' ? "" : "&");
    strbuf_puts(&b, "session_id=");
    put_encoded(&b, s->session_uri);
    if (error) {
        strbuf_puts(&b, "&error=");
        put_encoded(&b, error);
    }
    if (s->custom_state && s->custom_state[0]) {
        strbuf_puts(&b, "&state=");
        put_encoded(&b, s->custom_state);
    }
    strbuf_puts(&b, url + before_fragment);
    return strbuf_take(&b);
}

static void redirect_back(struct identity_redirect *out, const struct idstore_session *s, const char *error)
{
    if (!s->return_url || !s->return_url[0]) {
        callback_text(out, 500, "this authorization has no return URL\n");
        return;
    }
    out->location = return_location(s, error);
    callback_text(out, 302, error ? "the provider did not grant access; continue in the application\n"
                                  : "authorization received; continue in the application\n");
}

static void fail_session(struct identity *id, const char *session_uri)
{
    idn_lock(id);
    idstore_session_fail(id->db, session_uri);
    idn_unlock(id);
}

/* The provider answered with an error (the user declined, …): the session fails. */
static void callback_refused(struct identity *id, const struct idstore_session *s, const struct oauth2_callback *cb,
                             struct identity_redirect *out)
{
    fail_session(id, s->session_uri);
    char safe[OAUTH2_CB_MAX_ERROR + 1];
    fprintf(stderr, "silod: identity: provider %s answered an authorization with error %s\n", s->provider,
            url_escape_for_log(cb->error, safe, sizeof safe));
    redirect_back(out, s, cb->error);
}

/* RFC 9207: when the provider names its issuer, it must be the one configured. */
static bool issuer_matches(const struct provider *p, const struct oauth2_callback *cb)
{
    return !cb->iss[0] || !p->issuer || strcmp(cb->iss, p->issuer) == 0;
}

/* The code for tokens (unlocked), which wait in the session for CompleteResourceTokenAuth. */
static void callback_exchange(struct identity *id, const struct idstore_session *s, const struct oauth2_callback *cb,
                              const char *verifier, struct identity_redirect *out)
{
    struct provider p;
    struct failure f;
    if (!provider_load(id, s->provider, false, &p, &f)) {
        fail_session(id, s->session_uri);
        fprintf(stderr, "silod: identity: callback: %s\n", f.message);
        callback_text(out, 502, "the provider's token could not be obtained\n");
        return;
    }
    if (!issuer_matches(&p, cb)) {
        provider_free(&p);
        fail_session(id, s->session_uri);
        callback_text(out, 400, "the authorization response names another issuer than the provider's\n");
        return;
    }
    struct oauth2_client c = client_of(&p);
    struct oauth2_token t = { 0 };
    char err[256] = "";
    enum oauth2_status st = oauth2_exchange_code(&id->cfg.oauth2, &c, cb->code, id->callback_url, verifier, &t, err,
                                                 sizeof err);
    provider_free(&p);
    enum idstore_rc rc = ID_ERROR;
    idn_lock(id);
    if (st == OAUTH2_OK)
        rc = idstore_session_store_pending(id->db, id->vault, s->session_uri, t.access_token, t.refresh_token,
                                           t.expires_in > 0 ? idn_now_s(id) + t.expires_in : 0, idn_now_ms(id));
    if (rc != ID_OK)
        idstore_session_fail(id->db, s->session_uri);
    idn_unlock(id);
    oauth2_token_free(&t);
    if (st != OAUTH2_OK) {
        fprintf(stderr, "silod: identity: code exchange with provider %s failed: %s %s\n", s->provider,
                oauth2_status_text(st), err);
        callback_text(out, 502, "the provider's token could not be obtained\n");
    } else if (rc != ID_OK) {
        callback_text(out, 500, "the provider's token could not be stored\n");
    } else {
        redirect_back(out, s, NULL);
    }
}

/* Consumes the state (once) and finishes the session it belongs to. */
static void callback_with_state(struct identity *id, const struct oauth2_callback *cb, struct identity_redirect *out)
{
    struct idstore_session s = { 0 };
    char *verifier = NULL;
    size_t verifier_len = 0;
    idn_lock(id);
    int64_t now = idn_now_s(id);
    enum idstore_rc rc = idstore_session_take_state(id->db, id->vault, cb->state, now, &s, &verifier, &verifier_len);
    idn_unlock(id);
    if (rc == ID_OK && cb->error[0])
        callback_refused(id, &s, cb, out);
    else if (rc == ID_OK)
        callback_exchange(id, &s, cb, verifier, out);
    else if (rc == ID_FORBIDDEN && (s.status != IDSESS_IN_PROGRESS || s.expires_at > now))
        callback_text(out, 403, "this authorization was already used\n");
    else if (rc == ID_FORBIDDEN)
        callback_text(out, 403, "this authorization has expired; ask the agent to start again\n");
    else if (rc == ID_NOT_FOUND)
        callback_text(out, 400, "no authorization is waiting for this state (unknown, or expired and removed)\n");
    else
        callback_text(out, 500, "the authorization could not be looked up\n");
    vault_secret_free(verifier, verifier_len);
    idstore_session_free(&s);
}

void identity_callback(struct identity *id, const char *query, struct identity_redirect *out)
{
    memset(out, 0, sizeof *out);
    const char *q = query ? query : "";
    struct oauth2_callback *cb = calloc(1, sizeof *cb);
    if (!cb)
        abort();
    enum oauth2_cb_status st = oauth2_callback_parse(q, strnlen(q, OAUTH2_CB_MAX_QUERY + 1), cb);
    if (st == OAUTH2_CB_OK) {
        callback_with_state(id, cb, out);
    } else {
        char text[160];
        snprintf(text, sizeof text, "this is not a valid authorization response (%s)\n", oauth2_cb_status_text(st));
        callback_text(out, 400, text);
    }
    OPENSSL_cleanse(cb, sizeof *cb);
    free(cb);
}
