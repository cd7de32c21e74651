/* frontend/identity_control.c — AgentCore Identity's control plane (identity_internal.h):
 * workload identities, OAuth2 and API-key credential providers, GetTokenVault. It owns the
 * request validation of these operations (names, lengths, URLs, the vendor/config union) and
 * their answers in the shapes of @aws-sdk/client-bedrock-agentcore-control; storage is
 * identity_store.c's (every secret in the token vault). Get, List and Update never carry a
 * secret, only its ARN (idn_secret_arn), and no message names one. */
#include "frontend/identity_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"

#define WORKLOAD_NAME_MIN 3
#define WORKLOAD_NAME_MAX 255
#define PROVIDER_NAME_MAX 128
#define MAX_URL 2048
#define MAX_RETURN_URLS 10     /* AgentCore's quota of allowedResourceOauth2ReturnUrls */
#define MAX_CLIENT_ID 256
#define MAX_CLIENT_SECRET 2048
#define MAX_API_KEY 65536
#define MAX_TAGS 50
#define ARN_LEN 600

#define WORKLOAD "workload identity"
#define OAUTH2_PROVIDER "OAuth2 credential provider"
#define APIKEY_PROVIDER "API key credential provider"

/* ---------------------------------------------------------------- request checks */

/* Whether every byte of s is alphanumeric or in extra. */
static bool chars_in(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    return true;
}

/* `name`: required, min..max characters of [A-Za-z0-9] plus extra (the SDK's patterns:
 * workload identities [A-Za-z0-9_.-]{3,255}, credential providers [a-zA-Z0-9\-_]{1,128}). */
static bool name_field(struct idn_call *call, size_t min, size_t max, const char *extra, const char **name)
{
    if (!idn_string(call, "name", true, max, name))
        return false;
    if (strlen(*name) < min || !chars_in(*name, extra)) {
        idn_error(call, AWS_VALIDATION, "name must be %zu to %zu characters of [A-Za-z0-9%s]", min, max, extra);
        return false;
    }
    return true;
}

static bool workload_name(struct idn_call *call, const char **name)
{
    return name_field(call, WORKLOAD_NAME_MIN, WORKLOAD_NAME_MAX, "_.-", name);
}

static bool provider_name(struct idn_call *call, const char **name)
{
    return name_field(call, 1, PROVIDER_NAME_MAX, "_-", name);
}

/* `tags`: a map of at most 50 entries, keys 1-128 and values 0-256 characters of
 * [a-zA-Z0-9\s._:/=+@-]. Accepted as AgentCore does, checked, not kept. */
static bool tag_text_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(" \t\n\r._:/=+@-", *s))
            return false;
    return true;
}

static bool tags_ok(struct idn_call *call)
{
    json_object *t;
    if (!json_object_object_get_ex(call->req, "tags", &t) || json_object_is_type(t, json_type_null))
        return true;
    bool ok = json_object_is_type(t, json_type_object) && json_object_object_length(t) <= MAX_TAGS;
    if (ok) {
        json_object_object_foreach(t, k, v) {
            if (!tag_text_ok(k, 1, 128) || !json_object_is_type(v, json_type_string) ||
                !tag_text_ok(json_object_get_string(v), 0, 256))
                ok = false;
        }
    }
    if (!ok)
        idn_error(call, AWS_VALIDATION, "tags must map at most %d keys of 1-128 characters to values of at most 256 "
                                        "(letters, digits, spaces and ._:/=+@-)", MAX_TAGS);
    return ok;
}

