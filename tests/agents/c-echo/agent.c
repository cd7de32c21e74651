/* tests/agents/c-echo/agent.c — a minimal AgentCore HTTP agent in C, for fast tests.
 *
 * Serves the AgentCore HTTP contract on 0.0.0.0:8080 (override: PORT), one thread per
 * connection, HTTP/1.1 with keep-alive:
 *   GET  /ping          {"status":"Healthy"|"HealthyBusy","time_of_last_update":T}; busy while
 *                       a slow invocation runs, T moves only when the status changes
 *   POST /invocations   body {"prompt": "...", "action": "echo"|"stream"|"slow"|"crash", ...}
 *     echo (default)    {"echo": <the request JSON>, "bytes": N, "session": "<session id>",
 *                        "boot_id": "<this VM's /proc/sys/kernel/random/boot_id>",
 *                        "vm_id": "<agentd's /run/silo/vm-id: new for every microVM, restored too>",
 *                        "echo_tag": <the environment variable ECHO_TAG, null when unset>}
 *                       a body that is not JSON is counted and answered
 *                       {"bytes": N, "fnv1a32": "<FNV-1a 32-bit of the body, 8 hex digits>"}
 *     blob              application/octet-stream, "bytes" bytes (default 1 MiB, up to 200 MiB):
 *                       the xorshift32 stream from "seed" (default 1), low byte of each state
 *     stream            text/event-stream, "n" events (default 5) "gap_ms" apart (default 20):
 *                       data: {"index":i,"text":"<prompt> i"}  then  data: {"done":true}
 *     slow              answers {"slept_ms": ms} after "ms" milliseconds (default 2000)
 *     background        answers {"background_ms": ms} at once and stays busy (/ping HealthyBusy)
 *                       for "ms" milliseconds (default 2000) with no request in flight
 *     crash             abort()s: the process dies of SIGABRT before answering
 *     touch             allocates "mib" MiB (default 64, at most 4096) and writes every page
 *                       (the guest's RAM is then really used: silod's jail memory-limit test),
 *                       answers {"touched_mib": N}, frees it; {"error":...} when malloc fails
 *     fetch             GETs "url" (plain http://) "repeat" times (default 1, at most 1000),
 *                       through "proxy" (HOST:PORT, default the HTTP_PROXY agentd sets) unless
 *                       "proxy" is "" (direct): {"runs":[{"status":N,"bytes":N,"us":N},...]}
 *                       (http_fetch.c: the egress benchmark's in-guest client)
 *   anything else       404 / 405 / 400 JSON errors
 * `agent --exit-at-start N` exits with status N at once (a broken image for the image builder's
 * boot check). Built static for arm64; links json-c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/agents/c-echo/http_fetch.h"

#define MAX_HEADER 16384
#define MAX_JSON_BODY (8u << 20)           /* bodies up to this are parsed; larger are counted */
#define MAX_BODY (200ull << 20)

static atomic_int busy_count;
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static long long last_update;
static bool last_busy;
static char boot_id[64] = "unknown";

/* This microVM's identity: agentd's /run/silo/vm-id (new after a snapshot restore), read per
 * request; the kernel's boot_id where there is none. */
static const char *read_vm_id(char *buf, size_t len)
{
    FILE *f = fopen("/run/silo/vm-id", "r");
    bool ok = f != NULL && fgets(buf, (int)len, f) != NULL;
    if (f != NULL)
        fclose(f);
    if (!ok)
        return boot_id;
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}


static uint32_t fnv1a32(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

struct request {
    char method[8];
    char path[256];
    char session[128];
    unsigned long long content_length;
    bool keep_alive;
};

static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int respond(int fd, int code, const char *reason, const char *type, const char *body, bool keep_alive)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
                     code, reason, type, strlen(body), keep_alive ? "keep-alive" : "close");
    if (send_all(fd, head, (size_t)n) < 0)
        return -1;
    return send_all(fd, body, strlen(body));
}

