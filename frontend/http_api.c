/* frontend/http_api.c — silod's HTTP glue: the libmicrohttpd daemon (thread per connection,
 * connection limits, the conn_guard deadlines), connections from guests (HOST_PORT_API), each
 * request's life (created from its raw URI, classified by kind, its body read into the spool or
 * a buffer under the limits, answered, logged on one line), dispatch to the control plane, to
 * the invoke proxy (invoke_proxy.c) or to GET /metrics, and restJson1 answers. Who the caller
 * is, is http_auth.c's question. See http_api.h for the interface, http_internal.h for what
 * the three files share. */
#include "frontend/http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "frontend/aws_error.h"
#include "frontend/identity.h"
#include "frontend/role_creds.h"
#include "frontend/metrics.h"
#include "base/url.h"

static const char *const kind_names[] = { "control", "invoke", "stop", "metrics", "identity", "oauth2-callback",
                                           "command", "image-upload", "agent-card", "ws", "unknown" };

/* The connection's conn_guard entry (set when the library accepted it). */
static struct conn_entry *conn_entry_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* The session a guest connection (by fd) came from, copied into out ("" for any other). */
static void guest_session_of(struct http_api *api, int fd, struct request *r)
{
    r->from_session[0] = r->from_runtime[0] = 0;
    pthread_mutex_lock(&api->guest_lock);
    for (struct guest_conn *g = api->guest_conns; g; g = g->next)
        if (g->fd == fd) {
            snprintf(r->from_session, sizeof r->from_session, "%s", g->session_id);
            snprintf(r->from_runtime, sizeof r->from_runtime, "%s", g->runtime_id);
        }
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

void http_api_add_guest_connection(void *ctx, int fd, const char *session_id, const char *runtime_id)
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
    snprintf(g->runtime_id, sizeof g->runtime_id, "%s", runtime_id ? runtime_id : "");
    pthread_mutex_lock(&api->guest_lock);
    g->next = api->guest_conns;
    api->guest_conns = g;
    pthread_mutex_unlock(&api->guest_lock);
    struct sockaddr_un from = { .sun_family = AF_UNIX };
    if (MHD_add_connection(api->guest_daemon, fd, (struct sockaddr *)&from, sizeof from) != MHD_YES)
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
    image_upload_init(&r->upload);
    r->conn = conn_entry_of(c);
    const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fdi)
        guest_session_of(api, fdi->connect_fd, r);
    /* the first line of a request on a kept-alive connection: the head is due within head_timeout_s */
    if (conn_guard_current(api->guard, r->conn) == CONN_IDLE)
        conn_guard_phase(api->guard, r->conn, CONN_HEAD);
    r->raw_uri = strdup(uri);
    r->upstream = -1;
    r->start_ms = mono_ms();
    char *q = strchr(r->raw_uri, '?');
    r->path = strndup(r->raw_uri, q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri));
    url_escape_for_log(r->path, r->log_path, sizeof r->log_path);
    r->query = q ? strdup(q + 1) : NULL;
    session_id_generate(r->request_id);
    return r;
}

/* One structured line per request (logfmt); never a secret, a token or a body. */
static void log_request(const struct request *r, enum MHD_RequestTerminationCode code)
{
    uint64_t out = r->relay     ? __atomic_load_n(&r->relay->bytes_out, __ATOMIC_RELAXED)
                   : r->command ? command_bytes_out(r->command)
                                : r->answer_len;
    fprintf(stderr, "silod: request id=%s method=%s op=%s runtime=%s session=%s status=%u latency_ms=%lld"
                    " bytes_in=%llu bytes_out=%llu auth=%s principal=%s%s%s%s%s%s%s%s\n",
            r->request_id, r->method[0] ? r->method : "-", kind_names[r->kind],
            r->runtime_id[0] ? r->runtime_id : "-", r->session_id[0] ? r->session_id : "-", r->status,
            (long long)(mono_ms() - r->start_ms), (unsigned long long)r->body_len,
            (unsigned long long)out, r->auth_rejected ? "rejected" : r->auth ? r->auth : "none", r->principal ? r->principal : "-",
            r->failed ? " error=" : "", r->failed ? r->err_type : "",
            code == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1",
            r->from_session[0] ? " from_session=" : "", r->from_session,
            r->ws_end ? " ws_end=" : "", r->ws_end ? r->ws_end : "");
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
    free(r->ws_bearer);
    strbuf_free(&r->body);
    body_spool_free(&r->spool);
    image_upload_abort(&r->upload);          /* an upload not committed leaves nothing behind */
    if (r->upload_slot)
        __atomic_sub_fetch(&api->uploads, 1, __ATOMIC_RELAXED);
    spool_quota_release(&api->unverified, r->reserved);
    conn_guard_phase(api->guard, r->conn, CONN_IDLE);     /* kept alive: the next head may come */
    if (r->upstream >= 0)
        close(r->upstream);
    if (r->relay)
        r->relay->session = NULL;     /* released below: nothing is given back after this */
    invoke_relay_put(r->relay);
    command_stream_put(r->command);
    if (r->session)
        sessions_release(api->cfg.sessions, r->session);
    free(r->raw_uri);
    free(r->path);
    free(r->query);
    free(r);
}

