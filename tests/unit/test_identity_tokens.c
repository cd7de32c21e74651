/* tests/unit/test_identity_tokens.c — AgentCore Identity's data plane (identity_tokens.c)
 * through identity_handle and identity_callback, on a real database file, against a fake
 * OAuth2 provider of this test's own (a thread serving 127.0.0.1: discovery, and a token
 * endpoint for client credentials, PKCE-checked code exchange and refresh, counting requests).
 * Covers: workload access tokens (ForUserId, ForJWT, none; unknown workload), GetResourceApiKey
 * and refused tokens (tampered, expired, another runtime's), M2M with caching and its binding
 * (scopes, audiences), discovery on first use, the whole USER_FEDERATION flow (authorization
 * URL → callback → CompleteResourceTokenAuth → polling), that users and workloads never see
 * each other's sessions or tokens, refresh on expiry, the callback's refusals (malformed,
 * unknown, replayed, expired, provider error, failed exchange, another issuer), request
 * validation, that no answer carries the client secret or the code, and that the database
 * lock is never held while the provider is being asked. */
#include "frontend/identity_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/url.h"
#include "frontend/aws_error.h"
#include "frontend/b64url.h"
#include "tests/unit/check.h"

#define SECRET_MARK "s3cr3t"
#define CALLBACK "https://silo.example/identities/oauth2/callback"
#define RETURN_URL "https://app.example/cb?x=1"
#define GOOD_CODE "code-granted-by-the-user"

/* ---------------------------------------------------------------- the fake provider */

static struct {
    int fd, port;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t lock;
    struct identity *id;          /* to check its lock is free while we answer */
    int client_credentials, exchanges, refreshes, discoveries, lock_held;
    int issued;
    bool refuse_refresh;
    char challenge[64];           /* the code_challenge of the authorization URL */
    char last_body[4096];
} idp = { .lock = PTHREAD_MUTEX_INITIALIZER };

static char base[64];

static void send_answer(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, strlen(body));
    send(fd, head, (size_t)n, MSG_NOSIGNAL);
    send(fd, body, strlen(body), MSG_NOSIGNAL);
}

/* Reads one request: its path (query cut) and body. */
static bool read_request(int fd, char *req, size_t cap, char *path, size_t path_cap, const char **body)
{
    size_t len = 0, clen = 0;
    char *end = NULL;
    while (!end || len < (size_t)(end - req) + 4 + clen) {
        ssize_t n = recv(fd, req + len, cap - 1 - len, 0);
        if (n <= 0 || (len += (size_t)n) >= cap - 1)
            return false;
        req[len] = 0;
        if (!end && (end = strstr(req, "\r\n\r\n"))) {
            const char *cl = strcasestr(req, "\r\ncontent-length:");
            clen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        }
    }
    const char *p = strchr(req, ' ');
    size_t n = p ? strcspn(p + 1, " ?\r\n") : 0;
    if (!p || n == 0 || n >= path_cap)
        return false;
    memcpy(path, p + 1, n);
    path[n] = 0;
    *body = end + 4;
    return true;
}

static bool form_is(const char *form, const char *key, const char *want)
{
    char v[512];
    return url_query_param(form, key, v, sizeof v) == 1 && strcmp(v, want) == 0;
}

static bool pkce_ok(const char *form)
{
    char verifier[256], computed[64] = "";
    if (url_query_param(form, "code_verifier", verifier, sizeof verifier) != 1)
        return false;
    uint8_t d[32];
    unsigned dl;
    EVP_Digest(verifier, strlen(verifier), d, &dl, EVP_sha256(), NULL);
    b64url_encode(d, sizeof d, computed, sizeof computed);
    return idp.challenge[0] && strcmp(computed, idp.challenge) == 0;
}

/* The token endpoint (idp.lock held). */
static void token_endpoint(const char *form, int *status, char *out, size_t cap)
{
    int n = ++idp.issued;
    if (!form_is(form, "client_id", "cid") || !form_is(form, "client_secret", SECRET_MARK "-client")) {
        *status = 401;
        snprintf(out, cap, "{\"error\":\"invalid_client\"}");
    } else if (form_is(form, "grant_type", "client_credentials")) {
        idp.client_credentials++;
        snprintf(out, cap, "{\"access_token\":\"m2m-%d\",\"token_type\":\"Bearer\",\"expires_in\":3600}", n);
    } else if (form_is(form, "grant_type", "authorization_code")) {
        idp.exchanges++;
        if (!form_is(form, "code", GOOD_CODE) || !form_is(form, "redirect_uri", CALLBACK) || !pkce_ok(form)) {
            *status = 400;
            snprintf(out, cap, "{\"error\":\"invalid_grant\"}");
        } else {
            snprintf(out, cap, "{\"access_token\":\"user-%d\",\"refresh_token\":\"refresh-%d\",\"expires_in\":3600}",
                     n, n);
        }
    } else if (form_is(form, "grant_type", "refresh_token")) {
        idp.refreshes++;
        if (idp.refuse_refresh) {
            *status = 400;
            snprintf(out, cap, "{\"error\":\"invalid_grant\"}");
        } else {
            snprintf(out, cap, "{\"access_token\":\"refreshed-%d\",\"expires_in\":3600}", n);
        }
    } else {
        *status = 400;
        snprintf(out, cap, "{\"error\":\"unsupported_grant_type\"}");
    }
}

