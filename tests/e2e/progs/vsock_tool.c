/* tests/e2e/progs/vsock_tool.c — vsock-tool: both ends of the e2e vsock tests (static arm64; runs
 * in the dev host against silo-vmm's Unix socket, and in the microVM over AF_VSOCK).
 *
 *   vsock-tool [--retry-ms N] send TARGET BYTES [SEED]   send BYTES of the test pattern,
 *                                  half-close, print the peer's verdict line (0 if it says ok)
 *   vsock-tool [--retry-ms N] recv TARGET [SEED]         receive to EOF, verify the pattern
 *   vsock-tool serve LISTEN MODE [BYTES] [--once]        accept connections (a child each;
 *                                  MODE hold: none, every connection kept open and never used):
 *                                  MODE echo | sink (verify, answer "sink ok bytes=N fnv=H") |
 *                                  source BYTES (send the pattern, half-close)
 *   vsock-tool streams TARGET K BYTES                    K concurrent connections to an echo
 *                                  server, each sending BYTES (its own seed), all verified
 *   vsock-tool refused TARGET                            succeeds if the connection is refused
 *   vsock-tool ping TARGET N                             N 64-byte round trips to an echo server
 *   vsock-tool ask TARGET LINE                           send LINE and "\n", print the answer
 *                                  (read to EOF, at most 4 KiB) as is; 0 if there was one
 * TARGET: uds:PATH:PORT  silo-vmm's hybrid socket: connect PATH, "CONNECT PORT\n", "OK n\n"
 *         vsock:CID:PORT AF_VSOCK (in the guest: CID 2 is the host)
 * LISTEN: vsock:PORT (in the guest) | unix:PATH (in the dev host: silo-vmm connects to
 *         <uds>_<port> when the guest connects to CID 2)
 * Each command prints one `vsock-tool: ...` line; exit status 0 = success.
 */
#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h> /* before linux/vm_sockets.h, which needs struct sockaddr */
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/e2e/progs/vsock_common.h"

static int retry_ms;

static int die(const char *what)
{
    printf("vsock-tool: %s\n", what);
    return 1;
}

/* uds:PATH:PORT -> PATH, PORT ; vsock:CID:PORT -> CID, PORT */
static int parse_target(const char *t, char *path, size_t cap, unsigned *cid, unsigned *port, bool *is_uds)
{
    const char *colon = strrchr(t, ':');
    if (colon == NULL)
        return -1;
    *port = (unsigned)strtoul(colon + 1, NULL, 10);
    if (strncmp(t, "uds:", 4) == 0) {
        size_t len = (size_t)(colon - (t + 4));
        if (len + 1 > cap)
            return -1;
        memcpy(path, t + 4, len);
        path[len] = '\0';
        *is_uds = true;
        return 0;
    }
    if (strncmp(t, "vsock:", 6) == 0) {
        *cid = (unsigned)strtoul(t + 6, NULL, 10);
        *is_uds = false;
        return 0;
    }
    return -1;
}

/* One attempt. Returns fd, or -errno. For uds targets, a close before "OK" is -ECONNREFUSED. */
static int connect_once(const char *target)
{
    char path[108];
    unsigned cid = 0, port = 0;
    bool uds;
    if (parse_target(target, path, sizeof path, &cid, &port, &uds) < 0)
        return -EINVAL;
    if (!uds) {
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        return fd;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "CONNECT %u\n", port);
    if (write_all(fd, line, (size_t)n) < 0 || read_line(fd, line, sizeof line) < 0 || strncmp(line, "OK ", 3) != 0) {
        close(fd);
        return -ECONNREFUSED;
    }
    return fd;
}

static int connect_target(const char *target)
{
    double deadline = now_s() + retry_ms / 1000.0;
    for (;;) {
        int fd = connect_once(target);
        if (fd >= 0 || now_s() >= deadline || fd == -EINVAL)
            return fd;
        usleep(100000);
    }
}

static int cmd_send(const char *target, uint64_t bytes, uint32_t seed)
{
    int fd = connect_target(target);
    if (fd < 0)
        return die(strerror(-fd));
    uint64_t sum;
    double t0 = now_s();
    int r = send_pattern(fd, bytes, seed, &sum);
    shutdown(fd, SHUT_WR);
    char verdict[128] = "(none)";
    if (read_line(fd, verdict, sizeof verdict) < 0)
        strcpy(verdict, "(none)");
    double dt = now_s() - t0;
    printf("vsock-tool: sent %llu bytes in %.2f s (%.1f MB/s) fnv=%016llx%s; peer: %s\n", (unsigned long long)bytes,
           dt, bytes / 1e6 / (dt > 0 ? dt : 1e-9), (unsigned long long)sum, r < 0 ? " WRITE FAILED" : "", verdict);
    close(fd);
    return r == 0 && strncmp(verdict, "sink ok", 7) == 0 ? 0 : 1;
}

