/* tests/unit/test_identity_control.c — AgentCore Identity's control plane (identity_control.c)
 * through identity_handle on a real database file: workload identities, OAuth2 credential
 * providers (custom by discovery URL or explicit metadata, a vendor preset, an included
 * vendor), API-key providers and GetTokenVault; success statuses and answer shapes as the
 * AWS SDK reads them, validation, conflicts, not-found, List paging, and that no answer ever
 * carries a secret (every secret here contains SECRET_MARK). */
#include "frontend/identity_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/aws_error.h"
#include "tests/unit/check.h"

#define SECRET_MARK "s3cr3t"
#define CALLBACK "https://silo.example/identities/oauth2/callback"

static char dbpath[64];
static const uint8_t KEY[VAULT_KEY_BYTES] = { 1, 2, 3 };
static int64_t clock_ms = 1700000000000;

static int64_t fake_now(void *ctx)
{
    (void)ctx;
    return clock_ms;
}

/* A fresh identity service on a new database, its clock at 1700000000 s. */
static struct identity *open_identity(void)
{
    clock_ms = 1700000000000;
    struct identity_config cfg = { .region = "us-east-1", .account_id = "123456789012", .callback_url = CALLBACK,
                                   .now_ms = fake_now };
    char err[256] = "";
    struct identity *id = identity_new(dbpath, vault_new(KEY), &cfg, err, sizeof err);
    if (!id) {
        fprintf(stderr, "identity_new: %s\n", err);
        abort();
    }
    return id;
}

static void close_identity(struct identity *id)
{
    identity_free(id);
    unlink(dbpath);
    char side[96];
    snprintf(side, sizeof side, "%s-wal", dbpath);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dbpath);
    unlink(side);
}

/* One answer: its status, error type and parsed body (NULL when there is none). */
struct answer {
    unsigned status;
    const char *error;
    json_object *body;
};

static struct answer call_as(struct identity *id, bool agent, const char *op, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/identities/%s", op);
    struct identity_caller caller = { .principal = agent ? "role:agent" : "admin", .agent = agent };
    struct control_plane_response out;
    identity_handle(id, path, body, strlen(body), &caller, &out);
    struct answer a = { .status = out.status, .error = out.error_type };
    if (out.body) {
        CHECK(strstr(out.body, SECRET_MARK) == NULL);   /* no answer, error or not, shows a secret */
        a.body = json_tokener_parse(out.body);
    }
    free(out.body);
    return a;
}

static struct answer call(struct identity *id, const char *op, const char *body)
{
    return call_as(id, false, op, body);
}

static void done(struct answer *a)
{
    json_object_put(a->body);
    a->body = NULL;
}

/* The member at a dotted path ("a.b.c"), or NULL. */
static json_object *at(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(o, k, &o))
            o = NULL;
    return o;
}

static const char *str_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static bool is_number(json_object *v)
{
    return v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double));
}

