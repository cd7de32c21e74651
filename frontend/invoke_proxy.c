/* frontend/invoke_proxy.c — InvokeAgentRuntime, GetAgentCard and StopRuntimeSession: the data
 * path (/runtimes/{arn-or-id}/invocations|stopruntimesession|invocations/.well-known/
 * agent-card.json, qualifier), the runtime resolved and its protocol (HTTP/AGUI, MCP, A2A: the
 * port and path are microvm_contract's), the session chosen and bound to its opener
 * (session_bind.h), the connection to the agent's guest port (pooled when kept alive), the
 * request head and body sent on, and the agent's answer relayed as it is read (an A2A agent
 * card: read whole, checked to be a JSON object, answered as GetAgentCard's document).
 * Authentication against the runtime is http_auth.c's; the HTTP glue (http_api.c) decides
 * when to start and finish. See http_internal.h for the interface, http_api.h for the rules. */
#include "frontend/http_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "frontend/aws_error.h"
#include "frontend/identity.h"
#include "frontend/metrics.h"
#include "frontend/microvm.h"
#include "base/url.h"
#include "base/fd_io.h"
#include "frontend/vmm_launcher.h"
#include "guest/agentd/guest_ports.h"

/* the session's idle pool is keyed by these guest ports */
_Static_assert(SESSION_CONN_PORT_HTTP == GUEST_PORT_HTTP && SESSION_CONN_PORT_MCP == GUEST_PORT_MCP &&
               SESSION_CONN_PORT_A2A == GUEST_PORT_A2A, "sessions.h pools the guest ports of guest_ports.h");

void invoke_relay_put(struct relay *rl)
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


/* ---------------------------------------------------------------- data plane */

bool invoke_parse_path(const char *path, char *target, size_t len, const char **action)
{
    if (strncmp(path, "/runtimes/", 10) != 0)
        return false;
    const char *seg = path + 10, *slash = strchr(seg, '/');
    if (!slash || slash == seg)
        return false;
    *action = slash + 1;
    /* the one path segment holding the ARN, decoded (url.h); no control character in it */
    ssize_t n = url_decode(seg, (size_t)(slash - seg), target, len);
    if (n < 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)target[i] < 0x20 || target[i] == 0x7f)
            return false;
    if (strcmp(*action, "invocations/") == 0)
        *action = "invocations";   /* the runtime URL as A2A clients take it, ending in a slash */
    return strcmp(*action, "invocations") == 0 || strcmp(*action, "stopruntimesession") == 0 ||
           strcmp(*action, INVOKE_CARD_ACTION) == 0 || strcmp(*action, "commands") == 0 ||
           strcmp(*action, "ws") == 0;
}

static bool send_chunk(int fd, const void *data, size_t n)
{
    char head[32];
    int hl = snprintf(head, sizeof head, "%zx\r\n", n);
    return fd_write_all(fd, head, (size_t)hl) && fd_write_all(fd, data, n) && fd_write_all(fd, "\r\n", 2);
}

/* A piece of the request body to the agent, framed as agent_head announced it. */
bool invoke_send_body(struct request *r, const void *data, size_t n)
{
    bool ok = r->body_chunked ? n == 0 || send_chunk(r->upstream, data, n) : fd_write_all(r->upstream, data, n);
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
    /* a WebSocket keeps its connection for good: never a pooled one (nor given back) */
    while (r->kind != REQ_WS && (fd = session_conn_take(api->cfg.sessions, r->session, port)) >= 0) {
        if (idle_conn_healthy(fd)) {
            r->upstream_pooled = true;
            return fd;
        }
        close(fd);
    }
    r->upstream_pooled = false;
    return microvm_connect(session_vm(r->session)->vsock_path, port, 10000);
}

/* agentd learns that its agent died from SIGCHLD, a moment after our connection to the agent
 * broke, so one STATUS asked at once can still say "running". On this failure path only, ask
 * again a few times over about a second before concluding that the agent is alive. */
static bool agent_confirmed_running(const char *vsock_path)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!microvm_agent_running(vsock_path, 2000))
            return false;
        usleep(200 * 1000);
    }
    return true;
}