static int report_recv(int fd, uint32_t seed, bool answer)
{
    uint64_t bad, sum;
    double t0 = now_s();
    uint64_t n = recv_pattern(fd, seed, &bad, &sum);
    double dt = now_s() - t0;
    char line[128];
    if (bad == UINT64_MAX)
        snprintf(line, sizeof line, "sink ok bytes=%llu fnv=%016llx", (unsigned long long)n, (unsigned long long)sum);
    else
        snprintf(line, sizeof line, "sink BAD at byte %llu of %llu", (unsigned long long)bad, (unsigned long long)n);
    printf("vsock-tool: %s (%.2f s, %.1f MB/s)\n", line, dt, n / 1e6 / (dt > 0 ? dt : 1e-9));
    if (answer) {
        strcat(line, "\n");
        write_all(fd, line, strlen(line));
    }
    return bad == UINT64_MAX ? 0 : 1;
}

static int cmd_recv(const char *target, uint32_t seed)
{
    int fd = connect_target(target);
    if (fd < 0)
        return die(strerror(-fd));
    int r = report_recv(fd, seed, false);
    close(fd);
    return r;
}

static void serve_one(int fd, const char *mode, uint64_t bytes)
{
    if (strcmp(mode, "echo") == 0) {
        static uint8_t buf[CHUNK];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
            if (write_all(fd, buf, (size_t)n) < 0)
                break;
    } else if (strcmp(mode, "sink") == 0) {
        report_recv(fd, 0, true);
    } else if (strcmp(mode, "source") == 0) {
        uint64_t sum;
        double t0 = now_s();
        int r = send_pattern(fd, bytes, 0, &sum);
        double dt = now_s() - t0;
        printf("vsock-tool: source sent %llu bytes (%.1f MB/s) fnv=%016llx%s\n", (unsigned long long)bytes,
               bytes / 1e6 / (dt > 0 ? dt : 1e-9), (unsigned long long)sum, r < 0 ? " WRITE FAILED" : "");
        shutdown(fd, SHUT_WR);
        char c;
        while (recv(fd, &c, 1, 0) > 0) {
        }
    }
    close(fd);
}

static int cmd_serve(const char *listen_on, const char *mode, uint64_t bytes, bool once)
{
    int lfd;
    if (strncmp(listen_on, "vsock:", 6) == 0) {
        lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                                 .svm_port = (unsigned)strtoul(listen_on + 6, NULL, 10) };
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0)
            return die(strerror(errno));
    } else if (strncmp(listen_on, "unix:", 5) == 0) {
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof a.sun_path, "%s", listen_on + 5);
        unlink(a.sun_path);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0)
            return die(strerror(errno));
    } else {
        return die("LISTEN must be vsock:PORT or unix:PATH");
    }
    signal(SIGCHLD, SIG_IGN);
    bool hold = strcmp(mode, "hold") == 0;
    if (hold) { /* as many descriptors as the hard limit allows (root: raised first) */
        struct rlimit rl = { 65536, 65536 };
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    printf("vsock-tool: serving %s on %s\n", mode, listen_on);
    unsigned long held = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return die(strerror(errno));
        }
        if (hold) { /* keep it open, never read or write: a half-open peer */
            printf("vsock-tool: holding %lu connections\n", ++held);
            fflush(stdout);
            continue;
        }
        if (once) {
            serve_one(fd, mode, bytes);
            return 0;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            serve_one(fd, mode, bytes);
            _exit(0);
        }
        close(fd);
    }
}

struct stream {
    int fd;
    uint64_t sent, got;
    bool bad, done;
};

