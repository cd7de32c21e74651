/* frontend/identity_store.c — workload identities, credential providers, user tokens and 3LO
 * sessions on SQLite, secrets in the token vault (see identity_store.h). */
#include "frontend/identity_store.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "frontend/b64url.h"
#include "frontend/store.h"

/* --- vendor presets: configuration data, one JSON document ---------------------------------
 * Each entry: the vendor name AgentCore uses, and what a CustomOauth2 request would otherwise
 * have to give. Adding a vendor is adding an entry here, not code. */
static const char VENDOR_PRESETS[] =
    "{"
    " \"GithubOauth2\": {"
    "   \"issuer\": \"https://github.com\","
    "   \"authorizationEndpoint\": \"https://github.com/login/oauth/authorize\","
    "   \"tokenEndpoint\": \"https://github.com/login/oauth/access_token\","
    "   \"clientAuthenticationMethod\": \"client_secret_post\" },"
    " \"GoogleOauth2\": {"
    "   \"issuer\": \"https://accounts.google.com\","
    "   \"discoveryUrl\": \"https://accounts.google.com/.well-known/openid-configuration\","
    "   \"authorizationEndpoint\": \"https://accounts.google.com/o/oauth2/v2/auth\","
    "   \"tokenEndpoint\": \"https://oauth2.googleapis.com/token\","
    "   \"clientAuthenticationMethod\": \"client_secret_post\" },"
    " \"SlackOauth2\": {"
    "   \"issuer\": \"https://slack.com\","
    "   \"authorizationEndpoint\": \"https://slack.com/oauth/v2/authorize\","
    "   \"tokenEndpoint\": \"https://slack.com/api/oauth.v2.access\","
    "   \"clientAuthenticationMethod\": \"client_secret_post\" }"
    "}";

static json_object *presets;

static const char *preset_field(json_object *e, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(e, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

bool idstore_vendor_preset(const char *vendor, const char **issuer, const char **authorization_endpoint,
                           const char **token_endpoint, const char **auth_method, const char **discovery_url)
{
    if (!presets)
        presets = json_tokener_parse(VENDOR_PRESETS);   /* parsed once; built-in, cannot fail */
    json_object *e;
    if (!vendor || !presets || !json_object_object_get_ex(presets, vendor, &e))
        return false;
    *issuer = preset_field(e, "issuer");
    *authorization_endpoint = preset_field(e, "authorizationEndpoint");
    *token_endpoint = preset_field(e, "tokenEndpoint");
    *auth_method = preset_field(e, "clientAuthenticationMethod");
    *discovery_url = preset_field(e, "discoveryUrl");
    return true;
}

const char *idstore_rc_text(enum idstore_rc rc)
{
    switch (rc) {
    case ID_OK: return "ok";
    case ID_NOT_FOUND: return "not found";
    case ID_EXISTS: return "already exists";
    case ID_INVALID: return "invalid request";
    case ID_FORBIDDEN: return "not allowed";
    case ID_ERROR: return "internal error";
    }
    return "?";
}

/* --- schema ------------------------------------------------------------------------------ */

static const char *const migrations[] = {
    /* 0 → 1 */
    "CREATE TABLE identity_workloads ("
    "  name TEXT PRIMARY KEY, arn TEXT NOT NULL, return_urls TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE identity_oauth2_providers ("
    "  name TEXT PRIMARY KEY, arn TEXT NOT NULL, vendor TEXT NOT NULL, client_id TEXT NOT NULL,"
    "  auth_method TEXT NOT NULL, discovery_url TEXT, issuer TEXT, authorization_endpoint TEXT,"
    "  token_endpoint TEXT, config TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE identity_apikey_providers ("
    "  name TEXT PRIMARY KEY, arn TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE identity_user_tokens ("
    "  id TEXT PRIMARY KEY, workload TEXT NOT NULL, user_kind INTEGER NOT NULL, user_id TEXT NOT NULL,"
    "  provider TEXT NOT NULL, scopes TEXT NOT NULL, expires_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX identity_user_tokens_by_workload ON identity_user_tokens (workload);"
    "CREATE INDEX identity_user_tokens_by_provider ON identity_user_tokens (provider);"
    "CREATE TABLE identity_oauth2_sessions ("
    "  session_uri TEXT PRIMARY KEY, state_hash TEXT NOT NULL UNIQUE, workload TEXT NOT NULL,"
    "  user_kind INTEGER NOT NULL, user_id TEXT NOT NULL, provider TEXT NOT NULL, scopes TEXT NOT NULL,"
    "  return_url TEXT, custom_state TEXT, status INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL, token_expires_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX identity_oauth2_sessions_by_expiry ON identity_oauth2_sessions (expires_at);",
};

int idstore_schema_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(db, "SELECT version FROM identity_schema", -1, &st, NULL) == SQLITE_OK) {
        v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
    }
    return v;
}

bool idstore_init(sqlite3 *db, char *err, size_t err_len)
{
    if (!vault_schema(db, err, err_len) ||
        !store_exec_sql(db, "CREATE TABLE IF NOT EXISTS identity_schema (version INTEGER NOT NULL)", err, err_len))
        return false;
    int have = idstore_schema_version(db);
    int want = (int)(sizeof migrations / sizeof migrations[0]);
    if (have < 0 || have > want) {
        snprintf(err, err_len, "identity schema version %d; this silod knows up to %d", have, want);
        return false;
    }
    for (int v = have; v < want; v++) {
        char bump[96];
        snprintf(bump, sizeof bump, "DELETE FROM identity_schema; INSERT INTO identity_schema VALUES (%d);", v + 1);
        if (!store_exec_sql(db, "BEGIN IMMEDIATE", err, err_len) || !store_exec_sql(db, migrations[v], err, err_len) ||
            !store_exec_sql(db, bump, err, err_len) || !store_exec_sql(db, "COMMIT", err, err_len)) {
            store_exec_sql(db, "ROLLBACK", NULL, 0);
            return false;
        }
    }
    return true;
}

