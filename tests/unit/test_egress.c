/* tests/unit/test_egress.c — silod's side of the agent's way out: the egress policy
 * (egress_rules.c), the handshake parser and relay (egress_relay.c) behind real per-session
 * sockets (guest_channels.c, played from here as silo-vmm would: connecting to
 * `<vsock path>_1026`), and role credentials (role_creds.c): static, a credential_process
 * script, refusals, the SigV4 lookup of vended keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend/egress_relay.h"
#include "frontend/egress_rules.h"
#include "frontend/guest_channels.h"
#include "frontend/role_creds.h"
#include "tests/unit/check.h"

static struct sockaddr_storage addr_of(const char *ip)
{
    struct sockaddr_storage ss = { 0 };
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    return ss;
}

static bool refused_as(const struct egress_rules *r, enum egress_mode mode, const char *host, const char *ip,
                       unsigned port, const char *want_rule)
{
    struct sockaddr_storage ss = addr_of(ip);
    char rule[96], reason[256];
    bool allowed = egress_decide(r, mode, host, (struct sockaddr *)&ss, port, rule, sizeof rule, reason, sizeof reason);
    if (allowed || strncmp(rule, want_rule, strlen(want_rule)) != 0) {
        fprintf(stderr, "# %s (%s:%u): allowed=%d rule=%s, want refused %s\n", host, ip, port, allowed, rule, want_rule);
        return false;
    }
    return true;
}

static bool allowed_as(const struct egress_rules *r, enum egress_mode mode, const char *host, const char *ip,
                       unsigned port, const char *want_rule)
{
    struct sockaddr_storage ss = addr_of(ip);
    char rule[96], reason[256];
    bool allowed = egress_decide(r, mode, host, (struct sockaddr *)&ss, port, rule, sizeof rule, reason, sizeof reason);
    if (!allowed || strcmp(rule, want_rule) != 0) {
        fprintf(stderr, "# %s (%s:%u): allowed=%d rule=%s, want allowed %s\n", host, ip, port, allowed, rule, want_rule);
        return false;
    }
    return true;
}

static void test_public_mode_refuses_every_special_range(void)
{
    struct egress_rules r = { .silod_port = 8080 };
    const char *cases[][2] = {
        { "127.0.0.1", "loopback" }, { "127.9.9.9", "loopback" }, { "0.0.0.0", "unspecified" },
        { "10.1.2.3", "private:10.0.0.0/8" }, { "172.31.255.1", "private:172.16.0.0/12" },
        { "192.168.1.1", "private:192.168.0.0/16" }, { "100.64.0.1", "cgnat" },
        { "169.254.169.254", "link-local" }, { "224.0.0.1", "multicast" }, { "255.255.255.255", "reserved" },
        { "198.51.100.7", "reserved" }, { "::1", "loopback" }, { "::", "unspecified" },
        { "fe80::1", "link-local" }, { "fd00::1", "private" }, { "ff02::1", "multicast" },
        /* IPv4 inside IPv6: no bypass */
        { "::ffff:127.0.0.1", "loopback" }, { "::ffff:169.254.169.254", "link-local" },
        { "::ffff:10.0.0.1", "private" }, { "::127.0.0.1", "loopback" }, { "64:ff9b::a9fe:a9fe", "link-local" },
        { "2002:0a00:0001::1", "private" }, { "2001:db8::1", "reserved" }, { "2001:0:4136:e378::1", "reserved" },
        { "::8.8.8.8", "reserved" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(refused_as(&r, EGRESS_PUBLIC, "example.com", cases[i][0], 443, cases[i][1]));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "example.com", "93.184.216.34", 443, "public"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "example.com", "2606:2800:220:1:248:1893:25c8:1946", 443, "public"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "example.com", "64:ff9b::808:808", 443, "public"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "example.com", "::ffff:8.8.8.8", 443, "public"));
}

