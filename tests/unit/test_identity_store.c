/* tests/unit/test_identity_store.c — the identity store (identity_store.c) on a real database
 * file: workload identities, OAuth2 providers (custom and a vendor preset), API-key
 * providers, user tokens bound to (workload, user kind+id, provider, scopes), and 3LO
 * sessions (state used once, only the starting user completes, expiry); everything survives
 * closing and reopening the database, and no secret is in the file in clear. */
#include "frontend/identity_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"

static char dbpath[64];
static const uint8_t KEY[32] = { 9, 8, 7 };

static sqlite3 *open_db(void)
{
    sqlite3 *db = NULL;
    char err[256];
    if (sqlite3_open(dbpath, &db) != SQLITE_OK || !idstore_init(db, err, sizeof err)) {
        fprintf(stderr, "open: %s\n", err);
        abort();
    }
    return db;
}

static const char *jget(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static bool file_contains(const char *needle)
{
    FILE *f = fopen(dbpath, "rb");
    if (!f)
        return false;
    static char buf[1 << 21];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

static void test_workloads(void)
{
    sqlite3 *db = open_db();
    char err[256];
    CHECK_EQ(idstore_schema_version(db), IDSTORE_SCHEMA_VERSION);
    json_object *urls = json_tokener_parse("[\"https://app.example/cb\",\"http://localhost:3000/cb\"]");
    CHECK_EQ(idstore_workload_create(db, "agent-one", "arn:aws:bedrock-agentcore:us-east-1:1:workload-identity-directory/default/workload-identity/agent-one",
                                     urls, 1000, err, sizeof err), ID_OK);
    CHECK_EQ(idstore_workload_create(db, "agent-one", "arn:x", NULL, 1000, err, sizeof err), ID_EXISTS);
    CHECK_EQ(idstore_workload_create(db, "a!", "arn:x", NULL, 1000, err, sizeof err), ID_INVALID);
    json_object *bad = json_tokener_parse("[\"http://evil.example/cb\"]");
    CHECK_EQ(idstore_workload_create(db, "agent-two", "arn:x", bad, 1000, err, sizeof err), ID_INVALID);
    CHECK(strstr(err, "https") != NULL);
    CHECK_EQ(idstore_workload_create(db, "agent-two", "arn:y", NULL, 2000, err, sizeof err), ID_OK);
    json_object *o;
    CHECK_EQ(idstore_workload_get(db, "agent-one", &o), ID_OK);
    CHECK(o && strcmp(jget(o, "name"), "agent-one") == 0);
    json_object *u;
    CHECK(json_object_object_get_ex(o, "allowedResourceOauth2ReturnUrls", &u) && json_object_array_length(u) == 2);
    json_object_put(o);
    CHECK(idstore_workload_allows_return_url(db, "agent-one", "https://app.example/cb"));
    CHECK(!idstore_workload_allows_return_url(db, "agent-one", "https://app.example/cb2"));
    CHECK(!idstore_workload_allows_return_url(db, "agent-two", "https://app.example/cb"));
    CHECK_EQ(idstore_workload_update(db, "agent-two", urls, 3000, err, sizeof err), ID_OK);
    CHECK(idstore_workload_allows_return_url(db, "agent-two", "https://app.example/cb"));
    CHECK_EQ(idstore_workload_update(db, "nope", urls, 3000, err, sizeof err), ID_NOT_FOUND);
    json_object *l = idstore_workload_list(db, "", 10);
    CHECK_EQ(json_object_array_length(l), 2);
    json_object_put(l);
    l = idstore_workload_list(db, "agent-one", 10);
    CHECK_EQ(json_object_array_length(l), 1);
    json_object_put(l);
    CHECK_EQ(idstore_workload_get(db, "nope", &o), ID_NOT_FOUND);
    json_object_put(urls);
    json_object_put(bad);
    sqlite3_close(db);
}

static void test_providers(void)
{
    sqlite3 *db = open_db();
    struct vault *v = vault_new(KEY);
    char err[256];
    struct idstore_oauth2_provider p = { .name = "my-idp", .arn = "arn:p:my-idp", .vendor = "CustomOauth2",
                                         .client_id = "cid", .discovery_url = "https://idp.example/.well-known/openid-configuration" };
    CHECK_EQ(idstore_oauth2_create(db, v, &p, "CLIENT-SECRET-abc", 1000, err, sizeof err), ID_OK);
    CHECK_EQ(idstore_oauth2_create(db, v, &p, "x", 1000, err, sizeof err), ID_EXISTS);
    struct idstore_oauth2_provider both = p;
    both.name = "both";
    both.token_endpoint = "https://idp/token";
    CHECK_EQ(idstore_oauth2_create(db, v, &both, "x", 1000, err, sizeof err), ID_INVALID);
    struct idstore_oauth2_provider explicit_md = { .name = "explicit", .arn = "arn:p:e", .client_id = "c",
                                                   .issuer = "https://idp", .authorization_endpoint = "https://idp/a",
                                                   .token_endpoint = "https://idp/t", .auth_method = "client_secret_post" };
    CHECK_EQ(idstore_oauth2_create(db, v, &explicit_md, "s2", 1000, err, sizeof err), ID_OK);
    struct idstore_oauth2_provider bad_auth = explicit_md;
    bad_auth.name = "badauth";
    bad_auth.auth_method = "private_key_jwt";
    CHECK_EQ(idstore_oauth2_create(db, v, &bad_auth, "s", 1000, err, sizeof err), ID_INVALID);
    CHECK_EQ(idstore_oauth2_create(db, v, &explicit_md, "", 1000, err, sizeof err), ID_INVALID);
    /* a vendor preset: GitHub's endpoints come from the data table */
    struct idstore_oauth2_provider gh = { .name = "github", .arn = "arn:p:gh", .vendor = "GithubOauth2", .client_id = "Iv1.x" };
    CHECK_EQ(idstore_oauth2_create(db, v, &gh, "gh-secret-zzz", 1000, err, sizeof err), ID_OK);
    struct idstore_oauth2_provider unknown = gh;
    unknown.name = "u";
    unknown.vendor = "MadeUpOauth2";
    CHECK_EQ(idstore_oauth2_create(db, v, &unknown, "s", 1000, err, sizeof err), ID_INVALID);
    json_object *o;
    CHECK_EQ(idstore_oauth2_get(db, "github", &o), ID_OK);
    CHECK(strcmp(jget(o, "tokenEndpoint"), "https://github.com/login/oauth/access_token") == 0);
    CHECK(strcmp(jget(o, "clientAuthenticationMethod"), "client_secret_post") == 0);
    CHECK(strstr(json_object_to_json_string(o), "gh-secret") == NULL);
    json_object_put(o);
    const char *iss, *az, *tok, *auth, *disc;
    CHECK(idstore_vendor_preset("GoogleOauth2", &iss, &az, &tok, &auth, &disc) && disc && tok);
    CHECK(!idstore_vendor_preset("CustomOauth2", &iss, &az, &tok, &auth, &disc));
    char *sec;
    size_t sl;
    CHECK_EQ(idstore_oauth2_client_secret(db, v, "my-idp", &sec, &sl), ID_OK);
    CHECK(sec && strcmp(sec, "CLIENT-SECRET-abc") == 0);
    vault_secret_free(sec, sl);
    CHECK_EQ(idstore_oauth2_set_endpoints(db, "my-idp", "https://idp.example", "https://idp.example/a",
                                          "https://idp.example/t", 2000), ID_OK);
    json_object *l = idstore_oauth2_list(db, "", 10);
    CHECK_EQ(json_object_array_length(l), 3);
    json_object_put(l);
    /* a vendor without a preset (tenant-specific, e.g. Okta) only with all three endpoints */
    struct idstore_oauth2_provider okta = { .name = "okta", .arn = "arn:p:okta", .vendor = "OktaOauth2", .client_id = "o" };
    CHECK_EQ(idstore_oauth2_create(db, v, &okta, "s", 1000, err, sizeof err), ID_INVALID);
    okta.issuer = "https://t.okta.example";
    okta.authorization_endpoint = "https://t.okta.example/v1/authorize";
    okta.token_endpoint = "https://t.okta.example/v1/token";
    CHECK_EQ(idstore_oauth2_create(db, v, &okta, "s", 1000, err, sizeof err), ID_OK);
    CHECK_EQ(idstore_oauth2_delete(db, "okta"), ID_OK);
    /* update: new client, endpoints and secret; the ARN and createdTime stay */
    struct idstore_oauth2_provider upd = explicit_md;
    upd.client_id = "c2";
    upd.token_endpoint = "https://idp/t2";
    upd.auth_method = NULL;
    upd.arn = NULL;
    CHECK_EQ(idstore_oauth2_update(db, v, &upd, "s3-new", 5000, err, sizeof err), ID_OK);
    CHECK_EQ(idstore_oauth2_get(db, "explicit", &o), ID_OK);
    CHECK(strcmp(jget(o, "clientId"), "c2") == 0 && strcmp(jget(o, "tokenEndpoint"), "https://idp/t2") == 0);
    CHECK(strcmp(jget(o, "clientAuthenticationMethod"), "client_secret_basic") == 0);
    CHECK(strcmp(jget(o, "credentialProviderArn"), "arn:p:e") == 0);
    json_object *t;
    CHECK(json_object_object_get_ex(o, "createdTime", &t) && json_object_get_int64(t) == 1);
    CHECK(json_object_object_get_ex(o, "lastUpdatedTime", &t) && json_object_get_int64(t) == 5);
    json_object_put(o);
    CHECK_EQ(idstore_oauth2_client_secret(db, v, "explicit", &sec, &sl), ID_OK);
    CHECK(sec && strcmp(sec, "s3-new") == 0);
    vault_secret_free(sec, sl);
    upd.name = "nope";
    CHECK_EQ(idstore_oauth2_update(db, v, &upd, "s", 5000, err, sizeof err), ID_NOT_FOUND);
    upd.name = "explicit";
    upd.discovery_url = "https://idp/.well-known/openid-configuration";
    CHECK_EQ(idstore_oauth2_update(db, v, &upd, "s", 5000, err, sizeof err), ID_INVALID);

    CHECK_EQ(idstore_apikey_create(db, v, "weather", "arn:k:weather", "APIKEY-0123456789", 1000, err, sizeof err), ID_OK);
    CHECK_EQ(idstore_apikey_create(db, v, "weather", "arn:k:weather", "x", 1000, err, sizeof err), ID_EXISTS);
    CHECK_EQ(idstore_apikey_get(db, "weather", &o), ID_OK);
    CHECK(strstr(json_object_to_json_string(o), "APIKEY") == NULL);
    json_object_put(o);
    CHECK_EQ(idstore_apikey_key(db, v, "weather", &sec, &sl), ID_OK);
    CHECK(sec && strcmp(sec, "APIKEY-0123456789") == 0);
    vault_secret_free(sec, sl);
    CHECK_EQ(idstore_apikey_create(db, v, "tmp", "arn:k:tmp", "TMPKEY", 1000, err, sizeof err), ID_OK);
    CHECK_EQ(idstore_apikey_update(db, v, "tmp", "TMPKEY2", 2000), ID_OK);
    CHECK_EQ(idstore_apikey_key(db, v, "tmp", &sec, &sl), ID_OK);
    CHECK(sec && strcmp(sec, "TMPKEY2") == 0);
    vault_secret_free(sec, sl);
    CHECK_EQ(idstore_apikey_delete(db, "tmp"), ID_OK);
    CHECK_EQ(idstore_apikey_key(db, v, "tmp", &sec, &sl), ID_NOT_FOUND);
    CHECK_EQ(idstore_apikey_delete(db, "tmp"), ID_NOT_FOUND);
    l = idstore_apikey_list(db, "", 10);
    CHECK_EQ(json_object_array_length(l), 1);
    json_object_put(l);
    vault_free(v);
    sqlite3_close(db);
}

static void test_tokens(void)
{
    sqlite3 *db = open_db();
    struct vault *v = vault_new(KEY);
    char *n = idstore_normalize_scopes("  write read  write ");
    CHECK(n && strcmp(n, "read write") == 0);
    free(n);
    CHECK_EQ(idstore_token_put(db, v, "agent-one", WAT_USER_JWT, "https://iss|alice", "my-idp", "read write",
                               "ACCESS-alice-1", "REFRESH-alice-1", 5000, 1000), ID_OK);
    struct idstore_token t;
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|alice", "my-idp", "write read", &t), ID_OK);
    CHECK(t.access_token && strcmp(t.access_token, "ACCESS-alice-1") == 0);
    CHECK(t.refresh_token && strcmp(t.refresh_token, "REFRESH-alice-1") == 0);
    CHECK_EQ(t.expires_at, 5000);
    idstore_token_free(&t);
    /* every other binding misses */
    CHECK_EQ(idstore_token_get(db, v, "agent-two", WAT_USER_JWT, "https://iss|alice", "my-idp", "read write", &t), ID_NOT_FOUND);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|bob", "my-idp", "read write", &t), ID_NOT_FOUND);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_ID, "https://iss|alice", "my-idp", "read write", &t), ID_NOT_FOUND);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|alice", "github", "read write", &t), ID_NOT_FOUND);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|alice", "my-idp", "read", &t), ID_NOT_FOUND);
    /* a refresh without a new refresh token keeps the old one */
    CHECK_EQ(idstore_token_put(db, v, "agent-one", WAT_USER_JWT, "https://iss|alice", "my-idp", "read write",
                               "ACCESS-alice-2", NULL, 9000, 2000), ID_OK);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|alice", "my-idp", "read write", &t), ID_OK);
    CHECK(t.access_token && strcmp(t.access_token, "ACCESS-alice-2") == 0);
    CHECK(t.refresh_token && strcmp(t.refresh_token, "REFRESH-alice-1") == 0);
    CHECK_EQ(t.expires_at, 9000);
    idstore_token_free(&t);
    /* M2M: the workload's own */
    CHECK_EQ(idstore_token_put(db, v, "agent-one", WAT_USER_NONE, NULL, "explicit", "", "M2M-ACCESS", NULL, 7000, 1000), ID_OK);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_NONE, "", "explicit", NULL, &t), ID_OK);
    CHECK(t.access_token && strcmp(t.access_token, "M2M-ACCESS") == 0 && t.refresh_token == NULL);
    idstore_token_free(&t);
    /* a swapped vault row between two bindings fails to open */
    CHECK_EQ(idstore_token_put(db, v, "agent-one", WAT_USER_ID, "carol", "my-idp", "read", "ACCESS-carol", NULL, 1, 1), ID_OK);
    CHECK_EQ(sqlite3_exec(db,
                          "UPDATE vault_secrets SET ciphertext = (SELECT ciphertext FROM vault_secrets v2 WHERE "
                          "v2.kind = 'user-access' AND v2.name = (SELECT id FROM identity_user_tokens WHERE user_id = "
                          "'https://iss|alice')) WHERE kind = 'user-access' AND name = (SELECT id FROM "
                          "identity_user_tokens WHERE user_id = 'carol')",
                          NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_ID, "carol", "my-idp", "read", &t), ID_ERROR);
    CHECK(t.access_token == NULL);
    CHECK_EQ(idstore_token_delete(db, "agent-one", WAT_USER_ID, "carol", "my-idp", "read"), ID_OK);
    CHECK_EQ(idstore_token_delete(db, "agent-one", WAT_USER_ID, "carol", "my-idp", "read"), ID_NOT_FOUND);
    vault_free(v);
    sqlite3_close(db);
}