/* --- small helpers ------------------------------------------------------------------------ */

static bool tx_begin(sqlite3 *db, bool *own)
{
    *own = sqlite3_get_autocommit(db) != 0;
    return store_exec_sql(db, *own ? "BEGIN IMMEDIATE" : "SAVEPOINT idstore_tx", NULL, 0);
}
static enum idstore_rc tx_end(sqlite3 *db, bool own, enum idstore_rc rc)
{
    if (rc == ID_OK) {
        if (store_exec_sql(db, own ? "COMMIT" : "RELEASE idstore_tx", NULL, 0))
            return ID_OK;
        rc = ID_ERROR;
    }
    store_exec_sql(db, own ? "ROLLBACK" : "ROLLBACK TO idstore_tx; RELEASE idstore_tx", NULL, 0);
    return rc;
}

/* Prepares sql and binds each following argument as text (NULL binds NULL). */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql, int n, ...)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "silod: identity store: prepare failed: %s\n", sqlite3_errmsg(db));
        return NULL;
    }
    va_list ap;
    va_start(ap, n);
    for (int i = 1; i <= n; i++) {
        const char *s = va_arg(ap, const char *);
        if (s)
            sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, i);
    }
    va_end(ap);
    return st;
}

/* Steps a statement that returns no row; finalizes it. */
static enum idstore_rc run(sqlite3_stmt *st)
{
    if (!st)
        return ID_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return ID_EXISTS;
    return rc == SQLITE_DONE ? ID_OK : ID_ERROR;
}

static bool valid_name(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

static bool printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool is_url(const char *s, bool allow_local_http)
{
    if (!printable(s, 2048))
        return false;
    if (strncmp(s, "https://", 8) == 0)
        return s[8] != 0 && s[8] != '/';
    if (allow_local_http)
        return strncmp(s, "http://localhost", 16) == 0 || strncmp(s, "http://127.0.0.1", 16) == 0;
    return false;
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static char *dupcol(sqlite3_stmt *st, int i)
{
    const char *s = col(st, i);
    return s ? strdup(s) : NULL;
}

static void add_str(json_object *o, const char *key, const char *val)
{
    if (val)
        json_object_object_add(o, key, json_object_new_string(val));
}

static void add_time(json_object *o, const char *key, int64_t ms)
{
    json_object_object_add(o, key, json_object_new_double((double)ms / 1000.0));
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
    uint8_t d[32];
    unsigned int dl = 0;
    EVP_Digest(data, n, d, &dl, EVP_sha256(), NULL);
    hex(d, 32, out);
}

static bool same_user(enum wat_user_kind ka, const char *a, enum wat_user_kind kb, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return ka == kb && la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* --- workload identities ------------------------------------------------------------------ */

static enum idstore_rc check_return_urls(json_object *urls, const char **text, char *err, size_t err_len)
{
    *text = "[]";
    if (!urls)
        return ID_OK;
    if (!json_object_is_type(urls, json_type_array) || json_object_array_length(urls) > 10) {
        snprintf(err, err_len, "allowedResourceOauth2ReturnUrls must be an array of at most 10 URLs");
        return ID_INVALID;
    }
    for (size_t i = 0; i < json_object_array_length(urls); i++) {
        json_object *u = json_object_array_get_idx(urls, i);
        if (!json_object_is_type(u, json_type_string) || !is_url(json_object_get_string(u), true)) {
            snprintf(err, err_len, "allowedResourceOauth2ReturnUrls[%zu] must be an https URL", i);
            return ID_INVALID;
        }
    }
    *text = json_object_to_json_string_ext(urls, JSON_C_TO_STRING_PLAIN);
    return ID_OK;
}

enum idstore_rc idstore_workload_create(sqlite3 *db, const char *name, const char *arn, json_object *return_urls,
                                        int64_t now_ms, char *err, size_t err_len)
{
    if (!valid_name(name, 3, 255) || !printable(arn, 2048)) {
        snprintf(err, err_len, "name must be 3-255 characters of [A-Za-z0-9_.-]");
        return ID_INVALID;
    }
    const char *urls;
    enum idstore_rc rc = check_return_urls(return_urls, &urls, err, err_len);
    if (rc != ID_OK)
        return rc;
    sqlite3_stmt *st = prep(db, "INSERT INTO identity_workloads VALUES (?,?,?,?5,?5)", 3, name, arn, urls);
    if (st)
        sqlite3_bind_int64(st, 5, now_ms);
    rc = run(st);
    if (rc == ID_EXISTS)
        snprintf(err, err_len, "a workload identity named %s already exists", name);
    return rc;
}

enum idstore_rc idstore_workload_update(sqlite3 *db, const char *name, json_object *return_urls, int64_t now_ms,
                                        char *err, size_t err_len)
{
    const char *urls;
    enum idstore_rc rc = check_return_urls(return_urls, &urls, err, err_len);
    if (rc != ID_OK)
        return rc;
    sqlite3_stmt *st = prep(db, "UPDATE identity_workloads SET return_urls = ?, updated_at = ?3 WHERE name = ?2", 2,
                            urls, name);
    if (st)
        sqlite3_bind_int64(st, 3, now_ms);
    rc = run(st);
    return rc == ID_OK && sqlite3_changes(db) == 0 ? ID_NOT_FOUND : rc;
}

/* The rows sql selects (`... WHERE name > ?1 ORDER BY name LIMIT ?2`) after the name `after`
 * (NULL: from the start), at most max, each through row; an empty array when the query fails. */
static json_object *list_by_name(sqlite3 *db, const char *sql, const char *after, int max,
                                 json_object *(*row)(sqlite3_stmt *))
{
    json_object *a = json_object_new_array();
    sqlite3_stmt *st = prep(db, sql, 1, after ? after : "");
    if (!st)
        return a;
    sqlite3_bind_int(st, 2, max);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_array_add(a, row(st));
    sqlite3_finalize(st);
    return a;
}

static json_object *workload_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    add_str(o, "name", col(st, 0));
    add_str(o, "workloadIdentityArn", col(st, 1));
    json_object *urls = json_tokener_parse(col(st, 2) ? col(st, 2) : "[]");
    json_object_object_add(o, "allowedResourceOauth2ReturnUrls", urls ? urls : json_object_new_array());
    add_time(o, "createdTime", sqlite3_column_int64(st, 3));
    add_time(o, "lastUpdatedTime", sqlite3_column_int64(st, 4));
    return o;
}

enum idstore_rc idstore_workload_get(sqlite3 *db, const char *name, json_object **out)
{
    *out = NULL;
    sqlite3_stmt *st = prep(db, "SELECT name, arn, return_urls, created_at, updated_at FROM identity_workloads "
                                "WHERE name = ?", 1, name);
    if (!st)
        return ID_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = workload_row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? ID_OK : rc == SQLITE_DONE ? ID_NOT_FOUND : ID_ERROR;
}

bool idstore_workload_allows_return_url(sqlite3 *db, const char *name, const char *url)
{
    sqlite3_stmt *st = prep(db, "SELECT 1 FROM identity_workloads, json_each(identity_workloads.return_urls) "
                                "WHERE name = ? AND json_each.value = ?", 2, name, url);
    bool ok = st && url && sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return ok;
}

json_object *idstore_workload_list(sqlite3 *db, const char *after, int max)
{
    return list_by_name(db, "SELECT name, arn, return_urls, created_at, updated_at FROM identity_workloads "
                                "WHERE name > ? ORDER BY name LIMIT ?2", after, max, workload_row);
}

/* Deletes user tokens and sessions matching column = value, their vault rows first. */
static enum idstore_rc delete_dependents(sqlite3 *db, const char *column, const char *value)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "DELETE FROM vault_secrets WHERE kind IN ('user-access','user-refresh') AND name IN "
             "(SELECT id FROM identity_user_tokens WHERE %s = ?)", column);
    enum idstore_rc rc = run(prep(db, sql, 1, value));
    snprintf(sql, sizeof sql,
             "DELETE FROM vault_secrets WHERE kind IN ('pkce','pending-access','pending-refresh') AND name IN "
             "(SELECT session_uri FROM identity_oauth2_sessions WHERE %s = ?)", column);
    if (rc == ID_OK)
        rc = run(prep(db, sql, 1, value));
    snprintf(sql, sizeof sql, "DELETE FROM identity_user_tokens WHERE %s = ?", column);
    if (rc == ID_OK)
        rc = run(prep(db, sql, 1, value));
    snprintf(sql, sizeof sql, "DELETE FROM identity_oauth2_sessions WHERE %s = ?", column);
    if (rc == ID_OK)
        rc = run(prep(db, sql, 1, value));
    return rc;
}