/* Common response headers: the request id (x-amzn-RequestId, read by the AWS SDKs). */
enum MHD_Result http_queue(struct MHD_Connection *c, struct request *r, unsigned status,
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
    r->answer_len = body ? strlen(body) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->answer_len, (void *)(body ? body : ""),
                                                                MHD_RESPMEM_MUST_COPY);
    if (body)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (err_type)
        MHD_add_response_header(resp, "x-amzn-errortype", err_type);
    if (session_id && *session_id)
        MHD_add_response_header(resp, SESSION_HEADER, session_id);
    return http_queue(c, r, status, resp);
}

enum MHD_Result http_reply_error(struct MHD_Connection *c, struct request *r, const char *type,
                                 const char *msg)
{
    char *body = aws_error_body_for(type, msg);
    metrics_error(type);
    enum MHD_Result ret = reply(c, r, aws_error_status(type), type, body, NULL);
    free(body);
    return ret;
}

void http_fail(struct request *r, const char *type, const char *msg)
{
    if (r->failed)
        return;
    r->failed = true;
    r->err_type = type;
    snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
}

/* ---------------------------------------------------------------- the handler */

static enum MHD_Result serve_metrics(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct strbuf out = { 0 };
    metrics_render(&out, api->cfg.sessions);
    struct MHD_Response *resp = MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
    strbuf_free(&out);
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    return http_queue(c, r, 200, resp);
}

/* Bodies silod reads whole into memory (at most CONTROL_MAX_BODY; none for the callback). */
static bool body_buffered(enum request_kind k)
{
    return k == REQ_CONTROL || k == REQ_IDENTITY || k == REQ_METRICS || k == REQ_OAUTH2_CALLBACK || k == REQ_COMMAND;
}

static unsigned long long body_limit(const struct http_api *api, enum request_kind k)
{
    if (k == REQ_IMAGE_UPLOAD)
        return (unsigned long long)api->cfg.image_upload_max_mib << 20;
    return k == REQ_OAUTH2_CALLBACK ? 0 : body_buffered(k) ? CONTROL_MAX_BODY : INVOKE_MAX_PAYLOAD;
}

static const char *too_large(enum request_kind k)
{
    return k == REQ_IMAGE_UPLOAD ? "the image archive is larger than image_upload_max_mib"
         : body_buffered(k) ? "request body too large" : "payload exceeds 100 MB";
}

/* POST /silo/images from its head (the caller is authenticated; image_upload.h): the archive's
 * file is made, or the answer is that its digest is stored already. r fails otherwise. */
