/* frontend/http_api.h — silod's HTTP server (libmicrohttpd, one thread per connection,
 * HTTP/1.1 keep-alive and chunked encoding): authentication, then dispatch to the control
 * plane (`/runtimes/…/` with trailing slashes) or the data plane
 * (`POST /runtimes/{arn-or-id}/invocations`, `…/stopruntimesession`); anything else is
 * UnknownOperationException; silod's own `POST /silo/images` takes image archives into the
 * image store (image_upload.h). Errors are restJson1: `x-amzn-errortype` + {"message":...}.
 * With a certificate and key (tls_files.h) the listener speaks HTTPS only; guests' own
 * connections to the API stay plain HTTP over their vsock channel.
 *
 * A SigV4 request body reaches the agent only once it is verified: whether the signature was
 * computed over the body (no x-amz-content-sha256, as botocore and the AWS JS SDK send
 * InvokeAgentRuntime) or the head names the body's hash, the body is spooled (body_spool.h:
 * 64 KiB in memory, the rest in an unlinked temporary file) while it is hashed, and replayed to
 * the agent after sigv4_finish() said OK. Bytes held for undecided requests are capped
 * (spool_max_unauthenticated_mib, 503 beyond). UNSIGNED-PAYLOAD and JWT bodies (nothing in them to
 * verify) stream to the agent as they arrive. A request refused from its head is answered at
 * once and its body never read; one refused mid-body has its connection closed. The agent's answer is
 * relayed as it is read (de-chunked when the agent answers chunked, re-framed for the
 * client), so text/event-stream events reach the client one by one.
 *
 * Authentication: the control plane takes SigV4 only. An invocation (or StopRuntimeSession)
 * of a runtime whose live version has `authorizerConfiguration.customJWTAuthorizer` takes only
 * `Authorization: Bearer <JWT>` (verified by jwt.c against that authorizer; the caller's
 * User-Id header is ignored and `iss|sub` — `iss|client_id` for tokens without `sub` — is
 * passed to the agent as X-Amzn-Bedrock-AgentCore-Runtime-User-Id); every other runtime takes
 * only SigV4, where the caller's User-Id header (validated) is passed on. The other method is
 * AccessDeniedException ("Authorization method mismatch"), as AgentCore answers.
 *
 * Into the guest go: the session id, the request id (X-Amzn-Bedrock-AgentCore-Runtime-
 * Request-Id, also answered to the caller as x-amzn-RequestId), the user id, the trace
 * headers, the runtime's allow-listed headers (values ≤ 4 KB) and, for MCP, the Mcp-* headers.
 * Protocol MCP forwards POST/GET/DELETE to guest port GUEST_PORT_MCP `/mcp` (HTTP: GUEST_PORT_HTTP
 * `/invocations`; guest/agentd/guest_ports.h); the runtime session is the
 * session header, else the client's Mcp-Session-Id, else a new id that silod also sends to the
 * guest and answers as Mcp-Session-Id (unless the server names its own). An HTTP-protocol
 * agent answering 4xx/5xx is RuntimeClientError (424) with the start of its answer; MCP
 * statuses pass through. One logfmt line per request goes to stderr (auth=rejected for a
 * request refused by authentication, which also logs one "silod: auth rejected" line with the
 * reason; paths in log lines are escaped, url.h); GET /metrics serves Prometheus text
 * (metrics.h).
 *
 * The implementation is three files sharing http_internal.h: http_api.c (the HTTP glue),
 * http_auth.c (inbound auth) and invoke_proxy.c (the invoke proxy). */
#ifndef SILO_FRONTEND_HTTP_API_H
#define SILO_FRONTEND_HTTP_API_H

#include <stdbool.h>

#include "frontend/control_plane.h"
#include "frontend/jwt.h"
#include "frontend/sessions.h"
#include "frontend/sigv4.h"

#define INVOKE_MAX_PAYLOAD (100u * 1024 * 1024)

struct role_creds;

struct http_api_config {
    const char *region;
    struct sigv4_key *keys;
    size_t key_count;
    struct control_plane *cp;
    struct sessions *sessions;
    unsigned guest_mib;
    struct jwt_keystore *jwt_keys;   /* for runtimes with a customJWTAuthorizer */
    struct role_creds *role_creds;   /* credentials vended to agents are SigV4 keys too (NULL: none) */
    bool metrics_public;             /* GET /metrics without SigV4 (a scraper on a trusted network) */
    bool commands_enabled;           /* InvokeAgentRuntimeCommand allowed (runtimes may still opt out) */
    /* the front door's limits (0: the default in brackets); see frontend/README.md */
    const char *spool_dir;           /* unverified bodies are spooled here [$TMPDIR or /tmp] */
    unsigned spool_max_unauthenticated_mib;  /* body bytes held at once before verification [512] */
    unsigned max_connections;        /* open client connections in total [1024] */
    unsigned max_connections_per_client;  /* from one client address [64] */
    unsigned head_timeout_s;         /* a request head must arrive within [30] */
    unsigned body_timeout_s;         /* a body may stall at most [60] */
    unsigned keepalive_timeout_s;    /* an idle kept-alive connection lives [120] */
    unsigned idle_timeout_s;         /* no byte either way while answering (the library's) [900] */
    /* HTTPS: the PEM certificate chain and key (tls_files.h; both or neither). Guests' own
     * connections to the API (http_api_add_guest_connection) stay plain HTTP over vsock. */
    const char *tls_cert_pem, *tls_key_pem;
    /* POST /silo/images (image_upload.h): into image_store/uploads, at most image_upload_max_mib
     * per archive; no image_store or 0 MiB: uploads are refused */
    const char *image_store;
    unsigned image_upload_max_mib;
};

struct http_api;

/* Listens on addr:port (HTTPS when cfg names a certificate and key); NULL with a reason in err
 * on failure. */
struct http_api *http_api_start(const struct http_api_config *cfg, const char *addr, unsigned port,
                                char *err, size_t err_len);
unsigned http_api_port(struct http_api *api);
/* Serves fd, a connection from session_id's guest to silod's API (guest_channels.h's
 * api_connection; ctx is the http_api): an ordinary client connection whose requests are
 * logged with from_session=<id>. Takes ownership of fd. */
void http_api_add_guest_connection(void *ctx, int fd, const char *session_id, const char *runtime_id);
/* Attaches AgentCore Identity (identity.h) once it is made (it needs the port silod listens on
 * for its callback URL): /identities/ requests before that are ServiceUnavailableException. */
struct identity;
void http_api_attach_identity(struct http_api *api, struct identity *id);
/* identity.h's verify_user_jwt for silod (ctx: the http_api): the user's JWT checked against
 * the customJWTAuthorizer of the runtime whose workload identity is `workload` (its runtime id);
 * "iss|sub" into user_id. */
bool http_verify_user_jwt(void *ctx, const char *workload, const char *token, char *user_id, size_t user_id_len,
                          char *why, size_t why_len);
void http_api_stop(struct http_api *api);

#endif
