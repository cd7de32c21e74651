/* guest/agentd/probe.h — what agentd learns about the agent and the guest, as pure parsers
 * (unit-tested on the host) plus the probes that feed them in the guest:
 *   - the agent's GET /ping answer (AgentCore contract: 200 with {"status":"Healthy"|
 *     "HealthyBusy", "time_of_last_update": <Unix seconds, optional>});
 *   - guest CPU time from /proc/stat (non-idle jiffies of the "cpu" line) and memory from
 *     /proc/meminfo (MemTotal - MemAvailable), uptime from /proc/uptime.
 */
#ifndef SILO_GUEST_AGENTD_PROBE_H
#define SILO_GUEST_AGENTD_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "guest/agentd/control_proto.h"

#define PING_MAX_RESPONSE 8192     /* bytes of /ping answer read; the rest is ignored */

/* Parses a complete HTTP/1.x response to GET /ping (headers and body, possibly chunked) into
 * resp (verb HEALTH, ok). Never fails: garbage yields Unhealthy with http=0. */
void ping_parse_response(const char *buf, size_t len, struct cp_response *resp);

/* Parses the three /proc files' contents into resp (verb USAGE); -1 when one is malformed.
 * jiffies_per_sec is USER_HZ (sysconf(_SC_CLK_TCK)). */
int usage_parse(const char *proc_stat, const char *proc_meminfo, const char *proc_uptime,
                long jiffies_per_sec, struct cp_response *resp);

/* In the guest: connects to 127.0.0.1:port within timeout_ms; 1 if it accepts, 0 if not. */
int probe_port_accepts(int port, int timeout_ms);
/* In the guest: GET /ping on 127.0.0.1:port, into resp. */
void probe_ping(int port, int timeout_ms, struct cp_response *resp);
/* In the guest: reads /proc into resp; -1 on failure. */
int probe_usage(struct cp_response *resp);

#endif
