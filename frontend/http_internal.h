/* frontend/http_internal.h — what silod's HTTP server files share, never included outside
 * them (the public interface is http_api.h). The files:
 *
 *   http_api.c      the HTTP glue: libmicrohttpd's daemon, connections (guest ones too), the
 *                   request's life from its URI to its log line, routing by kind, the body
 *                   loop (spooling, limits), answers and restJson1 errors, GET /metrics
 *   http_auth.c     inbound authentication: SigV4 or a bearer JWT, the choice between them
 *                   for a request and for a runtime, and the "auth rejected" log line
 *   invoke_proxy.c  InvokeAgentRuntime, GetAgentCard and StopRuntimeSession: the data path,
 *                   the session, the request head and body to the agent, its answer streamed
 *                   back (the agent card: read whole, checked, answered)
 *   runtime_command.c  InvokeAgentRuntimeCommand: the command to agentd (EXEC), its output
 *                   back as an AWS event stream
 *   ws_proxy.c      WebSocket connections (…/ws): the client's upgrade checked, the agent's
 *                   101 checked, silod's 101 and the relay (ws_relay.c) on the upgraded socket
 * (http_api.c also serves POST /silo/images through image_upload.c)
 *
 * All three run on the MHD connection's own thread (thread per connection). */
#ifndef SILO_FRONTEND_HTTP_INTERNAL_H
#define SILO_FRONTEND_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "frontend/agent_http.h"
#include "frontend/body_spool.h"
#include "frontend/conn_guard.h"
#include "frontend/image_upload.h"
#include "frontend/http_api.h"
#include "frontend/microvm.h"
#include "frontend/session_bind.h"
#include "frontend/strbuf.h"
#include "frontend/ws_relay.h"

#define SESSION_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
#define REQUEST_ID_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id"
#define USER_ID_HEADER "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
#define MCP_SESSION_HEADER "Mcp-Session-Id"
#define WAT_HEADER "WorkloadAccessToken"          /* the agent's workload access token (identity.h) */
#define OAUTH2_CALLBACK_HEADER "OAuth2CallbackUrl"   /* the caller's 3LO return URL, passed on */
#define CONTROL_MAX_BODY (1024 * 1024)
#define USER_ID_MAX 1024
#define CUSTOM_HEADER_MAX 4096
#define AGENT_ERROR_SNIPPET 512
#define AGENT_CARD_MAX (256 * 1024)     /* the largest A2A agent card GetAgentCard relays */

/* Connections from a guest to silod's API (guest_channels.c, HOST_PORT_API): the session each
 * came from, by socket, recorded in the request log as from_session= */
struct guest_conn {
    int fd;
    char session_id[SESSION_ID_MAX + 1];
    char runtime_id[160];
    struct guest_conn *next;
};

struct http_api {
    struct http_api_config cfg;
    struct MHD_Daemon *daemon;       /* the listen address (TLS when configured) */
    struct MHD_Daemon *guest_daemon; /* guest connections: plain HTTP (== daemon without TLS) */
    pthread_mutex_t guest_lock;
    struct guest_conn *guest_conns;
    struct spool_quota unverified;   /* body bytes held for requests whose signature is undecided */
    struct conn_guard *guard;        /* head / keep-alive / body deadlines per connection */
    struct session_binds *binds;     /* session id → the endpoint, auth method and user that opened it */
    struct identity *identity;       /* AgentCore Identity (http_api_attach_identity); NULL until then */
    unsigned uploads;                /* image uploads in progress (atomic) */
    struct ws_relays *ws;            /* open WebSocket relays (ended before the daemon stops) */
};

/* The identity service, once attached (NULL before: its requests are ServiceUnavailable). */
struct identity *http_identity(struct http_api *api);

/* REQ_IMAGE_UPLOAD: POST /silo/images (image_upload.h). */
/* REQ_IDENTITY: an /identities/ operation (identity.h); REQ_OAUTH2_CALLBACK: the browser's
 * return from an OAuth2 provider (no authentication; its single-use state is the credential);
 * REQ_AGENT_CARD: GetAgentCard (an A2A runtime's card, through a session like an invocation);
 * REQ_WS: a WebSocket connection to an agent runtime (GET …/ws with an upgrade). */
enum request_kind { REQ_CONTROL, REQ_INVOKE, REQ_STOP, REQ_METRICS, REQ_IDENTITY, REQ_OAUTH2_CALLBACK, REQ_COMMAND,
                    REQ_IMAGE_UPLOAD, REQ_AGENT_CARD, REQ_WS, REQ_UNKNOWN };

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

/* A relay of the agent connection agent_fd, one reference, not yet tied to a session (the
 * caller sets session and port when the connection may go back to the session's pool). */
struct relay *relay_new(struct http_api *api, int agent_fd);

