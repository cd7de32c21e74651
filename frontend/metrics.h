/* frontend/metrics.h — silod's Prometheus counters, rendered as text exposition format 0.0.4
 * at GET /metrics:
 *   silod_sessions{state="starting|active|idle"}     gauge, from the session table
 *   silod_session_starts_total                         counter
 *   silod_session_start_seconds                        histogram: new session id → agent ready
 *   silod_invocations_total{code="2xx|3xx|4xx|5xx"}    counter, by the status answered
 *   silod_invocation_request_bytes_total / _response_bytes_total
 *   silod_errors_total{type="<AWS error type>"}        counter, every error answered
 *   silod_sessions_ended_total{reason="<end reason>"}  counter, one per usage record
 *   silod_session_wall_seconds_total                   counter: session lifetimes summed
 *   silod_session_vcpu_seconds_total                   counter: active vCPU time summed
 *   silod_websocket_connections_total                  counter: WebSocket connections upgraded
 *   silod_websocket_open                               gauge: WebSocket relays running now
 *   silod_websocket_bytes_total{direction="to_agent|to_client"}  counter: bytes relayed
 * Process-wide and thread-safe. */
#ifndef SILO_FRONTEND_METRICS_H
#define SILO_FRONTEND_METRICS_H

#include <stdint.h>

#include "frontend/sessions.h"
#include "frontend/strbuf.h"

void metrics_session_start(int64_t start_ms);
void metrics_invocation(unsigned status, uint64_t bytes_in, uint64_t bytes_out);
void metrics_error(const char *aws_error_type);
/* A session ended (usage.c): its end reason name, wall time and active vCPU time. */
void metrics_session_ended(const char *reason, int64_t wall_ms, uint64_t vcpu_ms);
/* A WebSocket relay started / ended (with the bytes it relayed each way). */
void metrics_websocket_opened(void);
void metrics_websocket_closed(uint64_t bytes_to_agent, uint64_t bytes_to_client);
void metrics_render(struct strbuf *out, struct sessions *sessions);

#endif
