/* frontend/http_api.c — libmicrohttpd glue: auth, routing, streaming proxy (see http_api.h). */
#include "frontend/http_api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "frontend/agent_http.h"
#include "frontend/aws_error.h"
#include "frontend/body_spool.h"
#include "frontend/conn_guard.h"
#include "frontend/metrics.h"
#include "frontend/session_bind.h"
#include "frontend/role_creds.h"
#include "frontend/strbuf.h"
#include "frontend/vmm_launcher.h"

#define SESSION_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
#define REQUEST_ID_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id"
#define USER_ID_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
#define MCP_SESSION_HEADER "Mcp-Session-Id"
#define CONTROL_MAX_BODY (1024 * 1024)
#define USER_ID_MAX 1024
#define CUSTOM_HEADER_MAX 4096
#define AGENT_ERROR_SNIPPET 512

/* Connections from a guest to silod's API (guest_channels.c, host port 1027): the session each
 * came from, by socket, recorded in the request log as from_session= */
struct guest_conn {
    int fd;
    char session_id[SESSION_ID_MAX + 1];
    struct guest_conn *next;
};

struct http_api {
    struct http_api_config cfg;
    struct MHD_Daemon *daemon;
    pthread_mutex_t guest_lock;
    struct guest_conn *guest_conns;
    struct spool_quota unverified;   /* body bytes held for requests whose signature is undecided */
    struct conn_guard *guard;        /* head / keep-alive / body deadlines per connection */
    struct session_binds *binds;     /* session id → the endpoint, auth method and user that opened it */
};

enum request_kind { REQ_CONTROL, REQ_INVOKE, REQ_STOP, REQ_METRICS, REQ_UNKNOWN };
static const char *const kind_names[] = { "control", "invoke", "stop", "metrics", "unknown" };

/* The agent's answer, relayed to the client as it is read; shared by the request (for its log
 * line) and the MHD response (which reads from it), freed when both are done with it.
 *
 * Upstream keep-alive: the relay owns the agent connection (rd.fd) until it is closed by the
 * last relay_put() or given back to the session's pool by relay_give_back(), which sets rd.fd
 * to -1 first. Both the request's callbacks and the response's content reader run on the MHD
 * connection's own thread (thread per connection), and the give-back happens only while the
 * request still holds its session reference (the content reader that sees the end of the body,
 * or finish_invoke), so the session pointer is valid there; request_done clears it before
 * releasing the session. */
struct relay {
    struct agent_reader rd;
    int refs;
    uint64_t bytes_out;
    struct sessions *sessions;
    struct session *session;     /* the request's (NULL: never given back) */
    unsigned port;               /* guest port of the connection */
    bool request_sent;           /* the request head and its whole body reached the agent */
};

/* Per-request state, created by the URI log callback (so the raw URI is kept). */
struct request {
    char *raw_uri;
    char *path, *query;
    char method[8];
    enum request_kind kind;
    bool started, dispatched;
    bool failed;                 /* an error answer is queued once the body is drained */
    const char *err_type;
    char err_msg[640];
    char request_id[37];
    int64_t start_ms;
    unsigned status;
    const char *auth;            /* "sigv4", "jwt" or NULL */
    const char *principal;       /* SigV4 key principal (config), never a secret */
    char from_session[SESSION_ID_MAX + 1];   /* came from this session's guest (or "") */
    struct sigv4_verifier *sig;
    bool bearer;
    struct strbuf body;          /* control plane and metrics (at most CONTROL_MAX_BODY) */
    struct body_spool spool;     /* invoke/stop body held until its signature is verified */
    bool spooling;               /* the body goes to the spool (SigV4 with the body undecided) */
    uint64_t reserved;           /* bytes of api->unverified this request holds */
    struct conn_entry *conn;     /* this connection's conn_guard entry */
    uint64_t body_len;
    /* invoke */
    char target[1024];
    struct session *session;
    char session_id[SESSION_ID_MAX + 1];
    char runtime_id[160];
    bool mcp;
    bool mcp_session_added;      /* silod made up the Mcp-Session-Id (= session_id) */
    bool body_to_agent;          /* the agent request carries a body: */
    bool body_chunked;           /* chunked, or (the caller sent Content-Length) that length, so
                                  * agents without chunked request support work too */
    int upstream;
    unsigned upstream_port;      /* guest port: 8080 (HTTP) or 8000 (MCP) */
    bool upstream_pooled;        /* upstream came from the session's idle pool */
    uint64_t agent_length;       /* the Content-Length sent to the agent (not chunked) */
    uint64_t body_sent;          /* body bytes written to the agent */
    bool last_chunk_sent;
    struct relay *relay;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void relay_put(struct relay *rl)
{
    if (rl && __atomic_sub_fetch(&rl->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        if (rl->rd.fd >= 0)
            close(rl->rd.fd);
        free(rl);
    }
}

/* At the end of the agent's answer: the connection goes back to the session's idle pool when
 * the whole request was sent and the answer ended cleanly (agent_reader_reusable: HTTP/1.1,
 * Content-Length or chunked read exactly to the end, no `Connection: close`, nothing buffered
 * beyond it); otherwise it stays with the relay and is closed as before. */
static void relay_give_back(struct relay *rl)
{
    if (!rl->session || !rl->request_sent || rl->rd.fd < 0 || !agent_reader_reusable(&rl->rd))
        return;
    int fd = rl->rd.fd;
    rl->rd.fd = -1;              /* the relay no longer owns it, and never reads it again */
    session_conn_give(rl->sessions, rl->session, rl->port, fd);
}

/* The connection's conn_guard entry (set when the library accepted it). */
static struct conn_entry *conn_entry_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* The session a guest connection (by fd) came from, copied into out ("" for any other). */
static void guest_session_of(struct http_api *api, int fd, char *out, size_t len)
{
    out[0] = 0;
    pthread_mutex_lock(&api->guest_lock);
    for (struct guest_conn *g = api->guest_conns; g; g = g->next)
        if (g->fd == fd)
            snprintf(out, len, "%s", g->session_id);
    pthread_mutex_unlock(&api->guest_lock);
}

static void guest_conn_forget(struct http_api *api, int fd)
{
    pthread_mutex_lock(&api->guest_lock);
    for (struct guest_conn **g = &api->guest_conns; *g; g = &(*g)->next)
        if ((*g)->fd == fd) {
            struct guest_conn *dead = *g;
            *g = dead->next;
            free(dead);
            break;
        }
    pthread_mutex_unlock(&api->guest_lock);
}

void http_api_add_guest_connection(void *ctx, int fd, const char *session_id)
{
    struct http_api *api = ctx;
    struct guest_conn *g = calloc(1, sizeof *g);
    if (!api || !g) {
        free(g);
        close(fd);
        return;
    }
    g->fd = fd;
    snprintf(g->session_id, sizeof g->session_id, "%s", session_id);
    pthread_mutex_lock(&api->guest_lock);
    g->next = api->guest_conns;
    api->guest_conns = g;
    pthread_mutex_unlock(&api->guest_lock);
    struct sockaddr_un from = { .sun_family = AF_UNIX };
    if (MHD_add_connection(api->daemon, fd, (struct sockaddr *)&from, sizeof from) != MHD_YES)
        guest_conn_forget(api, fd);   /* the library closed it */
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct http_api *api = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (i)
            guest_conn_forget(api, i->connect_fd);
    }
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = i ? conn_guard_add(api->guard, i->connect_fd) : NULL;
    } else if (*socket_context) {
        conn_guard_remove(api->guard, *socket_context);    /* before the library closes the fd */
        *socket_context = NULL;
    }
}