static void test_allow_rules_cidr_and_domain_suffix_on_label_boundaries(void)
{
    struct egress_rules r = { .silod_port = 8080 };
    CHECK(egress_parse_cidr("10.99.0.1/32", &r.allow_cidrs[0]));
    CHECK(egress_parse_cidr("fd00:1::/32", &r.allow_cidrs[1]));
    r.allow_cidr_count = 2;
    r.allow_domains[0] = egress_parse_domain(".Model.Test");
    CHECK(r.allow_domains[0] && strcmp(r.allow_domains[0], "model.test") == 0);
    r.allow_domain_count = 1;
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "10.99.0.1", "10.99.0.1", 8081, "allow:10.99.0.1/32"));
    CHECK(refused_as(&r, EGRESS_PUBLIC, "10.99.0.2", "10.99.0.2", 8081, "private:10.0.0.0/8"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "x", "fd00:1::5", 80, "allow:fd00:1::/32"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "api.model.test", "198.51.100.7", 443, "allow-domain:model.test"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "MODEL.test", "10.0.0.9", 443, "allow-domain:model.test"));
    CHECK(refused_as(&r, EGRESS_PUBLIC, "evilmodel.test", "10.0.0.9", 443, "private"));
    CHECK(refused_as(&r, EGRESS_PUBLIC, "model.test.evil.com", "10.0.0.9", 443, "private"));
    /* a domain allow never opens the metadata range, nor silod's own port */
    CHECK(refused_as(&r, EGRESS_PUBLIC, "meta.model.test", "169.254.169.254", 80, "link-local"));
    CHECK(refused_as(&r, EGRESS_PUBLIC, "api.model.test", "127.0.0.1", 8080, "silod-port"));
    CHECK(!egress_parse_cidr("10.0.0.0/33", &r.vpc_cidrs[0]));
    CHECK(!egress_parse_cidr("10.0.0/8", &r.vpc_cidrs[0]));
    CHECK(!egress_parse_cidr("10.0.0.0/", &r.vpc_cidrs[0]));
    CHECK(egress_parse_domain("bad..name") == NULL);
    CHECK(egress_parse_domain("sp ace.com") == NULL);
    egress_rules_free(&r);
}

static void test_host_addresses_and_silod_port(void)
{
    struct egress_rules r = { .silod_port = 8080 };
    CHECK(egress_parse_cidr("203.0.113.5", &r.host_addrs[0]));   /* as if it were this host's */
    CHECK(egress_parse_cidr("8.8.4.4", &r.host_addrs[1]));
    r.host_addr_count = 2;
    CHECK(refused_as(&r, EGRESS_PUBLIC, "h", "8.8.4.4", 443, "host-address"));
    CHECK(refused_as(&r, EGRESS_PUBLIC, "h", "8.8.4.4", 8080, "silod-port"));
    CHECK(refused_as(&r, EGRESS_PUBLIC, "h", "0.0.0.0", 8080, "silod-port"));
    CHECK(allowed_as(&r, EGRESS_PUBLIC, "h", "8.8.8.8", 8080, "public"));   /* someone else's 8080 */
}

static void test_vpc_mode_reaches_only_its_networks(void)
{
    struct egress_rules r = { .silod_port = 8080 };
    CHECK(egress_parse_cidr("10.20.0.0/16", &r.vpc_cidrs[0]));
    r.vpc_cidr_count = 1;
    r.vpc_domains[0] = egress_parse_domain("corp.internal");
    r.vpc_domain_count = 1;
    CHECK(allowed_as(&r, EGRESS_VPC, "db", "10.20.3.4", 5432, "vpc:10.20.0.0/16"));
    CHECK(allowed_as(&r, EGRESS_VPC, "api.corp.internal", "10.30.0.1", 443, "vpc-domain:corp.internal"));
    CHECK(refused_as(&r, EGRESS_VPC, "example.com", "93.184.216.34", 443, "vpc"));
    CHECK(refused_as(&r, EGRESS_VPC, "db", "10.21.0.1", 5432, "vpc"));
    egress_rules_free(&r);
}

static void test_request_line_grammar(void)
{
    char host[256];
    unsigned port;
    CHECK(egress_parse_request("CONNECT api.model.test:443", host, sizeof host, &port) && port == 443 &&
          strcmp(host, "api.model.test") == 0);
    CHECK(egress_parse_request("CONNECT 10.0.0.1:80", host, sizeof host, &port) && port == 80);
    CHECK(egress_parse_request("CONNECT [2001:db8::1]:8443", host, sizeof host, &port) &&
          strcmp(host, "2001:db8::1") == 0 && port == 8443);
    const char *bad[] = {
        "CONNECT api.model.test", "CONNECT :443", "CONNECT a:0", "CONNECT a:65536", "CONNECT a:080",
        "CONNECT a b:443", "CONNECT a..b:443", "CONNECT [zz::1]:443", "CONNECT [::1]443", "GET a:443",
        "CONNECT a:4 43", "connect a:443", "CONNECT a:443 ", "CONNECT a:+443",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (egress_parse_request(bad[i], host, sizeof host, &port)) {
            fprintf(stderr, "# accepted: %s\n", bad[i]);
            CHECK(false);
        }
}

/* ---- the relay behind real sockets ----------------------------------------------------- */

static char dir[64];
static int origin_fd = -1;
static unsigned origin_port;
static size_t origin_bytes = 10u * 1024 * 1024;

/* An origin server on 127.0.0.1: sends origin_bytes of pattern, then echoes what it reads. */
static void *origin_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        buf[i] = (char)(i % 251);
    for (size_t left = origin_bytes; left > 0;) {
        size_t k = left < 65536 ? left : 65536;
        ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        left -= (size_t)w;
    }
    ssize_t n;
    while ((n = read(fd, buf, 65536)) > 0)
        if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    free(buf);
    close(fd);
    return NULL;
}