enum idstore_rc idstore_workload_delete(sqlite3 *db, const char *name)
{
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    enum idstore_rc rc = run(prep(db, "DELETE FROM identity_workloads WHERE name = ?", 1, name));
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK)
        rc = delete_dependents(db, "workload", name);
    return tx_end(db, own, rc);
}

/* --- OAuth2 providers ---------------------------------------------------------------------- */

/* Checks p and fills in what its vendor implies (q: p with the preset's endpoints and the
 * default auth method). A vendor without a preset is accepted when the request names all three
 * of issuer, authorizationEndpoint and tokenEndpoint (includedOauth2ProviderConfig carries them
 * for tenant-specific vendors such as Okta or Auth0). */
static enum idstore_rc oauth2_resolve(const struct idstore_oauth2_provider *p, const char *client_secret,
                                      struct idstore_oauth2_provider *q, char *err, size_t err_len)
{
    if (!valid_name(p->name, 1, 128)) {
        snprintf(err, err_len, "name must be 1-128 characters of [A-Za-z0-9_.-]");
        return ID_INVALID;
    }
    if (!printable(p->client_id, 256) || !client_secret || !client_secret[0] || strlen(client_secret) > 2048) {
        snprintf(err, err_len, "clientId and clientSecret are required");
        return ID_INVALID;
    }
    *q = *p;
    bool explicit = q->issuer || q->authorization_endpoint || q->token_endpoint;
    if (!q->vendor || strcmp(q->vendor, "CustomOauth2") == 0) {
        q->vendor = "CustomOauth2";
        if (!!q->discovery_url == explicit) {
            snprintf(err, err_len, "oauthDiscovery needs exactly one of discoveryUrl and authorizationServerMetadata");
            return ID_INVALID;
        }
        if (q->discovery_url ? !is_url(q->discovery_url, false) && strncmp(q->discovery_url, "http://", 7) != 0
                             : !q->issuer || !is_url(q->authorization_endpoint, true) || !is_url(q->token_endpoint, true)) {
            snprintf(err, err_len, "discoveryUrl, or issuer, authorizationEndpoint and tokenEndpoint, must be URLs");
            return ID_INVALID;
        }
    } else {
        const char *iss = NULL, *az = NULL, *tok = NULL, *auth = NULL, *disc = NULL;
        bool complete = q->issuer && q->authorization_endpoint && q->token_endpoint;
        if (!idstore_vendor_preset(q->vendor, &iss, &az, &tok, &auth, &disc) && !complete) {
            snprintf(err, err_len, "credentialProviderVendor %.64s is not supported without issuer, "
                     "authorizationEndpoint and tokenEndpoint", q->vendor);
            return ID_INVALID;
        }
        if ((q->authorization_endpoint && !is_url(q->authorization_endpoint, true)) ||
            (q->token_endpoint && !is_url(q->token_endpoint, true))) {
            snprintf(err, err_len, "authorizationEndpoint and tokenEndpoint must be https URLs");
            return ID_INVALID;
        }
        q->issuer = q->issuer ? q->issuer : iss;
        q->authorization_endpoint = q->authorization_endpoint ? q->authorization_endpoint : az;
        q->token_endpoint = q->token_endpoint ? q->token_endpoint : tok;
        q->discovery_url = q->discovery_url ? q->discovery_url : disc;
        q->auth_method = q->auth_method ? q->auth_method : auth;
    }
    if (!q->auth_method)
        q->auth_method = "client_secret_basic";
    if (strcmp(q->auth_method, "client_secret_basic") != 0 && strcmp(q->auth_method, "client_secret_post") != 0) {
        snprintf(err, err_len, "clientAuthenticationMethod must be client_secret_basic or client_secret_post");
        return ID_INVALID;
    }
    return ID_OK;
}