/* The agent could not be reached or answered nothing: if its VMM is gone, or agentd says the
 * agent has ended (the guest powers off within a second then), the session ends now, so a later
 * request with the same id gets a fresh microVM instead of the dying one. */
void invoke_agent_failed(struct http_api *api, struct request *r, const char *msg)
{
    if (r->session && sessions_check_vm(api->cfg.sessions, r->session) &&
        !agent_confirmed_running(session_vm(r->session)->vsock_path))
        sessions_stop(api->cfg.sessions, NULL, r->session_id, SESSION_END_AGENT_EXITED);
    http_fail(r, AWS_RUNTIME_CLIENT_ERROR, msg);
}

static const char *const trace_headers[] = { "X-Amzn-Trace-Id", "traceparent", "tracestate", "baggage" };
static const size_t trace_limits[] = { 128, 128, 512, 8192 };
static const char *const mcp_headers[] = { "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Last-Event-ID" };
/* A2A's own headers: the protocol version a client speaks (1.0 clients send it; without it an
 * A2A 1.0 server takes the request for 0.3) and the extensions it activates */
static const char *const a2a_headers[] = { "A2A-Version", "A2A-Extensions" };

/* The request head to the agent: method, path, framing, content type, the platform headers
 * (session, request id, user id), trace headers, MCP or A2A headers and the runtime's
 * allow-listed headers. Returns false (and fails r) on a header that cannot be passed on. */
static bool agent_head(struct MHD_Connection *c, struct request *r, json_object *cfg,
                       const char *user_id, const char *wat, struct strbuf *head)
{
    /* keep-alive (HTTP/1.1's default): the connection may serve the session's next request */
    const struct microvm_contract *k = microvm_contract(r->protocol);
    strbuf_printf(head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", r->method,
                  r->kind == REQ_AGENT_CARD ? MICROVM_A2A_CARD_PATH : r->kind == REQ_WS ? "/ws" : k->invoke_path,
                  k->port);
    if (r->kind == REQ_WS)
        ws_agent_head(c, r, head);
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
    if (wat[0])
        strbuf_printf(head, WAT_HEADER ": %s\r\n", wat);
    const char *callback = MHD_lookup_connection_value(c, MHD_HEADER_KIND, OAUTH2_CALLBACK_HEADER);
    if (callback && agent_header_value_ok(callback, 2048))
        strbuf_printf(head, OAUTH2_CALLBACK_HEADER ": %s\r\n", callback);
    for (size_t i = 0; i < sizeof trace_headers / sizeof trace_headers[0]; i++) {
        const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, trace_headers[i]);
        if (!hv)
            continue;
        if (!agent_header_value_ok(hv, trace_limits[i])) {
            char m[96];
            snprintf(m, sizeof m, "%s must be at most %zu printable characters", trace_headers[i], trace_limits[i]);
            http_fail(r, AWS_VALIDATION, m);
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
    for (size_t i = 0; r->protocol == MICROVM_A2A && i < sizeof a2a_headers / sizeof a2a_headers[0]; i++) {
        const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, a2a_headers[i]);
        if (hv && agent_header_value_ok(hv, 1024))
            strbuf_printf(head, "%s: %s\r\n", a2a_headers[i], hv);
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
                http_fail(r, AWS_VALIDATION, m);
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
        http_fail(r, AWS_VALIDATION, "runtimeSessionId must be 33 to 256 printable characters");
        return false;
    }
    if (msid && !session_id_valid(msid)) {
        http_fail(r, AWS_VALIDATION, "Mcp-Session-Id must be 33 to 256 printable characters");
        return false;
    }
    char query_sid[SESSION_ID_MAX + 1];
    if (!sid && r->kind == REQ_WS) {
        /* a presigned WebSocket URL carries the session id in its (signed) query string */
        int q = url_query_param(r->query, SESSION_HEADER, query_sid, sizeof query_sid);
        if (q < 0 || (q > 0 && !session_id_valid(query_sid))) {
            http_fail(r, AWS_VALIDATION, "runtimeSessionId must be 33 to 256 printable characters");
            return false;
        }
        sid = q > 0 ? query_sid : NULL;
    }
    if (sid)
        snprintf(r->session_id, sizeof r->session_id, "%s", sid);
    else if (msid)      /* MCP clients echo only Mcp-Session-Id: it pins the microVM */
        snprintf(r->session_id, sizeof r->session_id, "%s", msid);
    else if (r->kind == REQ_STOP) {
        http_fail(r, AWS_VALIDATION, "runtimeSessionId is required");
        return false;
    } else
        session_id_generate(r->session_id);
    r->mcp_session_added = r->mcp && !msid;
    return true;
}

