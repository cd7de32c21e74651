/* frontend/identity_control.c — AgentCore Identity's control plane (identity_internal.h):
 * workload identities, OAuth2 and API-key credential providers, GetTokenVault. Requests are
 * validated here, stored by identity_store.c (every secret in the token vault), and answered
 * in the shapes of @aws-sdk/client-bedrock-agentcore-control: Get and List never carry a
 * secret, only its ARN. */
#include "frontend/identity_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"

#define MAX_NAME 255
#define MAX_URL 2048
#define MAX_RETURN_URLS 10
#define MAX_SECRET 2048
#define MAX_TAGS 50

/* ---------------------------------------------------------------- shared pieces */

/* A store row's epoch-seconds number, copied into o (restJson1 timestamps are numbers). */
static void copy_member(json_object *from, const char *key, json_object *to, const char *as)
{
    json_object *v;
    if (json_object_object_get_ex(from, key, &v) && v)
        json_object_object_add(to, as ? as : key, json_object_get(v));
}

static json_object *secret_ref(struct identity *id, const char *kind, const char *name)
{
    char arn[600];
    idn_secret_arn(id, kind, name, arn, sizeof arn);
    json_object *s = json_object_new_object();
    json_object_object_add(s, "secretArn", json_object_new_string(arn));
    return s;
}

/* `tags`: accepted as AgentCore does (a map of at most 50 strings), checked, not kept. */
static bool tags_ok(struct idn_call *call)
{
    json_object *t;
    if (!json_object_object_get_ex(call->req, "tags", &t) || json_object_is_type(t, json_type_null))
        return true;
    if (!json_object_is_type(t, json_type_object) || json_object_object_length(t) > MAX_TAGS) {
        idn_error(call, AWS_VALIDATION, "tags must be a map of at most %d strings", MAX_TAGS);
        return false;
    }
    json_object_object_foreach(t, k, v) {
        if (!*k || strlen(k) > 128 || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 256) {
            idn_error(call, AWS_VALIDATION, "tags must map keys of 1-128 characters to values of at most 256");
            return false;
        }
    }
    return true;
}

static bool name_of(struct idn_call *call, const char **name)
{
    return idn_string(call, "name", true, MAX_NAME, name);
}

/* ---------------------------------------------------------------- workload identities */

void idn_create_workload(struct idn_call *call)
{
    const char *name;
    json_object *urls;
    if (!name_of(call, &name) || !idn_string_array(call, "allowedResourceOauth2ReturnUrls", MAX_RETURN_URLS, MAX_URL, &urls) ||
        !tags_ok(call))
        return;
    char arn[600], err[256] = "";
    idn_workload_arn(call->id, name, arn, sizeof arn);
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_create(call->id->db, name, arn, urls, idn_now_ms(call->id), err, sizeof err);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "workload identity", err);
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
    if (!name_of(call, &name))
        return;
    json_object *o = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_get(call->id->db, name, &o);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "workload identity", NULL);
    else
        idn_answer(call, o);
}

void idn_update_workload(struct idn_call *call)
{
    const char *name;
    json_object *urls;
    if (!name_of(call, &name) || !idn_string_array(call, "allowedResourceOauth2ReturnUrls", MAX_RETURN_URLS, MAX_URL, &urls))
        return;
    char err[256] = "";
    json_object *o = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_update(call->id->db, name, urls, idn_now_ms(call->id), err, sizeof err);
    if (rc == ID_OK)
        rc = idstore_workload_get(call->id->db, name, &o);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "workload identity", err);
    else
        idn_answer(call, o);
}

void idn_delete_workload(struct idn_call *call)
{
    const char *name;
    if (!name_of(call, &name))
        return;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_workload_delete(call->id->db, name);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "workload identity", NULL);
    else
        idn_answer(call, NULL);
}

/* One List answer: items (a JSON array of get-shaped rows) reshaped by keep (the members an
 * item carries) under list_key, with nextToken when the page is full. */
static void answer_list(struct idn_call *call, json_object *rows, int max, const char *list_key,
                        const char *const *keep, size_t keep_count)
{
    if (!rows) {
        idn_error(call, AWS_INTERNAL, "the list could not be read");
        return;
    }
    json_object *items = json_object_new_array();
    size_t n = json_object_array_length(rows);
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_array_get_idx(rows, i), *item = json_object_new_object();
        for (size_t k = 0; k < keep_count; k++)
            copy_member(row, keep[k], item, NULL);
        json_object_array_add(items, item);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, list_key, items);
    if (n > 0 && (int)n == max) {
        json_object *last = json_object_array_get_idx(rows, n - 1), *nm;
        if (json_object_object_get_ex(last, "name", &nm))
            json_object_object_add(o, "nextToken", json_object_get(nm));
    }
    json_object_put(rows);
    idn_answer(call, o);
}

