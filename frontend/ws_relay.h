/* frontend/ws_relay.h — WebSocket connections to an agent runtime
 * (GET /runtimes/{arn}/ws?qualifier=…, the AgentCore SDKs' bidirectional streaming): the
 * client's upgrade request checked before anything else happens (RFC 6455 §4.2.1), the
 * agent's own 101 answer checked (its Sec-WebSocket-Accept for the client's key), silod's 101
 * to the client through libmicrohttpd's upgrade support, then the bytes relayed both ways
 * between the client's socket and the agent's connection until either side ends, an idle
 * limit passes, or silod stops.
 *
 * The relay never parses WebSocket frames: both ends speak RFC 6455 to each other through it,
 * so masking, fragmentation, ping/pong, close frames and negotiated extensions are theirs.
 * What it bounds: WS_RELAY_BUF bytes buffered per direction (a full buffer stops reading that
 * side: back-pressure), the idle limit (no byte either way), and WS_RELAY_LINGER_MS after one
 * side ended for the other to finish. Authentication, the runtime, the session and the agent
 * connection are invoke_proxy.c's and http_auth.c's, exactly as for an invocation; the
 * session stays held (in flight, so never idle-reaped) while the relay runs, and ending the
 * session (StopRuntimeSession, max lifetime, the VM dying) ends the relay with the VM's
 * connection. */
#ifndef SILO_FRONTEND_WS_RELAY_H
#define SILO_FRONTEND_WS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_RELAY_BUF (64 * 1024)
#define WS_RELAY_LINGER_MS 10000
#define WS_AGENT_HANDSHAKE_MS 30000   /* the agent's 101 must come within this */
#define WS_KEY_ACCEPT_LEN 28          /* base64 of a SHA-1 */

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key GUID)), into
 * out[WS_KEY_ACCEPT_LEN + 1]. */
void ws_accept_for_key(const char *key, char out[WS_KEY_ACCEPT_LEN + 1]);
/* A valid Sec-WebSocket-Key: base64 of exactly 16 bytes (24 characters). */
bool ws_key_valid(const char *key);

/* The open relays, so that silod's shutdown can end them (the HTTP library waits for every
 * upgraded connection before it stops). */
struct ws_relays;
struct ws_relays *ws_relays_new(void);
/* Shuts down both sockets of every open relay (each then ends on its own thread) and waits
 * up to wait_ms for them to be gone. */
void ws_relays_close_all(struct ws_relays *set, int wait_ms);
void ws_relays_free(struct ws_relays *set);
unsigned ws_relays_open(struct ws_relays *set);

/* One relay, run on the calling thread until it ends. client and agent are connected
 * stream sockets (neither is closed here); to_agent/to_client are bytes already read from
 * the other side that go first. idle_ms: no byte either way for that long ends it. Counts
 * the bytes relayed in *bytes_to_agent / *bytes_to_client (atomically, as they go); returns
 * why it ended: "client_closed", "agent_closed", "idle_timeout", "error" or "shutdown". */
struct ws_relay_run {
    int client, agent;
    const void *to_agent;
    size_t to_agent_len;
    const void *to_client;
    size_t to_client_len;
    int64_t idle_ms;
    uint64_t *bytes_to_agent, *bytes_to_client;
};
const char *ws_relay_run(struct ws_relays *set, const struct ws_relay_run *run);

#endif
