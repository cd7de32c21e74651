/* tests/frontend/devhost/model_standin.c — a STAND-IN model server for the egress tests (it is
 * not a model, and nothing but tests uses it). It runs in the dev host beside silod and plays the
 * outside world that agents in microVMs reach through the egress path:
 *
 *   silo-model-standin [--tls-port 443 --cert server.pem --key server.key] [--http-port 8081]
 *
 * On both ports (HTTPS and plain HTTP), one request per connection (`Connection: close`):
 *   POST /v1/chat/completions   an OpenAI-compatible answer: "stand-in answer to: <last user
 *                               message>", as one JSON object or, with "stream": true, as SSE
 *                               chat.completion.chunk events (one per word) ending `data: [DONE]`
 *   GET /bytes?n=N              N bytes (≤ 1 GiB) of the pattern byte[i] = i % 251
 *   GET /hello                  a short text (the "allow-listed private service")
 *   GET /hold                   headers, then one '.' a second until the client goes away; then
 *                               logs `silo-model-standin: hold closed after N s`
 * Every request is logged on stderr as `silo-model-standin: METHOD PATH from ADDR`. */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD (16 * 1024)
#define MAX_BODY (1024 * 1024)
#define MAX_BYTES (1024ull * 1024 * 1024)

static SSL_CTX *tls_ctx;

struct conn {
    int fd;
    SSL *tls;               /* NULL on the plain port */
    char peer[64];
};

static int conn_write(struct conn *c, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n;
        if (c->tls) {
            int r = SSL_write(c->tls, p, len > (1u << 30) ? (1 << 30) : (int)len);
            n = r > 0 ? r : -1;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
        }
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
    if (c->tls) {
        int r = SSL_read(c->tls, buf, (int)len);
        return r > 0 ? r : (r == 0 ? 0 : -1);
    }
    ssize_t n;
    do n = recv(c->fd, buf, len, 0); while (n < 0 && errno == EINTR);
    return n;
}

static int write_text(struct conn *c, int status, const char *ctype, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, status == 200 ? "OK" : "Error", ctype, strlen(body));
    return conn_write(c, head, (size_t)n) || conn_write(c, body, strlen(body));
}

/* The last user message's content of an OpenAI chat request, or "" */
static const char *last_user_message(json_object *req)
{
    json_object *msgs, *m, *role, *content;
    const char *out = "";
    if (!json_object_object_get_ex(req, "messages", &msgs) || !json_object_is_type(msgs, json_type_array))
        return out;
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        m = json_object_array_get_idx(msgs, i);
        if (json_object_object_get_ex(m, "role", &role) && json_object_object_get_ex(m, "content", &content) &&
            strcmp(json_object_get_string(role), "user") == 0 && json_object_is_type(content, json_type_string))
            out = json_object_get_string(content);
    }
    return out;
}

