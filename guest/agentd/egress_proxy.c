/* guest/agentd/egress_proxy.c — the HTTP forward proxy and the transparent egress path (see
 * egress_proxy.h). Errors reach the agent as short text/plain answers; refusals by the host
 * carry its rule in X-Silo-Egress-Rule. */
#include "guest/agentd/egress_proxy.h"
#include "guest/agentd/egress_client.h"
#include "guest/agentd/host_name.h"
#include "guest/agentd/host_channel.h"
#include "base/mono_time.h"
#include "guest/agentd/http_head.h"
#include "guest/agentd/proxy_request.h"
#include "guest/agentd/relay.h"
#include "guest/agentd/synth_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG(...) (fprintf(stderr, "silo-agentd: " __VA_ARGS__), fputc('\n', stderr))

static void answer_text(int fd, int status, const char *extra_headers, const char *body)
{
    char out[2048];
    int n = http_format_response(out, sizeof out, status, "text/plain", extra_headers, body, strlen(body));
    if (n > 0)
        host_channel_write_all(fd, out, (size_t)n);
}

static void answer_refusal(int fd, const struct egress_verdict *v)
{
    char header[128], body[EGRESS_MAX_VERDICT_LINE + 128];
    snprintf(header, sizeof header, "X-Silo-Egress-Rule: %s\r\n", v->rule);
    snprintf(body, sizeof body, "silo egress: %s (rule %s)\n", v->message, v->rule);
    answer_text(fd, v->status, header, body);
}

static void answer_bad_request(int fd, int status, const char *why)
{
    char body[256];
    snprintf(body, sizeof body, "silo proxy: %s\n", why);
    answer_text(fd, status, NULL, body);
}

void egress_proxy_refuse_busy(int client_fd)
{
    static const char body[] = "silo proxy: too many egress connections open at once\n";
    char out[512];
    int n = http_format_response(out, sizeof out, 429, "text/plain", "X-Silo-Egress-Rule: limit\r\n", body,
                                 sizeof body - 1);
    if (n > 0 && send(client_fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {}
    close(client_fd);
}

/* Reads until a whole head is parsed or refused. 1 parsed, -1 refused (answered), 0 gone. */
static int read_request(int fd, char *buf, size_t *len, struct proxy_request *req)
{
    int64_t deadline = mono_ms() + PROXY_HEAD_TIMEOUT_MS;
    *len = 0;
    for (;;) {
        int ready = host_channel_wait_readable(fd, deadline);
        if (ready == 0) {
            answer_bad_request(fd, 408, "no complete request head within 30 s");
            return -1;
        }
        ssize_t n = ready < 0 ? -1 : recv(fd, buf + *len, PROXY_MAX_HEAD - *len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        *len += (size_t)n;
        int parsed = proxy_request_parse(buf, *len, req);
        if (parsed == 1)
            return 1;
        if (parsed < 0) {
            answer_bad_request(fd, req->status, req->error);
            return -1;
        }
    }
}

/* The bytes to send upstream first: for absolute-form the rewritten head, then whatever body
 * bytes came with the head. */
static int upstream_preload(const char *buf, size_t len, const struct proxy_request *req, char *out, size_t cap)
{
    size_t used = 0;
    if (req->kind == PROXY_ABSOLUTE) {
        int n = proxy_request_rewrite(buf, req, out, cap);
        if (n < 0)
            return -1;
        used = (size_t)n;
    }
    size_t body = len - req->head_len;
    if (used + body > cap)
        return -1;
    memcpy(out + used, buf + req->head_len, body);
    return (int)(used + body);
}

/* A client that resolved the name through the stub and then asked the proxy for the address
 * gets the name back, so the host decides on the name and not on a loopback address. */
static void unsynthesize(char *host, size_t cap)
{
    struct in_addr a;
    char name[HOST_NAME_BUF];
    if (inet_pton(AF_INET, host, &a) == 1 && synth_names_lookup(ntohl(a.s_addr), name, sizeof name) &&
        strlen(name) < cap)
        strcpy(host, name);
}

void egress_proxy_serve(int client_fd)
{
    char *buf = malloc(PROXY_MAX_HEAD), *preload = malloc(PROXY_MAX_HEAD + PROXY_REWRITE_SLACK);
    size_t len;
    struct proxy_request req;
    if (buf == NULL || preload == NULL || read_request(client_fd, buf, &len, &req) != 1)
        goto out;
    int preload_len = upstream_preload(buf, len, &req, preload, PROXY_MAX_HEAD + PROXY_REWRITE_SLACK);
    free(buf);                          /* not needed while relaying: keep each stream small */
    buf = NULL;
    if (preload_len < 0) {
        answer_bad_request(client_fd, 431, "request head too long to rewrite");
        goto out;
    }
    struct egress_verdict v;
    unsynthesize(req.host, sizeof req.host);
    int up = egress_open(req.host, req.port, &v);
    if (up < 0) {
        answer_refusal(client_fd, &v);
        goto out;
    }
    static const char established[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
    if (req.kind == PROXY_CONNECT && host_channel_write_all(client_fd, established, sizeof established - 1) < 0) {
        close(up);
        goto out;
    }
    relay_run(client_fd, up, preload, (size_t)preload_len);
    close(up);
out:
    free(buf);
    free(preload);
    close(client_fd);
}

/* The name the dialled address was handed out for; false (logged once) when there is none. */
static bool dialled_name(int client_fd, char *name, size_t cap)
{
    static atomic_bool logged_unknown;
    struct sockaddr_in local;
    socklen_t local_len = sizeof local;
    if (getsockname(client_fd, (struct sockaddr *)&local, &local_len) < 0 || local.sin_family != AF_INET)
        return false;
    uint32_t address = ntohl(local.sin_addr.s_addr);
    if (synth_names_lookup(address, name, cap))
        return true;
    if (!atomic_exchange(&logged_unknown, true)) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
        LOG("transparent egress: a connection to %s, which is no name's address from the DNS stub, "
            "was closed (only names resolved through 127.0.0.1:53 can be reached; logged once)", text);
    }
    return false;
}

void egress_transparent_serve(int client_fd, uint16_t port)
{
    char name[HOST_NAME_BUF];
    if (dialled_name(client_fd, name, sizeof name)) {
        struct egress_verdict v;
        int up = egress_open(name, port, &v);
        if (up >= 0) {
            relay_run(client_fd, up, NULL, 0);
            close(up);
        } else {
            LOG("transparent egress to %s:%u refused: %d %s %s", name, (unsigned)port, v.status, v.rule, v.message);
        }
    }
    close(client_fd);
}
