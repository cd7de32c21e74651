/* tests/unit/test_silod_config.c — silod's config table (frontend/silod_config.c): a good config
 * and the defaults; refusals naming the key (unknown keys at every level, wrong types, out of
 * bounds, missing required keys, bad egress rules); every config the tests and tools write is
 * accepted; frontend/README.md names every key of the table. Run from the top of the tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/silod_config.h"
#include "tests/unit/check.h"

#define CRED "\"credentials\": [{\"access_key_id\": \"AKIDEXAMPLE\", \"secret_access_key\": \"s3cr3t\"}]"

static bool parse(const char *text, struct silod_config *c, char *err, size_t len)
{
    err[0] = '\0';
    return silod_config_parse(text, strlen(text), c, err, len);
}

/* the config is refused, and the one-line reason starts with want */
static bool refused(const char *text, const char *want)
{
    struct silod_config c;
    char err[512];
    bool ok = parse(text, &c, err, sizeof err);
    silod_config_free(&c);
    if (ok || strncmp(err, want, strlen(want)) != 0 || strchr(err, '\n')) {
        printf("#   config %s\n#   gave \"%s\", wanted \"%s...\"\n", text, ok ? "(accepted)" : err, want);
        return false;
    }
    return true;
}

static void test_good_config_and_defaults(void)
{
    static const char text[] =
        "{ \"listen_address\": \"0.0.0.0\", \"listen_port\": 9090, \"region\": \"eu-west-1\", \"allow_plain_http\": true,\n"
        "  \"account_id\": \"123456789012\", \"database\": \"/var/lib/silo/silod.db\",\n"
        "  \"credentials\": [ { \"access_key_id\": \"AKID1\", \"secret_access_key\": \"x\", \"session_token\": null,\n"
        "                     \"principal\": \"alice\" },\n"
        "                   { \"access_key_id\": \"AKID2\", \"secret_access_key\": \"y\", \"session_token\": \"tok\" } ],\n"
        "  \"image_builder\": \"/usr/lib/silo/silod-build-image\", \"image_store\": \"/s\",\n"
        "  \"image_paths\": [\"/a\", \"/b\"], \"image_cache\": null, \"image_build_timeout_s\": 600,\n"
        "  \"max_concurrent_builds\": 3, \"max_sessions\": 7, \"max_guest_mib\": 4096, \"metrics_public\": true,\n"
        "  \"ping_interval_s\": 0, \"drain_timeout_s\": 10, \"spool_dir\": \"/tmp\", \"head_timeout_s\": 2,\n"
        "  \"jwt_http_allowed_hosts\": [\"127.0.0.1\"],\n"
        "  \"egress\": { \"enabled\": true, \"allow_cidrs\": [\"10.20.0.15/32\"], \"allow_domains\": [\"corp.example\"],\n"
        "              \"vpc_cidrs\": [\"10.20.0.0/16\"], \"vpc_domains\": [\"corp.example\"],\n"
        "              \"max_connections_per_session\": 128, \"connect_timeout_ms\": 5000, \"idle_timeout_s\": 300 },\n"
        "  \"role_credentials\": { \"static\": { \"*\": { \"access_key_id\": \"A\", \"secret_access_key\": \"B\" } },\n"
        "                        \"process\": \"/usr/local/bin/assume-role\", \"duration_s\": 3600 },\n"
        "  \"vmm\": { \"path\": \"/usr/bin/silo-vmm\", \"kernel\": \"/k\", \"initrd\": null, \"rootfs_dir\": \"/r\",\n"
        "           \"socket_dir\": \"/run/silo\", \"cpus\": 1, \"guest_mib\": 256, \"ready_timeout_ms\": 120000,\n"
        "           \"cmdline\": \"console=ttyS0\", \"verify_wipe\": true } }\n";
    struct silod_config c;
    char err[512];
    CHECK(parse(text, &c, err, sizeof err));
    if (err[0])
        printf("#   %s\n", err);
    CHECK(strcmp(c.listen_address, "0.0.0.0") == 0 && c.listen_port == 9090);
    CHECK_EQ(c.credential_count, 2);
    CHECK(c.credentials && strcmp(c.credentials[0].principal, "alice") == 0 && c.credentials[0].session_token == NULL);
    CHECK(c.credentials && strcmp(c.credentials[1].session_token, "tok") == 0 && c.credentials[1].principal == NULL);
    CHECK(c.image_paths && strcmp(c.image_paths, "/a:/b") == 0);
    CHECK(c.image_cache == NULL);
    CHECK_EQ(c.image_build_timeout_s, 600);
    CHECK_EQ(c.ping_interval_s, 0);
    CHECK(c.metrics_public);
    CHECK_EQ(c.head_timeout_s, 2);
    CHECK_EQ(c.body_timeout_s, 60);                            /* defaults for what is absent */
    CHECK_EQ(c.jwt_http_allowed_hosts.count, 1);
    CHECK(c.egress.enabled && c.egress.rules.allow_cidr_count == 1 && c.egress.rules.vpc_domain_count == 1);
    CHECK_EQ(c.egress.max_connections_per_session, 128);
    CHECK_EQ(c.egress.rules.silod_port, 9090);
    CHECK(c.role_credentials_json && strstr(c.role_credentials_json, "assume-role") != NULL);
    CHECK_EQ(c.vmm.shape.cpus, 1);
    CHECK_EQ(c.vmm.shape.guest_mib, 256);
    CHECK(c.vmm.initrd == NULL && c.vmm.verify_wipe);
    silod_config_free(&c);

    /* the smallest config: credentials only; everything else its table default */
    CHECK(parse("{" CRED "}", &c, err, sizeof err));
    CHECK(strcmp(c.listen_address, "127.0.0.1") == 0 && c.listen_port == 8080);
    CHECK(strcmp(c.region, "us-east-1") == 0 && strcmp(c.database, "silod.db") == 0);
    CHECK_EQ(c.vmm.shape.guest_mib, MICROVM_DEFAULT_GUEST_MIB);
    CHECK_EQ(c.vmm.shape.cpus, MICROVM_DEFAULT_CPUS);
    CHECK_EQ(c.vmm.ready_timeout_ms, MICROVM_DEFAULT_READY_TIMEOUT_MS);
    CHECK(strcmp(c.vmm.cmdline, MICROVM_AGENT_CMDLINE) == 0);
    CHECK(c.vmm.snapshots && c.vmm.wipe_keeper); /* both on unless turned off */
    CHECK(c.egress.enabled && c.egress.connect_timeout_ms == 10000 && c.egress.idle_timeout_s == 900);
    CHECK(c.image_builder == NULL && c.image_paths == NULL && c.role_credentials_json == NULL);
    CHECK_EQ(c.max_sessions, 100);
    CHECK_EQ(c.max_guest_mib, 16384);
    CHECK_EQ(c.ping_interval_s, 5);
    silod_config_free(&c);
    /* image_paths as one ':'-separated string, as before */
    CHECK(parse("{" CRED ", \"image_paths\": \"/x:/y\"}", &c, err, sizeof err));
    CHECK(c.image_paths && strcmp(c.image_paths, "/x:/y") == 0);
    silod_config_free(&c);
}

