/* frontend/egress_relay.c — one egress connection, handshake to close (see egress_relay.h). */
#include "frontend/egress_relay.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/fd_io.h"
#include "guest/agentd/guest_ports.h"

#define RELAY_BUF (64 * 1024)
/* Per-connection socket buffer cap on the world side: 1 MiB keeps ~100 MB/s at 10 ms RTT. */
#define EGRESS_SOCKET_BUFFER (1024 * 1024)
#define REQUEST_TIMEOUT_MS 10000

/* silod-wide totals for /metrics */
static atomic_uint_least64_t total_out, total_in, total_allowed, total_refused;
static atomic_uint total_active;

void egress_totals(struct egress_totals *t)
{
    t->bytes_out = atomic_load(&total_out);
    t->bytes_in = atomic_load(&total_in);
    t->allowed = atomic_load(&total_allowed);
    t->refused = atomic_load(&total_refused);
    t->active = atomic_load(&total_active);
}

static bool valid_name(const char *h)
{
    size_t len = strlen(h), label = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch == '.' || ch == 0) {
            if (label == 0 || label > 63)
                return false;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

bool egress_parse_request(const char *line, char *host, size_t host_len, unsigned *port)
{
    if (strncmp(line, "CONNECT ", 8) != 0)
        return false;
    const char *p = line + 8, *colon;
    size_t hl;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close[1] != ':')
            return false;
        hl = (size_t)(close - p - 1);
        if (hl == 0 || hl >= host_len || hl >= INET6_ADDRSTRLEN)
            return false;
        memcpy(host, p + 1, hl);
        host[hl] = 0;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return false;
        colon = close + 1;
    } else {
        colon = strrchr(p, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - p);
        if (hl == 0 || hl >= host_len)
            return false;
        memcpy(host, p, hl);
        host[hl] = 0;
        if (!valid_name(host))
            return false;
    }
    const char *digits = colon + 1;
    if (!*digits || strlen(digits) > 5)
        return false;
    unsigned v = 0;
    for (const char *d = digits; *d; d++) {
        if (!isdigit((unsigned char)*d))
            return false;
        v = v * 10 + (unsigned)(*d - '0');
    }
    if (v == 0 || v > 65535 || (digits[0] == '0'))
        return false;
    *port = v;
    return true;
}

int guest_read_line(int fd, char *buf, size_t max, int64_t deadline)
{
    return fd_read_line(fd, buf, max, deadline, FD_LINE_TEXT) >= 0 ? 0 : -1;
}

void guest_send_all(int fd, const char *s, size_t len)
{
    (void)fd_write_all(fd, s, len);
}

/* printable ASCII for a log line: anything else becomes '?' */
static void sanitise(const char *in, char *out, size_t out_len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < out_len; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '"') ? in[i] : '?';
    out[i] = 0;
}