/* An absolute http(s) URL: the scheme, a host, no spaces or control characters. */
static bool is_http_url(const char *s)
{
    size_t n = strlen(s);
    const char *host = strncmp(s, "https://", 8) == 0 ? s + 8 : strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
    if (!host || !*host || *host == '/' || n > MAX_URL)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* The members of a nested object (req itself is idn_string's); a missing member is NULL. */
static json_object *member(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null) ? v : NULL;
}

static const char *member_string(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A string member of a nested object: false (ValidationException naming where) when required
 * and absent, not a string, or not min..max bytes. */
static bool nested_string(struct idn_call *call, json_object *o, const char *where, const char *key, bool required,
                          size_t min, size_t max, const char **out)
{
    json_object *v = member(o, key);
    *out = NULL;
    if (!v) {
        if (required)
            idn_error(call, AWS_VALIDATION, "%s.%s is required", where, key);
        return !required;
    }
    size_t n = json_object_is_type(v, json_type_string) ? (size_t)json_object_get_string_len(v) : 0;
    if (!json_object_is_type(v, json_type_string) || n < min || n > max) {
        idn_error(call, AWS_VALIDATION, "%s.%s must be a string of %zu to %zu characters", where, key, min, max);
        return false;
    }
    *out = json_object_get_string(v);
    return true;
}

static bool nested_url(struct idn_call *call, json_object *o, const char *where, const char *key, bool required,
                       const char **out)
{
    if (!nested_string(call, o, where, key, required, 1, MAX_URL, out))
        return false;
    if (*out && !is_http_url(*out)) {
        idn_error(call, AWS_VALIDATION, "%s.%s must be an absolute http(s) URL", where, key);
        return false;
    }
    return true;
}

/* An optional list of 1..max_count non-empty strings (responseTypes, tokenEndpointAuthMethods). */
static bool nested_string_list(struct idn_call *call, json_object *o, const char *where, const char *key,
                               size_t max_count)
{
    json_object *v = member(o, key);
    if (!v)
        return true;
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    bool ok = n >= 1 && n <= max_count;
    for (size_t i = 0; ok && i < n; i++) {
        json_object *item = json_object_array_get_idx(v, i);
        ok = json_object_is_type(item, json_type_string) && json_object_get_string_len(item) > 0 &&
             json_object_get_string_len(item) <= 256;
    }
    if (!ok)
        idn_error(call, AWS_VALIDATION, "%s.%s must be a list of 1 to %zu strings", where, key, max_count);
    return ok;
}

/* Members silo does not implement: refused by name rather than silently ignored. */
static bool refuse_members(struct idn_call *call, json_object *o, const char *where, const char *const *keys,
                           size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (member(o, keys[i])) {
            idn_error(call, AWS_VALIDATION, "%s.%s is not supported by silo", where, keys[i]);
            return false;
        }
    return true;
}

/* A secret given in the request (clientSecret / apiKey): an external secret (…SecretConfig,
 * …SecretSource EXTERNAL) is refused — silo keeps its secrets in its own vault. */
static bool managed_secret_only(struct idn_call *call, json_object *o, const char *where, const char *config_key,
                                const char *source_key)
{
    const char *source = member_string(o, source_key);
    if (member(o, config_key) || (source && strcmp(source, "MANAGED") != 0)) {
        idn_error(call, AWS_VALIDATION, "%s: %s and %s EXTERNAL are not supported (silo keeps the secret given in "
                                        "the request in its own vault)", where, config_key, source_key);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- answers */

static void copy_member(json_object *from, const char *key, json_object *to)
{
    json_object *v = member(from, key);
    if (v)
        json_object_object_add(to, key, json_object_get(v));
}

static void copy_times(json_object *row, json_object *to)
{
    copy_member(row, "createdTime", to);
    copy_member(row, "lastUpdatedTime", to);
}

/* {secretArn}: where AgentCore answers a secret, silo answers the ARN of its vault row. */
static json_object *secret_ref(struct identity *id, const char *kind, const char *name)
{
    char arn[ARN_LEN];
    idn_secret_arn(id, kind, name ? name : "", arn, sizeof arn);
    json_object *s = json_object_new_object();
    json_object_object_add(s, "secretArn", json_object_new_string(arn));
    return s;
}

/* One List answer: the rows (max + 1 asked for, so a further page is known) reshaped to the
 * keep members, under list_key, with nextToken (the last name returned) when more follow. */
static void answer_list(struct idn_call *call, json_object *rows, int max, const char *list_key,
                        const char *const *keep, size_t keep_count)
{
    if (!rows) {
        idn_error(call, AWS_INTERNAL, "the list could not be read");
        return;
    }
    size_t n = json_object_array_length(rows), shown = n > (size_t)max ? (size_t)max : n;
    json_object *items = json_object_new_array(), *o = json_object_new_object();
    for (size_t i = 0; i < shown; i++) {
        json_object *row = json_object_array_get_idx(rows, i), *item = json_object_new_object();
        for (size_t k = 0; k < keep_count; k++)
            copy_member(row, keep[k], item);
        json_object_array_add(items, item);
    }
    json_object_object_add(o, list_key, items);
    json_object *last_name = shown ? member(json_object_array_get_idx(rows, shown - 1), "name") : NULL;
    if (n > shown && last_name)
        json_object_object_add(o, "nextToken", json_object_get(last_name));
    json_object_put(rows);
    idn_answer(call, o);
}

/* ---------------------------------------------------------------- workload identities */

static bool return_urls(struct idn_call *call, json_object **urls)
{
    return idn_string_array(call, "allowedResourceOauth2ReturnUrls", MAX_RETURN_URLS, MAX_URL, urls);
}

void idn_create_workload(struct idn_call *call)
{
    const char *name;
    json_object *urls;
    if (!workload_name(call, &name) || !return_urls(call, &urls) || !tags_ok(call))
        return;
    char arn[ARN_LEN], err[256] = "";
    idn_workload_arn(call->id, name, arn, sizeof arn);
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_create(call->id->db, name, arn, urls, idn_now_ms(call->id), err, sizeof err);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, WORKLOAD, err);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "workloadIdentityArn", json_object_new_string(arn));
    json_object_object_add(o, "allowedResourceOauth2ReturnUrls", urls ? json_object_get(urls) : json_object_new_array());
    idn_answer(call, o);
}

void idn_get_workload(struct idn_call *call)
{
    const char *name;
    if (!workload_name(call, &name))
        return;
    json_object *row = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_get(call->id->db, name, &row);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, WORKLOAD, NULL);
    else
        idn_answer(call, row);   /* the store's row is GetWorkloadIdentityResponse */
}

void idn_update_workload(struct idn_call *call)
{
    const char *name;
    json_object *urls;
    if (!workload_name(call, &name) || !return_urls(call, &urls))
        return;
    char err[256] = "";
    json_object *row = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_update(call->id->db, name, urls, idn_now_ms(call->id), err, sizeof err);
    if (rc == ID_OK)
        rc = idstore_workload_get(call->id->db, name, &row);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, WORKLOAD, err);
    else
        idn_answer(call, row);
}