static void *log_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct http_api *api = cls;
    struct request *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    body_spool_init(&r->spool, api->cfg.spool_dir, BODY_SPOOL_MEM_LIMIT);
    r->conn = conn_entry_of(c);
    const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fdi)
        guest_session_of(api, fdi->connect_fd, r->from_session, sizeof r->from_session);
    /* the first line of a request on a kept-alive connection: the head is due within head_timeout_s */
    if (conn_guard_current(api->guard, r->conn) == CONN_IDLE)
        conn_guard_phase(api->guard, r->conn, CONN_HEAD);
    r->raw_uri = strdup(uri);
    r->upstream = -1;
    r->start_ms = mono_ms();
    char *q = strchr(r->raw_uri, '?');
    r->path = strndup(r->raw_uri, q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri));
    r->query = q ? strdup(q + 1) : NULL;
    session_id_generate(r->request_id);
    return r;
}

/* One structured line per request (logfmt); never a secret, a token or a body. */
static void log_request(const struct request *r, enum MHD_RequestTerminationCode code)
{
    uint64_t out = r->relay ? __atomic_load_n(&r->relay->bytes_out, __ATOMIC_RELAXED) : 0;
    fprintf(stderr, "silod: request id=%s method=%s op=%s runtime=%s session=%s status=%u latency_ms=%lld"
                    " bytes_in=%llu bytes_out=%llu auth=%s principal=%s%s%s%s%s%s\n",
            r->request_id, r->method[0] ? r->method : "-", kind_names[r->kind],
            r->runtime_id[0] ? r->runtime_id : "-", r->session_id[0] ? r->session_id : "-", r->status,
            (long long)(mono_ms() - r->start_ms), (unsigned long long)r->body_len,
            (unsigned long long)out, r->auth ? r->auth : "none", r->principal ? r->principal : "-",
            r->failed ? " error=" : "", r->failed ? r->err_type : "",
            code == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1",
            r->from_session[0] ? " from_session=" : "", r->from_session);
}

static void request_done(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code)
{
    (void)c;
    struct http_api *api = cls;
    struct request *r = *state;
    if (!r)
        return;
    if (r->started)
        log_request(r, code);
    if (r->kind == REQ_INVOKE && r->started) {
        metrics_invocation(r->status, r->body_len, r->relay ? r->relay->bytes_out : 0);
    }
    sigv4_free(r->sig);
    strbuf_free(&r->body);
    body_spool_free(&r->spool);
    spool_quota_release(&api->unverified, r->reserved);
    conn_guard_phase(api->guard, r->conn, CONN_IDLE);     /* kept alive: the next head may come */
    if (r->upstream >= 0)
        close(r->upstream);
    if (r->relay)
        r->relay->session = NULL;     /* released below: nothing is given back after this */
    relay_put(r->relay);
    if (r->session)
        sessions_release(api->cfg.sessions, r->session);
    free(r->raw_uri);
    free(r->path);
    free(r->query);
    free(r);
}

/* Common response headers: the request id (x-amzn-RequestId, read by the AWS SDKs). */
static enum MHD_Result queue(struct MHD_Connection *c, struct request *r, unsigned status,
                             struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "x-amzn-RequestId", r->request_id);
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, struct request *r, unsigned status,
                             const char *err_type, const char *body, const char *session_id)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                                MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (err_type)
        MHD_add_response_header(resp, "x-amzn-errortype", err_type);
    if (session_id && *session_id)
        MHD_add_response_header(resp, SESSION_HEADER, session_id);
    return queue(c, r, status, resp);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, struct request *r, const char *type,
                                   const char *msg)
{
    char *body = aws_error_body_for(type, msg);
    metrics_error(type);
    enum MHD_Result ret = reply(c, r, aws_error_status(type), type, body, NULL);
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
    return role_creds_lookup(api->cfg.role_creds, id);   /* credentials vended to agents */
}