static void upload_start(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    const char *hash = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256");
    char err[300];
    if (!api->cfg.image_store || !api->cfg.image_upload_max_mib) {
        http_fail(r, AWS_VALIDATION, "image uploads are off: silod has no image_store (or image_upload_max_mib is 0)");
        return;
    }
    if (!http_caller_verified(r) || !sigv4_body_pending(r->sig)) {
        http_fail(r, AWS_VALIDATION, "an image upload must be SigV4-signed with the body's SHA-256 in "
                                     "x-amz-content-sha256 (not UNSIGNED-PAYLOAD)");
        return;
    }
    if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length")) {
        http_fail(r, AWS_VALIDATION, "an image upload needs a Content-Length");
        return;
    }
    if (__atomic_add_fetch(&api->uploads, 1, __ATOMIC_RELAXED) > IMAGE_UPLOADS_CONCURRENT) {
        __atomic_sub_fetch(&api->uploads, 1, __ATOMIC_RELAXED);
        http_fail(r, AWS_SERVICE_UNAVAILABLE, "too many image uploads in progress; retry later");
        return;
    }
    r->upload_slot = true;
    switch (image_upload_begin(&r->upload, api->cfg.image_store, hash, err, sizeof err)) {
    case UPLOAD_OPEN:
    case UPLOAD_PRESENT:
        return;
    case UPLOAD_REFUSED:
        http_fail(r, AWS_VALIDATION, err);
        return;
    case UPLOAD_FAILED:
        fprintf(stderr, "silod: image upload id=%s: %s\n", r->request_id, err);
        http_fail(r, AWS_INTERNAL, "the image could not be stored");
        return;
    }
}

/* The answer to an upload: its containerUri (the body, if any, arrived whole and verified). */
static enum MHD_Result serve_upload(struct MHD_Connection *c, struct request *r)
{
    char uri[128], err[300];
    bool present = r->upload.present;
    if (!image_upload_commit(&r->upload, uri, sizeof uri, err, sizeof err)) {
        fprintf(stderr, "silod: image upload id=%s refused: %s\n", r->request_id, err);
        return http_reply_error(c, r, strstr(err, "not an image archive") ? AWS_VALIDATION : AWS_INTERNAL, err);
    }
    fprintf(stderr, "silod: image upload id=%s principal=%s %s %s (%llu bytes)\n", r->request_id,
            r->principal ? r->principal : "-", uri, present ? "already stored" : "stored",
            (unsigned long long)r->upload.len);
    json_object *o = json_object_new_object();
    char digest[80];
    snprintf(digest, sizeof digest, "sha256:%s", r->upload.hex);
    json_object_object_add(o, "containerUri", json_object_new_string(uri));
    json_object_object_add(o, "digest", json_object_new_string(digest));
    json_object_object_add(o, "alreadyStored", json_object_new_boolean(present));
    enum MHD_Result ret = reply(c, r, present ? 200 : 201, NULL, json_object_to_json_string(o), NULL);
    json_object_put(o);
    return ret;
}

struct identity *http_identity(struct http_api *api)
{
    return __atomic_load_n(&api->identity, __ATOMIC_ACQUIRE);
}

void http_api_attach_identity(struct http_api *api, struct identity *id)
{
    __atomic_store_n(&api->identity, id, __ATOMIC_RELEASE);
}

static enum MHD_Result serve_identity(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct identity *id = http_identity(api);
    if (!id)
        return http_reply_error(c, r, AWS_SERVICE_UNAVAILABLE, "identity is starting; retry");
    struct identity_caller caller = { r->principal, role_creds_is_role_principal(r->principal), r->from_session,
                                      r->from_runtime };
    struct control_plane_response out;
    identity_handle(id, r->path, r->body.data, r->body.len, &caller, &out);
    if (out.error_type)
        metrics_error(out.error_type);
    enum MHD_Result ret = reply(c, r, out.status, out.error_type, out.body, NULL);
    free(out.body);
    return ret;
}

/* The browser's return from a provider: a redirect to the application, or a short text page. */
static enum MHD_Result serve_oauth2_callback(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct identity *id = http_identity(api);
    struct identity_redirect out = { 503, NULL, NULL };
    if (id)
        identity_callback(id, r->query ? r->query : "", &out);
    const char *text = out.body ? out.body : out.location ? "" : "silod is starting; try again\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (out.location)
        MHD_add_response_header(resp, "Location", out.location);
    enum MHD_Result ret = http_queue(c, r, out.status, resp);
    free(out.location);
    free(out.body);
    return ret;
}

