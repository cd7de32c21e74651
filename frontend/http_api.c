/* frontend/http_api.c — libmicrohttpd glue: auth, routing, streaming proxy (see http_api.h). */
#include "frontend/http_api.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "frontend/aws_error.h"
#include "frontend/strbuf.h"
#include "frontend/vmm_launcher.h"

#define SESSION_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
#define CONTROL_MAX_BODY (1024 * 1024)

struct http_api {
    struct http_api_config cfg;
    struct MHD_Daemon *daemon;
};

enum request_kind { REQ_CONTROL, REQ_INVOKE, REQ_STOP, REQ_UNKNOWN };

/* Per-request state, created by the URI log callback (so the raw URI is kept). */
struct request {
    char *raw_uri;
    char *path, *query;
    enum request_kind kind;
    bool started;
    bool failed;                 /* an error answer is queued once the body is drained */
    const char *err_type;
    char err_msg[320];
    struct sigv4_verifier *sig;
    struct strbuf body;          /* control plane, or invoke when not verifiable early */
    size_t body_len;
    /* invoke */
    struct session *session;
    char session_id[SESSION_ID_MAX + 1];
    int upstream;
};

static void *log_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls; (void)c;
    struct request *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->raw_uri = strdup(uri);
    r->upstream = -1;
    char *q = strchr(r->raw_uri, '?');
    r->path = strndup(r->raw_uri, q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri));
    r->query = q ? strdup(q + 1) : NULL;
    return r;
}

static void request_done(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code)
{
    (void)c; (void)code;
    struct http_api *api = cls;
    struct request *r = *state;
    if (!r)
        return;
    sigv4_free(r->sig);
    strbuf_free(&r->body);
    if (r->upstream >= 0)
        close(r->upstream);
    if (r->session)
        sessions_release(api->cfg.sessions, r->session);
    free(r->raw_uri);
    free(r->path);
    free(r->query);
    free(r);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *err_type,
                             const char *body, const char *session_id)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                                MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (err_type)
        MHD_add_response_header(resp, "x-amzn-errortype", err_type);
    if (session_id && *session_id)
        MHD_add_response_header(resp, SESSION_HEADER, session_id);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, const char *type, const char *msg)
{
    char *body = aws_error_body(msg);
    enum MHD_Result ret = reply(c, aws_error_status(type), type, body, NULL);
    free(body);
    return ret;
}

static void fail(struct request *r, const char *type, const char *msg)
{
    if (r->failed)
        return;
    r->failed = true;
    r->err_type = type;
    snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
}

/* ---------------------------------------------------------------- authentication */

struct header_list {
    struct sigv4_header h[64];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    struct header_list *l = cls;
    if (l->n < 64)
        l->h[l->n++] = (struct sigv4_header){ k, v ? v : "" };
    return MHD_YES;
}

static const struct sigv4_key *lookup_key(void *ctx, const char *id)
{
    struct http_api *api = ctx;
    for (size_t i = 0; i < api->cfg.key_count; i++)
        if (strcmp(api->cfg.keys[i].access_key_id, id) == 0)
            return &api->cfg.keys[i];
    return NULL;
}

static bool authenticate(struct http_api *api, struct MHD_Connection *c, const char *method,
                         struct request *r)
{
    struct header_list l = { .n = 0 };
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &l);
    struct sigv4_request req = { method, r->path, r->query, l.h, l.n };
    struct sigv4_config cfg = { api->cfg.region, "bedrock-agentcore", time(NULL), 300, true,
                                lookup_key, api };
    enum sigv4_result res = sigv4_begin(&req, &cfg, &r->sig);
    if (res == SIGV4_OK)
        return true;
    /* log the reason (never a secret); answer without detail */
    fprintf(stderr, "silod: auth rejected %s %s: %s\n", method, r->path, sigv4_result_name(res));
    if (res == SIGV4_NO_AUTH)
        fail(r, AWS_UNAUTHORIZED, "missing authentication");
    else
        fail(r, AWS_ACCESS_DENIED, "the request signature is not valid");
    return false;
}