/* AWS's answers to a refused signature: an access key id (or session token) it does not know
 * is UnrecognizedClientException, anything wrong with the signature InvalidSignatureException;
 * both 403. */
static void fail_signature(struct request *r, enum sigv4_result res)
{
    if (res == SIGV4_UNKNOWN_KEY || res == SIGV4_BAD_TOKEN)
        fail(r, AWS_UNRECOGNIZED_CLIENT, "The security token included in the request is invalid.");
    else if (res == SIGV4_CLOCK_SKEW)
        fail(r, AWS_INVALID_SIGNATURE, "Signature expired or not yet valid: the request time is too far from the server's.");
    else
        fail(r, AWS_INVALID_SIGNATURE, "The request signature we calculated does not match the signature you provided. "
                                       "Check your AWS Secret Access Key and signing method.");
}

static bool authenticate_sigv4(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct header_list l = { .n = 0 };
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &l);
    struct sigv4_request req = { r->method, r->path, r->query, l.h, l.n };
    struct sigv4_config cfg = { api->cfg.region, "bedrock-agentcore", time(NULL), 300, true,
                                lookup_key, api };
    enum sigv4_result res = sigv4_begin(&req, &cfg, &r->sig);
    if (res == SIGV4_OK) {
        r->auth = "sigv4";
        r->principal = sigv4_principal(r->sig);
        return true;
    }
    /* log the reason (never a secret); answer without detail */
    fprintf(stderr, "silod: auth rejected id=%s %s %s: %s\n", r->request_id, r->method, r->path,
            sigv4_result_name(res));
    if (res == SIGV4_NO_AUTH)
        fail(r, AWS_UNAUTHORIZED, "missing authentication");
    else
        fail_signature(r, res);
    return false;
}

static const char *bearer_token(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    return a + 7 + strspn(a + 7, " ");
}

static const char **json_strings(json_object *list, size_t *count)
{
    *count = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    if (!*count)
        return NULL;
    const char **out = calloc(*count, sizeof *out);
    if (!out)
        abort();
    for (size_t i = 0; i < *count; i++)
        out[i] = json_object_get_string(json_object_array_get_idx(list, i));
    return out;
}

/* Verifies the bearer token against the runtime's customJWTAuthorizer; on success writes the
 * user identity (iss|sub) into user_id. */
static bool authenticate_jwt(struct http_api *api, struct MHD_Connection *c, struct request *r,
                             json_object *jwt_cfg, char *user_id, size_t user_id_len)
{
    const char *token = bearer_token(c);
    json_object *v;
    if (!token || !*token) {
        fail(r, AWS_UNAUTHORIZED, "missing bearer token");
        return false;
    }
    if (!api->cfg.jwt_keys || !json_object_object_get_ex(jwt_cfg, "discoveryUrl", &v)) {
        fail(r, AWS_INTERNAL, "JWT verification is not available");
        return false;
    }
    struct jwt_policy policy = { .discovery_url = json_object_get_string(v), .leeway_seconds = 60 };
    const char **aud = NULL, **clients = NULL, **scopes = NULL;
    if (json_object_object_get_ex(jwt_cfg, "allowedAudience", &v))
        policy.allowed_audience = aud = json_strings(v, &policy.allowed_audience_count);
    if (json_object_object_get_ex(jwt_cfg, "allowedClients", &v))
        policy.allowed_clients = clients = json_strings(v, &policy.allowed_clients_count);
    if (json_object_object_get_ex(jwt_cfg, "allowedScopes", &v))
        policy.allowed_scopes = scopes = json_strings(v, &policy.allowed_scopes_count);
    if (json_object_object_get_ex(jwt_cfg, "customClaims", &v))
        policy.custom_claims = v;
    struct jwt_identity id = { 0 };
    enum jwt_result res = jwt_verify(api->cfg.jwt_keys, &policy, token, time(NULL), &id);
    free(aud);
    free(clients);
    free(scopes);
    bool ok = false;
    if (res == JWT_OK) {
        const char *sub = id.subject ? id.subject : id.client_id;
        int n = sub ? snprintf(user_id, user_id_len, "%s|%s", id.issuer, sub) : -1;
        ok = n > 0 && (size_t)n < user_id_len && agent_header_value_ok(user_id, USER_ID_MAX);
        if (!ok)
            res = JWT_MALFORMED;
    }
    jwt_identity_free(&id);
    if (ok) {
        r->auth = "jwt";
        return true;
    }
    /* the reason goes to the log only; the caller learns nothing that helps */
    fprintf(stderr, "silod: auth rejected id=%s %s %s: jwt %s\n", r->request_id, r->method, r->path,
            jwt_result_name(res));
    if (res == JWT_DISCOVERY_FAILED)
        fail(r, AWS_INTERNAL, "the identity provider could not be reached");
    else if (res == JWT_BAD_AUDIENCE || res == JWT_BAD_CLIENT || res == JWT_BAD_SCOPE ||
             res == JWT_BAD_CLAIM)
        fail(r, AWS_ACCESS_DENIED, "the bearer token is not allowed to invoke this agent runtime");
    else
        fail(r, AWS_UNAUTHORIZED, "the bearer token is not valid");
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
            if (slash - p < 3 || !isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                return false;
            char hex[3] = { p[1], p[2], 0 };
            long v = strtol(hex, NULL, 16);
            if (v < 0x20 || v > 0x7e)
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

/* A piece of the request body to the agent, framed as agent_head announced it. */
static bool send_body(struct request *r, const void *data, size_t n)
{
    bool ok = r->body_chunked ? n == 0 || send_chunk(r->upstream, data, n) : write_all(r->upstream, data, n);
    if (ok)
        r->body_sent += n;
    return ok;
}

/* An idle kept-alive connection is usable when nothing is waiting on it: readable (EOF, or
 * bytes the agent sent unasked), hung up or in error all mean the agent closed it or is not
 * speaking HTTP. Never blocks. */
static bool idle_conn_healthy(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 0;
}

/* A connection to guest port `port` of the request's session: a healthy idle one from the
 * session's pool (unhealthy ones are closed), else a new vsock connection. */
static int upstream_open(struct http_api *api, struct request *r, unsigned port)
{
    int fd;
    r->upstream_port = port;
    while ((fd = session_conn_take(api->cfg.sessions, r->session, port)) >= 0) {
        if (idle_conn_healthy(fd)) {
            r->upstream_pooled = true;
            return fd;
        }
        close(fd);
    }
    r->upstream_pooled = false;
    return vsock_connect(session_vm(r->session)->vsock_path, port, 10000);
}

/* agentd learns that its agent died from SIGCHLD, a moment after our connection to the agent
 * broke, so one STATUS asked at once can still say "running". On this failure path only, ask
 * again a few times over about a second before concluding that the agent is alive. */
static bool agent_confirmed_running(const char *vsock_path)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!vsock_agent_running(vsock_path, 2000))
            return false;
        usleep(200 * 1000);
    }
    return true;
}