static void classify(struct request *r)
{
    const char *action = NULL;
    bool data_path = invoke_parse_path(r->path, r->target, sizeof r->target, &action);
    if (control_plane_owns(r->method, r->path))
        r->kind = REQ_CONTROL;
    else if (identity_is_callback(r->method, r->path))
        r->kind = REQ_OAUTH2_CALLBACK;
    else if (identity_owns(r->method, r->path))
        r->kind = REQ_IDENTITY;
    else if (data_path && strcmp(action, "invocations") == 0 &&
             (!strcmp(r->method, "POST") || !strcmp(r->method, "GET") || !strcmp(r->method, "DELETE")))
        r->kind = REQ_INVOKE;     /* GET/DELETE only reach MCP runtimes (streamable HTTP) */
    else if (data_path && strcmp(action, "stopruntimesession") == 0 && !strcmp(r->method, "POST"))
        r->kind = REQ_STOP;
    else if (data_path && strcmp(action, "commands") == 0 && !strcmp(r->method, "POST"))
        r->kind = REQ_COMMAND;    /* its JSON body is read whole and verified before it starts */
    else if (data_path && strcmp(action, INVOKE_CARD_ACTION) == 0 && !strcmp(r->method, "GET"))
        r->kind = REQ_AGENT_CARD;
    else if (data_path && strcmp(action, "ws") == 0 && !strcmp(r->method, "GET"))
        r->kind = REQ_WS;         /* a WebSocket connection (ws_proxy.c) */
    else if (strcmp(r->path, "/metrics") == 0 && !strcmp(r->method, "GET"))
        r->kind = REQ_METRICS;
    else if (image_upload_owns(r->method, r->path))
        r->kind = REQ_IMAGE_UPLOAD;
    else
        r->kind = REQ_UNKNOWN;
}

/* A body byte held for a request whose signature (or signed body hash) is not decided yet
 * counts against spool_max_unverified; false when there is no room (the request is refused). */