static const char *config_text(const struct idstore_oauth2_provider *q)
{
    return q->config ? json_object_to_json_string_ext(q->config, JSON_C_TO_STRING_PLAIN) : NULL;
}

enum idstore_rc idstore_oauth2_create(sqlite3 *db, const struct vault *v, const struct idstore_oauth2_provider *p,
                                      const char *client_secret, int64_t now_ms, char *err, size_t err_len)
{
    struct idstore_oauth2_provider q;
    enum idstore_rc rc = oauth2_resolve(p, client_secret, &q, err, err_len);
    if (rc != ID_OK)
        return rc;
    if (!printable(q.arn, 2048)) {
        snprintf(err, err_len, "the provider needs an ARN");
        return ID_INVALID;
    }
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "INSERT INTO identity_oauth2_providers VALUES (?,?,?,?,?,?,?,?,?,?,?11,?11)", 10,
                            q.name, q.arn, q.vendor, q.client_id, q.auth_method, q.discovery_url, q.issuer,
                            q.authorization_endpoint, q.token_endpoint, config_text(&q));
    if (st)
        sqlite3_bind_int64(st, 11, now_ms);
    rc = run(st);
    if (rc == ID_EXISTS)
        snprintf(err, err_len, "a credential provider named %s already exists", q.name);
    if (rc == ID_OK && vault_put(v, db, "oauth2-client-secret", q.name, client_secret, strlen(client_secret),
                                 now_ms) != VAULT_OK)
        rc = ID_ERROR;
    return tx_end(db, own, rc);
}

enum idstore_rc idstore_oauth2_update(sqlite3 *db, const struct vault *v, const struct idstore_oauth2_provider *p,
                                      const char *client_secret, int64_t now_ms, char *err, size_t err_len)
{
    struct idstore_oauth2_provider q;
    enum idstore_rc rc = oauth2_resolve(p, client_secret, &q, err, err_len);
    if (rc != ID_OK)
        return rc;
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "UPDATE identity_oauth2_providers SET vendor = ?2, client_id = ?3, auth_method = ?4, "
                                "discovery_url = ?5, issuer = ?6, authorization_endpoint = ?7, token_endpoint = ?8, "
                                "config = ?9, updated_at = ?10 WHERE name = ?1", 9,
                            q.name, q.vendor, q.client_id, q.auth_method, q.discovery_url, q.issuer,
                            q.authorization_endpoint, q.token_endpoint, config_text(&q));
    if (st)
        sqlite3_bind_int64(st, 10, now_ms);
    rc = run(st);
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK && vault_put(v, db, "oauth2-client-secret", q.name, client_secret, strlen(client_secret),
                                 now_ms) != VAULT_OK)
        rc = ID_ERROR;
    return tx_end(db, own, rc);
}

#define PROVIDER_COLS                                                                                    \
    "name, arn, vendor, client_id, auth_method, discovery_url, issuer, authorization_endpoint, token_endpoint, " \
    "config, created_at, updated_at"

static json_object *provider_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    add_str(o, "name", col(st, 0));
    add_str(o, "credentialProviderArn", col(st, 1));
    add_str(o, "credentialProviderVendor", col(st, 2));
    add_str(o, "clientId", col(st, 3));
    add_str(o, "clientAuthenticationMethod", col(st, 4));
    add_str(o, "discoveryUrl", col(st, 5));
    add_str(o, "issuer", col(st, 6));
    add_str(o, "authorizationEndpoint", col(st, 7));
    add_str(o, "tokenEndpoint", col(st, 8));
    if (col(st, 9)) {
        json_object *c = json_tokener_parse(col(st, 9));
        if (c)
            json_object_object_add(o, "config", c);
    }
    add_time(o, "createdTime", sqlite3_column_int64(st, 10));
    add_time(o, "lastUpdatedTime", sqlite3_column_int64(st, 11));
    return o;
}

