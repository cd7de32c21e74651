/* guest/agentd/bridge.c — vsock <-> 127.0.0.1 byte bridges on agentd's epoll loop (see
 * bridge.h). Level-triggered epoll; each side's registration is recomputed after every event:
 * EPOLLIN while it has not sent EOF and its buffer has room, EPOLLOUT while bytes wait for it.
 * A side that wants nothing is removed from epoll, so a hung-up peer cannot spin the loop. */
#include "guest/agentd/bridge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static struct bridge bridges[BRIDGE_MAX];
static int open_count;

int bridge_count(void) { return open_count; }

static void set_events(int epfd, struct bridge_side *s, uint32_t want)
{
    if (s->fd < 0 || want == s->registered)
        return;
    struct epoll_event ev = { .events = want, .data.ptr = &s->watch };
    if (want == 0)
        epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
    else
        epoll_ctl(epfd, s->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev);
    s->registered = want;
}

static void close_side(int epfd, struct bridge_side *s)
{
    if (s->fd >= 0) {
        set_events(epfd, s, 0);
        close(s->fd);
        s->fd = -1;
    }
}

static void bridge_close(int epfd, struct bridge *b)
{
    close_side(epfd, &b->side[0]);
    close_side(epfd, &b->side[1]);
    free(b->side[0].buf);
    free(b->side[1].buf);
    memset(b, 0, sizeof *b);
    open_count--;
}

/* Starts a non-blocking connect of side[1] to the agent's port. */
static void start_connect(int epfd, struct bridge *b, int64_t now_ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)b->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        b->retry_at_ms = now_ms + BRIDGE_RETRY_MS;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    b->side[1].fd = fd;
    b->side[1].registered = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        b->connecting = false;
        return;
    }
    if (errno == EINPROGRESS) {
        set_events(epfd, &b->side[1], EPOLLOUT);
        return;
    }
    close_side(epfd, &b->side[1]);
    b->retry_at_ms = now_ms + BRIDGE_RETRY_MS;
}

/* Moves bytes read from `from` into the other side; -1 on a write error. */
static int flush_to_peer(struct bridge *b, int from)
{
    struct bridge_side *src = &b->side[from], *dst = &b->side[!from];
    while (src->start < src->end && dst->fd >= 0 && !(from == 0 && b->connecting)) {
        ssize_t n = send(dst->fd, src->buf + src->start, src->end - src->start, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            return -1;
        }
        src->start += (uint32_t)n;
        b->bytes[from] += (uint64_t)n;
    }
    if (src->start == src->end)
        src->start = src->end = 0;
    /* the sender is done and all of it went through: pass the half-close on */
    if (src->read_eof && src->start == src->end && dst->fd >= 0 && !dst->write_shut &&
        !(from == 0 && b->connecting)) {
        shutdown(dst->fd, SHUT_WR);
        dst->write_shut = true;
    }
    return 0;
}

/* Reads what fits from side `i`; -1 on a read error. */
static int fill_from(struct bridge *b, int i)
{
    struct bridge_side *s = &b->side[i];
    while (!s->read_eof && s->end < BRIDGE_BUF) {
        ssize_t n = recv(s->fd, s->buf + s->end, BRIDGE_BUF - s->end, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -1;
        }
        if (n == 0) {
            s->read_eof = true;
            return 0;
        }
        s->end += (uint32_t)n;
    }
    return 0;
}

static void update(int epfd, struct bridge *b)
{
    for (int i = 0; i < 2; i++) {
        struct bridge_side *s = &b->side[i], *peer = &b->side[!i];
        if (s->fd < 0 || (i == 1 && b->connecting))
            continue;
        uint32_t want = 0;
        if (!s->read_eof && s->end < BRIDGE_BUF)
            want |= EPOLLIN;
        if (peer->start < peer->end)
            want |= EPOLLOUT;
        set_events(epfd, s, want);
    }
    bool done0 = b->side[0].read_eof && b->side[1].write_shut;
    bool done1 = b->side[1].read_eof && b->side[0].write_shut;
    if (done0 && done1)
        bridge_close(epfd, b);
}

bool bridge_open(int epfd, int client_fd, int port, int64_t now_ms)
{
    struct bridge *b = NULL;
    for (int i = 0; i < BRIDGE_MAX && b == NULL; i++)
        if (!bridges[i].in_use)
            b = &bridges[i];
    char *buf0 = b ? malloc(BRIDGE_BUF) : NULL, *buf1 = b ? malloc(BRIDGE_BUF) : NULL;
    if (b == NULL || buf0 == NULL || buf1 == NULL) {
        free(buf0);
        free(buf1);
        close(client_fd);
        return false;
    }
    memset(b, 0, sizeof *b);
    b->in_use = true;
    b->port = port;
    b->connecting = true;
    b->give_up_at_ms = now_ms + BRIDGE_CONNECT_TIMEOUT_MS;
    for (int i = 0; i < 2; i++) {
        b->side[i].watch.kind = WATCH_BRIDGE;
        b->side[i].bridge = b;
        b->side[i].fd = -1;
    }
    b->side[0].buf = buf0;
    b->side[1].buf = buf1;
    b->side[0].fd = client_fd;
    open_count++;
    start_connect(epfd, b, now_ms);
    if (!b->connecting)
        flush_to_peer(b, 0);
    update(epfd, b);
    return true;
}

void bridge_event(int epfd, struct bridge_side *s, uint32_t events, int64_t now_ms)
{
    struct bridge *b = s->bridge;
    int i = s == &b->side[0] ? 0 : 1;

    if (i == 1 && b->connecting) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr == EINPROGRESS || soerr == EALREADY)
            return;
        if (soerr != 0) {       /* refused: the agent is not listening yet; try again soon */
            close_side(epfd, s);
            b->retry_at_ms = now_ms + BRIDGE_RETRY_MS;
            return;
        }
        b->connecting = false;
        set_events(epfd, s, 0);
        if (flush_to_peer(b, 0) < 0) {
            bridge_close(epfd, b);
            return;
        }
        update(epfd, b);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && fill_from(b, i) < 0) {
        bridge_close(epfd, b);
        return;
    }
    if (flush_to_peer(b, i) < 0 || flush_to_peer(b, !i) < 0) {
        bridge_close(epfd, b);
        return;
    }
    update(epfd, b);
}

int bridge_timers(int epfd, int64_t now_ms, bool agent_alive)
{
    int64_t next = -1;
    for (int i = 0; i < BRIDGE_MAX; i++) {
        struct bridge *b = &bridges[i];
        if (!b->in_use || !b->connecting)
            continue;
        if (!agent_alive || now_ms >= b->give_up_at_ms) {
            bridge_close(epfd, b);       /* nobody will ever accept: the client sees EOF */
            continue;
        }
        if (b->side[1].fd >= 0)
            continue;                    /* a connect is in flight */
        if (now_ms >= b->retry_at_ms) {
            start_connect(epfd, b, now_ms);
            if (!b->connecting) {
                if (flush_to_peer(b, 0) < 0) {
                    bridge_close(epfd, b);
                    continue;
                }
                update(epfd, b);
                continue;
            }
            if (b->side[1].fd >= 0)
                continue;
        }
        int64_t wait = b->retry_at_ms - now_ms;
        if (next < 0 || wait < next)
            next = wait < 0 ? 0 : wait;
    }
    return (int)next;
}