static size_t list_len(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

/* Expects an error answer of type; frees it. */
static void expect_error(struct identity *id, const char *op, const char *body, const char *type)
{
    struct answer a = call(id, op, body);
    bool ok = a.error && strcmp(a.error, type) == 0;
    if (!ok)
        fprintf(stderr, "  %s %s: got %u %s, want %s\n", op, body, a.status, a.error ? a.error : "(success)", type);
    CHECK(ok);
    done(&a);
}

/* ---------------------------------------------------------------- workload identities */

static void test_workloads(void)
{
    struct identity *id = open_identity();
    struct answer a = call(id, "CreateWorkloadIdentity",
                           "{\"name\":\"agent-one\",\"allowedResourceOauth2ReturnUrls\":[\"https://app.example/cb\"],"
                           "\"tags\":{\"team\":\"a b\"}}");
    CHECK_EQ(a.status, 201);
    CHECK(strcmp(str_at(a.body, "name"), "agent-one") == 0);
    CHECK(strcmp(str_at(a.body, "workloadIdentityArn"),
                 "arn:aws:bedrock-agentcore:us-east-1:123456789012:workload-identity-directory/default/"
                 "workload-identity/agent-one") == 0);
    CHECK_EQ(list_len(a.body, "allowedResourceOauth2ReturnUrls"), 1);
    done(&a);
    expect_error(id, "CreateWorkloadIdentity", "{\"name\":\"agent-one\"}", AWS_CONFLICT);
    expect_error(id, "CreateWorkloadIdentity", "{}", AWS_VALIDATION);
    expect_error(id, "CreateWorkloadIdentity", "{\"name\":\"ab\"}", AWS_VALIDATION);
    expect_error(id, "CreateWorkloadIdentity", "{\"name\":\"a/b/c\"}", AWS_VALIDATION);
    expect_error(id, "CreateWorkloadIdentity", "{\"name\":7}", AWS_VALIDATION);
    expect_error(id, "CreateWorkloadIdentity",
                 "{\"name\":\"agent-x\",\"allowedResourceOauth2ReturnUrls\":[\"http://evil.example/cb\"]}",
                 AWS_VALIDATION);
    expect_error(id, "CreateWorkloadIdentity", "{\"name\":\"agent-x\",\"tags\":{\"k\":5}}", AWS_VALIDATION);
    expect_error(id, "CreateWorkloadIdentity", "{\"name\":\"agent-x\",\"tags\":{\"k\":\"v;\"}}", AWS_VALIDATION);

    clock_ms += 5000;
    a = call(id, "UpdateWorkloadIdentity",
             "{\"name\":\"agent-one\",\"allowedResourceOauth2ReturnUrls\":[\"https://a.example/1\",\"https://a.example/2\"]}");
    CHECK_EQ(a.status, 200);
    CHECK_EQ(list_len(a.body, "allowedResourceOauth2ReturnUrls"), 2);
    CHECK(is_number(at(a.body, "createdTime")) && is_number(at(a.body, "lastUpdatedTime")));
    CHECK(json_object_get_int64(at(a.body, "lastUpdatedTime")) > json_object_get_int64(at(a.body, "createdTime")));
    done(&a);
    expect_error(id, "UpdateWorkloadIdentity", "{\"name\":\"nobody\"}", AWS_NOT_FOUND);

    a = call(id, "GetWorkloadIdentity", "{\"name\":\"agent-one\"}");
    CHECK_EQ(a.status, 200);
    CHECK(strcmp(str_at(a.body, "name"), "agent-one") == 0);
    CHECK(strstr(str_at(a.body, "workloadIdentityArn"), "workload-identity/agent-one") != NULL);
    CHECK_EQ(list_len(a.body, "allowedResourceOauth2ReturnUrls"), 2);
    CHECK(is_number(at(a.body, "createdTime")));
    CHECK_EQ(json_object_get_int64(at(a.body, "createdTime")), 1700000000);
    done(&a);
    expect_error(id, "GetWorkloadIdentity", "{\"name\":\"nobody\"}", AWS_NOT_FOUND);

    a = call(id, "DeleteWorkloadIdentity", "{\"name\":\"agent-one\"}");
    CHECK_EQ(a.status, 204);
    CHECK(a.body == NULL);
    done(&a);
    expect_error(id, "DeleteWorkloadIdentity", "{\"name\":\"agent-one\"}", AWS_NOT_FOUND);
    expect_error(id, "GetWorkloadIdentity", "{\"name\":\"agent-one\"}", AWS_NOT_FOUND);

    /* agents' vended credentials never reach the control plane */
    a = call_as(id, true, "ListWorkloadIdentities", "{}");
    CHECK(a.error && strcmp(a.error, AWS_ACCESS_DENIED) == 0);
    done(&a);
    close_identity(id);
}

static void test_workload_paging(void)
{
    struct identity *id = open_identity();
    const char *names[] = { "wl-a", "wl-b", "wl-c", "wl-d", "wl-e" };
    for (size_t i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", names[i]);
        struct answer a = call(id, "CreateWorkloadIdentity", body);
        CHECK_EQ(a.status, 201);
        done(&a);
    }
    struct answer a = call(id, "ListWorkloadIdentities", "{\"maxResults\":2}");
    CHECK_EQ(a.status, 200);
    CHECK_EQ(list_len(a.body, "workloadIdentities"), 2);
    json_object *first = json_object_array_get_idx(at(a.body, "workloadIdentities"), 0);
    CHECK(strcmp(str_at(first, "name"), "wl-a") == 0 && strstr(str_at(first, "workloadIdentityArn"), "wl-a"));
    CHECK(strcmp(str_at(a.body, "nextToken"), "wl-b") == 0);
    done(&a);
    a = call(id, "ListWorkloadIdentities", "{\"maxResults\":2,\"nextToken\":\"wl-d\"}");
    CHECK_EQ(list_len(a.body, "workloadIdentities"), 1);
    CHECK(at(a.body, "nextToken") == NULL);   /* the last page says so */
    done(&a);
    a = call(id, "ListWorkloadIdentities", "{\"maxResults\":3,\"nextToken\":\"wl-b\"}");
    CHECK_EQ(list_len(a.body, "workloadIdentities"), 3);
    CHECK(at(a.body, "nextToken") == NULL);   /* exactly full, nothing after */
    done(&a);
    a = call(id, "ListWorkloadIdentities", "");
    CHECK_EQ(list_len(a.body, "workloadIdentities"), 5);
    done(&a);
    expect_error(id, "ListWorkloadIdentities", "{\"maxResults\":0}", AWS_VALIDATION);
    expect_error(id, "ListWorkloadIdentities", "{\"maxResults\":21}", AWS_VALIDATION);
    expect_error(id, "ListWorkloadIdentities", "{\"maxResults\":\"2\"}", AWS_VALIDATION);
    close_identity(id);
}

/* ---------------------------------------------------------------- OAuth2 providers */

#define CUSTOM_DISCOVERY                                                                                      \
    "{\"name\":\"my-idp\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"     \
    "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"discoveryUrl\":"                                 \
    "\"https://idp.example/.well-known/openid-configuration\"},\"clientId\":\"cid-1\","                      \
    "\"clientSecret\":\"" SECRET_MARK "-one\"}},\"tags\":{\"env\":\"dev\"}}"

#define CUSTOM_METADATA(name, extra)                                                                          \
    "{\"name\":\"" name "\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"    \
    "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"authorizationServerMetadata\":{"                 \
    "\"issuer\":\"https://as.example\",\"authorizationEndpoint\":\"https://as.example/authorize\","          \
    "\"tokenEndpoint\":\"https://as.example/token\",\"responseTypes\":[\"code\"]}},"                         \
    "\"clientId\":\"cid-2\",\"clientSecret\":\"" SECRET_MARK "-two\"" extra "}}}"

static char *client_secret_of(struct identity *id, const char *name)
{
    char *secret = NULL;
    size_t len = 0;
    idn_lock(id);
    enum idstore_rc rc = idstore_oauth2_client_secret(id->db, id->vault, name, &secret, &len);
    idn_unlock(id);
    return rc == ID_OK ? secret : NULL;
}

static void test_oauth2_custom(void)
{
    struct identity *id = open_identity();
    struct answer a = call(id, "CreateOauth2CredentialProvider", CUSTOM_DISCOVERY);
    CHECK_EQ(a.status, 201);
    CHECK(strcmp(str_at(a.body, "name"), "my-idp") == 0);
    CHECK(strcmp(str_at(a.body, "credentialProviderArn"),
                 "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/oauth2credentialprovider/my-idp") == 0);
    CHECK(strstr(str_at(a.body, "clientSecretArn.secretArn"), "arn:aws:secretsmanager:us-east-1:123456789012:") != NULL);
    CHECK(strcmp(str_at(a.body, "callbackUrl"), CALLBACK) == 0);
    CHECK(strcmp(str_at(a.body, "status"), "READY") == 0);
    CHECK(strcmp(str_at(a.body, "oauth2ProviderConfigOutput.customOauth2ProviderConfig.oauthDiscovery.discoveryUrl"),
                 "https://idp.example/.well-known/openid-configuration") == 0);
    CHECK(strcmp(str_at(a.body, "oauth2ProviderConfigOutput.customOauth2ProviderConfig.clientId"), "cid-1") == 0);
    CHECK(strcmp(str_at(a.body, "oauth2ProviderConfigOutput.customOauth2ProviderConfig.clientAuthenticationMethod"),
                 "CLIENT_SECRET_BASIC") == 0);
    done(&a);
    expect_error(id, "CreateOauth2CredentialProvider", CUSTOM_DISCOVERY, AWS_CONFLICT);

    a = call(id, "CreateOauth2CredentialProvider", CUSTOM_METADATA("as-meta", ",\"clientAuthenticationMethod\":\"CLIENT_SECRET_POST\""));
    CHECK_EQ(a.status, 201);
    done(&a);
    a = call(id, "GetOauth2CredentialProvider", "{\"name\":\"as-meta\"}");
    CHECK_EQ(a.status, 200);
    const char *cfg = "oauth2ProviderConfigOutput.customOauth2ProviderConfig";
    char path[160];
    snprintf(path, sizeof path, "%s.oauthDiscovery.authorizationServerMetadata.tokenEndpoint", cfg);
    CHECK(strcmp(str_at(a.body, path), "https://as.example/token") == 0);
    snprintf(path, sizeof path, "%s.oauthDiscovery.authorizationServerMetadata.responseTypes", cfg);
    CHECK_EQ(list_len(a.body, path), 1);
    snprintf(path, sizeof path, "%s.clientAuthenticationMethod", cfg);
    CHECK(strcmp(str_at(a.body, path), "CLIENT_SECRET_POST") == 0);
    CHECK(strcmp(str_at(a.body, "credentialProviderVendor"), "CustomOauth2") == 0);
    CHECK(strcmp(str_at(a.body, "callbackUrl"), CALLBACK) == 0);
    CHECK(is_number(at(a.body, "createdTime")) && is_number(at(a.body, "lastUpdatedTime")));
    CHECK(strstr(str_at(a.body, "clientSecretArn.secretArn"), "as-meta") != NULL);
    done(&a);

    /* the client secret is in the vault, and only there */
    char *secret = client_secret_of(id, "as-meta");
    CHECK(secret && strcmp(secret, SECRET_MARK "-two") == 0);
    vault_secret_free(secret, secret ? strlen(secret) : 0);

    /* update: new client and secret, same ARN and createdTime */
    clock_ms += 60000;
    a = call(id, "UpdateOauth2CredentialProvider",
             "{\"name\":\"as-meta\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
             "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"discoveryUrl\":"
             "\"https://as.example/.well-known/oauth-authorization-server\"},\"clientId\":\"cid-3\","
             "\"clientSecret\":\"" SECRET_MARK "-three\"}}}");
    CHECK_EQ(a.status, 200);
    snprintf(path, sizeof path, "%s.clientId", cfg);
    CHECK(strcmp(str_at(a.body, path), "cid-3") == 0);
    snprintf(path, sizeof path, "%s.oauthDiscovery.discoveryUrl", cfg);
    CHECK(strcmp(str_at(a.body, path), "https://as.example/.well-known/oauth-authorization-server") == 0);
    CHECK(strcmp(str_at(a.body, "credentialProviderVendor"), "CustomOauth2") == 0);
    CHECK_EQ(json_object_get_int64(at(a.body, "createdTime")), 1700000000);
    CHECK(json_object_get_int64(at(a.body, "lastUpdatedTime")) > 1700000000);
    CHECK(strstr(str_at(a.body, "credentialProviderArn"), "oauth2credentialprovider/as-meta") != NULL);
    done(&a);
    secret = client_secret_of(id, "as-meta");
    CHECK(secret && strcmp(secret, SECRET_MARK "-three") == 0);
    vault_secret_free(secret, secret ? strlen(secret) : 0);
    expect_error(id, "UpdateOauth2CredentialProvider",
                 "{\"name\":\"nobody\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"githubOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_NOT_FOUND);

    a = call(id, "ListOauth2CredentialProviders", "{\"maxResults\":1}");
    CHECK_EQ(a.status, 200);
    CHECK_EQ(list_len(a.body, "credentialProviders"), 1);
    json_object *item = json_object_array_get_idx(at(a.body, "credentialProviders"), 0);
    CHECK(strcmp(str_at(item, "name"), "as-meta") == 0);
    CHECK(strcmp(str_at(item, "credentialProviderVendor"), "CustomOauth2") == 0);
    CHECK(strstr(str_at(item, "credentialProviderArn"), "as-meta") != NULL);
    CHECK(is_number(at(item, "createdTime")) && is_number(at(item, "lastUpdatedTime")));
    CHECK(strcmp(str_at(a.body, "nextToken"), "as-meta") == 0);
    done(&a);
    a = call(id, "ListOauth2CredentialProviders", "{\"nextToken\":\"as-meta\"}");
    CHECK_EQ(list_len(a.body, "credentialProviders"), 1);
    CHECK(at(a.body, "nextToken") == NULL);
    done(&a);

    a = call(id, "DeleteOauth2CredentialProvider", "{\"name\":\"my-idp\"}");
    CHECK_EQ(a.status, 204);
    CHECK(a.body == NULL);
    done(&a);
    CHECK(client_secret_of(id, "my-idp") == NULL);
    expect_error(id, "DeleteOauth2CredentialProvider", "{\"name\":\"my-idp\"}", AWS_NOT_FOUND);
    expect_error(id, "GetOauth2CredentialProvider", "{\"name\":\"my-idp\"}", AWS_NOT_FOUND);
    close_identity(id);
}

static void test_oauth2_validation(void)
{
    struct identity *id = open_identity();
    const char *op = "CreateOauth2CredentialProvider";
    /* name: required, [a-zA-Z0-9_-]{1,128} */
    expect_error(id, op, "{\"credentialProviderVendor\":\"CustomOauth2\"}", AWS_VALIDATION);
    expect_error(id, op, CUSTOM_METADATA("with.dot", ""), AWS_VALIDATION);
    /* vendor: required and one of CredentialProviderVendorType */
    expect_error(id, op,
                 "{\"name\":\"p\",\"oauth2ProviderConfigInput\":{\"githubOauth2ProviderConfig\":"
                 "{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}", AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"MadeUpOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"githubOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    /* the union: exactly one member, the vendor's */
    expect_error(id, op, "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\"}", AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"googleOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"githubOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"},"
                 "\"googleOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op, "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":{}}",
                 AWS_VALIDATION);
    /* client id and secret */
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"githubOauth2ProviderConfig\":{\"clientId\":\"x\"}}}", AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"githubOauth2ProviderConfig\":{\"clientSecret\":\"" SECRET_MARK "\"}}}", AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"githubOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecretSource\":\"EXTERNAL\","
                 "\"clientSecretConfig\":{\"secretId\":\"s\",\"jsonKey\":\"k\"}}}}", AWS_VALIDATION);
    /* oauthDiscovery: exactly one of discoveryUrl and authorizationServerMetadata */
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"discoveryUrl\":"
                 "\"https://idp.example/.well-known/openid-configuration\",\"authorizationServerMetadata\":{"
                 "\"issuer\":\"https://as.example\",\"authorizationEndpoint\":\"https://as.example/a\","
                 "\"tokenEndpoint\":\"https://as.example/t\"}},\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{},\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    /* URLs: absolute http(s); a discovery URL names a well-known document */
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"discoveryUrl\":"
                 "\"https://idp.example/config.json\"},\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"discoveryUrl\":"
                 "\"ftp://idp.example/.well-known/openid-configuration\"},\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"authorizationServerMetadata\":{"
                 "\"issuer\":\"https://as.example\",\"authorizationEndpoint\":\"/authorize\","
                 "\"tokenEndpoint\":\"https://as.example/t\"}},\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"authorizationServerMetadata\":{"
                 "\"issuer\":\"https://as.example\",\"authorizationEndpoint\":\"https://as.example/a\"}},"
                 "\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    /* what silo does not implement is refused by name */
    expect_error(id, op, CUSTOM_METADATA("p", ",\"clientAuthenticationMethod\":\"PRIVATE_KEY_JWT\""), AWS_VALIDATION);
    expect_error(id, op, CUSTOM_METADATA("p", ",\"clientAuthenticationMethod\":\"client_secret_post\""), AWS_VALIDATION);
    expect_error(id, op, CUSTOM_METADATA("p", ",\"privateKeyJwtConfig\":{}"), AWS_VALIDATION);
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"MicrosoftOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"microsoftOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    /* an included vendor without a preset needs its endpoints */
    expect_error(id, op,
                 "{\"name\":\"p\",\"credentialProviderVendor\":\"OktaOauth2\",\"oauth2ProviderConfigInput\":"
                 "{\"includedOauth2ProviderConfig\":{\"clientId\":\"x\",\"clientSecret\":\"" SECRET_MARK "\"}}}",
                 AWS_VALIDATION);
    expect_error(id, op, CUSTOM_METADATA("p", "") "x", AWS_VALIDATION);   /* not one JSON object */
    expect_error(id, op, "[]", AWS_VALIDATION);

    /* nothing of the above was stored */
    struct answer a = call(id, "ListOauth2CredentialProviders", "{}");
    CHECK_EQ(a.status, 200);
    CHECK(at(a.body, "credentialProviders") && list_len(a.body, "credentialProviders") == 0);
    done(&a);
    close_identity(id);
}

static void test_oauth2_vendors(void)
{
    struct identity *id = open_identity();
    struct answer a = call(id, "CreateOauth2CredentialProvider",
                           "{\"name\":\"github\",\"credentialProviderVendor\":\"GithubOauth2\",\"oauth2ProviderConfigInput\":"
                           "{\"githubOauth2ProviderConfig\":{\"clientId\":\"Iv1.abc\",\"clientSecret\":\"" SECRET_MARK "-gh\"}}}");
    CHECK_EQ(a.status, 201);
    const char *gh = "oauth2ProviderConfigOutput.githubOauth2ProviderConfig";
    char path[160];
    snprintf(path, sizeof path, "%s.oauthDiscovery.authorizationServerMetadata.tokenEndpoint", gh);
    CHECK(strcmp(str_at(a.body, path), "https://github.com/login/oauth/access_token") == 0);
    snprintf(path, sizeof path, "%s.clientId", gh);
    CHECK(strcmp(str_at(a.body, path), "Iv1.abc") == 0);
    snprintf(path, sizeof path, "%s.clientAuthenticationMethod", gh);
    CHECK(at(a.body, path) == NULL);   /* only the custom output has it */
    CHECK(at(a.body, "createdTime") == NULL);   /* not in CreateOauth2CredentialProviderResponse */
    done(&a);

    a = call(id, "CreateOauth2CredentialProvider",
             "{\"name\":\"okta\",\"credentialProviderVendor\":\"OktaOauth2\",\"oauth2ProviderConfigInput\":"
             "{\"includedOauth2ProviderConfig\":{\"clientId\":\"0oa1\",\"clientSecret\":\"" SECRET_MARK "-okta\","
             "\"issuer\":\"https://t.okta.example\",\"authorizationEndpoint\":\"https://t.okta.example/v1/authorize\","
             "\"tokenEndpoint\":\"https://t.okta.example/v1/token\"}}}");
    CHECK_EQ(a.status, 201);
    done(&a);
    a = call(id, "GetOauth2CredentialProvider", "{\"name\":\"okta\"}");
    CHECK_EQ(a.status, 200);
    CHECK(strcmp(str_at(a.body, "credentialProviderVendor"), "OktaOauth2") == 0);
    CHECK(strcmp(str_at(a.body, "oauth2ProviderConfigOutput.includedOauth2ProviderConfig.oauthDiscovery."
                                "authorizationServerMetadata.issuer"), "https://t.okta.example") == 0);
    done(&a);
    close_identity(id);
}

/* ---------------------------------------------------------------- API-key providers */

static char *api_key_of(struct identity *id, const char *name)
{
    char *key = NULL;
    size_t len = 0;
    idn_lock(id);
    enum idstore_rc rc = idstore_apikey_key(id->db, id->vault, name, &key, &len);
    idn_unlock(id);
    return rc == ID_OK ? key : NULL;
}

static void test_apikeys(void)
{
    struct identity *id = open_identity();
    struct answer a = call(id, "CreateApiKeyCredentialProvider",
                           "{\"name\":\"weather\",\"apiKey\":\"" SECRET_MARK "-k1\",\"tags\":{\"a\":\"b\"}}");
    CHECK_EQ(a.status, 201);
    CHECK(strcmp(str_at(a.body, "name"), "weather") == 0);
    CHECK(strcmp(str_at(a.body, "credentialProviderArn"),
                 "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/apikeycredentialprovider/weather") == 0);
    CHECK(strstr(str_at(a.body, "apiKeySecretArn.secretArn"), "weather") != NULL);
    done(&a);
    expect_error(id, "CreateApiKeyCredentialProvider", "{\"name\":\"weather\",\"apiKey\":\"" SECRET_MARK "\"}", AWS_CONFLICT);
    expect_error(id, "CreateApiKeyCredentialProvider", "{\"name\":\"other\"}", AWS_VALIDATION);
    expect_error(id, "CreateApiKeyCredentialProvider", "{\"apiKey\":\"" SECRET_MARK "\"}", AWS_VALIDATION);
    expect_error(id, "CreateApiKeyCredentialProvider", "{\"name\":\"a.b\",\"apiKey\":\"" SECRET_MARK "\"}", AWS_VALIDATION);
    expect_error(id, "CreateApiKeyCredentialProvider",
                 "{\"name\":\"other\",\"apiKeySecretConfig\":{\"secretId\":\"s\",\"jsonKey\":\"k\"},"
                 "\"apiKeySecretSource\":\"EXTERNAL\"}", AWS_VALIDATION);

    clock_ms += 1000;
    a = call(id, "UpdateApiKeyCredentialProvider", "{\"name\":\"weather\",\"apiKey\":\"" SECRET_MARK "-k2\"}");
    CHECK_EQ(a.status, 200);
    CHECK(is_number(at(a.body, "createdTime")) && is_number(at(a.body, "lastUpdatedTime")));
    CHECK(strstr(str_at(a.body, "apiKeySecretArn.secretArn"), "weather") != NULL);
    done(&a);
    char *key = api_key_of(id, "weather");
    CHECK(key && strcmp(key, SECRET_MARK "-k2") == 0);
    vault_secret_free(key, key ? strlen(key) : 0);
    expect_error(id, "UpdateApiKeyCredentialProvider", "{\"name\":\"nobody\",\"apiKey\":\"" SECRET_MARK "\"}", AWS_NOT_FOUND);
    expect_error(id, "UpdateApiKeyCredentialProvider", "{\"name\":\"weather\"}", AWS_VALIDATION);

    a = call(id, "GetApiKeyCredentialProvider", "{\"name\":\"weather\"}");
    CHECK_EQ(a.status, 200);
    CHECK(strcmp(str_at(a.body, "name"), "weather") == 0);
    CHECK(strstr(str_at(a.body, "credentialProviderArn"), "apikeycredentialprovider/weather") != NULL);
    CHECK(is_number(at(a.body, "createdTime")));
    done(&a);
    expect_error(id, "GetApiKeyCredentialProvider", "{\"name\":\"nobody\"}", AWS_NOT_FOUND);

    a = call(id, "CreateApiKeyCredentialProvider", "{\"name\":\"maps\",\"apiKey\":\"" SECRET_MARK "-k3\"}");
    CHECK_EQ(a.status, 201);
    done(&a);
    a = call(id, "ListApiKeyCredentialProviders", "{\"maxResults\":1}");
    CHECK_EQ(a.status, 200);
    CHECK_EQ(list_len(a.body, "credentialProviders"), 1);
    json_object *item = json_object_array_get_idx(at(a.body, "credentialProviders"), 0);
    CHECK(strcmp(str_at(item, "name"), "maps") == 0 && is_number(at(item, "lastUpdatedTime")));
    CHECK(strcmp(str_at(a.body, "nextToken"), "maps") == 0);
    done(&a);

    a = call(id, "DeleteApiKeyCredentialProvider", "{\"name\":\"weather\"}");
    CHECK_EQ(a.status, 204);
    CHECK(a.body == NULL);
    done(&a);
    CHECK(api_key_of(id, "weather") == NULL);
    expect_error(id, "DeleteApiKeyCredentialProvider", "{\"name\":\"weather\"}", AWS_NOT_FOUND);
    close_identity(id);
}

/* ---------------------------------------------------------------- the token vault */

static void test_token_vault(void)
{
    struct identity *id = open_identity();
    struct answer a = call(id, "get-token-vault", "");
    CHECK_EQ(a.status, 200);
    CHECK(strcmp(str_at(a.body, "tokenVaultId"), "default") == 0);
    CHECK(strcmp(str_at(a.body, "kmsConfiguration.keyType"), "ServiceManagedKey") == 0);
    CHECK(is_number(at(a.body, "lastModifiedDate")));
    done(&a);
    a = call(id, "get-token-vault", "{\"tokenVaultId\":\"default\"}");
    CHECK_EQ(a.status, 200);
    done(&a);
    expect_error(id, "get-token-vault", "{\"tokenVaultId\":\"other\"}", AWS_NOT_FOUND);
    expect_error(id, "get-token-vault", "{\"tokenVaultId\":\"a b\"}", AWS_VALIDATION);
    close_identity(id);
}

int main(void)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/silo-idctl-%d.db", (int)getpid());
    static const struct unit_test tests[] = {
        { "workload identities: create 201, conflict, validation, update, get, delete 204, not found, agents refused",
          test_workloads },
        { "workload identities: List pages by maxResults and nextToken, and says when it is done", test_workload_paging },
        { "OAuth2 custom providers: discovery URL or metadata, Get/Update/List/Delete shapes, the secret only in the vault",
          test_oauth2_custom },
        { "OAuth2 providers: names, vendors, the config union, discovery, URLs and unsupported members refused",
          test_oauth2_validation },
        { "OAuth2 providers: a vendor preset (GitHub) and an included vendor with its endpoints (Okta)",
          test_oauth2_vendors },
        { "API-key providers: create, conflict, update replaces the key, Get/List never show it, delete",
          test_apikeys },
        { "GetTokenVault: the one default vault, service-managed key", test_token_vault },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