static void chat(struct conn *c, const char *body, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *req = json_tokener_parse_ex(tok, body, (int)len);
    json_tokener_free(tok);
    if (!req) {
        write_text(c, 400, "application/json", "{\"error\":{\"message\":\"the body is not JSON\"}}");
        return;
    }
    json_object *stream;
    bool streaming = json_object_object_get_ex(req, "stream", &stream) && json_object_get_boolean(stream);
    char answer[2048];
    snprintf(answer, sizeof answer, "stand-in answer to: %s", last_user_message(req));
    if (!streaming) {
        json_object *out = json_object_new_object(), *choices = json_object_new_array();
        json_object *choice = json_object_new_object(), *msg = json_object_new_object();
        json_object_object_add(msg, "role", json_object_new_string("assistant"));
        json_object_object_add(msg, "content", json_object_new_string(answer));
        json_object_object_add(choice, "index", json_object_new_int(0));
        json_object_object_add(choice, "message", msg);
        json_object_object_add(choice, "finish_reason", json_object_new_string("stop"));
        json_object_array_add(choices, choice);
        json_object_object_add(out, "id", json_object_new_string("chatcmpl-standin"));
        json_object_object_add(out, "object", json_object_new_string("chat.completion"));
        json_object_object_add(out, "model", json_object_new_string("silo-standin"));
        json_object_object_add(out, "choices", choices);
        write_text(c, 200, "application/json", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
        json_object_put(out);
        json_object_put(req);
        return;
    }
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                               "Connection: close\r\n\r\n";
    if (conn_write(c, head, sizeof head - 1))
        goto out;
    /* one event per word, the space kept with the word before it */
    for (char *w = answer; *w;) {
        char *end = strchr(w, ' ');
        size_t wl = end ? (size_t)(end - w) + 1 : strlen(w);
        char word[512];
        snprintf(word, sizeof word, "%.*s", (int)(wl < sizeof word ? wl : sizeof word - 1), w);
        json_object *delta = json_object_new_object();
        json_object_object_add(delta, "content", json_object_new_string(word));
        char ev[2048];
        int n = snprintf(ev, sizeof ev, "data: {\"id\":\"chatcmpl-standin\",\"object\":\"chat.completion.chunk\","
                         "\"model\":\"silo-standin\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n",
                         json_object_to_json_string_ext(delta, JSON_C_TO_STRING_PLAIN));
        json_object_put(delta);
        if (n < 0 || (size_t)n >= sizeof ev || conn_write(c, ev, (size_t)n))
            goto out;
        usleep(20000);
        w += wl;
    }
    static const char tail[] = "data: {\"id\":\"chatcmpl-standin\",\"object\":\"chat.completion.chunk\",\"model\":"
                               "\"silo-standin\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                               "data: [DONE]\n\n";
    conn_write(c, tail, sizeof tail - 1);
out:
    json_object_put(req);
}

static unsigned char pattern_block[251 * 256];   /* byte[i] = i % 251, whole periods */

static void pattern_fill(void)
{
    for (size_t i = 0; i < sizeof pattern_block; i++)
        pattern_block[i] = (unsigned char)(i % 251);
}

static void bytes(struct conn *c, const char *query)
{
    const char *n_arg = query ? strstr(query, "n=") : NULL;
    unsigned long long n = n_arg ? strtoull(n_arg + 2, NULL, 10) : 0;
    if (n > MAX_BYTES) {
        write_text(c, 400, "text/plain", "n too large\n");
        return;
    }
    char head[256];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %llu\r\nConnection: close\r\n\r\n", n);
    if (conn_write(c, head, (size_t)hl))
        return;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pattern_fill);
    unsigned long long total = n;
    while (n > 0) {
        size_t k = n < sizeof pattern_block ? (size_t)n : sizeof pattern_block;
        if (conn_write(c, pattern_block, k)) {
            fprintf(stderr, "silo-model-standin: /bytes to %s failed after %llu of %llu bytes: %s\n", c->peer,
                    total - n, total, strerror(errno));
            return;
        }
        n -= k;
    }
}

static void hold(struct conn *c)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
    time_t t0 = time(NULL);
    if (conn_write(c, head, sizeof head - 1) == 0)
        while (conn_write(c, ".", 1) == 0)
            sleep(1);
    fprintf(stderr, "silo-model-standin: hold closed after %lld s (peer %s)\n", (long long)(time(NULL) - t0), c->peer);
}