/* Per-request state, created by the URI log callback (so the raw URI is kept). */
struct request {
    char *raw_uri;
    char *path, *query;
    char log_path[512];          /* the path escaped for the log (url_escape_for_log) */
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
    bool auth_rejected;          /* refused by authentication (logged "auth rejected", auth=rejected) */
    const char *principal;       /* SigV4 key principal (config), never a secret */
    char from_session[SESSION_ID_MAX + 1];   /* came from this session's guest (or "") */
    char from_runtime[160];                  /* … a session of this runtime (or "") */
    struct sigv4_verifier *sig;
    bool bearer;
    struct strbuf body;          /* control plane and metrics (at most CONTROL_MAX_BODY) */
    struct body_spool spool;     /* invoke/stop body held until its signature is verified */
    bool spooling;               /* the body goes to the spool (SigV4 with the body undecided) */
    uint64_t reserved;           /* bytes of api->unverified this request holds */
    struct conn_entry *conn;     /* this connection's conn_guard entry */
    struct image_upload upload;  /* REQ_IMAGE_UPLOAD: the archive on its way into the store */
    bool upload_slot;            /* holds one of api->uploads (IMAGE_UPLOADS_CONCURRENT) */
    uint64_t body_len;
    uint64_t answer_len;         /* bytes of an answer silod made itself (not relayed) */
    /* invoke */
    char target[1024];
    struct session *session;
    char session_id[SESSION_ID_MAX + 1];
    char runtime_id[160];
    enum microvm_protocol protocol;   /* the runtime's serverProtocol (AGUI is HTTP's contract) */
    bool mcp;                    /* protocol == MICROVM_MCP */
    bool mcp_session_added;      /* silod made up the Mcp-Session-Id (= session_id) */
    bool body_to_agent;          /* the agent request carries a body: */
    bool body_chunked;           /* chunked, or (the caller sent Content-Length) that length, so
                                  * agents without chunked request support work too */
    int upstream;
    unsigned upstream_port;      /* guest port: the protocol's (microvm_contract) */
    bool upstream_pooled;        /* upstream came from the session's idle pool */
    uint64_t agent_length;       /* the Content-Length sent to the agent (not chunked) */
    uint64_t body_sent;          /* body bytes written to the agent */
    bool last_chunk_sent;
    struct relay *relay;
    struct command_stream *command;   /* InvokeAgentRuntimeCommand's answer (runtime_command.c) */
    int idle_s;                  /* the runtime's idleRuntimeSessionTimeout */
    /* WebSocket (REQ_WS) */
    char ws_key[25];             /* the client's Sec-WebSocket-Key (checked) */
    char *ws_bearer;             /* a bearer token from Sec-WebSocket-Protocol (malloc'd), or NULL */
    bool ws_bearer_protocol;     /* … so the 101 names base64UrlBearerAuthorization */
    const char *ws_end;          /* why the relay ended (the log line), NULL before */
};

/* ---- http_api.c: answers (each sets r->status; the request id goes with every answer) */

/* Marks r failed with an AWS error type and message, answered once the request ends (the
 * first failure wins). */
void http_fail(struct request *r, const char *type, const char *msg);
enum MHD_Result http_queue(struct MHD_Connection *c, struct request *r, unsigned status,
                           struct MHD_Response *resp);
enum MHD_Result http_reply_error(struct MHD_Connection *c, struct request *r, const char *type,
                                 const char *msg);

/* ---- http_auth.c */

/* Authenticates a request from its head, before any of its body is read: a bearer token (data
 * plane only; verified against the runtime's authorizer by http_auth_runtime) or SigV4 (whose
 * body may still be pending: sigv4_body_pending). False (r failed, "auth rejected" logged)
 * when refused. */