static void serve(int fd)
{
    static char req[16384];
    char path[256], out[1024];
    const char *body;
    if (!read_request(fd, req, sizeof req, path, sizeof path, &body))
        return;
    pthread_mutex_lock(&idp.lock);
    if (idp.id && pthread_mutex_trylock(&idp.id->lock) == 0)
        pthread_mutex_unlock(&idp.id->lock);
    else if (idp.id)
        idp.lock_held++;
    snprintf(idp.last_body, sizeof idp.last_body, "%s", body);
    int status = 200;
    if (strcmp(path, "/.well-known/openid-configuration") == 0) {
        idp.discoveries++;
        snprintf(out, sizeof out, "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/authorize\","
                 "\"token_endpoint\":\"%s/token\"}", base, base, base);
    } else if (strcmp(path, "/token") == 0) {
        token_endpoint(body, &status, out, sizeof out);
    } else {
        status = 404;
        snprintf(out, sizeof out, "{}");
    }
    pthread_mutex_unlock(&idp.lock);
    send_answer(fd, status, out);
}

static void *idp_main(void *arg)
{
    (void)arg;
    while (!idp.stop) {
        struct pollfd p = { .fd = idp.fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(idp.fd, NULL, NULL);
        if (c >= 0) {
            serve(c);
            close(c);
        }
    }
    return NULL;
}

static void idp_start(void)
{
    idp.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(idp.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(idp.fd, 16) != 0 ||
        getsockname(idp.fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    idp.port = ntohs(a.sin_port);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", idp.port);
    pthread_create(&idp.th, NULL, idp_main, NULL);
}

static void idp_stop(void)
{
    idp.stop = 1;
    pthread_join(idp.th, NULL);
    close(idp.fd);
}

/* Counters and switches back to zero (the listening socket stays). */
static void idp_reset(struct identity *id)
{
    pthread_mutex_lock(&idp.lock);
    idp.id = id;
    idp.client_credentials = idp.exchanges = idp.refreshes = idp.discoveries = idp.lock_held = 0;
    idp.refuse_refresh = false;
    idp.challenge[0] = idp.last_body[0] = 0;
    pthread_mutex_unlock(&idp.lock);
}

static int idp_count(const int *counter)
{
    pthread_mutex_lock(&idp.lock);
    int n = *counter;
    pthread_mutex_unlock(&idp.lock);
    return n;
}

/* ---------------------------------------------------------------- the identity service */

static char dbpath[64];
static const uint8_t KEY[VAULT_KEY_BYTES] = { 9, 8, 7 };
static int64_t clock_ms;
static const char *const loopback[] = { "127.0.0.1" };
static char last_jwt_workload[64];

static int64_t fake_now(void *ctx)
{
    (void)ctx;
    return clock_ms;
}

static void advance(int64_t seconds)
{
    clock_ms += seconds * 1000;
}

/* The runtime's authorizer, faked: "jwt-<name>" is user "https://users.example|<name>". */
static bool fake_verify_jwt(void *ctx, const char *workload, const char *token, char *user_id, size_t user_id_len,
                            char *why, size_t why_len)
{
    (void)ctx;
    snprintf(last_jwt_workload, sizeof last_jwt_workload, "%s", workload);
    if (strncmp(token, "jwt-", 4) != 0) {
        snprintf(why, why_len, "bad signature");
        return false;
    }
    snprintf(user_id, user_id_len, "https://users.example|%s", token + 4);
    return true;
}

struct answer {
    unsigned status;
    const char *error;
    json_object *body;
    char message[512];
};

static struct answer call_from(struct identity *id, const char *runtime, const char *op, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/identities/%s", op);
    struct identity_caller caller = { .principal = runtime ? "role:agent" : "admin", .agent = runtime != NULL,
                                      .from_runtime = runtime };
    struct control_plane_response out;
    identity_handle(id, path, body, strlen(body), &caller, &out);
    struct answer a = { .status = out.status, .error = out.error_type };
    if (out.body) {
        CHECK(strstr(out.body, SECRET_MARK) == NULL);   /* never the client secret */
        CHECK(strstr(out.body, GOOD_CODE) == NULL);
        a.body = json_tokener_parse(out.body);
    }
    json_object *m;
    if (a.error && a.body && json_object_object_get_ex(a.body, "message", &m))
        snprintf(a.message, sizeof a.message, "%s", json_object_get_string(m));
    free(out.body);
    return a;
}

static struct answer call(struct identity *id, const char *op, const char *body)
{
    return call_from(id, NULL, op, body);
}

static void done(struct answer *a)
{
    json_object_put(a->body);
    a->body = NULL;
}

static const char *str_at(const struct answer *a, const char *key)
{
    json_object *v;
    return a->body && json_object_object_get_ex(a->body, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static bool is_error(const struct answer *a, const char *type)
{
    bool ok = a->error && strcmp(a->error, type) == 0;
    if (!ok)
        fprintf(stderr, "  got %u %s (%s), want %s\n", a->status, a->error ? a->error : "success", a->message, type);
    return ok;
}

static void expect_error(struct identity *id, const char *op, const char *body, const char *type)
{
    struct answer a = call(id, op, body);
    CHECK(is_error(&a, type));
    done(&a);
}

static void expect_ok(struct identity *id, const char *op, const char *body)
{
    struct answer a = call(id, op, body);
    if (a.error)
        fprintf(stderr, "  %s: %s %s\n", op, a.error, a.message);
    CHECK(a.error == NULL);
    done(&a);
}

/* A fresh service with workloads agent-a and agent-b (both may return to RETURN_URL), the
 * OAuth2 provider "idp" (explicit metadata at the fake provider, client_secret_post) and the
 * API-key provider "weather". */
static struct identity *open_identity(void)
{
    clock_ms = 1700000000000;
    struct identity_config cfg = {
        .region = "us-east-1", .account_id = "123456789012", .callback_url = CALLBACK,
        .oauth2 = { loopback, 1, 5 }, .verify_user_jwt = fake_verify_jwt, .now_ms = fake_now,
    };
    char err[256] = "";
    struct identity *id = identity_new(dbpath, vault_new(KEY), &cfg, err, sizeof err);
    if (!id) {
        fprintf(stderr, "identity_new: %s\n", err);
        abort();
    }
    expect_ok(id, "CreateWorkloadIdentity",
              "{\"name\":\"agent-a\",\"allowedResourceOauth2ReturnUrls\":[\"" RETURN_URL "\"]}");
    expect_ok(id, "CreateWorkloadIdentity",
              "{\"name\":\"agent-b\",\"allowedResourceOauth2ReturnUrls\":[\"" RETURN_URL "\"]}");
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"idp\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
             "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"authorizationServerMetadata\":{\"issuer\":\"%s\","
             "\"authorizationEndpoint\":\"%s/authorize\",\"tokenEndpoint\":\"%s/token\"}},\"clientId\":\"cid\","
             "\"clientSecret\":\"" SECRET_MARK "-client\",\"clientAuthenticationMethod\":\"CLIENT_SECRET_POST\"}}}",
             base, base, base);
    expect_ok(id, "CreateOauth2CredentialProvider", body);
    expect_ok(id, "CreateApiKeyCredentialProvider", "{\"name\":\"weather\",\"apiKey\":\"api-key-1\"}");
    idp_reset(id);
    return id;
}

static void close_identity(struct identity *id)
{
    idp_reset(NULL);
    identity_free(id);
    char side[96];
    unlink(dbpath);
    snprintf(side, sizeof side, "%s-wal", dbpath);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dbpath);
    unlink(side);
}

/* A workload access token from the operation itself: user "" = none, "jwt-…" = a JWT user,
 * else a User-Id. */
static void wat(struct identity *id, const char *workload, const char *user, char out[WAT_MAX_TOKEN + 1])
{
    char body[256];
    const char *op = !*user ? "GetWorkloadAccessToken"
                   : strncmp(user, "jwt-", 4) == 0 ? "GetWorkloadAccessTokenForJWT"
                                                   : "GetWorkloadAccessTokenForUserId";
    snprintf(body, sizeof body, "{\"workloadName\":\"%s\"%s%s%s%s}", workload, *user ? "," : "",
             !*user ? "" : strncmp(user, "jwt-", 4) == 0 ? "\"userToken\":\"" : "\"userId\":\"", user, *user ? "\"" : "");
    struct answer a = call(id, op, body);
    CHECK(a.status == 200);
    snprintf(out, WAT_MAX_TOKEN + 1, "%s", str_at(&a, "workloadAccessToken"));
    done(&a);
}

/* GetResourceOauth2Token for provider "idp" with scopes ["write","read"] and extra members. */
static struct answer token_call(struct identity *id, const char *token, const char *flow, const char *extra)
{
    static char body[8192];
    snprintf(body, sizeof body,
             "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"idp\",\"scopes\":[\"write\","
             "\"read\"],\"oauth2Flow\":\"%s\"%s}",
             token, flow, extra ? extra : "");
    return call(id, "oauth2/token", body);
}

static struct answer federation(struct identity *id, const char *token, const char *extra)
{
    return token_call(id, token, "USER_FEDERATION", extra);
}

static struct answer poll_session(struct identity *id, const char *token, const char *session_uri)
{
    char extra[256];
    snprintf(extra, sizeof extra, ",\"sessionUri\":\"%s\",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\"", session_uri);
    return federation(id, token, extra);
}

/* A started flow: the session URI and the state taken from the authorization URL (whose
 * code_challenge the fake provider will check). */
struct flow {
    char session_uri[128], state[128], url[2048];
};

static bool start_flow(struct identity *id, const char *token, const char *extra, struct flow *f)
{
    char members[1024];
    snprintf(members, sizeof members, ",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\"%s", extra ? extra : "");
    struct answer a = federation(id, token, members);
    bool ok = a.status == 200 && strcmp(str_at(&a, "sessionStatus"), "IN_PROGRESS") == 0 &&
              !*str_at(&a, "accessToken") && *str_at(&a, "authorizationUrl");
    if (!ok)
        fprintf(stderr, "  start_flow: %u %s %s\n", a.status, a.error ? a.error : "", a.message);
    snprintf(f->session_uri, sizeof f->session_uri, "%s", str_at(&a, "sessionUri"));
    snprintf(f->url, sizeof f->url, "%s", str_at(&a, "authorizationUrl"));
    done(&a);
    const char *q = strchr(f->url, '?');
    char challenge[64] = "";
    ok = ok && q && url_query_param(q + 1, "state", f->state, sizeof f->state) == 1 &&
         url_query_param(q + 1, "code_challenge", challenge, sizeof challenge) == 1;
    pthread_mutex_lock(&idp.lock);
    snprintf(idp.challenge, sizeof idp.challenge, "%s", challenge);
    pthread_mutex_unlock(&idp.lock);
    return ok;
}

/* The browser's return; the body and Location never show the code or a secret. */
static struct identity_redirect browser_returns(struct identity *id, const char *query)
{
    struct identity_redirect r;
    identity_callback(id, query, &r);
    CHECK(r.body != NULL);
    for (const char *s = r.body; s; s = s == r.body ? r.location : NULL)
        CHECK(strstr(s, GOOD_CODE) == NULL && strstr(s, "bad-code") == NULL && strstr(s, SECRET_MARK) == NULL);
    return r;
}

static void redirect_free(struct identity_redirect *r)
{
    free(r->location);
    free(r->body);
}

static unsigned callback_status(struct identity *id, const char *query)
{
    struct identity_redirect r = browser_returns(id, query);
    unsigned status = r.status;
    redirect_free(&r);
    return status;
}

static unsigned consent(struct identity *id, const struct flow *f, const char *code)
{
    char q[512];
    snprintf(q, sizeof q, "state=%s&code=%s", f->state, code);
    return callback_status(id, q);
}

static struct answer complete(struct identity *id, const char *session_uri, const char *user_member)
{
    char body[512];
    snprintf(body, sizeof body, "{\"sessionUri\":\"%s\",\"userIdentifier\":{%s}}", session_uri, user_member);
    return call(id, "CompleteResourceTokenAuth", body);
}

/* ---------------------------------------------------------------- tests */

static void test_workload_tokens(void)
{
    struct identity *id = open_identity();
    char token[WAT_MAX_TOKEN + 1];
    struct wat_claims claims;
    wat(id, "agent-a", "alice", token);
    CHECK_EQ(wat_verify(id->wat_key, token, clock_ms / 1000, &claims), WAT_OK);
    CHECK(claims.user_kind == WAT_USER_ID && strcmp(claims.user_id, "alice") == 0 &&
          strcmp(claims.workload, "agent-a") == 0);
    CHECK_EQ(claims.expires_at - claims.issued_at, WAT_DEFAULT_TTL_S);
    wat(id, "agent-a", "jwt-bob", token);
    CHECK_EQ(wat_verify(id->wat_key, token, clock_ms / 1000, &claims), WAT_OK);
    CHECK(claims.user_kind == WAT_USER_JWT && strcmp(claims.user_id, "https://users.example|bob") == 0);
    CHECK(strcmp(last_jwt_workload, "agent-a") == 0);   /* the workload's authorizer decides */
    wat(id, "agent-b", "", token);
    CHECK_EQ(wat_verify(id->wat_key, token, clock_ms / 1000, &claims), WAT_OK);
    CHECK(claims.user_kind == WAT_USER_NONE && strcmp(claims.workload, "agent-b") == 0 && !claims.user_id[0]);

    expect_error(id, "GetWorkloadAccessToken", "{\"workloadName\":\"nobody\"}", AWS_NOT_FOUND);
    expect_error(id, "GetWorkloadAccessTokenForUserId", "{\"workloadName\":\"nobody\",\"userId\":\"a\"}", AWS_NOT_FOUND);
    expect_error(id, "GetWorkloadAccessTokenForUserId", "{\"workloadName\":\"agent-a\"}", AWS_VALIDATION);
    expect_error(id, "GetWorkloadAccessTokenForUserId", "{\"workloadName\":\"agent-a\",\"userId\":\"a\\nb\"}",
                 AWS_VALIDATION);
    expect_error(id, "GetWorkloadAccessTokenForUserId", "{\"workloadName\":\"agent-a\",\"userId\":7}", AWS_VALIDATION);
    struct answer a = call(id, "GetWorkloadAccessTokenForJWT", "{\"workloadName\":\"agent-a\",\"userToken\":\"forged\"}");
    CHECK(is_error(&a, AWS_ACCESS_DENIED) && strstr(a.message, "bad signature"));
    done(&a);
    /* an agent never mints tokens for users of its choosing */
    a = call_from(id, "agent-a", "GetWorkloadAccessTokenForUserId", "{\"workloadName\":\"agent-a\",\"userId\":\"x\"}");
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    close_identity(id);
}

static void test_api_keys(void)
{
    struct identity *id = open_identity();
    char token[WAT_MAX_TOKEN + 1], body[4096];
    wat(id, "agent-a", "", token);
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"weather\"}",
             token);
    struct answer a = call_from(id, "agent-a", "api-key", body);
    CHECK(a.status == 200 && strcmp(str_at(&a, "apiKey"), "api-key-1") == 0);
    done(&a);
    /* from inside another runtime's guest the token is worthless */
    a = call_from(id, "agent-b", "api-key", body);
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"nothing\"}",
             token);
    expect_error(id, "api-key", body, AWS_NOT_FOUND);
    expect_error(id, "api-key", "{\"resourceCredentialProviderName\":\"weather\"}", AWS_VALIDATION);

    /* tampered: one character of the sealed part changed */
    char tampered[WAT_MAX_TOKEN + 1];
    snprintf(tampered, sizeof tampered, "%s", token);
    tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"weather\"}",
             tampered);
    a = call(id, "api-key", body);
    CHECK(is_error(&a, AWS_ACCESS_DENIED) && !strstr(a.message, tampered) && !strstr(a.message, token));
    CHECK(strstr(a.message, "tampered") != NULL);
    done(&a);
    /* expired */
    advance(WAT_DEFAULT_TTL_S + 1);
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"weather\"}",
             token);
    a = call(id, "api-key", body);
    CHECK(is_error(&a, AWS_ACCESS_DENIED) && strstr(a.message, "expired") && !strstr(a.message, token));
    done(&a);
    close_identity(id);
}