static bool hold_unverified(struct http_api *api, struct request *r, uint64_t total)
{
    /* (an image upload's caller is verified from the head: only its body's hash is pending,
     * and its bytes go to the store's file, bounded by image_upload_max_mib) */
    if (!r->sig || !sigv4_body_pending(r->sig) || total <= r->reserved || r->kind == REQ_IMAGE_UPLOAD)
        return true;
    if (!spool_quota_reserve(&api->unverified, total - r->reserved)) {
        fprintf(stderr, "silod: refused id=%s %s %s: the unverified body spool is full (%llu bytes held)\n",
                r->request_id, r->method, r->log_path, (unsigned long long)spool_quota_used(&api->unverified));
        http_fail(r, AWS_SERVICE_UNAVAILABLE, "too many unauthenticated request bytes in flight; retry later");
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
    bool drain = http_caller_verified(r) && strcmp(r->err_type, AWS_PAYLOAD_TOO_LARGE) != 0 &&
                 strcmp(r->err_type, AWS_VALIDATION) != 0 && strcmp(r->err_type, AWS_SERVICE_UNAVAILABLE) != 0;
    /* an authenticated upload that is no archive: the rest (at most image_upload_max_mib, as
     * announced) is read and dropped so its caller gets the reason */
    if (r->kind == REQ_IMAGE_UPLOAD && http_caller_verified(r) && strcmp(r->err_type, AWS_VALIDATION) == 0 &&
        r->upload.fd >= 0)
        drain = true;
    if (!drain)
        fprintf(stderr, "silod: request id=%s refused mid-body (%s): connection closed\n", r->request_id,
                r->err_type);
    return drain ? MHD_YES : MHD_NO;
}

static bool replay_piece(void *ctx, const void *data, size_t n) { return invoke_send_body(ctx, data, n); }

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
            http_fail(r, AWS_UNKNOWN_OPERATION, "no such operation");
        } else if (r->kind == REQ_METRICS) {
            if (!api->cfg.metrics_public)
                http_auth_sigv4(api, c, r);
        } else if (r->kind == REQ_OAUTH2_CALLBACK) {
            ;                            /* a browser: its single-use state is checked at the end */
        } else if (r->kind == REQ_WS && !ws_check_request(c, r)) {
            ;                            /* not a WebSocket upgrade silod can make: answered below */
        } else if (!http_auth_head(api, c, r)) {
            ;                            /* refused: answered below */
        } else if (r->kind == REQ_COMMAND) {
            if (r->bearer)
                command_check_head(api, c, r);   /* the token checked before any body is held */
        } else if (r->kind == REQ_IMAGE_UPLOAD) {
            upload_start(api, c, r);
        } else if (r->kind == REQ_WS) {
            ;                            /* no body: started once the (empty) request is complete */
        } else if (r->kind != REQ_CONTROL && r->kind != REQ_IDENTITY) {
            if (r->sig && sigv4_body_pending(r->sig))
                r->spooling = true;      /* held (bounded memory) until the body is verified */
            else
                invoke_start(api, c, r); /* a bearer token or UNSIGNED-PAYLOAD: nothing in the body to verify */
        }
        /* a body announced over the limit is not read at all: answered now, connection closed */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long limit = body_limit(api, r->kind);
        unsigned long long announced = cl ? strtoull(cl, NULL, 10) : 0;
        if (!r->failed && announced > limit)
            http_fail(r, body_buffered(r->kind) || r->kind == REQ_IMAGE_UPLOAD ? AWS_VALIDATION : AWS_PAYLOAD_TOO_LARGE,
                      too_large(r->kind));
        if (!r->failed)
            hold_unverified(api, r, announced);     /* the whole announced body, up front */
        /* refused from the head (auth, quota, size, unknown runtime, ...): answered now, the body
         * is never read and the connection is closed */
        if (r->failed)
            return http_reply_error(c, r, r->err_type, r->err_msg);
        if (r->kind == REQ_IMAGE_UPLOAD && r->upload.present)
            return serve_upload(c, r);   /* stored already: answered now, the body never read */
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
        if (r->body_len > body_limit(api, r->kind))
            http_fail(r, body_buffered(r->kind) || r->kind == REQ_IMAGE_UPLOAD ? AWS_VALIDATION : AWS_PAYLOAD_TOO_LARGE,
                      too_large(r->kind));
        else if ((r->kind == REQ_INVOKE || r->kind == REQ_AGENT_CARD) && r->dispatched && !r->body_to_agent)
            http_fail(r, AWS_VALIDATION, "this request cannot have a body");
        else if (!hold_unverified(api, r, r->body_len))
            ;                            /* refused: no room for more unverified bytes */
        else if (r->kind == REQ_IMAGE_UPLOAD) {
            char err[300];
            if (!image_upload_write(&r->upload, upload, n, err, sizeof err))
                http_fail(r, strstr(err, "not an image archive") ? AWS_VALIDATION : AWS_INTERNAL, err);
        } else if (r->upstream >= 0) {
            if (!invoke_send_body(r, upload, n))
                invoke_agent_failed(api, r, "the agent closed the connection");
        } else if (r->spooling) {
            if (!body_spool_write(&r->spool, upload, n))
                http_fail(r, AWS_INTERNAL, "the request body could not be held");
        } else if (body_buffered(r->kind))
            strbuf_append(&r->body, upload, n);
        if (r->failed)
            return after_failure(r);
        conn_guard_phase(api->guard, r->conn, CONN_BODY);
        return MHD_YES;
    }
    /* the whole request has arrived: decide the signature (or the signed body hash) before any
     * of the body is used */
    http_auth_finish(r);
    release_unverified(api, r);
    if (!r->failed && r->upstream >= 0 && r->sig && !sigv4_signature_verified(r->sig)) {
        close(r->upstream);          /* never: the body streamed only when nothing was left to verify */
        r->upstream = -1;
        http_fail(r, AWS_INVALID_SIGNATURE, "the request signature is not valid");
    }
    if (!r->failed && (r->kind == REQ_INVOKE || r->kind == REQ_STOP || r->kind == REQ_AGENT_CARD ||
                       r->kind == REQ_WS) && !r->dispatched) {
        /* verified: now the invocation starts and the held body is replayed to the agent */
        invoke_start(api, c, r);
        if (!r->failed && r->upstream >= 0 && r->spool.len && r->body_to_agent &&
            !body_spool_replay(&r->spool, replay_piece, r))
            invoke_agent_failed(api, r, "the agent closed the connection");
    }
    if (!r->failed && r->kind == REQ_COMMAND)
        command_start(api, c, r);    /* verified: the command goes to the guest */
    body_spool_free(&r->spool);
    if (r->failed)
        return http_reply_error(c, r, r->err_type, r->err_msg);
    if (r->kind == REQ_METRICS)
        return serve_metrics(api, c, r);
    if (r->kind == REQ_CONTROL) {
        struct control_plane_response out;
        control_plane_handle(api->cfg.cp, method, r->path, r->query, r->body.data, r->body.len, &out);
        if (out.error_type)
            metrics_error(out.error_type);
        enum MHD_Result ret = reply(c, r, out.status, out.error_type, out.body, NULL);
        free(out.body);
        return ret;
    }
    if (r->kind == REQ_IDENTITY)
        return serve_identity(api, c, r);
    if (r->kind == REQ_OAUTH2_CALLBACK)
        return serve_oauth2_callback(api, c, r);
    if (r->kind == REQ_IMAGE_UPLOAD)
        return serve_upload(c, r);
    if (r->kind == REQ_STOP) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "runtimeSessionId", json_object_new_string(r->session_id));
        enum MHD_Result ret = reply(c, r, 200, NULL, json_object_to_json_string(o), r->session_id);
        json_object_put(o);
        return ret;
    }
    if (r->kind == REQ_COMMAND)
        return command_finish(api, c, r);
    if (r->kind == REQ_WS)
        return ws_answer(api, c, r);
    return invoke_finish(api, c, r);
}