bool http_auth_head(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* SigV4 alone (GET /metrics when not public). */
bool http_auth_sigv4(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* At the end of the body: decides a SigV4 signature or signed body hash still pending. */
void http_auth_finish(struct request *r);
/* A caller known to be who it says, body aside: a verified bearer token, or a SigV4 signature
 * already checked from the head. */
bool http_caller_verified(const struct request *r);
/* Against the runtime (its version configuration cfg): the request's method must be the
 * runtime's (customJWTAuthorizer: bearer only; else SigV4 only); a bearer token is verified
 * against the authorizer. Writes the user id to pass to the agent (JWT: iss|sub; SigV4: the
 * caller's validated User-Id header, or "") and whether the runtime is a JWT one. False with r
 * failed otherwise. */
bool http_auth_runtime(struct http_api *api, struct MHD_Connection *c, struct request *r, json_object *cfg,
                       char *user_id, size_t user_id_len, bool *jwt);
/* Refuses r for an authentication reason: logs "silod: auth rejected id=… METHOD PATH: reason"
 * (the path escaped, never a secret or token) and fails r with type and msg. */
void http_auth_reject(struct request *r, const char *reason, const char *type, const char *msg);

/* ---- invoke_proxy.c */

struct resolved_runtime;
/* The data path's common start (invoke, stop, command): the query (qualifier, accountId), the
 * runtime resolved (r->runtime_id), the caller checked against it (http_auth_runtime: user_id,
 * jwt), its protocol (r->protocol, r->mcp). True with *cfg the version's configuration (the
 * caller puts it); false with r failed. */
bool invoke_resolve(struct http_api *api, struct MHD_Connection *c, struct request *r, struct resolved_runtime *rr,
                    json_object **cfg, char *user_id, size_t user_id_len, bool *jwt);
/* The session id chosen (header, Mcp-Session-Id, or a new one) and claimed for this caller
 * (session_bind.h); false with r failed (another owner: AccessDenied, or NotFound for a stop). */
bool invoke_claim_session(struct http_api *api, struct MHD_Connection *c, struct request *r,
                          const struct resolved_runtime *rr, const char *user_id, bool jwt);
/* Takes the session (started if need be, once more if its VMM had died) and connects
 * r->upstream to guest port `port`; false with r failed. */
bool invoke_open_session(struct http_api *api, struct request *r, const struct resolved_runtime *rr, json_object *cfg,
                         unsigned port);

/* Whether path is /runtimes/{arn-or-id}/invocations (or …/invocations/, the same), …/stopruntimesession or
 * …/invocations/.well-known/agent-card.json (INVOKE_CARD_ACTION): the decoded target into
 * target (len bytes) and the action into *action. */
#define INVOKE_CARD_ACTION "invocations" MICROVM_A2A_CARD_PATH
bool invoke_parse_path(const char *path, char *target, size_t len, const char **action);
/* Resolves the runtime, checks the caller against it (http_auth_runtime), takes the session
 * (StopRuntimeSession: stops it) and sends the agent the request head (GetAgentCard: GET of the
 * card on the A2A port; ValidationException for a runtime of another protocol). r fails
 * otherwise. */
void invoke_start(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* A piece of the request body to the agent, framed as the head announced it. */
bool invoke_send_body(struct request *r, const void *data, size_t n);
/* The agent could not be reached or went away: ends the session when its agent is gone; r
 * fails with RuntimeClientError. */
void invoke_agent_failed(struct http_api *api, struct request *r, const char *msg);
/* The whole request was sent: reads the agent's head and queues the answer streaming its body
 * (GetAgentCard: the card read whole, at most AGENT_CARD_MAX, answered if it is a JSON object). */
enum MHD_Result invoke_finish(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* Drops a reference to the relay (the request's or the response's). */
void invoke_relay_put(struct relay *rl);

/* ---- runtime_command.c */

/* A bearer caller of InvokeAgentRuntimeCommand is verified from the head, before any of its
 * (buffered) body is read: the runtime resolved and the token checked. False with r failed. */
bool command_check_head(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* The whole verified body in r->body: validates it, checks that commands are allowed for the
 * runtime, takes the session and starts the command in the guest; r fails otherwise. */
void command_start(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* Queues the event-stream answer that streams the command's output as agentd sends it. */
enum MHD_Result command_finish(struct http_api *api, struct MHD_Connection *c, struct request *r);
/* Bytes of the event stream handed to the client so far (for the request log). */
uint64_t command_bytes_out(const struct command_stream *cs);
/* Drops the request's reference to its command stream. */
void command_stream_put(struct command_stream *cs);

/* ---- ws_proxy.c */

/* From the head of GET …/ws: an RFC 6455 upgrade (Upgrade: websocket, Connection: Upgrade,
 * Sec-WebSocket-Version 13, a valid Sec-WebSocket-Key), no body, and a bearer token carried
 * in Sec-WebSocket-Protocol (base64UrlBearerAuthorization.<b64url>) taken out for
 * http_auth.c. False with r failed (ValidationException) otherwise; nothing else is done. */
bool ws_check_request(struct MHD_Connection *c, struct request *r);
/* The upgrade lines of the request head to the agent (GET /ws): Upgrade, Connection, the
 * client's key and version, its subprotocols (bearer entries left out) and extensions. */
void ws_agent_head(struct MHD_Connection *c, const struct request *r, struct strbuf *head);
/* After invoke_start sent the head: reads the agent's answer; a 101 with the right
 * Sec-WebSocket-Accept is answered 101 to the client and the relay runs on the upgraded
 * socket; anything else is an AWS error (RuntimeClientError for the agent's refusal). */
enum MHD_Result ws_answer(struct http_api *api, struct MHD_Connection *c, struct request *r);

#endif