static void test_m2m(void)
{
    struct identity *id = open_identity();
    char token[WAT_MAX_TOKEN + 1], other[WAT_MAX_TOKEN + 1];
    wat(id, "agent-a", "", token);
    struct answer a = token_call(id, token, "M2M", NULL);
    CHECK(a.status == 200 && strncmp(str_at(&a, "accessToken"), "m2m-", 4) == 0);
    char first[64];
    snprintf(first, sizeof first, "%s", str_at(&a, "accessToken"));
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 1);
    pthread_mutex_lock(&idp.lock);
    CHECK(form_is(idp.last_body, "scope", "read write"));
    pthread_mutex_unlock(&idp.lock);

    /* cached: the same workload (whatever user its token names), scopes in any order */
    wat(id, "agent-a", "alice", other);
    char body[4096];
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"idp\","
             "\"scopes\":[\"read\",\"write\",\"read\"],\"oauth2Flow\":\"M2M\"}", other);
    a = call(id, "oauth2/token", body);
    CHECK(a.status == 200 && strcmp(str_at(&a, "accessToken"), first) == 0);
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 1);

    /* another workload, an audience, or forceAuthentication: fetched anew */
    wat(id, "agent-b", "", other);
    a = token_call(id, other, "M2M", NULL);
    CHECK(a.status == 200 && strcmp(str_at(&a, "accessToken"), first) != 0);
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 2);
    a = token_call(id, token, "M2M", ",\"audiences\":[\"https://api.example/\"],\"resources\":[\"urn:r1\"]");
    CHECK(a.status == 200 && strcmp(str_at(&a, "accessToken"), first) != 0);
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 3);
    pthread_mutex_lock(&idp.lock);
    CHECK(form_is(idp.last_body, "audience", "https://api.example/") && form_is(idp.last_body, "resource", "urn:r1"));
    pthread_mutex_unlock(&idp.lock);
    a = token_call(id, token, "M2M", ",\"audiences\":[\"https://api.example/\"],\"resources\":[\"urn:r1\"]");
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 3);
    a = token_call(id, token, "M2M", ",\"forceAuthentication\":true");
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 4);

    /* shortly before expiry: fetched again */
    advance(3600 - 30);
    wat(id, "agent-a", "", token);
    a = token_call(id, token, "M2M", NULL);
    CHECK(a.status == 200);
    done(&a);
    CHECK_EQ(idp_count(&idp.client_credentials), 5);

    /* a provider refusing the client: AccessDenied naming its error, never the secret */
    expect_ok(id, "UpdateOauth2CredentialProvider", "{\"name\":\"idp\",\"credentialProviderVendor\":\"CustomOauth2\","
              "\"oauth2ProviderConfigInput\":{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{"
              "\"discoveryUrl\":\"http://127.0.0.1:1/.well-known/openid-configuration\"},\"clientId\":\"cid\","
              "\"clientSecret\":\"" SECRET_MARK "-client\"}}}");
    a = token_call(id, token, "M2M", ",\"forceAuthentication\":true");
    CHECK(is_error(&a, AWS_INTERNAL));   /* nothing listens at port 1 */
    done(&a);
    snprintf(body, sizeof body,
             "{\"name\":\"idp\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
             "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"authorizationServerMetadata\":{\"issuer\":\"%s\","
             "\"authorizationEndpoint\":\"%s/authorize\",\"tokenEndpoint\":\"%s/token\"}},\"clientId\":\"cid\","
             "\"clientSecret\":\"" SECRET_MARK "-wrong\",\"clientAuthenticationMethod\":\"CLIENT_SECRET_POST\"}}}",
             base, base, base);
    expect_ok(id, "UpdateOauth2CredentialProvider", body);
    a = token_call(id, token, "M2M", ",\"forceAuthentication\":true");
    CHECK(is_error(&a, AWS_ACCESS_DENIED) && strstr(a.message, "invalid_client"));
    done(&a);
    a = call(id, "oauth2/token", "{\"workloadIdentityToken\":\"x\",\"resourceCredentialProviderName\":\"idp\"}");
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"nope\","
             "\"scopes\":[],\"oauth2Flow\":\"M2M\"}", token);
    expect_error(id, "oauth2/token", body, AWS_NOT_FOUND);
    CHECK_EQ(idp_count(&idp.lock_held), 0);
    close_identity(id);
}