static void *origin_loop(void *unused)
{
    (void)unused;
    for (;;) {
        int fd = accept(origin_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, origin_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static void start_origin(void)
{
    origin_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000005) };   /* 127.0.0.5 */
    socklen_t sl = sizeof sa;
    bind(origin_fd, (struct sockaddr *)&sa, sizeof sa);
    listen(origin_fd, 128);
    getsockname(origin_fd, (struct sockaddr *)&sa, &sl);
    origin_port = ntohs(sa.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, origin_loop, NULL);
    pthread_detach(t);
}

static int dial_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 15000) <= 0 || read(fd, buf + n, 1) != 1)
            return -1;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = 0;
    return 0;
}

/* Opens an egress stream as the guest would; fills verdict; returns the fd. */
static int egress_open(const char *vsock, const char *target, char *verdict, size_t len)
{
    char path[200], line[400];
    snprintf(path, sizeof path, "%s_1026", vsock);
    int fd = dial_unix(path);
    if (fd < 0) {
        snprintf(verdict, len, "(no socket)");
        return -1;
    }
    int n = snprintf(line, sizeof line, "CONNECT %s\n", target);
    if (write(fd, line, (size_t)n) != n || read_line(fd, verdict, len) != 0)
        snprintf(verdict, len, "(no verdict)");
    return fd;
}

static struct egress_config egress_cfg;
static struct guest_channels_config channels_cfg;

static struct guest_channels *open_channels(const char *vsock, const char *config_json)
{
    char err[256] = "";
    struct guest_channels *ch = guest_channels_open(&channels_cfg, vsock, "s-test-session-0123456789abcdef0123",
                                                    "rt-test", config_json, err, sizeof err);
    if (!ch)
        fprintf(stderr, "# %s\n", err);
    return ch;
}

static void test_relay_allowed_bytes_both_ways_and_counted(void)
{
    char vsock[128], verdict[600], target[64];
    snprintf(vsock, sizeof vsock, "%s/s1.sock", dir);
    struct guest_channels *ch = open_channels(vsock, "{\"networkConfiguration\":{\"networkMode\":\"PUBLIC\"}}");
    CHECK(ch != NULL);
    snprintf(target, sizeof target, "127.0.0.5:%u", origin_port);
    int fd = egress_open(vsock, target, verdict, sizeof verdict);
    CHECK(strncmp(verdict, "OK 127.0.0.5:", 13) == 0);
    size_t got = 0;
    bool intact = true;
    char *buf = malloc(65536);
    while (got < origin_bytes) {
        ssize_t n = read(fd, buf, 65536);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            intact &= buf[i] == (char)((got + (size_t)i) % 65536 % 251);
        got += (size_t)n;
    }
    CHECK_EQ(got, origin_bytes);
    CHECK(intact);
    CHECK(write(fd, "ping\n", 5) == 5);
    CHECK(read_line(fd, buf, 64) == 0 && strcmp(buf, "ping") == 0);
    shutdown(fd, SHUT_WR);                 /* half-close reaches the origin, which then closes */
    CHECK(read(fd, buf, 1) == 0);
    close(fd);
    free(buf);
    uint64_t out = 0, in = 0;
    for (int i = 0; i < 100 && out < 5; i++) {
        guest_channels_counters(ch, &out, &in);
        usleep(10000);
    }
    CHECK_EQ(out, 5);
    CHECK_EQ(in, origin_bytes + 5);
    guest_channels_close(ch);
    struct stat st;
    char path[200];
    snprintf(path, sizeof path, "%s_1026", vsock);
    CHECK(stat(path, &st) != 0);            /* the socket is gone with the session */
}

