/* base/fd_io.h — the blocking descriptor I/O that silod, the image builder and agentd all need:
 * write a whole buffer, and read one text line under a deadline without consuming anything
 * after it (the rest of the stream belongs to whoever reads next: a relay, an HTTP parser).
 *
 *   fd_write_all(fd, buf, len)                     true when all of it was written
 *   fd_read_line(fd, buf, cap, deadline_ms, flags) the line's length, -1, or -2 (timeout)
 *
 * Header-only; includes nothing above base/ (deadlines are base/mono_time.h's mono_ms()).
 */
#ifndef SILO_BASE_FD_IO_H
#define SILO_BASE_FD_IO_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mono_time.h"

/* Writes all len bytes of buf, retrying EINTR. On a socket it uses MSG_NOSIGNAL, so a peer that
 * went away is an error (EPIPE), never a SIGPIPE; other descriptors take write(). */
static inline bool fd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    bool socket = true;
    while (len > 0) {
        ssize_t n = socket ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
        if (n < 0 && errno == ENOTSOCK && socket) {
            socket = false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* fd_read_line flags */
#define FD_LINE_TEXT 1u       /* a control character (other than a final "\r\n") or DEL ends it with -1 */
#define FD_LINE_STRIP_CR 2u   /* a '\r' just before the '\n' is dropped */

/* Reads one '\n'-terminated line from fd byte by byte (nothing after the '\n' is consumed) into
 * buf, NUL-terminated without the '\n', until deadline_ms (mono_ms()). Returns its length; -1 on
 * EOF, an error, a line that does not fit in cap - 1 bytes, or a character FD_LINE_TEXT refuses;
 * -2 when the deadline passed first. */
static inline int fd_read_line(int fd, char *buf, size_t cap, int64_t deadline_ms, unsigned flags)
{
    size_t n = 0;
    if (cap == 0)
        return -1;
    for (;;) {
        int64_t left = deadline_ms - mono_ms();
        if (left <= 0)
            return -2;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            continue;                 /* the deadline is checked at the top */
        char ch;
        ssize_t got = read(fd, &ch, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        if (ch == '\n')
            break;
        bool cr_end = ch == '\r' && (flags & FD_LINE_STRIP_CR);
        if (((flags & FD_LINE_TEXT) && !cr_end && ((unsigned char)ch < 0x20 || ch == 0x7f)) || n + 1 >= cap)
            return -1;
        buf[n++] = ch;
    }
    if ((flags & FD_LINE_STRIP_CR) && n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (int)n;
}

#endif
