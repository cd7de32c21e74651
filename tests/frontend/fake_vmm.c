/* tests/frontend/fake_vmm.c — a TEST VMM for x86 integration tests of silod. It is NOT
 * silo-vmm and boots nothing: it accepts silo-vmm's command line, listens on --vsock-uds PATH,
 * speaks the vsock socket protocol (`CONNECT <port>\n` → `OK <hostport>\n`) and, for guest
 * port 8080, plays a trivial agent over HTTP/1.1:
 *   GET  /ping         → 200 {"status":"Healthy"}
 *   POST /invocations  → 200, the request body echoed with the request's Content-Type, or, if
 *                        the body is "sse", three text/event-stream events sent 50 ms apart;
 *                        a body of "fail" → 500.
 * Other ports are refused. Exits on SIGTERM, removing the socket. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *socket_path;

static void on_term(int sig)
{
    (void)sig;
    if (socket_path)
        unlink(socket_path);
    _exit(0);
}

static int read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        if (read(fd, buf + n, 1) != 1)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            if (n && buf[n - 1] == '\r')
                buf[n - 1] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void serve_http(int fd)
{
    char line[8192], method[16] = "", path[1024] = "", ctype[256] = "application/octet-stream";
    long long content_length = 0;
    bool chunked = false;
    if (read_line(fd, line, sizeof line) != 0 || sscanf(line, "%15s %1023s", method, path) != 2)
        return;
    while (read_line(fd, line, sizeof line) == 0 && line[0]) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            content_length = atoll(line + 15);
        else if (strncasecmp(line, "content-type:", 13) == 0)
            snprintf(ctype, sizeof ctype, "%s", line + 13 + strspn(line + 13, " "));
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strstr(line, "chunked"))
            chunked = true;
    }
    if (strcmp(path, "/ping") == 0) {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 20\r\nConnection: close\r\n\r\n{\"status\":\"Healthy\"}";
        write_all(fd, r, sizeof r - 1);
        return;
    }
    /* read the body (either framing) into memory: this is a test agent */
    size_t cap = 1024, len = 0;
    char *body = malloc(cap);
    for (;;) {
        long long want = content_length;
        if (chunked) {
            if (read_line(fd, line, sizeof line) != 0)
                break;
            want = strtoll(line, NULL, 16);
            if (want == 0) {
                read_line(fd, line, sizeof line);
                break;
            }
        }
        while (want > 0) {
            if (len + (size_t)want + 1 > cap) {
                while (len + (size_t)want + 1 > cap)
                    cap *= 2;
                body = realloc(body, cap);
            }
            ssize_t r = read(fd, body + len, (size_t)want);
            if (r <= 0)
                goto done;
            len += (size_t)r;
            want -= r;
        }
        if (!chunked)
            break;
        read_line(fd, line, sizeof line);   /* CRLF after the chunk */
    }
done:
    if (len == 3 && memcmp(body, "sse", 3) == 0) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
        write_all(fd, head, sizeof head - 1);
        for (int i = 0; i < 3; i++) {
            char ev[64];
            int n = snprintf(ev, sizeof ev, "data: {\"event\":%d}\n\n", i);
            write_all(fd, ev, (size_t)n);
            usleep(50000);
        }
    } else if (len == 4 && memcmp(body, "fail", 4) == 0) {
        static const char r[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"error\":\"boom\"}";
        write_all(fd, r, sizeof r - 1);
    } else {
        char head[512];
        int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                            "Connection: close\r\n\r\n", ctype, len);
        write_all(fd, head, (size_t)n);
        write_all(fd, body, len);
    }
    free(body);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--vsock-uds") == 0)
            socket_path = argv[i + 1];
    if (!socket_path) {
        fprintf(stderr, "fake_vmm: --vsock-uds PATH is required\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
    unlink(socket_path);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 16) != 0) {
        perror("fake_vmm: listen");
        return 1;
    }
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            close(ls);
            char line[64];
            unsigned port = 0;
            if (read_line(c, line, sizeof line) == 0 && sscanf(line, "CONNECT %u", &port) == 1 && port == 8080) {
                write_all(c, "OK 1073741824\n", 14);
                serve_http(c);
            }
            close(c);
            _exit(0);
        }
        close(c);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}