static bool session_alive(void *ctx, const char *session_id) { return sessions_state(ctx, session_id) >= 0; }

/* TLS 1.2 and 1.3 only (GnuTLS priority string; libmicrohttpd's Debian build uses GnuTLS) */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* One libmicrohttpd daemon with silod's callbacks and limits: listening on sa (NULL: none, for
 * guest connections handed over by http_api_add_guest_connection), with TLS when tls is set.
 * poll(), not select(): descriptors past FD_SETSIZE work; the library refuses connections past
 * the limits at accept (closed at once, nothing read). The connection timeout is an idle
 * timeout; conn_guard's head deadline runs from the connection's start, so a TLS handshake that
 * never completes (nothing sent, a partial ClientHello) is cut off at head_timeout_s too. */
static struct MHD_Daemon *start_daemon(struct http_api *api, const struct sockaddr_in *sa, bool tls)
{
    const struct http_api_config *k = &api->cfg;
    struct MHD_OptionItem tls_options[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)k->tls_cert_pem },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)k->tls_key_pem },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_OptionItem no_options[] = { { MHD_OPTION_END, 0, NULL } };
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_UPGRADE;
    if (tls)
        flags |= MHD_USE_TLS;
    if (!sa)
        flags |= MHD_USE_NO_LISTEN_SOCKET;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, handle, api, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
        MHD_OPTION_URI_LOG_CALLBACK, log_uri, api, MHD_OPTION_NOTIFY_COMPLETED, request_done, api,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, api,
        MHD_OPTION_CONNECTION_LIMIT, k->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, k->max_connections_per_client,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_CONNECTION_TIMEOUT, k->idle_timeout_s,
        MHD_OPTION_ARRAY, tls ? tls_options : no_options, MHD_OPTION_END);
}

static void api_free(struct http_api *api)
{
    if (api->guest_daemon && api->guest_daemon != api->daemon)
        MHD_stop_daemon(api->guest_daemon);
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    conn_guard_free(api->guard);
    session_binds_free(api->binds);
    if (api->ws)
        ws_relays_free(api->ws);
    free(api);
}

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
    bool tls = cfg->tls_cert_pem && cfg->tls_key_pem;
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, err_len, "this libmicrohttpd was built without TLS: tls_cert_file cannot be served");
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
    api->ws = ws_relays_new();
    api->daemon = start_daemon(api, &sa, tls);
    if (!api->daemon) {
        snprintf(err, err_len, "cannot listen on %s:%u%s", addr, port, tls ? " with TLS" : "");
        api_free(api);
        return NULL;
    }
    /* guests reach silod's API over their own vsock channel (guest_channels.c), in plain HTTP:
     * with TLS on the network side they are served by a second daemon without a listen socket */
    api->guest_daemon = tls ? start_daemon(api, NULL, false) : api->daemon;
    if (!api->guest_daemon) {
        snprintf(err, err_len, "cannot start the HTTP server for guest connections");
        api_free(api);
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
    ws_relays_close_all(api->ws, 5000);   /* the library waits for upgraded connections */
    api_free(api);
}
