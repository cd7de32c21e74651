/* tests/unit/test_control_plane.c — the control plane against a real SQLite store: exact
 * paths, response shapes, the version/endpoint state machine (driven by a test double of the
 * version builder), idempotency, paging, validation, and state surviving a reopen. */
#include "frontend/control_plane.h"
#include "frontend/identity_store.h"
#include "frontend/control_plane_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tests/unit/check.h"

/* ------------------------------------------------------------------ test double: a version
 * builder that only records submissions; the test decides when and how each build ends. */
struct test_builder {
    char runtime_id[8][160];
    int version[8];
    int submitted;
};

static void test_builder_submit(void *ctx, const char *runtime_id, int version, const char *config)
{
    struct test_builder *b = ctx;
    CHECK(config && strstr(config, "containerUri"));
    if (b->submitted < 8) {
        snprintf(b->runtime_id[b->submitted], 160, "%s", runtime_id);
        b->version[b->submitted] = version;
    }
    b->submitted++;
}

static int64_t fake_now = 1795000000000LL;
static int64_t test_clock(void *ctx) { (void)ctx; return fake_now; }

static char deleted_runtime[160];
static void on_deleted(void *ctx, const char *id) { (void)ctx; snprintf(deleted_runtime, sizeof deleted_runtime, "%s", id); }

struct fixture {
    struct store store;
    struct control_plane *cp;
    struct test_builder builder;
};

static void setup(struct fixture *f, const char *path)
{
    memset(f, 0, sizeof *f);
    char err[256];
    bool ok = store_open(&f->store, path, err, sizeof err);
    CHECK(ok);
    if (!ok)
        printf("#   %s\n", err);
    struct control_plane_config cfg = {
        "us-east-1", "123456789012", { test_builder_submit, &f->builder, NULL }, on_deleted, NULL, test_clock, NULL,
    };
    f->cp = control_plane_new(&f->store, &cfg);
}

static void teardown(struct fixture *f)
{
    control_plane_free(f->cp);
    store_close(&f->store);
}

/* Runs one request; returns the parsed body (caller frees) and the status. */
static json_object *call(struct fixture *f, const char *method, const char *path, const char *query,
                         const char *body, unsigned *status, const char **err)
{
    struct control_plane_response r;
    control_plane_handle(f->cp, method, path, query, body, body ? strlen(body) : 0, &r);
    *status = r.status;
    if (err)
        *err = r.error_type;
    json_object *o = json_tokener_parse(r.body);
    CHECK(o != NULL);
    free(r.body);
    return o;
}

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static bool str_is(json_object *o, const char *k, const char *want)
{
    const char *s = str(o, k);
    if (!s || strcmp(s, want) != 0) {
        printf("#   %s = %s, want %s\n", k, s ? s : "(absent)", want);
        return false;
    }
    return true;
}

#define RUNTIME_BODY(name, uri, extra) \
    "{\"agentRuntimeName\":\"" name "\",\"agentRuntimeArtifact\":{\"containerConfiguration\":" \
    "{\"containerUri\":\"" uri "\"}},\"roleArn\":\"arn:aws:iam::123456789012:role/r\"," \
    "\"networkConfiguration\":{\"networkMode\":\"PUBLIC\"}" extra "}"

/* Creates a runtime, returns its id in id_out. */
static void create_runtime(struct fixture *f, const char *body, char id_out[160])
{
    unsigned st;
    json_object *o = call(f, "PUT", "/runtimes/", NULL, body, &st, NULL);
    CHECK_EQ(st, 202);
    snprintf(id_out, 160, "%s", str(o, "agentRuntimeId") ? str(o, "agentRuntimeId") : "");
    json_object_put(o);
}