/* The agent could not be reached or answered nothing: if its VMM is gone, or agentd says the
 * agent has ended (the guest powers off within a second then), the session ends now, so a later
 * request with the same id gets a fresh microVM instead of the dying one. */
static void agent_failed(struct http_api *api, struct request *r, const char *msg)
{
    if (r->session && sessions_check_vm(api->cfg.sessions, r->session) &&
        !agent_confirmed_running(session_vm(r->session)->vsock_path))
        sessions_stop(api->cfg.sessions, NULL, r->session_id, SESSION_END_AGENT_EXITED);
    fail(r, AWS_RUNTIME_CLIENT_ERROR, msg);
}

static const char *const trace_headers[] = { "X-Amzn-Trace-Id", "traceparent", "tracestate", "baggage" };
static const size_t trace_limits[] = { 128, 128, 512, 8192 };
static const char *const mcp_headers[] = { "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Last-Event-ID" };

/* The request head to the agent: method, path, framing, content type, the platform headers
 * (session, request id, user id), trace headers, MCP headers and the runtime's allow-listed
 * headers. Returns false (and fails r) on a header that cannot be passed on. */
static bool agent_head(struct MHD_Connection *c, struct request *r, json_object *cfg,
                       const char *user_id, struct strbuf *head)
{
    /* keep-alive (HTTP/1.1's default): the connection may serve the session's next request */
    strbuf_printf(head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", r->method,
                  r->mcp ? "/mcp" : "/invocations", r->mcp ? 8000u : 8080u);
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    r->body_chunked = te || !cl || !cl[0] || strspn(cl, "0123456789") != strlen(cl) || strlen(cl) > 12;
    if (r->body_to_agent && r->body_chunked)
        strbuf_printf(head, "Transfer-Encoding: chunked\r\n");
    else if (r->body_to_agent) {
        r->agent_length = strtoull(cl, NULL, 10);
        strbuf_printf(head, "Content-Length: %llu\r\n", (unsigned long long)r->agent_length);
    }
    if (r->body_to_agent)
        strbuf_printf(head, "Content-Type: %s\r\n",
                      ctype && agent_header_value_ok(ctype, 256) ? ctype : "application/octet-stream");
    if (accept && agent_header_value_ok(accept, 1024))
        strbuf_printf(head, "Accept: %s\r\n", accept);
    strbuf_printf(head, SESSION_HEADER ": %s\r\n" REQUEST_ID_HEADER ": %s\r\n", r->session_id, r->request_id);
    if (user_id[0])
        strbuf_printf(head, USER_ID_HEADER ": %s\r\n", user_id);
    for (size_t i = 0; i < sizeof trace_headers / sizeof trace_headers[0]; i++) {
        const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, trace_headers[i]);
        if (!hv)
            continue;
        if (!agent_header_value_ok(hv, trace_limits[i])) {
            char m[96];
            snprintf(m, sizeof m, "%s must be at most %zu printable characters", trace_headers[i], trace_limits[i]);
            fail(r, AWS_VALIDATION, m);
            return false;
        }
        strbuf_printf(head, "%s: %s\r\n", trace_headers[i], hv);
    }
    if (r->mcp) {
        strbuf_printf(head, MCP_SESSION_HEADER ": %s\r\n", r->mcp_session_added ? r->session_id :
                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MCP_SESSION_HEADER));
        for (size_t i = 0; i < sizeof mcp_headers / sizeof mcp_headers[0]; i++) {
            const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, mcp_headers[i]);
            if (hv && agent_header_value_ok(hv, 1024))
                strbuf_printf(head, "%s: %s\r\n", mcp_headers[i], hv);
        }
    }
    json_object *hc, *list;
    if (json_object_object_get_ex(cfg, "requestHeaderConfiguration", &hc) &&
        json_object_object_get_ex(hc, "requestHeaderAllowlist", &list)) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(list, i));
            const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
            if (!hv)
                continue;
            if (!agent_header_value_ok(hv, CUSTOM_HEADER_MAX)) {
                char m[400];
                snprintf(m, sizeof m, "header %.256s must be at most 4 KB of printable characters", name);
                fail(r, AWS_VALIDATION, m);
                return false;
            }
            strbuf_printf(head, "%s: %s\r\n", name, hv);
        }
    }
    strbuf_puts(head, "\r\n");
    return true;
}

