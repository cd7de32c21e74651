/* tools/bench/invoke_load.c — the invocation load generator of tools/bench/silod.sh: drives
 * InvokeAgentRuntime through silod (SigV4-signed by libcurl) or the agent straight through its
 * microVM's vsock socket (the figure without the proxy), and prints latency percentiles and
 * throughput in one line.
 *
 *   invoke_load [OPTIONS] TARGET
 *     TARGET  http://HOST:PORT/runtimes/ID/invocations?qualifier=Q   through silod
 *             uds:PATH[,PATH...]   straight to guest port 8080 (`CONNECT 8080` on silo-vmm's
 *                                  vsock socket, then HTTP/1.1 keep-alive); worker i uses
 *                                  PATH number i modulo the count
 *     --workers C      concurrent workers, each on its own keep-alive connection (default 1)
 *     --requests N     timed requests per worker, after one untimed warm-up request (default 200)
 *     --shared-session silod: every worker uses the same runtime session (default: one each)
 *     --cold           silod: every request opens a NEW session (no warm-up); the figure is
 *                      the time to the first byte of the answer
 *     --reconnect      direct: a new vsock connection (CONNECT handshake) for every request
 *     --body JSON      request body (default {"prompt":"bench"})
 *     --key AKID --secret SECRET --region R   SigV4 credentials for silod
 *   prints: invoke_load target=http|uds workers=C requests=N ok=K seconds=S ips=X p50_ms=A
 *           p99_ms=B max_ms=M     (exit 1 when any request failed)
 * Answers are read whole (Content-Length framing on the direct path: the C sample agent's). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"

#define MAX_WORKERS 256
#define MAX_PATHS 64

struct options {
    const char *target;
    bool direct;
    char *paths[MAX_PATHS];
    unsigned path_count;
    unsigned workers, requests;
    bool shared_session, cold, reconnect;
    const char *body;
    const char *key, *secret, *region;
};

static pthread_barrier_t warmed_up;   /* the workers and main: timing starts after warm-up */

struct worker {
    const struct options *o;
    unsigned index;
    double *latencies_ms;   /* o->requests of them */
    unsigned ok;
    char shared_session[40];
};

static void new_session_id(char out[40])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        abort();
    snprintf(out, 40, "bench-");
    for (int i = 0; i < 16; i++)
        snprintf(out + 6 + 2 * i, 3, "%02x", r[i]);
}

/* ------------------------------------------------------------------ through silod (libcurl) */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p; (void)ctx;
    return size * n;
}

/* One invocation; returns the latency in ms (total, or to the first byte with cold), or -1. */
static double silod_invoke(CURL *h, const struct options *o, const char *session)
{
    char header[128], userpwd[512], sigv4[128];
    snprintf(header, sizeof header, "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: %s", session);
    snprintf(userpwd, sizeof userpwd, "%s:%s", o->key, o->secret);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:bedrock-agentcore", o->region);
    struct curl_slist *hl = curl_slist_append(NULL, header);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, o->target);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    double t0 = mono_ms_f();
    CURLcode rc = curl_easy_perform(h);
    double total = mono_ms_f() - t0;
    curl_slist_free_all(hl);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "invoke_load: %s (HTTP %ld)\n", rc != CURLE_OK ? curl_easy_strerror(rc) : "bad status", status);
        return -1;
    }
    if (o->cold) {
        curl_off_t ttfb = 0;
        curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &ttfb);
        return (double)ttfb / 1e3;
    }
    return total;
}

/* ------------------------------------------------------------------ straight to the agent */

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Connects to the vsock socket and to guest port 8080; -1 on failure. */
static int direct_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (fd < 0 || strlen(path) >= sizeof a.sun_path)
        goto fail;
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || !write_all(fd, "CONNECT 8080\n", 13))
        goto fail;
    char line[64];
    size_t n = 0;
    while (n < sizeof line - 1) {     /* "OK <hostport>\n", byte by byte: nothing after it is ours */
        if (read(fd, line + n, 1) != 1)
            goto fail;
        if (line[n++] == '\n')
            break;
    }
    line[n] = '\0';
    if (strncmp(line, "OK ", 3) != 0)
        goto fail;
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* One POST /invocations on a connected stream; reads the answer (Content-Length framing). */
static double direct_invoke(int fd, const char *body)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST /invocations HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof req)
        return -1;
    double t0 = mono_ms_f();
    if (!write_all(fd, req, (size_t)n))
        return -1;
    char buf[16384];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof buf - 1)
            return -1;
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
        return -1;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (!cl || cl > end)
        return -1;
    size_t want = strtoul(cl + 17, NULL, 10);
    size_t got = have - (size_t)(end + 4 - buf);
    while (got < want) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return got == want ? mono_ms_f() - t0 : -1;
}

