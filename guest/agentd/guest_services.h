/* guest/agentd/guest_services.h — starts agentd's loopback services for the agent: the HTTP
 * forward proxy (3128), the DNS stub (UDP 53), the transparent egress listeners (80, 443 or
 * silo.egress_ports), the credentials endpoint (1338) and the bridge to silod's API (1339),
 * each with its own accept thread and worker threads under its own cap, and writes
 * /etc/resolv.conf. With a TCP offset N (host tests) every listener binds port+N and
 * /etc/resolv.conf is left alone. */
#ifndef SILO_GUEST_AGENTD_GUEST_SERVICES_H
#define SILO_GUEST_AGENTD_GUEST_SERVICES_H

#include "guest/agentd/credentials_server.h"

#define CREDENTIALS_MAX_CONNECTIONS 16
#define API_MAX_CONNECTIONS 64

struct guest_services {
    char token[CREDENTIALS_TOKEN_HEX + 1];   /* AWS_CONTAINER_AUTHORIZATION_TOKEN */
    char region[64];                         /* from silo.region, "" when absent */
};

/* Starts every service it can (a listener that cannot bind is logged and skipped). Returns 0,
 * or -1 when no credentials token could be made (the endpoint then stays off). */
int guest_services_start(int tcp_offset, const char *cmdline_path, struct guest_services *out);

#endif