/* Picks the runtime session id (and, for MCP, whether silod adds Mcp-Session-Id). */
static bool choose_session_id(struct MHD_Connection *c, struct request *r)
{
    const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, SESSION_HEADER);
    const char *msid = r->mcp ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, MCP_SESSION_HEADER) : NULL;
    if (sid && !session_id_valid(sid)) {
        fail(r, AWS_VALIDATION, "runtimeSessionId must be 33 to 256 printable characters");
        return false;
    }
    if (msid && !session_id_valid(msid)) {
        fail(r, AWS_VALIDATION, "Mcp-Session-Id must be 33 to 256 printable characters");
        return false;
    }
    if (sid)
        snprintf(r->session_id, sizeof r->session_id, "%s", sid);
    else if (msid)      /* MCP clients echo only Mcp-Session-Id: it pins the microVM */
        snprintf(r->session_id, sizeof r->session_id, "%s", msid);
    else if (r->kind == REQ_STOP) {
        fail(r, AWS_VALIDATION, "runtimeSessionId is required");
        return false;
    } else
        session_id_generate(r->session_id);
    r->mcp_session_added = r->mcp && !msid;
    return true;
}

/* Resolves the runtime, checks the caller's auth method and token against it, takes the
 * session and opens the agent connection with the request head. */
static void start_invoke(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    r->dispatched = true;
    char qualifier[64] = "", account[32] = "", msg[320], user_id[USER_ID_MAX + 2] = "";
    if (query_value(r->query, "qualifier", qualifier, sizeof qualifier) && !qualifier[0]) {
        fail(r, AWS_VALIDATION, "qualifier must not be empty");
        return;
    }
    if (query_value(r->query, "accountId", account, sizeof account) &&
        (strlen(account) != 12 || strspn(account, "0123456789") != 12)) {
        fail(r, AWS_VALIDATION, "accountId must be 12 digits");
        return;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > INVOKE_MAX_PAYLOAD) {
        fail(r, AWS_PAYLOAD_TOO_LARGE, "payload exceeds 100 MB");
        return;
    }
    struct resolved_runtime rr;
    const char *err = control_plane_resolve(api->cfg.cp, r->target, qualifier[0] ? qualifier : NULL, &rr,
                                            msg, sizeof msg);
    if (err) {
        fail(r, err, msg);
        return;
    }
    snprintf(r->runtime_id, sizeof r->runtime_id, "%s", rr.runtime_id);
    json_object *cfg = json_tokener_parse(rr.config_json), *lc = NULL, *pc = NULL, *ac = NULL, *jwt = NULL, *v;
    free(rr.config_json);
    if (!cfg) {
        fail(r, AWS_INTERNAL, "the runtime's configuration cannot be read");
        return;
    }
    /* a runtime uses SigV4 or JWT, never both, never neither */
    if (json_object_object_get_ex(cfg, "authorizerConfiguration", &ac))
        json_object_object_get_ex(ac, "customJWTAuthorizer", &jwt);
    if ((jwt != NULL) != r->bearer) {
        fail(r, AWS_ACCESS_DENIED, "Authorization method mismatch: the agent runtime is configured for "
                                   "a different authorization method than the request used");
        goto out;
    }
    if (jwt && !authenticate_jwt(api, c, r, jwt, user_id, sizeof user_id))
        goto out;
    if (!jwt) {
        const char *uid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, USER_ID_HEADER);
        if (uid && (!*uid || !agent_header_value_ok(uid, USER_ID_MAX))) {
            fail(r, AWS_VALIDATION, "runtimeUserId must be 1 to 1024 printable characters");
            goto out;
        }
        if (uid)
            snprintf(user_id, sizeof user_id, "%s", uid);
    }
    int idle = 900, max = 28800;
    const char *protocol = "HTTP";
    if (json_object_object_get_ex(cfg, "lifecycleConfiguration", &lc)) {
        if (json_object_object_get_ex(lc, "idleRuntimeSessionTimeout", &v))
            idle = json_object_get_int(v);
        if (json_object_object_get_ex(lc, "maxLifetime", &v))
            max = json_object_get_int(v);
    }
    if (json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
        json_object_object_get_ex(pc, "serverProtocol", &v))
        protocol = json_object_get_string(v);
    r->mcp = strcmp(protocol, "MCP") == 0;
    if (!r->mcp && strcmp(protocol, "HTTP") != 0 && strcmp(protocol, "AGUI") != 0) {
        /* A2A (the only other protocol validation lets through) may be created, as the API's
         * enum allows, but nothing can be invoked or stopped on it yet: 400, said plainly,
         * after auth, before any microVM is started */
        fail(r, AWS_VALIDATION, "A2A is not supported yet: this server invokes agent runtimes with "
                                "serverProtocol HTTP, MCP or AGUI only");
        goto out;
    }
    if (r->kind == REQ_INVOKE && !r->mcp && strcmp(r->method, "POST") != 0) {
        fail(r, AWS_UNKNOWN_OPERATION, "no such operation");
        goto out;
    }
    if (!choose_session_id(c, r))
        goto out;
    /* a session serves only the endpoint, auth method and (JWT) user that opened it */
    struct session_owner owner = { rr.runtime_id, rr.endpoint_name, r->auth, jwt ? user_id : "" };
    if (!session_bind_claim(api->binds, r->session_id, &owner)) {
        fprintf(stderr, "silod: refused id=%s session=%s: the session belongs to another endpoint, auth method "
                        "or user\n", r->request_id, r->session_id);
        if (r->kind == REQ_STOP)
            fail(r, AWS_NOT_FOUND, "no such session");
        else
            fail(r, AWS_ACCESS_DENIED, "the runtime session was opened by another caller or through another endpoint");
        goto out;
    }
    if (r->kind == REQ_STOP) {
        if (!sessions_stop(api->cfg.sessions, r->runtime_id, r->session_id, SESSION_END_STOPPED))
            fail(r, AWS_NOT_FOUND, "no such session");
        goto out;
    }
    struct session_acquire a = { r->session_id, rr.runtime_id, rr.version, json_object_to_json_string(cfg),
                                 api->cfg.guest_mib, idle, max };
    for (int attempt = 0; attempt < 2 && r->upstream < 0; attempt++) {
        bool existed = sessions_state(api->cfg.sessions, r->session_id) >= 0;
        int64_t t0 = mono_ms();
        r->session = sessions_acquire(api->cfg.sessions, &a, &err, msg, sizeof msg);
        if (!r->session) {
            fail(r, err, msg);
            goto out;
        }
        if (!existed)
            metrics_session_start(mono_ms() - t0);
        r->upstream = upstream_open(api, r, r->mcp ? SESSION_CONN_PORT_MCP : SESSION_CONN_PORT_HTTP);
        if (r->upstream < 0 && attempt == 0 && !sessions_check_vm(api->cfg.sessions, r->session)) {
            /* the session's VMM had died: that session is over, this request gets a fresh one */
            sessions_release(api->cfg.sessions, r->session);
            r->session = NULL;
        } else if (r->upstream < 0) {
            agent_failed(api, r, "the agent is not reachable");
            goto out;
        }
    }
    r->body_to_agent = strcmp(r->method, "POST") == 0;
    struct strbuf head = { 0 };
    if (agent_head(c, r, cfg, user_id, &head)) {
        bool sent = write_all(r->upstream, head.data, head.len);
        if (!sent && r->upstream_pooled) {
            /* the agent closed the kept-alive connection after it was checked: no body byte was
             * sent and no answer read, so this once the request goes on a fresh connection */
            close(r->upstream);
            r->upstream_pooled = false;
            r->upstream = vsock_connect(session_vm(r->session)->vsock_path, r->upstream_port, 10000);
            sent = r->upstream >= 0 && write_all(r->upstream, head.data, head.len);
        }
        if (!sent)
            agent_failed(api, r, "the agent closed the connection");
    }
    strbuf_free(&head);
