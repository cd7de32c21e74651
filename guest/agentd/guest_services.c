/* guest/agentd/guest_services.c — listeners, accept threads and caps of agentd's loopback
 * services (see guest_services.h). Each accepted connection gets a detached worker thread; a
 * connection over its service's cap is refused at once, so the inbound vsock bridges (bridge.c,
 * their own cap) are never starved by the agent's outbound traffic. */
#include "guest/agentd/guest_services.h"
#include "guest/agentd/dns_stub.h"
#include "guest/agentd/egress_client.h"
#include "guest/agentd/egress_proxy.h"
#include "guest/agentd/guest_ports.h"
#include "guest/agentd/host_channel.h"
#include "guest/agentd/http_head.h"
#include "guest/agentd/kernel_cmdline.h"
#include "guest/agentd/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG(...) (fprintf(stderr, "silo-agentd: " __VA_ARGS__), fputc('\n', stderr))
#define WORKER_STACK (256 * 1024)

enum service_kind { SERVICE_PROXY, SERVICE_TRANSPARENT, SERVICE_CREDENTIALS, SERVICE_API };

struct service {
    enum service_kind kind;
    int listen_fd;
    uint16_t port;                 /* the nominal port (without the TCP offset) */
    bool loopback_peers_only;      /* tcp-offset mode on a wildcard address */
};

struct job {
    const struct service *service;
    int fd;
};

static atomic_int credentials_open, api_open;

static bool take(atomic_int *open, int max)
{
    if (atomic_fetch_add(open, 1) >= max) {
        atomic_fetch_sub(open, 1);
        return false;
    }
    return true;
}

static int bind_socket(int type, uint32_t address, uint16_t port, int tcp_offset)
{
    int real_port = port + (tcp_offset >= 0 ? tcp_offset : 0);
    if (real_port > 65535) {
        errno = ERANGE;
        return -1;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)real_port),
                              .sin_addr.s_addr = htonl(address) };
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (type == SOCK_STREAM && listen(fd, 256) < 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static bool peer_is_loopback(int fd)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    return getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && peer.sin_family == AF_INET &&
           (ntohl(peer.sin_addr.s_addr) >> 24) == 127;
}

static void serve_api(int client_fd)
{
    int up = host_channel_connect(HOST_PORT_API);
    if (up < 0) {
        static const char body[] = "{\"message\":\"silod's API channel is unavailable\"}";
        char out[512];
        int n = http_format_response(out, sizeof out, 502, "application/json", NULL, body, sizeof body - 1);
        if (n > 0)
            host_channel_write_all(client_fd, out, (size_t)n);
    } else {
        relay_run(client_fd, up, NULL, 0);
        close(up);
    }
    close(client_fd);
}

static void *worker(void *arg)
{
    struct job job = *(struct job *)arg;
    free(arg);
    switch (job.service->kind) {
    case SERVICE_PROXY:
        egress_proxy_serve(job.fd);
        egress_slot_release();
        break;
    case SERVICE_TRANSPARENT:
        egress_transparent_serve(job.fd, job.service->port);
        egress_slot_release();
        break;
    case SERVICE_CREDENTIALS:
        credentials_serve(job.fd);
        atomic_fetch_sub(&credentials_open, 1);
        break;
    case SERVICE_API:
        serve_api(job.fd);
        atomic_fetch_sub(&api_open, 1);
        break;
    }
    return NULL;
}

static bool spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    bool ok = pthread_create(&t, &attr, fn, arg) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

/* Takes the service's slot; false (fd answered or closed) when it is full. */
static bool admit(const struct service *s, int fd)
{
    switch (s->kind) {
    case SERVICE_PROXY:
        if (egress_slot_take())
            return true;
        egress_proxy_refuse_busy(fd);
        return false;
    case SERVICE_TRANSPARENT:
        if (egress_slot_take())
            return true;
        break;
    case SERVICE_CREDENTIALS:
        if (take(&credentials_open, CREDENTIALS_MAX_CONNECTIONS))
            return true;
        break;
    case SERVICE_API:
        if (take(&api_open, API_MAX_CONNECTIONS))
            return true;
        break;
    }
    close(fd);
    return false;
}

static void release(const struct service *s)
{
    if (s->kind == SERVICE_PROXY || s->kind == SERVICE_TRANSPARENT)
        egress_slot_release();
    else
        atomic_fetch_sub(s->kind == SERVICE_CREDENTIALS ? &credentials_open : &api_open, 1);
}

static void *accept_loop(void *arg)
{
    const struct service *s = arg;
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                usleep(50 * 1000);   /* e.g. out of descriptors: let workers finish, never spin */
            continue;
        }
        if (s->loopback_peers_only && !peer_is_loopback(fd)) {
            close(fd);
            continue;
        }
        if (!admit(s, fd))
            continue;
        struct job *job = malloc(sizeof *job);
        if (job != NULL) {
            *job = (struct job){ s, fd };
            if (spawn(worker, job))
                continue;
            free(job);
        }
        close(fd);
        release(s);
    }
    return NULL;
}