bool invoke_resolve(struct http_api *api, struct MHD_Connection *c, struct request *r, struct resolved_runtime *rr,
                    json_object **cfg_out, char *user_id, size_t user_id_len, bool *jwt)
{
    char qualifier[64] = "", account[32] = "", msg[320];
    *cfg_out = NULL;
    if (!url_query_valid(r->query)) {
        http_fail(r, AWS_VALIDATION, "the query string is not valid percent-encoding");
        return false;
    }
    int q = url_query_param(r->query, "qualifier", qualifier, sizeof qualifier);
    if (q < 0) {
        http_fail(r, AWS_VALIDATION, "qualifier is not a valid endpoint name");
        return false;
    }
    if (q > 0 && !qualifier[0]) {
        http_fail(r, AWS_VALIDATION, "qualifier must not be empty");
        return false;
    }
    if (url_query_param(r->query, "accountId", account, sizeof account) != 0 &&
        (strlen(account) != 12 || strspn(account, "0123456789") != 12)) {
        http_fail(r, AWS_VALIDATION, "accountId must be 12 digits");
        return false;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > INVOKE_MAX_PAYLOAD) {
        http_fail(r, AWS_PAYLOAD_TOO_LARGE, "payload exceeds 100 MB");
        return false;
    }
    const char *err = control_plane_resolve(api->cfg.cp, r->target, qualifier[0] ? qualifier : NULL, rr,
                                            msg, sizeof msg);
    if (err) {
        http_fail(r, err, msg);
        return false;
    }
    snprintf(r->runtime_id, sizeof r->runtime_id, "%s", rr->runtime_id);
    json_object *cfg = json_tokener_parse(rr->config_json), *pc = NULL, *v;
    free(rr->config_json);
    rr->config_json = NULL;
    if (!cfg) {
        http_fail(r, AWS_INTERNAL, "the runtime's configuration cannot be read");
        return false;
    }
    if (!http_auth_runtime(api, c, r, cfg, user_id, user_id_len, jwt)) {
        json_object_put(cfg);
        return false;
    }
    const char *protocol = "HTTP";
    if (json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
        json_object_object_get_ex(pc, "serverProtocol", &v))
        protocol = json_object_get_string(v);
    r->protocol = microvm_protocol_named(protocol);     /* validation allows HTTP, MCP, A2A, AGUI */
    r->mcp = r->protocol == MICROVM_MCP;
    if (r->kind == REQ_AGENT_CARD && r->protocol != MICROVM_A2A) {
        /* after auth, before any microVM is started */
        snprintf(msg, sizeof msg, "GetAgentCard needs a runtime with serverProtocol A2A; this one's is %.16s",
                 protocol);
        http_fail(r, AWS_VALIDATION, msg);
        json_object_put(cfg);
        return false;
    }
    if (r->kind == REQ_WS && r->protocol != MICROVM_HTTP) {
        http_fail(r, AWS_VALIDATION, "WebSocket connections reach agent runtimes with serverProtocol HTTP or "
                                     "AGUI (the agent's /ws on port 8080); this runtime is not");
        json_object_put(cfg);
        return false;
    }
    *cfg_out = cfg;
    return true;
}

bool invoke_claim_session(struct http_api *api, struct MHD_Connection *c, struct request *r,
                          const struct resolved_runtime *rr, const char *user_id, bool jwt)
{
    if (!choose_session_id(c, r))
        return false;
    /* a session serves only the endpoint, auth method and (JWT) user that opened it */
    struct session_owner owner = { rr->runtime_id, rr->endpoint_name, r->auth, jwt ? user_id : "" };
    if (!session_bind_claim(api->binds, r->session_id, &owner)) {
        fprintf(stderr, "silod: refused id=%s session=%s: the session belongs to another endpoint, auth method "
                        "or user\n", r->request_id, r->session_id);
        if (r->kind == REQ_STOP)
            http_fail(r, AWS_NOT_FOUND, "no such session");
        else
            http_fail(r, AWS_ACCESS_DENIED, "the runtime session was opened by another caller or through another endpoint");
        return false;
    }
    return true;
}

