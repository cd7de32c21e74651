/* tests/e2e/progs/silo_vsock.c — silo-vsock: the host side of a guest vsock port, for the
 * end-to-end tests (static arm64, runs in the dev host; busybox has no socat).
 *
 *   silo-vsock [--timeout S] TARGET             stdin -> TARGET, then half-close; TARGET -> stdout
 *   silo-vsock [--timeout S] --listen PORT TARGET
 *                                               accept on TCP 127.0.0.1:PORT, and bridge each
 *                                               connection to TARGET (so ordinary TCP clients,
 *                                               e.g. node's MCP client, reach a guest port)
 * TARGET:  uds:PATH:PORT   silo-vmm's hybrid vsock socket: connect to PATH, send
 *                          "CONNECT PORT\n", expect "OK <hostport>\n" (Firecracker convention)
 *          vsock:CID:PORT  a kernel AF_VSOCK connection (QEMU with vhost-vsock)
 *          tcp:HOST:PORT   plain TCP (IPv4 address), e.g. an agent running outside a VM
 *          --retry-ms N    keep retrying the connection (refused / no listener yet) for N ms
 * Exit status: 0 when the connection closed normally, 1 on connect/handshake failure (one line
 * on stderr says why), 2 on usage errors, 3 on timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>   /* after sys/socket.h */

static int timeout_s = 60;
static long retry_ms;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the "OK <n>\n" line of the hybrid vsock handshake one byte at a time (so no payload
 * byte is consumed). 0 on OK. */
static int handshake(int fd, int port)
{
    char line[64];
    int n = snprintf(line, sizeof line, "CONNECT %d\n", port);
    if (write(fd, line, (size_t)n) != n)
        return -1;
    size_t used = 0;
    while (used < sizeof line - 1) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 10000) != 1)
            return -1;
        ssize_t r = read(fd, line + used, 1);
        if (r <= 0)
            return -1;
        if (line[used++] == '\n')
            break;
    }
    line[used] = '\0';
    if (strncmp(line, "OK ", 3) != 0) {
        fprintf(stderr, "silo-vsock: handshake answer \"%.*s\"\n", (int)strcspn(line, "\n"), line);
        return -1;
    }
    return 0;
}

static int connect_once(const char *target)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", target);
    char *last = strrchr(buf, ':');
    if (last == NULL)
        return -2;
    *last = '\0';
    int port = atoi(last + 1);
    int fd = -1;
    if (strncmp(buf, "uds:", 4) == 0) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(buf + 4) >= sizeof sa.sun_path)
            return -2;
        strcpy(sa.sun_path, buf + 4);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || handshake(fd, port) < 0)
            goto fail;
    } else if (strncmp(buf, "vsock:", 6) == 0) {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = (unsigned)atoi(buf + 6), .svm_port = (unsigned)port };
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            goto fail;
    } else if (strncmp(buf, "tcp:", 4) == 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (inet_pton(AF_INET, buf + 4, &sa.sin_addr) != 1)
            return -2;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            goto fail;
    } else {
        return -2;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

static int connect_target(const char *target)
{
    long long deadline = now_ms() + retry_ms;
    for (;;) {
        int fd = connect_once(target);
        if (fd >= 0 || fd == -2 || now_ms() >= deadline)
            return fd;
        usleep(50 * 1000);
    }
}

/* Copies a<->b until both directions ended, passing half-closes on. */
static int pump(int in_a, int out_a, int sock, long long deadline)
{
    char buf[65536];
    bool a_open = true, s_open = true;
    while (s_open) {
        struct pollfd p[2] = { { a_open ? in_a : -1, POLLIN, 0 }, { sock, POLLIN, 0 } };
        long long left = deadline - now_ms();
        if (left <= 0)
            return 3;
        int n = poll(p, 2, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR)
            return 1;
        if (a_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(in_a, buf, sizeof buf);
            if (r <= 0) {
                a_open = false;
                shutdown(sock, SHUT_WR);
            } else {
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = send(sock, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                    if (w <= 0)
                        return 1;
                    off += w;
                }
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(sock, buf, sizeof buf, 0);
            if (r <= 0) {
                s_open = false;
            } else {
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(out_a, buf + off, (size_t)(r - off));
                    if (w <= 0)
                        return 1;
                    off += w;
                }
            }
        }
    }
    if (out_a != STDOUT_FILENO)
        shutdown(out_a, SHUT_WR);
    return 0;
}

static int serve(int port, const char *target)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0) {
        fprintf(stderr, "silo-vsock: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            close(lfd);
            int s = connect_target(target);
            if (s < 0) {
                fprintf(stderr, "silo-vsock: cannot reach %s\n", target);
                _exit(1);
            }
            _exit(pump(c, c, s, now_ms() + (long long)timeout_s * 1000));
        }
        close(c);
    }
}

int main(int argc, char **argv)
{
    int listen_port = 0;
    int i = 1;
    for (; i < argc - 1; i++) {
        if (strcmp(argv[i], "--timeout") == 0) timeout_s = atoi(argv[++i]);
        else if (strcmp(argv[i], "--listen") == 0) listen_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--retry-ms") == 0) retry_ms = atol(argv[++i]);
        else break;
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: silo-vsock [--timeout S] [--retry-ms N] [--listen PORT] uds:PATH:PORT|vsock:CID:PORT|tcp:IP:PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (listen_port > 0)
        return serve(listen_port, argv[i]);
    int s = connect_target(argv[i]);
    if (s == -2) {
        fprintf(stderr, "silo-vsock: bad target %s\n", argv[i]);
        return 2;
    }
    if (s < 0) {
        fprintf(stderr, "silo-vsock: cannot connect to %s: %s\n", argv[i], strerror(errno));
        return 1;
    }
    return pump(STDIN_FILENO, STDOUT_FILENO, s, now_ms() + (long long)timeout_s * 1000);
}