static void serve(struct conn *c)
{
    char head[MAX_HEAD + 1];
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got == MAX_HEAD)
            return;
        ssize_t n = conn_read(c, head + got, MAX_HEAD - got);
        if (n <= 0)
            return;
        got += (size_t)n;
        head[got] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    char method[16], target[1024];
    if (sscanf(head, "%15s %1023s", method, target) != 2) {
        write_text(c, 400, "text/plain", "bad request line\n");
        return;
    }
    fprintf(stderr, "silo-model-standin: %s %s from %s\n", method, target, c->peer);
    char *query = strchr(target, '?');
    if (query)
        *query++ = 0;
    if (strcmp(method, "POST") == 0 && strcmp(target, "/v1/chat/completions") == 0) {
        const char *cl = strcasestr(head, "\r\ncontent-length:");
        size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
        if (want > MAX_BODY) {
            write_text(c, 413, "text/plain", "body too large\n");
            return;
        }
        char *body = malloc(want + 1);
        size_t have = got - (size_t)(end + 4 - head);
        if (!body)
            return;
        memcpy(body, end + 4, have < want ? have : want);
        while (have < want) {
            ssize_t n = conn_read(c, body + have, want - have);
            if (n <= 0) {
                free(body);
                return;
            }
            have += (size_t)n;
        }
        chat(c, body, want);
        free(body);
    } else if (strcmp(target, "/bytes") == 0) {
        bytes(c, query);
    } else if (strcmp(target, "/hello") == 0) {
        write_text(c, 200, "text/plain", "hello from the allow-listed service\n");
    } else if (strcmp(target, "/hold") == 0) {
        hold(c);
    } else if (strcmp(target, "/v1/models") == 0) {
        write_text(c, 200, "application/json", "{\"object\":\"list\",\"data\":[{\"id\":\"silo-standin\",\"object\":\"model\"}]}");
    } else {
        write_text(c, 404, "text/plain", "not found\n");
    }
}

/* Closes like a careful HTTP server (Go's net/http, nginx's lingering_close): FIN first, then
 * wait (bounded) for the client's EOF before close(). A plain close() right after the last
 * write orphans a socket that may still hold megabytes the slow reader has not taken yet, and
 * the kernel kills orphans under TCP memory pressure (TCPAbortOnMemory) — in the dev host the
 * stand-in shares silod's kernel, so 64 parallel 10 MiB answers to slow guests did just that. */
static void linger_close(int fd)
{
    struct timeval tv = { .tv_sec = 120 };
    char sink[4096];
    shutdown(fd, SHUT_WR);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (recv(fd, sink, sizeof sink, 0) > 0)
        ;
    close(fd);
}

static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    if (c->tls) {
        SSL_set_fd(c->tls, c->fd);
        if (SSL_accept(c->tls) == 1)
            serve(c);
        SSL_shutdown(c->tls);
        SSL_free(c->tls);
    } else {
        serve(c);
    }
    linger_close(c->fd);
    free(c);
    return NULL;
}

struct listener {
    int fd;
    bool tls;
};

static void *accept_loop(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept(l->fd, (struct sockaddr *)&ss, &sl);
        if (fd < 0)
            continue;
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof c->peer);
        if (l->tls)
            c->tls = SSL_new(tls_ctx);
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 256 * 1024);
        if (pthread_create(&t, &a, conn_thread, c) != 0) {
            if (c->tls)
                SSL_free(c->tls);
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&a);
    }
    return NULL;
}

static int listen_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 512)) {
        fprintf(stderr, "silo-model-standin: cannot listen on port %d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    int tls_port = 0, http_port = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tls-port") == 0) tls_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--http-port") == 0) http_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cert") == 0) cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0) key = argv[i + 1];
        else {
            fprintf(stderr, "silo-model-standin: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if ((!tls_port && !http_port) || (tls_port && (!cert || !key))) {
        fprintf(stderr, "usage: silo-model-standin [--tls-port P --cert F --key F] [--http-port P]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    static struct listener tls_l, http_l;
    if (tls_port) {
        tls_ctx = SSL_CTX_new(TLS_server_method());
        if (!tls_ctx || SSL_CTX_use_certificate_chain_file(tls_ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls_ctx, key, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "silo-model-standin: cannot load %s / %s\n", cert, key);
            return 1;
        }
        tls_l = (struct listener){ listen_tcp(tls_port), true };
        pthread_create(&t, NULL, accept_loop, &tls_l);
    }
    if (http_port) {
        http_l = (struct listener){ listen_tcp(http_port), false };
        pthread_create(&t, NULL, accept_loop, &http_l);
    }
    fprintf(stderr, "silo-model-standin: listening (https %d, http %d)\n", tls_port, http_port);
    for (;;)
        pause();
}