void idn_list_workloads(struct idn_call *call)
{
    int max;
    const char *after;
    if (!idn_paging(call, &max, &after))
        return;
    idn_lock(call->id);
    json_object *rows = idstore_workload_list(call->id->db, after, max);
    idn_unlock(call->id);
    static const char *const keep[] = { "name", "workloadIdentityArn" };
    answer_list(call, rows, max, "workloadIdentities", keep, 2);
}

/* ---------------------------------------------------------------- OAuth2 credential providers */

/* "GithubOauth2" → "githubOauth2ProviderConfig" (the union member of that vendor). */
static bool vendor_member(const char *vendor, char *out, size_t len)
{
    const char *suffix = strstr(vendor, "Oauth2");
    size_t base = suffix ? (size_t)(suffix - vendor) : 0;
    if (!suffix || base == 0 || strcmp(suffix, "Oauth2") != 0 || base + 32 > len)
        return false;
    snprintf(out, len, "%.*sOauth2ProviderConfig", (int)base, vendor);
    out[0] = (char)tolower((unsigned char)out[0]);
    return true;
}

/* AgentCore's CLIENT_SECRET_BASIC / CLIENT_SECRET_POST ↔ the store's OAuth2 names. */
static const char *auth_method_from_api(const char *m)
{
    if (!m)
        return NULL;
    if (strcmp(m, "CLIENT_SECRET_BASIC") == 0)
        return "client_secret_basic";
    if (strcmp(m, "CLIENT_SECRET_POST") == 0)
        return "client_secret_post";
    return "";
}

static const char *auth_method_to_api(const char *m)
{
    return m && strcmp(m, "client_secret_post") == 0 ? "CLIENT_SECRET_POST" : "CLIENT_SECRET_BASIC";
}

static const char *member_string(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                                   : NULL;
}

/* Reads and checks a Create/Update request's vendor and config into p (strings borrowed from
 * call->req) and the client secret. p->config gets a copy of the config without the secret. */
static bool read_oauth2_request(struct idn_call *call, const char *name, struct idstore_oauth2_provider *p,
                                const char **secret, char *arn, size_t arn_len)
{
    const char *vendor;
    json_object *input, *cfg = NULL;
    if (!idn_string(call, "credentialProviderVendor", true, 64, &vendor))
        return false;
    char member[96];
    if (!vendor_member(vendor, member, sizeof member)) {
        idn_error(call, AWS_VALIDATION, "credentialProviderVendor %.64s is not supported", vendor);
        return false;
    }
    if (!json_object_object_get_ex(call->req, "oauth2ProviderConfigInput", &input) ||
        !json_object_is_type(input, json_type_object) || json_object_object_length(input) != 1) {
        idn_error(call, AWS_VALIDATION, "oauth2ProviderConfigInput must hold exactly one provider configuration");
        return false;
    }
    const char *given = NULL;
    json_object_object_foreach(input, k, v) {
        given = k;
        cfg = v;
    }
    if (strcmp(given, member) != 0 || !json_object_is_type(cfg, json_type_object)) {
        idn_error(call, AWS_VALIDATION, "credentialProviderVendor %.64s takes %s", vendor, member);
        return false;
    }
    memset(p, 0, sizeof *p);
    p->name = name;
    p->vendor = vendor;
    p->client_id = member_string(cfg, "clientId");
    *secret = member_string(cfg, "clientSecret");
    if (!p->client_id || !*p->client_id || strlen(p->client_id) > 256 || !*secret || !**secret ||
        strlen(*secret) > MAX_SECRET) {
        idn_error(call, AWS_VALIDATION, "clientId and clientSecret are required (a secret reference is not supported)");
        return false;
    }
    const char *method = auth_method_from_api(member_string(cfg, "clientAuthenticationMethod"));
    if (method && !*method) {
        idn_error(call, AWS_VALIDATION, "clientAuthenticationMethod must be CLIENT_SECRET_BASIC or CLIENT_SECRET_POST");
        return false;
    }
    p->auth_method = method;
    json_object *disc, *meta;
    if (json_object_object_get_ex(cfg, "oauthDiscovery", &disc)) {
        bool has_url = json_object_object_get_ex(disc, "discoveryUrl", NULL);
        bool has_meta = json_object_object_get_ex(disc, "authorizationServerMetadata", &meta);
        if (!json_object_is_type(disc, json_type_object) || has_url == has_meta) {
            idn_error(call, AWS_VALIDATION, "oauthDiscovery needs exactly one of discoveryUrl and authorizationServerMetadata");
            return false;
        }
        p->discovery_url = member_string(disc, "discoveryUrl");
        if (has_meta) {
            p->issuer = member_string(meta, "issuer");
            p->authorization_endpoint = member_string(meta, "authorizationEndpoint");
            p->token_endpoint = member_string(meta, "tokenEndpoint");
        }
    } else {   /* the included vendors' inputs name the endpoints directly */
        p->issuer = member_string(cfg, "issuer");
        p->authorization_endpoint = member_string(cfg, "authorizationEndpoint");
        p->token_endpoint = member_string(cfg, "tokenEndpoint");
    }
    const char *urls[] = { p->discovery_url, p->issuer, p->authorization_endpoint, p->token_endpoint };
    for (size_t i = 0; i < 4; i++)
        if (urls[i] && (strlen(urls[i]) > MAX_URL || (strncmp(urls[i], "https://", 8) != 0 && strncmp(urls[i], "http://", 7) != 0))) {
            idn_error(call, AWS_VALIDATION, "provider URLs must be absolute http(s) URLs of at most %d characters", MAX_URL);
            return false;
        }
    p->config = json_object_new_object();
    json_object_object_foreach(cfg, ck, cv) {
        if (strcmp(ck, "clientSecret") != 0)
            json_object_object_add(p->config, ck, json_object_get(cv));
    }
    idn_oauth2_provider_arn(call->id, name, arn, arn_len);
    p->arn = arn;
    return true;
}