static void test_unknown_keys(void)
{
    CHECK(refused("{" CRED ", \"listen_prot\": 8080}", "listen_prot is not a config key"));
    CHECK(refused("{" CRED ", \"vmm\": {\"cpu\": 2}}", "vmm.cpu is not a config key"));
    CHECK(refused("{" CRED ", \"egress\": {\"allow_cidr\": []}}", "egress.allow_cidr is not a config key"));
    CHECK(refused("{\"credentials\": [{\"access_key_id\": \"a\", \"secret_access_key\": \"b\", \"secret\": \"c\"}]}",
                  "credentials[0].secret is not a config key"));
    CHECK(refused("{" CRED ", \"role_credentials\": {\"durations\": 900}}", "role_credentials.durations is not a config key"));
    CHECK(refused("{" CRED ", \"role_credentials\": {\"static\": {\"*\": {\"access_key_id\": \"a\", "
                  "\"secret_access_key\": \"b\", \"token\": \"c\"}}}}",
                  "role_credentials.static[\"*\"].token is not a config key"));
}

static void test_wrong_types(void)
{
    CHECK(refused("{" CRED ", \"listen_port\": \"8080\"}", "listen_port must be an integer 0..65535, not a string"));
    CHECK(refused("{" CRED ", \"listen_port\": 8080.5}", "listen_port must be an integer 0..65535, not a fraction"));
    CHECK(refused("{" CRED ", \"listen_port\": null}", "listen_port must be an integer"));
    CHECK(refused("{" CRED ", \"metrics_public\": 1}", "metrics_public must be true or false, not an integer"));
    CHECK(refused("{" CRED ", \"region\": 5}", "region must be a string"));
    CHECK(refused("{" CRED ", \"vmm\": []}", "vmm must be an object, not an array"));
    CHECK(refused("{" CRED ", \"vmm\": {\"verify_wipe\": \"yes\"}}", "vmm.verify_wipe must be true or false"));
    CHECK(refused("{" CRED ", \"jwt_http_allowed_hosts\": \"127.0.0.1\"}", "jwt_http_allowed_hosts must be an array"));
    CHECK(refused("{" CRED ", \"jwt_http_allowed_hosts\": [1]}", "jwt_http_allowed_hosts[0] must be a string"));
    CHECK(refused("{" CRED ", \"image_paths\": [\"/a\", 2]}", "image_paths[1] must be a string"));
    CHECK(refused("{" CRED ", \"egress\": {\"allow_cidrs\": \"10.0.0.0/8\"}}", "egress.allow_cidrs must be an array"));
    CHECK(refused("{\"credentials\": {\"access_key_id\": \"a\"}}", "credentials must be an array of 1..10000 objects"));
    CHECK(refused("{\"credentials\": [\"AKID\"]}", "credentials[0] must be an object, not a string"));
    CHECK(refused("[]", "the config must be a JSON object"));
    CHECK(refused("{" CRED "} {}", "the config is not one JSON object"));
    CHECK(refused("{" CRED ", ", "the config is not one JSON object"));
}

