/* tools/bench/door_load.c — the hostile side of tools/bench/host/front_door.sh: slow request
 * heads and forged large bodies against silod's front door, from many connections and several
 * loopback source addresses (127.0.0.2, .3, ...), for a fixed time. It never holds a valid
 * signature: every request it sends must be refused. What it counts is what silod did.
 *
 *   door_load --port P --key AKID [--slow N] [--forgers F] [--sources A] [--body-mib M]
 *             [--seconds T] [--region R]
 *     --slow N       N connections that trickle a request head, one byte a second; each one
 *                    silod closes is reopened after 100 ms (default 200)
 *     --forgers F    F threads, each sending forged requests back to back (default 8), in turn:
 *                      nohash   the known key id, a wrong signature, no x-amz-content-sha256
 *                               (botocore's style: only the body decides), Content-Length M MiB
 *                      chunked  the same with a chunked body of M MiB
 *                      unknown  an unknown key id, Content-Length M MiB
 *                      unsigned x-amz-content-sha256: UNSIGNED-PAYLOAD, a wrong signature
 *                    each body is written as fast as silod takes it, until it is whole or silod
 *                    closes the connection
 *     --sources A    source addresses 127.0.0.2 .. 127.0.0.(A+1) in turn (default 8)
 *     --seconds T    how long (default 20); SIGTERM or SIGINT ends it earlier
 *   prints one line: door_load seconds=.. slow_open=.. slow_opened=.. slow_cut=..
 *     forged=.. forged_mib_sent=.. answered_403=.. answered_503=.. answered_other=..
 *     cut_unanswered=..
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"

#define MAX_SLOW 4000

static struct {
    unsigned port, slow, forgers, sources, body_mib, seconds;
    const char *key, *region;
} opt = { .slow = 200, .forgers = 8, .sources = 8, .body_mib = 64, .seconds = 20, .region = "us-east-1" };

static atomic_llong end_ms;   /* SIGTERM / SIGINT set it to 0: finish and print */
static atomic_ulong slow_opened, slow_cut, forged, forged_bytes, answered_403, answered_503, answered_other,
    cut_unanswered;

/* A TCP connection to 127.0.0.1:port from 127.0.0.(2 + n % sources); -1 on failure. */
static int connect_from(unsigned n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002u + n % opt.sources) };
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* ------------------------------------------------------------------ slow heads */

static const char slow_head[] = "POST /runtimes/slow/invocations?qualifier=DEFAULT HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "X-Trickle: ";

static void *slow_thread(void *arg)
{
    (void)arg;
    static int fds[MAX_SLOW];
    static int64_t reopen_at[MAX_SLOW];
    for (unsigned i = 0; i < opt.slow; i++) {
        fds[i] = -1;
        reopen_at[i] = 0;
    }
    while (mono_ms() < end_ms) {
        int64_t now = mono_ms();
        for (unsigned i = 0; i < opt.slow; i++) {
            if (fds[i] < 0 && now >= reopen_at[i]) {
                fds[i] = connect_from(i);
                if (fds[i] >= 0 && send_all(fds[i], slow_head, sizeof slow_head - 1))
                    atomic_fetch_add(&slow_opened, 1);
                else if (fds[i] >= 0) {
                    close(fds[i]);
                    fds[i] = -1;
                }
                if (fds[i] < 0)
                    reopen_at[i] = now + 100;
                continue;
            }
            if (fds[i] < 0)
                continue;
            /* closed by silod? (readable: EOF or an answer; either way it is over) */
            struct pollfd p = { .fd = fds[i], .events = POLLIN };
            bool over = poll(&p, 1, 0) > 0 || !send_all(fds[i], "x", 1);
            if (over) {
                atomic_fetch_add(&slow_cut, 1);
                close(fds[i]);
                fds[i] = -1;
                reopen_at[i] = now + 100;
            }
        }
        struct timespec s = { 1, 0 };
        nanosleep(&s, NULL);
    }
    for (unsigned i = 0; i < opt.slow; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return NULL;
}

/* ------------------------------------------------------------------ forged bodies */

enum style { NOHASH, CHUNKED, UNKNOWN, UNSIGNED, STYLES };

/* Status of silod's answer, waiting up to 2 s; 0 when the connection closed without one. */
static int read_status(int fd)
{
    char buf[512];
    size_t got = 0;
    int64_t until = mono_ms() + 2000;
    while (got < sizeof buf - 1 && mono_ms() < until) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n"))
            break;
    }
    buf[got] = '\0';
    int status = 0;
    return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

static void forge_one(unsigned n, enum style s, const char *chunk, size_t chunk_len)
{
    int fd = connect_from(n);
    if (fd < 0) {
        struct timespec nap = { 0, 50 * 1000 * 1000 };
        nanosleep(&nap, NULL);
        return;
    }
    char date[17], day[9], head[2048];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(day, date, 8);
    day[8] = '\0';
    uint64_t body = (uint64_t)opt.body_mib << 20;
    const char *key = s == UNKNOWN ? "AKIDNOSUCHKEY0000000" : opt.key;
    int len = snprintf(head, sizeof head,
        "POST /runtimes/forged/invocations?qualifier=DEFAULT HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
        "Content-Type: application/json\r\nX-Amz-Date: %s\r\n"
        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: forged-session-0123456789abcdef0123456789\r\n"
        "%s%s"
        "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/bedrock-agentcore/aws4_request, "
        "SignedHeaders=host;x-amz-date%s, Signature=%064d\r\n\r\n",
        opt.port, date,
        s == CHUNKED ? "Transfer-Encoding: chunked\r\n" : "",
        s == UNSIGNED ? "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\n" : "",
        key, day, opt.region, s == UNSIGNED ? ";x-amz-content-sha256" : "", 0);
    char cl[64];
    if (s != CHUNKED) {   /* Content-Length goes before the blank line */
        snprintf(cl, sizeof cl, "Content-Length: %llu\r\n\r\n", (unsigned long long)body);
        len -= 2;
        snprintf(head + len, sizeof head - (size_t)len, "%s", cl);
        len = (int)strlen(head);
    }
    atomic_fetch_add(&forged, 1);
    bool whole = send_all(fd, head, (size_t)len);
    uint64_t sent = 0;
    char chunk_head[32];
    int chl = snprintf(chunk_head, sizeof chunk_head, "%zx\r\n", chunk_len);
    while (whole && sent < body && mono_ms() < end_ms) {
        /* silod answered already (refused from the head)? then stop sending */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 0) > 0)
            break;
        if (s == CHUNKED)
            whole = send_all(fd, chunk_head, (size_t)chl) && send_all(fd, chunk, chunk_len) && send_all(fd, "\r\n", 2);
        else
            whole = send_all(fd, chunk, chunk_len);
        if (whole)
            sent += chunk_len;
    }
    if (whole && s == CHUNKED && sent >= body)
        whole = send_all(fd, "0\r\n\r\n", 5);
    atomic_fetch_add(&forged_bytes, sent);
    int status = read_status(fd);
    if (status == 403)
        atomic_fetch_add(&answered_403, 1);
    else if (status == 503)
        atomic_fetch_add(&answered_503, 1);
    else if (status != 0)
        atomic_fetch_add(&answered_other, 1);
    else
        atomic_fetch_add(&cut_unanswered, 1);
    close(fd);
}

