/* guest/agentd/relay.h — copies bytes both ways between two connected stream sockets until
 * both directions have ended, in the calling (worker) thread. The same rules as bridge.h's
 * epoll bridges: RELAY_BUF bytes per direction with back-pressure (a full buffer stops reading
 * that side), half-close passed on once everything before it was delivered, any error closes
 * both. Used by the proxy, the transparent listeners and the API bridge. */
#ifndef SILO_GUEST_AGENTD_RELAY_H
#define SILO_GUEST_AGENTD_RELAY_H

#include <stddef.h>

#define RELAY_BUF (64 * 1024)

/* Relays between a and b, sending `preload` (≤ RELAY_BUF bytes, e.g. a request head already
 * read from a) to b first. Closes neither fd. Returns 0 when both directions ended cleanly. */
int relay_run(int a, int b, const char *preload, size_t preload_len);

#endif
