/* tests/frontend/fake_vmm.c — a TEST VMM for x86 integration tests of silod. It is NOT
 * silo-vmm and boots nothing: it accepts silo-vmm's command line, listens on --vsock-uds PATH,
 * speaks the vsock socket protocol (`CONNECT <port>\n` → `OK <hostport>\n`) and plays the
 * guest's agent over HTTP/1.1 itself:
 *
 * guest port 8080 (HTTP protocol):
 *   GET  /ping         → 200 {"status":"Healthy"}, or what the last "ping:" invocation set
 *   POST /invocations  → by request body:
 *        "ping:STATUS[:T]"  from now on /ping answers {"status":"STATUS"} (plus
 *                    "time_of_last_update":T when given); STATUS "fail" → /ping answers 500,
 *                    "hang" → /ping never answers (the connection stays open 30 s)
 *        "burn:MS"   the fake vCPU thread (named "vcpu0", like silo-vmm's) spends MS ms of
 *                    CPU time, so the /proc metering path has something to measure
 *        "sse"       three text/event-stream events sent 50 ms apart (chunked encoding)
 *        "sse-long"  200 events 50 ms apart (10 s; for StopRuntimeSession mid-stream)
 *        "fail"      500 {"error":"boom"} (the agent failing)
 *        "whoami"    200 JSON: this VMM's pid, the first line of its --disk file, the method,
 *                    path and every request header (lower-cased) as the guest received them
 *        "crash"     this whole fake VMM dies at once (SIGKILL), as a crashed VM would
 *        "seccomp"   this fake VMM dies of SIGSYS, as silo-vmm does after a forbidden system call
 *        "conns"     200 JSON {"conn":C,"conns":N,"served":S}: C the id of this connection (the
 *                    C-th connection of this VMM that carried an /invocations request; /ping
 *                    and readiness probes do not count), N how many such connections it has
 *                    accepted so far, S how many requests this connection has served (this
 *                    one included) — how a test sees upstream keep-alive from outside
 *        "sleep:MS"  the same JSON, answered MS ms later (concurrent requests)
 *        "close"     the same JSON with `Connection: close` — yet the connection stays open
 *                    and served, so a client that ignored the header would be caught reusing it
 *        "http10"    the same JSON in an HTTP/1.0 answer (with Content-Length); stays open too
 *        "extra"     the same JSON, then bytes beyond its Content-Length in the same write
 *        "late-extra" the same JSON, then 100 ms later an unasked answer on the idle connection
 *                    (a client that does not check an idle connection before reusing it would
 *                    take that for the answer to its next request)
 *        "drop-idle" the same JSON; then this connection and every idle one of this VMM close
 *                    (within ~50 ms), as an agent's keep-alive timeout would
 *        otherwise   200, the body echoed with the request's Content-Type
 *   GET  /ws           → a WebSocket (RFC 6455) echo server after a checked upgrade (Upgrade,
 *                    Connection, version 13, its own Sec-WebSocket-Accept; a subprotocol offered
 *                    is accepted, the first one): each text or binary message comes back as is,
 *                    except the text messages
 *        "whoami"    → the whoami JSON (below) of the upgrade request, as a text message
 *        "big:N"     → one binary message of N bytes (byte i = i % 251)
 *        "close"     → a close frame (1000, "bye") from the agent; on the client's answering
 *                    close frame it ends its side (half-close) and waits for the client's end
 *                    ping → pong; a close frame is answered with one and ends it. A session id
 *                    starting "ws-refuse" is refused: 403 before any upgrade.
 * Connections are kept alive (HTTP/1.1): each serves requests until the client closes it or a
 * request says `Connection: close` (then the answer says so too and the connection ends).
 * guest port 8000 (MCP protocol), a minimal stateless MCP server at /mcp:
 *   POST: JSON-RPC initialize, ping, tools/list (one tool, "whoami"), tools/call (its text is
 *   JSON of the arguments and the Mcp-Session-Id / runtime session headers received);
 *   notifications → 202. tools/call answers text/event-stream when the client accepts it,
 *   everything else application/json. GET and DELETE → 405.
 * guest port 9000 (A2A protocol), a minimal JSON-RPC 2.0 responder:
 *   GET /.well-known/agent-card.json → 200 an agent card (name "fake-vmm-a2a", streaming) that
 *   also carries "x-silo-seen": this VMM's pid and the session / A2A-Version headers received;
 *   when the --disk file's first line contains "badcard", the card is `not json` instead, and
 *   with "trailcard" a JSON object followed by more bytes.
 *   POST / → "message/send" (or "SendMessage"): a message whose one text part is JSON of the
 *   vmm_pid, the session header, A2A-Version and the request's params; "message/stream" (or
 *   "SendStreamingMessage") with Accept: text/event-stream: three SSE events 50 ms apart
 *   (working, an artifact carrying the same JSON, completed with final:true), chunked;
 *   any other method: a JSON-RPC error -32601. Other paths 404.
 * guest port 1024 (agentd's control port), through control_proto's codec: RESTORED (answered
 *   `OK RESTORED` and noted in PATH.restored) and EXEC, served by agentd's own EXEC code
 *   (guest/agentd/command_exec.c): the command really runs here, `/bin/sh -c` with this process's
 *   environment, working directory and user; anything else `ERR STATUS bad-request`.
 * --restore DIR (a snapshot restore, docs/snapshots.md) is played as a boot, except that when
 *   DIR/fail exists it exits 1 at once with one line, as a refused snapshot would, and when
 *   DIR/die exists the whole fake VM dies (SIGKILL) right after answering RESTORED; --snapshot-to
 *   DIR makes SIGUSR2 write DIR/state and DIR/memory (fake contents) and exit 0.
 * Other ports are refused. All three agent ports keep connections alive the same way. Exits on SIGTERM, removing the socket and ending every connection
 * (its own process group), as a VM that goes away would. State shared between its
 * per-connection processes lives in PATH.ping / PATH.burn (removed on exit). */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "guest/agentd/command_exec.h"