/* ------------------------------------------------------------------ workers */

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    const struct options *o = w->o;
    if (o->direct) {
        int fd = direct_connect(o->paths[w->index % o->path_count]);
        bool warm = fd >= 0 && direct_invoke(fd, o->body) >= 0;    /* warm-up */
        pthread_barrier_wait(&warmed_up);
        if (!warm) {
            fprintf(stderr, "invoke_load: worker %u: cannot reach the agent\n", w->index);
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        for (unsigned i = 0; i < o->requests; i++) {
            double t0 = mono_ms_f(), ms;
            if (o->reconnect) {
                close(fd);
                fd = direct_connect(o->paths[w->index % o->path_count]);
                ms = fd < 0 ? -1 : direct_invoke(fd, o->body);
                ms = ms < 0 ? -1 : mono_ms_f() - t0;
            } else {
                ms = direct_invoke(fd, o->body);
            }
            w->latencies_ms[i] = ms;
            w->ok += ms >= 0;
        }
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    CURL *h = curl_easy_init();
    char session[40];
    if (o->shared_session)
        snprintf(session, sizeof session, "%s", w->shared_session);
    else
        new_session_id(session);
    bool warm = o->cold || silod_invoke(h, o, session) >= 0;   /* warm-up: starts the session */
    pthread_barrier_wait(&warmed_up);
    if (!warm) {
        curl_easy_cleanup(h);
        return NULL;
    }
    for (unsigned i = 0; i < o->requests; i++) {
        if (o->cold)
            new_session_id(session);
        double ms = silod_invoke(h, o, session);
        w->latencies_ms[i] = ms;
        w->ok += ms >= 0;
    }
    curl_easy_cleanup(h);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void usage(void)
{
    fprintf(stderr, "usage: invoke_load [--workers C] [--requests N] [--shared-session] [--cold] [--reconnect] [--body JSON]\n"
                    "                   [--key AKID --secret SECRET --region R] http://HOST:PORT/runtimes/ID/invocations|uds:PATH[,PATH...]\n");
}

int main(int argc, char **argv)
{
    struct options o = { .workers = 1, .requests = 200, .body = "{\"prompt\":\"bench\"}", .region = "us-east-1" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--workers") == 0 && has_value)
            o.workers = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--requests") == 0 && has_value)
            o.requests = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--shared-session") == 0)
            o.shared_session = true;
        else if (strcmp(a, "--cold") == 0)
            o.cold = true;
        else if (strcmp(a, "--reconnect") == 0)
            o.reconnect = true;
        else if (strcmp(a, "--body") == 0 && has_value)
            o.body = argv[++i];
        else if (strcmp(a, "--key") == 0 && has_value)
            o.key = argv[++i];
        else if (strcmp(a, "--secret") == 0 && has_value)
            o.secret = argv[++i];
        else if (strcmp(a, "--region") == 0 && has_value)
            o.region = argv[++i];
        else if (a[0] != '-' && !o.target)
            o.target = a;
        else {
            usage();
            return 2;
        }
    }
    if (!o.target || o.workers == 0 || o.workers > MAX_WORKERS || o.requests == 0 || o.requests > 1000000) {
        usage();
        return 2;
    }
    if (strncmp(o.target, "uds:", 4) == 0) {
        o.direct = true;
        char *list = strdup(o.target + 4);
        for (char *save = NULL, *p = strtok_r(list, ",", &save); p && o.path_count < MAX_PATHS;
             p = strtok_r(NULL, ",", &save))
            o.paths[o.path_count++] = p;
        if (o.path_count == 0 || o.cold) {
            fprintf(stderr, "invoke_load: uds: needs at least one socket path (and no --cold)\n");
            return 2;
        }
    } else if (!o.key || !o.secret) {
        fprintf(stderr, "invoke_load: a silod target needs --key and --secret\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);   /* a peer that hangs up is a failed request, not our death */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct worker *w = calloc(o.workers, sizeof *w);
    pthread_t *t = calloc(o.workers, sizeof *t);
    char shared[40];
    new_session_id(shared);
    pthread_barrier_init(&warmed_up, NULL, o.workers + 1);
    for (unsigned i = 0; i < o.workers; i++) {
        w[i] = (struct worker){ .o = &o, .index = i, .latencies_ms = calloc(o.requests, sizeof(double)) };
        snprintf(w[i].shared_session, sizeof w[i].shared_session, "%s", shared);
        pthread_create(&t[i], NULL, run_worker, &w[i]);
    }
    pthread_barrier_wait(&warmed_up);
    double t0 = mono_ms_f();
    size_t total = (size_t)o.workers * o.requests, n = 0;
    double *all = calloc(total, sizeof *all);
    unsigned ok = 0;
    for (unsigned i = 0; i < o.workers; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        for (unsigned j = 0; j < o.requests; j++)
            if (w[i].latencies_ms[j] > 0)
                all[n++] = w[i].latencies_ms[j];
        free(w[i].latencies_ms);
    }
    double seconds = (mono_ms_f() - t0) / 1e3;
    qsort(all, n, sizeof *all, by_value);
    printf("invoke_load target=%s workers=%u requests=%zu ok=%u seconds=%.2f ips=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
           o.direct ? "uds" : "http", o.workers, total, ok, seconds, seconds > 0 ? ok / seconds : 0,
           percentile(all, n, 0.50), percentile(all, n, 0.99), n ? all[n - 1] : 0);
    free(all);
    free(w);
    free(t);
    curl_global_cleanup();
    return ok == total ? 0 : 1;
}
