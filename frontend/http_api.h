/* frontend/http_api.h — silod's HTTP server (libmicrohttpd, one thread per connection,
 * HTTP/1.1 keep-alive and chunked encoding): authentication, then dispatch to the control
 * plane (`/runtimes/…/` with trailing slashes) or the data plane
 * (`POST /runtimes/{arn-or-id}/invocations`, `…/stopruntimesession`); anything else is
 * UnknownOperationException. Errors are restJson1: `x-amzn-errortype` + {"message":...}.
 *
 * Invocation bodies are streamed to the agent (chunked) as they arrive when the SigV4 signature
 * could be checked from the head (x-amz-content-sha256 sent, as the AWS SDKs do); otherwise
 * the body is held once (≤ 100 MB) until the signature is checked. The agent's answer is
 * relayed as it is read, so text/event-stream events reach the client one by one. */
#ifndef SILO_FRONTEND_HTTP_API_H
#define SILO_FRONTEND_HTTP_API_H

#include <stdbool.h>

#include "frontend/control_plane.h"
#include "frontend/sessions.h"
#include "frontend/sigv4.h"

#define INVOKE_MAX_PAYLOAD (100u * 1024 * 1024)

struct http_api_config {
    const char *region;
    struct sigv4_key *keys;
    size_t key_count;
    struct control_plane *cp;
    struct sessions *sessions;
    unsigned guest_mib;
};

struct http_api;

/* Listens on addr:port; NULL with a reason in err on failure. */
struct http_api *http_api_start(const struct http_api_config *cfg, const char *addr, unsigned port,
                                char *err, size_t err_len);
unsigned http_api_port(struct http_api *api);
void http_api_stop(struct http_api *api);

#endif