#include "guest/agentd/control_proto.h"

static const char *socket_path;
static const char *disk_path;
static const char *snapshot_to;
static bool die_after_restored;
static pid_t vmm_pid;
static char ping_path[4200], burn_path[4200];

/* Shared by every per-connection process (an anonymous shared mapping made before forking). */
struct shared {
    unsigned conns;            /* connections that carried an /invocations request */
    unsigned drop_gen;         /* bumped by "drop-idle": idle connections close */
};
static struct shared *shared;

/* This connection's process: */
static bool closing;           /* the request asked `Connection: close`: so does the answer */
static unsigned conn_id;       /* 0 until this connection carried an /invocations request */
static unsigned served;        /* requests served on this connection */

static void on_term(int sig)
{
    (void)sig;
    if (socket_path)
        unlink(socket_path);
    unlink(ping_path);
    unlink(burn_path);
    kill(-vmm_pid, SIGKILL);   /* like a VM going away: every guest connection ends with it */
    _exit(0);
}

static int read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        if (read(fd, buf + n, 1) != 1)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            if (n && buf[n - 1] == '\r')
                buf[n - 1] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* One piece of a chunked answer (the SSE answers are chunked, as node servers send them). */
static bool write_chunk(int fd, const char *data, size_t n)
{
    char head[32];
    int hl = snprintf(head, sizeof head, "%zx\r\n", n);
    return write_all(fd, head, (size_t)hl) && write_all(fd, data, n) && write_all(fd, "\r\n", 2);
}

#define MAX_HEADERS 64

struct http_request {
    char method[16], path[1024];
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    size_t header_count;
    char *body;
    size_t body_len;
};

static const char *header(const struct http_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->header_count; i++)
        if (strcasecmp(rq->names[i], name) == 0)
            return rq->values[i];
    return NULL;
}

static void free_request(struct http_request *rq)
{
    for (size_t i = 0; i < rq->header_count; i++) {
        free(rq->names[i]);
        free(rq->values[i]);
    }
    free(rq->body);
    memset(rq, 0, sizeof *rq);
}

/* Reads the head and the body (either framing) into memory: this is a test agent. */
static bool read_request(int fd, struct http_request *rq)
{
    char line[16384];
    memset(rq, 0, sizeof *rq);
    if (read_line(fd, line, sizeof line) != 0 || sscanf(line, "%15s %1023s", rq->method, rq->path) != 2)
        return false;
    while (read_line(fd, line, sizeof line) == 0 && line[0]) {
        char *colon = strchr(line, ':');
        if (!colon || rq->header_count == MAX_HEADERS)
            continue;
        *colon = '\0';
        for (char *p = line; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        rq->names[rq->header_count] = strdup(line);
        rq->values[rq->header_count++] = strdup(colon + 1 + strspn(colon + 1, " "));
    }
    const char *cl = header(rq, "content-length"), *te = header(rq, "transfer-encoding");
    bool chunked = te && strstr(te, "chunked");
    long long content_length = cl ? atoll(cl) : 0;
    size_t cap = 1024;
    rq->body = malloc(cap);
    for (;;) {
        long long want = content_length;
        if (chunked) {
            if (read_line(fd, line, sizeof line) != 0)
                return false;
            want = strtoll(line, NULL, 16);
            if (want == 0) {
                read_line(fd, line, sizeof line);
                break;
            }
        }
        while (want > 0) {
            while (rq->body_len + (size_t)want + 1 > cap)
                cap *= 2;
            rq->body = realloc(rq->body, cap);
            ssize_t r = read(fd, rq->body + rq->body_len, (size_t)want);
            if (r <= 0)
                return false;
            rq->body_len += (size_t)r;
            want -= r;
        }
        if (!chunked)
            break;
        read_line(fd, line, sizeof line);   /* CRLF after the chunk */
    }
    rq->body[rq->body_len] = '\0';
    return true;
}

static void answer(int fd, int status, const char *ctype, const char *extra_headers, const char *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                                        "%s\r\n", status, ctype, len, extra_headers,
                     closing ? "Connection: close\r\n" : "");
    write_all(fd, head, (size_t)n);
    write_all(fd, body, len);
}