static void test_discovery(void)
{
    struct identity *id = open_identity();
    char body[4096], token[WAT_MAX_TOKEN + 1];
    snprintf(body, sizeof body,
             "{\"name\":\"found\",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigInput\":"
             "{\"customOauth2ProviderConfig\":{\"oauthDiscovery\":{\"discoveryUrl\":\"%s/.well-known/"
             "openid-configuration\"},\"clientId\":\"cid\",\"clientSecret\":\"" SECRET_MARK "-client\","
             "\"clientAuthenticationMethod\":\"CLIENT_SECRET_POST\"}}}", base);
    expect_ok(id, "CreateOauth2CredentialProvider", body);
    wat(id, "agent-a", "", token);
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"found\","
                 "\"scopes\":[\"s%d\"],\"oauth2Flow\":\"M2M\"}", token, i);
        struct answer a = call(id, "oauth2/token", body);
        CHECK(a.status == 200 && strncmp(str_at(&a, "accessToken"), "m2m-", 4) == 0);
        done(&a);
    }
    CHECK_EQ(idp_count(&idp.discoveries), 1);   /* the endpoints were kept */
    CHECK_EQ(idp_count(&idp.client_credentials), 2);
    struct answer a = call(id, "GetOauth2CredentialProvider", "{\"name\":\"found\"}");
    CHECK(a.status == 200);
    done(&a);
    /* a USER_FEDERATION flow with it has an authorization URL from discovery */
    wat(id, "agent-a", "alice", token);
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"found\","
             "\"scopes\":[],\"oauth2Flow\":\"USER_FEDERATION\",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\"}", token);
    a = call(id, "oauth2/token", body);
    char want[128];
    snprintf(want, sizeof want, "%s/authorize?", base);
    CHECK(a.status == 200 && strncmp(str_at(&a, "authorizationUrl"), want, strlen(want)) == 0);
    done(&a);
    CHECK_EQ(idp_count(&idp.lock_held), 0);
    close_identity(id);
}

