/* tests/unit/test_agentd_proto.c — the agentd control protocol encoder/decoder
 * (guest/agentd/control_proto.c): round trips of every verb, and hostile lines refused. */
#include <stdio.h>
#include <string.h>

#include "guest/agentd/control_proto.h"
#include "tests/unit/check.h"

static struct cp_response roundtrip(const struct cp_response *in, const char *want_line)
{
    char buf[CP_MAX_LINE + 1];
    struct cp_response out;
    int n = cp_encode_response(in, buf, sizeof buf);
    CHECK(n > 0);
    if (want_line != NULL)
        CHECK(strcmp(buf, want_line) == 0);
    CHECK_EQ(cp_decode_response(buf, (size_t)n, &out), 0);
    return out;
}

static void test_requests(void)
{
    char buf[64];
    enum cp_verb v;
    const enum cp_verb all[] = { CP_READY, CP_HEALTH, CP_USAGE, CP_STATUS, CP_WAIT, CP_SHUTDOWN };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int n = cp_encode_request(all[i], buf, sizeof buf);
        CHECK(n > 0 && buf[n - 1] == '\n');
        CHECK_EQ(cp_decode_request(buf, (size_t)n, &v), 0);
        CHECK_EQ(v, all[i]);
    }
    CHECK_EQ(cp_decode_request("HEALTH\r\n", 8, &v), 0);
    CHECK_EQ(v, CP_HEALTH);
    CHECK_EQ(cp_encode_request((enum cp_verb)0, buf, sizeof buf), -1);
    CHECK_EQ(cp_encode_request((enum cp_verb)99, buf, sizeof buf), -1);
    CHECK_EQ(cp_encode_request(CP_READY, buf, 3), -1);          /* does not fit */
}

/* RESTORED: the one request with arguments; strict about every byte of them */
static void test_restored(void)
{
    struct cp_restored a = { .sec = 1796454963, .nsec = 5 }, b;
    for (int i = 0; i < CP_SEED_BYTES; i++)
        a.seed[i] = (uint8_t)(i * 37 + 1);
    char buf[CP_MAX_LINE + 1];
    int n = cp_encode_restored(&a, buf, sizeof buf);
    CHECK(n > 0 && buf[n - 1] == '\n');
    CHECK(strncmp(buf, "RESTORED seed=01", 16) == 0 && strstr(buf, " time=1796454963.000000005\n") != NULL);
    CHECK_EQ(cp_decode_restored(buf, (size_t)n, &b), 0);
    CHECK(memcmp(&a.seed, &b.seed, sizeof a.seed) == 0 && b.sec == a.sec && b.nsec == a.nsec);
    enum cp_verb v;
    CHECK_EQ(cp_decode_request(buf, (size_t)n, &v), -1);          /* not a bare verb */
    CHECK_EQ(cp_decode_request("RESTORED\n", 9, &v), -1);          /* needs its arguments */
    CHECK_EQ(cp_encode_request(CP_RESTORED, buf, sizeof buf), -1);
    a.nsec = 1000000000;
    CHECK_EQ(cp_encode_restored(&a, buf, sizeof buf), -1);
    const char *seed = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char line[300];
    const char *bad_times[] = { "1.5", "-1.000000000", ".000000000", "1.0000000000", "1.00000000a", "1", "x.000000000",
                                "99999999999999999999.000000000" };
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        snprintf(line, sizeof line, "RESTORED seed=%s time=%s\n", seed, bad_times[i]);
        CHECK_EQ(cp_decode_restored(line, strlen(line), &b), -1);
    }
    const char *bad_lines[] = {
        "RESTORED seed=0123 time=1.000000000\n",                                           /* short seed */
        "RESTORED seed=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef time=1.000000000\n",
        "RESTORED time=1.000000000 seed=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        "RESTORED seed=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        "RESTORED seed=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef time=1.000000000 x=1\n",
        "STATUS seed=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef time=1.000000000\n",
    };
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++)
        CHECK_EQ(cp_decode_restored(bad_lines[i], strlen(bad_lines[i]), &b), -1);
    snprintf(line, sizeof line, "RESTORED seed=%s time=0.999999999\r\n", seed);
    CHECK_EQ(cp_decode_restored(line, strlen(line), &b), 0);
    CHECK(b.seed[0] == 0x01 && b.seed[31] == 0xef && b.sec == 0 && b.nsec == 999999999);
    /* its answer */
    struct cp_response r = { .verb = CP_RESTORED, .ok = true }, back;
    n = cp_encode_response(&r, buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, "OK RESTORED\n") == 0);
    CHECK_EQ(cp_decode_response(buf, (size_t)n, &back), 0);
    CHECK(back.ok && back.verb == CP_RESTORED);
    CHECK_EQ(cp_decode_response("OK RESTORED x=1\n", 16, &back), -1);
    CHECK_EQ(cp_decode_response("ERR RESTORED cannot-reseed-crng\n", 32, &back), 0);
    CHECK(!back.ok && strcmp(back.error, "cannot-reseed-crng") == 0);
}