static void test_sessions(void)
{
    sqlite3 *db = open_db();
    struct vault *v = vault_new(KEY);
    char wl[] = "agent-one", user[] = "https://iss|dave", prov[] = "my-idp", scopes[] = "read",
         ret[] = "https://app.example/cb", cs[] = "csrf-1";
    struct idstore_session s = { .workload = wl, .user_kind = WAT_USER_JWT, .user_id = user, .provider = prov,
                                 .scopes = scopes, .return_url = ret, .custom_state = cs, .expires_at = 10000 };
    char *uri = NULL, *other_uri = NULL;
    const char *state = "STATE-aaaaaaaaaaaaaaaaaaaa";
    CHECK_EQ(idstore_session_create(db, v, &s, state, "VERIFIER-xyz", &uri, 1000 * 1000), ID_OK);
    CHECK(uri && strncmp(uri, "urn:ietf:params:oauth:request_uri:", 34) == 0);
    CHECK_EQ(idstore_session_create(db, v, &s, state, "V", &other_uri, 1000 * 1000), ID_EXISTS);   /* state reuse */
    CHECK_EQ(idstore_session_create(db, v, &s, "short", "V", &other_uri, 1000 * 1000), ID_INVALID);
    struct idstore_session g;
    CHECK_EQ(idstore_session_get(db, uri, &g), ID_OK);
    CHECK(g.status == IDSESS_IN_PROGRESS && strcmp(g.custom_state, "csrf-1") == 0 && g.expires_at == 10000);
    idstore_session_free(&g);
    /* completing before the callback */
    CHECK_EQ(idstore_session_complete(db, v, uri, WAT_USER_JWT, "https://iss|dave", 2000, 2000 * 1000), ID_INVALID);
    /* the callback: state once */
    char *ver;
    size_t vl;
    CHECK_EQ(idstore_session_take_state(db, v, "STATE-unknown-bbbbbbbbbbb", 2000, &g, &ver, &vl), ID_NOT_FOUND);
    CHECK_EQ(idstore_session_take_state(db, v, state, 2000, &g, &ver, &vl), ID_OK);
    CHECK(ver && strcmp(ver, "VERIFIER-xyz") == 0);
    CHECK(g.session_uri && strcmp(g.session_uri, uri) == 0);
    vault_secret_free(ver, vl);
    idstore_session_free(&g);
    CHECK_EQ(idstore_session_take_state(db, v, state, 2000, &g, &ver, &vl), ID_FORBIDDEN);   /* replayed */
    idstore_session_free(&g);
    CHECK_EQ(idstore_session_store_pending(db, v, uri, "USER-ACCESS-dave", "USER-REFRESH-dave", 9999, 2000 * 1000), ID_OK);
    sqlite3_close(db);

    /* restart: the pending session and its token survive */
    db = open_db();
    CHECK_EQ(idstore_session_get(db, uri, &g), ID_OK);
    CHECK_EQ(g.status, IDSESS_CALLBACK_DONE);
    idstore_session_free(&g);
    /* another user (or the same id as another kind) cannot complete it */
    CHECK_EQ(idstore_session_complete(db, v, uri, WAT_USER_JWT, "https://iss|eve", 2000, 2000 * 1000), ID_FORBIDDEN);
    CHECK_EQ(idstore_session_complete(db, v, uri, WAT_USER_ID, "https://iss|dave", 2000, 2000 * 1000), ID_FORBIDDEN);
    CHECK_EQ(idstore_session_complete(db, v, "urn:ietf:params:oauth:request_uri:nope", WAT_USER_JWT,
                                      "https://iss|dave", 2000, 2000 * 1000), ID_NOT_FOUND);
    CHECK_EQ(idstore_session_complete(db, v, uri, WAT_USER_JWT, "https://iss|dave", 2000, 2000 * 1000), ID_OK);
    CHECK_EQ(idstore_session_complete(db, v, uri, WAT_USER_JWT, "https://iss|dave", 2000, 2000 * 1000), ID_INVALID);
    struct idstore_token t;
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|dave", "my-idp", "read", &t), ID_OK);
    CHECK(t.access_token && strcmp(t.access_token, "USER-ACCESS-dave") == 0);
    CHECK(t.refresh_token && strcmp(t.refresh_token, "USER-REFRESH-dave") == 0);
    CHECK_EQ(t.expires_at, 9999);
    idstore_token_free(&t);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|eve", "my-idp", "read", &t), ID_NOT_FOUND);

    /* expiry: a session past its time cannot take its callback, and is swept */
    const char *state2 = "STATE-cccccccccccccccccccc";
    s.expires_at = 3000;
    char *uri2 = NULL;
    CHECK_EQ(idstore_session_create(db, v, &s, state2, "V2", &uri2, 2000 * 1000), ID_OK);
    CHECK_EQ(idstore_session_take_state(db, v, state2, 3000, &g, &ver, &vl), ID_FORBIDDEN);
    idstore_session_free(&g);
    CHECK_EQ(idstore_sessions_expire(db, 3000), 1);
    CHECK_EQ(idstore_session_get(db, uri2, &g), ID_NOT_FOUND);
    char *p;
    size_t pl;
    CHECK_EQ(vault_get(v, db, "pkce", uri2, &p, &pl), VAULT_NOT_FOUND);
    /* a failed session */
    const char *state3 = "STATE-dddddddddddddddddddd";
    s.expires_at = 10000;
    char *uri3 = NULL;
    CHECK_EQ(idstore_session_create(db, v, &s, state3, "V3", &uri3, 2000 * 1000), ID_OK);
    CHECK_EQ(idstore_session_fail(db, uri3), ID_OK);
    CHECK_EQ(idstore_session_take_state(db, v, state3, 2000, &g, &ver, &vl), ID_FORBIDDEN);
    idstore_session_free(&g);

    /* deleting the workload takes its tokens and sessions with it */
    CHECK_EQ(idstore_workload_delete(db, "agent-one"), ID_OK);
    CHECK_EQ(idstore_token_get(db, v, "agent-one", WAT_USER_JWT, "https://iss|dave", "my-idp", "read", &t), ID_NOT_FOUND);
    CHECK_EQ(idstore_session_get(db, uri, &g), ID_NOT_FOUND);
    CHECK_EQ(vault_get(v, db, "pkce", uri3, &p, &pl), VAULT_NOT_FOUND);
    CHECK_EQ(idstore_workload_delete(db, "agent-one"), ID_NOT_FOUND);
    CHECK_EQ(idstore_oauth2_delete(db, "my-idp"), ID_OK);
    char *sec;
    size_t sl;
    CHECK_EQ(idstore_oauth2_client_secret(db, v, "my-idp", &sec, &sl), ID_NOT_FOUND);
    free(uri);
    free(uri2);
    free(uri3);
    vault_free(v);
    sqlite3_close(db);
    /* nothing secret in the database file in clear */
    const char *secrets[] = { "CLIENT-SECRET", "gh-secret", "APIKEY-0123", "ACCESS-alice", "REFRESH-alice",
                              "USER-ACCESS-dave", "VERIFIER-xyz", "M2M-ACCESS", "STATE-aaaa" };
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        CHECK(!file_contains(secrets[i]));
    for (int r = ID_OK; r <= ID_ERROR; r++)
        CHECK(strcmp(idstore_rc_text((enum idstore_rc)r), "?") != 0);
}

int main(void)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/silo-idstore-%d.db", (int)getpid());
    static const struct unit_test tests[] = {
        { "workload identities: create, conflicts, return-URL validation and checks, update, list", test_workloads },
        { "providers: custom (discovery or explicit metadata), a vendor preset from data, update, API keys; no secret in Get",
          test_providers },
        { "user tokens: bound to workload, user kind and id, provider and normalised scopes; swapped rows refused",
          test_tokens },
        { "3LO sessions: state once, only the starting user completes, restart survival, expiry, cascades, nothing in clear",
          test_sessions },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    unlink(dbpath);
    char j[96];
    snprintf(j, sizeof j, "%s-journal", dbpath);
    unlink(j);
    return rc;
}