static void test_user_federation(void)
{
    struct identity *id = open_identity();
    char alice[WAT_MAX_TOKEN + 1], bob[WAT_MAX_TOKEN + 1], alice_b[WAT_MAX_TOKEN + 1], jwt_alice[WAT_MAX_TOKEN + 1];
    wat(id, "agent-a", "alice", alice);
    wat(id, "agent-a", "bob", bob);
    wat(id, "agent-b", "alice", alice_b);
    wat(id, "agent-a", "jwt-alice", jwt_alice);

    struct flow f;
    CHECK(start_flow(id, alice, ",\"customState\":\"csrf 1\",\"customParameters\":{\"prompt\":\"consent\"},"
                     "\"audiences\":[\"aud-1\"]", &f));
    char want[128];
    snprintf(want, sizeof want, "%s/authorize?response_type=code&client_id=cid&", base);
    CHECK(strncmp(f.url, want, strlen(want)) == 0);
    const char *q = strchr(f.url, '?') + 1;
    CHECK(form_is(q, "redirect_uri", CALLBACK) && form_is(q, "scope", "read write") &&
          form_is(q, "code_challenge_method", "S256") && form_is(q, "prompt", "consent") &&
          form_is(q, "audience", "aud-1"));
    CHECK(strncmp(f.session_uri, "urn:ietf:params:oauth:request_uri:", 34) == 0);

    /* before the user comes back: in progress */
    struct answer a = poll_session(id, alice, f.session_uri);
    CHECK(a.status == 200 && strcmp(str_at(&a, "sessionStatus"), "IN_PROGRESS") == 0 && !*str_at(&a, "accessToken"));
    done(&a);
    a = complete(id, f.session_uri, "\"userId\":\"alice\"");
    CHECK(is_error(&a, AWS_VALIDATION));   /* no consent yet */
    done(&a);

    /* the browser returns with the code: exchanged (PKCE checked), redirected to the app */
    char q2[512];
    snprintf(q2, sizeof q2, "state=%s&code=" GOOD_CODE, f.state);
    struct identity_redirect r = browser_returns(id, q2);
    CHECK_EQ(r.status, 302);
    char *enc = curl_easy_escape(NULL, f.session_uri, 0);
    char location[512];
    snprintf(location, sizeof location, RETURN_URL "&session_id=%s&state=csrf%%201", enc);
    curl_free(enc);
    CHECK(r.location && strcmp(r.location, location) == 0);
    redirect_free(&r);
    CHECK_EQ(idp_count(&idp.exchanges), 1);
    CHECK_EQ(consent(id, &f, GOOD_CODE), 403);   /* the state works once */
    r = browser_returns(id, q2);
    CHECK(r.status == 403 && strstr(r.body, "already used") && !r.location);
    redirect_free(&r);
    CHECK_EQ(idp_count(&idp.exchanges), 1);

    /* until the application vouches for its user, the token waits */
    a = poll_session(id, alice, f.session_uri);
    CHECK(strcmp(str_at(&a, "sessionStatus"), "IN_PROGRESS") == 0 && !*str_at(&a, "accessToken"));
    done(&a);
    a = complete(id, f.session_uri, "\"userId\":\"bob\"");
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    a = complete(id, f.session_uri, "\"userToken\":\"jwt-alice\"");   /* same name, another kind of user */
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    a = complete(id, f.session_uri, "\"userToken\":\"forged\"");
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    a = complete(id, f.session_uri, "\"userId\":\"alice\",\"userToken\":\"jwt-alice\"");
    CHECK(is_error(&a, AWS_VALIDATION));
    done(&a);
    a = complete(id, f.session_uri, "\"user\":\"alice\"");
    CHECK(is_error(&a, AWS_VALIDATION));
    done(&a);
    a = complete(id, "urn:ietf:params:oauth:request_uri:unknown", "\"userId\":\"alice\"");
    CHECK(is_error(&a, AWS_NOT_FOUND));
    done(&a);
    a = complete(id, f.session_uri, "\"userId\":\"alice\"");
    CHECK(a.status == 200 && a.error == NULL && a.body && json_object_object_length(a.body) == 0);
    done(&a);
    a = complete(id, f.session_uri, "\"userId\":\"alice\"");
    CHECK(is_error(&a, AWS_VALIDATION) && strstr(a.message, "already completed"));
    done(&a);

    /* the agent's poll now gets the token; nobody else does */
    a = poll_session(id, alice, f.session_uri);
    CHECK(a.status == 200 && strncmp(str_at(&a, "accessToken"), "user-", 5) == 0);
    char user_token[64];
    snprintf(user_token, sizeof user_token, "%s", str_at(&a, "accessToken"));
    done(&a);
    a = poll_session(id, bob, f.session_uri);
    CHECK(is_error(&a, AWS_ACCESS_DENIED) && !strstr(a.message, user_token));
    done(&a);
    a = poll_session(id, alice_b, f.session_uri);
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    a = poll_session(id, jwt_alice, f.session_uri);
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    struct flow g;
    CHECK(start_flow(id, bob, ",\"audiences\":[\"aud-1\"]", &g));   /* bob starts his own */
    CHECK(strcmp(g.session_uri, f.session_uri) != 0);
    CHECK(start_flow(id, alice_b, ",\"audiences\":[\"aud-1\"]", &g));
    CHECK(start_flow(id, jwt_alice, ",\"audiences\":[\"aud-1\"]", &g));

    /* alice again, without a session: the stored token, scopes in any order */
    char extra[256];
    snprintf(extra, sizeof extra, ",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\",\"audiences\":[\"aud-1\"]");
    a = federation(id, alice, extra);
    CHECK(a.status == 200 && strcmp(str_at(&a, "accessToken"), user_token) == 0 && !*str_at(&a, "sessionUri"));
    done(&a);
    CHECK(start_flow(id, alice, NULL, &g));   /* without the audience: another binding */
    CHECK(start_flow(id, alice, ",\"audiences\":[\"aud-1\"],\"forceAuthentication\":true", &g));
    CHECK_EQ(idp_count(&idp.exchanges), 1);

    /* the token expires: refreshed once, then served until it expires again */
    advance(3600);
    wat(id, "agent-a", "alice", alice);
    a = federation(id, alice, extra);
    CHECK(a.status == 200 && strncmp(str_at(&a, "accessToken"), "refreshed-", 10) == 0);
    char refreshed[64];
    snprintf(refreshed, sizeof refreshed, "%s", str_at(&a, "accessToken"));
    done(&a);
    CHECK_EQ(idp_count(&idp.refreshes), 1);
    pthread_mutex_lock(&idp.lock);
    CHECK(form_is(idp.last_body, "grant_type", "refresh_token"));
    CHECK(strstr(idp.last_body, "refresh_token=refresh-") != NULL);
    pthread_mutex_unlock(&idp.lock);
    a = federation(id, alice, extra);
    CHECK(strcmp(str_at(&a, "accessToken"), refreshed) == 0);
    done(&a);
    CHECK_EQ(idp_count(&idp.refreshes), 1);
    /* expired again and the refresh token refused: a new authorization */
    advance(3600);
    wat(id, "agent-a", "alice", alice);
    pthread_mutex_lock(&idp.lock);
    idp.refuse_refresh = true;
    pthread_mutex_unlock(&idp.lock);
    CHECK(start_flow(id, alice, ",\"audiences\":[\"aud-1\"]", &g));
    CHECK_EQ(idp_count(&idp.refreshes), 2);
    CHECK_EQ(idp_count(&idp.lock_held), 0);
    close_identity(id);
}

