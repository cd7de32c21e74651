/* tests/unit/test_agent_config.c — what agentd reads: the image config's start command
 * (guest/agentd/agent_config.c), User resolution against passwd/group files, the agent's
 * /ping answer and the /proc usage figures (guest/agentd/probe.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/agentd/agent_config.h"
#include "guest/agentd/probe.h"
#include "tests/unit/check.h"

static int parse(const char *json, struct agent_config *cfg, char *err)
{
    return agent_config_parse(json, strlen(json), cfg, err, 256);
}

static void test_full_config(void)
{
    struct agent_config c;
    char err[256] = "";
    const char *json = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{"
                       "\"Entrypoint\":[\"/usr/local/bin/node\"],\"Cmd\":[\"/app/agent.mjs\",\"--x\"],"
                       "\"Env\":[\"PATH=/usr/local/bin:/bin\",\"A=b=c\"],\"WorkingDir\":\"/app\",\"User\":\"1000:100\"}}";
    CHECK_EQ(parse(json, &c, err), 0);
    CHECK(strcmp(c.argv[0], "/usr/local/bin/node") == 0);
    CHECK(strcmp(c.argv[1], "/app/agent.mjs") == 0);
    CHECK(strcmp(c.argv[2], "--x") == 0);
    CHECK(c.argv[3] == NULL);
    CHECK(strcmp(c.envp[0], "PATH=/usr/local/bin:/bin") == 0);
    CHECK(strcmp(c.envp[1], "A=b=c") == 0);
    CHECK(strcmp(c.envp[2], "HOME=/root") == 0);       /* added: the image set none */
    CHECK(c.envp[3] == NULL);
    CHECK(strcmp(c.workdir, "/app") == 0);
    CHECK(strcmp(c.user, "1000:100") == 0);
    CHECK(strcmp(c.architecture, "arm64") == 0);
    agent_config_free(&c);
}

static void test_defaults(void)
{
    struct agent_config c;
    char err[256] = "";
    CHECK_EQ(parse("{\"config\":{\"Cmd\":[\"agent\"],\"Entrypoint\":null,\"Env\":null}}", &c, err), 0);
    CHECK(strcmp(c.argv[0], "agent") == 0 && c.argv[1] == NULL);
    CHECK(strncmp(c.envp[0], "PATH=", 5) == 0);
    CHECK(strcmp(c.workdir, "/") == 0);
    CHECK(strcmp(c.user, "") == 0);
    CHECK(strcmp(c.architecture, "") == 0);
    agent_config_free(&c);
}

static void expect_refused(const char *json, const char *why)
{
    struct agent_config c;
    char err[256] = "";
    CHECK_EQ(parse(json, &c, err), -1);
    if (strstr(err, why) == NULL)
        fprintf(stderr, "#   reason \"%s\" lacks \"%s\"\n", err, why);
    CHECK(strstr(err, why) != NULL);
    CHECK(c.argv == NULL);      /* freed */
}