bool invoke_open_session(struct http_api *api, struct request *r, const struct resolved_runtime *rr, json_object *cfg,
                         unsigned port)
{
    int idle = 900, max = 28800;
    json_object *lc = NULL, *v;
    if (json_object_object_get_ex(cfg, "lifecycleConfiguration", &lc)) {
        if (json_object_object_get_ex(lc, "idleRuntimeSessionTimeout", &v))
            idle = json_object_get_int(v);
        if (json_object_object_get_ex(lc, "maxLifetime", &v))
            max = json_object_get_int(v);
    }
    r->idle_s = idle;                  /* a WebSocket relay's idle limit (ws_proxy.c) */
    const char *err;
    char msg[320];
    struct session_acquire a = { r->session_id, rr->runtime_id, rr->version, json_object_to_json_string(cfg),
                                 api->cfg.guest_mib, idle, max };
    for (int attempt = 0; attempt < 2 && r->upstream < 0; attempt++) {
        bool existed = sessions_state(api->cfg.sessions, r->session_id) >= 0;
        int64_t t0 = mono_ms();
        r->session = sessions_acquire(api->cfg.sessions, &a, &err, msg, sizeof msg);
        if (!r->session) {
            http_fail(r, err, msg);
            return false;
        }
        if (!existed)
            metrics_session_start(mono_ms() - t0);
        r->upstream = upstream_open(api, r, port);
        int why = errno;
        if (r->upstream < 0 && attempt == 0 && !sessions_check_vm(api->cfg.sessions, r->session)) {
            /* the session's VMM had died: that session is over, this request gets a fresh one */
            sessions_release(api->cfg.sessions, r->session);
            r->session = NULL;
        } else if (r->upstream < 0) {
            fprintf(stderr, "silod: request id=%s session=%s: cannot connect to guest port %u: %s\n", r->request_id,
                    r->session_id, port, why == ECONNREFUSED ? "refused by the guest" : strerror(why));
            invoke_agent_failed(api, r, "the agent is not reachable");
            return false;
        }
    }
    return true;
}

/* Resolves the runtime, checks the caller's auth method and token against it, takes the
 * session and opens the agent connection with the request head. */