out:
    json_object_put(cfg);
}

/* ---------------------------------------------------------------- the agent's answer */

static ssize_t relay_agent(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct relay *rl = cls;
    ssize_t n = agent_read_body(&rl->rd, buf, max);
    if (n == 0)
        relay_give_back(rl);     /* the whole answer was read: the connection may serve again */
    if (n <= 0)
        return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    __atomic_add_fetch(&rl->bytes_out, (uint64_t)n, __ATOMIC_RELAXED);
    return n;
}

static void relay_done(void *cls) { relay_put(cls); }

static enum MHD_Result finish_invoke(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    if (r->body_to_agent && r->body_chunked) {
        if (!send_chunk(r->upstream, "", 0)) {    /* the last chunk */
            agent_failed(api, r, "the agent closed the connection");
            return reply_error(c, r, r->err_type, r->err_msg);
        }
        r->last_chunk_sent = true;
    }
    struct relay *rl = calloc(1, sizeof *rl);
    if (!rl)
        abort();
    agent_reader_init(&rl->rd, r->upstream);
    rl->refs = 1;
    rl->sessions = api->cfg.sessions;
    rl->session = r->session;
    rl->port = r->upstream_port;
    rl->request_sent = !r->body_to_agent || (r->body_chunked ? r->last_chunk_sent : r->body_sent == r->agent_length);
    r->upstream = -1;
    r->relay = rl;
    struct agent_head h = { .ctype = "application/octet-stream" };
    if (!agent_read_head(&rl->rd, &h) || (h.mcp_session[0] && !session_id_valid(h.mcp_session))) {
        agent_failed(api, r, "the agent did not answer");
        return reply_error(c, r, r->err_type, r->err_msg);
    }
    if (h.status >= 400 && !r->mcp) {
        /* the agent failed: RuntimeClientError (424) with the start of what it said */
        char snippet[AGENT_ERROR_SNIPPET + 1], m[AGENT_ERROR_SNIPPET + 80];
        size_t n = 0;
        ssize_t k = 1;
        while (n < AGENT_ERROR_SNIPPET && k > 0) {
            k = agent_read_body(&rl->rd, snippet + n, AGENT_ERROR_SNIPPET - n);
            if (k > 0)
                n += (size_t)k;
        }
        relay_give_back(rl);      /* only if that was exactly all of it; else closed as before */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)snippet[i] < 0x20 || (unsigned char)snippet[i] > 0x7e)
                snippet[i] = ' ';
        snippet[n] = '\0';
        snprintf(m, sizeof m, "Received error (%d) from the agent runtime%s%s", h.status, n ? ": " : "", snippet);
        fail(r, AWS_RUNTIME_CLIENT_ERROR, m);
        return reply_error(c, r, r->err_type, r->err_msg);
    }
    __atomic_add_fetch(&rl->refs, 1, __ATOMIC_ACQ_REL);      /* the response's reference */
    /* unknown size: chunked to the client, each read from the agent flushed as it comes */
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                  relay_agent, rl, relay_done);
    MHD_add_response_header(resp, "Content-Type", h.ctype);
    MHD_add_response_header(resp, SESSION_HEADER, r->session_id);
    if (r->mcp) {
        const char *msid = h.mcp_session[0] ? h.mcp_session : r->mcp_session_added ? r->session_id :
                           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MCP_SESSION_HEADER);
        if (msid)
            MHD_add_response_header(resp, MCP_SESSION_HEADER, msid);
        if (h.mcp_version[0])
            MHD_add_response_header(resp, "Mcp-Protocol-Version", h.mcp_version);
    }
    for (size_t i = 0; i < sizeof trace_headers / sizeof trace_headers[0]; i++) {
        const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, trace_headers[i]);
        if (hv)
            MHD_add_response_header(resp, trace_headers[i], hv);
    }
    return queue(c, r, (unsigned)h.status, resp);
}

