/* frontend/egress_relay.h — silod's end of one egress connection (guest vsock port 1026, wire
 * format in guest/agentd/guest_ports.h): read `CONNECT host:port\n`, resolve on the host, apply
 * the network policy (egress_rules.h) to every resolved address and connect only to an allowed
 * one (the address checked is the address connected to), answer `OK addr:port\n` or
 * `ERR <status> <rule> <message>\n`, then relay bytes both ways with one bounded buffer per
 * direction (64 KiB), half-close passed on, until either side closes or nothing moves for
 * idle_timeout_s.
 *
 * Log lines (never credentials; names sanitised):
 *   silod: egress refused session=S runtime=R target=H:P address=A|- rule=RULE reason="..."
 *   silod: egress closed session=S runtime=R target=H:P address=A rule=RULE bytes_out=N bytes_in=N ms=N end=WHY */
#ifndef SILO_FRONTEND_EGRESS_RELAY_H
#define SILO_FRONTEND_EGRESS_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mono_time.h"
#include "frontend/egress_rules.h"

struct egress_config {
    bool enabled;                         /* false: every connection refused (rule "disabled") */
    struct egress_rules rules;
    unsigned max_connections_per_session; /* [256] */
    unsigned connect_timeout_ms;          /* [10000] */
    unsigned idle_timeout_s;              /* [900] */
};

/* What one session's egress shares between its connections. */
struct egress_session {
    const struct egress_config *cfg;
    enum egress_mode mode;
    const char *session_id, *runtime_id;
    atomic_uint active;                   /* connections past the handshake's cap check */
    atomic_uint_least64_t bytes_out;      /* guest → world */
    atomic_uint_least64_t bytes_in;       /* world → guest */
    /* lets the owner shut down a connection's upstream socket when the session ends */
    void (*track_fd)(void *ctx, int fd, bool add);
    void *track_ctx;
};

/* silod-wide totals for /metrics (metrics.c) */
struct egress_totals {
    uint64_t bytes_out, bytes_in;         /* guest → world, world → guest */
    uint64_t allowed, refused;            /* connections */
    unsigned active;
};
void egress_totals(struct egress_totals *t);

/* Parses `CONNECT host:port` (the line without '\n'): host a DNS name, dotted IPv4 or [IPv6]
 * (written without brackets), port 1–65535. false on anything else. */
bool egress_parse_request(const char *line, char *host, size_t host_len, unsigned *port);

/* Shared by the guest channels (guest_channels.c): reads one request line (≤ max-1 bytes,
 * '\n' dropped) byte by byte so nothing after it is consumed, until deadline (mono_ms() of
 * base/mono_time.h); 0, or -1 on timeout, EOF, an over-long line or a control character.
 * guest_send_all writes all of s, giving up quietly on an error (the guest went away). */
int guest_read_line(int fd, char *buf, size_t max, int64_t deadline);
void guest_send_all(int fd, const char *s, size_t len);

/* Serves one accepted guest connection to its end (blocking; the caller's thread). The caller
 * closes fd afterwards. */
void egress_relay_serve(struct egress_session *s, int fd);

#endif