void invoke_start(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    r->dispatched = true;
    char user_id[USER_ID_MAX + 2] = "";
    struct resolved_runtime rr;
    json_object *cfg = NULL;
    bool jwt;
    if (!invoke_resolve(api, c, r, &rr, &cfg, user_id, sizeof user_id, &jwt))
        return;
    if (r->kind == REQ_INVOKE && !r->mcp && strcmp(r->method, "POST") != 0) {
        http_fail(r, AWS_UNKNOWN_OPERATION, "no such operation");
        goto out;
    }
    if (!invoke_claim_session(api, c, r, &rr, user_id, jwt))
        goto out;
    if (r->kind == REQ_STOP) {
        if (!sessions_stop(api->cfg.sessions, r->runtime_id, r->session_id, SESSION_END_STOPPED))
            http_fail(r, AWS_NOT_FOUND, "no such session");
        goto out;
    }
    if (!invoke_open_session(api, r, &rr, cfg, microvm_contract(r->protocol)->port))
        goto out;
    r->body_to_agent = strcmp(r->method, "POST") == 0;
    /* a known user: the agent gets a workload access token for (this runtime's workload, user) */
    char wat[WAT_MAX_TOKEN + 1] = "";
    struct identity *idn = http_identity(api);
    if (idn && user_id[0] &&
        !identity_mint_wat(idn, rr.runtime_id, jwt ? WAT_USER_JWT : WAT_USER_ID, user_id, wat, sizeof wat))
        wat[0] = '\0';
    struct strbuf head = { 0 };
    if (agent_head(c, r, cfg, user_id, wat, &head)) {
        bool sent = fd_write_all(r->upstream, head.data, head.len);
        if (!sent && r->upstream_pooled) {
            /* the agent closed the kept-alive connection after it was checked: no body byte was
             * sent and no answer read, so this once the request goes on a fresh connection */
            close(r->upstream);
            r->upstream_pooled = false;
            r->upstream = microvm_connect(session_vm(r->session)->vsock_path, r->upstream_port, 10000);
            sent = r->upstream >= 0 && fd_write_all(r->upstream, head.data, head.len);
        }
        if (!sent)
            invoke_agent_failed(api, r, "the agent closed the connection");
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

static void relay_done(void *cls) { invoke_relay_put(cls); }

/* GetAgentCard's answer: the agent's card read whole (at most AGENT_CARD_MAX), which must be a
 * JSON object; answered as the API's agentCard document (the whole body, application/json),
 * with the session id. Anything else is RuntimeClientError. */
static enum MHD_Result agent_card_finish(struct MHD_Connection *c, struct request *r, struct relay *rl)
{
    struct strbuf card = { 0 };
    char buf[16384];
    ssize_t k;
    while ((k = agent_read_body(&rl->rd, buf, sizeof buf)) > 0 && card.len + (size_t)k <= AGENT_CARD_MAX)
        strbuf_append(&card, buf, (size_t)k);
    json_object *o = NULL;
    if (k == 0) {
        relay_give_back(rl);      /* read exactly to its end: the connection may serve again */
        json_tokener *tok = json_tokener_new();
        if (!tok)
            abort();
        o = json_tokener_parse_ex(tok, card.data ? card.data : "", (int)card.len);
        size_t end = json_tokener_get_parse_end(tok);   /* only whitespace may follow the object */
        bool trailing = !card.data || end > card.len || strspn(card.data + end, " \t\r\n") != card.len - end;
        if (json_tokener_get_error(tok) != json_tokener_success || trailing || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    if (!o) {
        strbuf_free(&card);
        http_fail(r, AWS_RUNTIME_CLIENT_ERROR,
                  k < 0 ? "the agent's card answer broke off"
                  : k > 0 ? "the agent's card is larger than 256 KiB"
                          : "the agent's card at " MICROVM_A2A_CARD_PATH " is not a JSON object");
        return http_reply_error(c, r, r->err_type, r->err_msg);
    }
    json_object_put(o);
    r->answer_len = card.len;
    struct MHD_Response *resp = MHD_create_response_from_buffer(card.len, card.data, MHD_RESPMEM_MUST_COPY);
    strbuf_free(&card);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, SESSION_HEADER, r->session_id);
    return http_queue(c, r, 200, resp);
}

struct relay *relay_new(struct http_api *api, int agent_fd)
{
    struct relay *rl = calloc(1, sizeof *rl);
    if (!rl)
        abort();
    agent_reader_init(&rl->rd, agent_fd);
    rl->refs = 1;
    rl->sessions = api->cfg.sessions;
    return rl;
}

enum MHD_Result invoke_finish(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    if (r->body_to_agent && r->body_chunked) {
        if (!send_chunk(r->upstream, "", 0)) {    /* the last chunk */
            invoke_agent_failed(api, r, "the agent closed the connection");
            return http_reply_error(c, r, r->err_type, r->err_msg);
        }
        r->last_chunk_sent = true;
    }
    struct relay *rl = relay_new(api, r->upstream);
    rl->session = r->session;
    rl->port = r->upstream_port;
    rl->request_sent = !r->body_to_agent || (r->body_chunked ? r->last_chunk_sent : r->body_sent == r->agent_length);
    r->upstream = -1;
    r->relay = rl;
    struct agent_head h = { .ctype = "application/octet-stream" };
    if (!agent_read_head(&rl->rd, &h) || (h.mcp_session[0] && !session_id_valid(h.mcp_session))) {
        invoke_agent_failed(api, r, "the agent did not answer");
        return http_reply_error(c, r, r->err_type, r->err_msg);
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
        http_fail(r, AWS_RUNTIME_CLIENT_ERROR, m);
        return http_reply_error(c, r, r->err_type, r->err_msg);
    }
    if (r->kind == REQ_AGENT_CARD)
        return agent_card_finish(c, r, rl);
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
    return http_queue(c, r, (unsigned)h.status, resp);
}