/* A runtime's own workload identity (named after the runtime id) may be deleted too, as in
 * AgentCore; the runtime then has no identity until it is recreated. */
void idn_delete_workload(struct idn_call *call)
{
    const char *name;
    if (!workload_name(call, &name))
        return;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_delete(call->id->db, name);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, WORKLOAD, NULL);
    else
        idn_answer(call, NULL);
}

void idn_list_workloads(struct idn_call *call)
{
    int max;
    const char *after;
    if (!idn_paging(call, &max, &after))
        return;
    idn_lock(call->id);
    json_object *rows = idstore_workload_list(call->id->db, after, max + 1);
    idn_unlock(call->id);
    static const char *const keep[] = { "name", "workloadIdentityArn" };
    answer_list(call, rows, max, "workloadIdentities", keep, sizeof keep / sizeof keep[0]);
}

/* ---------------------------------------------------------------- OAuth2: vendors */

/* Each vendor of CredentialProviderVendorType and its member of the oauth2ProviderConfigInput
 * / …Output unions: eight have their own, the rest share includedOauth2ProviderConfig. */
static const struct vendor {
    const char *vendor, *member;
} VENDORS[] = {
    { "CustomOauth2", "customOauth2ProviderConfig" },
    { "GoogleOauth2", "googleOauth2ProviderConfig" },
    { "GithubOauth2", "githubOauth2ProviderConfig" },
    { "SlackOauth2", "slackOauth2ProviderConfig" },
    { "SalesforceOauth2", "salesforceOauth2ProviderConfig" },
    { "MicrosoftOauth2", "microsoftOauth2ProviderConfig" },
    { "AtlassianOauth2", "atlassianOauth2ProviderConfig" },
    { "LinkedinOauth2", "linkedinOauth2ProviderConfig" },
    { "XOauth2", "includedOauth2ProviderConfig" },
    { "OktaOauth2", "includedOauth2ProviderConfig" },
    { "OneLoginOauth2", "includedOauth2ProviderConfig" },
    { "PingOneOauth2", "includedOauth2ProviderConfig" },
    { "FacebookOauth2", "includedOauth2ProviderConfig" },
    { "YandexOauth2", "includedOauth2ProviderConfig" },
    { "RedditOauth2", "includedOauth2ProviderConfig" },
    { "ZoomOauth2", "includedOauth2ProviderConfig" },
    { "TwitchOauth2", "includedOauth2ProviderConfig" },
    { "SpotifyOauth2", "includedOauth2ProviderConfig" },
    { "DropboxOauth2", "includedOauth2ProviderConfig" },
    { "NotionOauth2", "includedOauth2ProviderConfig" },
    { "HubspotOauth2", "includedOauth2ProviderConfig" },
    { "CyberArkOauth2", "includedOauth2ProviderConfig" },
    { "FusionAuthOauth2", "includedOauth2ProviderConfig" },
    { "Auth0Oauth2", "includedOauth2ProviderConfig" },
    { "CognitoOauth2", "includedOauth2ProviderConfig" },
};