static void status_changed(void)
{
    bool busy = atomic_load(&busy_count) > 0;
    pthread_mutex_lock(&status_lock);
    if (busy != last_busy) {
        last_busy = busy;
        last_update = (long long)time(NULL);
    }
    pthread_mutex_unlock(&status_lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* background work: keeps /ping HealthyBusy for ms milliseconds */
static void *background_work(void *arg)
{
    long ms = (long)(intptr_t)arg;
    sleep_ms(ms);
    atomic_fetch_sub(&busy_count, 1);
    status_changed();
    return NULL;
}

/* Reads the header block into buf (up to MAX_HEADER) and sets head_len to its length with the blank
 * line; bytes after it (the start of the body) stay in buf beyond head_len. */
static int read_head(int fd, char *buf, size_t *have, size_t *head_len)
{
    for (;;) {
        char *end = *have >= 4 ? memmem(buf, *have, "\r\n\r\n", 4) : NULL;
        if (end != NULL) {
            *head_len = (size_t)(end - buf) + 4;
            return 0;
        }
        if (*have >= MAX_HEADER)
            return -1;
        ssize_t n = recv(fd, buf + *have, MAX_HEADER - *have, 0);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static int parse_head(char *buf, size_t len, struct request *req)
{
    memset(req, 0, sizeof *req);
    req->keep_alive = true;
    buf[len - 2] = '\0';
    char *save = NULL, *line = strtok_r(buf, "\r\n", &save);
    char version[16];
    if (line == NULL || sscanf(line, "%7s %255s %15s", req->method, req->path, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0)
        return -1;
    if (strcmp(version, "HTTP/1.0") == 0)
        req->keep_alive = false;
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            return -1;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strcasecmp(line, "Content-Length") == 0) {
            char *end;
            errno = 0;
            req->content_length = strtoull(v, &end, 10);
            if (errno != 0 || *end != '\0' || req->content_length > MAX_BODY)
                return -1;
        } else if (strcasecmp(line, "Connection") == 0) {
            req->keep_alive = strcasecmp(v, "close") != 0;
        } else if (strcasecmp(line, "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id") == 0) {
            snprintf(req->session, sizeof req->session, "%s", v);
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            return -1;                 /* chunked requests: not needed by our tests */
        }
    }
    return 0;
}

static int handle_stream(int fd, json_object *in)
{
    json_object *v;
    int n = 5, gap = 20;
    const char *prompt = "";
    if (json_object_object_get_ex(in, "n", &v))
        n = json_object_get_int(v);
    if (json_object_object_get_ex(in, "gap_ms", &v))
        gap = json_object_get_int(v);
    if (json_object_object_get_ex(in, "prompt", &v) && json_object_is_type(v, json_type_string))
        prompt = json_object_get_string(v);
    if (n < 0 || n > 100000 || gap < 0 || gap > 60000)
        return respond(fd, 400, "Bad Request", "application/json", "{\"error\":\"n or gap_ms out of range\"}", false);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if (send_all(fd, head, sizeof head - 1) < 0)
        return -1;
    for (int i = 0; i <= n; i++) {
        json_object *ev = json_object_new_object();
        if (i < n) {
            char text[600];
            snprintf(text, sizeof text, "%.500s %d", prompt, i);
            json_object_object_add(ev, "index", json_object_new_int(i));
            json_object_object_add(ev, "text", json_object_new_string(text));
        } else {
            json_object_object_add(ev, "done", json_object_new_boolean(1));
        }
        const char *js = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
        char chunk[1024];
        int len = snprintf(chunk, sizeof chunk, "data: %s\n\n", js);
        char size[32];
        int sl = snprintf(size, sizeof size, "%x\r\n", len);
        int rc = send_all(fd, size, (size_t)sl) | send_all(fd, chunk, (size_t)len) | send_all(fd, "\r\n", 2);
        json_object_put(ev);
        if (rc < 0)
            return -1;
        if (i < n && gap > 0)
            sleep_ms(gap);
    }
    return send_all(fd, "0\r\n\r\n", 5) < 0 ? -1 : 1;
}

/* Handles one invocation; returns -1 to drop the connection, 1 to close it after answering. */
/* {"action":"fetch","url":U,"repeat":N,"proxy":"HOST:PORT"|""} (see the header comment) */
static int handle_fetch(int fd, json_object *in, bool keep_alive)
{
    json_object *v;
    const char *url = NULL, *proxy = NULL;
    int repeat = 1;
    if (json_object_object_get_ex(in, "url", &v) && json_object_is_type(v, json_type_string))
        url = json_object_get_string(v);
    if (json_object_object_get_ex(in, "repeat", &v))
        repeat = json_object_get_int(v);
    static char env_proxy[256];
    const char *hp = getenv("HTTP_PROXY");
    if (hp && strncmp(hp, "http://", 7) == 0) {
        snprintf(env_proxy, sizeof env_proxy, "%s", hp + 7);
        env_proxy[strcspn(env_proxy, "/")] = 0;
        proxy = env_proxy;
    }
    if (json_object_object_get_ex(in, "proxy", &v) && json_object_is_type(v, json_type_string))
        proxy = *json_object_get_string(v) ? json_object_get_string(v) : NULL;
    if (!url || repeat < 1 || repeat > 1000)
        return respond(fd, 400, "Bad Request", "application/json", "{\"error\":\"fetch wants url and repeat 1..1000\"}", keep_alive);
    json_object *out = json_object_new_object(), *runs = json_object_new_array();
    for (int i = 0; i < repeat; i++) {
        struct http_fetch_result r;
        json_object *run = json_object_new_object();
        if (http_fetch(url, proxy, &r) != 0)
            json_object_object_add(run, "error", json_object_new_string(r.error));
        json_object_object_add(run, "status", json_object_new_int(r.status));
        json_object_object_add(run, "bytes", json_object_new_int64((int64_t)r.body_bytes));
        json_object_object_add(run, "us", json_object_new_int64((int64_t)r.elapsed_us));
        json_object_array_add(runs, run);
    }
    json_object_object_add(out, "runs", runs);
    int rc = respond(fd, 200, "OK", "application/json", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN), keep_alive);
    json_object_put(out);
    return rc;
}

static int handle_blob(int fd, json_object *in, bool keep_alive)
{
    json_object *v;
    long long n = 1 << 20;
    uint32_t x = 1;
    if (json_object_object_get_ex(in, "bytes", &v))
        n = json_object_get_int64(v);
    if (json_object_object_get_ex(in, "seed", &v))
        x = (uint32_t)json_object_get_int64(v);
    if (n < 0 || n > (long long)MAX_BODY || x == 0)
        return respond(fd, 400, "Bad Request", "application/json", "{\"error\":\"bytes or seed out of range\"}", false);
    char head[256];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %lld\r\nConnection: %s\r\n\r\n", n, keep_alive ? "keep-alive" : "close");
    if (send_all(fd, head, (size_t)hl) < 0)
        return -1;
    static _Thread_local unsigned char out[65536];
    while (n > 0) {
        size_t k = n < (long long)sizeof out ? (size_t)n : sizeof out;
        for (size_t i = 0; i < k; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out[i] = (unsigned char)x;
        }
        if (send_all(fd, out, k) < 0)
            return -1;
        n -= (long long)k;
    }
    return keep_alive ? 0 : 1;
}

static int handle_invocation(int fd, const struct request *req, const char *body, size_t len, bool counted_only,
                             uint32_t body_fnv)
{
    json_object *in = NULL, *v;
    if (!counted_only) {
        json_tokener *tok = json_tokener_new();
        in = json_tokener_parse_ex(tok, body, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(in);
            in = NULL;
        }
        json_tokener_free(tok);
    }
    if (in == NULL || !json_object_is_type(in, json_type_object)) {
        char out[128];
        snprintf(out, sizeof out, "{\"bytes\":%llu,\"fnv1a32\":\"%08x\"}", req->content_length, (unsigned)body_fnv);
        json_object_put(in);
        return respond(fd, 200, "OK", "application/json", out, req->keep_alive);
    }
    const char *action = "echo";
    if (json_object_object_get_ex(in, "action", &v) && json_object_is_type(v, json_type_string))
        action = json_object_get_string(v);
    int rc;
    if (strcmp(action, "crash") == 0) {
        fprintf(stderr, "c-echo: crash requested, aborting\n");
        abort();
    } else if (strcmp(action, "stream") == 0) {
        rc = handle_stream(fd, in);
    } else if (strcmp(action, "blob") == 0) {
        rc = handle_blob(fd, in, req->keep_alive);
    } else if (strcmp(action, "slow") == 0) {
        long ms = 2000;
        if (json_object_object_get_ex(in, "ms", &v))
            ms = json_object_get_int(v);
        if (ms < 0 || ms > 600000)
            ms = 2000;
        atomic_fetch_add(&busy_count, 1);
        status_changed();
        sleep_ms(ms);
        atomic_fetch_sub(&busy_count, 1);
        status_changed();
        char out[64];
        snprintf(out, sizeof out, "{\"slept_ms\":%ld}", ms);
        rc = respond(fd, 200, "OK", "application/json", out, req->keep_alive);
    } else if (strcmp(action, "background") == 0) {
        long ms = 2000;
        if (json_object_object_get_ex(in, "ms", &v))
            ms = json_object_get_int(v);
        if (ms < 0 || ms > 3600000)
            ms = 2000;
        atomic_fetch_add(&busy_count, 1);
        status_changed();
        pthread_t t;
        if (pthread_create(&t, NULL, background_work, (void *)(intptr_t)ms) == 0)
            pthread_detach(t);
        else
            background_work((void *)(intptr_t)0);
        char out[64];
        snprintf(out, sizeof out, "{\"background_ms\":%ld}", ms);
        rc = respond(fd, 200, "OK", "application/json", out, req->keep_alive);
    } else if (strcmp(action, "fetch") == 0) {
        rc = handle_fetch(fd, in, req->keep_alive);
    } else if (strcmp(action, "touch") == 0) {
        long mib = 64;
        if (json_object_object_get_ex(in, "mib", &v))
            mib = json_object_get_int(v);
        if (mib < 1 || mib > 4096)
            mib = 64;
        size_t bytes = (size_t)mib << 20;
        unsigned char *mem = malloc(bytes);
        char out[64];
        if (mem) {
            volatile unsigned char *page = mem;     /* every write happens: not optimised away */
            for (size_t i = 0; i < bytes; i += 4096)
                page[i] = (unsigned char)(i >> 12 | 1);
            snprintf(out, sizeof out, "{\"touched_mib\":%ld,\"check\":%u}", mib, (unsigned)page[bytes - 4096]);
            free(mem);
        } else {
            snprintf(out, sizeof out, "{\"error\":\"malloc of %ld MiB failed\"}", mib);
        }
        rc = respond(fd, 200, "OK", "application/json", out, req->keep_alive);
    } else if (strcmp(action, "echo") == 0) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "echo", json_object_get(in));
        json_object_object_add(out, "bytes", json_object_new_int64((int64_t)req->content_length));
        json_object_object_add(out, "session", json_object_new_string(req->session));
        json_object_object_add(out, "boot_id", json_object_new_string(boot_id));
        char vm_id[64];
        json_object_object_add(out, "vm_id", json_object_new_string(read_vm_id(vm_id, sizeof vm_id)));
        const char *tag = getenv("ECHO_TAG");
        json_object_object_add(out, "echo_tag", tag ? json_object_new_string(tag) : NULL);
        rc = respond(fd, 200, "OK", "application/json", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
                     req->keep_alive);
        json_object_put(out);
    } else {
        rc = respond(fd, 400, "Bad Request", "application/json", "{\"error\":\"unknown action\"}", req->keep_alive);
    }
    json_object_put(in);
    return rc;
}