enum idstore_rc idstore_oauth2_get(sqlite3 *db, const char *name, json_object **out)
{
    *out = NULL;
    sqlite3_stmt *st = prep(db, "SELECT " PROVIDER_COLS " FROM identity_oauth2_providers WHERE name = ?", 1, name);
    if (!st)
        return ID_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = provider_row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? ID_OK : rc == SQLITE_DONE ? ID_NOT_FOUND : ID_ERROR;
}

json_object *idstore_oauth2_list(sqlite3 *db, const char *after, int max)
{
    return list_by_name(db, "SELECT " PROVIDER_COLS " FROM identity_oauth2_providers WHERE name > ? "
                                "ORDER BY name LIMIT ?2", after, max, provider_row);
}

static enum idstore_rc vault_rc(enum vault_status s)
{
    return s == VAULT_OK ? ID_OK : s == VAULT_NOT_FOUND ? ID_NOT_FOUND : ID_ERROR;
}

enum idstore_rc idstore_oauth2_client_secret(sqlite3 *db, const struct vault *v, const char *name, char **secret,
                                             size_t *len)
{
    return vault_rc(vault_get(v, db, "oauth2-client-secret", name, secret, len));
}

enum idstore_rc idstore_oauth2_set_endpoints(sqlite3 *db, const char *name, const char *issuer,
                                             const char *authorization_endpoint, const char *token_endpoint,
                                             int64_t now_ms)
{
    sqlite3_stmt *st = prep(db, "UPDATE identity_oauth2_providers SET issuer = ?, authorization_endpoint = ?, "
                                "token_endpoint = ?, updated_at = ?5 WHERE name = ?4", 4,
                            issuer, authorization_endpoint, token_endpoint, name);
    if (st)
        sqlite3_bind_int64(st, 5, now_ms);
    enum idstore_rc rc = run(st);
    return rc == ID_OK && sqlite3_changes(db) == 0 ? ID_NOT_FOUND : rc;
}

enum idstore_rc idstore_oauth2_delete(sqlite3 *db, const char *name)
{
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    enum idstore_rc rc = run(prep(db, "DELETE FROM identity_oauth2_providers WHERE name = ?", 1, name));
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK && vault_delete(db, "oauth2-client-secret", name) == VAULT_ERROR)
        rc = ID_ERROR;
    if (rc == ID_OK)
        rc = delete_dependents(db, "provider", name);
    return tx_end(db, own, rc);
}

/* --- API-key providers ---------------------------------------------------------------------- */

enum idstore_rc idstore_apikey_create(sqlite3 *db, const struct vault *v, const char *name, const char *arn,
                                      const char *api_key, int64_t now_ms, char *err, size_t err_len)
{
    if (!valid_name(name, 1, 128) || !printable(arn, 2048)) {
        snprintf(err, err_len, "name must be 1-128 characters of [A-Za-z0-9_.-]");
        return ID_INVALID;
    }
    if (!api_key || !api_key[0] || strlen(api_key) > 65536) {
        snprintf(err, err_len, "apiKey is required (at most 65536 characters)");
        return ID_INVALID;
    }
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "INSERT INTO identity_apikey_providers VALUES (?,?,?3,?3)", 2, name, arn);
    if (st)
        sqlite3_bind_int64(st, 3, now_ms);
    enum idstore_rc rc = run(st);
    if (rc == ID_EXISTS)
        snprintf(err, err_len, "a credential provider named %s already exists", name);
    if (rc == ID_OK && vault_put(v, db, "api-key", name, api_key, strlen(api_key), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    return tx_end(db, own, rc);
}

enum idstore_rc idstore_apikey_update(sqlite3 *db, const struct vault *v, const char *name, const char *api_key,
                                      int64_t now_ms)
{
    if (!api_key || !api_key[0] || strlen(api_key) > 65536)
        return ID_INVALID;
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "UPDATE identity_apikey_providers SET updated_at = ?2 WHERE name = ?1", 1, name);
    if (st)
        sqlite3_bind_int64(st, 2, now_ms);
    enum idstore_rc rc = run(st);
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK && vault_put(v, db, "api-key", name, api_key, strlen(api_key), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    return tx_end(db, own, rc);
}

static json_object *apikey_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    add_str(o, "name", col(st, 0));
    add_str(o, "credentialProviderArn", col(st, 1));
    add_time(o, "createdTime", sqlite3_column_int64(st, 2));
    add_time(o, "lastUpdatedTime", sqlite3_column_int64(st, 3));
    return o;
}

enum idstore_rc idstore_apikey_get(sqlite3 *db, const char *name, json_object **out)
{
    *out = NULL;
    sqlite3_stmt *st = prep(db, "SELECT name, arn, created_at, updated_at FROM identity_apikey_providers WHERE name = ?",
                            1, name);
    if (!st)
        return ID_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = apikey_row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? ID_OK : rc == SQLITE_DONE ? ID_NOT_FOUND : ID_ERROR;
}

json_object *idstore_apikey_list(sqlite3 *db, const char *after, int max)
{
    return list_by_name(db, "SELECT name, arn, created_at, updated_at FROM identity_apikey_providers "
                                "WHERE name > ? ORDER BY name LIMIT ?2", after, max, apikey_row);
}

enum idstore_rc idstore_apikey_key(sqlite3 *db, const struct vault *v, const char *name, char **key, size_t *len)
{
    return vault_rc(vault_get(v, db, "api-key", name, key, len));
}