#define CUSTOM_MEMBER "customOauth2ProviderConfig"
#define INCLUDED_MEMBER "includedOauth2ProviderConfig"

static const struct vendor *vendor_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof VENDORS / sizeof VENDORS[0]; i++)
        if (strcmp(VENDORS[i].vendor, name) == 0)
            return &VENDORS[i];
    return NULL;
}

static bool vendor_has_preset(const char *vendor)
{
    const char *iss, *az, *tok, *auth, *disc;
    return idstore_vendor_preset(vendor, &iss, &az, &tok, &auth, &disc);
}

/* ---------------------------------------------------------------- OAuth2: the request */

/* AgentCore's clientAuthenticationMethod ↔ identity_store's OAuth2 names. */
static bool auth_method_from_api(struct idn_call *call, const char *m, const char **out)
{
    *out = NULL;
    if (!m)
        return true;
    if (strcmp(m, "CLIENT_SECRET_BASIC") == 0)
        *out = "client_secret_basic";
    else if (strcmp(m, "CLIENT_SECRET_POST") == 0)
        *out = "client_secret_post";
    else
        idn_error(call, AWS_VALIDATION, "clientAuthenticationMethod must be CLIENT_SECRET_BASIC or CLIENT_SECRET_POST "
                                        "(silo supports no other)");
    return *out != NULL;
}

static const char *auth_method_to_api(const char *m)
{
    return m && strcmp(m, "client_secret_post") == 0 ? "CLIENT_SECRET_POST" : "CLIENT_SECRET_BASIC";
}

/* The one member of the oauth2ProviderConfigInput union, which must be the vendor's. */
static bool config_member(struct idn_call *call, const struct vendor *v, json_object **cfg)
{
    json_object *input = member(call->req, "oauth2ProviderConfigInput");
    if (!input) {
        idn_error(call, AWS_VALIDATION, "oauth2ProviderConfigInput is required");
        return false;
    }
    if (!json_object_is_type(input, json_type_object) || json_object_object_length(input) != 1) {
        idn_error(call, AWS_VALIDATION, "oauth2ProviderConfigInput must hold exactly one provider configuration");
        return false;
    }
    json_object_object_foreach(input, key, value) {
        if (strcmp(key, v->member) != 0 || !json_object_is_type(value, json_type_object)) {
            idn_error(call, AWS_VALIDATION, "credentialProviderVendor %s takes oauth2ProviderConfigInput.%s", v->vendor,
                      v->member);
            return false;
        }
        *cfg = value;
    }
    return true;
}