static void test_callback_refusals(void)
{
    struct identity *id = open_identity();
    char alice[WAT_MAX_TOKEN + 1];
    wat(id, "agent-a", "alice", alice);
    CHECK_EQ(callback_status(id, ""), 400);
    CHECK_EQ(callback_status(id, NULL), 400);
    CHECK_EQ(callback_status(id, "code=abc"), 400);
    CHECK_EQ(callback_status(id, "state=a&state=b&code=c"), 400);
    CHECK_EQ(callback_status(id, "state=%zz&code=c"), 400);
    CHECK_EQ(callback_status(id, "state=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG&code=c"), 400);   /* unknown */
    char *huge = malloc(40000);
    memset(huge, 'a', 39999);
    memcpy(huge, "state=", 6);
    huge[39999] = 0;
    CHECK_EQ(callback_status(id, huge), 400);
    free(huge);

    /* the provider says no: back to the application with the error; the agent sees FAILED */
    struct flow f;
    CHECK(start_flow(id, alice, ",\"customState\":\"cs\"", &f));
    char q[512];
    snprintf(q, sizeof q, "state=%s&error=access_denied&error_description=the%%20user%%20said%%20no", f.state);
    struct identity_redirect r = browser_returns(id, q);
    CHECK_EQ(r.status, 302);
    CHECK(r.location && strncmp(r.location, RETURN_URL "&session_id=urn%3Aietf", sizeof RETURN_URL "&session_id=urn%3Aietf" - 1) == 0 &&
          strstr(r.location, "&error=access_denied&state=cs") && !strstr(r.location, "said"));
    redirect_free(&r);
    struct answer a = poll_session(id, alice, f.session_uri);
    CHECK(a.status == 200 && strcmp(str_at(&a, "sessionStatus"), "FAILED") == 0 && !*str_at(&a, "accessToken"));
    done(&a);
    a = complete(id, f.session_uri, "\"userId\":\"alice\"");
    CHECK(is_error(&a, AWS_VALIDATION));
    done(&a);

    /* the code refused at the token endpoint: 502, FAILED */
    CHECK(start_flow(id, alice, NULL, &f));
    CHECK_EQ(consent(id, &f, "bad-code"), 502);
    a = poll_session(id, alice, f.session_uri);
    CHECK(strcmp(str_at(&a, "sessionStatus"), "FAILED") == 0);
    done(&a);

    /* a response naming another issuer (RFC 9207 mix-up): refused before any exchange */
    CHECK(start_flow(id, alice, NULL, &f));
    snprintf(q, sizeof q, "state=%s&code=" GOOD_CODE "&iss=https%%3A%%2F%%2Fevil.example", f.state);
    CHECK_EQ(callback_status(id, q), 400);
    CHECK_EQ(idp_count(&idp.exchanges), 1);   /* only bad-code's */

    /* too late: 403, and the poll says FAILED */
    CHECK(start_flow(id, alice, NULL, &f));
    advance(IDENTITY_SESSION_TTL_S + 1);
    r = browser_returns(id, (snprintf(q, sizeof q, "state=%s&code=" GOOD_CODE, f.state), q));
    CHECK(r.status == 403 && strstr(r.body, "expired"));
    redirect_free(&r);
    wat(id, "agent-a", "alice", alice);
    a = poll_session(id, alice, f.session_uri);
    CHECK(strcmp(str_at(&a, "sessionStatus"), "FAILED") == 0);
    done(&a);
    CHECK(identity_expire_sessions(id) >= 1);
    a = poll_session(id, alice, f.session_uri);
    CHECK(is_error(&a, AWS_NOT_FOUND));
    done(&a);
    CHECK_EQ(idp_count(&idp.lock_held), 0);
    close_identity(id);
}