/* ---------------------------------------------------------------- data plane */

static bool parse_data_path(const char *path, char *target, size_t len, const char **action)
{
    if (strncmp(path, "/runtimes/", 10) != 0)
        return false;
    const char *seg = path + 10, *slash = strchr(seg, '/');
    if (!slash || slash == seg)
        return false;
    *action = slash + 1;
    /* decode the one path segment holding the ARN */
    size_t o = 0;
    for (const char *p = seg; p < slash; p++) {
        char ch = *p;
        if (ch == '%') {
            if (slash - p < 3)
                return false;
            char hex[3] = { p[1], p[2], 0 };
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end || v == 0)
                return false;
            ch = (char)v;
            p += 2;
        }
        if (o + 1 >= len)
            return false;
        target[o++] = ch;
    }
    target[o] = '\0';
    return strcmp(*action, "invocations") == 0 || strcmp(*action, "stopruntimesession") == 0;
}

static const char *query_value(const char *query, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(out, len, "%.*s", (int)(l - n - 1), p + n + 1);
            return out;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static bool write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_chunk(int fd, const void *data, size_t n)
{
    char head[32];
    int hl = snprintf(head, sizeof head, "%zx\r\n", n);
    return write_all(fd, head, (size_t)hl) && write_all(fd, data, n) && write_all(fd, "\r\n", 2);
}

/* Resolves the runtime, takes the session and opens the agent connection with the head. */
static void start_invoke(struct http_api *api, struct MHD_Connection *c, struct request *r,
                         const char *target)
{
    char qualifier[64] = "", msg[320];
    query_value(r->query, "qualifier", qualifier, sizeof qualifier);
    const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, SESSION_HEADER);
    if (sid && !session_id_valid(sid)) {
        fail(r, AWS_VALIDATION, "runtimeSessionId must be 33 to 256 printable characters");
        return;
    }
    if (sid)
        snprintf(r->session_id, sizeof r->session_id, "%s", sid);
    else if (r->kind == REQ_STOP) {
        fail(r, AWS_VALIDATION, "runtimeSessionId is required");
        return;
    } else {
        session_id_generate(r->session_id);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > INVOKE_MAX_PAYLOAD) {
        fail(r, AWS_PAYLOAD_TOO_LARGE, "payload exceeds 100 MB");
        return;
    }
    struct resolved_runtime rr;
    const char *err = control_plane_resolve(api->cfg.cp, target, qualifier[0] ? qualifier : NULL, &rr,
                                            msg, sizeof msg);
    if (err) {
        fail(r, err, msg);
        return;
    }
    if (r->kind == REQ_STOP) {
        free(rr.config_json);
        if (!sessions_stop(api->cfg.sessions, r->session_id))
            fail(r, AWS_NOT_FOUND, "no such session");
        return;
    }
    json_object *cfg = json_tokener_parse(rr.config_json);
    json_object *lc = NULL, *pc = NULL, *v;
    int idle = 900, max = 28800;
    const char *protocol = "HTTP";
    if (cfg && json_object_object_get_ex(cfg, "lifecycleConfiguration", &lc)) {
        if (json_object_object_get_ex(lc, "idleRuntimeSessionTimeout", &v))
            idle = json_object_get_int(v);
        if (json_object_object_get_ex(lc, "maxLifetime", &v))
            max = json_object_get_int(v);
    }
    if (cfg && json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
        json_object_object_get_ex(pc, "serverProtocol", &v))
        protocol = json_object_get_string(v);
    if (strcmp(protocol, "HTTP") != 0 && strcmp(protocol, "AGUI") != 0) {
        fail(r, AWS_VALIDATION, "this server supports the HTTP protocol only so far");
        json_object_put(cfg);
        free(rr.config_json);
        return;
    }
    struct session_acquire a = { r->session_id, rr.runtime_id, rr.version, rr.config_json,
                                 api->cfg.guest_mib, idle, max };
    r->session = sessions_acquire(api->cfg.sessions, &a, &err, msg, sizeof msg);
    json_object_put(cfg);
    free(rr.config_json);
    if (!r->session) {
        fail(r, err, msg);
        return;
    }
    r->upstream = vsock_connect(session_vm(r->session)->vsock_path, 8080, 10000);
    if (r->upstream < 0) {
        fail(r, AWS_RUNTIME_CLIENT_ERROR, "the agent is not reachable");
        return;
    }
    struct strbuf head = { 0 };
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    strbuf_printf(&head, "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n"
                         "Transfer-Encoding: chunked\r\nContent-Type: %s\r\n" SESSION_HEADER ": %s\r\n",
                  ctype ? ctype : "application/octet-stream", r->session_id);
    if (accept)
        strbuf_printf(&head, "Accept: %s\r\n", accept);
    static const char *const passed[] = { "X-Amzn-Bedrock-AgentCore-Runtime-User-Id", "X-Amzn-Trace-Id",
                                           "traceparent", "tracestate", "baggage" };
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++) {
        const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, passed[i]);
        if (hv && !strpbrk(hv, "\r\n") && strlen(hv) <= 8192)
            strbuf_printf(&head, "%s: %s\r\n", passed[i], hv);
    }
    strbuf_puts(&head, "\r\n");
    if (!write_all(r->upstream, head.data, head.len))
        fail(r, AWS_RUNTIME_CLIENT_ERROR, "the agent closed the connection");
    strbuf_free(&head);
}

