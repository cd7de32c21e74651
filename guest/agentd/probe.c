/* guest/agentd/probe.c — parsers for the agent's /ping answer and the guest's /proc usage
 * figures, and the probes that feed them (see probe.h). Everything the agent sends is hostile:
 * sizes are bounded, numbers range-checked, anything unexpected is "Unhealthy". */
#include "guest/agentd/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/small_file.h"

static const char *find_bytes(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

/* True when the header block contains "Transfer-Encoding: chunked" (case-insensitive). */
static bool is_chunked(const char *headers, size_t len)
{
    const char *p = headers, *end = headers + len;
    while (p < end) {
        const char *eol = find_bytes(p, (size_t)(end - p), "\r\n");
        size_t llen = eol ? (size_t)(eol - p) : (size_t)(end - p);
        static const char name[] = "transfer-encoding:";
        if (llen > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
            const char *v = p + sizeof name - 1;
            size_t vlen = llen - (sizeof name - 1);
            while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }
            if (vlen >= 7 && strncasecmp(v, "chunked", 7) == 0)
                return true;
        }
        if (eol == NULL)
            break;
        p = eol + 2;
    }
    return false;
}

/* Decodes a chunked body into out (cap bytes); returns the decoded length, or -1. */
static long dechunk(const char *body, size_t len, char *out, size_t cap)
{
    size_t in = 0, used = 0;
    while (in < len) {
        char *end;
        char sizebuf[20];
        size_t i = 0;
        while (in + i < len && i < sizeof sizebuf - 1 && body[in + i] != '\r' && body[in + i] != ';')
            sizebuf[i] = body[in + i], i++;
        sizebuf[i] = '\0';
        unsigned long size = strtoul(sizebuf, &end, 16);
        if (i == 0 || *end != '\0')
            return -1;
        const char *eol = find_bytes(body + in, len - in, "\r\n");
        if (eol == NULL)
            return -1;
        in = (size_t)(eol - body) + 2;
        if (size == 0)
            return (long)used;
        if (size > len - in || size > cap - used)
            return -1;
        memcpy(out + used, body + in, size);
        used += size;
        in += size;
        if (len - in < 2 || memcmp(body + in, "\r\n", 2) != 0)
            return -1;
        in += 2;
    }
    return (long)used;   /* the answer was cut short by our read limit: parse what we have */
}

void ping_parse_response(const char *buf, size_t len, struct cp_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->verb = CP_HEALTH;
    resp->ok = true;
    resp->u.health.status = CP_HEALTH_UNHEALTHY;
    resp->u.health.time_of_last_update = -1;

    if (len > PING_MAX_RESPONSE)
        len = PING_MAX_RESPONSE;
    if (len < 12 || (memcmp(buf, "HTTP/1.1 ", 9) != 0 && memcmp(buf, "HTTP/1.0 ", 9) != 0))
        return;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return;
        code = code * 10 + (buf[i] - '0');
    }
    resp->u.health.http_status = code;
    const char *hend = find_bytes(buf, len, "\r\n\r\n");
    if (code != 200 || hend == NULL)
        return;
    const char *body = hend + 4;
    size_t blen = len - (size_t)(body - buf);
    char decoded[PING_MAX_RESPONSE];
    if (is_chunked(buf, (size_t)(hend - buf))) {
        long n = dechunk(body, blen, decoded, sizeof decoded);
        if (n < 0)
            return;
        body = decoded;
        blen = (size_t)n;
    }
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return;
    json_object *root = json_tokener_parse_ex(tok, body, (int)blen);
    json_tokener_free(tok);
    json_object *status = NULL, *t = NULL;
    if (root != NULL && json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "status", &status) && json_object_is_type(status, json_type_string)) {
        const char *s = json_object_get_string(status);
        if (strcmp(s, "Healthy") == 0)
            resp->u.health.status = CP_HEALTH_HEALTHY;
        else if (strcmp(s, "HealthyBusy") == 0)
            resp->u.health.status = CP_HEALTH_BUSY;
        if (json_object_object_get_ex(root, "time_of_last_update", &t)) {
            if (json_object_is_type(t, json_type_int)) {
                int64_t v = json_object_get_int64(t);
                if (v >= 0)
                    resp->u.health.time_of_last_update = v;
            } else if (json_object_is_type(t, json_type_double)) {
                double d = json_object_get_double(t);
                if (d >= 0 && d < 9.0e15)
                    resp->u.health.time_of_last_update = (int64_t)d;
            }
        }
    }
    json_object_put(root);
}

/* --- /proc ------------------------------------------------------------------------------- */