/* ---------------------------------------------------------------- the handler */

static enum MHD_Result serve_metrics(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct strbuf out = { 0 };
    metrics_render(&out, api->cfg.sessions);
    struct MHD_Response *resp = MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
    strbuf_free(&out);
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    return queue(c, r, 200, resp);
}

static void classify(struct request *r)
{
    const char *action = NULL;
    bool data_path = parse_data_path(r->path, r->target, sizeof r->target, &action);
    if (control_plane_owns(r->method, r->path))
        r->kind = REQ_CONTROL;
    else if (data_path && strcmp(action, "invocations") == 0 &&
             (!strcmp(r->method, "POST") || !strcmp(r->method, "GET") || !strcmp(r->method, "DELETE")))
        r->kind = REQ_INVOKE;     /* GET/DELETE only reach MCP runtimes (streamable HTTP) */
    else if (data_path && strcmp(action, "stopruntimesession") == 0 && !strcmp(r->method, "POST"))
        r->kind = REQ_STOP;
    else if (strcmp(r->path, "/metrics") == 0 && !strcmp(r->method, "GET"))
        r->kind = REQ_METRICS;
    else
        r->kind = REQ_UNKNOWN;
}

/* Whether the caller is known to be who it says, body aside: a verified bearer token, or a
 * SigV4 signature already checked from the head (x-amz-content-sha256 sent). */
static bool caller_verified(const struct request *r)
{
    return r->auth && (strcmp(r->auth, "jwt") == 0 || sigv4_signature_verified(r->sig));
}

/* A body byte held for a request whose signature (or signed body hash) is not decided yet
 * counts against spool_max_unverified; false when there is no room (the request is refused). */
static bool hold_unverified(struct http_api *api, struct request *r, uint64_t total)
{
    if (!r->sig || !sigv4_body_pending(r->sig) || total <= r->reserved)
        return true;
    if (!spool_quota_reserve(&api->unverified, total - r->reserved)) {
        fprintf(stderr, "silod: refused id=%s %s %s: the unverified body spool is full (%llu bytes held)\n",
                r->request_id, r->method, r->path, (unsigned long long)spool_quota_used(&api->unverified));
        fail(r, AWS_SERVICE_UNAVAILABLE, "too many unauthenticated request bytes in flight; retry later");
        return false;
    }
    r->reserved = total;
    return true;
}

static void release_unverified(struct http_api *api, struct request *r)
{
    spool_quota_release(&api->unverified, r->reserved);
    r->reserved = 0;
}

/* After a refusal mid-body: the body is read on (and dropped) only for a caller already
 * verified whose request failed for another reason (the agent closed, say), so it still gets
 * its answer; anything else stops reading and the connection is closed. */
static enum MHD_Result after_failure(const struct request *r)
{
    bool drain = caller_verified(r) && strcmp(r->err_type, AWS_PAYLOAD_TOO_LARGE) != 0 &&
                 strcmp(r->err_type, AWS_VALIDATION) != 0 && strcmp(r->err_type, AWS_SERVICE_UNAVAILABLE) != 0;
    if (!drain)
        fprintf(stderr, "silod: request id=%s refused mid-body (%s): connection closed\n", r->request_id,
                r->err_type);
    return drain ? MHD_YES : MHD_NO;
}

