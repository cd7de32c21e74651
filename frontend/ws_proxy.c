/* frontend/ws_proxy.c — WebSocket connections to an agent runtime through silod's HTTP server
 * (GET /runtimes/{arn}/ws?qualifier=…, as the AgentCore SDKs build it): the client's upgrade
 * request checked from its head, the upgrade lines of the request to the agent's GET /ws, the
 * agent's 101 checked, silod's own 101 through libmicrohttpd's upgrade support, and the relay
 * (ws_relay.c) run on the upgraded socket on the connection's own thread (thread per
 * connection). Authentication, the runtime, the session and the agent connection are the
 * same as an invocation's (http_auth.c, invoke_proxy.c). See http_internal.h. */
#include "frontend/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "frontend/aws_error.h"
#include "frontend/b64url.h"
#include "frontend/metrics.h"

#define BEARER_PROTOCOL "base64UrlBearerAuthorization"
#define WS_BEARER_MAX_ENCODED 4096    /* the SDKs' limit on the encoded token */

static const char *header_of(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* A bearer token carried as the subprotocol "base64UrlBearerAuthorization.<b64url(token)>"
 * (browsers cannot set Authorization on a WebSocket): decoded into r->ws_bearer. False when
 * such an entry is there but is not valid. */
static bool take_bearer_protocol(struct MHD_Connection *c, struct request *r)
{
    const char *v = header_of(c, "Sec-WebSocket-Protocol");
    const char *prefix = BEARER_PROTOCOL ".";
    for (const char *p = v; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ", \t");
        if (len > strlen(prefix) && strncmp(p, prefix, strlen(prefix)) == 0) {
            size_t enc = len - strlen(prefix);
            if (enc > WS_BEARER_MAX_ENCODED || r->ws_bearer)
                return false;
            r->ws_bearer = malloc(enc + 1);
            if (!r->ws_bearer)
                abort();
            ssize_t n = b64url_decode(p + strlen(prefix), enc, (uint8_t *)r->ws_bearer, enc);
            if (n <= 0)
                return false;
            r->ws_bearer[n] = '\0';
            if (strlen(r->ws_bearer) != (size_t)n || !agent_header_value_ok(r->ws_bearer, WS_BEARER_MAX_ENCODED))
                return false;
            r->ws_bearer_protocol = true;
        }
        p += len;
    }
    return true;
}

bool ws_check_request(struct MHD_Connection *c, struct request *r)
{
    const char *upgrade = header_of(c, "Upgrade"), *conn = header_of(c, "Connection");
    const char *version = header_of(c, "Sec-WebSocket-Version"), *key = header_of(c, "Sec-WebSocket-Key");
    const char *cl = header_of(c, "Content-Length"), *te = header_of(c, "Transfer-Encoding");
    const char *msg = NULL;
    if (!upgrade || !http_list_has_token(upgrade, "websocket") || !http_list_has_token(conn, "upgrade"))
        msg = "this operation is a WebSocket connection: send Upgrade: websocket and Connection: Upgrade";
    else if (!version || strcmp(version, "13") != 0)
        msg = "Sec-WebSocket-Version must be 13";
    else if (!ws_key_valid(key))
        msg = "Sec-WebSocket-Key must be the base64 of 16 bytes";
    else if (te || (cl && strcmp(cl, "0") != 0))
        msg = "a WebSocket upgrade request has no body";
    else if (!take_bearer_protocol(c, r))
        msg = "the " BEARER_PROTOCOL " subprotocol must carry a base64url token of at most 4096 characters";
    if (msg) {
        http_fail(r, AWS_VALIDATION, msg);
        return false;
    }
    snprintf(r->ws_key, sizeof r->ws_key, "%s", key);
    return true;
}

/* The client's subprotocols without the bearer entries, comma-separated, into out (false
 * when nothing is left or something is not printable). */
static bool agent_protocols(struct MHD_Connection *c, char *out, size_t cap)
{
    const char *v = header_of(c, "Sec-WebSocket-Protocol");
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = v; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ", \t");
        bool bearer = strncmp(p, BEARER_PROTOCOL, strlen(BEARER_PROTOCOL)) == 0 &&
                      (len == strlen(BEARER_PROTOCOL) || p[strlen(BEARER_PROTOCOL)] == '.');
        if (len && !bearer) {
            if (n + len + 3 > cap)
                return false;
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? ", " : "", (int)len, p);
        }
        p += len;
    }
    return n > 0 && agent_header_value_ok(out, cap);
}