/* customOauth2ProviderConfig.oauthDiscovery: the union of discoveryUrl and
 * authorizationServerMetadata{issuer, authorizationEndpoint, tokenEndpoint, responseTypes?,
 * tokenEndpointAuthMethods?}. */
static bool read_discovery(struct idn_call *call, json_object *cfg, struct idstore_oauth2_provider *p)
{
    json_object *disc = member(cfg, "oauthDiscovery");
    if (!disc || !json_object_is_type(disc, json_type_object)) {
        idn_error(call, AWS_VALIDATION, "customOauth2ProviderConfig.oauthDiscovery is required");
        return false;
    }
    json_object *meta = member(disc, "authorizationServerMetadata");
    bool has_url = member(disc, "discoveryUrl") != NULL;
    if (json_object_object_length(disc) != 1 || has_url == (meta != NULL)) {
        idn_error(call, AWS_VALIDATION, "oauthDiscovery needs exactly one of discoveryUrl and authorizationServerMetadata");
        return false;
    }
    if (has_url) {
        static const char *const suffixes[] = { "/.well-known/openid-configuration",
                                                "/.well-known/oauth-authorization-server" };
        if (!nested_url(call, disc, "oauthDiscovery", "discoveryUrl", true, &p->discovery_url))
            return false;
        for (size_t i = 0; i < 2; i++)
            if (strstr(p->discovery_url, suffixes[i]))
                return true;
        idn_error(call, AWS_VALIDATION, "oauthDiscovery.discoveryUrl must name a /.well-known/openid-configuration or "
                                        "/.well-known/oauth-authorization-server document");
        return false;
    }
    const char *where = "authorizationServerMetadata";
    if (!json_object_is_type(meta, json_type_object)) {
        idn_error(call, AWS_VALIDATION, "oauthDiscovery.authorizationServerMetadata must be an object");
        return false;
    }
    return nested_url(call, meta, where, "issuer", true, &p->issuer) &&
           nested_url(call, meta, where, "authorizationEndpoint", true, &p->authorization_endpoint) &&
           nested_url(call, meta, where, "tokenEndpoint", true, &p->token_endpoint) &&
           nested_string_list(call, meta, where, "responseTypes", 16) &&
           nested_string_list(call, meta, where, "tokenEndpointAuthMethods", 2);
}

static bool read_custom_config(struct idn_call *call, json_object *cfg, struct idstore_oauth2_provider *p)
{
    static const char *const unsupported[] = { "privateKeyJwtConfig", "onBehalfOfTokenExchangeConfig",
                                               "privateEndpoint", "privateEndpointOverrides" };
    return refuse_members(call, cfg, CUSTOM_MEMBER, unsupported, sizeof unsupported / sizeof unsupported[0]) &&
           read_discovery(call, cfg, p) &&
           auth_method_from_api(call, member_string(cfg, "clientAuthenticationMethod"), &p->auth_method);
}

/* includedOauth2ProviderConfig: the endpoints of a tenant-specific vendor (Okta, Auth0, …),
 * required when silo has no preset for it. */
static bool read_included_config(struct idn_call *call, json_object *cfg, struct idstore_oauth2_provider *p)
{
    bool need = !vendor_has_preset(p->vendor);
    return nested_url(call, cfg, INCLUDED_MEMBER, "issuer", need, &p->issuer) &&
           nested_url(call, cfg, INCLUDED_MEMBER, "authorizationEndpoint", need, &p->authorization_endpoint) &&
           nested_url(call, cfg, INCLUDED_MEMBER, "tokenEndpoint", need, &p->token_endpoint);
}

