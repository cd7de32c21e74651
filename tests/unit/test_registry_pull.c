/* tests/unit/test_registry_pull.c — the pure parts of the registry client
 * (builder/registry_pull.h): image references (host, port, repository, tag, digest, and what is
 * refused), WWW-Authenticate challenges, host patterns for ECR-style names, loopback hosts, the
 * SILO_REGISTRIES settings, and the linux/arm64 choice in an image index (builder/oci.h's
 * oci_pick_arm64, shared with local OCI layouts). The network side is tests/host/oci_registry.sh. */
#include "builder/registry_pull.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "builder/oci.h"
#include "tests/unit/check.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_references(void)
{
    struct registry_ref r;
    char err[300];
    CHECK(registry_parse_ref("127.0.0.1:5000/agents/echo:v1", &r, err, sizeof err) == 0);
    CHECK(strcmp(r.host, "127.0.0.1:5000") == 0 && strcmp(r.repo, "agents/echo") == 0 && strcmp(r.tag, "v1") == 0 &&
          r.digest[0] == '\0');
    CHECK(registry_parse_ref("Registry.Example.com/echo", &r, err, sizeof err) == 0);   /* host lower-cased */
    CHECK(strcmp(r.host, "registry.example.com") == 0 && strcmp(r.tag, "latest") == 0);
    CHECK(registry_parse_ref("localhost/a/b/c", &r, err, sizeof err) == 0);
    CHECK(strcmp(r.host, "localhost") == 0 && strcmp(r.repo, "a/b/c") == 0);
    CHECK(registry_parse_ref("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-agent:latest", &r, err, sizeof err) == 0);
    CHECK(strcmp(r.host, "123456789012.dkr.ecr.us-east-1.amazonaws.com") == 0 && strcmp(r.repo, "my-agent") == 0);
    CHECK(registry_parse_ref("r.example:443/x@sha256:" HEX64, &r, err, sizeof err) == 0);
    CHECK(strcmp(r.digest, "sha256:" HEX64) == 0 && r.tag[0] == '\0' && strcmp(r.repo, "x") == 0);
    CHECK(registry_parse_ref("r.example/x:v2@sha256:" HEX64, &r, err, sizeof err) == 0);   /* the digest decides */
    CHECK(strcmp(r.digest, "sha256:" HEX64) == 0 && r.tag[0] == '\0');
    CHECK(registry_parse_ref("[::1]:5000/x:1", &r, err, sizeof err) == 0);
    CHECK(strcmp(r.host, "[::1]:5000") == 0);
    /* refused */
    CHECK(registry_parse_ref("https://r.example/x:1", &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("agents/echo:1", &r, err, sizeof err) < 0);          /* no host: the local store's */
    CHECK(registry_parse_ref("r.example/x@sha256:0123", &r, err, sizeof err) < 0);
    CHECK(strstr(err, "64 lowercase hex") != NULL);
    CHECK(registry_parse_ref("r.example/x@md5:" HEX64, &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("r.example/X:1", &r, err, sizeof err) < 0);          /* upper-case repository */
    CHECK(registry_parse_ref("r.example/../etc:1", &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("r.example/x:-bad", &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("r.example:99999/x", &r, err, sizeof err) < 0);      /* port out of range */
    CHECK(registry_parse_ref("r.example:/x", &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("r..example/x", &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("user@r.example/x", &r, err, sizeof err) < 0);
    CHECK(registry_parse_ref("r.example/", &r, err, sizeof err) < 0);
    char longref[800];
    memset(longref, 'a', sizeof longref - 1);
    longref[sizeof longref - 1] = '\0';
    memcpy(longref, "r.example/", 10);
    CHECK(registry_parse_ref(longref, &r, err, sizeof err) < 0);
    CHECK(registry_names_host("r.example/x") && registry_names_host("localhost/x") && registry_names_host("h:5000/x"));
    CHECK(!registry_names_host("silo/x") && !registry_names_host("x") && !registry_names_host("/abs/path"));
}

static void test_challenges(void)
{
    struct registry_challenge c;
    CHECK(registry_parse_challenge("Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                                   "scope=\"repository:a/b:pull\"", &c) == 0);
    CHECK(strcmp(c.scheme, "Bearer") == 0 && strcmp(c.realm, "https://auth.example/token") == 0 &&
          strcmp(c.service, "registry.example") == 0 && strcmp(c.scope, "repository:a/b:pull") == 0);
    CHECK(registry_parse_challenge("bearer  realm=\"http://127.0.0.1:9/t\" , service=svc, error=\"invalid_token\"", &c) == 0);
    CHECK(strcmp(c.scheme, "Bearer") == 0 && strcmp(c.service, "svc") == 0 && c.scope[0] == '\0');
    CHECK(registry_parse_challenge("Basic realm=\"Registry Realm\"", &c) == 0);
    CHECK(strcmp(c.scheme, "Basic") == 0 && strcmp(c.realm, "Registry Realm") == 0);
    CHECK(registry_parse_challenge("Basic", &c) == 0);
    CHECK(registry_parse_challenge("Bearer realm=\"a\\\"b\"", &c) == 0 && strcmp(c.realm, "a\"b") == 0);
    /* refused: other schemes, no realm for Bearer, unterminated quotes, control characters, size */
    CHECK(registry_parse_challenge("Digest realm=\"x\"", &c) < 0);
    CHECK(registry_parse_challenge("Bearer service=\"x\"", &c) < 0);
    CHECK(registry_parse_challenge("Bearer realm=\"https://x", &c) < 0);
    CHECK(registry_parse_challenge("Bearer realm=\"a\x01\"", &c) < 0);
    CHECK(registry_parse_challenge("Bearer =x", &c) < 0);
    CHECK(registry_parse_challenge("", &c) < 0);
    char big[2000];
    snprintf(big, sizeof big, "Bearer realm=\"%01500d\"", 0);
    CHECK(registry_parse_challenge(big, &c) < 0);
}

static void test_hosts(void)
{
    CHECK(registry_host_match("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com"));
    CHECK(registry_host_match("*.dkr.ecr.*.amazonaws.com", "123456789012.DKR.ecr.eu-west-1.amazonaws.com"));
    CHECK(!registry_host_match("*.dkr.ecr.*.amazonaws.com", "a.b.dkr.ecr.us-east-1.amazonaws.com"));  /* one label */
    CHECK(!registry_host_match("*.dkr.ecr.*.amazonaws.com", ".dkr.ecr.us-east-1.amazonaws.com"));
    CHECK(!registry_host_match("*.dkr.ecr.*.amazonaws.com", "1.dkr.ecr.us-east-1.amazonaws.com.evil.example"));
    CHECK(registry_host_match("registry.example:5000", "registry.example:5000"));
    CHECK(!registry_host_match("registry.example", "registry.example:5000"));
    CHECK(registry_is_loopback("127.0.0.1:5000") && registry_is_loopback("127.9.8.7") &&
          registry_is_loopback("localhost:1") && registry_is_loopback("[::1]:5000"));
    CHECK(!registry_is_loopback("128.0.0.1") && !registry_is_loopback("127.0.0.1.evil.example") &&
          !registry_is_loopback("10.0.0.1:5000") && !registry_is_loopback("[::2]"));
}

static void test_settings(void)
{
    struct registry_settings s;
    char err[300];
    CHECK(registry_settings_parse(NULL, &s, err, sizeof err) == 0);
    CHECK(s.count == 0 && s.max_layer == (uint64_t)REGISTRY_DEFAULT_MAX_LAYER_MIB << 20 && s.timeout_s == 600);
    registry_settings_free(&s);
    CHECK(registry_settings_parse("{\"registries\":[{\"host\":\"127.0.0.1:5000\",\"match\":[\"*.dkr.ecr.*.amazonaws.com\"]},"
                                  "{\"host\":\"reg.example\",\"username\":\"u\",\"password\":\"secret-pw\",\"insecure_http\":true}],"
                                  "\"max_layer_mib\":1,\"max_manifest_kib\":64,\"cache\":\"/c\"}", &s, err, sizeof err) == 0);
    CHECK(s.count == 2 && s.max_layer == 1u << 20 && s.max_manifest == 64u << 10 && strcmp(s.cache, "/c") == 0);
    const struct registry_entry *e = registry_find(&s, "1.dkr.ecr.us-west-2.amazonaws.com");
    CHECK(e == &s.entries[0]);
    e = registry_find(&s, "REG.example");
    CHECK(e == &s.entries[1] && e->insecure_http && strcmp(e->username, "u") == 0);
    CHECK(registry_find(&s, "other.example") == NULL);
    registry_settings_free(&s);
    /* refusals name the key, never the password */
    CHECK(registry_settings_parse("{\"registries\":[{\"host\":\"h.example\",\"password\":\"secret-pw\"}]}", &s, err,
                                  sizeof err) < 0);
    CHECK(strstr(err, "username and password") != NULL && strstr(err, "secret-pw") == NULL);
    registry_settings_free(&s);
    CHECK(registry_settings_parse("{\"registries\":[{\"host\":\"http://h\"}]}", &s, err, sizeof err) < 0);
    registry_settings_free(&s);
    CHECK(registry_settings_parse("{\"max_layer_mib\":0}", &s, err, sizeof err) < 0);
    registry_settings_free(&s);
    CHECK(registry_settings_parse("[1]", &s, err, sizeof err) < 0);
    registry_settings_free(&s);
}

static const char *pick(const char *index_json, char *err, size_t errlen)
{
    static char digest[100];
    json_object *doc = json_tokener_parse(index_json);
    json_object *m = doc ? oci_pick_arm64(doc, err, errlen) : NULL, *d;
    digest[0] = '\0';
    if (m && json_object_object_get_ex(m, "digest", &d))
        snprintf(digest, sizeof digest, "%s", json_object_get_string(d));
    json_object_put(doc);
    return m ? digest : NULL;
}

static void test_index_choice(void)
{
    char err[300];
    const char *d = pick("{\"manifests\":[{\"digest\":\"amd\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                         "{\"digest\":\"armv7\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
                         "{\"digest\":\"arm64\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}",
                         err, sizeof err);
    CHECK(d != NULL && strcmp(d, "arm64") == 0);
    d = pick("{\"manifests\":[{\"digest\":\"v9\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v9\"}},"
             "{\"digest\":\"plain\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}", err, sizeof err);
    CHECK(d != NULL && strcmp(d, "plain") == 0);                       /* variant v8 or none */
    d = pick("{\"manifests\":[{\"digest\":\"win\",\"platform\":{\"os\":\"windows\",\"architecture\":\"arm64\"}},"
             "{\"digest\":\"att\",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
             "{\"digest\":\"amd\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}", err, sizeof err);
    CHECK(d == NULL);
    CHECK(strstr(err, "The container image has no linux/arm64 variant (it has: windows/arm64, linux/amd64)") != NULL);
    CHECK(strstr(err, "AgentCore Runtime requires arm64 images") != NULL);
    CHECK(pick("{\"manifests\":[]}", err, sizeof err) == NULL && strstr(err, "lists no manifests") != NULL);
    CHECK(pick("{\"manifests\":[1,2]}", err, sizeof err) == NULL);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "references: HOST[:PORT]/REPO[:TAG|@sha256:…] parsed, malformed ones refused", test_references },
        { "WWW-Authenticate: Bearer and Basic challenges, malformed ones refused", test_challenges },
        { "host patterns (ECR-style names) and loopback hosts", test_hosts },
        { "SILO_REGISTRIES settings: entries, limits, refusals without secrets", test_settings },
        { "image index: linux/arm64 (v8 or no variant) chosen, none: AgentCore's message", test_index_choice },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