static void test_refused(void)
{
    expect_refused("{\"config\":{}}", "no command");
    expect_refused("{}", "no command");
    expect_refused("{\"config\":{\"Cmd\":[\"\"]}}", "no command");
    expect_refused("{\"config\":{\"Cmd\":\"agent\"}}", "Cmd is not an array");
    expect_refused("{\"config\":{\"Cmd\":[1]}}", "Cmd[0] is not a string");
    expect_refused("{\"config\":{\"Cmd\":[\"a\"],\"Env\":[\"NOEQUALS\"]}}", "Env[0]");
    expect_refused("{\"config\":{\"Cmd\":[\"a\"],\"Env\":[\"=x\"]}}", "Env[0]");
    expect_refused("{\"config\":{\"Cmd\":[\"a\"],\"WorkingDir\":\"app\"}}", "not absolute");
    expect_refused("{\"config\":{\"Cmd\":[\"a\"],\"User\":5}}", "User is not a string");
    expect_refused("{\"config\":{\"Cmd\":[\"a\\u0000b\"]}}", "Cmd[0] contains a NUL");
    expect_refused("{\"config\":[]}", "not an object");
    expect_refused("[1,2]", "not a JSON object");
    expect_refused("{\"config\":{\"Cmd\":[\"a\"]}", "invalid JSON");
    expect_refused("{\"config\":{\"Cmd\":[\"a\"]}} trailing", "trailing data");
    expect_refused("", "empty");

    /* too many arguments */
    size_t cap = 64 + 6 * (AGENT_CONFIG_MAX_ARGS + 5);
    char *big = malloc(cap);
    strcpy(big, "{\"config\":{\"Cmd\":[");
    for (int i = 0; i < AGENT_CONFIG_MAX_ARGS + 5; i++)
        strcat(big, i ? ",\"a\"" : "\"a\"");
    strcat(big, "]}}");
    expect_refused(big, "more than");
    free(big);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_users(void)
{
    char root[] = "/tmp/silo-test-users-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/etc", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/etc/passwd", root);
    write_file(p, "root:x:0:0:root:/root:/bin/sh\nbroken\napp:x:1000:1001:App:/app:/bin/sh\nodd:x:12a:1:x:/:/bin/sh\n");
    snprintf(p, sizeof p, "%s/etc/group", root);
    write_file(p, "root:x:0:\nstaff:x:50:\n");

    uid_t u;
    gid_t g;
    char err[256];
    CHECK_EQ(agent_user_resolve("", root, &u, &g, err, sizeof err), 0);
    CHECK(u == 0 && g == 0);
    CHECK_EQ(agent_user_resolve("app", root, &u, &g, err, sizeof err), 0);
    CHECK(u == 1000 && g == 1001);
    CHECK_EQ(agent_user_resolve("app:staff", root, &u, &g, err, sizeof err), 0);
    CHECK(u == 1000 && g == 50);
    CHECK_EQ(agent_user_resolve("1000", root, &u, &g, err, sizeof err), 0);
    CHECK(u == 1000 && g == 1001);          /* primary group from the passwd entry */
    CHECK_EQ(agent_user_resolve("4242", root, &u, &g, err, sizeof err), 0);
    CHECK(u == 4242 && g == 0);             /* no entry: group 0, as docker does */
    CHECK_EQ(agent_user_resolve("4242:7", root, &u, &g, err, sizeof err), 0);
    CHECK(u == 4242 && g == 7);
    CHECK_EQ(agent_user_resolve("nobody", root, &u, &g, err, sizeof err), -1);
    CHECK(strstr(err, "not in /etc/passwd") != NULL);
    CHECK_EQ(agent_user_resolve("app:wheel", root, &u, &g, err, sizeof err), -1);
    CHECK_EQ(agent_user_resolve("odd", root, &u, &g, err, sizeof err), -1);
    CHECK_EQ(agent_user_resolve(":", root, &u, &g, err, sizeof err), -1);
    CHECK_EQ(agent_user_resolve("app:", root, &u, &g, err, sizeof err), -1);
    CHECK_EQ(agent_user_resolve("99999999999", root, &u, &g, err, sizeof err), -1);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK_EQ(system(cmd), 0);
}

static struct cp_response ping(const char *raw)
{
    struct cp_response r;
    ping_parse_response(raw, strlen(raw), &r);
    CHECK_EQ(r.verb, CP_HEALTH);
    CHECK(r.ok);
    return r;
}

static void test_ping(void)
{
    struct cp_response r = ping("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 52\r\n\r\n"
                                "{\"status\":\"Healthy\",\"time_of_last_update\":1732500000}");
    CHECK_EQ(r.u.health.status, CP_HEALTH_HEALTHY);
    CHECK_EQ(r.u.health.time_of_last_update, 1732500000);
    CHECK_EQ(r.u.health.http_status, 200);

    r = ping("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
             "d\r\n{\"status\":\"He\r\n10\r\nalthyBusy\"}     \r\n0\r\n\r\n");
    CHECK_EQ(r.u.health.status, CP_HEALTH_BUSY);
    CHECK_EQ(r.u.health.time_of_last_update, -1);        /* absent */

    r = ping("HTTP/1.0 200 OK\r\n\r\n{\"status\":\"HealthyBusy\",\"time_of_last_update\":1.7e9}");
    CHECK_EQ(r.u.health.status, CP_HEALTH_BUSY);
    CHECK_EQ(r.u.health.time_of_last_update, 1700000000);

    r = ping("HTTP/1.1 503 Busy\r\n\r\n{\"status\":\"Healthy\"}");
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);
    CHECK_EQ(r.u.health.http_status, 503);
    r = ping("HTTP/1.1 200 OK\r\n\r\n{\"status\":\"Sleepy\"}");
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);
    r = ping("HTTP/1.1 200 OK\r\n\r\n{\"status\":\"Healthy\",\"time_of_last_update\":-5}");
    CHECK_EQ(r.u.health.status, CP_HEALTH_HEALTHY);
    CHECK_EQ(r.u.health.time_of_last_update, -1);
    r = ping("HTTP/1.1 200 OK\r\n\r\n[\"Healthy\"]");
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);
    r = ping("HTTP/1.1 2x0 OK\r\n\r\n{}");
    CHECK_EQ(r.u.health.http_status, 0);
    r = ping("garbage");
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);
    r = ping("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffff\r\n{}");
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);
    r = ping("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n");             /* headers never end */
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);

    /* an oversized answer is cut at PING_MAX_RESPONSE and is not trusted past it */
    size_t n = PING_MAX_RESPONSE * 2;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "HTTP/1.1 200 OK\r\n\r\n", 19);
    memcpy(big + n - 21, "{\"status\":\"Healthy\"}", 20);
    big[n] = '\0';
    r = ping(big);
    CHECK_EQ(r.u.health.status, CP_HEALTH_UNHEALTHY);
    free(big);
}

