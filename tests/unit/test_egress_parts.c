/* tests/unit/test_egress_parts.c — the small pure pieces behind agentd's egress services:
 * egress verdict lines (egress_client.c), credential documents and their Expiration
 * (credentials_server.c), kernel command line keys (kernel_cmdline.c), the agent's added
 * environment (guest_env.c) and host names (host_name.c). */
#include <stdlib.h>
#include <string.h>

#include "guest/agentd/credentials_server.h"
#include "guest/agentd/egress_client.h"
#include "guest/agentd/guest_env.h"
#include "guest/agentd/host_name.h"
#include "guest/agentd/kernel_cmdline.h"
#include "tests/unit/check.h"

static void test_verdicts(void)
{
    struct egress_verdict v;
    egress_verdict_parse("OK 93.184.216.34:443", &v);
    CHECK(v.ok);
    egress_verdict_parse("OK [2001:db8::1]:443", &v);
    CHECK(v.ok);
    egress_verdict_parse("ERR 403 private:10.0.0.0/8 destination is private", &v);
    CHECK(!v.ok);
    CHECK_EQ(v.status, 403);
    CHECK(strcmp(v.rule, "private:10.0.0.0/8") == 0);
    CHECK(strcmp(v.message, "destination is private") == 0);
    egress_verdict_parse("ERR 429 limit", &v);
    CHECK_EQ(v.status, 429);
    CHECK(strcmp(v.rule, "limit") == 0 && strcmp(v.message, "refused") == 0);
    egress_verdict_parse("ERR 403 loopback bad\x01" "byte", &v);
    CHECK(strcmp(v.message, "bad?byte") == 0);
    const char *broken[] = { "", "OKAY", "ERR", "ERR 40 x y", "ERR 4033 x y", "ERR 403  y", "ERR 403 bad\"rule y",
                             "ERR 200 x y", "HELLO" };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        egress_verdict_parse(broken[i], &v);
        CHECK(!v.ok);
        CHECK_EQ(v.status, 502);
    }
}

static void test_credentials_documents(void)
{
    time_t t;
    CHECK(credentials_parse_expiration("2026-12-04T20:00:00Z", &t));
    CHECK_EQ(t, 1796414400);
    CHECK(credentials_parse_expiration("2026-12-04T20:00:00.123Z", &t));
    CHECK(!credentials_parse_expiration("2026-12-04T20:00:00", &t));
    CHECK(!credentials_parse_expiration("2026-12-04 20:00:00Z", &t));
    CHECK(!credentials_parse_expiration("2026-13-04T20:00:00Z", &t));
    CHECK(!credentials_parse_expiration("2026-12-04T20:00:00+01:00", &t));
    const char *good = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-12-04T20:00:00Z\"}";
    CHECK(credentials_json_valid(good, strlen(good), &t));
    CHECK(!credentials_json_valid(good, strlen(good) - 1, &t));
    const char *no_secret = "{\"AccessKeyId\":\"A\",\"Expiration\":\"2026-12-04T20:00:00Z\"}";
    CHECK(!credentials_json_valid(no_secret, strlen(no_secret), &t));
    const char *trailing = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2026-12-04T20:00:00Z\"}x";
    CHECK(!credentials_json_valid(trailing, strlen(trailing), &t));
    CHECK(!credentials_json_valid("[1]", 3, &t));
    char token[CREDENTIALS_TOKEN_HEX + 1], other[CREDENTIALS_TOKEN_HEX + 1];
    CHECK(credentials_make_token(token, sizeof token) && credentials_make_token(other, sizeof other));
    CHECK_EQ(strlen(token), 64);
    CHECK(strcmp(token, other) != 0);
}

static void test_cmdline(void)
{
    const char *cmd = "console=ttyS0 silo.region=us-east-1 silo.egress_ports=80,443,x,0,70000,8443,443 quiet\n";
    char v[64];
    CHECK(kernel_cmdline_value(cmd, "silo.region", v, sizeof v) && strcmp(v, "us-east-1") == 0);
    CHECK(kernel_cmdline_region_valid(v));
    CHECK(!kernel_cmdline_region_valid("us east"));
    CHECK(!kernel_cmdline_region_valid(""));
    CHECK(!kernel_cmdline_value(cmd, "silo.regio", v, sizeof v));
    CHECK(!kernel_cmdline_value(cmd, "region", v, sizeof v));
    CHECK(!kernel_cmdline_value(cmd, "silo.region", v, 4));              /* does not fit */
    CHECK(kernel_cmdline_value(cmd, "silo.egress_ports", v, sizeof v));
    uint16_t ports[EGRESS_PORTS_MAX];
    CHECK_EQ(kernel_cmdline_ports(v, ports, EGRESS_PORTS_MAX), 3);
    CHECK(ports[0] == 80 && ports[1] == 443 && ports[2] == 8443);
    CHECK_EQ(kernel_cmdline_ports("", ports, EGRESS_PORTS_MAX), 0);
    CHECK_EQ(kernel_cmdline_ports("1,2,3", ports, 2), 2);
}

static void test_env(void)
{
    char **envp = calloc(3, sizeof(char *));
    envp[0] = strdup("PATH=/bin");
    envp[1] = strdup("https_proxy=http://corp:8080");
    CHECK_EQ(guest_env_add(&envp, "abc", NULL), 0);
    size_t n = 0;
    bool own_kept = false, token = false, region = false;
    for (; envp[n] != NULL; n++) {
        own_kept |= strcmp(envp[n], "https_proxy=http://corp:8080") == 0;
        token |= strcmp(envp[n], "AWS_CONTAINER_AUTHORIZATION_TOKEN=abc") == 0;
        region |= strncmp(envp[n], "AWS_REGION=", 11) == 0;
        CHECK(strncmp(envp[n], "https_proxy=http://127", 22) != 0);
    }
    CHECK(own_kept && token && !region);
    CHECK_EQ(n, 2 + 9);
    for (size_t i = 0; i < n; i++)
        free(envp[i]);
    free(envp);
}

static void test_host_names(void)
{
    CHECK(host_name_valid("a", 1));
    CHECK(host_name_valid("_dmarc.example-1.com", 20));
    CHECK(!host_name_valid("", 0));
    CHECK(!host_name_valid(".a", 2));
    CHECK(!host_name_valid("a.", 2));
    CHECK(!host_name_valid("a..b", 4));
    CHECK(!host_name_valid("a b", 3));
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    for (int i = 60; i < 300; i += 61)
        long_name[i] = '.';
    CHECK(host_name_valid(long_name, 253));
    CHECK(!host_name_valid(long_name, 254));
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "egress verdict lines: OK, ERR with rule and message, anything else 502", test_verdicts },
        { "credential documents, Expiration parsing, random tokens", test_credentials_documents },
        { "kernel command line: silo.region, silo.egress_ports", test_cmdline },
        { "the agent's environment: added only when the image does not set it", test_env },
        { "host names: characters, labels, length", test_host_names },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