enum idstore_rc idstore_apikey_delete(sqlite3 *db, const char *name)
{
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    enum idstore_rc rc = run(prep(db, "DELETE FROM identity_apikey_providers WHERE name = ?", 1, name));
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK && vault_delete(db, "api-key", name) == VAULT_ERROR)
        rc = ID_ERROR;
    return tx_end(db, own, rc);
}

/* --- user tokens --------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *idstore_normalize_scopes(const char *scopes)
{
    char *copy = strdup(scopes ? scopes : "");
    size_t n = strlen(copy);
    char **parts = calloc(n / 2 + 2, sizeof *parts);
    char *out = malloc(n + 1);
    if (!copy || !parts || !out) {
        free(copy);
        free(parts);
        free(out);
        return NULL;
    }
    size_t count = 0;
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        parts[count++] = t;
    qsort(parts, count, sizeof *parts, cmp_str);
    size_t o = 0;
    for (size_t i = 0; i < count; i++) {
        if (i && strcmp(parts[i], parts[i - 1]) == 0)
            continue;
        o += (size_t)sprintf(out + o, "%s%s", o ? " " : "", parts[i]);
    }
    out[o] = 0;
    free(parts);
    free(copy);
    return out;
}

/* The row id of a binding: SHA-256 over its NUL-separated parts (scopes normalised). */
static bool token_id(const char *workload, enum wat_user_kind kind, const char *user_id, const char *provider,
                     const char *norm_scopes, char out[65])
{
    if (!workload || !provider || !norm_scopes)
        return false;
    const char *parts[] = { workload, kind == WAT_USER_JWT ? "jwt" : kind == WAT_USER_ID ? "id" : "none",
                            user_id ? user_id : "", provider, norm_scopes };
    size_t total = 0;
    for (size_t i = 0; i < 5; i++)
        total += strlen(parts[i]) + 1;
    char *buf = malloc(total);
    if (!buf)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]) + 1;
        memcpy(buf + o, parts[i], l);
        o += l;
    }
    sha256_hex(buf, total, out);
    free(buf);
    return true;
}

void idstore_token_free(struct idstore_token *t)
{
    if (t->access_token)
        vault_secret_free(t->access_token, strlen(t->access_token));
    if (t->refresh_token)
        vault_secret_free(t->refresh_token, strlen(t->refresh_token));
    memset(t, 0, sizeof *t);
}