static void test_bounds_and_required(void)
{
    CHECK(refused("{" CRED ", \"listen_port\": 65536}", "listen_port must be an integer 0..65535, not 65536"));
    CHECK(refused("{" CRED ", \"vmm\": {\"cpus\": 0}}", "vmm.cpus must be an integer 1..64, not 0"));
    CHECK(refused("{" CRED ", \"vmm\": {\"cpus\": 65}}", "vmm.cpus must be an integer 1..64, not 65"));
    CHECK(refused("{" CRED ", \"vmm\": {\"guest_mib\": 8}}", "vmm.guest_mib must be an integer 16..1048576, not 8"));
    CHECK(refused("{" CRED ", \"max_sessions\": -1}", "max_sessions must be an integer 1..1000000, not -1"));
    CHECK(refused("{" CRED ", \"egress\": {\"connect_timeout_ms\": 50}}",
                  "egress.connect_timeout_ms must be an integer 100..120000, not 50"));
    CHECK(refused("{" CRED ", \"role_credentials\": {\"duration_s\": 60}}",
                  "role_credentials.duration_s must be an integer 900..43200, not 60"));
    CHECK(refused("{" CRED ", \"account_id\": \"1234\"}", "account_id must be a string of 12 characters, not 4"));
    CHECK(refused("{" CRED ", \"region\": \"\"}", "region must be a string of 1..64 characters, not 0"));
    CHECK(refused("{}", "credentials is required"));
    CHECK(refused("{\"credentials\": []}", "credentials must be an array of 1..10000 objects"));
    CHECK(refused("{\"credentials\": [{\"access_key_id\": \"a\"}]}", "credentials[0].secret_access_key is required"));
    CHECK(refused("{" CRED ", \"egress\": {\"allow_cidrs\": [\"10.0.0.0/33\"]}}",
                  "egress.allow_cidrs[0] \"10.0.0.0/33\" is not a CIDR"));
    CHECK(refused("{" CRED ", \"egress\": {\"vpc_domains\": [\"a..b\"]}}", "egress.vpc_domains[0] \"a..b\" is not a domain suffix"));
}

