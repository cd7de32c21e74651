/* frontend/ping_poller.h — health polling: a silod thread that, every interval, asks the agent
 * of each running session `GET /ping` (guest port 8080, through the VMM's vsock socket) and
 * reports the answer to the session table (sessions_ping_result), which owns the consequences:
 * {"status":"HealthyBusy"} keeps a session past its idle timeout, an advancing
 * "time_of_last_update" counts as activity, {"status":"Unhealthy"} ends the session, and
 * SESSION_PING_FAILURES consecutive failures (no answer in time, not 200, not the /ping JSON)
 * end it while its VMM runs and no request is in flight.
 *
 * MCP and A2A sessions (session_vm.no_ping, microvm_contract's `pinged`) are not pinged: their
 * contracts have no /ping (a GET /mcp or an agent card says nothing about being busy); their
 * liveness is the VMM's (the reaper) and their requests'.
 * Each pass also samples every session's usage (sessions_sample_usage), the metering fallback
 * for a VMM that dies on its own.
 *
 * The pass works on a snapshot of held references (sessions_snapshot): the table lock is never
 * held during I/O. Pings are sequential; each is bounded (connect + answer within timeout_ms,
 * the answer's head 8 KiB a line, its body 4 KiB). */
#ifndef SILO_FRONTEND_PING_POLLER_H
#define SILO_FRONTEND_PING_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include "frontend/sessions.h"

#define PING_BODY_MAX 4096

struct ping_poller;

/* Starts the thread: a pass every interval_s seconds (≥ 1), each ping within timeout_ms. */
struct ping_poller *ping_poller_start(struct sessions *t, int interval_s, int timeout_ms);
/* Stops and joins the thread (waits for a pass in progress). NULL is fine. */
void ping_poller_stop(struct ping_poller *p);

/* One pass over every session now (the thread's body; tests call it directly). Returns how many
 * sessions it ended. */
unsigned ping_poller_pass(struct sessions *t, int timeout_ms);

/* Asks one agent `GET /ping` over the vsock socket at uds_path. */
enum ping_result ping_agent(const char *uds_path, int timeout_ms, int64_t *time_of_last_update);
/* What an answer means: 200 with {"status":"Healthy"|"HealthyBusy"|"Unhealthy", optional
 * "time_of_last_update": seconds (number)} → that result and the time in ms (0 if absent);
 * anything else is PING_FAILED. */
enum ping_result ping_parse(int http_status, const char *body, size_t len, int64_t *time_of_last_update);

#endif
