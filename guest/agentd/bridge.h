/* guest/agentd/bridge.h — copies bytes both ways between one accepted vsock connection and a
 * TCP connection to 127.0.0.1:<same port> inside the guest, on an epoll loop.
 *
 * - Bounded memory: BRIDGE_BUF bytes per direction; a full buffer stops reading that side
 *   (back-pressure), so a fast sender never grows agentd.
 * - Half-close: when one side ends its writing (read returns 0) and everything it sent has
 *   been delivered, the other side gets shutdown(SHUT_WR); the reverse direction keeps flowing
 *   (HTTP clients that half-close after the request still get their whole answer).
 * - Agent not listening yet: the TCP connect is retried every BRIDGE_RETRY_MS until
 *   BRIDGE_CONNECT_TIMEOUT_MS, so a request that arrives during the agent's start-up waits for
 *   it instead of failing. Errors on either side close both at once.
 */
#ifndef SILO_GUEST_AGENTD_BRIDGE_H
#define SILO_GUEST_AGENTD_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#define BRIDGE_BUF (64 * 1024)
#define BRIDGE_MAX 256
#define BRIDGE_RETRY_MS 20
#define BRIDGE_CONNECT_TIMEOUT_MS 60000

/* epoll_event.data.ptr of every fd agentd watches points at one of these. */
struct watch {
    enum { WATCH_LISTENER, WATCH_CONTROL, WATCH_BRIDGE, WATCH_SIGNAL, WATCH_WAKE } kind;
};

struct bridge_side {
    struct watch watch;            /* kind = WATCH_BRIDGE */
    struct bridge *bridge;
    int fd;
    uint32_t registered;           /* events currently registered with epoll (0: not added) */
    bool read_eof;                 /* this side sent EOF */
    bool write_shut;               /* we shut down writing to this side */
    /* bytes read from this side, waiting to be written to the other */
    char *buf;
    uint32_t start, end;
};

struct bridge {
    bool in_use;
    bool connecting;               /* side[1] (the agent's port) not connected yet */
    int port;
    int64_t retry_at_ms;           /* when connecting and side[1].fd < 0: next attempt */
    int64_t give_up_at_ms;
    uint64_t bytes[2];             /* delivered: [0] client->agent, [1] agent->client */
    struct bridge_side side[2];    /* [0] the vsock client, [1] the agent */
};

/* Starts bridging an accepted client fd to 127.0.0.1:port; false (fd closed) when full. */
bool bridge_open(int epfd, int client_fd, int port, int64_t now_ms);
/* Handles epoll events for one side. */
void bridge_event(int epfd, struct bridge_side *side, uint32_t events, int64_t now_ms);
/* Runs due connect retries; returns the epoll timeout (ms) until the next one, -1 for none. */
int bridge_timers(int epfd, int64_t now_ms, bool agent_alive);
int bridge_count(void);

#endif
