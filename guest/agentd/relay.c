/* guest/agentd/relay.c — blocking-thread byte relay with bounded buffers (see relay.h). Both
 * sockets are switched to non-blocking and driven by poll(); a side that wants nothing is left
 * out of the poll set so a hung-up peer cannot spin the loop. */
#include "guest/agentd/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct direction {           /* bytes read from fd[from], waiting to be written to fd[!from] */
    char *buf;
    size_t start, end;
    bool read_eof;           /* the source sent EOF */
    bool write_shut;         /* we passed the EOF on */
};

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int fill(int fd, struct direction *d)
{
    while (!d->read_eof && d->end < RELAY_BUF) {
        ssize_t n = recv(fd, d->buf + d->end, RELAY_BUF - d->end, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
            d->read_eof = true;
        d->end += (size_t)n;
    }
    return 0;
}

static int drain(int fd, struct direction *d)
{
    while (d->start < d->end) {
        ssize_t n = send(fd, d->buf + d->start, d->end - d->start, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        d->start += (size_t)n;
    }
    d->start = d->end = 0;
    if (d->read_eof && !d->write_shut) {
        shutdown(fd, SHUT_WR);
        d->write_shut = true;
    }
    return 0;
}

static short wanted(const struct direction *in, const struct direction *out)
{
    short events = 0;
    if (!in->read_eof && in->end < RELAY_BUF)
        events |= POLLIN;
    if (out->start < out->end)
        events |= POLLOUT;
    return events;
}

int relay_run(int a, int b, const char *preload, size_t preload_len)
{
    int fds[2] = { a, b };
    struct direction dir[2] = { { .buf = malloc(RELAY_BUF) }, { .buf = malloc(RELAY_BUF) } };
    int rc = -1;
    if (dir[0].buf == NULL || dir[1].buf == NULL || preload_len > RELAY_BUF)
        goto out;
    if (preload_len > 0)
        memcpy(dir[0].buf, preload, preload_len);
    dir[0].end = preload_len;
    set_nonblocking(a);
    set_nonblocking(b);
    while (!(dir[0].write_shut && dir[1].write_shut)) {
        struct pollfd p[2];
        for (int i = 0; i < 2; i++) {
            p[i].events = wanted(&dir[i], &dir[!i]);
            p[i].fd = p[i].events ? fds[i] : -1;
            p[i].revents = 0;
        }
        if (p[0].fd < 0 && p[1].fd < 0)
            break;                         /* cannot happen; never wait forever on nothing */
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        for (int i = 0; i < 2; i++)
            if (p[i].revents && fill(fds[i], &dir[i]) < 0)
                goto out;
        for (int i = 0; i < 2; i++)
            if (drain(fds[!i], &dir[i]) < 0)
                goto out;
    }
    rc = 0;
out:
    free(dir[0].buf);
    free(dir[1].buf);
    return rc;
}