static bool replay_piece(void *ctx, const void *data, size_t n) { return send_body(ctx, data, n); }

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)url; (void)version;
    struct http_api *api = cls;
    struct request *r = *state;
    conn_guard_phase(api->guard, r->conn, CONN_BUSY);
    if (!r->started) {
        r->started = true;
        snprintf(r->method, sizeof r->method, "%s", method);
        classify(r);
        if (r->kind == REQ_UNKNOWN) {
            fail(r, AWS_UNKNOWN_OPERATION, "no such operation");
        } else if (r->kind == REQ_METRICS) {
            if (!api->cfg.metrics_public)
                authenticate_sigv4(api, c, r);
        } else if (bearer_token(c)) {
            /* a bearer token: data plane only, checked against the runtime's JWT authorizer;
             * the body is not signed, so the invocation starts at once and the body streams */
            r->bearer = true;
            if (r->kind == REQ_CONTROL)
                fail(r, AWS_ACCESS_DENIED, "the control plane accepts SigV4 only");
            else
                start_invoke(api, c, r);
        } else if (!authenticate_sigv4(api, c, r)) {
            ;                            /* refused: answered below */
        } else if (r->kind == REQ_CONTROL && role_creds_is_role_principal(r->principal)) {
            /* credentials vended to an agent for its execution role: the data plane only */
            fail(r, AWS_ACCESS_DENIED, "credentials vended to an agent runtime may not call the control plane");
        } else if (r->kind != REQ_CONTROL) {
            if (sigv4_body_pending(r->sig))
                r->spooling = true;      /* held (bounded memory) until the body is verified */
            else
                start_invoke(api, c, r); /* UNSIGNED-PAYLOAD: nothing in the body to verify */
        }
        /* a body announced over the limit is not read at all: answered now, connection closed */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long limit = r->kind == REQ_CONTROL ? CONTROL_MAX_BODY : INVOKE_MAX_PAYLOAD;
        unsigned long long announced = cl ? strtoull(cl, NULL, 10) : 0;
        if (!r->failed && announced > limit)
            fail(r, r->kind == REQ_CONTROL ? AWS_VALIDATION : AWS_PAYLOAD_TOO_LARGE,
                 r->kind == REQ_CONTROL ? "request body too large" : "payload exceeds 100 MB");
        if (!r->failed)
            hold_unverified(api, r, announced);     /* the whole announced body, up front */
        /* refused from the head (auth, quota, size, unknown runtime, ...): answered now, the body
         * is never read and the connection is closed */
        if (r->failed)
            return reply_error(c, r, r->err_type, r->err_msg);
        conn_guard_phase(api->guard, r->conn, CONN_BODY);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->failed)
            return after_failure(r);
        r->body_len += n;
        if (r->sig)
            sigv4_update(r->sig, upload, n);
        if (r->kind == REQ_CONTROL && r->body_len > CONTROL_MAX_BODY)
            fail(r, AWS_VALIDATION, "request body too large");
        else if (r->kind != REQ_CONTROL && r->body_len > INVOKE_MAX_PAYLOAD)
            fail(r, AWS_PAYLOAD_TOO_LARGE, "payload exceeds 100 MB");
        else if (r->kind == REQ_INVOKE && r->dispatched && !r->body_to_agent)
            fail(r, AWS_VALIDATION, "this request cannot have a body");
        else if (!hold_unverified(api, r, r->body_len))
            ;                            /* refused: no room for more unverified bytes */
        else if (r->upstream >= 0) {
            if (!send_body(r, upload, n))
                agent_failed(api, r, "the agent closed the connection");
        } else if (r->spooling) {
            if (!body_spool_write(&r->spool, upload, n))
                fail(r, AWS_INTERNAL, "the request body could not be held");
        } else if (r->kind == REQ_CONTROL || r->kind == REQ_METRICS)
            strbuf_append(&r->body, upload, n);
        if (r->failed)
            return after_failure(r);
        conn_guard_phase(api->guard, r->conn, CONN_BODY);
        return MHD_YES;
    }
    /* the whole request has arrived: decide the signature (or the signed body hash) before any
     * of the body is used */
    if (!r->failed && r->sig && sigv4_body_pending(r->sig)) {
        enum sigv4_result res = sigv4_finish(r->sig);
        if (res != SIGV4_OK) {
            fprintf(stderr, "silod: auth rejected id=%s %s %s: %s\n", r->request_id, r->method, r->path,
                    sigv4_result_name(res));
            fail_signature(r, res);
        }
    }
    release_unverified(api, r);
    if (!r->failed && r->upstream >= 0 && r->sig && !sigv4_signature_verified(r->sig)) {
        close(r->upstream);          /* never: the body streamed only when nothing was left to verify */
        r->upstream = -1;
        fail(r, AWS_INVALID_SIGNATURE, "the request signature is not valid");
    }
    if (!r->failed && (r->kind == REQ_INVOKE || r->kind == REQ_STOP) && !r->dispatched) {
        /* verified: now the invocation starts and the held body is replayed to the agent */
        start_invoke(api, c, r);
        if (!r->failed && r->upstream >= 0 && r->spool.len && r->body_to_agent &&
            !body_spool_replay(&r->spool, replay_piece, r))
            agent_failed(api, r, "the agent closed the connection");
    }
    body_spool_free(&r->spool);
    if (r->failed)
        return reply_error(c, r, r->err_type, r->err_msg);
    if (r->kind == REQ_METRICS)
        return serve_metrics(api, c, r);
    if (r->kind == REQ_CONTROL) {
        struct cp_response out;
        control_plane_handle(api->cfg.cp, method, r->path, r->query, r->body.data, r->body.len, &out);
        if (out.error_type)
            metrics_error(out.error_type);
        enum MHD_Result ret = reply(c, r, out.status, out.error_type, out.body, NULL);
        free(out.body);
        return ret;
    }
    if (r->kind == REQ_STOP) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "runtimeSessionId", json_object_new_string(r->session_id));
        enum MHD_Result ret = reply(c, r, 200, NULL, json_object_to_json_string(o), r->session_id);
        json_object_put(o);
        return ret;
    }
    return finish_invoke(api, c, r);
}

static bool session_alive(void *ctx, const char *session_id) { return sessions_state(ctx, session_id) >= 0; }

struct http_api *http_api_start(const struct http_api_config *cfg, const char *addr, unsigned port,
                                char *err, size_t err_len)
{
    struct http_api *api = calloc(1, sizeof *api);
    if (!api)
        abort();
    api->cfg = *cfg;
    pthread_mutex_init(&api->guest_lock, NULL);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, err_len, "listen address %s is not an IPv4 address", addr);
        free(api);
        return NULL;
    }
    struct http_api_config *k = &api->cfg;
    k->spool_max_unauthenticated_mib = k->spool_max_unauthenticated_mib ? k->spool_max_unauthenticated_mib : 512;
    k->max_connections = k->max_connections ? k->max_connections : 1024;
    k->max_connections_per_client = k->max_connections_per_client ? k->max_connections_per_client : 64;
    k->idle_timeout_s = k->idle_timeout_s ? k->idle_timeout_s : 900;
    api->unverified.limit = (uint64_t)k->spool_max_unauthenticated_mib << 20;
    struct conn_guard_config gc = { k->head_timeout_s, k->keepalive_timeout_s, k->body_timeout_s };
    api->guard = conn_guard_new(&gc);
    api->binds = session_binds_new(session_alive, cfg->sessions);
    /* poll(), not select(): descriptors past FD_SETSIZE work; the library refuses connections
     * past the limits at accept (closed at once, nothing read) */
    api->daemon = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0,
        NULL, NULL, handle, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_URI_LOG_CALLBACK, log_uri, api, MHD_OPTION_NOTIFY_COMPLETED, request_done, api,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, api,
        MHD_OPTION_CONNECTION_LIMIT, k->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, k->max_connections_per_client,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_CONNECTION_TIMEOUT, k->idle_timeout_s, MHD_OPTION_END);
    if (!api->daemon) {
        snprintf(err, err_len, "cannot listen on %s:%u", addr, port);
        conn_guard_free(api->guard);
        session_binds_free(api->binds);
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
    conn_guard_free(api->guard);
    session_binds_free(api->binds);
    free(api);
}