static int meminfo_field(const char *meminfo, const char *name, uint64_t *kib)
{
    size_t nlen = strlen(name);
    for (const char *p = meminfo; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p + nlen + 1, &end, 10);
            if (errno != 0 || end == p + nlen + 1)
                return -1;
            *kib = v;
            return 0;
        }
    }
    return -1;
}

int usage_parse(const char *proc_stat, const char *proc_meminfo, const char *proc_uptime,
                long jiffies_per_sec, struct cp_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->verb = CP_USAGE;
    resp->ok = true;
    if (jiffies_per_sec <= 0 || strncmp(proc_stat, "cpu ", 4) != 0)
        return -1;
    /* cpu  user nice system idle iowait irq softirq steal guest guest_nice */
    unsigned long long f[8] = { 0 };
    const char *p = proc_stat + 4;
    for (int i = 0; i < 8; i++) {
        char *end;
        errno = 0;
        f[i] = strtoull(p, &end, 10);
        if (errno != 0 || end == p) {
            if (i < 4)
                return -1;
            break;
        }
        p = end;
    }
    unsigned long long busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    resp->u.usage.cpu_ms = busy * 1000ULL / (unsigned long long)jiffies_per_sec;

    uint64_t total, avail;
    if (meminfo_field(proc_meminfo, "MemTotal", &total) < 0 ||
        meminfo_field(proc_meminfo, "MemAvailable", &avail) < 0 || avail > total)
        return -1;
    resp->u.usage.mem_total_kib = total;
    resp->u.usage.mem_used_kib = total - avail;

    char *end;
    errno = 0;
    double up = strtod(proc_uptime, &end);
    if (errno != 0 || end == proc_uptime || up < 0 || up > 1e12)
        return -1;
    resp->u.usage.uptime_ms = (uint64_t)(up * 1000.0);
    return 0;
}

/* --- probes (guest) ---------------------------------------------------------------------- */

int probe_usage(struct cp_response *resp)
{
    char stat[16384], meminfo[8192], uptime[128];
    if (small_file_read("/proc/stat", stat, sizeof stat) < 0 ||
        small_file_read("/proc/meminfo", meminfo, sizeof meminfo) < 0 ||
        small_file_read("/proc/uptime", uptime, sizeof uptime) < 0)
        return -1;
    return usage_parse(stat, meminfo, uptime, sysconf(_SC_CLK_TCK), resp);
}

/* A non-blocking connect to 127.0.0.1:port finished within timeout_ms; the fd, or -1. */
static int connect_local(int port, int timeout_ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&pfd, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int probe_port_accepts(int port, int timeout_ms)
{
    int fd = connect_local(port, timeout_ms);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

void probe_ping(int port, int timeout_ms, struct cp_response *resp)
{
    static const char req[] = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: silo-agentd\r\n"
                              "Accept: application/json\r\nConnection: close\r\n\r\n";
    char buf[PING_MAX_RESPONSE];
    int64_t deadline = mono_ms() + timeout_ms;
    size_t got = 0, sent = 0;

    memset(resp, 0, sizeof *resp);
    resp->verb = CP_HEALTH;
    resp->ok = true;
    resp->u.health.status = CP_HEALTH_UNREACHABLE;
    resp->u.health.time_of_last_update = -1;
    int fd = connect_local(port, timeout_ms);
    if (fd < 0)
        return;
    while (sent < sizeof req - 1) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int left = (int)(deadline - mono_ms());
        if (left <= 0 || poll(&pfd, 1, left) != 1)
            goto out;
        ssize_t n = send(fd, req + sent, sizeof req - 1 - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN)
            goto out;
        if (n > 0)
            sent += (size_t)n;
    }
    while (got < sizeof buf) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int left = (int)(deadline - mono_ms());
        if (left <= 0 || poll(&pfd, 1, left) != 1)
            break;
        ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        /* stop as soon as a Content-Length body is complete (keep-alive servers) */
        const char *hend = find_bytes(buf, got, "\r\n\r\n");
        const char *cl = hend ? find_bytes(buf, (size_t)(hend - buf), "ontent-Length:") : NULL;
        if (cl == NULL && hend != NULL)
            cl = find_bytes(buf, (size_t)(hend - buf), "ontent-length:");
        if (cl != NULL) {
            unsigned long want = strtoul(cl + 14, NULL, 10);
            if (want <= sizeof buf && (size_t)(hend + 4 - buf) + want <= got)
                break;
        }
    }
    if (got > 0)
        ping_parse_response(buf, got, resp);
out:
    close(fd);
}