static int cmd_streams(const char *target, int k, uint64_t bytes)
{
    struct stream *s = calloc((size_t)k, sizeof *s);
    struct pollfd *p = calloc((size_t)k, sizeof *p);
    static uint8_t buf[CHUNK];
    double t0 = now_s();
    for (int i = 0; i < k; i++) {
        s[i].fd = connect_target(target);
        if (s[i].fd < 0) {
            printf("vsock-tool: streams: connection %d failed: %s\n", i, strerror(-s[i].fd));
            return 1;
        }
    }
    int finished = 0;
    while (finished < k) {
        for (int i = 0; i < k; i++) {
            p[i].fd = s[i].done ? -1 : s[i].fd;
            p[i].events = POLLIN | (s[i].sent < bytes ? POLLOUT : 0);
        }
        if (poll(p, (nfds_t)k, 60000) <= 0) {
            printf("vsock-tool: streams: stalled\n");
            return 1;
        }
        for (int i = 0; i < k; i++) {
            if (s[i].done)
                continue;
            if ((p[i].revents & POLLOUT) && s[i].sent < bytes) {
                size_t n = bytes - s[i].sent < 4096 ? (size_t)(bytes - s[i].sent) : 4096;
                pattern_fill(buf, n, s[i].sent, (uint32_t)i + 1);
                ssize_t w = send(s[i].fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w > 0)
                    s[i].sent += (uint64_t)w;
                if (s[i].sent == bytes)
                    shutdown(s[i].fd, SHUT_WR);
            }
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = recv(s[i].fd, buf, sizeof buf, MSG_DONTWAIT);
                for (ssize_t j = 0; j < n; j++)
                    s[i].bad |= buf[j] != pattern_byte(s[i].got + (uint64_t)j, (uint32_t)i + 1);
                if (n > 0)
                    s[i].got += (uint64_t)n;
                if (n == 0 || (n < 0 && errno != EAGAIN)) {
                    s[i].done = true;
                    finished++;
                }
            }
        }
    }
    int good = 0;
    for (int i = 0; i < k; i++) {
        good += !s[i].bad && s[i].got == bytes;
        close(s[i].fd);
    }
    printf("vsock-tool: streams: %d/%d echoed %llu bytes intact in %.2f s\n", good, k, (unsigned long long)bytes,
           now_s() - t0);
    return good == k ? 0 : 1;
}

static int cmd_refused(const char *target)
{
    int fd = connect_once(target);
    if (fd >= 0) {
        close(fd);
        return die("refused: the connection was accepted");
    }
    printf("vsock-tool: refused ok (%s)\n", strerror(-fd));
    return 0;
}

static int cmd_ping(const char *target, int n)
{
    int fd = connect_target(target);
    if (fd < 0)
        return die(strerror(-fd));
    uint8_t msg[64], back[64];
    memset(msg, 'p', sizeof msg);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        size_t got = 0;
        if (write_all(fd, msg, sizeof msg) < 0)
            return die("ping: write failed");
        while (got < sizeof back) {
            ssize_t r = recv(fd, back + got, sizeof back - got, 0);
            if (r <= 0)
                return die("ping: connection closed");
            got += (size_t)r;
        }
    }
    double dt = now_s() - t0;
    printf("vsock-tool: ping %d round trips, avg %.1f us\n", n, dt / n * 1e6);
    close(fd);
    return 0;
}

static int cmd_ask(const char *target, const char *line)
{
    int fd = connect_target(target);
    if (fd < 0)
        return die(strerror(-fd));
    char buf[4096];
    size_t len = strlen(line), got = 0;
    if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        close(fd);
        return die("write failed");
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    fputs(buf, stdout);
    return got > 0 ? 0 : die("no answer");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--retry-ms") == 0) {
        retry_ms = atoi(argv[a + 1]);
        a += 2;
    }
    if (argc - a < 2)
        goto usage;
    const char *cmd = argv[a], *target = argv[a + 1];
    int rest = argc - a - 2;
    char **r = argv + a + 2;
    if (strcmp(cmd, "send") == 0 && rest >= 1)
        return cmd_send(target, strtoull(r[0], NULL, 10), rest > 1 ? (uint32_t)atoi(r[1]) : 0);
    if (strcmp(cmd, "recv") == 0)
        return cmd_recv(target, rest > 0 ? (uint32_t)atoi(r[0]) : 0);
    if (strcmp(cmd, "serve") == 0 && rest >= 1) {
        bool once = strcmp(argv[argc - 1], "--once") == 0;
        return cmd_serve(target, r[0], rest > 1 ? strtoull(r[1], NULL, 10) : 0, once);
    }
    if (strcmp(cmd, "streams") == 0 && rest == 2)
        return cmd_streams(target, atoi(r[0]), strtoull(r[1], NULL, 10));
    if (strcmp(cmd, "refused") == 0)
        return cmd_refused(target);
    if (strcmp(cmd, "ping") == 0 && rest == 1)
        return cmd_ping(target, atoi(r[0]));
    if (strcmp(cmd, "ask") == 0 && rest == 1)
        return cmd_ask(target, r[0]);
usage:
    fprintf(stderr, "usage: vsock-tool [--retry-ms N] send|recv|serve|streams|refused|ping|ask TARGET ...\n");
    return 2;
}