static void answer_json(int fd, int status, json_object *o, const char *extra_headers)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    answer(fd, status, "application/json", extra_headers, s, strlen(s));
}

static json_object *whoami(const struct http_request *rq)
{
    json_object *o = json_object_new_object(), *h = json_object_new_object();
    char image[512] = "";
    FILE *f = disk_path ? fopen(disk_path, "r") : NULL;
    if (f) {
        if (fgets(image, sizeof image, f))
            image[strcspn(image, "\n")] = '\0';
        fclose(f);
    }
    json_object_object_add(o, "vmm_pid", json_object_new_int(vmm_pid));
    json_object_object_add(o, "image", json_object_new_string(image));
    json_object_object_add(o, "method", json_object_new_string(rq->method));
    json_object_object_add(o, "path", json_object_new_string(rq->path));
    for (size_t i = 0; i < rq->header_count; i++)
        json_object_object_add(h, rq->names[i], json_object_new_string(rq->values[i]));
    json_object_object_add(o, "headers", h);
    return o;
}

/* Replaces path's content atomically (rename), so readers never see half of it. */
static bool write_file(const char *path, const char *text)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    int f = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (f < 0)
        return false;
    bool ok = write_all(f, text, strlen(text));
    close(f);
    return ok && rename(tmp, path) == 0;
}

static void serve_ping(int fd)
{
    char state[128] = "Healthy";
    int f = open(ping_path, O_RDONLY);
    if (f >= 0) {
        ssize_t n = read(f, state, sizeof state - 1);
        state[n > 0 ? n : 0] = '\0';
        close(f);
    }
    char *colon = strchr(state, ':');
    if (colon)
        *colon++ = '\0';
    if (strcmp(state, "fail") == 0) {
        answer(fd, 500, "text/plain", "", "ping failed", 11);
    } else if (strcmp(state, "hang") == 0) {
        sleep(30);
    } else {
        char body[256];
        int n = colon ? snprintf(body, sizeof body, "{\"status\":\"%s\",\"time_of_last_update\":%s}", state, colon)
                      : snprintf(body, sizeof body, "{\"status\":\"%s\"}", state);
        answer(fd, 200, "application/json", "", body, (size_t)n);
    }
}

/* The fake vCPU: idle (sleeping, like a vCPU in WFI) until PATH.burn asks for CPU time. It only
 * makes system calls (no malloc, no stdio): the process forks while it runs. */
static void *fake_vcpu(void *unused)
{
    (void)unused;
    for (;;) {
        usleep(20000);
        int f = open(burn_path, O_RDONLY);
        if (f < 0)
            continue;
        char ms[32];
        ssize_t n = read(f, ms, sizeof ms - 1);
        close(f);
        unlink(burn_path);
        ms[n > 0 ? n : 0] = '\0';
        long want = strtol(ms, NULL, 10);
        struct timespec t0, t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        do {
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < want);
    }
    return NULL;
}

/* Reads the next request of a kept-alive connection; false when the client closed it or it
 * broke. While the connection is idle (between requests), a "drop-idle" elsewhere closes it. */
static bool next_request(int fd, struct http_request *rq)
{
    if (served > 0) {
        unsigned gen = __atomic_load_n(&shared->drop_gen, __ATOMIC_SEQ_CST);
        for (;;) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, 50) > 0)
                break;
            if (__atomic_load_n(&shared->drop_gen, __ATOMIC_SEQ_CST) != gen) {
                memset(rq, 0, sizeof *rq);
                return false;
            }
        }
    }
    if (!read_request(fd, rq))
        return false;
    served++;
    const char *conn = header(rq, "connection");
    closing = conn && strcasestr(conn, "close") != NULL;
    if (!conn_id && strcmp(rq->path, "/invocations") == 0)
        conn_id = __atomic_add_fetch(&shared->conns, 1, __ATOMIC_SEQ_CST);
    return true;
}

static void serve_ws(int fd, struct http_request *rq);