static void test_registries(void)
{
    struct silod_config c;
    char err[512];
    CHECK(parse("{" CRED ", \"registries\": [{\"host\": \"127.0.0.1:5000\", \"match\": [\"*.dkr.ecr.*.amazonaws.com\"]},"
                " {\"host\": \"reg.example\", \"username\": \"u\", \"password\": \"p\", \"insecure_http\": true}],"
                " \"registry\": {\"max_layer_mib\": 100, \"cache\": \"/var/cache/silo-registry\"}}", &c, err, sizeof err));
    CHECK(c.registry_count == 2 && strcmp(c.registries[0].host, "127.0.0.1:5000") == 0 && c.registries[0].match.count == 1 &&
          !c.registries[0].insecure_http && c.registries[0].username == NULL);
    CHECK(c.registry_count == 2 && c.registries[1].insecure_http && strcmp(c.registries[1].password, "p") == 0);
    CHECK(c.registry.max_layer_mib == 100 && c.registry.max_image_mib == 8192 && c.registry.max_manifest_kib == 4096 &&
          c.registry.timeout_s == 600 && strcmp(c.registry.cache, "/var/cache/silo-registry") == 0);
    silod_config_free(&c);
    CHECK(parse("{" CRED "}", &c, err, sizeof err));            /* none: nothing is pulled */
    CHECK(c.registry_count == 0 && c.registry.cache == NULL && c.registry.timeout_s == 600);
    silod_config_free(&c);
    CHECK(refused("{" CRED ", \"registries\": [{}]}", "registries[0].host is required"));
    CHECK(refused("{" CRED ", \"registries\": [{\"host\": \"https://r.example\"}]}",
                  "registries[0].host must be HOST[:PORT] (no scheme, path or user)"));
    CHECK(refused("{" CRED ", \"registries\": [{\"host\": \"r.example\", \"password\": \"p\"}]}",
                  "registries[0] needs both username and password, or neither"));
    CHECK(refused("{" CRED ", \"registries\": [{\"host\": \"r.example\", \"token\": \"t\"}]}",
                  "registries[0].token is not a config key"));
    CHECK(refused("{" CRED ", \"registry\": {\"max_layer_mib\": 0}}", "registry.max_layer_mib must be an integer 1..16777216, not 0"));
}

/* TLS: both files or neither; a non-loopback listen address needs TLS or allow_plain_http. */
static void test_tls_and_plain_http(void)
{
    CHECK(refused("{" CRED ", \"tls_cert_file\": \"/c.pem\"}", "tls_key_file is required with tls_cert_file"));
    CHECK(refused("{" CRED ", \"tls_key_file\": \"/k.pem\"}", "tls_cert_file is required with tls_key_file"));
    CHECK(refused("{" CRED ", \"listen_address\": \"0.0.0.0\"}", "listen_address 0.0.0.0 is not a loopback address"));
    CHECK(refused("{" CRED ", \"listen_address\": \"192.0.2.7\", \"allow_plain_http\": false}",
                  "listen_address 192.0.2.7 is not a loopback address"));
    CHECK(refused("{" CRED ", \"allow_plain_http\": \"yes\"}", "allow_plain_http must be true or false"));
    static const char *const accepted[] = {
        "{" CRED "}",                                                        /* 127.0.0.1, plain */
        "{" CRED ", \"listen_address\": \"127.0.0.2\"}",                       /* 127/8 is loopback */
        "{" CRED ", \"listen_address\": \"0.0.0.0\", \"allow_plain_http\": true}",
        "{" CRED ", \"listen_address\": \"0.0.0.0\", \"tls_cert_file\": \"/c\", \"tls_key_file\": \"/k\"}",
        "{" CRED ", \"tls_cert_file\": \"/c\", \"tls_key_file\": \"/k\"}",
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        struct silod_config c;
        char err[512];
        bool ok = parse(accepted[i], &c, err, sizeof err);
        CHECK(ok);
        if (!ok)
            printf("#   %s: %s\n", accepted[i], err);
        silod_config_free(&c);
    }
    struct silod_config c;
    char err[512];
    CHECK(parse("{" CRED ", \"tls_cert_file\": \"/c\", \"tls_key_file\": \"/k\"}", &c, err, sizeof err) &&
          strcmp(c.tls_cert_file, "/c") == 0 && strcmp(c.tls_key_file, "/k") == 0 && !c.allow_plain_http);
    silod_config_free(&c);
}

/* Every config a test or tool writes (their keys and value types, with shell variables filled
 * in) is accepted. The texts mirror the configs of tests/host, tests/frontend/devhost,
 * tests/frontend/sdk, tools/up and tools/bench (grep silod.json, listen_port). */