/* The SDK's oauth2ProviderConfigOutput from a stored row (idstore_oauth2_get's shape). */
static json_object *oauth2_config_output(json_object *row)
{
    const char *vendor = member_string(row, "credentialProviderVendor");
    char member[96];
    if (!vendor || !vendor_member(vendor, member, sizeof member))
        snprintf(member, sizeof member, "customOauth2ProviderConfig");
    json_object *disc = json_object_new_object(), *cfg = json_object_new_object();
    const char *url = member_string(row, "discoveryUrl");
    if (url) {
        json_object_object_add(disc, "discoveryUrl", json_object_new_string(url));
    } else {
        json_object *meta = json_object_new_object();
        copy_member(row, "issuer", meta, NULL);
        copy_member(row, "authorizationEndpoint", meta, NULL);
        copy_member(row, "tokenEndpoint", meta, NULL);
        json_object_object_add(disc, "authorizationServerMetadata", meta);
    }
    json_object_object_add(cfg, "oauthDiscovery", disc);
    copy_member(row, "clientId", cfg, NULL);
    json_object_object_add(cfg, "clientAuthenticationMethod",
                           json_object_new_string(auth_method_to_api(member_string(row, "clientAuthenticationMethod"))));
    json_object *out = json_object_new_object();
    json_object_object_add(out, member, cfg);
    return out;
}

/* Create / Update / Get answers: the row reshaped, the secret's ARN, the callback URL. */
static json_object *oauth2_answer(struct idn_call *call, json_object *row, bool with_times)
{
    const char *name = member_string(row, "name");
    json_object *o = json_object_new_object();
    json_object_object_add(o, "clientSecretArn", secret_ref(call->id, "oauth2-client-secret", name ? name : ""));
    copy_member(row, "name", o, NULL);
    copy_member(row, "credentialProviderArn", o, NULL);
    copy_member(row, "credentialProviderVendor", o, NULL);
    json_object_object_add(o, "callbackUrl", json_object_new_string(call->id->callback_url));
    json_object_object_add(o, "oauth2ProviderConfigOutput", oauth2_config_output(row));
    json_object_object_add(o, "status", json_object_new_string("READY"));
    if (with_times) {
        copy_member(row, "createdTime", o, NULL);
        copy_member(row, "lastUpdatedTime", o, NULL);
    }
    return o;
}

/* Stores the provider (create, or with replace a delete and create in one transaction) and
 * answers with its row. */
static void store_oauth2(struct idn_call *call, bool replace)
{
    const char *name, *secret;
    struct idstore_oauth2_provider p;
    char arn[600], err[256] = "";
    if (!name_of(call, &name) || (!replace && !tags_ok(call)) || !read_oauth2_request(call, name, &p, &secret, arn, sizeof arn))
        return;
    struct identity *id = call->id;
    json_object *row = NULL;
    idn_lock(id);
    enum idstore_rc rc = ID_OK;
    bool tx = !replace || sqlite3_exec(id->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    if (!tx)
        rc = ID_ERROR;
    if (rc == ID_OK && replace)
        rc = idstore_oauth2_delete(id->db, name);
    if (rc == ID_OK)
        rc = idstore_oauth2_create(id->db, id->vault, &p, secret, idn_now_ms(id), err, sizeof err);
    if (replace && tx)
        sqlite3_exec(id->db, rc == ID_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    if (rc == ID_OK)
        rc = idstore_oauth2_get(id->db, name, &row);
    idn_unlock(id);
    json_object_put(p.config);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "OAuth2 credential provider", err);
        return;
    }
    idn_answer(call, oauth2_answer(call, row, replace));
    json_object_put(row);
}

