/* tests/unit/test_agentd_egress.c — the real host-built silo-agentd (--tcp-offset N) against a
 * fake host written here: threads on TCP 127.0.0.1:(1025/1026/1027 + N) speak the credentials,
 * egress and API channels of guest/agentd/guest_ports.h, and the egress one plays the origin
 * servers too. Exercises the proxy (CONNECT, absolute-form, refusals, 64 parallel 10 MB
 * streams, the connection cap), the credentials endpoint (token, cache, ERR), the API bridge,
 * the DNS stub over UDP, the transparent listeners and the agent's environment. */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/agentd/guest_ports.h"
#include "tests/unit/check.h"

#define BULK_BYTES (10u * 1024 * 1024)
#define STREAMS 64

static int offset;
static pid_t agentd_pid = -1;
static char dir[PATH_MAX];
static char token[128];
static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_connect[512];
static atomic_int credential_fetches;
static atomic_int credentials_mode;      /* 0 far expiry, 1 near expiry, 2 ERR 404 */
static char api_request[1024];

/* --- small socket helpers ----------------------------------------------------------------- */

static void spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) == 0)
        pthread_detach(t);
}

static int listen_tcp(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 512) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_to(uint32_t address, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(address) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = 20 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_guest(int port) { return connect_to(INADDR_LOOPBACK, port + offset); }

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void send_text(int fd, const char *s) { send_all(fd, s, strlen(s)); }

/* Reads until EOF (or cap-1 bytes), NUL-terminated; returns the length. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t used = 0;
    ssize_t n;
    while (used + 1 < cap && (n = recv(fd, buf + used, cap - 1 - used, 0)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    return used;
}

/* Reads one '\n'-terminated line (without it). */
static int read_line(int fd, char *line, size_t cap)
{
    size_t used = 0;
    char c;
    while (recv(fd, &c, 1, 0) == 1) {
        if (c == '\n') {
            line[used] = '\0';
            return (int)used;
        }
        if (used + 1 < cap)
            line[used++] = c;
    }
    return -1;
}

/* Reads a request head (through the blank line) into buf. */
static size_t read_head(int fd, char *buf, size_t cap)
{
    size_t used = 0;
    while (used + 1 < cap) {
        ssize_t n = recv(fd, buf + used, 1, 0);
        if (n <= 0)
            break;
        used++;
        buf[used] = '\0';
        if (used >= 4 && memcmp(buf + used - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    buf[used] = '\0';
    return used;
}

/* One request to a guest port, answer read to EOF. */
static size_t exchange(int port, const char *request, char *answer, size_t cap)
{
    int fd = connect_guest(port);
    answer[0] = '\0';
    if (fd < 0)
        return 0;
    send_text(fd, request);
    size_t n = read_all(fd, answer, cap);
    close(fd);
    return n;
}

/* --- the fake host -------------------------------------------------------------------------- */

static void serve_bulk(int fd)
{
    char head[4096];
    read_head(fd, head, sizeof head);
    char *chunk = malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        chunk[i] = (char)(i * 7);
    char line[128];
    snprintf(line, sizeof line, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nConnection: close\r\n\r\n", BULK_BYTES);
    send_text(fd, line);
    for (size_t sent = 0; sent < BULK_BYTES; sent += 65536)
        send_all(fd, chunk, 65536);
    free(chunk);
}

/* An origin that answers with the request head it received as the body. */
static void serve_mirror(int fd)
{
    char head[8192], out[9000];
    size_t n = read_head(fd, head, sizeof head);
    int k = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", n, head);
    send_all(fd, out, (size_t)k);
}

static void serve_echo(int fd)
{
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        send_all(fd, buf, (size_t)n);
}

static void *egress_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[512], host[300];
    unsigned port = 0;
    if (read_line(fd, line, sizeof line) < 0 || sscanf(line, "CONNECT %299[^:]:%u", host, &port) != 2) {
        close(fd);
        return NULL;
    }
    pthread_mutex_lock(&fake_lock);
    snprintf(last_connect, sizeof last_connect, "%s", line);
    pthread_mutex_unlock(&fake_lock);
    if (strcmp(host, "blocked.example") == 0) {
        send_text(fd, "ERR 403 private:10.0.0.0/8 destination is a private network\n");
    } else {
        send_text(fd, "OK 93.184.216.34:443\n");
        if (strncmp(host, "echo.", 5) == 0)
            serve_echo(fd);
        else if (strcmp(host, "bulk.example") == 0)
            serve_bulk(fd);
        else
            serve_mirror(fd);
    }
    close(fd);
    return NULL;
}

static void *credentials_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[64], body[512], out[700];
    if (read_line(fd, line, sizeof line) >= 0 && strcmp(line, "CREDENTIALS") == 0) {
        atomic_fetch_add(&credential_fetches, 1);
        int mode = atomic_load(&credentials_mode);
        if (mode == 2) {
            send_text(fd, "ERR 404 no role for this runtime\n");
        } else {
            time_t exp = time(NULL) + (mode == 1 ? 120 : 3600);
            struct tm tm;
            gmtime_r(&exp, &tm);
            char when[32];
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            int n = snprintf(body, sizeof body,
                             "{\"AccessKeyId\":\"ASIATEST%d\",\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
                             "\"Expiration\":\"%s\",\"RoleArn\":\"arn:aws:iam::1:role/r\"}", mode, when);
            int k = snprintf(out, sizeof out, "OK %d\n%s", n, body);
            send_all(fd, out, (size_t)k);
        }
    }
    close(fd);
    return NULL;
}

static void *api_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char head[1024];
    read_head(fd, head, sizeof head);
    pthread_mutex_lock(&fake_lock);
    snprintf(api_request, sizeof api_request, "%s", head);
    pthread_mutex_unlock(&fake_lock);
    send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\napi-hello");
    close(fd);
    return NULL;
}

struct fake_port {
    int fd;
    void *(*handler)(void *);
};

static void *fake_accept_loop(void *arg)
{
    struct fake_port *p = arg;
    for (;;) {
        int fd = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            spawn(p->handler, (void *)(intptr_t)fd);
    }
    return NULL;
}

static bool start_fake_host(void)
{
    static struct fake_port ports[3];
    const int numbers[3] = { HOST_PORT_EGRESS, HOST_PORT_CREDENTIALS, HOST_PORT_API };
    void *(*handlers[3])(void *) = { egress_connection, credentials_connection, api_connection };
    for (int i = 0; i < 3; i++) {
        ports[i] = (struct fake_port){ listen_tcp(numbers[i] + offset), handlers[i] };
        if (ports[i].fd < 0)
            return false;
        spawn(fake_accept_loop, &ports[i]);
    }
    return true;
}

/* --- agentd --------------------------------------------------------------------------------- */

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

static bool read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n > 0;
}

static void test_start(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* every port + offset stays below the ephemeral range (32768+), where the test's own client
     * connections would collide with it */
    offset = 10000 + (int)(getpid() % 1200) * 10;
    snprintf(dir, sizeof dir, "/tmp/silo-test-egress-%d", (int)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(start_fake_host());

    char path[PATH_MAX + 64], text[3 * PATH_MAX + 512], self[PATH_MAX], agentd[PATH_MAX + 64];
    snprintf(text, sizeof text,
             "{\"config\":{\"Cmd\":[\"/bin/sh\",\"-c\",\"env > %s/env.tmp && mv %s/env.tmp %s/env.txt; exec sleep 120\"],"
             "\"Env\":[\"HTTP_PROXY=http://mine:1\"]}}", dir, dir, dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(write_file(path, text));
    snprintf(path, sizeof path, "%s/cmdline", dir);
    CHECK(write_file(path, "console=ttyS0 silo.region=eu-west-1 silo.egress_ports=443,8443,8080 quiet\n"));

    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n > 0 ? n : 0] = '\0';
    snprintf(agentd, sizeof agentd, "%s/../host/bin/silo-agentd", dirname(self));
    char config[PATH_MAX + 64], cmdline[PATH_MAX + 64], off[16];
    snprintf(config, sizeof config, "%s/config.json", dir);
    snprintf(cmdline, sizeof cmdline, "%s/cmdline", dir);
    snprintf(off, sizeof off, "%d", offset);
    agentd_pid = fork();
    if (agentd_pid == 0) {
        execl(agentd, agentd, "--config", config, "--tcp-offset", off, "--cmdline", cmdline, (char *)NULL);
        _exit(127);
    }
    CHECK(agentd_pid > 0);
    snprintf(path, sizeof path, "%s/env.txt", dir);
    struct stat st;
    for (int i = 0; i < 500 && stat(path, &st) < 0; i++)
        usleep(10 * 1000);
    CHECK(stat(path, &st) == 0);
}

static void test_environment(void)
{
    char env[16384], path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/env.txt", dir);
    CHECK(read_file(path, env, sizeof env));
    CHECK(strstr(env, "HTTP_PROXY=http://mine:1\n") != NULL);           /* the image's own wins */
    CHECK(strstr(env, "HTTPS_PROXY=http://127.0.0.1:3128\n") != NULL);
    CHECK(strstr(env, "http_proxy=http://127.0.0.1:3128\n") != NULL);
    CHECK(strstr(env, "https_proxy=http://127.0.0.1:3128\n") != NULL);
    CHECK(strstr(env, "NO_PROXY=localhost,127.0.0.1,::1\n") != NULL);
    CHECK(strstr(env, "no_proxy=localhost,127.0.0.1,::1\n") != NULL);
    CHECK(strstr(env, "NODE_USE_ENV_PROXY=1\n") != NULL);
    CHECK(strstr(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1338/credentials\n") != NULL);
    CHECK(strstr(env, "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE=http://127.0.0.1:1339\n") != NULL);
    CHECK(strstr(env, "AWS_REGION=eu-west-1\n") != NULL);
    CHECK(strstr(env, "AWS_DEFAULT_REGION=eu-west-1\n") != NULL);
    const char *t = strstr(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN=");
    CHECK(t != NULL);
    if (t != NULL)
        sscanf(t + strlen("AWS_CONTAINER_AUTHORIZATION_TOKEN="), "%127s", token);
    CHECK_EQ(strlen(token), 64);
    CHECK_EQ(strspn(token, "0123456789abcdef"), 64);
}

static void test_connect(void)
{
    int fd = connect_guest(GUEST_LOOP_PROXY);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    /* bytes sent right after the head must reach the origin too */
    send_text(fd, "CONNECT echo.example:443 HTTP/1.1\r\nHost: echo.example:443\r\n\r\nEARLY");
    char buf[256];
    size_t got = 0;
    const char *want = "HTTP/1.1 200 Connection Established\r\n\r\nEARLY";
    while (got < strlen(want)) {
        ssize_t n = recv(fd, buf + got, strlen(want) - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    CHECK(strcmp(buf, want) == 0);
    send_text(fd, "-later");
    shutdown(fd, SHUT_WR);                       /* half-close: the answer still comes back */
    read_all(fd, buf, sizeof buf);
    CHECK(strcmp(buf, "-later") == 0);
    close(fd);
    pthread_mutex_lock(&fake_lock);
    CHECK(strcmp(last_connect, "CONNECT echo.example:443") == 0);
    pthread_mutex_unlock(&fake_lock);
}

static void test_absolute_form(void)
{
    char answer[8192];
    exchange(GUEST_LOOP_PROXY,
             "GET http://WWW.Example.com/path?q=1 HTTP/1.1\r\nHost: www.example.com\r\nProxy-Connection: keep-alive\r\n"
             "Proxy-Authorization: Basic eDp5\r\nUser-Agent: t\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(answer, "\r\n\r\nGET /path?q=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: t\r\n"
                         "Connection: close\r\n\r\n") != NULL);
    CHECK(strstr(answer, "Proxy-") == NULL);
    pthread_mutex_lock(&fake_lock);
    CHECK(strcmp(last_connect, "CONNECT www.example.com:80") == 0);
    pthread_mutex_unlock(&fake_lock);
}

static void test_refusals(void)
{
    char answer[4096];
    exchange(GUEST_LOOP_PROXY, "CONNECT blocked.example:443 HTTP/1.1\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    CHECK(strstr(answer, "\r\nX-Silo-Egress-Rule: private:10.0.0.0/8\r\n") != NULL);
    CHECK(strstr(answer, "\r\nConnection: close\r\n") != NULL);
    CHECK(strstr(answer, "\r\n\r\nsilo egress: destination is a private network (rule private:10.0.0.0/8)\n") != NULL);
    exchange(GUEST_LOOP_PROXY, "GET http://blocked.example/ HTTP/1.1\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    exchange(GUEST_LOOP_PROXY, "GET https://example.com/ HTTP/1.1\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    CHECK(strstr(answer, "CONNECT") != NULL);
    exchange(GUEST_LOOP_PROXY, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    exchange(GUEST_LOOP_PROXY, "CONNECT x:99999 HTTP/1.1\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
}

struct stream_result {
    size_t body;
    bool ok;
};

static void *one_stream(void *arg)
{
    struct stream_result *r = arg;
    int fd = connect_guest(GUEST_LOOP_PROXY);
    if (fd < 0)
        return NULL;
    send_text(fd, "GET http://bulk.example/ HTTP/1.1\r\nHost: bulk.example\r\n\r\n");
    char head[1024];
    read_head(fd, head, sizeof head);
    r->ok = strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0;
    char *buf = malloc(65536);
    size_t pos = 0;
    ssize_t n;
    while ((n = recv(fd, buf, 65536, 0)) > 0) {
        for (ssize_t i = 0; i < n; i += 4093)
            r->ok = r->ok && buf[i] == (char)(((pos + (size_t)i) % 65536) * 7);
        pos += (size_t)n;
    }
    r->body = pos;
    free(buf);
    close(fd);
    return NULL;
}

static void test_parallel_streams(void)
{
    pthread_t threads[STREAMS];
    struct stream_result results[STREAMS] = { { 0, false } };
    for (int i = 0; i < STREAMS; i++)
        pthread_create(&threads[i], NULL, one_stream, &results[i]);
    int complete = 0;
    for (int i = 0; i < STREAMS; i++) {
        pthread_join(threads[i], NULL);
        complete += results[i].ok && results[i].body == BULK_BYTES;
    }
    CHECK_EQ(complete, STREAMS);
}

static void get_credentials(const char *auth, char *answer, size_t cap)
{
    char request[512];
    snprintf(request, sizeof request, "GET /credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n",
             auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    exchange(GUEST_LOOP_CREDENTIALS, request, answer, cap);
}

static void test_credentials(void)
{
    char answer[4096];
    get_credentials(NULL, answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 403 ", 13) == 0);
    get_credentials("0123", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 403 ", 13) == 0);
    CHECK_EQ(atomic_load(&credential_fetches), 0);

    atomic_store(&credentials_mode, 1);                  /* expires in 2 min: never cached */
    get_credentials(token, answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(answer, "Content-Type: application/json\r\n") != NULL);
    CHECK(strstr(answer, "\"AccessKeyId\":\"ASIATEST1\"") != NULL);
    CHECK_EQ(atomic_load(&credential_fetches), 1);

    atomic_store(&credentials_mode, 2);                  /* the host has no role */
    get_credentials(token, answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK(strstr(answer, "{\"message\":\"no role for this runtime\"}") != NULL);
    CHECK_EQ(atomic_load(&credential_fetches), 2);

    atomic_store(&credentials_mode, 0);                  /* an hour: cached */
    get_credentials(token, answer, sizeof answer);
    CHECK(strstr(answer, "\"AccessKeyId\":\"ASIATEST0\"") != NULL);
    get_credentials(token, answer, sizeof answer);
    CHECK(strstr(answer, "\"AccessKeyId\":\"ASIATEST0\"") != NULL);
    CHECK_EQ(atomic_load(&credential_fetches), 3);
    exchange(GUEST_LOOP_CREDENTIALS, "POST /credentials HTTP/1.1\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 405 ", 13) == 0);
}

static void test_api_bridge(void)
{
    char answer[1024];
    exchange(GUEST_LOOP_API, "GET /runtimes HTTP/1.1\r\nHost: 127.0.0.1:1339\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(answer, "\r\n\r\napi-hello") != NULL);
    pthread_mutex_lock(&fake_lock);
    CHECK(strncmp(api_request, "GET /runtimes HTTP/1.1\r\n", 24) == 0);
    pthread_mutex_unlock(&fake_lock);
}

/* Asks the stub over UDP for name's A record; 0 when there is none. */
static uint32_t dns_query(const char *name)
{
    uint8_t q[300] = { 0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, a[512];
    size_t off = 12;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, ".");
        q[off++] = (uint8_t)n;
        memcpy(q + off, p, n);
        off += n;
        p += n + (p[n] == '.');
    }
    memcpy(q + off, "\0\0\1\0\1", 5);
    off += 5;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(GUEST_LOOP_DNS + offset)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    sendto(fd, q, off, 0, (struct sockaddr *)&sa, sizeof sa);
    ssize_t n = recv(fd, a, sizeof a, 0);
    close(fd);
    if (n < (ssize_t)off + 16 || a[0] != 0xab || (a[3] & 0x0f) != 0 || a[7] != 1)
        return 0;
    return (uint32_t)a[n - 4] << 24 | (uint32_t)a[n - 3] << 16 | (uint32_t)a[n - 2] << 8 | a[n - 1];
}

static void test_dns(void)
{
    uint32_t first = dns_query("api.example.org");
    CHECK_EQ(first & GUEST_SYNTH_MASK, GUEST_SYNTH_NET);
    CHECK_EQ(dns_query("API.example.org"), first);
    CHECK_EQ(dns_query("localhost"), 0x7f000001u);
}

static void test_transparent(void)
{
    uint32_t address = dns_query("echo.transparent.example");
    CHECK_EQ(address & GUEST_SYNTH_MASK, GUEST_SYNTH_NET);
    int fd = connect_to(address, 443 + offset);
    CHECK(fd >= 0);
    if (fd >= 0) {
        char buf[64];
        send_text(fd, "client-hello");
        shutdown(fd, SHUT_WR);
        read_all(fd, buf, sizeof buf);
        CHECK(strcmp(buf, "client-hello") == 0);
        close(fd);
        pthread_mutex_lock(&fake_lock);
        CHECK(strcmp(last_connect, "CONNECT echo.transparent.example:443") == 0);
        pthread_mutex_unlock(&fake_lock);
    }
    fd = connect_to(INADDR_LOOPBACK, 8443 + offset);         /* not a synthetic address: closed */
    CHECK(fd >= 0);
    if (fd >= 0) {
        char buf[16];
        CHECK_EQ(read_all(fd, buf, sizeof buf), 0);
        close(fd);
    }
    CHECK_EQ(connect_to(address, 80 + offset), -1);          /* 80 is not in silo.egress_ports */
    CHECK_EQ(connect_to(address, 8080 + offset), -1);        /* 8080 is the agent's: never intercepted */
}

static void test_proxy_to_synthetic_address(void)
{
    uint32_t address = dns_query("echo.by-address.example");
    char request[128], answer[256];
    snprintf(request, sizeof request, "CONNECT %u.%u.%u.%u:443 HTTP/1.1\r\n\r\n", address >> 24,
             (address >> 16) & 255, (address >> 8) & 255, address & 255);
    int fd = connect_guest(GUEST_LOOP_PROXY);
    send_text(fd, request);
    ssize_t n = recv(fd, answer, sizeof answer - 1, 0);
    answer[n > 0 ? n : 0] = '\0';
    CHECK(strncmp(answer, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    pthread_mutex_lock(&fake_lock);
    CHECK(strcmp(last_connect, "CONNECT echo.by-address.example:443") == 0);
    pthread_mutex_unlock(&fake_lock);
}

static void test_connection_cap(void)
{
    static int held[256];
    for (int i = 0; i < 256; i++)
        held[i] = connect_guest(GUEST_LOOP_PROXY);        /* each takes a slot, sends nothing */
    char answer[1024];
    exchange(GUEST_LOOP_PROXY, "CONNECT echo.example:443 HTTP/1.1\r\n\r\n", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 429 Too Many Requests\r\n", 32) == 0);
    for (int i = 0; i < 256; i++)
        if (held[i] >= 0)
            close(held[i]);
    usleep(200 * 1000);
    char buf[128];
    int fd = connect_guest(GUEST_LOOP_PROXY);
    send_text(fd, "CONNECT echo.example:443 HTTP/1.1\r\n\r\n");
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);         /* slots came back */
    close(fd);
}

static void test_stop(void)
{
    int status = -1;
    if (agentd_pid > 0) {
        kill(agentd_pid, SIGTERM);
        waitpid(agentd_pid, &status, 0);
    }
    CHECK(WIFEXITED(status) || WIFSIGNALED(status));
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "silo-agentd --tcp-offset starts against the fake host", test_start },
        { "the agent's environment: proxy, credentials, API, region; the image's Env wins", test_environment },
        { "CONNECT: 200, early bytes kept, relayed both ways with half-close", test_connect },
        { "absolute-form GET rewritten to origin-form with Connection: close", test_absolute_form },
        { "refusals: ERR verdict -> 403 with rule and reason; https:// and origin-form -> 400", test_refusals },
        { "64 parallel 10 MB downloads through the proxy", test_parallel_streams },
        { "credentials: token checked, cached until 5 min before expiry, ERR passed on", test_credentials },
        { "127.0.0.1:1339 bridged to silod's API channel", test_api_bridge },
        { "DNS stub over UDP: synthetic, stable, localhost", test_dns },
        { "transparent egress by the dialled synthetic address; others closed", test_transparent },
        { "CONNECT to a synthetic address goes out by its name", test_proxy_to_synthetic_address },
        { "the 257th egress connection gets 429; slots are released", test_connection_cap },
        { "agentd stops on SIGTERM", test_stop },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