static void test_tags(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    char id[160], path[400];
    create_runtime(&f, RUNTIME_BODY("tagged", "i", ",\"tags\":{\"team\":\"a\",\"env\":\"dev\"}"), id);
    snprintf(path, sizeof path, "/tags/arn%%3Aaws%%3Abedrock-agentcore%%3Aus-east-1%%3A123456789012%%3Aruntime%%2F%s", id);
    unsigned st;
    const char *err;
    json_object *o = call(&f, "GET", path, NULL, NULL, &st, NULL), *tags;
    CHECK_EQ(st, 200);
    CHECK(json_object_object_get_ex(o, "tags", &tags) && json_object_object_length(tags) == 2);
    CHECK(str_is(tags, "team", "a"));
    json_object_put(o);
    o = call(&f, "POST", path, NULL, "{\"tags\":{\"team\":\"b\",\"cost\":\"1\"}}", &st, NULL);
    CHECK_EQ(st, 200);
    json_object_put(o);
    o = call(&f, "DELETE", path, "tagKeys=env&tagKeys=cost", NULL, &st, NULL);
    CHECK_EQ(st, 200);
    json_object_put(o);
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK(json_object_object_get_ex(o, "tags", &tags) && json_object_object_length(tags) == 1);
    CHECK(str_is(tags, "team", "b"));
    json_object_put(o);
    o = call(&f, "POST", path, NULL, "{\"tags\":{\"aws:x\":\"b\"}}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "GET", "/tags/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fnope-0123456789",
             NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    CHECK(err && strcmp(err, "ResourceNotFoundException") == 0);
    json_object_put(o);
    teardown(&f);
}

/* Tags on an endpoint: on create, by ARN, not on a look-alike ARN, and gone with the endpoint
 * and with its runtime. */
static void test_endpoint_tags(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    char id[160], path[400], tpath[600];
    unsigned st;
    const char *err;
    create_runtime(&f, RUNTIME_BODY("ep_tagged", "i", ""), id);
    control_plane_version_built(f.cp, id, 1, true, NULL);
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/", id);
    json_object *o = call(&f, "PUT", path, NULL, "{\"name\":\"prod\",\"tags\":{\"stage\":\"prod\"}}", &st, NULL), *tags;
    CHECK_EQ(st, 202);
    json_object_put(o);
    o = call(&f, "PUT", path, NULL, "{\"name\":\"bad\",\"tags\":{\"aws:x\":\"1\"}}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    snprintf(tpath, sizeof tpath, "/tags/arn%%3Aaws%%3Abedrock-agentcore%%3Aus-east-1%%3A123456789012%%3Aruntime%%2F%s"
             "%%2Fruntime-endpoint%%2Fprod", id);
    o = call(&f, "GET", tpath, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 200);
    CHECK(json_object_object_get_ex(o, "tags", &tags) && json_object_object_length(tags) == 1);
    CHECK(str_is(tags, "stage", "prod"));
    json_object_put(o);
    o = call(&f, "POST", tpath, NULL, "{\"tags\":{\"owner\":\"me\"}}", &st, NULL);
    CHECK_EQ(st, 200);
    json_object_put(o);
    /* an endpoint that does not exist, and a runtime ARN with junk after it, name nothing */
    char other[600];
    snprintf(other, sizeof other, "/tags/arn%%3Aaws%%3Abedrock-agentcore%%3Aus-east-1%%3A123456789012%%3Aruntime%%2F%s"
             "%%2Fruntime-endpoint%%2Fnope", id);
    o = call(&f, "GET", other, NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    json_object_put(o);
    snprintf(other, sizeof other, "/tags/arn%%3Aaws%%3Abedrock-agentcore%%3Aus-east-1%%3A123456789012%%3Aruntime%%2F%s"
             "%%2Fruntime-endpoint%%2Fprod%%2Fx", id);
    o = call(&f, "GET", other, NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    json_object_put(o);
    /* deleting the endpoint drops its tags: a new endpoint of the same name starts bare */
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/prod/", id);
    o = call(&f, "DELETE", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 202);
    json_object_put(o);
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/", id);
    o = call(&f, "PUT", path, NULL, "{\"name\":\"prod\"}", &st, NULL);
    CHECK_EQ(st, 202);
    json_object_put(o);
    o = call(&f, "GET", tpath, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 200);
    CHECK(json_object_object_get_ex(o, "tags", &tags) && json_object_object_length(tags) == 0);
    json_object_put(o);
    teardown(&f);
}

static void test_create_get_shapes(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    unsigned st;
    json_object *o = call(&f, "PUT", "/runtimes/", NULL, RUNTIME_BODY("my_agent", "oci:/images/echo", ""), &st, NULL);
    CHECK_EQ(st, 202);
    const char *id = str(o, "agentRuntimeId");
    CHECK(id && strncmp(id, "my_agent-", 9) == 0 && strlen(id) == 19);
    char want_arn[256];
    snprintf(want_arn, sizeof want_arn, "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/%s", id);
    CHECK(str_is(o, "agentRuntimeArn", want_arn));
    CHECK(str_is(o, "agentRuntimeVersion", "1"));
    CHECK(str_is(o, "status", "CREATING"));
    CHECK(str_is(o, "createdAt", "2026-11-18T11:06:40.000Z"));
    json_object *w;
    CHECK(json_object_object_get_ex(o, "workloadIdentityDetails", &w) && str(w, "workloadIdentityArn"));
    CHECK_EQ(f.builder.submitted, 1);
    CHECK_EQ(f.builder.version[0], 1);
    char id1[160], path[256];
    snprintf(id1, sizeof id1, "%s", id);
    json_object_put(o);

    snprintf(path, sizeof path, "/runtimes/%s/", id1);
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 200);
    CHECK(str_is(o, "status", "CREATING"));
    CHECK(str_is(o, "agentRuntimeName", "my_agent"));
    CHECK(str_is(o, "roleArn", "arn:aws:iam::123456789012:role/r"));
    json_object *lc, *pc;
    CHECK(json_object_object_get_ex(o, "lifecycleConfiguration", &lc));
    CHECK(json_object_get_int(json_object_object_get(lc, "idleRuntimeSessionTimeout")) == 900);
    CHECK(json_object_get_int(json_object_object_get(lc, "maxLifetime")) == 28800);
    CHECK(json_object_object_get_ex(o, "protocolConfiguration", &pc) && str_is(pc, "serverProtocol", "HTTP"));
    json_object_put(o);

    /* the build finishes: READY, DEFAULT live on v1 */
    control_plane_version_built(f.cp, id1, 1, true, NULL);
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK(str_is(o, "status", "READY"));
    json_object_put(o);
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/DEFAULT/", id1);
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 200);
    CHECK(str_is(o, "status", "READY"));
    CHECK(str_is(o, "liveVersion", "1"));
    CHECK(str_is(o, "targetVersion", "1"));
    CHECK(str_is(o, "name", "DEFAULT"));
    char want_ep[300];
    snprintf(want_ep, sizeof want_ep, "%s/runtime-endpoint/DEFAULT", want_arn);
    CHECK(str_is(o, "agentRuntimeEndpointArn", want_ep));
    json_object_put(o);
    /* the trailing slash is part of the operation */
    snprintf(path, sizeof path, "/runtimes/%s", id1);
    const char *err;
    o = call(&f, "GET", path, NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    json_object_put(o);
    teardown(&f);
}

static void test_versions_and_endpoints(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    char id[160], path[300];
    unsigned st;
    const char *err;
    create_runtime(&f, RUNTIME_BODY("agent_v", "img:v1", ""), id);
    control_plane_version_built(f.cp, id, 1, true, NULL);

    /* a pinned endpoint on v1 */
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/", id);
    json_object *o = call(&f, "PUT", path, NULL, "{\"name\":\"prod\",\"agentRuntimeVersion\":\"1\"}", &st, NULL);
    CHECK_EQ(st, 202);
    CHECK(str_is(o, "status", "READY"));
    CHECK(str_is(o, "targetVersion", "1"));
    CHECK(str_is(o, "endpointName", "prod"));
    json_object_put(o);

    /* update → v2 UPDATING; DEFAULT targets 2 but stays live on 1 until v2 is READY */
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    o = call(&f, "PUT", path, NULL, RUNTIME_BODY("ignored", "img:v2", ""), &st, NULL);
    CHECK_EQ(st, 202);
    CHECK(str_is(o, "agentRuntimeVersion", "2"));
    CHECK(str_is(o, "status", "UPDATING"));
    CHECK(str(o, "lastUpdatedAt") != NULL);
    json_object_put(o);
    CHECK_EQ(f.builder.submitted, 2);
    struct resolved_runtime rr;
    char msg[256];
    CHECK(control_plane_resolve(f.cp, id, NULL, &rr, msg, sizeof msg) == NULL);
    CHECK_EQ(rr.version, 1);
    CHECK(rr.config_json && strstr(rr.config_json, "img:v1"));
    free(rr.config_json);

    control_plane_version_built(f.cp, id, 2, true, NULL);
    char arn[300];
    snprintf(arn, sizeof arn, "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/%s", id);
    CHECK(control_plane_resolve(f.cp, arn, "DEFAULT", &rr, msg, sizeof msg) == NULL);
    CHECK_EQ(rr.version, 2);
    CHECK(rr.config_json && strstr(rr.config_json, "img:v2"));
    free(rr.config_json);
    CHECK(control_plane_resolve(f.cp, arn, "prod", &rr, msg, sizeof msg) == NULL);
    CHECK_EQ(rr.version, 1);       /* pinned */
    free(rr.config_json);

    /* version 1 is immutable: GET ?version=1 still shows img:v1 */
    o = call(&f, "GET", path, "version=1", NULL, &st, NULL);
    CHECK(str_is(o, "agentRuntimeVersion", "1"));
    json_object *art, *cc;
    CHECK(json_object_object_get_ex(o, "agentRuntimeArtifact", &art) &&
          json_object_object_get_ex(art, "containerConfiguration", &cc) && str_is(cc, "containerUri", "img:v1"));
    json_object_put(o);

    /* v3 fails to build: UPDATE_FAILED with a reason; DEFAULT keeps serving v2 */
    o = call(&f, "PUT", path, NULL, RUNTIME_BODY("x", "img:broken", ""), &st, NULL);
    json_object_put(o);
    control_plane_version_built(f.cp, id, 3, false, "kernel did not boot");
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK(str_is(o, "status", "UPDATE_FAILED"));
    CHECK(str_is(o, "failureReason", "kernel did not boot"));
    json_object_put(o);
    CHECK(control_plane_resolve(f.cp, id, NULL, &rr, msg, sizeof msg) == NULL);
    CHECK_EQ(rr.version, 2);
    free(rr.config_json);
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/DEFAULT/", id);
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK(str_is(o, "status", "UPDATE_FAILED"));
    CHECK(str_is(o, "liveVersion", "2"));
    CHECK(str_is(o, "targetVersion", "3"));
    json_object_put(o);

    /* pointing an endpoint at the failed version is refused; rollback prod to v2 then v1 */
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/prod/", id);
    o = call(&f, "PUT", path, NULL, "{\"agentRuntimeVersion\":\"3\"}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "PUT", path, NULL, "{\"agentRuntimeVersion\":\"2\"}", &st, NULL);
    CHECK_EQ(st, 202);
    CHECK(str_is(o, "liveVersion", "2"));
    json_object_put(o);
    /* DEFAULT cannot be repointed or deleted by hand */
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/DEFAULT/", id);
    o = call(&f, "PUT", path, NULL, "{\"agentRuntimeVersion\":\"1\"}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "DELETE", path, NULL, NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);

    /* ListAgentRuntimeVersions, newest first */
    snprintf(path, sizeof path, "/runtimes/%s/versions/", id);
    o = call(&f, "POST", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 200);
    json_object *list;
    CHECK(json_object_object_get_ex(o, "agentRuntimes", &list) && json_object_array_length(list) == 3);
    CHECK(str_is(json_object_array_get_idx(list, 0), "agentRuntimeVersion", "3"));
    CHECK(str_is(json_object_array_get_idx(list, 0), "status", "UPDATE_FAILED"));
    json_object_put(o);

    /* deleting a version in use is a conflict; v1 is unused now (prod on 2) → deletable */
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    o = call(&f, "DELETE", path, "version=2", NULL, &st, &err);
    CHECK_EQ(st, 409);
    json_object_put(o);
    o = call(&f, "DELETE", path, "version=1", NULL, &st, NULL);
    CHECK_EQ(st, 202);
    json_object_put(o);

    /* the endpoint list and delete */
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/", id);
    o = call(&f, "POST", path, NULL, NULL, &st, NULL);
    CHECK(json_object_object_get_ex(o, "runtimeEndpoints", &list) && json_object_array_length(list) == 2);
    json_object_put(o);
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/prod/", id);
    o = call(&f, "DELETE", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 202);
    CHECK(str_is(o, "status", "DELETING"));
    json_object_put(o);
    o = call(&f, "GET", path, NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    CHECK(err && strcmp(err, "ResourceNotFoundException") == 0);
    json_object_put(o);

    /* deleting the runtime ends its sessions (hook) and removes everything */
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    o = call(&f, "DELETE", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 202);
    CHECK(str_is(o, "status", "DELETING"));
    json_object_put(o);
    CHECK(strcmp(deleted_runtime, id) == 0);
    o = call(&f, "GET", path, NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    json_object_put(o);
    CHECK(control_plane_resolve(f.cp, id, NULL, &rr, msg, sizeof msg) != NULL);
    teardown(&f);
}

static void test_first_build_failure(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    char id[160], path[300], msg[128];
    unsigned st;
    create_runtime(&f, RUNTIME_BODY("bad_image", "img:none", ""), id);
    control_plane_version_built(f.cp, id, 1, false, "image not found");
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    json_object *o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK(str_is(o, "status", "CREATE_FAILED"));
    CHECK(str_is(o, "failureReason", "image not found"));
    json_object_put(o);
    struct resolved_runtime rr;
    const char *err = control_plane_resolve(f.cp, id, NULL, &rr, msg, sizeof msg);
    CHECK(err && strcmp(err, "ResourceNotFoundException") == 0);
    /* a late duplicate report changes nothing */
    control_plane_version_built(f.cp, id, 1, true, NULL);
    o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    CHECK(str_is(o, "status", "CREATE_FAILED"));
    json_object_put(o);
    teardown(&f);
}

static void test_idempotency(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    unsigned st;
    const char *err;
    const char *body = RUNTIME_BODY("idem", "img:a", ",\"clientToken\":\"0123456789abcdef0123456789abcdef0\"");
    json_object *a = call(&f, "PUT", "/runtimes/", NULL, body, &st, NULL);
    CHECK_EQ(st, 202);
    json_object *b = call(&f, "PUT", "/runtimes/", NULL, body, &st, NULL);
    CHECK_EQ(st, 202);
    CHECK(str(a, "agentRuntimeId") && str(b, "agentRuntimeId") &&
          strcmp(str(a, "agentRuntimeId"), str(b, "agentRuntimeId")) == 0);
    CHECK_EQ(f.builder.submitted, 1);            /* one version, one build */
    json_object_put(b);
    /* same token, other parameters */
    b = call(&f, "PUT", "/runtimes/", NULL,
             RUNTIME_BODY("idem", "img:b", ",\"clientToken\":\"0123456789abcdef0123456789abcdef0\""), &st, &err);
    CHECK_EQ(st, 409);
    CHECK(err && strcmp(err, "ConflictException") == 0);
    json_object_put(b);
    /* same name without a token: conflict */
    b = call(&f, "PUT", "/runtimes/", NULL, RUNTIME_BODY("idem", "img:a", ""), &st, &err);
    CHECK_EQ(st, 409);
    json_object_put(b);
    /* a bad token */
    b = call(&f, "PUT", "/runtimes/", NULL, RUNTIME_BODY("idem2", "img:a", ",\"clientToken\":\"short\""), &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(b);
    json_object_put(a);
    teardown(&f);
}

static void test_validation(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    static const char *bad[] = {
        "not json",
        "[]",
        RUNTIME_BODY("1starts_with_digit", "i", ""),
        RUNTIME_BODY("has-dash", "i", ""),
        RUNTIME_BODY("a123456789012345678901234567890123456789012345678", "i", ""),   /* 49 chars */
        "{\"agentRuntimeName\":\"x\",\"roleArn\":\"r\",\"networkConfiguration\":{\"networkMode\":\"PUBLIC\"}}",
        RUNTIME_BODY("x", "", ""),
        RUNTIME_BODY("x", "i", ",\"lifecycleConfiguration\":{\"idleRuntimeSessionTimeout\":59}"),
        RUNTIME_BODY("x", "i", ",\"lifecycleConfiguration\":{\"maxLifetime\":28801}"),
        RUNTIME_BODY("x", "i", ",\"lifecycleConfiguration\":{\"idleRuntimeSessionTimeout\":1000,\"maxLifetime\":900}"),
        RUNTIME_BODY("x", "i", ",\"lifecycleConfiguration\":{\"maxLifetime\":\"900\"}"),
        RUNTIME_BODY("x", "i", ",\"protocolConfiguration\":{\"serverProtocol\":\"GRPC\"}"),
        RUNTIME_BODY("x", "i", ",\"authorizerConfiguration\":{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://idp/jwks\"}}"),
        RUNTIME_BODY("x", "i", ",\"authorizerConfiguration\":{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://idp/.well-known/openid-configuration\",\"allowedAudience\":[]}}"),
        RUNTIME_BODY("x", "i", ",\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[\"X-Amz-Foo\"]}"),
        RUNTIME_BODY("x", "i", ",\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[\"X-Amzn-Trace\"]}"),
        RUNTIME_BODY("x", "i", ",\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[\"Authorization\"]}"),
        RUNTIME_BODY("x", "i", ",\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[\"Cookie\"]}"),
        RUNTIME_BODY("x", "i", ",\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[]}"),
        RUNTIME_BODY("x", "i", ",\"environmentVariables\":{\"1BAD\":\"v\"}"),
        RUNTIME_BODY("x", "i", ",\"environmentVariables\":{\"GOOD\":5}"),
        RUNTIME_BODY("x", "i", ",\"metadataConfiguration\":{\"requireMMDSV2\":true}"),   /* update only */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned st;
        const char *err;
        json_object *o = call(&f, "PUT", "/runtimes/", NULL, bad[i], &st, &err);
        if (st != 400)
            printf("#   accepted: %s\n", bad[i]);
        CHECK_EQ(st, 400);
        CHECK(err && strcmp(err, "ValidationException") == 0);
        CHECK(str(o, "message") != NULL);
        CHECK(str_is(o, "reason", "FieldValidationFailed"));
        json_object_put(o);
    }
    CHECK_EQ(f.builder.submitted, 0);
    /* the allowed forms */
    static const char *good[] = {
        RUNTIME_BODY("ok_1", "i", ",\"lifecycleConfiguration\":{\"maxLifetime\":600}"),
        /* networkConfiguration is optional (current botocore and JS SDK): PUBLIC */
        "{\"agentRuntimeName\":\"ok_net\",\"agentRuntimeArtifact\":{\"containerConfiguration\":{\"containerUri\":\"i\"}},"
        "\"roleArn\":\"arn:aws:iam::123456789012:role/r\"}",
        RUNTIME_BODY("ok_2", "i", ",\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[\"X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant\",\"X-Team\"]}"),
        RUNTIME_BODY("ok_3", "i", ",\"authorizerConfiguration\":{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://idp.test/.well-known/openid-configuration\",\"allowedClients\":[\"c\"]}},"
                                  "\"requestHeaderConfiguration\":{\"requestHeaderAllowlist\":[\"Authorization\"]}"),
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        unsigned st;
        json_object *o = call(&f, "PUT", "/runtimes/", NULL, good[i], &st, NULL);
        if (st != 202)
            printf("#   refused: %s: %s\n", good[i], str(o, "message"));
        CHECK_EQ(st, 202);
        json_object_put(o);
    }
    /* maxLifetime 600 alone: idle takes it too */
    char id[160], path[300];
    snprintf(id, sizeof id, "%s", f.builder.runtime_id[0]);
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    unsigned st;
    json_object *o = call(&f, "GET", path, NULL, NULL, &st, NULL);
    json_object *lc;
    CHECK(json_object_object_get_ex(o, "lifecycleConfiguration", &lc) &&
          json_object_get_int(json_object_object_get(lc, "idleRuntimeSessionTimeout")) == 600);
    json_object_put(o);
    /* unknown operations and bad paths */
    const char *err;
    o = call(&f, "PATCH", "/runtimes/", NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    json_object_put(o);
    o = call(&f, "GET", "/runtimes/%zz/", NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    json_object_put(o);
    o = call(&f, "GET", "/runtimes/nope-0123456789/", NULL, NULL, &st, &err);
    CHECK_EQ(st, 404);
    CHECK(err && strcmp(err, "ResourceNotFoundException") == 0);
    json_object_put(o);
    /* a malformed id is ValidationException (with AWS's reason), as AgentCore answers */
    o = call(&f, "GET", "/runtimes/not_an_id/", NULL, NULL, &st, &err);
    CHECK_EQ(st, 400);
    CHECK(err && strcmp(err, "ValidationException") == 0);
    CHECK(str_is(o, "reason", "FieldValidationFailed"));
    json_object_put(o);
    o = call(&f, "DELETE", "/runtimes/9bad-0123456789/runtime-endpoints/", NULL, NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    teardown(&f);
}

/* customJWTAuthorizer.customClaims: shapes, enums, the union, the operator/type/value
 * combinations, patterns, lengths and the reserved name. */
#define CC_BODY(rules) \
    RUNTIME_BODY("cc", "i", ",\"authorizerConfiguration\":{\"customJWTAuthorizer\":{\"discoveryUrl\":" \
                 "\"https://idp.test/.well-known/openid-configuration\",\"customClaims\":" rules "}}")
#define CC_RULE(name, type, op, value)                                                      \
    "{\"inboundTokenClaimName\":" name ",\"inboundTokenClaimValueType\":" type ","           \
    "\"authorizingClaimMatchValue\":{\"claimMatchOperator\":" op ",\"claimMatchValue\":" value "}}"
#define CC_EQ(value) CC_RULE("\"dept\"", "\"STRING\"", "\"EQUALS\"", value)
#define CC_BODY_OPEN_LIST                                                                         \
    "{\"agentRuntimeName\":\"cc\",\"agentRuntimeArtifact\":{\"containerConfiguration\":{\"containerUri\":\"i\"}}," \
    "\"roleArn\":\"arn:aws:iam::123456789012:role/r\",\"networkConfiguration\":{\"networkMode\":\"PUBLIC\"},"  \
    "\"authorizerConfiguration\":{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://idp.test/.well-known/"  \
    "openid-configuration\",\"customClaims\":[{\"inboundTokenClaimName\":\"r\",\"inboundTokenClaimValueType\":" \
    "\"STRING_ARRAY\",\"authorizingClaimMatchValue\":{\"claimMatchOperator\":\"CONTAINS_ANY\","             \
    "\"claimMatchValue\":{\"matchValueStringList\":["
#define CC_BODY_CLOSE_LIST "]}}}]}}}"
#define CC_BODY_OPEN_RULES                                                                        \
    "{\"agentRuntimeName\":\"cc\",\"agentRuntimeArtifact\":{\"containerConfiguration\":{\"containerUri\":\"i\"}}," \
    "\"roleArn\":\"arn:aws:iam::123456789012:role/r\",\"networkConfiguration\":{\"networkMode\":\"PUBLIC\"},"  \
    "\"authorizerConfiguration\":{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://idp.test/.well-known/"  \
    "openid-configuration\",\"customClaims\":["
#define CC_BODY_CLOSE_RULES "]}}}"
#define CC_ONE(v) "{\"matchValueString\":" v "}"
#define CC_LIST(v) "{\"matchValueStringList\":" v "}"

/* PUT /runtimes/ with body, its agentRuntimeName "cc" made unique (names may not repeat). */
static json_object *put_unique(struct fixture *f, const char *body, unsigned *st, const char **err)
{
    static int serial;
    const char *at = strstr(body, "\"cc\"");
    CHECK(at != NULL);
    if (!at)
        return NULL;
    size_t n = strlen(body) + 32;
    char *b = malloc(n);
    snprintf(b, n, "%.*s\"cc%d\"%s", (int)(at - body), body, ++serial, at + 4);
    json_object *o = call(f, "PUT", "/runtimes/", NULL, b, st, err);
    free(b);
    return o;
}

static void test_custom_claims_validation(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    static const char *bad[] = {
        /* the list */
        CC_BODY("[]"), CC_BODY("{}"), CC_BODY("\"dept\""), CC_BODY("[5]"), CC_BODY("[[]]"),
        /* inboundTokenClaimName: required, 1..255 of [A-Za-z0-9_.:/-], not reserved */
        CC_BODY("[{\"inboundTokenClaimValueType\":\"STRING\",\"authorizingClaimMatchValue\":{\"claimMatchOperator\":\"EQUALS\",\"claimMatchValue\":{\"matchValueString\":\"a\"}}}]"),
        CC_BODY("[" CC_RULE("\"\"", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("5", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"has space\"", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"a$b\"", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"a\\u0001b\"", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"client_id\"", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        /* inboundTokenClaimValueType */
        CC_BODY("[{\"inboundTokenClaimName\":\"d\",\"authorizingClaimMatchValue\":{\"claimMatchOperator\":\"EQUALS\",\"claimMatchValue\":{\"matchValueString\":\"a\"}}}]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"NUMBER\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"string\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "[\"STRING\"]", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        /* authorizingClaimMatchValue and its operator */
        CC_BODY("[{\"inboundTokenClaimName\":\"d\",\"inboundTokenClaimValueType\":\"STRING\"}]"),
        CC_BODY("[{\"inboundTokenClaimName\":\"d\",\"inboundTokenClaimValueType\":\"STRING\",\"authorizingClaimMatchValue\":\"EQUALS\"}]"),
        CC_BODY("[{\"inboundTokenClaimName\":\"d\",\"inboundTokenClaimValueType\":\"STRING\",\"authorizingClaimMatchValue\":{\"claimMatchValue\":{\"matchValueString\":\"a\"}}}]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING\"", "\"EQUAL\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING\"", "\"equals\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING\"", "1", CC_ONE("\"a\"")) "]"),
        /* claimMatchValue: a union with exactly one member */
        CC_BODY("[{\"inboundTokenClaimName\":\"d\",\"inboundTokenClaimValueType\":\"STRING\",\"authorizingClaimMatchValue\":{\"claimMatchOperator\":\"EQUALS\"}}]"),
        CC_BODY("[" CC_EQ("{}") "]"),
        CC_BODY("[" CC_EQ("\"a\"") "]"),
        CC_BODY("[" CC_EQ("{\"matchValueString\":\"a\",\"matchValueStringList\":[\"a\"]}") "]"),
        CC_BODY("[" CC_EQ("{\"matchValueString\":\"a\",\"matchValueNumber\":1}") "]"),
        CC_BODY("[" CC_EQ("{\"matchValueNumber\":1}") "]"),
        /* matchValueString / matchValueStringList: 1..255 of [A-Za-z0-9_.-] */
        CC_BODY("[" CC_EQ(CC_ONE("\"\"")) "]"),
        CC_BODY("[" CC_EQ(CC_ONE("\"two words\"")) "]"),
        CC_BODY("[" CC_EQ(CC_ONE("\"a/b\"")) "]"),
        CC_BODY("[" CC_EQ(CC_ONE("\"a:b\"")) "]"),
        CC_BODY("[" CC_EQ(CC_ONE("5")) "]"),
        CC_BODY("[" CC_EQ(CC_ONE("null")) "]"),
        CC_BODY("[" CC_RULE("\"r\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[]")) "]"),
        CC_BODY("[" CC_RULE("\"r\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[\"a\",\"\"]")) "]"),
        CC_BODY("[" CC_RULE("\"r\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[\"a\",\"b c\"]")) "]"),
        CC_BODY("[" CC_RULE("\"r\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[\"a\",1]")) "]"),
        CC_BODY("[" CC_RULE("\"r\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"r\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[[\"a\"]]")) "]"),
        /* the combinations that make no sense */
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING_ARRAY\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING\"", "\"EQUALS\"", CC_LIST("[\"a\"]")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING\"", "\"CONTAINS\"", CC_ONE("\"a\"")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING_ARRAY\"", "\"CONTAINS\"", CC_LIST("[\"a\"]")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING\"", "\"CONTAINS_ANY\"", CC_LIST("[\"a\"]")) "]"),
        CC_BODY("[" CC_RULE("\"d\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_ONE("\"a\"")) "]"),
        /* one good rule does not carry a bad one */
        CC_BODY("[" CC_EQ(CC_ONE("\"a\"")) "," CC_RULE("\"d\"", "\"STRING\"", "\"CONTAINS\"", CC_ONE("\"a\"")) "]"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned st;
        const char *err;
        json_object *o = put_unique(&f, bad[i], &st, &err);
        if (st != 400)
            printf("#   accepted: %s\n", bad[i]);
        CHECK_EQ(st, 400);
        CHECK(err && strcmp(err, "ValidationException") == 0);
        const char *m = str(o, "message");
        CHECK(m && (strstr(m, "customClaims") || strstr(m, "claimMatch")));
        json_object_put(o);
    }
    /* lengths at the edges: a 256-character name or value, 256 list items, 256 rules */
    char *long_name = malloc(260), *body = malloc(200000);
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    const char *const fmt_name = CC_BODY("[" CC_RULE("\"%s\"", "\"STRING\"", "\"EQUALS\"", CC_ONE("\"a\"")) "]");
    const char *const fmt_value = CC_BODY("[" CC_EQ(CC_ONE("\"%s\"")) "]");
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < 2; k++) {
            snprintf(body, 200000, k ? fmt_value : fmt_name, long_name + pass);   /* 256, then 255 */
            unsigned st;
            json_object *o = put_unique(&f, body, &st, NULL);
            CHECK_EQ(st, pass ? 202u : 400u);
            json_object_put(o);
        }
    }
    for (int n = 255; n <= 256; n++) {
        struct { const char *open, *item, *close; } shape[2] = {
            { CC_BODY_OPEN_LIST, "\"v\"", CC_BODY_CLOSE_LIST },
            { CC_BODY_OPEN_RULES, CC_EQ(CC_ONE("\"a\"")), CC_BODY_CLOSE_RULES },
        };
        for (int k = 0; k < 2; k++) {
            size_t used = (size_t)snprintf(body, 200000, "%s", shape[k].open);
            for (int i = 0; i < n; i++)
                used += (size_t)snprintf(body + used, 200000 - used, "%s%s", i ? "," : "", shape[k].item);
            snprintf(body + used, 200000 - used, "%s", shape[k].close);
            unsigned st;
            json_object *o = put_unique(&f, body, &st, NULL);
            if (st != (n == 255 ? 202u : 400u))
                printf("#   %d items, shape %d: %s\n", n, k, str(o, "message"));
            CHECK_EQ(st, n == 255 ? 202u : 400u);
            json_object_put(o);
        }
    }
    free(long_name);
    free(body);
    /* the three meaningful forms, names with : / . - _, several rules; stored as given */
    static const char *good[] = {
        CC_BODY("[" CC_EQ(CC_ONE("\"engineering\"")) "]"),
        CC_BODY("[" CC_RULE("\"cognito:groups\"", "\"STRING_ARRAY\"", "\"CONTAINS\"", CC_ONE("\"admins\"")) "]"),
        CC_BODY("[" CC_RULE("\"https://example.com/roles\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[\"reader\",\"writer-2\",\"a.b_c\"]")) "]"),
        CC_BODY("[" CC_EQ(CC_ONE("\"engineering\"")) "," CC_RULE("\"roles\"", "\"STRING_ARRAY\"", "\"CONTAINS_ANY\"", CC_LIST("[\"reader\"]")) "]"),
    };
    char first_id[160] = "";
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        unsigned st;
        json_object *o = put_unique(&f, good[i], &st, NULL);
        if (st != 202)
            printf("#   refused: %s: %s\n", good[i], str(o, "message"));
        CHECK_EQ(st, 202);
        if (i == 0 && str(o, "agentRuntimeId"))
            snprintf(first_id, sizeof first_id, "%s", str(o, "agentRuntimeId"));
        json_object_put(o);
    }
    char path[300];
    snprintf(path, sizeof path, "/runtimes/%s/", first_id);
    unsigned st;
    json_object *o = call(&f, "GET", path, NULL, NULL, &st, NULL), *ac, *jwt, *cc = NULL, *rule, *m, *v;
    CHECK_EQ(st, 200);
    CHECK(json_object_object_get_ex(o, "authorizerConfiguration", &ac) &&
          json_object_object_get_ex(ac, "customJWTAuthorizer", &jwt) &&
          json_object_object_get_ex(jwt, "customClaims", &cc) && json_object_array_length(cc) == 1);
    rule = cc ? json_object_array_get_idx(cc, 0) : NULL;
    CHECK(rule && str_is(rule, "inboundTokenClaimName", "dept") &&
          json_object_object_get_ex(rule, "authorizingClaimMatchValue", &m) &&
          str_is(m, "claimMatchOperator", "EQUALS") && json_object_object_get_ex(m, "claimMatchValue", &v) &&
          str_is(v, "matchValueString", "engineering"));
    json_object_put(o);
    teardown(&f);
}

static void test_paging(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    char id[160];
    for (int i = 0; i < 7; i++) {
        char body[512];
        snprintf(body, sizeof body, RUNTIME_BODY("agent_%d", "i", ""), i);
        create_runtime(&f, body, id);
        fake_now += 1000;
    }
    unsigned st;
    const char *err;
    int seen = 0;
    char token[64] = "";
    for (int page = 0; page < 5; page++) {
        char q[128];
        snprintf(q, sizeof q, "maxResults=3%s%s", token[0] ? "&nextToken=" : "", token);
        json_object *o = call(&f, "POST", "/runtimes/", q, NULL, &st, NULL);
        CHECK_EQ(st, 200);
        json_object *list;
        CHECK(json_object_object_get_ex(o, "agentRuntimes", &list));
        int n = (int)json_object_array_length(list);
        if (n > 0) {
            char want[32];
            snprintf(want, sizeof want, "agent_%d", seen);
            CHECK(str_is(json_object_array_get_idx(list, 0), "agentRuntimeName", want));
            CHECK(str(json_object_array_get_idx(list, 0), "description") != NULL);
        }
        seen += n;
        const char *next = str(o, "nextToken");
        snprintf(token, sizeof token, "%s", next ? next : "");
        json_object_put(o);
        if (!next)
            break;
    }
    CHECK_EQ(seen, 7);
    json_object *o = call(&f, "POST", "/runtimes/", "maxResults=0", NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "POST", "/runtimes/", "maxResults=101", NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "POST", "/runtimes/", "nextToken=garbage", NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    teardown(&f);
}

static void test_state_survives_reopen(void)
{
    char path[] = "/tmp/silo-cp-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    struct fixture f;
    setup(&f, path);
    char id[160];
    create_runtime(&f, RUNTIME_BODY("durable", "img:1", ""), id);
    control_plane_version_built(f.cp, id, 1, true, NULL);
    char pending[160];
    create_runtime(&f, RUNTIME_BODY("pending", "img:1", ""), pending);   /* its build never ends */
    CHECK_EQ(store_schema_version(&f.store), 3);
    teardown(&f);

    setup(&f, path);     /* a restarted silod: the interrupted build is handed out again, once */
    CHECK_EQ(store_schema_version(&f.store), 3);
    CHECK_EQ(control_plane_resume_builds(f.cp), 1);
    CHECK_EQ(f.builder.submitted, 1);
    CHECK_EQ(strcmp(f.builder.runtime_id[0], pending), 0);
    CHECK_EQ(f.builder.version[0], 1);
    control_plane_version_built(f.cp, pending, 1, true, NULL);
    CHECK_EQ(control_plane_resume_builds(f.cp), 0);
    struct resolved_runtime rr;
    char msg[128];
    CHECK(control_plane_resolve(f.cp, id, NULL, &rr, msg, sizeof msg) == NULL);
    CHECK_EQ(rr.version, 1);
    free(rr.config_json);
    /* foreign keys are on: an endpoint cannot point at a version that does not exist */
    CHECK(sqlite3_exec(f.store.db, "INSERT INTO endpoints (runtime_id, name, id, target_version, status,"
                                   " created_at, last_updated_at) VALUES ('nope', 'x', 'x-1', 9, 'READY', 0, 0)",
                       NULL, NULL, NULL) != SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(f.store.db, "PRAGMA journal_mode", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
    sqlite3_finalize(st);
    teardown(&f);
    char extra[300];
    unlink(path);
    snprintf(extra, sizeof extra, "%s-wal", path);
    unlink(extra);
    snprintf(extra, sizeof extra, "%s-shm", path);
    unlink(extra);
}

static void test_arn_parsing(void)
{
    char id[160];
    CHECK(control_plane_runtime_id_from_arn("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/my_agent-AbCdEfGhIj", id, sizeof id));
    CHECK(strcmp(id, "my_agent-AbCdEfGhIj") == 0);
    CHECK(control_plane_runtime_id_from_arn("my_agent-AbCdEfGhIj", id, sizeof id));
    CHECK(!control_plane_runtime_id_from_arn("arn:aws:s3:::bucket", id, sizeof id));
    CHECK(!control_plane_runtime_id_from_arn("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/my_agent-AbCdEfGhIj/runtime-endpoint/DEFAULT", id, sizeof id));
    CHECK(!control_plane_runtime_id_from_arn("my_agent-short", id, sizeof id));
    CHECK(!control_plane_runtime_id_from_arn("-AbCdEfGhIj", id, sizeof id));
    CHECK(!control_plane_runtime_id_from_arn("", id, sizeof id));
    CHECK(control_plane_owns("PUT", "/runtimes/"));
    CHECK(control_plane_owns("GET", "/runtimes/x-0123456789/"));
    CHECK(!control_plane_owns("POST", "/runtimes/x-0123456789/invocations"));
    CHECK(!control_plane_owns("POST", "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fa-0123456789/invocations"));
}

/* issue 12 item 7: names with a NUL or control character, invalid UTF-8, ARNs of another
 * partition/region/account, undecodable queries; and the one route table. */
static void test_hostile_input(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    unsigned st;
    const char *err;
    /* a NUL (or any control character) inside a name fails the name rule: 400, nothing stored */
    static const char *const bad_names[] = {
        RUNTIME_BODY("ab\\u0000cd", "i", ""), RUNTIME_BODY("ab\\u0001cd", "i", ""),
        RUNTIME_BODY("ab\\ncd", "i", ""), RUNTIME_BODY("abc\\u0000", "i", ""),
        /* json-c would cut this key short at the NUL: refused, not stored as "A" */
        RUNTIME_BODY("envnul", "i", ",\"environmentVariables\":{\"A\\u0000B\":\"1\"}"),
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        json_object *o = call(&f, "PUT", "/runtimes/", NULL, bad_names[i], &st, &err);
        CHECK_EQ(st, 400);
        CHECK(err && strcmp(err, "ValidationException") == 0);
        json_object_put(o);
    }
    json_object *l = call(&f, "POST", "/runtimes/", NULL, NULL, &st, NULL), *arr;
    CHECK(json_object_object_get_ex(l, "agentRuntimes", &arr) && json_object_array_length(arr) == 0);
    json_object_put(l);
    /* an escaped backslash followed by the text u0000 is no NUL */
    CHECK(!cp_json_text_has_nul("{\"a\":\"x\\\\u0000\"}", strlen("{\"a\":\"x\\\\u0000\"}")));
    CHECK(cp_json_text_has_nul("{\"a\\u0000\":1}", strlen("{\"a\\u0000\":1}")));
    CHECK(!cp_json_text_has_nul("{\"a\\u00001\":1}", 7));
    /* invalid UTF-8 anywhere in a JSON string (value or key) is refused, never stored or echoed */
    static const char *const bad_utf8[] = {
        RUNTIME_BODY("utf", "i\xff", ""),
        RUNTIME_BODY("utf", "i", ",\"description\":\"\xc3\x28\""),
        RUNTIME_BODY("utf", "i", ",\"description\":\"\xe2\x82\""),           /* cut sequence */
        RUNTIME_BODY("utf", "i", ",\"environmentVariables\":{\"K\xfe\":\"v\"}"),
        RUNTIME_BODY("utf", "i", ",\"tags\":{\"k\":\"\x80\"}"),
        RUNTIME_BODY("utf", "i", ",\"description\":\"\xc0\xaf\""),         /* overlong '/' */
        RUNTIME_BODY("utf", "i", ",\"description\":\"\xed\xa0\x80\""),     /* a surrogate */
        RUNTIME_BODY("utf", "i", ",\"description\":\"\xf4\x90\x80\x80\""), /* > U+10FFFF */
    };
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        struct control_plane_response r;
        control_plane_handle(f.cp, "PUT", "/runtimes/", NULL, bad_utf8[i], strlen(bad_utf8[i]), &r);
        CHECK_EQ(r.status, 400);
        CHECK(r.error_type && strcmp(r.error_type, "ValidationException") == 0);
        for (const char *p = r.body; p && *p; p++)
            CHECK((unsigned char)*p < 0x80);                   /* not echoed either */
        free(r.body);
    }
    /* valid UTF-8 is fine */
    char id[160], path[300];
    create_runtime(&f, RUNTIME_BODY("utf_ok", "i", ",\"description\":\"caf\xc3\xa9 \xe2\x9c\x93\""), id);
    control_plane_version_built(f.cp, id, 1, true, NULL);
    /* an endpoint name with a NUL or a control character */
    snprintf(path, sizeof path, "/runtimes/%s/runtime-endpoints/", id);
    json_object *o = call(&f, "PUT", path, NULL, "{\"name\":\"ep\\u0000x\"}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "PUT", path, NULL, "{\"name\":\"ep\\tx\"}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    /* tags with control characters */
    char tpath[400];
    snprintf(tpath, sizeof tpath, "/tags/arn%%3Aaws%%3Abedrock-agentcore%%3Aus-east-1%%3A123456789012%%3Aruntime%%2F%s", id);
    o = call(&f, "POST", tpath, NULL, "{\"tags\":{\"k\":\"a\\u0000b\"}}", &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    /* a runtime ARN must be silod's own partition, region and account */
    struct resolved_runtime rr;
    char msg[320], arn[400];
    snprintf(arn, sizeof arn, "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/%s", id);
    CHECK(control_plane_resolve(f.cp, arn, NULL, &rr, msg, sizeof msg) == NULL);
    free(rr.config_json);
    static const char *const foreign[] = {
        "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/",
        "arn:aws:bedrock-agentcore:us-east-1:999999999999:runtime/",
        "arn:aws-cn:bedrock-agentcore:us-east-1:123456789012:runtime/",
        "arn:aws-us-gov:bedrock-agentcore:us-east-1:123456789012:runtime/",
        "arn:aws:bedrock-agentcore:us-east-1::runtime/",
        "arn:aws:bedrock-agentcore::123456789012:runtime/",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        snprintf(arn, sizeof arn, "%s%s", foreign[i], id);
        const char *e = control_plane_resolve(f.cp, arn, NULL, &rr, msg, sizeof msg);
        CHECK(e != NULL);
        CHECK(rr.config_json == NULL);
        if (!e)
            printf("#   %s was accepted\n", arn);
    }
    CHECK(control_plane_resolve(f.cp, id, NULL, &rr, msg, sizeof msg) == NULL);   /* a bare id still works */
    free(rr.config_json);
    /* queries decode with the one decoder: escapes decoded, broken ones refused */
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    o = call(&f, "GET", path, "version=%31", NULL, &st, NULL);
    CHECK_EQ(st, 200);
    json_object_put(o);
    o = call(&f, "GET", path, "version=%zz", NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    o = call(&f, "POST", "/runtimes/", "maxResults=1%00", NULL, &st, &err);
    CHECK_EQ(st, 400);
    json_object_put(o);
    /* the route table: a known path with another method is UnknownOperation; ids decode */
    o = call(&f, "POST", path, NULL, NULL, &st, &err);
    CHECK(err && strcmp(err, "UnknownOperationException") == 0);
    json_object_put(o);
    o = call(&f, "GET", "/runtimes/bad%00id/", NULL, NULL, &st, &err);
    CHECK(err && strcmp(err, "UnknownOperationException") == 0);
    json_object_put(o);
    o = call(&f, "GET", "/runtimes/not_an_id/", NULL, NULL, &st, &err);
    CHECK(err && strcmp(err, "ValidationException") == 0);
    json_object_put(o);
    CHECK(control_plane_owns("POST", "/runtimes/"));
    CHECK(control_plane_owns("DELETE", "/runtimes/x-0123456789/runtime-endpoints/ep/"));
    CHECK(control_plane_owns("POST", "/tags/arn%3Aaws"));
    CHECK(!control_plane_owns("POST", "/runtimes/x-0123456789/"));
    CHECK(!control_plane_owns("GET", "/runtimes"));
    CHECK(!control_plane_owns("GET", "/runtimes//"));
    CHECK(!control_plane_owns("GET", "/runtimes/x%zz/"));
    CHECK(!control_plane_owns("GET", "/tags/a/"));
    teardown(&f);
}

/* Every runtime has a workload identity (identity_store.h's row) named after its id, made and
 * deleted with it, whose ARN GetAgentRuntime shows. */
static void test_workload_identity_rows(void)
{
    struct fixture f;
    setup(&f, ":memory:");
    char id[160], path[256];
    create_runtime(&f, RUNTIME_BODY("wl_agent", "oci:/images/echo", ""), id);
    json_object *row = NULL;
    CHECK_EQ(idstore_workload_get(f.store.db, id, &row), ID_OK);
    unsigned st;
    snprintf(path, sizeof path, "/runtimes/%s/", id);
    json_object *o = call(&f, "GET", path, NULL, NULL, &st, NULL), *w;
    CHECK_EQ(st, 200);
    CHECK(json_object_object_get_ex(o, "workloadIdentityDetails", &w));
    CHECK(row && str(row, "workloadIdentityArn") && str_is(w, "workloadIdentityArn", str(row, "workloadIdentityArn")));
    json_object_put(o);
    json_object_put(row);
    o = call(&f, "DELETE", path, NULL, NULL, &st, NULL);
    CHECK_EQ(st, 202);
    json_object_put(o);
    row = NULL;
    CHECK_EQ(idstore_workload_get(f.store.db, id, &row), ID_NOT_FOUND);
    json_object_put(row);
    teardown(&f);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "tags: on create, TagResource, UntagResource, ListTagsForResource", test_tags },
        { "tags on endpoints: on create, by ARN, gone with the endpoint", test_endpoint_tags },
        { "create/get: paths, shapes, ARNs, CREATING then READY", test_create_get_shapes },
        { "versions immutable, DEFAULT follows latest, pinned endpoints, rollback, deletes", test_versions_and_endpoints },
        { "a failed first build is CREATE_FAILED and not served", test_first_build_failure },
        { "clientToken idempotency and conflicts", test_idempotency },
        { "validation per the reference", test_validation },
        { "customClaims validation: shapes, enums, union, combinations, patterns, lengths", test_custom_claims_validation },
        { "maxResults/nextToken paging", test_paging },
        { "state survives reopening the database (WAL, foreign keys)", test_state_survives_reopen },
        { "ARN/id parsing and route ownership", test_arn_parsing },
        { "hostile input: NUL/control characters in names, invalid UTF-8, foreign ARNs, queries, routes", test_hostile_input },
        { "a runtime's workload identity is made and deleted with it", test_workload_identity_rows },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