/* clientId and clientSecret, which every config member carries (silo needs both). */
static bool read_client(struct idn_call *call, json_object *cfg, const char *where, struct idstore_oauth2_provider *p,
                        const char **secret)
{
    return managed_secret_only(call, cfg, where, "clientSecretConfig", "clientSecretSource") &&
           nested_string(call, cfg, where, "clientId", true, 1, MAX_CLIENT_ID, &p->client_id) &&
           nested_string(call, cfg, where, "clientSecret", true, 1, MAX_CLIENT_SECRET, secret);
}

/* The request's config without its secret, kept for Get. */
static json_object *config_without_secret(json_object *cfg)
{
    json_object *copy = json_object_new_object();
    json_object_object_foreach(cfg, key, value) {
        if (strcmp(key, "clientSecret") != 0)
            json_object_object_add(copy, key, json_object_get(value));
    }
    return copy;
}

/* Reads and checks a Create/Update request into p (strings borrowed from call->req; p->config
 * a new object the caller puts) and the client secret. */
static bool read_oauth2_request(struct idn_call *call, struct idstore_oauth2_provider *p, const char **secret)
{
    const char *vendor;
    json_object *cfg = NULL;
    memset(p, 0, sizeof *p);
    if (!provider_name(call, &p->name) || !idn_string(call, "credentialProviderVendor", true, 64, &vendor))
        return false;
    const struct vendor *v = vendor_find(vendor);
    if (!v) {
        idn_error(call, AWS_VALIDATION, "credentialProviderVendor %.64s is not a known vendor", vendor);
        return false;
    }
    p->vendor = v->vendor;
    if (!config_member(call, v, &cfg) || !read_client(call, cfg, v->member, p, secret))
        return false;
    bool custom = strcmp(v->member, CUSTOM_MEMBER) == 0, included = strcmp(v->member, INCLUDED_MEMBER) == 0;
    if (!custom && !included && !vendor_has_preset(v->vendor)) {
        idn_error(call, AWS_VALIDATION, "credentialProviderVendor %s is not supported by silo yet: use CustomOauth2",
                  v->vendor);
        return false;
    }
    if ((custom && !read_custom_config(call, cfg, p)) || (included && !read_included_config(call, cfg, p)))
        return false;
    p->config = config_without_secret(cfg);
    return true;
}

/* ---------------------------------------------------------------- OAuth2: the answer */

/* The authorizationServerMetadata answered for a row without a discoveryUrl, with the
 * request's responseTypes and tokenEndpointAuthMethods when it gave them. */
static json_object *server_metadata(json_object *row)
{
    json_object *meta = json_object_new_object();
    copy_member(row, "issuer", meta);
    copy_member(row, "authorizationEndpoint", meta);
    copy_member(row, "tokenEndpoint", meta);
    json_object *given = member(member(member(row, "config"), "oauthDiscovery"), "authorizationServerMetadata");
    copy_member(given, "responseTypes", meta);
    copy_member(given, "tokenEndpointAuthMethods", meta);
    return meta;
}

/* oauth2ProviderConfigOutput: the vendor's union member with oauthDiscovery and clientId, and
 * for a custom provider its clientAuthenticationMethod. */
static json_object *config_output(json_object *row)
{
    const struct vendor *v = vendor_find(member_string(row, "credentialProviderVendor"));
    const char *member_name = v ? v->member : CUSTOM_MEMBER;
    json_object *disc = json_object_new_object(), *cfg = json_object_new_object(), *out = json_object_new_object();
    const char *url = member_string(row, "discoveryUrl");
    if (url)
        json_object_object_add(disc, "discoveryUrl", json_object_new_string(url));
    else
        json_object_object_add(disc, "authorizationServerMetadata", server_metadata(row));
    json_object_object_add(cfg, "oauthDiscovery", disc);
    copy_member(row, "clientId", cfg);
    if (strcmp(member_name, CUSTOM_MEMBER) == 0)
        json_object_object_add(cfg, "clientAuthenticationMethod", json_object_new_string(auth_method_to_api(
                                   member_string(row, "clientAuthenticationMethod"))));
    json_object_object_add(out, member_name, cfg);
    return out;
}