static void start_service(enum service_kind kind, uint32_t address, uint16_t port, int tcp_offset)
{
    int fd = bind_socket(SOCK_STREAM, address, port, tcp_offset);
    struct service *s = fd >= 0 ? malloc(sizeof *s) : NULL;   /* lives as long as agentd */
    if (s == NULL) {
        LOG("cannot listen on tcp port %u (+%d): %s", (unsigned)port, tcp_offset < 0 ? 0 : tcp_offset,
            strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    *s = (struct service){ kind, fd, port, tcp_offset >= 0 && address == INADDR_ANY };
    if (!spawn(accept_loop, s))
        LOG("cannot start the accept thread for port %u", (unsigned)port);
}

static void *dns_loop(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint8_t query[DNS_STUB_MAX_QUERY], answer[DNS_STUB_MAX_ANSWER];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        ssize_t n = recvfrom(fd, query, sizeof query, 0, (struct sockaddr *)&peer, &peer_len);
        if (n <= 0)
            continue;
        size_t len = dns_stub_answer(query, (size_t)n, answer, sizeof answer);
        if (len > 0 && sendto(fd, answer, len, 0, (struct sockaddr *)&peer, peer_len) < 0) {}
    }
    return NULL;
}

static void start_dns(int tcp_offset)
{
    int fd = bind_socket(SOCK_DGRAM, INADDR_LOOPBACK, GUEST_LOOP_DNS, tcp_offset);
    if (fd < 0 || !spawn(dns_loop, (void *)(intptr_t)fd))
        LOG("cannot start the DNS stub on udp port %d: %s", GUEST_LOOP_DNS, strerror(errno));
}

/* /etc/resolv.conf → the stub. The root is this VM's private copy, so replacing it is fine. */
static void write_resolv_conf(void)
{
    static const char text[] = "# written by silo-agentd: every name resolves through its DNS stub\n"
                               "nameserver 127.0.0.1\noptions ndots:1 timeout:2\n";
    mkdir("/etc", 0755);              /* an image without /etc still gets one */
    unlink("/etc/resolv.conf");       /* a symlink (systemd-resolved, …) is replaced, not followed */
    int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
        LOG("cannot write /etc/resolv.conf: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* Ports agentd or the agent listen on themselves: a wildcard listener there would take them. */
static bool port_reserved(uint16_t port)
{
    static const uint16_t reserved[] = { GUEST_PORT_HTTP, GUEST_PORT_MCP, GUEST_PORT_A2A, GUEST_PORT_CONTROL,
                                         GUEST_LOOP_PROXY, GUEST_LOOP_DNS, GUEST_LOOP_CREDENTIALS, GUEST_LOOP_API };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (reserved[i] == port)
            return true;
    return false;
}

static void start_transparent(const char *cmdline, int tcp_offset)
{
    char list[256] = "80,443";
    uint16_t ports[EGRESS_PORTS_MAX];
    kernel_cmdline_value(cmdline, "silo.egress_ports", list, sizeof list);
    size_t count = kernel_cmdline_ports(list, ports, EGRESS_PORTS_MAX);
    for (size_t i = 0; i < count; i++) {
        if (port_reserved(ports[i]))
            LOG("silo.egress_ports: port %u is the agent's or agentd's own, not intercepted", (unsigned)ports[i]);
        else
            start_service(SERVICE_TRANSPARENT, INADDR_ANY, ports[i], tcp_offset);
    }
    LOG("egress: proxy 127.0.0.1:%d, DNS stub 127.0.0.1:%d, transparent ports %s, credentials 127.0.0.1:%d, "
        "silod API 127.0.0.1:%d%s", GUEST_LOOP_PROXY, GUEST_LOOP_DNS, count ? list : "none", GUEST_LOOP_CREDENTIALS,
        GUEST_LOOP_API, tcp_offset >= 0 ? " (each at port + the TCP offset)" : "");
}

int guest_services_start(int tcp_offset, const char *cmdline_path, struct guest_services *out)
{
    char *cmdline = malloc(KERNEL_CMDLINE_MAX);
    memset(out, 0, sizeof *out);
    if (cmdline == NULL)
        return -1;
    kernel_cmdline_read(cmdline_path, cmdline, KERNEL_CMDLINE_MAX);
    if (kernel_cmdline_value(cmdline, "silo.region", out->region, sizeof out->region) &&
        !kernel_cmdline_region_valid(out->region)) {
        LOG("ignoring silo.region: not a region name");
        out->region[0] = '\0';
    }
    host_channel_set_tcp_offset(tcp_offset);
    if (tcp_offset < 0)
        write_resolv_conf();
    start_dns(tcp_offset);
    start_service(SERVICE_PROXY, INADDR_LOOPBACK, GUEST_LOOP_PROXY, tcp_offset);
    start_service(SERVICE_API, INADDR_LOOPBACK, GUEST_LOOP_API, tcp_offset);
    start_transparent(cmdline, tcp_offset);
    free(cmdline);
    if (!credentials_make_token(out->token, sizeof out->token)) {
        LOG("no random bytes for the credentials token: the credentials endpoint stays off");
        return -1;
    }
    credentials_set_token(out->token);
    start_service(SERVICE_CREDENTIALS, INADDR_LOOPBACK, GUEST_LOOP_CREDENTIALS, tcp_offset);
    return 0;
}