void idn_create_oauth2(struct idn_call *call) { store_oauth2(call, false); }
void idn_update_oauth2(struct idn_call *call) { store_oauth2(call, true); }

void idn_get_oauth2(struct idn_call *call)
{
    const char *name;
    if (!name_of(call, &name))
        return;
    json_object *row = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_oauth2_get(call->id->db, name, &row);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "OAuth2 credential provider", NULL);
        return;
    }
    idn_answer(call, oauth2_answer(call, row, true));
    json_object_put(row);
}

void idn_delete_oauth2(struct idn_call *call)
{
    const char *name;
    if (!name_of(call, &name))
        return;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_oauth2_delete(call->id->db, name);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "OAuth2 credential provider", NULL);
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
    json_object *rows = idstore_oauth2_list(call->id->db, after, max);
    idn_unlock(call->id);
    static const char *const keep[] = { "name", "credentialProviderVendor", "credentialProviderArn", "createdTime",
                                        "lastUpdatedTime" };
    answer_list(call, rows, max, "credentialProviders", keep, 5);
}

/* ---------------------------------------------------------------- API-key credential providers */

static bool api_key_of(struct idn_call *call, const char **key)
{
    if (json_object_object_get_ex(call->req, "apiKeySecretConfig", NULL)) {
        idn_error(call, AWS_VALIDATION, "apiKeySecretConfig (an external secret) is not supported: give apiKey");
        return false;
    }
    return idn_string(call, "apiKey", true, 65536, key);
}

static json_object *apikey_answer(struct idn_call *call, json_object *row, bool with_times)
{
    json_object *o = json_object_new_object();
    const char *name = member_string(row, "name");
    json_object_object_add(o, "apiKeySecretArn", secret_ref(call->id, "api-key", name ? name : ""));
    copy_member(row, "name", o, NULL);
    copy_member(row, "credentialProviderArn", o, NULL);
    if (with_times) {
        copy_member(row, "createdTime", o, NULL);
        copy_member(row, "lastUpdatedTime", o, NULL);
    }
    return o;
}

static void store_apikey(struct idn_call *call, bool update)
{
    const char *name, *key;
    if (!name_of(call, &name) || (!update && !tags_ok(call)) || !api_key_of(call, &key))
        return;
    char arn[600], err[256] = "";
    idn_apikey_provider_arn(call->id, name, arn, sizeof arn);
    json_object *row = NULL;
    struct identity *id = call->id;
    idn_lock(id);
    enum idstore_rc rc = update ? idstore_apikey_update(id->db, id->vault, name, key, idn_now_ms(id))
                                : idstore_apikey_create(id->db, id->vault, name, arn, key, idn_now_ms(id), err, sizeof err);
    if (rc == ID_OK)
        rc = idstore_apikey_get(id->db, name, &row);
    idn_unlock(id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "API key credential provider", err);
        return;
    }
    idn_answer(call, apikey_answer(call, row, update));
    json_object_put(row);
}

void idn_create_apikey(struct idn_call *call) { store_apikey(call, false); }
void idn_update_apikey(struct idn_call *call) { store_apikey(call, true); }

void idn_get_apikey(struct idn_call *call)
{
    const char *name;
    if (!name_of(call, &name))
        return;
    json_object *row = NULL;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_apikey_get(call->id->db, name, &row);
    idn_unlock(call->id);
    if (rc != ID_OK) {
        idn_store_error(call, rc, "API key credential provider", NULL);
        return;
    }
    idn_answer(call, apikey_answer(call, row, true));
    json_object_put(row);
}

void idn_delete_apikey(struct idn_call *call)
{
    const char *name;
    if (!name_of(call, &name))
        return;
    idn_lock(call->id);
    enum idstore_rc rc = idstore_apikey_delete(call->id->db, name);
    idn_unlock(call->id);
    if (rc != ID_OK)
        idn_store_error(call, rc, "API key credential provider", NULL);
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
    json_object *rows = idstore_apikey_list(call->id->db, after, max);
    idn_unlock(call->id);
    static const char *const keep[] = { "name", "credentialProviderArn", "createdTime", "lastUpdatedTime" };
    answer_list(call, rows, max, "credentialProviders", keep, 4);
}

/* ---------------------------------------------------------------- the token vault */

/* GetTokenVault: silod has one vault ("default") under its own master key (not KMS). */
void idn_get_token_vault(struct idn_call *call)
{
    const char *vault_id;
    if (!idn_string(call, "tokenVaultId", false, 64, &vault_id))
        return;
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
