/* frontend/conn_guard.h — time limits on client connections that the HTTP library does not
 * enforce by itself: libmicrohttpd's connection timeout is an idle timeout (any byte resets it),
 * so a head trickled a byte at a time, or a body that stalls, could hold a connection (and its
 * thread) for as long as the idle timeout. Each connection is in one phase:
 *
 *   CONN_HEAD  waiting for a complete request head: at most head_timeout_s from the connection's
 *              start (or, on a kept-alive connection, from the first line of the next request);
 *   CONN_IDLE  kept alive between requests: at most keepalive_timeout_s;
 *   CONN_BODY  receiving the request body: at most body_timeout_s without a new piece;
 *   CONN_BUSY  silod is working on the request or answering (streams, SSE): no limit here
 *              (the library's idle timeout still applies to a client that stops reading).
 *
 * A watchdog thread checks every second and shuts down (shutdown(2), never close) the socket
 * of a connection past its deadline, so the connection's own thread sees EOF and the library
 * closes it the normal way. Entries are removed when the library reports the connection
 * closed, before it closes the descriptor, so a descriptor is never shut down after reuse. */
#ifndef SILO_FRONTEND_CONN_GUARD_H
#define SILO_FRONTEND_CONN_GUARD_H

#include <stdint.h>

enum conn_phase { CONN_HEAD, CONN_IDLE, CONN_BODY, CONN_BUSY };

struct conn_guard_config {
    unsigned head_timeout_s;       /* default 30 */
    unsigned keepalive_timeout_s;  /* default 120 */
    unsigned body_timeout_s;       /* default 60 */
};

struct conn_guard;
struct conn_entry;

struct conn_guard *conn_guard_new(const struct conn_guard_config *cfg);
void conn_guard_free(struct conn_guard *g);
/* A new connection (phase CONN_HEAD). */
struct conn_entry *conn_guard_add(struct conn_guard *g, int fd);
/* Enters a phase (again: for CONN_BODY this records progress). NULL e is ignored. */
void conn_guard_phase(struct conn_guard *g, struct conn_entry *e, enum conn_phase phase);
enum conn_phase conn_guard_current(struct conn_guard *g, struct conn_entry *e);
void conn_guard_remove(struct conn_guard *g, struct conn_entry *e);
/* One pass of the watchdog at time now_ms (monotonic); returns how many were shut down.
 * The thread calls it every second; tests call it directly. */
unsigned conn_guard_check(struct conn_guard *g, int64_t now_ms);
/* Connections shut down so far for a slow head (CONN_HEAD/CONN_IDLE) and a stalled body. */
uint64_t conn_guard_closed_slow_head(struct conn_guard *g);
uint64_t conn_guard_closed_slow_body(struct conn_guard *g);

#endif