void ws_agent_head(struct MHD_Connection *c, const struct request *r, struct strbuf *head)
{
    strbuf_printf(head, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n", r->ws_key);
    char protocols[1024];
    if (agent_protocols(c, protocols, sizeof protocols))
        strbuf_printf(head, "Sec-WebSocket-Protocol: %s\r\n", protocols);
    const char *ext = header_of(c, "Sec-WebSocket-Extensions");
    if (ext && agent_header_value_ok(ext, 512))
        strbuf_printf(head, "Sec-WebSocket-Extensions: %s\r\n", ext);
}

/* The agent's refusal (not 101): RuntimeClientError with the start of what it said. */
static void agent_refused(struct request *r, struct agent_reader *rd, int status)
{
    char snippet[AGENT_ERROR_SNIPPET + 1], m[AGENT_ERROR_SNIPPET + 120];
    size_t n = 0;
    ssize_t k = 1;
    while (status >= 200 && n < AGENT_ERROR_SNIPPET && k > 0) {
        k = agent_read_body(rd, snippet + n, AGENT_ERROR_SNIPPET - n);
        if (k > 0)
            n += (size_t)k;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)snippet[i] < 0x20 || (unsigned char)snippet[i] > 0x7e)
            snippet[i] = ' ';
    snippet[n] = '\0';
    snprintf(m, sizeof m, "Received error (%d) from the agent runtime: it did not accept the WebSocket "
                          "connection%s%s", status, n ? ": " : "", snippet);
    http_fail(r, AWS_RUNTIME_CLIENT_ERROR, m);
}

static void set_recv_timeout(int fd, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* The upgraded socket: the relay runs here, on the connection's own thread, until it ends;
 * then the socket goes back to the library to be closed (and the request logged). */
static void upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in, size_t extra_in_size,
                     MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)c;
    struct http_api *api = cls;
    struct request *r = con_cls;
    struct relay *rl = r->relay;
    metrics_websocket_opened();
    fprintf(stderr, "silod: websocket id=%s runtime=%s session=%s open\n", r->request_id, r->runtime_id,
            r->session_id);
    struct ws_relay_run run = {
        .client = sock, .agent = rl->rd.fd, .to_agent = extra_in, .to_agent_len = extra_in_size,
        .to_client = rl->rd.buf + rl->rd.buf_pos, .to_client_len = rl->rd.buf_len - rl->rd.buf_pos,
        .idle_ms = (int64_t)(r->idle_s > 0 ? r->idle_s : 900) * 1000,
        .bytes_to_agent = &r->body_len, .bytes_to_client = &rl->bytes_out,
    };
    r->ws_end = ws_relay_run(api->ws, &run);
    metrics_websocket_closed(r->body_len, __atomic_load_n(&rl->bytes_out, __ATOMIC_RELAXED));
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

enum MHD_Result ws_answer(struct http_api *api, struct MHD_Connection *c, struct request *r)
{
    struct relay *rl = relay_new(api, r->upstream);
    r->upstream = -1;
    r->relay = rl;       /* owns the agent connection from now on (closed with the request) */
    set_recv_timeout(rl->rd.fd, WS_AGENT_HANDSHAKE_MS);
    struct agent_head h = { .ctype = "" };
    char accept[WS_KEY_ACCEPT_LEN + 1];
    ws_accept_for_key(r->ws_key, accept);
    if (!agent_read_head(&rl->rd, &h)) {
        invoke_agent_failed(api, r, "the agent did not answer the WebSocket upgrade");
        return http_reply_error(c, r, r->err_type, r->err_msg);
    }
    if (h.status != 101) {
        agent_refused(r, &rl->rd, h.status);
        return http_reply_error(c, r, r->err_type, r->err_msg);
    }
    if (strcasecmp(h.upgrade, "websocket") != 0 || !h.conn_upgrade || strcmp(h.ws_accept, accept) != 0) {
        http_fail(r, AWS_RUNTIME_CLIENT_ERROR, "the agent runtime answered the WebSocket upgrade with a broken "
                                               "handshake (Upgrade, Connection or Sec-WebSocket-Accept)");
        return http_reply_error(c, r, r->err_type, r->err_msg);
    }
    set_recv_timeout(rl->rd.fd, 0);
    struct MHD_Response *resp = MHD_create_response_for_upgrade(upgraded, api);
    if (!resp) {
        http_fail(r, AWS_INTERNAL, "the WebSocket connection could not be set up");
        return http_reply_error(c, r, r->err_type, r->err_msg);
    }
    MHD_add_response_header(resp, "Upgrade", "websocket");
    MHD_add_response_header(resp, "Connection", "Upgrade");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    /* a bearer sent as a subprotocol is answered with that subprotocol, as the client requires */
    if (r->ws_bearer_protocol)
        MHD_add_response_header(resp, "Sec-WebSocket-Protocol", BEARER_PROTOCOL);
    else if (h.ws_protocol[0])
        MHD_add_response_header(resp, "Sec-WebSocket-Protocol", h.ws_protocol);
    if (h.ws_extensions[0])
        MHD_add_response_header(resp, "Sec-WebSocket-Extensions", h.ws_extensions);
    MHD_add_response_header(resp, SESSION_HEADER, r->session_id);
    return http_queue(c, r, 101, resp);
}