/* One request on guest port 8080. */
static void serve_agent(int fd, struct http_request *rqp)
{
    struct http_request rq = *rqp;
    const char *b = rq.body;
    if (strcmp(rq.path, "/ping") == 0) {
        serve_ping(fd);
    } else if (strcmp(rq.path, "/ws") == 0 && strcmp(rq.method, "GET") == 0) {
        serve_ws(fd, rqp);
    } else if (strncmp(b, "ping:", 5) == 0 || strncmp(b, "burn:", 5) == 0) {
        bool ok = write_file(b[0] == 'p' ? ping_path : burn_path, b + 5);
        answer(fd, ok ? 200 : 500, "text/plain", "", ok ? "set" : "cannot set", ok ? 3 : 10);
    } else if (strcmp(rq.path, "/invocations") != 0 || strcmp(rq.method, "POST") != 0) {
        answer(fd, 404, "text/plain", "", "not found", 9);
    } else if (strcmp(b, "sse") == 0 || strcmp(b, "sse-long") == 0) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Transfer-Encoding: chunked\r\n";
        write_all(fd, head, sizeof head - 1);
        write_all(fd, closing ? "Connection: close\r\n\r\n" : "\r\n", closing ? 21 : 2);
        int events = strcmp(b, "sse") == 0 ? 3 : 200;
        for (int i = 0; i < events; i++) {
            char ev[64];
            int n = snprintf(ev, sizeof ev, "data: {\"event\":%d}\n\n", i);
            if (!write_chunk(fd, ev, (size_t)n))
                break;
            usleep(50000);
        }
        write_chunk(fd, "", 0);
    } else if (strcmp(b, "fail") == 0) {
        static const char s[] = "{\"error\":\"boom\"}";
        answer(fd, 500, "application/json", "", s, sizeof s - 1);
    } else if (strcmp(b, "whoami") == 0) {
        json_object *o = whoami(&rq);
        answer_json(fd, 200, o, "");
        json_object_put(o);
    } else if (strcmp(b, "conns") == 0 || strncmp(b, "sleep:", 6) == 0 || strcmp(b, "close") == 0 ||
               strcmp(b, "http10") == 0 || strcmp(b, "extra") == 0 || strcmp(b, "drop-idle") == 0 ||
               strcmp(b, "late-extra") == 0) {
        if (b[0] == 's')
            usleep((useconds_t)strtoul(b + 6, NULL, 10) * 1000);
        char body[128];
        int n = snprintf(body, sizeof body, "{\"conn\":%u,\"conns\":%u,\"served\":%u}", conn_id,
                         __atomic_load_n(&shared->conns, __ATOMIC_SEQ_CST), served);
        char out[512];
        int o = snprintf(out, sizeof out, "HTTP/1.%c 200 OK\r\nContent-Type: application/json\r\n"
                                          "Content-Length: %d\r\n%s\r\n%s%s",
                         strcmp(b, "http10") == 0 ? '0' : '1', n,
                         closing || strcmp(b, "close") == 0 ? "Connection: close\r\n" : "", body,
                         strcmp(b, "extra") == 0 ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfake!" : "");
        write_all(fd, out, (size_t)o);
        if (strcmp(b, "late-extra") == 0) {
            static const char unasked[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                          "Content-Length: 7\r\n\r\n\"fake!\"";
            usleep(100000);
            write_all(fd, unasked, sizeof unasked - 1);
        }
        if (strcmp(b, "drop-idle") == 0) {
            __atomic_add_fetch(&shared->drop_gen, 1, __ATOMIC_SEQ_CST);
            closing = true;      /* this one too, though its answer did not say so */
        }
    } else if (strcmp(b, "crash") == 0) {
        unlink(socket_path);
        unlink(ping_path);
        unlink(burn_path);
        kill(-vmm_pid, SIGKILL);
        _exit(0);
    } else if (strcmp(b, "seccomp") == 0) {
        unlink(socket_path);
        unlink(ping_path);
        unlink(burn_path);
        signal(SIGSYS, SIG_DFL);
        kill(vmm_pid, SIGSYS);   /* the VMM dies of SIGSYS, as silo-vmm after a seccomp violation */
        usleep(200 * 1000);
        kill(-vmm_pid, SIGKILL); /* whatever else of it is left */
        _exit(0);
    } else {
        const char *ct = header(&rq, "content-type");
        answer(fd, 200, ct ? ct : "application/octet-stream", "", rq.body, rq.body_len);
    }
}

/* ---------------------------------------------------------------- GET /ws: a WebSocket echo */

static bool read_exact(int fd, void *p, size_t n)
{
    unsigned char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

/* One unmasked (server) frame. */
static bool ws_send(int fd, unsigned opcode, const void *data, size_t n)
{
    unsigned char head[10];
    size_t hl = 2;
    head[0] = (unsigned char)(0x80 | opcode);
    if (n < 126)
        head[1] = (unsigned char)n;
    else if (n < 65536) {
        head[1] = 126;
        head[2] = (unsigned char)(n >> 8);
        head[3] = (unsigned char)n;
        hl = 4;
    } else {
        head[1] = 127;
        for (int i = 0; i < 8; i++)
            head[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    return write_all(fd, head, hl) && write_all(fd, data, n);
}

static void serve_ws(int fd, struct http_request *rq)
{
    const char *key = header(rq, "sec-websocket-key"), *up = header(rq, "upgrade");
    const char *ver = header(rq, "sec-websocket-version"), *sid = header(rq, "x-amzn-bedrock-agentcore-runtime-session-id");
    if (sid && strncmp(sid, "ws-refuse", 9) == 0) {
        closing = true;
        answer(fd, 403, "text/plain", "", "no websockets for you", 21);
        return;
    }
    if (!key || !up || strcasecmp(up, "websocket") != 0 || !ver || strcmp(ver, "13") != 0) {
        closing = true;
        answer(fd, 400, "text/plain", "", "not a websocket upgrade", 23);
        return;
    }
    unsigned char digest[EVP_MAX_MD_SIZE], accept[64];
    unsigned dn = 0;
    char cat[128];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    EVP_Digest(cat, strlen(cat), digest, &dn, EVP_sha1(), NULL);
    EVP_EncodeBlock(accept, digest, (int)dn);
    char head[1024], proto[300] = "";
    const char *offered = header(rq, "sec-websocket-protocol");
    if (offered)
        snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %.*s\r\n", (int)strcspn(offered, ", "), offered);
    int hn = snprintf(head, sizeof head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n", accept, proto);
    write_all(fd, head, (size_t)hn);
    closing = true;                     /* the connection is the WebSocket's from now on */
    bool close_sent = false;
    for (;;) {
        unsigned char h[2], ext[8], mask[4];
        if (!read_exact(fd, h, 2))
            return;
        unsigned opcode = h[0] & 0x0f;
        uint64_t len = h[1] & 0x7f;
        if (len == 126 && read_exact(fd, ext, 2))
            len = (uint64_t)ext[0] << 8 | ext[1];
        else if (len == 127 && read_exact(fd, ext, 8)) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | ext[i];
        }
        if (!(h[1] & 0x80) || len > (8u << 20) || !read_exact(fd, mask, 4))
            return;                     /* a client frame is always masked; a test bounds it */
        unsigned char *data = malloc(len + 1);
        if (!data || !read_exact(fd, data, len)) {
            free(data);
            return;
        }
        for (uint64_t i = 0; i < len; i++)
            data[i] ^= mask[i % 4];
        data[len] = '\0';
        bool more = true;
        if (opcode == 0x8 && close_sent) {
            /* the answer to our close: end our side (FIN) and wait for the client's, as a ws
             * server does, so the half-close has to travel back through silod */
            shutdown(fd, SHUT_WR);
            char drain[256];
            while (read(fd, drain, sizeof drain) > 0)
                ;
            more = false;
        } else if (opcode == 0x8) {     /* close: answered with the same code, then the end */
            ws_send(fd, 0x8, data, len >= 2 ? 2 : 0);
            more = false;
        } else if (opcode == 0x9) {
            ws_send(fd, 0xA, data, len);
        } else if (opcode == 0x1 && strcmp((char *)data, "whoami") == 0) {
            json_object *o = whoami(rq);
            const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
            ws_send(fd, 0x1, js, strlen(js));
            json_object_put(o);
        } else if (opcode == 0x1 && strncmp((char *)data, "big:", 4) == 0) {
            size_t n = strtoul((char *)data + 4, NULL, 10);
            unsigned char *big = malloc(n ? n : 1);
            for (size_t i = 0; big && i < n; i++)
                big[i] = (unsigned char)(i % 251);
            if (big)
                ws_send(fd, 0x2, big, n);
            free(big);
        } else if (opcode == 0x1 && strcmp((char *)data, "close") == 0) {
            ws_send(fd, 0x8, "\x03\xe8" "bye", 5);
            close_sent = true;
        } else if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
            more = ws_send(fd, opcode ? opcode : 0x1, data, len);
        }
        free(data);
        if (!more)
            return;
    }
}

/* ---------------------------------------------------------------- port 8000: MCP */

static json_object *mcp_result(const struct http_request *rq, const char *method, json_object *params)
{
    json_object *r = json_object_new_object();
    if (strcmp(method, "initialize") == 0) {
        json_object *v = params ? json_object_object_get(params, "protocolVersion") : NULL;
        json_object_object_add(r, "protocolVersion", json_object_new_string(v ? json_object_get_string(v) : "2025-06-18"));
        json_object *caps = json_object_new_object();
        json_object_object_add(caps, "tools", json_object_new_object());
        json_object_object_add(r, "capabilities", caps);
        json_object *info = json_object_new_object();
        json_object_object_add(info, "name", json_object_new_string("fake-vmm-mcp"));
        json_object_object_add(info, "version", json_object_new_string("0.0.1"));
        json_object_object_add(r, "serverInfo", info);
    } else if (strcmp(method, "tools/list") == 0) {
        json_object *tools = json_object_new_array(), *t = json_object_new_object();
        json_object_object_add(t, "name", json_object_new_string("whoami"));
        json_object_object_add(t, "description", json_object_new_string("reports what the guest received"));
        json_object *schema = json_object_new_object();
        json_object_object_add(schema, "type", json_object_new_string("object"));
        json_object_object_add(schema, "properties", json_object_new_object());
        json_object_object_add(t, "inputSchema", schema);
        json_object_array_add(tools, t);
        json_object_object_add(r, "tools", tools);
    } else if (strcmp(method, "tools/call") == 0) {
        json_object *info = json_object_new_object();
        json_object *args = params ? json_object_object_get(params, "arguments") : NULL;
        json_object_object_add(info, "arguments", args ? json_object_get(args) : json_object_new_object());
        const char *msid = header(rq, "mcp-session-id"), *rsid = header(rq, "x-amzn-bedrock-agentcore-runtime-session-id");
        json_object_object_add(info, "mcpSessionId", msid ? json_object_new_string(msid) : NULL);
        json_object_object_add(info, "runtimeSessionId", rsid ? json_object_new_string(rsid) : NULL);
        json_object_object_add(info, "vmm_pid", json_object_new_int(vmm_pid));
        json_object *content = json_object_new_array(), *item = json_object_new_object();
        json_object_object_add(item, "type", json_object_new_string("text"));
        json_object_object_add(item, "text", json_object_new_string(json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN)));
        json_object_array_add(content, item);
        json_object_object_add(r, "content", content);
        json_object_put(info);
    } else if (strcmp(method, "ping") != 0) {
        json_object_put(r);
        return NULL;
    }
    return r;
}

/* One request on guest port 8000. */
static void serve_mcp(int fd, struct http_request *rqp)
{
    struct http_request rq = *rqp;
    json_object *req = NULL, *m, *id = NULL;
    if (strcmp(rq.path, "/mcp") != 0) {
        answer(fd, 404, "text/plain", "", "not found", 9);
    } else if (strcmp(rq.method, "POST") != 0) {
        answer(fd, 405, "text/plain", "Allow: POST\r\n", "method not allowed", 18);
    } else if (!(req = json_tokener_parse(rq.body)) || !json_object_object_get_ex(req, "method", &m)) {
        static const char s[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error\"}}";
        answer(fd, 400, "application/json", "", s, sizeof s - 1);
    } else if (!json_object_object_get_ex(req, "id", &id)) {
        answer(fd, 202, "application/json", "", "", 0);    /* a notification */
    } else {
        const char *method = json_object_get_string(m);
        json_object *resp = json_object_new_object();
        json_object_object_add(resp, "jsonrpc", json_object_new_string("2.0"));
        json_object_object_add(resp, "id", json_object_get(id));
        json_object *result = mcp_result(&rq, method, json_object_object_get(req, "params"));
        if (result) {
            json_object_object_add(resp, "result", result);
        } else {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "code", json_object_new_int(-32601));
            json_object_object_add(e, "message", json_object_new_string("method not found"));
            json_object_object_add(resp, "error", e);
        }
        const char *accept = header(&rq, "accept");
        if (strcmp(method, "tools/call") == 0 && accept && strstr(accept, "text/event-stream")) {
            static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                       "Transfer-Encoding: chunked\r\n";
            write_all(fd, head, sizeof head - 1);
            write_all(fd, closing ? "Connection: close\r\n\r\n" : "\r\n", closing ? 21 : 2);
            usleep(20000);
            const char *s = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN);
            char *ev = NULL;
            int n = asprintf(&ev, "event: message\ndata: %s\n\n", s);
            if (n > 0) {             /* split in two chunks: the client must see one event */
                write_chunk(fd, ev, (size_t)n / 2);
                write_chunk(fd, ev + n / 2, (size_t)n - (size_t)n / 2);
            }
            write_chunk(fd, "", 0);
            free(ev);
        } else {
            answer_json(fd, 200, resp, "");
        }
        json_object_put(resp);
    }
    json_object_put(req);
}

/* ---------------------------------------------------------------- port 9000: A2A */

/* What the A2A agent saw: the VMM, the session and A2A-Version headers (and params if any). */
static json_object *a2a_seen(const struct http_request *rq, json_object *params)
{
    json_object *o = json_object_new_object();
    const char *sid = header(rq, "x-amzn-bedrock-agentcore-runtime-session-id"), *ver = header(rq, "a2a-version");
    json_object_object_add(o, "vmm_pid", json_object_new_int(vmm_pid));
    json_object_object_add(o, "runtimeSessionId", sid ? json_object_new_string(sid) : NULL);
    json_object_object_add(o, "a2aVersion", ver ? json_object_new_string(ver) : NULL);
    if (params)
        json_object_object_add(o, "params", json_object_get(params));
    return o;
}

static json_object *a2a_text_part(json_object *seen)
{
    json_object *part = json_object_new_object();
    json_object_object_add(part, "kind", json_object_new_string("text"));
    json_object_object_add(part, "text", json_object_new_string(json_object_to_json_string_ext(seen, JSON_C_TO_STRING_PLAIN)));
    return part;
}

static void a2a_card(int fd, const struct http_request *rq)
{
    char image[512] = "";
    FILE *f = disk_path ? fopen(disk_path, "r") : NULL;
    if (f) {
        if (!fgets(image, sizeof image, f))
            image[0] = '\0';
        fclose(f);
    }
    if (strstr(image, "badcard")) {
        answer(fd, 200, "application/json", "", "not json", 8);
        return;
    }
    if (strstr(image, "trailcard")) {
        answer(fd, 200, "application/json", "", "{\"name\":\"x\"} {}", 16);
        return;
    }
    json_object *card = json_object_new_object(), *caps = json_object_new_object(), *modes = json_object_new_array();
    json_object_object_add(card, "name", json_object_new_string("fake-vmm-a2a"));
    json_object_object_add(card, "description", json_object_new_string("the fake VMM's A2A responder"));
    json_object_object_add(card, "url", json_object_new_string("http://127.0.0.1:9000/"));
    json_object_object_add(card, "protocolVersion", json_object_new_string("0.3.0"));
    json_object_object_add(card, "version", json_object_new_string("0.0.1"));
    json_object_object_add(caps, "streaming", json_object_new_boolean(1));
    json_object_object_add(card, "capabilities", caps);
    json_object_array_add(modes, json_object_new_string("text"));
    json_object_object_add(card, "defaultInputModes", json_object_get(modes));
    json_object_object_add(card, "defaultOutputModes", modes);
    json_object_object_add(card, "skills", json_object_new_array());
    json_object_object_add(card, "x-silo-seen", a2a_seen(rq, NULL));
    answer_json(fd, 200, card, "");
    json_object_put(card);
}

/* One SSE event of a message/stream answer, as a chunk: a JSON-RPC result of `kind`. */
static void a2a_event(int fd, json_object *id, const char *kind, const char *state, json_object *seen, bool final)
{
    json_object *ev = json_object_new_object(), *res = json_object_new_object();
    json_object_object_add(ev, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(ev, "id", json_object_get(id));
    json_object_object_add(res, "kind", json_object_new_string(kind));
    json_object_object_add(res, "taskId", json_object_new_string("fake-task"));
    json_object_object_add(res, "contextId", json_object_new_string("fake-context"));
    if (state) {
        json_object *st = json_object_new_object();
        json_object_object_add(st, "state", json_object_new_string(state));
        json_object_object_add(res, "status", st);
        json_object_object_add(res, "final", json_object_new_boolean(final));
    } else {
        json_object *art = json_object_new_object(), *parts = json_object_new_array();
        json_object_object_add(art, "artifactId", json_object_new_string("fake-artifact"));
        json_object_array_add(parts, a2a_text_part(seen));
        json_object_object_add(art, "parts", parts);
        json_object_object_add(res, "artifact", art);
    }
    json_object_object_add(ev, "result", res);
    char *line = NULL;
    int n = asprintf(&line, "data: %s\n\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
    if (n > 0)
        write_chunk(fd, line, (size_t)n);
    free(line);
    json_object_put(ev);
}

/* One request on guest port 9000. */
static void serve_a2a(int fd, struct http_request *rqp)
{
    struct http_request rq = *rqp;
    json_object *req = NULL, *m, *id = NULL;
    if (strcmp(rq.method, "GET") == 0 && strcmp(rq.path, "/.well-known/agent-card.json") == 0) {
        a2a_card(fd, &rq);
    } else if (strcmp(rq.path, "/") != 0 || strcmp(rq.method, "POST") != 0) {
        answer(fd, 404, "text/plain", "", "not found", 9);
    } else if (!(req = json_tokener_parse(rq.body)) || !json_object_object_get_ex(req, "method", &m) ||
               !json_object_object_get_ex(req, "id", &id)) {
        static const char s[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error\"}}";
        answer(fd, 200, "application/json", "", s, sizeof s - 1);
    } else {
        const char *method = json_object_get_string(m), *accept = header(&rq, "accept");
        json_object *seen = a2a_seen(&rq, json_object_object_get(req, "params"));
        bool stream = !strcmp(method, "message/stream") || !strcmp(method, "SendStreamingMessage");
        if (stream && accept && strstr(accept, "text/event-stream")) {
            static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                       "Transfer-Encoding: chunked\r\n";
            write_all(fd, head, sizeof head - 1);
            write_all(fd, closing ? "Connection: close\r\n\r\n" : "\r\n", closing ? 21 : 2);
            a2a_event(fd, id, "status-update", "working", seen, false);
            usleep(50000);
            a2a_event(fd, id, "artifact-update", NULL, seen, false);
            usleep(50000);
            a2a_event(fd, id, "status-update", "completed", seen, true);
            write_chunk(fd, "", 0);
        } else {
            json_object *resp = json_object_new_object();
            json_object_object_add(resp, "jsonrpc", json_object_new_string("2.0"));
            json_object_object_add(resp, "id", json_object_get(id));
            if (!strcmp(method, "message/send") || !strcmp(method, "SendMessage")) {
                json_object *msg = json_object_new_object(), *parts = json_object_new_array();
                json_object_object_add(msg, "kind", json_object_new_string("message"));
                json_object_object_add(msg, "role", json_object_new_string("agent"));
                json_object_object_add(msg, "messageId", json_object_new_string("fake-reply"));
                json_object_array_add(parts, a2a_text_part(seen));
                json_object_object_add(msg, "parts", parts);
                json_object_object_add(resp, "result", msg);
            } else {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "code", json_object_new_int(-32601));
                json_object_object_add(e, "message", json_object_new_string("method not found"));
                json_object_object_add(resp, "error", e);
            }
            answer_json(fd, 200, resp, "");
            json_object_put(resp);
        }
        json_object_put(seen);
    }
    json_object_put(req);
}

/* SIGUSR2 with --snapshot-to: a fake snapshot, then exit 0 as silo-vmm does. */
static void on_usr2(int sig)
{
    (void)sig;
    if (!snapshot_to)
        return;
    char path[4200];
    mkdir(snapshot_to, 0700);
    snprintf(path, sizeof path, "%s/state", snapshot_to);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0 && write(fd, "SILOSNAP", 8) == 8)
        close(fd);
    snprintf(path, sizeof path, "%s/memory", snapshot_to);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
    unlink(socket_path);
    kill(0, SIGKILL); /* the whole group: no connection outlives the "VM" */
}

/* Guest port 1024: agentd's RESTORED and EXEC. */
static void serve_control(int fd)
{
    char line[CP_MAX_LINE + 1], cwd[4096];
    struct cp_restored a;
    struct cp_exec_request exec;
    bool got = read_line(fd, line, sizeof line) == 0;
    if (got && cp_decode_exec(line, strlen(line), &exec) == 0) {
        struct command_identity id = { environ, getcwd(cwd, sizeof cwd) ? cwd : "/", getuid(), getgid(), "/bin/sh" };
        command_exec_serve(fd, &exec, "", 0, &id);   /* read_line read nothing past the line */
    } else if (got && cp_decode_restored(line, strlen(line), &a) == 0) {
        char mark[4300];
        snprintf(mark, sizeof mark, "%s.restored", socket_path);
        int m = open(mark, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (m >= 0)
            close(m);
        write_all(fd, "OK RESTORED\n", 12);
        if (die_after_restored) {
            shutdown(fd, SHUT_RDWR);
            kill(vmm_pid, SIGKILL);
        }
    } else {
        write_all(fd, "ERR STATUS bad-request\n", 23);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--vsock-uds") == 0)
            socket_path = argv[i + 1];
        else if (strcmp(argv[i], "--snapshot-to") == 0)
            snapshot_to = argv[i + 1];
        else if (strcmp(argv[i], "--restore") == 0) {
            char fail[4200];
            snprintf(fail, sizeof fail, "%s/fail", argv[i + 1]);
            if (access(fail, F_OK) == 0) {
                fprintf(stderr, "silo-vmm: --restore %s: refused (fake_vmm)\n", argv[i + 1]);
                return 1;
            }
            snprintf(fail, sizeof fail, "%s/die", argv[i + 1]);
            die_after_restored = access(fail, F_OK) == 0;
        }
        else if (strcmp(argv[i], "--disk") == 0 && !disk_path) {
            char *d = strdup(argv[i + 1]), *comma = strrchr(d, ',');
            if (comma && (strcmp(comma, ",ro") == 0 || strcmp(comma, ",cow") == 0))
                *comma = '\0';
            disk_path = d;
        }
    }
    if (!socket_path) {
        fprintf(stderr, "fake_vmm: --vsock-uds PATH is required\n");
        return 2;
    }
    vmm_pid = getpid();
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("fake_vmm: mmap");
        return 1;
    }
    snprintf(ping_path, sizeof ping_path, "%s.ping", socket_path);
    snprintf(burn_path, sizeof burn_path, "%s.burn", socket_path);
    pthread_t vcpu;
    if (pthread_create(&vcpu, NULL, fake_vcpu, NULL) == 0)
        pthread_setname_np(vcpu, "vcpu0");
    setpgid(0, 0);              /* its own group: the connection children die with it */
    signal(SIGTERM, on_term);
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
    unlink(socket_path);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 16) != 0) {
        perror("fake_vmm: listen");
        return 1;
    }
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            close(ls);
            signal(SIGTERM, SIG_DFL);
            char line[64];
            unsigned port = 0;
            if (read_line(c, line, sizeof line) == 0 && sscanf(line, "CONNECT %u", &port) == 1 && port == 1024) {
                write_all(c, "OK 1073741824\n", 14);
                serve_control(c);
                _exit(0);
            }
            if (port == 8080 || port == 8000 || port == 9000) {
                write_all(c, "OK 1073741824\n", 14);
                struct http_request rq;
                while (next_request(c, &rq)) {      /* keep-alive: request after request */
                    if (port == 8080)
                        serve_agent(c, &rq);
                    else if (port == 8000)
                        serve_mcp(c, &rq);
                    else
                        serve_a2a(c, &rq);
                    free_request(&rq);
                    if (closing)
                        break;
                }
                free_request(&rq);
            }
            close(c);
            _exit(0);
        }
        close(c);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}