static void *connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(MAX_HEADER);
    size_t have = 0;
    while (buf != NULL) {
        size_t head_len;
        struct request req;
        if (read_head(fd, buf, &have, &head_len) < 0)
            break;
        size_t extra = have - head_len;
        char *extra_bytes = malloc(extra + 1);
        if (extra_bytes == NULL)
            break;
        memcpy(extra_bytes, buf + head_len, extra);
        if (parse_head(buf, head_len, &req) < 0) {
            respond(fd, 400, "Bad Request", "application/json", "{\"error\":\"malformed request\"}", false);
            free(extra_bytes);
            break;
        }
        /* the body: kept when small enough to parse, otherwise only counted */
        bool counted_only = req.content_length > MAX_JSON_BODY;
        size_t keep = counted_only ? 0 : (size_t)req.content_length;
        char *body = malloc(keep + 1);
        unsigned long long got = extra < req.content_length ? extra : req.content_length;
        if (body == NULL) {
            free(extra_bytes);
            break;
        }
        if (keep > 0)
            memcpy(body, extra_bytes, (size_t)got);
        uint32_t body_fnv = fnv1a32(2166136261u, extra_bytes, (size_t)got);
        have = extra - (size_t)got;          /* pipelined bytes after this body */
        memcpy(buf, extra_bytes + got, have);
        free(extra_bytes);
        char sink[65536];
        while (got < req.content_length) {
            size_t want = req.content_length - got < sizeof sink ? (size_t)(req.content_length - got) : sizeof sink;
            ssize_t n = recv(fd, keep ? body + got : sink, want, 0);
            if (n <= 0)
                break;
            body_fnv = fnv1a32(body_fnv, keep ? body + got : sink, (size_t)n);
            got += (unsigned long long)n;
        }
        if (got < req.content_length) {
            free(body);
            break;
        }
        body[keep] = '\0';
        int rc;
        if (strcmp(req.path, "/ping") == 0) {
            if (strcmp(req.method, "GET") != 0) {
                rc = respond(fd, 405, "Method Not Allowed", "application/json", "{\"error\":\"use GET\"}", req.keep_alive);
            } else {
                char out[128];
                pthread_mutex_lock(&status_lock);
                snprintf(out, sizeof out, "{\"status\":\"%s\",\"time_of_last_update\":%lld}",
                         last_busy ? "HealthyBusy" : "Healthy", last_update);
                pthread_mutex_unlock(&status_lock);
                rc = respond(fd, 200, "OK", "application/json", out, req.keep_alive);
            }
        } else if (strcmp(req.path, "/invocations") == 0) {
            if (strcmp(req.method, "POST") != 0)
                rc = respond(fd, 405, "Method Not Allowed", "application/json", "{\"error\":\"use POST\"}", req.keep_alive);
            else
                rc = handle_invocation(fd, &req, body, keep, counted_only, body_fnv);
        } else {
            rc = respond(fd, 404, "Not Found", "application/json", "{\"error\":\"not found\"}", req.keep_alive);
        }
        free(body);
        if (rc != 0 || !req.keep_alive)
            break;
    }
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--exit-at-start") == 0) {
        fprintf(stderr, "c-echo: exiting at start with status %s, as asked\n", argv[2]);
        return atoi(argv[2]);
    }
    const char *port_env = getenv("PORT");
    int port = port_env ? atoi(port_env) : 8080;
    signal(SIGPIPE, SIG_IGN);
    last_update = (long long)time(NULL);
    FILE *b = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (b != NULL) {
        if (fgets(boot_id, sizeof boot_id, b) != NULL)
            boot_id[strcspn(boot_id, "\n")] = '\0';
        fclose(b);
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0) {
        fprintf(stderr, "c-echo: cannot listen on 0.0.0.0:%d: %s\n", port, strerror(errno));
        return 1;
    }
    fprintf(stderr, "c-echo: listening on 0.0.0.0:%d\n", port);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 512 * 1024);
        if (pthread_create(&t, &attr, connection, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&attr);
    }
}