/* Create, Get and Update answers from a stored row; full adds the vendor and the times
 * (Get/Update, not Create). */
static json_object *oauth2_answer(struct identity *id, json_object *row, bool full)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "clientSecretArn", secret_ref(id, "oauth2-client-secret", member_string(row, "name")));
    json_object_object_add(o, "clientSecretSource", json_object_new_string("MANAGED"));
    copy_member(row, "name", o);
    copy_member(row, "credentialProviderArn", o);
    if (full)
        copy_member(row, "credentialProviderVendor", o);
    json_object_object_add(o, "callbackUrl", json_object_new_string(id->callback_url));
    json_object_object_add(o, "oauth2ProviderConfigOutput", config_output(row));
    json_object_object_add(o, "status", json_object_new_string("READY"));
    if (full)
        copy_times(row, o);
    return o;
}

/* ---------------------------------------------------------------- OAuth2: the operations */

/* Create (update false) or Update: checks, stores, answers with the stored row. */
static void store_oauth2(struct idn_call *call, bool update)
{
    struct idstore_oauth2_provider p;
    const char *secret = NULL;
    if (!read_oauth2_request(call, &p, &secret) || (!update && !tags_ok(call))) {
        json_object_put(p.config);
        return;
    }
    struct identity *id = call->id;
    char arn[ARN_LEN], err[256] = "";
    idn_oauth2_provider_arn(id, p.name, arn, sizeof arn);
    p.arn = arn;
    json_object *row = NULL;
    idn_lock(id);
    enum idstore_rc rc = update ? idstore_oauth2_update(id->db, id->vault, &p, secret, idn_now_ms(id), err, sizeof err)
                                : idstore_oauth2_create(id->db, id->vault, &p, secret, idn_now_ms(id), err, sizeof err);
    if (rc == ID_OK)
        rc = idstore_oauth2_get(id->db, p.name, &row);
    idn_unlock(id);
    json_object_put(p.config);
    if (rc != ID_OK) {
        idn_store_error(call, rc, OAUTH2_PROVIDER, err);
        return;
    }
    idn_answer(call, oauth2_answer(id, row, update));
    json_object_put(row);
}

void idn_create_oauth2(struct idn_call *call) { store_oauth2(call, false); }
void idn_update_oauth2(struct idn_call *call) { store_oauth2(call, true); }

void idn_get_oauth2(struct idn_call *call)
{
    const char *name;
    if (!provider_name(call, &name))
        return;
    json_object *row = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_oauth2_get(call->id->db, name, &row);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, OAUTH2_PROVIDER, NULL);
        return;
    }
    idn_answer(call, oauth2_answer(call->id, row, true));
    json_object_put(row);
}

void idn_delete_oauth2(struct idn_call *call)
{
    const char *name;
    if (!provider_name(call, &name))
        return;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_oauth2_delete(call->id->db, name);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, OAUTH2_PROVIDER, NULL);
    else
        idn_answer(call, NULL);
}

void idn_list_oauth2(struct idn_call *call)
{
    int max;
    const char *after;
    if (!idn_paging(call, &max, &after))
        return;
    idn_lock(call->id);
    json_object *rows = idstore_oauth2_list(call->id->db, after, max + 1);
    idn_unlock(call->id);
    static const char *const keep[] = { "name", "credentialProviderVendor", "credentialProviderArn", "createdTime",
                                        "lastUpdatedTime" };
    answer_list(call, rows, max, "credentialProviders", keep, sizeof keep / sizeof keep[0]);
}

/* ---------------------------------------------------------------- API-key credential providers */

static bool api_key_field(struct idn_call *call, const char **key)
{
    return managed_secret_only(call, call->req, "apiKey", "apiKeySecretConfig", "apiKeySecretSource") &&
           idn_string(call, "apiKey", true, MAX_API_KEY, key);
}

