/* frontend/metrics.c — silod's Prometheus counters (see metrics.h). */
#include "frontend/metrics.h"

#include <pthread.h>
#include <string.h>

#include "frontend/aws_error.h"
#include "frontend/egress_relay.h"

static const double start_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define N_BUCKETS (sizeof start_buckets / sizeof start_buckets[0])

static const char *const error_types[] = {
    AWS_ACCESS_DENIED, AWS_CONFLICT, AWS_RETRYABLE_CONFLICT, AWS_INTERNAL, AWS_NOT_FOUND,
    AWS_RUNTIME_CLIENT_ERROR, AWS_QUOTA, AWS_THROTTLING, AWS_VALIDATION, AWS_UNAUTHORIZED,
    AWS_LIMIT_EXCEEDED, AWS_UNKNOWN_OPERATION, AWS_PAYLOAD_TOO_LARGE, AWS_SERVICE_UNAVAILABLE,
};
#define N_ERRORS (sizeof error_types / sizeof error_types[0])

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t starts;
    uint64_t start_bucket[N_BUCKETS];
    double start_sum;
    uint64_t invocations[4];           /* 2xx 3xx 4xx 5xx */
    uint64_t bytes_in, bytes_out;
    uint64_t errors[N_ERRORS + 1];     /* the last: any other type */
    uint64_t ended[SESSION_END_REASONS + 1];   /* the last: any other reason */
    uint64_t wall_ms, vcpu_ms;
    uint64_t ws_opened, ws_open, ws_to_agent, ws_to_client;
} m;

void metrics_websocket_opened(void)
{
    pthread_mutex_lock(&lock);
    m.ws_opened++;
    m.ws_open++;
    pthread_mutex_unlock(&lock);
}

void metrics_websocket_closed(uint64_t bytes_to_agent, uint64_t bytes_to_client)
{
    pthread_mutex_lock(&lock);
    m.ws_open--;
    m.ws_to_agent += bytes_to_agent;
    m.ws_to_client += bytes_to_client;
    pthread_mutex_unlock(&lock);
}

void metrics_session_ended(const char *reason, int64_t wall_ms, uint64_t vcpu_ms)
{
    size_t i = 0;
    while (i < SESSION_END_REASONS && strcmp(session_end_reason_name((enum session_end_reason)i), reason) != 0)
        i++;
    pthread_mutex_lock(&lock);
    m.ended[i]++;
    m.wall_ms += wall_ms > 0 ? (uint64_t)wall_ms : 0;
    m.vcpu_ms += vcpu_ms;
    pthread_mutex_unlock(&lock);
}

void metrics_session_start(int64_t start_ms)
{
    double s = (double)start_ms / 1000.0;
    pthread_mutex_lock(&lock);
    m.starts++;
    m.start_sum += s;
    for (size_t i = 0; i < N_BUCKETS; i++)
        if (s <= start_buckets[i])
            m.start_bucket[i]++;
    pthread_mutex_unlock(&lock);
}

void metrics_invocation(unsigned status, uint64_t bytes_in, uint64_t bytes_out)
{
    pthread_mutex_lock(&lock);
    if (status >= 200 && status < 600)
        m.invocations[status / 100 - 2]++;
    m.bytes_in += bytes_in;
    m.bytes_out += bytes_out;
    pthread_mutex_unlock(&lock);
}

void metrics_error(const char *type)
{
    size_t i = 0;
    while (i < N_ERRORS && strcmp(error_types[i], type) != 0)
        i++;
    pthread_mutex_lock(&lock);
    m.errors[i]++;
    pthread_mutex_unlock(&lock);
}