static void test_configs_in_the_tree(void)
{
    static const char *const configs[] = {
        /* tests/host/frontend_sdk.sh (silo_cli.sh likewise, with a session_token key) */
        "{ \"listen_address\": \"127.0.0.1\", \"listen_port\": 0, \"region\": \"us-east-1\", \"account_id\": \"123456789012\",\n"
        "  \"database\": \"/tmp/d/silod.db\",\n"
        "  \"credentials\": [ { \"access_key_id\": \"AK\", \"secret_access_key\": \"S\", \"principal\": \"tester\" },\n"
        "                   { \"access_key_id\": \"AKT\", \"secret_access_key\": \"S\", \"session_token\": \"tok-S\", \"principal\": \"t\" } ],\n"
        "  \"image_builder\": \"/w/tests/frontend/test_image_builder.sh\", \"max_sessions\": 20, \"max_guest_mib\": 4096,\n"
        "  \"jwt_http_allowed_hosts\": [\"127.0.0.1\"],\n"
        "  \"vmm\": { \"path\": \"/w/build/host/bin/fake_vmm\", \"kernel\": \"/nonexistent/Image\", \"rootfs_dir\": \"/tmp/d/images\",\n"
        "           \"socket_dir\": \"/tmp/d/sockets\", \"cpus\": 1, \"guest_mib\": 128, \"ready_timeout_ms\": 5000 } }",
        /* tests/frontend/sdk/front_door.test.mjs and lifecycle.test.mjs (JSON.stringify) */
        "{\"listen_address\":\"127.0.0.1\",\"listen_port\":0,\"region\":\"us-east-1\",\"account_id\":\"123456789012\","
        "\"database\":\"/d/silod.db\",\"credentials\":[{\"access_key_id\":\"A\",\"secret_access_key\":\"S\",\"principal\":\"front-door\"}],"
        "\"image_builder\":\"/w/t.sh\",\"max_sessions\":10,\"max_guest_mib\":4096,\"spool_dir\":\"/d/spool\","
        "\"spool_max_unauthenticated_mib\":200,\"max_connections_per_client\":12,\"head_timeout_s\":2,\"body_timeout_s\":3,"
        "\"keepalive_timeout_s\":3,\"ping_interval_s\":1,\"drain_timeout_s\":20,"
        "\"vmm\":{\"path\":\"/w/fake_vmm\",\"kernel\":\"/nonexistent/Image\",\"rootfs_dir\":\"/d/images\","
        "\"socket_dir\":\"/d/sockets\",\"cpus\":1,\"guest_mib\":128,\"ready_timeout_ms\":5000}}",
        /* tests/host/silod_crash.sh */
        "{ \"listen_address\": \"127.0.0.1\", \"listen_port\": 41234, \"region\": \"us-east-1\", \"account_id\": \"123456789012\",\n"
        "  \"database\": \"/d/silod.db\", \"credentials\": [ { \"access_key_id\": \"A\", \"secret_access_key\": \"S\", \"principal\": \"crash-test\" } ],\n"
        "  \"image_builder\": \"/w/t.sh\",\n"
        "  \"vmm\": { \"path\": \"/w/fake_vmm\", \"kernel\": \"/nonexistent/Image\", \"rootfs_dir\": \"/d/images\", \"socket_dir\": \"/d/sockets\", \"cpus\": 1, \"guest_mib\": 128 } }",
        /* tests/frontend/devhost/silod-inside.sh (tools/up/up-inside.sh, tools/up/silo-up, tools/bench/silod.sh alike) */
        "{ \"listen_address\": \"0.0.0.0\", \"listen_port\": 8080, \"allow_plain_http\": true, \"region\": \"us-east-1\", \"account_id\": \"123456789012\",\n"
        "  \"database\": \"/d/silod.db\", \"credentials\": [ { \"access_key_id\": \"A\", \"secret_access_key\": \"S\", \"principal\": \"devhost-test\" } ],\n"
        "  \"image_builder\": \"/silo/bin/silod-build-image\", \"image_store\": \"/silo/extra/oci-store\", \"image_paths\": [\"/silo/extra/oci\"],\n"
        "  \"max_sessions\": 12, \"max_guest_mib\": 2560,\n"
        "  \"vmm\": { \"path\": \"/silo/bin/silo-vmm\", \"kernel\": \"/silo/guest/Image\", \"rootfs_dir\": \"/d/images\", \"socket_dir\": \"/d/sock\",\n"
        "           \"cpus\": 1, \"guest_mib\": 256, \"ready_timeout_ms\": 120000, \"cmdline\": \"console=ttyS0 root=/dev/vda\",\n"
        "           \"verify_wipe\": true } }",
        /* tests/frontend/devhost/egress-inside.sh (tools/bench/egress.sh alike) */
        "{ \"listen_address\": \"0.0.0.0\", \"listen_port\": 8080, \"allow_plain_http\": true, \"region\": \"us-east-1\", \"account_id\": \"123456789012\",\n"
        "  \"database\": \"/d/silod.db\", \"credentials\": [ { \"access_key_id\": \"A\", \"secret_access_key\": \"S\", \"principal\": \"egress-test\" } ],\n"
        "  \"image_builder\": \"/silo/tests/frontend/devhost/image-builder.sh\", \"max_sessions\": 8, \"max_guest_mib\": 2048,\n"
        "  \"egress\": { \"allow_cidrs\": [\"10.99.0.1/32\"], \"allow_domains\": [\"model.test\"],\n"
        "              \"max_connections_per_session\": 128, \"connect_timeout_ms\": 5000, \"idle_timeout_s\": 300 },\n"
        "  \"role_credentials\": { \"static\": { \"arn:aws:iam::123456789012:role/SiloEgressAgent\":\n"
        "                          { \"access_key_id\": \"RA\", \"secret_access_key\": \"RS\" } }, \"duration_s\": 3600 },\n"
        "  \"vmm\": { \"path\": \"/silo/bin/silo-vmm\", \"kernel\": \"/silo/guest/Image\", \"rootfs_dir\": \"/d/images\", \"socket_dir\": \"/d/sock\",\n"
        "           \"cpus\": 2, \"guest_mib\": 512, \"ready_timeout_ms\": 180000, \"cmdline\": \"console=ttyS0\", \"verify_wipe\": true } }",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        struct silod_config c;
        char err[512];
        bool ok = parse(configs[i], &c, err, sizeof err);
        CHECK(ok);
        if (!ok)
            printf("#   config %zu: %s\n", i, err);
        silod_config_free(&c);
    }
}