/* Create, Get and Update answers; full adds the times (Get/Update). */
static json_object *apikey_answer(struct identity *id, json_object *row, bool full)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "apiKeySecretArn", secret_ref(id, "api-key", member_string(row, "name")));
    json_object_object_add(o, "apiKeySecretSource", json_object_new_string("MANAGED"));
    copy_member(row, "name", o);
    copy_member(row, "credentialProviderArn", o);
    if (full)
        copy_times(row, o);
    return o;
}

static void store_apikey(struct idn_call *call, bool update)
{
    const char *name, *key;
    if (!provider_name(call, &name) || (!update && !tags_ok(call)) || !api_key_field(call, &key))
        return;
    struct identity *id = call->id;
    char arn[ARN_LEN], err[256] = "";
    idn_apikey_provider_arn(id, name, arn, sizeof arn);
    json_object *row = NULL;
    idn_lock(id);
    enum idstore_rc rc = update ? idstore_apikey_update(id->db, id->vault, name, key, idn_now_ms(id))
                                : idstore_apikey_create(id->db, id->vault, name, arn, key, idn_now_ms(id), err, sizeof err);
    if (rc == ID_OK)
        rc = idstore_apikey_get(id->db, name, &row);
    idn_unlock(id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, APIKEY_PROVIDER, err);
        return;
    }
    idn_answer(call, apikey_answer(id, row, update));
    json_object_put(row);
}

void idn_create_apikey(struct idn_call *call) { store_apikey(call, false); }
void idn_update_apikey(struct idn_call *call) { store_apikey(call, true); }

void idn_get_apikey(struct idn_call *call)
{
    const char *name;
    if (!provider_name(call, &name))
        return;
    json_object *row = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_apikey_get(call->id->db, name, &row);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, APIKEY_PROVIDER, NULL);
        return;
    }
    idn_answer(call, apikey_answer(call->id, row, true));
    json_object_put(row);
}

void idn_delete_apikey(struct idn_call *call)
{
    const char *name;
    if (!provider_name(call, &name))
        return;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_apikey_delete(call->id->db, name);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, APIKEY_PROVIDER, NULL);
    else
        idn_answer(call, NULL);
}

void idn_list_apikey(struct idn_call *call)
{
    int max;
    const char *after;
    if (!idn_paging(call, &max, &after))
        return;
    idn_lock(call->id);
    json_object *rows = idstore_apikey_list(call->id->db, after, max + 1);
    idn_unlock(call->id);
    static const char *const keep[] = { "name", "credentialProviderArn", "createdTime", "lastUpdatedTime" };
    answer_list(call, rows, max, "credentialProviders", keep, sizeof keep / sizeof keep[0]);
}

/* ---------------------------------------------------------------- the token vault */

/* GetTokenVault: silo has one vault, "default", sealed under its own master key (not KMS:
 * ServiceManagedKey). lastModifiedDate is the time of the answer (silo keeps no vault
 * configuration that changes). */
void idn_get_token_vault(struct idn_call *call)
{
    const char *vault_id;
    if (!idn_string(call, "tokenVaultId", false, 64, &vault_id))
        return;
    if (vault_id && !chars_in(vault_id, "_-")) {
        idn_error(call, AWS_VALIDATION, "tokenVaultId must be 1 to 64 characters of [A-Za-z0-9_-]");
        return;
    }
    if (vault_id && strcmp(vault_id, "default") != 0) {
        idn_error(call, AWS_NOT_FOUND, "token vault %s not found", vault_id);
        return;
    }
    json_object *o = json_object_new_object(), *kms = json_object_new_object();
    json_object_object_add(o, "tokenVaultId", json_object_new_string("default"));
    json_object_object_add(kms, "keyType", json_object_new_string("ServiceManagedKey"));
    json_object_object_add(o, "kmsConfiguration", kms);
    json_object_object_add(o, "lastModifiedDate", json_object_new_int64(idn_now_s(call->id)));
    idn_answer(call, o);
}