void metrics_render(struct strbuf *out, struct sessions *sessions)
{
    unsigned by_state[3];
    sessions_count_by_state(sessions, by_state);
    unsigned guest_mib = sessions_guest_mib(sessions);
    pthread_mutex_lock(&lock);
    strbuf_printf(out, "# HELP silod_guest_memory_mib Guest memory held by sessions and image boot checks.\n"
                       "# TYPE silod_guest_memory_mib gauge\nsilod_guest_memory_mib %u\n", guest_mib);
    strbuf_printf(out, "# HELP silod_sessions Sessions by state.\n# TYPE silod_sessions gauge\n"
                       "silod_sessions{state=\"starting\"} %u\nsilod_sessions{state=\"active\"} %u\n"
                       "silod_sessions{state=\"idle\"} %u\n",
                  by_state[SESSION_STARTING], by_state[SESSION_ACTIVE], by_state[SESSION_IDLE]);
    strbuf_printf(out, "# HELP silod_session_starts_total microVMs started for new session ids.\n"
                       "# TYPE silod_session_starts_total counter\nsilod_session_starts_total %llu\n",
                  (unsigned long long)m.starts);
    strbuf_printf(out, "# HELP silod_session_start_seconds New session id to agent ready (cold start).\n"
                       "# TYPE silod_session_start_seconds histogram\n");
    for (size_t i = 0; i < N_BUCKETS; i++)
        strbuf_printf(out, "silod_session_start_seconds_bucket{le=\"%g\"} %llu\n", start_buckets[i],
                      (unsigned long long)m.start_bucket[i]);
    strbuf_printf(out, "silod_session_start_seconds_bucket{le=\"+Inf\"} %llu\n"
                       "silod_session_start_seconds_sum %.3f\nsilod_session_start_seconds_count %llu\n",
                  (unsigned long long)m.starts, m.start_sum, (unsigned long long)m.starts);
    strbuf_printf(out, "# HELP silod_invocations_total Invocations by the status class answered.\n"
                       "# TYPE silod_invocations_total counter\n");
    for (int i = 0; i < 4; i++)
        strbuf_printf(out, "silod_invocations_total{code=\"%dxx\"} %llu\n", i + 2,
                      (unsigned long long)m.invocations[i]);
    strbuf_printf(out, "# HELP silod_invocation_request_bytes_total Payload bytes received.\n"
                       "# TYPE silod_invocation_request_bytes_total counter\n"
                       "silod_invocation_request_bytes_total %llu\n"
                       "# HELP silod_invocation_response_bytes_total Answer bytes relayed from agents.\n"
                       "# TYPE silod_invocation_response_bytes_total counter\n"
                       "silod_invocation_response_bytes_total %llu\n",
                  (unsigned long long)m.bytes_in, (unsigned long long)m.bytes_out);
    strbuf_printf(out, "# HELP silod_errors_total Errors answered, by AWS error type.\n"
                       "# TYPE silod_errors_total counter\n");
    for (size_t i = 0; i <= N_ERRORS; i++)
        strbuf_printf(out, "silod_errors_total{type=\"%s\"} %llu\n", i < N_ERRORS ? error_types[i] : "other",
                      (unsigned long long)m.errors[i]);
    strbuf_printf(out, "# HELP silod_sessions_ended_total Sessions ended (one usage record each), by reason.\n"
                       "# TYPE silod_sessions_ended_total counter\n");
    for (size_t i = 0; i <= SESSION_END_REASONS; i++)
        strbuf_printf(out, "silod_sessions_ended_total{reason=\"%s\"} %llu\n",
                      i < SESSION_END_REASONS ? session_end_reason_name((enum session_end_reason)i) : "other",
                      (unsigned long long)m.ended[i]);
    strbuf_printf(out, "# HELP silod_session_wall_seconds_total Wall-clock lifetime of ended sessions.\n"
                       "# TYPE silod_session_wall_seconds_total counter\nsilod_session_wall_seconds_total %.3f\n"
                       "# HELP silod_session_vcpu_seconds_total Active vCPU time of ended sessions' guests.\n"
                       "# TYPE silod_session_vcpu_seconds_total counter\nsilod_session_vcpu_seconds_total %.3f\n",
                  (double)m.wall_ms / 1000.0, (double)m.vcpu_ms / 1000.0);
    strbuf_printf(out, "# HELP silod_websocket_connections_total WebSocket connections upgraded to an agent.\n"
                       "# TYPE silod_websocket_connections_total counter\nsilod_websocket_connections_total %llu\n"
                       "# HELP silod_websocket_open WebSocket connections relaying now.\n"
                       "# TYPE silod_websocket_open gauge\nsilod_websocket_open %llu\n"
                       "# HELP silod_websocket_bytes_total WebSocket bytes relayed, by direction.\n"
                       "# TYPE silod_websocket_bytes_total counter\n"
                       "silod_websocket_bytes_total{direction=\"to_agent\"} %llu\n"
                       "silod_websocket_bytes_total{direction=\"to_client\"} %llu\n",
                  (unsigned long long)m.ws_opened, (unsigned long long)m.ws_open,
                  (unsigned long long)m.ws_to_agent, (unsigned long long)m.ws_to_client);
    pthread_mutex_unlock(&lock);
    struct egress_totals e;
    egress_totals(&e);
    strbuf_printf(out, "# HELP silod_egress_bytes_total Bytes agents sent (out) and received (in) through egress.\n"
                       "# TYPE silod_egress_bytes_total counter\n"
                       "silod_egress_bytes_total{direction=\"out\"} %llu\nsilod_egress_bytes_total{direction=\"in\"} %llu\n"
                       "# HELP silod_egress_connections_total Egress connections, by the policy's verdict.\n"
                       "# TYPE silod_egress_connections_total counter\n"
                       "silod_egress_connections_total{verdict=\"allowed\"} %llu\n"
                       "silod_egress_connections_total{verdict=\"refused\"} %llu\n"
                       "# HELP silod_egress_active_connections Egress connections relaying now.\n"
                       "# TYPE silod_egress_active_connections gauge\nsilod_egress_active_connections %u\n",
                  (unsigned long long)e.bytes_out, (unsigned long long)e.bytes_in, (unsigned long long)e.allowed,
                  (unsigned long long)e.refused, e.active);
}