static void refuse(struct egress_session *s, int fd, unsigned status, const char *rule, const char *reason,
                   const char *target, const char *address)
{
    char line[EGRESS_MAX_VERDICT_LINE];
    int n = snprintf(line, sizeof line, "ERR %u %s %s\n", status, rule, reason);
    if (n < 0 || (size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    guest_send_all(fd, line, (size_t)n);
    char safe_target[300];
    sanitise(target, safe_target, sizeof safe_target);
    fprintf(stderr, "silod: egress refused session=%s runtime=%s target=%s address=%s rule=%s reason=\"%s\"\n",
            s->session_id, s->runtime_id, safe_target, address, rule, reason);
    atomic_fetch_add(&total_refused, 1);
}

static void format_address(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
        snprintf(out, len, "%s:%u", ip, ntohs(((const struct sockaddr_in *)sa)->sin_port));
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
        snprintf(out, len, "[%s]:%u", ip, ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
    }
}

/* Nonblocking connect with a timeout; the connected (blocking) socket or -1 with errno. */
static int connect_with_timeout(const struct sockaddr *sa, socklen_t len, unsigned timeout_ms)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* Capped before connect (the window scale is agreed in the handshake): a guest that stops
     * reading, or a world that stops reading, then pins at most about 2 x EGRESS_SOCKET_BUFFER
     * of host kernel memory per connection, where autotuning would let each grow to tcp_rmem /
     * tcp_wmem's maximum (6 / 4 MiB) and a session's connections could push the whole host
     * into TCP memory pressure, where the kernel starts killing orphaned sockets. */
    int cap = EGRESS_SOCKET_BUFFER;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cap, sizeof cap);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cap, sizeof cap);
    if (connect(fd, sa, len) == 0)
        goto connected;
    if (errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int r;
    do r = poll(&p, 1, (int)timeout_ms); while (r < 0 && errno == EINTR);
    if (r == 0) {
        close(fd);
        errno = ETIMEDOUT;
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        close(fd);
        errno = soerr ? soerr : EIO;
        return -1;
    }
connected:
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

struct direction {
    int from, to;
    char *buf;
    size_t len, off;
    bool eof;                 /* from has no more to give; to was shut for writing once drained */
    uint64_t moved;           /* this connection's bytes in this direction */
    bool failed;              /* the source's read failed (a reset) rather than ended */
    atomic_uint_least64_t *counter, *total;
};

/* Moves what it can without blocking the other direction (poll said readable/writable). */
static bool direction_step(struct direction *d, short revents_from, short revents_to)
{
    if (d->len == 0 && !d->eof && (revents_from & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = recv(d->from, d->buf, RELAY_BUF, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            return true;
        if (r <= 0) {
            d->eof = true;
            d->failed = r < 0;
            shutdown(d->to, SHUT_WR);
            return true;
        }
        d->len = (size_t)r;
        d->off = 0;
        d->moved += (uint64_t)r;
        atomic_fetch_add(d->counter, (uint64_t)r);
        atomic_fetch_add(d->total, (uint64_t)r);
    }
    if (d->len > 0 && (revents_to & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = send(d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            return true;
        if (w <= 0)
            return false;
        d->off += (size_t)w;
        if (d->off == d->len)
            d->len = d->off = 0;
    }
    return true;
}

/* Relays until both directions ended, either side failed, or nothing moved for the idle
 * timeout; *out_bytes / *in_bytes: this connection's bytes each way. */
static void relay(struct egress_session *s, int guest, int world, uint64_t *out_bytes, uint64_t *in_bytes,
                  const char **end)
{
    *end = "done";
    char *bufs = malloc(2 * RELAY_BUF);
    if (!bufs)
        return;
    struct direction out = { .from = guest, .to = world, .buf = bufs, .counter = &s->bytes_out, .total = &total_out };
    struct direction in = { .from = world, .to = guest, .buf = bufs + RELAY_BUF, .counter = &s->bytes_in,
                            .total = &total_in };
    unsigned idle_ms = (s->cfg->idle_timeout_s ? s->cfg->idle_timeout_s : 900) * 1000u;
    while (!(out.eof && out.len == 0 && in.eof && in.len == 0)) {
        struct pollfd p[2] = { { .fd = guest }, { .fd = world } };
        if (!out.eof && out.len == 0)
            p[0].events |= POLLIN;
        if (in.len > 0)
            p[0].events |= POLLOUT;
        if (!in.eof && in.len == 0)
            p[1].events |= POLLIN;
        if (out.len > 0)
            p[1].events |= POLLOUT;
        /* a side with nothing to wait for is left out: poll would report its hang-up again and
         * again (a busy loop while the other side is slow) */
        if (!p[0].events)
            p[0].fd = -1;
        if (!p[1].events)
            p[1].fd = -1;
        if (p[0].fd < 0 && p[1].fd < 0)
            break;
        int r = poll(p, 2, (int)idle_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *end = r == 0 ? "idle-timeout" : "poll-failed";
            break;
        }
        if ((p[0].revents & POLLNVAL) || (p[1].revents & POLLNVAL)) {
            *end = "invalid";
            break;
        }
        /* POLLERR (a reset) is not the end yet: what the kernel already received is still
         * readable and is delivered first; the failed read then ends that direction, and a
         * side whose socket failed is left out of the next poll once nothing is owed to it */
        if (!direction_step(&out, p[0].revents, p[1].revents)) {
            *end = "world-write-failed";
            break;
        }
        if (!direction_step(&in, p[1].revents, p[0].revents)) {
            *end = "guest-write-failed";
            break;
        }
        /* a side hung up both ways (or failed) once all it sent was read: nothing more can move */
        if (((p[0].revents & (POLLHUP | POLLERR)) && out.eof) || ((p[1].revents & (POLLHUP | POLLERR)) && in.eof)) {
            *end = (p[0].revents & POLLHUP) && out.eof ? "guest-hangup" : "world-hangup";
            break;
        }
    }
    if ((strcmp(*end, "done") == 0 || strstr(*end, "hangup")) && (out.failed || in.failed))
        *end = out.failed ? "guest-reset" : "world-reset";
    *out_bytes = out.moved;
    *in_bytes = in.moved;
    free(bufs);
}

static unsigned max_connections(const struct egress_session *s)
{
    return s->cfg->max_connections_per_session ? s->cfg->max_connections_per_session : 256;
}

void egress_relay_serve(struct egress_session *s, int fd)
{
    char line[EGRESS_MAX_REQUEST_LINE + 1], host[256], target[300];
    unsigned port;
    if (guest_read_line(fd, line, sizeof line, mono_ms() + REQUEST_TIMEOUT_MS) != 0) {
        refuse(s, fd, 400, "syntax", "no request line within 10 s, or one that is too long or not text", "-", "-");
        return;
    }
    if (!egress_parse_request(line, host, sizeof host, &port)) {
        refuse(s, fd, 400, "syntax", "the request is not CONNECT host:port", line, "-");
        return;
    }
    snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    for (char *c = host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (!s->cfg->enabled) {
        refuse(s, fd, 403, "disabled", "egress is turned off in silod's config", target, "-");
        return;
    }
    if (atomic_fetch_add(&s->active, 1) >= max_connections(s)) {
        atomic_fetch_sub(&s->active, 1);
        refuse(s, fd, 429, "limit", "too many egress connections for this session", target, "-");
        return;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        char why[160];
        snprintf(why, sizeof why, "the name does not resolve on the host (%s)", gai_strerror(gai));
        refuse(s, fd, 502, "resolve", why, target, "-");
        atomic_fetch_sub(&s->active, 1);
        return;
    }
    char rule[96] = "", reason[256] = "", first_rule[96] = "", first_reason[256] = "", address[80] = "-";
    char first_address[80] = "-";
    int world = -1, connect_errno = 0;
    for (struct addrinfo *a = ai; a && world < 0; a = a->ai_next) {
        format_address(a->ai_addr, address, sizeof address);
        if (!egress_decide(&s->cfg->rules, s->mode, host, a->ai_addr, port, rule, sizeof rule, reason, sizeof reason)) {
            if (!first_rule[0]) {
                snprintf(first_rule, sizeof first_rule, "%s", rule);
                snprintf(first_reason, sizeof first_reason, "%s", reason);
                snprintf(first_address, sizeof first_address, "%s", address);
            }
            continue;
        }
        world = connect_with_timeout(a->ai_addr, a->ai_addrlen, s->cfg->connect_timeout_ms ? s->cfg->connect_timeout_ms : 10000);
        if (world < 0)
            connect_errno = errno;
    }
    freeaddrinfo(ai);
    if (world < 0) {
        if (connect_errno) {
            char why[160];
            snprintf(why, sizeof why, "cannot connect to %s: %s", address, strerror(connect_errno));
            refuse(s, fd, connect_errno == ETIMEDOUT ? 504 : 502, "connect", why, target, address);
        } else {
            refuse(s, fd, 403, first_rule, first_reason, target, first_address);
        }
        atomic_fetch_sub(&s->active, 1);
        return;
    }
    if (s->track_fd)
        s->track_fd(s->track_ctx, world, true);
    atomic_fetch_add(&total_allowed, 1);
    atomic_fetch_add(&total_active, 1);
    char ok[128];
    int n = snprintf(ok, sizeof ok, "OK %s\n", address);
    guest_send_all(fd, ok, (size_t)n);
    uint64_t moved_out = 0, moved_in = 0;
    const char *end = "done";
    int64_t t0 = mono_ms();
    relay(s, fd, world, &moved_out, &moved_in, &end);
    if (s->track_fd)
        s->track_fd(s->track_ctx, world, false);
    close(world);
    atomic_fetch_sub(&total_active, 1);
    atomic_fetch_sub(&s->active, 1);
    fprintf(stderr, "silod: egress closed session=%s runtime=%s target=%s address=%s rule=%s bytes_out=%llu "
                    "bytes_in=%llu ms=%lld end=%s\n", s->session_id, s->runtime_id, target, address, rule,
            (unsigned long long)moved_out, (unsigned long long)moved_in, (long long)(mono_ms() - t0), end);
}