enum idstore_rc idstore_token_put(sqlite3 *db, const struct vault *v, const char *workload, enum wat_user_kind kind,
                                  const char *user_id, const char *provider, const char *scopes,
                                  const char *access_token, const char *refresh_token, int64_t expires_at,
                                  int64_t now_ms)
{
    if (!access_token || !access_token[0])
        return ID_INVALID;
    char *norm = idstore_normalize_scopes(scopes);
    char id[65];
    if (!token_id(workload, kind, user_id, provider, norm, id)) {
        free(norm);
        return ID_ERROR;
    }
    bool own;
    if (!tx_begin(db, &own)) {
        free(norm);
        return ID_ERROR;
    }
    char kind_s[4];
    snprintf(kind_s, sizeof kind_s, "%d", (int)kind);
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO identity_user_tokens VALUES (?,?,?,?,?,?,?7,?8) ON CONFLICT (id) DO UPDATE "
                            "SET expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                            6, id, workload, kind_s, user_id ? user_id : "", provider, norm);
    if (st) {
        sqlite3_bind_int64(st, 7, expires_at);
        sqlite3_bind_int64(st, 8, now_ms);
    }
    enum idstore_rc rc = run(st);
    if (rc == ID_OK && vault_put(v, db, "user-access", id, access_token, strlen(access_token), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    /* a new refresh token replaces the old; none keeps the old one (servers that do not
     * rotate refresh tokens answer a refresh without one) */
    if (rc == ID_OK && refresh_token && refresh_token[0] &&
        vault_put(v, db, "user-refresh", id, refresh_token, strlen(refresh_token), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    free(norm);
    return tx_end(db, own, rc);
}

enum idstore_rc idstore_token_get(sqlite3 *db, const struct vault *v, const char *workload, enum wat_user_kind kind,
                                  const char *user_id, const char *provider, const char *scopes,
                                  struct idstore_token *out)
{
    memset(out, 0, sizeof *out);
    char *norm = idstore_normalize_scopes(scopes);
    char id[65];
    bool ok = token_id(workload, kind, user_id, provider, norm, id);
    free(norm);
    if (!ok)
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "SELECT expires_at FROM identity_user_tokens WHERE id = ?", 1, id);
    if (!st)
        return ID_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out->expires_at = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? ID_NOT_FOUND : ID_ERROR;
    size_t len;
    enum vault_status vs = vault_get(v, db, "user-access", id, &out->access_token, &len);
    if (vs != VAULT_OK)
        return ID_ERROR;
    vs = vault_get(v, db, "user-refresh", id, &out->refresh_token, &len);
    if (vs != VAULT_OK && vs != VAULT_NOT_FOUND) {
        idstore_token_free(out);
        return ID_ERROR;
    }
    return ID_OK;
}

enum idstore_rc idstore_token_delete(sqlite3 *db, const char *workload, enum wat_user_kind kind, const char *user_id,
                                     const char *provider, const char *scopes)
{
    char *norm = idstore_normalize_scopes(scopes);
    char id[65];
    bool ok = token_id(workload, kind, user_id, provider, norm, id);
    free(norm);
    if (!ok)
        return ID_ERROR;
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    enum idstore_rc rc = run(prep(db, "DELETE FROM identity_user_tokens WHERE id = ?", 1, id));
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK && (vault_delete(db, "user-access", id) == VAULT_ERROR ||
                        vault_delete(db, "user-refresh", id) == VAULT_ERROR))
        rc = ID_ERROR;
    return tx_end(db, own, rc);
}

/* --- 3LO sessions --------------------------------------------------------------------------- */

void idstore_session_free(struct idstore_session *s)
{
    free(s->session_uri);
    free(s->workload);
    free(s->user_id);
    free(s->provider);
    free(s->scopes);
    free(s->return_url);
    free(s->custom_state);
    memset(s, 0, sizeof *s);
}

#define SESSION_COLS                                                                                     \
    "session_uri, workload, user_kind, user_id, provider, scopes, return_url, custom_state, status, created_at, " \
    "expires_at"

static void session_row(sqlite3_stmt *st, struct idstore_session *s)
{
    s->session_uri = dupcol(st, 0);
    s->workload = dupcol(st, 1);
    s->user_kind = (enum wat_user_kind)sqlite3_column_int(st, 2);
    s->user_id = dupcol(st, 3);
    s->provider = dupcol(st, 4);
    s->scopes = dupcol(st, 5);
    s->return_url = dupcol(st, 6);
    s->custom_state = dupcol(st, 7);
    s->status = (enum idstore_session_status)sqlite3_column_int(st, 8);
    s->created_at = sqlite3_column_int64(st, 9);
    s->expires_at = sqlite3_column_int64(st, 10);
}

enum idstore_rc idstore_session_create(sqlite3 *db, const struct vault *v, const struct idstore_session *s,
                                       const char *state, const char *pkce_verifier, char **session_uri,
                                       int64_t now_ms)
{
    *session_uri = NULL;
    if (!s->workload || !s->provider || !state || strlen(state) < 16 || !s->user_id ||
        (s->user_kind != WAT_USER_JWT && s->user_kind != WAT_USER_ID) || !s->user_id[0])
        return ID_INVALID;
    uint8_t r[32];
    char rnd[44], uri[96], state_hash[65];
    if (RAND_bytes(r, sizeof r) != 1)
        return ID_ERROR;
    b64url_encode(r, sizeof r, rnd, sizeof rnd);
    snprintf(uri, sizeof uri, "urn:ietf:params:oauth:request_uri:%s", rnd);
    sha256_hex(state, strlen(state), state_hash);
    char *norm = idstore_normalize_scopes(s->scopes);
    char kind_s[4];
    snprintf(kind_s, sizeof kind_s, "%d", (int)s->user_kind);
    bool own;
    if (!norm || !tx_begin(db, &own)) {
        free(norm);
        return ID_ERROR;
    }
    sqlite3_stmt *st = prep(db,
              "INSERT INTO identity_oauth2_sessions (session_uri, state_hash, workload, user_kind, user_id, provider, "
              "scopes, return_url, custom_state, status, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,0,?10,?11)",
              9, uri, state_hash, s->workload, kind_s, s->user_id, s->provider, norm, s->return_url, s->custom_state);
    if (st) {
        sqlite3_bind_int64(st, 10, now_ms / 1000);
        sqlite3_bind_int64(st, 11, s->expires_at);
    }
    enum idstore_rc rc = run(st);
    if (rc == ID_OK && pkce_verifier &&
        vault_put(v, db, "pkce", uri, pkce_verifier, strlen(pkce_verifier), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    free(norm);
    rc = tx_end(db, own, rc);
    if (rc == ID_OK)
        *session_uri = strdup(uri);
    return rc == ID_OK && !*session_uri ? ID_ERROR : rc;
}

enum idstore_rc idstore_session_get(sqlite3 *db, const char *session_uri, struct idstore_session *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(db, "SELECT " SESSION_COLS " FROM identity_oauth2_sessions WHERE session_uri = ?", 1,
                            session_uri);
    if (!st)
        return ID_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        session_row(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? ID_OK : rc == SQLITE_DONE ? ID_NOT_FOUND : ID_ERROR;
}

enum idstore_rc idstore_session_take_state(sqlite3 *db, const struct vault *v, const char *state, int64_t now_s,
                                           struct idstore_session *out, char **pkce_verifier, size_t *verifier_len)
{
    memset(out, 0, sizeof *out);
    *pkce_verifier = NULL;
    *verifier_len = 0;
    if (!state || !state[0])
        return ID_NOT_FOUND;
    char state_hash[65];
    sha256_hex(state, strlen(state), state_hash);
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "SELECT " SESSION_COLS " FROM identity_oauth2_sessions WHERE state_hash = ?", 1,
                            state_hash);
    enum idstore_rc rc = ID_ERROR;
    if (st) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            session_row(st, out);
            rc = ID_OK;
        } else if (r == SQLITE_DONE) {
            rc = ID_NOT_FOUND;
        }
        sqlite3_finalize(st);
    }
    if (rc == ID_OK && (out->status != IDSESS_IN_PROGRESS || out->expires_at <= now_s))
        rc = ID_FORBIDDEN;   /* replayed, or too late */
    if (rc == ID_OK) {
        char status[4];
        snprintf(status, sizeof status, "%d", IDSESS_CALLBACK_DONE);
        rc = run(prep(db, "UPDATE identity_oauth2_sessions SET status = ? WHERE session_uri = ? AND status = 0", 2,
                      status, out->session_uri));
        if (rc == ID_OK && sqlite3_changes(db) != 1)
            rc = ID_FORBIDDEN;
    }
    if (rc == ID_OK) {
        enum vault_status vs = vault_get(v, db, "pkce", out->session_uri, pkce_verifier, verifier_len);
        if (vs != VAULT_OK && vs != VAULT_NOT_FOUND)
            rc = ID_ERROR;
    }
    rc = tx_end(db, own, rc);
    if (rc != ID_OK) {
        vault_secret_free(*pkce_verifier, *verifier_len);
        *pkce_verifier = NULL;
        if (rc != ID_FORBIDDEN)
            idstore_session_free(out);
    }
    return rc;
}

enum idstore_rc idstore_session_store_pending(sqlite3 *db, const struct vault *v, const char *session_uri,
                                              const char *access_token, const char *refresh_token,
                                              int64_t token_expires_at, int64_t now_ms)
{
    if (!access_token || !access_token[0])
        return ID_INVALID;
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    sqlite3_stmt *st = prep(db, "UPDATE identity_oauth2_sessions SET token_expires_at = ?2 "
                                "WHERE session_uri = ?1 AND status = 1", 1, session_uri);
    if (st)
        sqlite3_bind_int64(st, 2, token_expires_at);
    enum idstore_rc rc = run(st);
    if (rc == ID_OK && sqlite3_changes(db) != 1)
        rc = ID_INVALID;
    if (rc == ID_OK &&
        vault_put(v, db, "pending-access", session_uri, access_token, strlen(access_token), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    if (rc == ID_OK && refresh_token && refresh_token[0] &&
        vault_put(v, db, "pending-refresh", session_uri, refresh_token, strlen(refresh_token), now_ms) != VAULT_OK)
        rc = ID_ERROR;
    if (rc == ID_OK)
        vault_delete(db, "pkce", session_uri);   /* used once; gone */
    return tx_end(db, own, rc);
}

enum idstore_rc idstore_session_fail(sqlite3 *db, const char *session_uri)
{
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    enum idstore_rc rc = run(prep(db, "UPDATE identity_oauth2_sessions SET status = 3 WHERE session_uri = ?", 1,
                                  session_uri));
    if (rc == ID_OK && sqlite3_changes(db) == 0)
        rc = ID_NOT_FOUND;
    if (rc == ID_OK) {
        vault_delete(db, "pkce", session_uri);
        vault_delete(db, "pending-access", session_uri);
        vault_delete(db, "pending-refresh", session_uri);
    }
    return tx_end(db, own, rc);
}

enum idstore_rc idstore_session_complete(sqlite3 *db, const struct vault *v, const char *session_uri,
                                         enum wat_user_kind kind, const char *user_id, int64_t now_s,
                                         int64_t now_ms)
{
    if (!user_id || !session_uri)
        return ID_INVALID;
    bool own;
    if (!tx_begin(db, &own))
        return ID_ERROR;
    struct idstore_session s;
    enum idstore_rc rc = idstore_session_get(db, session_uri, &s);
    int64_t token_exp = 0;
    if (rc == ID_OK && !same_user(s.user_kind, s.user_id ? s.user_id : "", kind, user_id))
        rc = ID_FORBIDDEN;
    else if (rc == ID_OK && s.expires_at <= now_s)
        rc = ID_FORBIDDEN;
    else if (rc == ID_OK && s.status != IDSESS_CALLBACK_DONE)
        rc = ID_INVALID;
    if (rc == ID_OK) {
        sqlite3_stmt *st = prep(db, "SELECT token_expires_at FROM identity_oauth2_sessions WHERE session_uri = ?", 1,
                                session_uri);
        if (st && sqlite3_step(st) == SQLITE_ROW)
            token_exp = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    char *access = NULL, *refresh = NULL;
    size_t al = 0, rl = 0;
    if (rc == ID_OK && vault_get(v, db, "pending-access", session_uri, &access, &al) != VAULT_OK)
        rc = ID_INVALID;   /* the callback has not delivered a token (yet) */
    if (rc == ID_OK) {
        enum vault_status vs = vault_get(v, db, "pending-refresh", session_uri, &refresh, &rl);
        if (vs != VAULT_OK && vs != VAULT_NOT_FOUND)
            rc = ID_ERROR;
    }
    if (rc == ID_OK)
        rc = idstore_token_put(db, v, s.workload, s.user_kind, s.user_id, s.provider, s.scopes, access, refresh,
                               token_exp, now_ms);
    if (rc == ID_OK)
        rc = run(prep(db, "UPDATE identity_oauth2_sessions SET status = 2 WHERE session_uri = ?", 1, session_uri));
    if (rc == ID_OK) {
        vault_delete(db, "pending-access", session_uri);
        vault_delete(db, "pending-refresh", session_uri);
    }
    vault_secret_free(access, al);
    vault_secret_free(refresh, rl);
    idstore_session_free(&s);
    return tx_end(db, own, rc);
}

int idstore_sessions_expire(sqlite3 *db, int64_t now_s)
{
    bool own;
    if (!tx_begin(db, &own))
        return -1;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_s);
    enum idstore_rc rc = run(prep(db,
                                  "DELETE FROM vault_secrets WHERE kind IN ('pkce','pending-access','pending-refresh') "
                                  "AND name IN (SELECT session_uri FROM identity_oauth2_sessions WHERE expires_at <= "
                                  "CAST(? AS INTEGER))",
                                  1, now));
    int n = 0;
    if (rc == ID_OK) {
        rc = run(prep(db, "DELETE FROM identity_oauth2_sessions WHERE expires_at <= CAST(? AS INTEGER)", 1, now));
        n = sqlite3_changes(db);
    }
    return tx_end(db, own, rc) == ID_OK ? n : -1;
}