static void *forger_thread(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    static const size_t chunk_len = 64 * 1024;
    char *chunk = malloc(chunk_len);
    if (!chunk)
        abort();
    memset(chunk, '{', chunk_len);
    for (unsigned i = 0; mono_ms() < end_ms; i++)
        forge_one(id + i, (enum style)((id + i) % STYLES), chunk, chunk_len);
    free(chunk);
    return NULL;
}

static void stop(int sig)
{
    (void)sig;
    atomic_store(&end_ms, 0);
}

static void usage(void)
{
    fprintf(stderr, "usage: door_load --port P --key AKID [--slow N] [--forgers F] [--sources A] [--body-mib M] "
                    "[--seconds T] [--region R]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) opt.port = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--key") == 0) opt.key = v;
        else if (strcmp(a, "--region") == 0) opt.region = v;
        else if (strcmp(a, "--slow") == 0) opt.slow = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--forgers") == 0) opt.forgers = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--sources") == 0) opt.sources = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--body-mib") == 0) opt.body_mib = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0) opt.seconds = (unsigned)strtoul(v, NULL, 10);
        else {
            usage();
            return 2;
        }
    }
    if (opt.port == 0 || opt.port > 65535 || !opt.key || opt.slow > MAX_SLOW || opt.sources == 0 ||
        opt.sources > 200 || opt.forgers > 256 || opt.seconds == 0 || opt.seconds > 3600) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int64_t t0 = mono_ms();
    atomic_store(&end_ms, t0 + (int64_t)opt.seconds * 1000);
    struct sigaction sa = { .sa_handler = stop };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_t slow, *forgers = calloc(opt.forgers + 1, sizeof *forgers);
    bool slow_started = opt.slow > 0 && pthread_create(&slow, NULL, slow_thread, NULL) == 0;
    for (unsigned i = 0; i < opt.forgers; i++)
        pthread_create(&forgers[i], NULL, forger_thread, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < opt.forgers; i++)
        pthread_join(forgers[i], NULL);
    if (slow_started)
        pthread_join(slow, NULL);
    free(forgers);
    printf("door_load seconds=%.1f slow_open=%u slow_opened=%lu slow_cut=%lu forged=%lu forged_mib_sent=%.1f "
           "answered_403=%lu answered_503=%lu answered_other=%lu cut_unanswered=%lu\n",
           (double)(mono_ms() - t0) / 1e3, opt.slow, atomic_load(&slow_opened), atomic_load(&slow_cut),
           atomic_load(&forged), (double)atomic_load(&forged_bytes) / (1 << 20), atomic_load(&answered_403),
           atomic_load(&answered_503), atomic_load(&answered_other), atomic_load(&cut_unanswered));
    return 0;
}