static void test_refusals_answer_with_status_and_rule(void)
{
    char vsock[128], verdict[600], target[64];
    snprintf(vsock, sizeof vsock, "%s/s2.sock", dir);
    struct guest_channels *ch = open_channels(vsock, NULL);
    snprintf(target, sizeof target, "localhost:%u", origin_port);       /* resolves to 127.0.0.1 / ::1 */
    int fd = egress_open(vsock, target, verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 403 loopback ", 17) == 0);
    close(fd);
    fd = egress_open(vsock, "169.254.169.254:80", verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 403 link-local ", 19) == 0);
    close(fd);
    fd = egress_open(vsock, "127.0.0.1:8080", verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 403 silod-port ", 19) == 0);
    close(fd);
    fd = egress_open(vsock, "no-such-name.invalid:443", verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 502 resolve ", 16) == 0);
    close(fd);
    fd = egress_open(vsock, "bad name:443", verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 400 syntax ", 15) == 0);
    close(fd);
    guest_channels_close(ch);
    /* a VPC runtime reaches nothing the config does not name */
    ch = open_channels(vsock, "{\"networkConfiguration\":{\"networkMode\":\"VPC\"}}");
    fd = egress_open(vsock, "8.8.8.8:443", verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 403 vpc ", 12) == 0);
    close(fd);
    guest_channels_close(ch);
}

static void test_cap_and_session_end_close_live_streams(void)
{
    char vsock[128], verdict[600], target[64];
    snprintf(vsock, sizeof vsock, "%s/s3.sock", dir);
    struct guest_channels *ch = open_channels(vsock, NULL);
    snprintf(target, sizeof target, "127.0.0.5:%u", origin_port);
    int fds[3];
    for (int i = 0; i < 2; i++) {
        fds[i] = egress_open(vsock, target, verdict, sizeof verdict);
        CHECK(strncmp(verdict, "OK ", 3) == 0);
    }
    fds[2] = egress_open(vsock, target, verdict, sizeof verdict);    /* the cap is 2 here */
    CHECK(strncmp(verdict, "ERR 429 limit ", 14) == 0);
    close(fds[2]);
    /* connections that never say anything: past the cap plus a few, refused at accept */
    char path[200], line[128];
    snprintf(path, sizeof path, "%s_1026", vsock);
    int idle[24], refused = 0;
    for (int i = 0; i < 24; i++)
        idle[i] = dial_unix(path);
    for (int i = 16; i < 24; i++) {
        struct pollfd p = { .fd = idle[i], .events = POLLIN };
        if (poll(&p, 1, 2000) > 0 && read_line(idle[i], line, sizeof line) == 0 && strncmp(line, "ERR 429 limit", 13) == 0)
            refused++;
    }
    CHECK(refused >= 6);
    /* the two live streams (the origin is blocked writing to them) end with the session */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    guest_channels_close(ch);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(t1.tv_sec - t0.tv_sec < 5);
    for (int i = 0; i < 24; i++)
        close(idle[i]);
    for (int i = 0; i < 2; i++) {
        char buf[65536];
        ssize_t n;
        while ((n = read(fds[i], buf, sizeof buf)) > 0)
            ;
        CHECK(n == 0 || (n < 0 && errno == ECONNRESET));   /* closed, not hanging */
        close(fds[i]);
    }
}

static void test_connect_timeout(void)
{
    char vsock[128], verdict[600];
    snprintf(vsock, sizeof vsock, "%s/s4.sock", dir);
    struct guest_channels *ch = open_channels(vsock, NULL);
    /* 192.0.2.1 (TEST-NET-1) allowed here; nothing answers there, so the connect times out
     * (or the network is unreachable on a machine without a route) */
    int fd = egress_open(vsock, "192.0.2.1:9", verdict, sizeof verdict);
    CHECK(strncmp(verdict, "ERR 504 connect ", 16) == 0 || strncmp(verdict, "ERR 502 connect ", 16) == 0);
    close(fd);
    guest_channels_close(ch);
}

/* ---- role credentials ------------------------------------------------------------------ */

static void test_static_role_credentials_vended_and_accepted_by_sigv4(void)
{
    char err[256], out[4096];
    struct role_creds *rc = role_creds_new(
        "{\"static\":{\"arn:aws:iam::1:role/A\":{\"access_key_id\":\"AKIAROLEA\",\"secret_access_key\":\"s3cretA\"}},"
        "\"duration_s\":900}", err, sizeof err);
    CHECK(rc != NULL);
    CHECK(role_creds_lookup(rc, "AKIAROLEA") == NULL);        /* not before it is vended */
    CHECK_EQ(role_creds_vend(rc, "arn:aws:iam::1:role/A", "sess", out, sizeof out), 200);
    CHECK(strstr(out, "\"AccessKeyId\":\"AKIAROLEA\"") && strstr(out, "\"SecretAccessKey\":\"s3cretA\"") &&
          strstr(out, "\"Expiration\":\"20") && strstr(out, "\"RoleArn\":\"arn:aws:iam::1:role/A\""));
    const struct sigv4_key *k = role_creds_lookup(rc, "AKIAROLEA");
    CHECK(k && strcmp(k->secret_access_key, "s3cretA") == 0 && strcmp(k->principal, "role:arn:aws:iam::1:role/A") == 0);
    CHECK(role_creds_is_role_principal(k->principal));
    CHECK_EQ(role_creds_vend(rc, "arn:aws:iam::1:role/Other", "sess", out, sizeof out), 404);
    CHECK_EQ(role_creds_vend(rc, NULL, "sess", out, sizeof out), 404);
    role_creds_free(rc);
    CHECK(role_creds_new("{\"static\":{\"r\":{\"access_key_id\":\"x\"}}}", err, sizeof err) == NULL);
    CHECK(role_creds_new("{\"statik\":{}}", err, sizeof err) == NULL);
    CHECK(role_creds_new("{\"process\":\"relative/cmd\"}", err, sizeof err) == NULL);
}

static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0700);
}

static void test_credential_process_cached_and_hostile_output_refused(void)
{
    char err[256], out[4096], script[128], cfg[512], count[128];
    snprintf(script, sizeof script, "%s/creds.sh", dir);
    snprintf(count, sizeof count, "%s/calls", dir);
    char body[600];
    snprintf(body, sizeof body,
             "echo x >> %s\n[ \"$1\" = arn:aws:iam::1:role/P ] || exit 3\n"
             "printf '{\"Version\":1,\"AccessKeyId\":\"ASIAPROC\",\"SecretAccessKey\":\"procsecret\","
             "\"SessionToken\":\"tok-%%s\",\"Expiration\":\"2099-01-01T00:00:00Z\"}' \"$2\"", count);
    write_script(script, body);
    snprintf(cfg, sizeof cfg, "{\"process\":\"%s\"}", script);
    struct role_creds *rc = role_creds_new(cfg, err, sizeof err);
    CHECK(rc != NULL);
    CHECK_EQ(role_creds_vend(rc, "arn:aws:iam::1:role/P", "sess1", out, sizeof out), 200);
    CHECK(strstr(out, "\"Token\":\"tok-sess1\"") && strstr(out, "\"Expiration\":\"2099-01-01T00:00:00Z\""));
    CHECK_EQ(role_creds_vend(rc, "arn:aws:iam::1:role/P", "sess2", out, sizeof out), 200);   /* cached */
    FILE *f = fopen(count, "r");
    int calls = 0;
    for (int ch; f && (ch = fgetc(f)) != EOF;)
        calls += ch == '\n';
    if (f)
        fclose(f);
    CHECK_EQ(calls, 1);
    const struct sigv4_key *k = role_creds_lookup(rc, "ASIAPROC");
    CHECK(k && k->session_token && strcmp(k->session_token, "tok-sess1") == 0);
    CHECK_EQ(role_creds_vend(rc, "arn:aws:iam::1:role/Q", "s", out, sizeof out), 500);   /* exit 3 */
    CHECK(strstr(out, "status 3") != NULL);
    role_creds_free(rc);
    const char *hostile[] = {
        "echo not json", "printf '{\"Version\":2,\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\"}'",
        "printf '{\"Version\":1,\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\",\"Expiration\":\"2001-01-01T00:00:00Z\"}'",
        "head -c 200000 /dev/zero | tr '\\\\0' a", "sleep 30", "exec >&-; sleep 30",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        write_script(script, hostile[i]);
        rc = role_creds_new(cfg, err, sizeof err);
        time_t t0 = time(NULL);
        CHECK_EQ(role_creds_vend(rc, "arn:aws:iam::1:role/P", "s", out, sizeof out), 500);
        CHECK(time(NULL) - t0 <= 12);
        CHECK(role_creds_lookup(rc, "a") == NULL);
        role_creds_free(rc);
    }
}

static void test_credentials_socket_serves_the_sessions_role(void)
{
    char err[256], vsock[128], path[200], buf[4096];
    struct role_creds *rc = role_creds_new(
        "{\"static\":{\"*\":{\"access_key_id\":\"AKIAANY\",\"secret_access_key\":\"anysecret\"}}}", err, sizeof err);
    channels_cfg.creds = rc;
    snprintf(vsock, sizeof vsock, "%s/s5.sock", dir);
    struct guest_channels *ch = open_channels(vsock, "{\"roleArn\":\"arn:aws:iam::1:role/Agent\"}");
    snprintf(path, sizeof path, "%s_1025", vsock);
    int fd = dial_unix(path);
    CHECK(fd >= 0 && write(fd, "CREDENTIALS\n", 12) == 12);
    CHECK(read_line(fd, buf, sizeof buf) == 0 && strncmp(buf, "OK ", 3) == 0);
    size_t want = strtoul(buf + 3, NULL, 10), got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = 0;
    CHECK_EQ(got, want);
    CHECK(strstr(buf, "\"RoleArn\":\"arn:aws:iam::1:role/Agent\"") && strstr(buf, "AKIAANY"));
    close(fd);
    fd = dial_unix(path);
    CHECK(fd >= 0 && write(fd, "GIMME\n", 6) == 6);
    CHECK(read_line(fd, buf, sizeof buf) == 0 && strncmp(buf, "ERR 400 ", 8) == 0);
    close(fd);
    guest_channels_close(ch);
    channels_cfg.creds = NULL;
    role_creds_free(rc);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/silo-test-egress.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    start_origin();
    egress_cfg = (struct egress_config){ .enabled = true, .max_connections_per_session = 256,
                                         .connect_timeout_ms = 1500, .idle_timeout_s = 30 };
    egress_cfg.rules.silod_port = 8080;
    /* the origin on 127.0.0.5 is an allow-listed service here (127.0.0.1 is not); so is TEST-NET-1 (for timeouts) */
    egress_parse_cidr("127.0.0.5/32", &egress_cfg.rules.allow_cidrs[0]);
    egress_parse_cidr("192.0.2.1/32", &egress_cfg.rules.allow_cidrs[1]);
    egress_cfg.rules.allow_cidr_count = 2;
    channels_cfg = (struct guest_channels_config){ &egress_cfg, NULL, NULL, NULL };
    static const struct unit_test tests[] = {
        { "PUBLIC refuses loopback, link-local, private, CGNAT, multicast, reserved, and IPv4 hidden in IPv6", test_public_mode_refuses_every_special_range },
        { "allow rules: CIDRs, domain suffixes on label boundaries; never metadata or silod's port by name", test_allow_rules_cidr_and_domain_suffix_on_label_boundaries },
        { "the host's own addresses and silod's port are refused", test_host_addresses_and_silod_port },
        { "VPC reaches only its configured networks", test_vpc_mode_reaches_only_its_networks },
        { "the CONNECT request grammar, hostile lines refused", test_request_line_grammar },
        { "an allowed stream relays 10 MB and an echo, half-close passed on, bytes counted, socket removed", test_relay_allowed_bytes_both_ways_and_counted },
        { "refusals answer ERR with status and rule (loopback by name, metadata, silod's port, resolve, syntax, VPC)", test_refusals_answer_with_status_and_rule },
        { "the per-session cap answers 429; ending the session closes its live streams", test_cap_and_session_end_close_live_streams },
        { "an unanswered connect times out with 504", test_connect_timeout },
        { "static role credentials are vended and become SigV4 keys with a role principal", test_static_role_credentials_vended_and_accepted_by_sigv4 },
        { "credential_process: cached per role; bad JSON, expired, huge, slow and failing commands refused", test_credential_process_cached_and_hostile_output_refused },
        { "the credentials socket serves the session's own role", test_credentials_socket_serves_the_sessions_role },
    };
    /* the cap test wants 2 */
    int rc = run_unit_tests(tests, 7);
    egress_cfg.max_connections_per_session = 2;
    rc |= run_unit_tests(tests + 7, 1);
    egress_cfg.max_connections_per_session = 256;
    rc |= run_unit_tests(tests + 8, sizeof tests / sizeof tests[0] - 8);
    return rc;
}
