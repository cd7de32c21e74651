/* guest/agentd/egress_client.h — opens one egress stream through the host (vsock port 1026,
 * guest_ports.h): sends `CONNECT host:port\n`, reads the one-line verdict, and hands back the
 * stream (on `OK …`) or the refusal (`ERR <status> <rule> <message>`). Also bounds how many
 * egress streams agentd keeps open at once. */
#ifndef SILO_GUEST_AGENTD_EGRESS_CLIENT_H
#define SILO_GUEST_AGENTD_EGRESS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/agentd/guest_ports.h"

#define EGRESS_MAX_CONNECTIONS 256
#define EGRESS_VERDICT_TIMEOUT_MS 40000

struct egress_verdict {
    bool ok;
    int status;               /* on refusal: 400, 403, 429, 502, 504, … */
    char rule[64];            /* [A-Za-z0-9_.:/-]+ */
    char message[EGRESS_MAX_VERDICT_LINE];
};

/* Parses a verdict line (without '\n'). Anything that is not a well-formed OK or ERR becomes
 * a 502 refusal with rule `agentd`. Pure. */
void egress_verdict_parse(const char *line, struct egress_verdict *v);

/* The connected stream, or -1 with *v saying why (channel failures are 502/504, rule agentd).
 * host as in the CONNECT line (IPv6 in brackets). */
int egress_open(const char *host, uint16_t port, struct egress_verdict *v);

/* Takes one of the EGRESS_MAX_CONNECTIONS slots; false when all are in use. */
bool egress_slot_take(void);
void egress_slot_release(void);

#endif