static void test_usage(void)
{
    struct cp_response r;
    const char *stat = "cpu  100 5 50 1000 7 3 2 1 0 0\ncpu0 50 2 25 500 3 1 1 0 0 0\n";
    const char *mem = "MemTotal:        1000000 kB\nMemFree:          500000 kB\nMemAvailable:     800000 kB\n";
    CHECK_EQ(usage_parse(stat, mem, "12.34 20.00\n", 100, &r), 0);
    CHECK_EQ(r.u.usage.cpu_ms, (100 + 5 + 50 + 3 + 2 + 1) * 10);   /* idle and iowait excluded */
    CHECK_EQ(r.u.usage.mem_total_kib, 1000000);
    CHECK_EQ(r.u.usage.mem_used_kib, 200000);
    CHECK_EQ(r.u.usage.uptime_ms, 12340);
    CHECK_EQ(usage_parse("cpu  1 2 3 4\n", mem, "1.0", 100, &r), 0);      /* old kernels: 4 fields */
    CHECK_EQ(r.u.usage.cpu_ms, 60);
    CHECK_EQ(usage_parse("intr 5\n", mem, "1.0", 100, &r), -1);
    CHECK_EQ(usage_parse("cpu  x\n", mem, "1.0", 100, &r), -1);
    CHECK_EQ(usage_parse(stat, "MemTotal: 10 kB\n", "1.0", 100, &r), -1);
    CHECK_EQ(usage_parse(stat, "MemTotal: 10 kB\nMemAvailable: 20 kB\n", "1.0", 100, &r), -1);
    CHECK_EQ(usage_parse(stat, mem, "nope", 100, &r), -1);
    CHECK_EQ(usage_parse(stat, mem, "1.0", 0, &r), -1);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "image config: Entrypoint+Cmd, Env, WorkingDir, User", test_full_config },
        { "image config: defaults for what the image leaves out", test_defaults },
        { "image config: malformed configs are refused with a reason", test_refused },
        { "User: names and numbers against passwd/group", test_users },
        { "/ping answers parsed, hostile ones are Unhealthy", test_ping },
        { "/proc/stat and /proc/meminfo usage figures", test_usage },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