/* frontend/README.md's config section names every key the table has. */
struct readme {
    char *text;
    unsigned missing;
};

static void key_in_readme(void *ctx, const char *line)
{
    struct readme *r = ctx;
    char key[200];
    size_t n = strcspn(line, ":");
    snprintf(key, sizeof key, "%.*s", (int)n, line);
    const char *leaf = strrchr(key, '.');
    leaf = leaf ? leaf + 1 : key;
    char quoted[220], ticked[220];
    snprintf(quoted, sizeof quoted, "\"%s\"", leaf);
    snprintf(ticked, sizeof ticked, "`%s`", key);
    if (r->text && !strstr(r->text, quoted) && !strstr(r->text, ticked)) {
        printf("#   frontend/README.md does not name the config key %s\n", key);
        r->missing++;
    }
}

static void test_readme_names_every_key(void)
{
    FILE *f = fopen("frontend/README.md", "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    struct readme r = { text, 0 };
    silod_config_describe(key_in_readme, &r);
    CHECK_EQ(r.missing, 0);
}

static void test_jail(void)
{
    struct silod_config c;
    char err[512];
    CHECK(parse("{" CRED "}", &c, err, sizeof err));
    /* absent: auto (silod jails where it can), with the table's defaults */
    CHECK(c.jail.mode == JAIL_AUTO && strcmp(c.jail.dir, "/run/silo/jail") == 0 && c.jail.uid_first == 200000);
    silod_config_free(&c);
    CHECK(parse("{" CRED ", \"jail\": {\"enabled\": false}}", &c, err, sizeof err));
    CHECK(c.jail.mode == JAIL_OFF);
    silod_config_free(&c);
    CHECK(parse("{" CRED ", \"jail\": {}}", &c, err, sizeof err));
    CHECK(c.jail.mode == JAIL_ON && c.jail.program == NULL && strcmp(c.jail.dir, "/run/silo/jail") == 0 &&
          c.jail.uid_first == 200000 && c.jail.uid_count == 1000 && c.jail.gid == 199999 && c.jail.cgroup_parent == NULL &&
          c.jail.guest_memory_percent == 100 && c.jail.pids_max == 256 && c.jail.nofile == 4096);
    silod_config_free(&c);
    CHECK(parse("{" CRED ", \"jail\": {\"program\": \"/opt/silo/silo-jail\", \"dir\": \"/srv/jail\", \"uid_first\": 5000,"
                " \"uid_count\": 10, \"cgroup_parent\": \"/sys/fs/cgroup/silo\", \"vmm_overhead_mib\": 48,"
                " \"guest_memory_percent\": 25, \"pids_max\": 64, \"nofile\": 1024}}", &c, err, sizeof err));
    CHECK(c.jail.mode == JAIL_ON && strcmp(c.jail.program, "/opt/silo/silo-jail") == 0 && c.jail.uid_first == 5000 &&
          c.jail.uid_count == 10 && strcmp(c.jail.cgroup_parent, "/sys/fs/cgroup/silo") == 0 &&
          c.jail.vmm_overhead_mib == 48 && c.jail.guest_memory_percent == 25);
    silod_config_free(&c);
    CHECK(refused("{" CRED ", \"jail\": {\"uid_first\": 0}}", "jail.uid_first must be an integer 1..2147483646, not 0"));
    CHECK(refused("{" CRED ", \"jail\": {\"gid\": 0}}", "jail.gid must be an integer 1..2147483646, not 0"));
    CHECK(refused("{" CRED ", \"jail\": {\"uid_count\": 0}}", "jail.uid_count must be an integer 1..65536, not 0"));
    CHECK(refused("{" CRED ", \"jail\": {\"uid_first\": 2147480000, \"uid_count\": 65536}}",
                  "jail.uid_count takes the range past 2147483646"));
    CHECK(refused("{" CRED ", \"jail\": {\"dir\": \"jail\"}}", "jail.dir must be an absolute path"));
    CHECK(refused("{" CRED ", \"jail\": {\"program\": \"silo-jail\"}}", "jail.program must be an absolute path"));
    CHECK(refused("{" CRED ", \"jail\": {\"cgroup_parent\": \"/tmp/cgroup/silo\"}}",
                  "jail.cgroup_parent must be a directory under /sys/fs/cgroup/"));
    CHECK(refused("{" CRED ", \"jail\": {\"cgroup_parent\": \"/sys/fs/cgroup/\"}}",
                  "jail.cgroup_parent must be a directory under /sys/fs/cgroup/ (cgroup v2) or \"none\""));
    CHECK(refused("{" CRED ", \"jail\": {\"cgroup_parent\": \"nope\"}}", "jail.cgroup_parent must be a directory"));
    {
        struct silod_config none;
        char e[256];
        const char *text = "{" CRED ", \"jail\": {\"cgroup_parent\": \"none\"}}";
        CHECK(silod_config_parse(text, strlen(text), &none, e, sizeof e) && strcmp(none.jail.cgroup_parent, "none") == 0);
        silod_config_free(&none);
    }
    CHECK(refused("{" CRED ", \"jail\": {\"guest_memory_percent\": 0}}", "jail.guest_memory_percent must be an integer 1..100, not 0"));
    CHECK(refused("{" CRED ", \"jail\": {\"uid\": 7}}", "jail.uid is not a config key"));
    CHECK(refused("{" CRED ", \"jail\": true}", "jail must be an object, not a boolean"));
    CHECK(refused("{" CRED ", \"jail\": {\"enabled\": 1}}", "jail.enabled must be true or false"));
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a good config is read whole; absent keys get the table's defaults", test_good_config_and_defaults },
        { "unknown keys are refused at every level, the key named", test_unknown_keys },
        { "wrong types are refused, the key named (\"listen_port\": \"8080\" is no longer 8080 silently)", test_wrong_types },
        { "out-of-bounds values, missing required keys and bad egress rules are refused, the key named", test_bounds_and_required },
        { "TLS needs both files; plain HTTP off loopback only with allow_plain_http", test_tls_and_plain_http },
        { "the configs the tests and tools write are accepted", test_configs_in_the_tree },
        { "registries and registry: entries, limits with defaults, bad hosts and half credentials refused", test_registries },
        { "frontend/README.md names every key of the table", test_readme_names_every_key },
        { "jail: absent means auto, {\"enabled\": false} off, present on; its keys, defaults and refusals", test_jail },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