static void test_bad_requests(void)
{
    enum cp_verb v;
    const char *bad[] = { "", "\n", "ready\n", "READY now\n", " READY\n", "READY \n", "RE\001ADY\n",
                          "READYY\n", "SHUTDOWN\n\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(cp_decode_request(bad[i], strlen(bad[i]), &v), -1);
    char nul[] = "READY\0\n";
    CHECK_EQ(cp_decode_request(nul, sizeof nul - 1, &v), -1);
    char longline[CP_MAX_LINE + 10];
    memset(longline, 'A', sizeof longline);
    CHECK_EQ(cp_decode_request(longline, sizeof longline, &v), -1);
    CHECK_EQ(cp_decode_request(NULL, 0, &v), -1);
}

static void test_ready_health(void)
{
    struct cp_response r = { .verb = CP_READY, .ok = true, .u.ready.ports = CP_PORT_HTTP | CP_PORT_A2A };
    struct cp_response o = roundtrip(&r, "OK READY http=1 mcp=0 a2a=1\n");
    CHECK_EQ(o.verb, CP_READY);
    CHECK(o.ok);
    CHECK_EQ(o.u.ready.ports, CP_PORT_HTTP | CP_PORT_A2A);
    r.u.ready.ports = 0x10;
    char buf[CP_MAX_LINE + 1];
    CHECK_EQ(cp_encode_response(&r, buf, sizeof buf), -1);

    struct cp_response h = { .verb = CP_HEALTH, .ok = true,
                             .u.health = { CP_HEALTH_BUSY, 1732500000, 200 } };
    o = roundtrip(&h, "OK HEALTH status=HealthyBusy time_of_last_update=1732500000 http=200\n");
    CHECK_EQ(o.u.health.status, CP_HEALTH_BUSY);
    CHECK_EQ(o.u.health.time_of_last_update, 1732500000);
    CHECK_EQ(o.u.health.http_status, 200);
    h.u.health.status = CP_HEALTH_UNREACHABLE;
    h.u.health.time_of_last_update = -1;
    h.u.health.http_status = 0;
    o = roundtrip(&h, "OK HEALTH status=Unreachable time_of_last_update=-1 http=0\n");
    CHECK_EQ(o.u.health.time_of_last_update, -1);
}

static void test_usage_status_shutdown(void)
{
    struct cp_response u = { .verb = CP_USAGE, .ok = true,
                             .u.usage = { 123456, 1048576, 65536, 987 } };
    struct cp_response o = roundtrip(&u, "OK USAGE cpu_ms=123456 mem_total_kib=1048576 mem_used_kib=65536 uptime_ms=987\n");
    CHECK_EQ(o.u.usage.cpu_ms, 123456);
    CHECK_EQ(o.u.usage.mem_used_kib, 65536);
    CHECK_EQ(o.u.usage.uptime_ms, 987);

    struct cp_response s = { .verb = CP_WAIT, .ok = true, .u.agent = { CP_AGENT_KILLED, 42, 0, 6 } };
    o = roundtrip(&s, "OK WAIT state=killed pid=42 code=0 signal=6\n");
    CHECK_EQ(o.verb, CP_WAIT);
    CHECK_EQ(o.u.agent.state, CP_AGENT_KILLED);
    CHECK_EQ(o.u.agent.signal, 6);
    s.verb = CP_STATUS;
    s.u.agent.state = CP_AGENT_EXITED;
    s.u.agent.pid = 7;
    s.u.agent.code = -3;
    s.u.agent.signal = 0;
    o = roundtrip(&s, "OK STATUS state=exited pid=7 code=-3 signal=0\n");
    CHECK_EQ(o.u.agent.code, -3);

    struct cp_response d = { .verb = CP_SHUTDOWN, .ok = true, .u.shutdown.grace_ms = 2000 };
    o = roundtrip(&d, "OK SHUTDOWN grace_ms=2000\n");
    CHECK_EQ(o.u.shutdown.grace_ms, 2000);
}

static void test_errors(void)
{
    struct cp_response e;
    cp_set_error(&e, CP_USAGE, "cannot read /proc: gone!");
    struct cp_response o = roundtrip(&e, "ERR USAGE cannot_read_/proc:_gone_\n");
    CHECK(!o.ok);
    CHECK_EQ(o.verb, CP_USAGE);
    CHECK(strcmp(o.error, "cannot_read_/proc:_gone_") == 0);
    cp_set_error(&e, CP_USAGE, "");
    CHECK(strcmp(e.error, "?") == 0);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cp_set_error(&e, CP_STATUS, big);
    CHECK_EQ(strlen(e.error), sizeof e.error - 1);
}

static void test_hostile_responses(void)
{
    struct cp_response r;
    const char *bad[] = {
        "OK READY http=1 mcp=0\n",                        /* a key missing */
        "OK READY http=2 mcp=0 a2a=0\n",                  /* not a flag */
        "OK READY mcp=0 http=1 a2a=0\n",                  /* out of order */
        "OK READY http=1 mcp=0 a2a=0 extra=1\n",          /* unknown key */
        "OK HEALTH status=Fine time_of_last_update=1 http=200\n",
        "OK HEALTH status=Healthy time_of_last_update=-2 http=200\n",
        "OK HEALTH status=Healthy time_of_last_update=1 http=1000\n",
        "OK HEALTH status=Healthy time_of_last_update=99999999999999999999 http=200\n",
        "OK USAGE cpu_ms=-1 mem_total_kib=1 mem_used_kib=1 uptime_ms=1\n",
        "OK USAGE cpu_ms=1x mem_total_kib=1 mem_used_kib=1 uptime_ms=1\n",
        "OK USAGE cpu_ms= mem_total_kib=1 mem_used_kib=1 uptime_ms=1\n",
        "OK STATUS state=running pid=2147483648 code=0 signal=0\n",
        "OK STATUS state=zombie pid=1 code=0 signal=0\n",
        "OK SHUTDOWN\n",
        "MAYBE READY http=1 mcp=0 a2a=0\n",
        "ERR READY\n",
        "ERR READY two words\n",
        "ERR READY bad\"quote\n",
        "OK  READY http=1 mcp=0 a2a=0\n",
        "OK READY http=1\tmcp=0 a2a=0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cp_decode_response(bad[i], strlen(bad[i]), &r);
        if (rc != -1)
            fprintf(stderr, "accepted: %s", bad[i]);
        CHECK_EQ(rc, -1);
    }
}

/* EXEC: the request line, its answer and the stream's frame heads; every bound enforced */
static void test_exec(void)
{
    char buf[CP_MAX_LINE + 1];
    struct cp_exec_request q = { .bytes = 42, .timeout_ms = 300000 }, q2;
    int n = cp_encode_exec(&q, buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, "EXEC bytes=42 timeout_ms=300000\n") == 0);
    CHECK_EQ(cp_decode_exec(buf, (size_t)n, &q2), 0);
    CHECK(q2.bytes == 42 && q2.timeout_ms == 300000);
    enum cp_verb v;
    CHECK_EQ(cp_decode_request(buf, (size_t)n, &v), -1);          /* not a bare verb */
    CHECK_EQ(cp_decode_request("EXEC\n", 5, &v), -1);
    CHECK_EQ(cp_encode_request(CP_EXEC, buf, sizeof buf), -1);
    const struct cp_exec_request bad_q[] = { { 0, 1 }, { CP_EXEC_MAX_COMMAND + 1, 1 }, { 1, 0 },
                                             { 1, CP_EXEC_MAX_TIMEOUT_MS + 1 } };
    for (size_t i = 0; i < sizeof bad_q / sizeof bad_q[0]; i++)
        CHECK_EQ(cp_encode_exec(&bad_q[i], buf, sizeof buf), -1);
    const char *bad_lines[] = { "EXEC bytes=0 timeout_ms=1\n", "EXEC bytes=262145 timeout_ms=1\n",
                                "EXEC bytes=1 timeout_ms=3600001\n", "EXEC bytes=1 timeout_ms=0\n",
                                "EXEC timeout_ms=1 bytes=1\n", "EXEC bytes=1\n", "EXEC bytes=1 timeout_ms=1 x=1\n",
                                "EXEC bytes=-1 timeout_ms=1\n", "EXEC bytes=1x timeout_ms=1\n",
                                "EXEC bytes=99999999999999999999999 timeout_ms=1\n", "EXEC  bytes=1 timeout_ms=1\n",
                                "exec bytes=1 timeout_ms=1\n" };
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++)
        CHECK_EQ(cp_decode_exec(bad_lines[i], strlen(bad_lines[i]), &q2), -1);
    CHECK_EQ(cp_decode_exec("EXEC bytes=262144 timeout_ms=3600000\r\n", 38, &q2), 0);
    CHECK(q2.bytes == CP_EXEC_MAX_COMMAND && q2.timeout_ms == CP_EXEC_MAX_TIMEOUT_MS);

    /* the answer */
    struct cp_response r = { .verb = CP_EXEC, .ok = true, .u.exec.pid = 57 };
    struct cp_response out = roundtrip(&r, "OK EXEC pid=57\n");
    CHECK(out.ok && out.verb == CP_EXEC && out.u.exec.pid == 57);
    r.u.exec.pid = 0;
    CHECK_EQ(cp_encode_response(&r, buf, sizeof buf), -1);
    CHECK_EQ(cp_decode_response("OK EXEC pid=0\n", 14, &out), -1);
    CHECK_EQ(cp_decode_response("OK EXEC\n", 8, &out), -1);
    CHECK_EQ(cp_decode_response("ERR EXEC too-many-commands\n", 27, &out), 0);
    CHECK(!out.ok && out.verb == CP_EXEC && strcmp(out.error, "too-many-commands") == 0);

    /* frames */
    struct cp_exec_frame f = { .kind = CP_EXEC_STDOUT, .bytes = 5 }, g;
    n = cp_encode_exec_frame(&f, buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, "STDOUT bytes=5\n") == 0);
    CHECK_EQ(cp_decode_exec_frame(buf, (size_t)n, &g), 0);
    CHECK(g.kind == CP_EXEC_STDOUT && g.bytes == 5);
    f = (struct cp_exec_frame){ .kind = CP_EXEC_STDERR, .bytes = CP_EXEC_MAX_CHUNK };
    n = cp_encode_exec_frame(&f, buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, "STDERR bytes=65536\n") == 0);
    CHECK_EQ(cp_decode_exec_frame(buf, (size_t)n, &g), 0);
    CHECK(g.kind == CP_EXEC_STDERR && g.bytes == CP_EXEC_MAX_CHUNK);
    f = (struct cp_exec_frame){ .kind = CP_EXEC_EXIT, .code = 3 };
    n = cp_encode_exec_frame(&f, buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, "EXIT code=3 signal=0 timed_out=0\n") == 0);
    CHECK_EQ(cp_decode_exec_frame(buf, (size_t)n, &g), 0);
    CHECK(g.kind == CP_EXEC_EXIT && g.code == 3 && g.signal == 0 && !g.timed_out);
    f = (struct cp_exec_frame){ .kind = CP_EXEC_EXIT, .signal = 9, .timed_out = true };
    n = cp_encode_exec_frame(&f, buf, sizeof buf);
    CHECK_EQ(cp_decode_exec_frame(buf, (size_t)n, &g), 0);
    CHECK(g.kind == CP_EXEC_EXIT && g.signal == 9 && g.timed_out);
    const struct cp_exec_frame bad_f[] = { { CP_EXEC_STDOUT, 0, 0, 0, false },
                                           { CP_EXEC_STDERR, CP_EXEC_MAX_CHUNK + 1, 0, 0, false },
                                           { CP_EXEC_EXIT, 0, 256, 0, false }, { CP_EXEC_EXIT, 0, -1, 0, false },
                                           { CP_EXEC_EXIT, 0, 0, 128, false }, { (enum cp_exec_frame_kind)9, 1, 0, 0, false } };
    for (size_t i = 0; i < sizeof bad_f / sizeof bad_f[0]; i++)
        CHECK_EQ(cp_encode_exec_frame(&bad_f[i], buf, sizeof buf), -1);
    const char *bad_frames[] = { "STDOUT bytes=0\n", "STDOUT bytes=65537\n", "STDOUT\n", "STDOUT bytes=1 x=1\n",
                                 "STDIN bytes=1\n", "EXIT code=3 signal=0\n", "EXIT code=256 signal=0 timed_out=0\n",
                                 "EXIT code=0 signal=0 timed_out=2\n", "EXIT signal=0 code=0 timed_out=0\n",
                                 "EXIT code=0 signal=128 timed_out=0\n", "OK EXEC pid=1\n", "STDOUT bytes=1\0\n",
                                 "STDOUT bytes=4294967297\n" };
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++)
        CHECK_EQ(cp_decode_exec_frame(bad_frames[i], strlen(bad_frames[i]) + (i == 11 ? 2 : 0), &g), -1);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "every request verb round-trips", test_requests },
        { "malformed requests are refused", test_bad_requests },
        { "RESTORED: seed and wall clock round-trip; every malformed argument refused", test_restored },
        { "READY and HEALTH round-trip", test_ready_health },
        { "USAGE, STATUS, WAIT and SHUTDOWN round-trip", test_usage_status_shutdown },
        { "ERR responses are sanitised and round-trip", test_errors },
        { "hostile or malformed responses are refused", test_hostile_responses },
        { "EXEC: request, answer and stream frames round-trip; out-of-bounds values refused", test_exec },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
