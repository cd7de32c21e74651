/* guest/agentd/host_channel.c — connections to the host's vsock ports and timed reads (see
 * host_channel.h). */
#include "guest/agentd/host_channel.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>   /* after sys/socket.h, which it needs */
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/fd_io.h"

static int offset = -1;

void host_channel_set_tcp_offset(int tcp_offset) { offset = tcp_offset; }
int host_channel_tcp_offset(void) { return offset; }

int host_channel_connect(int port)
{
    int fd;
    int rc;
    if (offset >= 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(port + offset)),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof sa);
    } else {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_port = (unsigned)port, .svm_cid = VMADDR_CID_HOST };
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof sa);
    }
    if (fd >= 0 && rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int host_channel_wait_readable(int fd, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

int host_channel_read_line(int fd, char *line, size_t cap, int64_t deadline_ms)
{
    return fd_read_line(fd, line, cap, deadline_ms, FD_LINE_STRIP_CR);
}

int host_channel_read_exact(int fd, char *buf, size_t len, int64_t deadline_ms)
{
    size_t got = 0;
    while (got < len) {
        int ready = host_channel_wait_readable(fd, deadline_ms);
        if (ready <= 0)
            return ready == 0 ? -2 : -1;
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int host_channel_write_all(int fd, const void *buf, size_t len)
{
    return fd_write_all(fd, buf, len) ? 0 : -1;
}