/* Reads the agent's status line and headers; returns the status or -1. */
static int read_agent_head(int fd, char *ctype, size_t ctype_len)
{
    char line[8192];
    int status = -1;
    bool first = true;
    for (;;) {
        size_t n = 0;
        while (n + 1 < sizeof line) {
            if (read(fd, line + n, 1) != 1)
                return -1;
            if (line[n] == '\n')
                break;
            n++;
        }
        line[n] = '\0';
        if (n && line[n - 1] == '\r')
            line[--n] = '\0';
        if (first) {
            if (sscanf(line, "HTTP/1.%*d %d", &status) != 1)
                return -1;
            first = false;
        } else if (n == 0) {
            return status;
        } else if (strncasecmp(line, "content-type:", 13) == 0) {
            snprintf(ctype, ctype_len, "%s", line + 13 + strspn(line + 13, " "));
        }
    }
}

static ssize_t relay_agent(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    int fd = *(int *)cls;
    ssize_t n = read(fd, buf, max);
    return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_fd(void *cls)
{
    int *fd = cls;
    close(*fd);
    free(fd);
}

static enum MHD_Result finish_invoke(struct MHD_Connection *c, struct request *r)
{
    if (!send_chunk(r->upstream, "", 0))     /* the last chunk */
        return reply_error(c, AWS_RUNTIME_CLIENT_ERROR, "the agent closed the connection");
    char ctype[256] = "application/octet-stream";
    int status = read_agent_head(r->upstream, ctype, sizeof ctype);
    if (status < 0) {
        return reply_error(c, AWS_RUNTIME_CLIENT_ERROR, "the agent did not answer");
    }
    int *fd = malloc(sizeof *fd);
    *fd = r->upstream;
    r->upstream = -1;
    /* unknown size: chunked to the client, each read from the agent flushed as it comes */
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                  relay_agent, fd, free_fd);
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, SESSION_HEADER, r->session_id);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---------------------------------------------------------------- the handler */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)url; (void)version;
    struct http_api *api = cls;
    struct request *r = *state;
    char target[1024];
    const char *action = NULL;
    if (!r->started) {
        r->started = true;
        if (control_plane_owns(method, r->path))
            r->kind = REQ_CONTROL;
        else if (strcmp(method, "POST") == 0 && parse_data_path(r->path, target, sizeof target, &action))
            r->kind = strcmp(action, "invocations") == 0 ? REQ_INVOKE : REQ_STOP;
        else
            r->kind = REQ_UNKNOWN;
        if (r->kind == REQ_UNKNOWN)
            fail(r, AWS_UNKNOWN_OPERATION, "no such operation");
        else if (authenticate(api, c, method, r) && r->kind != REQ_CONTROL &&
                 sigv4_signature_verified(r->sig))
            start_invoke(api, c, r, target);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->failed)
            return MHD_YES;      /* drain */
        r->body_len += n;
        sigv4_update(r->sig, upload, n);
        if (r->kind == REQ_CONTROL && r->body_len > CONTROL_MAX_BODY)
            fail(r, AWS_VALIDATION, "request body too large");
        else if (r->kind != REQ_CONTROL && r->body_len > INVOKE_MAX_PAYLOAD)
            fail(r, AWS_PAYLOAD_TOO_LARGE, "payload exceeds 100 MB");
        else if (r->upstream >= 0) {
            if (!send_chunk(r->upstream, upload, n))
                fail(r, AWS_RUNTIME_CLIENT_ERROR, "the agent closed the connection");
        } else
            strbuf_append(&r->body, upload, n);
        return MHD_YES;
    }
    /* the whole request has arrived */
    if (!r->failed && sigv4_finish(r->sig) != SIGV4_OK) {
        if (r->upstream >= 0) {          /* body did not match its signed hash: cut the agent off */
            close(r->upstream);
            r->upstream = -1;
        }
        fail(r, AWS_ACCESS_DENIED, "the request signature is not valid");
    }
    if (!r->failed && r->kind != REQ_CONTROL && r->upstream < 0 && !r->session) {
        /* signature known only now (body hashed): start the invocation and send the body */
        parse_data_path(r->path, target, sizeof target, &action);
        start_invoke(api, c, r, target);
        if (!r->failed && r->upstream >= 0 && r->body.len &&
            !send_chunk(r->upstream, r->body.data, r->body.len))
            fail(r, AWS_RUNTIME_CLIENT_ERROR, "the agent closed the connection");
        strbuf_free(&r->body);
    }
    if (r->failed)
        return reply_error(c, r->err_type, r->err_msg);
    if (r->kind == REQ_CONTROL) {
        struct cp_response out;
        control_plane_handle(api->cfg.cp, method, r->path, r->query, r->body.data, r->body.len, &out);
        enum MHD_Result ret = reply(c, out.status, out.error_type, out.body, NULL);
        free(out.body);
        return ret;
    }
    if (r->kind == REQ_STOP) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "runtimeSessionId", json_object_new_string(r->session_id));
        enum MHD_Result ret = reply(c, 200, NULL, json_object_to_json_string(o), r->session_id);
        json_object_put(o);
        return ret;
    }
    return finish_invoke(c, r);
}

struct http_api *http_api_start(const struct http_api_config *cfg, const char *addr, unsigned port,
                                char *err, size_t err_len)
{
    struct http_api *api = calloc(1, sizeof *api);
    if (!api)
        abort();
    api->cfg = *cfg;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, err_len, "listen address %s is not an IPv4 address", addr);
        free(api);
        return NULL;
    }
    api->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, handle, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_URI_LOG_CALLBACK, log_uri, api, MHD_OPTION_NOTIFY_COMPLETED, request_done, api,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)900, MHD_OPTION_END);
    if (!api->daemon) {
        snprintf(err, err_len, "cannot listen on %s:%u", addr, port);
        free(api);
        return NULL;
    }
    return api;
}

unsigned http_api_port(struct http_api *api)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_api_stop(struct http_api *api)
{
    if (!api)
        return;
    MHD_stop_daemon(api->daemon);
    free(api);
}
