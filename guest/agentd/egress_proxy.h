/* guest/agentd/egress_proxy.h — what agentd does with one connection to its HTTP forward proxy
 * (127.0.0.1:3128) or to a transparent egress listener (*:80, *:443, …): the request or the
 * dialled address becomes an egress stream through the host (egress_client.h), then bytes are
 * relayed (relay.h). Each function runs in its own worker thread and closes client_fd. */
#ifndef SILO_GUEST_AGENTD_EGRESS_PROXY_H
#define SILO_GUEST_AGENTD_EGRESS_PROXY_H

#include <stdint.h>

#define PROXY_HEAD_TIMEOUT_MS 30000

/* Serves one proxy client: CONNECT or absolute-form http://, or an error answer. */
void egress_proxy_serve(int client_fd);
/* Answers 429 at once without reading (all egress slots in use) and closes. */
void egress_proxy_refuse_busy(int client_fd);
/* Serves one transparent connection accepted on `port` (the port the client dialled). */
void egress_transparent_serve(int client_fd, uint16_t port);

#endif