static void test_validation(void)
{
    struct identity *id = open_identity();
    char alice[WAT_MAX_TOKEN + 1], none[WAT_MAX_TOKEN + 1];
    wat(id, "agent-a", "alice", alice);
    wat(id, "agent-a", "", none);
    struct answer a = token_call(id, alice, "ON_BEHALF_OF_TOKEN_EXCHANGE", NULL);
    CHECK(is_error(&a, AWS_VALIDATION) && strstr(a.message, "not supported"));
    done(&a);
    const struct {
        const char *flow, *extra;
    } bad[] = {
        { "M2M_ISH", NULL },
        { "USER_FEDERATION", ",\"sessionUri\":\"urn:ietf:params:oauth:request_uri:\"" },
        { "USER_FEDERATION", ",\"sessionUri\":\"urn:other:x\"" },
        { "USER_FEDERATION", ",\"sessionUri\":\"urn:ietf:params:oauth:request_uri:a/b\"" },
        { "USER_FEDERATION", ",\"sessionUri\":5" },
        { "USER_FEDERATION", NULL },                                                         /* no return URL */
        { "USER_FEDERATION", ",\"resourceOauth2ReturnUrl\":\"https://evil.example/cb\"" },   /* not allow-listed */
        { "USER_FEDERATION", ",\"resourceOauth2ReturnUrl\":\"https://app.example/cb\"" },    /* not exactly */
        { "USER_FEDERATION", ",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\",\"customParameters\":{\"state\":\"x\"}" },
        { "USER_FEDERATION", ",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\",\"customParameters\":{\"a\":1}" },
        { "USER_FEDERATION", ",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\",\"customParameters\":[]" },
        { "M2M", ",\"forceAuthentication\":\"yes\"" },
        { "M2M", ",\"audiences\":\"one\"" },
        { "M2M", ",\"resources\":[\"\"]" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = token_call(id, alice, bad[i].flow, bad[i].extra);
        if (!is_error(&a, AWS_VALIDATION))
            fprintf(stderr, "  case %zu\n", i);
        CHECK(is_error(&a, AWS_VALIDATION));
        done(&a);
    }
    /* USER_FEDERATION needs a user in the token */
    a = federation(id, none, ",\"resourceOauth2ReturnUrl\":\"" RETURN_URL "\"");
    CHECK(is_error(&a, AWS_VALIDATION));
    done(&a);
    /* scopes: required, at most 100 of at most 128 printable characters */
    char body[16384];
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"idp\","
             "\"oauth2Flow\":\"M2M\"}", alice);
    expect_error(id, "oauth2/token", body, AWS_VALIDATION);
    const char *bad_scopes[] = { "[\"a b\"]", "[\"a\\\"b\"]", "[\"\"]", "[7]", "\"read\"", "[\"\\u0001\"]" };
    for (size_t i = 0; i < sizeof bad_scopes / sizeof bad_scopes[0]; i++) {
        snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"idp\","
                 "\"oauth2Flow\":\"M2M\",\"scopes\":%s}", alice, bad_scopes[i]);
        expect_error(id, "oauth2/token", body, AWS_VALIDATION);
    }
    int n = snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"idp\","
                     "\"oauth2Flow\":\"M2M\",\"scopes\":[", alice);
    for (int i = 0; i < 101; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s\"s%d\"", i ? "," : "", i);
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    expect_error(id, "oauth2/token", body, AWS_VALIDATION);
    char long_scope[200];
    memset(long_scope, 'x', 129);
    long_scope[129] = 0;
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"idp\","
             "\"oauth2Flow\":\"M2M\",\"scopes\":[\"%s\"]}", alice, long_scope);
    expect_error(id, "oauth2/token", body, AWS_VALIDATION);
    /* an unknown session, and a session of another provider */
    a = poll_session(id, alice, "urn:ietf:params:oauth:request_uri:nothing-here");
    CHECK(is_error(&a, AWS_NOT_FOUND));
    done(&a);
    struct flow f;
    CHECK(start_flow(id, alice, NULL, &f));
    snprintf(body, sizeof body, "{\"workloadIdentityToken\":\"%s\",\"resourceCredentialProviderName\":\"weather\","
             "\"scopes\":[],\"oauth2Flow\":\"USER_FEDERATION\",\"sessionUri\":\"%s\"}", alice, f.session_uri);
    expect_error(id, "oauth2/token", body, AWS_VALIDATION);
    /* CompleteResourceTokenAuth's shapes */
    expect_error(id, "CompleteResourceTokenAuth", "{\"userIdentifier\":{\"userId\":\"alice\"}}", AWS_VALIDATION);
    snprintf(body, sizeof body, "{\"sessionUri\":\"%s\"}", f.session_uri);
    expect_error(id, "CompleteResourceTokenAuth", body, AWS_VALIDATION);
    snprintf(body, sizeof body, "{\"sessionUri\":\"%s\",\"userIdentifier\":{\"userId\":\"\"}}", f.session_uri);
    expect_error(id, "CompleteResourceTokenAuth", body, AWS_VALIDATION);
    snprintf(body, sizeof body, "{\"sessionUri\":\"%s\",\"userIdentifier\":\"alice\"}", f.session_uri);
    expect_error(id, "CompleteResourceTokenAuth", body, AWS_VALIDATION);
    snprintf(body, sizeof body, "{\"sessionUri\":\"%s\",\"userIdentifier\":{\"userId\":5}}", f.session_uri);
    expect_error(id, "CompleteResourceTokenAuth", body, AWS_VALIDATION);
    snprintf(body, sizeof body, "{\"sessionUri\":\"not-a-urn\",\"userIdentifier\":{\"userId\":\"alice\"}}");
    expect_error(id, "CompleteResourceTokenAuth", body, AWS_VALIDATION);
    a = call_from(id, "agent-a", "CompleteResourceTokenAuth", "{}");   /* never an agent's */
    CHECK(is_error(&a, AWS_ACCESS_DENIED));
    done(&a);
    close_identity(id);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dbpath, sizeof dbpath, "/tmp/silo-idtok-%d.db", (int)getpid());
    idp_start();
    static const struct unit_test tests[] = {
        { "workload access tokens: none, User-Id, JWT (the workload's authorizer); unknown workload; agents refused",
          test_workload_tokens },
        { "GetResourceApiKey: the key for a valid token; tampered, expired, another runtime's token refused",
          test_api_keys },
        { "M2M: client credentials cached per workload and binding (scopes, audiences), refetched near expiry, "
          "provider errors", test_m2m },
        { "discovery on first use, endpoints kept, authorization URL from the discovered metadata", test_discovery },
        { "USER_FEDERATION: authorization URL, callback with PKCE, CompleteResourceTokenAuth by the right user only, "
          "polling, isolation between users and workloads, stored token, refresh", test_user_federation },
        { "the callback: malformed, unknown, replayed, expired, provider error, failed exchange, another issuer",
          test_callback_refusals },
        { "GetResourceOauth2Token and CompleteResourceTokenAuth validation", test_validation },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    idp_stop();
    curl_global_cleanup();
    return rc;
}
