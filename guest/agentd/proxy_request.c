/* guest/agentd/proxy_request.c — parses and rewrites the request heads agents send to agentd's
 * HTTP forward proxy (see proxy_request.h). Pure: no I/O, no allocation. */
#include "guest/agentd/proxy_request.h"
#include "guest/agentd/host_name.h"
#include "guest/agentd/http_head.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int refuse(struct proxy_request *req, int status, const char *why)
{
    req->status = status;
    req->error = why;
    return -1;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Length of the line starting at p (without "\r\n" / "\n"); *next is where the next one starts. */
static size_t line_at(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
        *next = end;
        return (size_t)(end - p);
    }
    *next = nl + 1;
    return (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
}

/* Every line of the head: bounded, no control characters (a tab is allowed in header values). */
static int check_lines(const char *buf, size_t head_len, struct proxy_request *req)
{
    const char *p = buf, *end = buf + head_len, *next;
    bool first = true;
    while (p < end) {
        size_t n = line_at(p, end, &next);
        if (n > PROXY_MAX_LINE)
            return refuse(req, 431, "a request line or header is longer than 8192 bytes");
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if ((c < 0x20 && !(c == '\t' && !first)) || c == 0x7f || (first && c > 0x7e))
                return refuse(req, 400, "control character in the request head");
        }
        if (!first && n > 0 && (p[0] == ' ' || p[0] == '\t'))
            return refuse(req, 400, "folded header lines are not supported");
        if (!first && n > 0) {
            size_t k = 0;
            while (k < n && is_tchar(p[k]))
                k++;
            if (k == 0 || k == n || p[k] != ':')
                return refuse(req, 400, "malformed header line");
        }
        first = false;
        p = next;
    }
    return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int parse_ipv6_host(const char *s, size_t n, struct proxy_request *req, size_t *consumed)
{
    const char *close = memchr(s, ']', n);
    size_t inner = close ? (size_t)(close - s) - 1 : 0;
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (close == NULL || inner == 0 || inner >= sizeof text)
        return refuse(req, 400, "bad IPv6 address in the target");
    memcpy(text, s + 1, inner);
    text[inner] = '\0';
    if (inet_pton(AF_INET6, text, &addr) != 1)
        return refuse(req, 400, "bad IPv6 address in the target");
    memcpy(req->host, s, inner + 2);
    req->host[inner + 2] = '\0';
    host_name_lower(req->host, inner + 2);
    *consumed = inner + 2;
    return 0;
}

/* host[:port] or [v6][:port]; default_port 0 means the port is required. */
static int parse_authority(const char *s, size_t n, uint16_t default_port, struct proxy_request *req)
{
    if (n == 0)
        return refuse(req, 400, "empty host in the target");
    if (memchr(s, '@', n) != NULL)
        return refuse(req, 400, "user info in the URL is not supported");
    size_t host_len;
    if (s[0] == '[') {
        if (parse_ipv6_host(s, n, req, &host_len) < 0)
            return -1;
    } else {
        const char *colon = memchr(s, ':', n);
        host_len = colon ? (size_t)(colon - s) : n;
        size_t name_len = host_len;
        if (name_len > 1 && s[name_len - 1] == '.')
            name_len--;               /* "example.com." is example.com */
        if (!host_name_valid(s, name_len))
            return refuse(req, 400, "bad host name in the target");
        memcpy(req->host, s, name_len);
        req->host[name_len] = '\0';
        host_name_lower(req->host, name_len);
    }
    if (host_len == n) {
        if (default_port == 0)
            return refuse(req, 400, "CONNECT needs host:port");
        req->port = default_port;
        return 0;
    }
    if (s[host_len] != ':' || parse_port(s + host_len + 1, n - host_len - 1, &req->port) < 0)
        return refuse(req, 400, "bad port in the target (1-65535)");
    return 0;
}

static int parse_absolute(const char *target, size_t n, size_t target_off, struct proxy_request *req)
{
    if (n >= 8 && strncasecmp(target, "https://", 8) == 0)
        return refuse(req, 400, "https:// URLs go through CONNECT (set HTTPS_PROXY)");
    if (n < 7 || strncasecmp(target, "http://", 7) != 0)
        return refuse(req, 400, "not a proxy request: send CONNECT host:port or an absolute http:// URL");
    size_t a = 7, e = a;
    while (e < n && target[e] != '/' && target[e] != '?' && target[e] != '#')
        e++;
    if (parse_authority(target + a, e - a, 80, req) < 0)
        return -1;
    req->kind = PROXY_ABSOLUTE;
    req->authority_off = target_off + a;
    req->authority_len = e - a;
    req->path_off = target_off + e;
    req->path_len = n - e;
    return 0;
}

static int parse_request_line(const char *buf, struct proxy_request *req)
{
    const char *next;
    size_t n = line_at(buf, buf + req->head_len, &next);
    const char *sp1 = memchr(buf, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - buf)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == buf || sp2 == sp1 + 1)
        return refuse(req, 400, "malformed request line (want: METHOD target HTTP/1.1)");
    for (const char *m = buf; m < sp1; m++)
        if (!is_tchar(*m))
            return refuse(req, 400, "malformed method in the request line");
    size_t version_len = n - (size_t)(sp2 + 1 - buf);
    if (version_len != 8 || (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp(sp2 + 1, "HTTP/1.0", 8) != 0))
        return refuse(req, 400, "only HTTP/1.0 and HTTP/1.1 are supported");
    req->method_len = (size_t)(sp1 - buf);
    req->version_off = (size_t)(sp2 + 1 - buf);
    const char *target = sp1 + 1;
    size_t target_len = (size_t)(sp2 - target);
    if (req->method_len == 7 && strncmp(buf, "CONNECT", 7) == 0) {
        req->kind = PROXY_CONNECT;
        return parse_authority(target, target_len, 0, req);
    }
    return parse_absolute(target, target_len, (size_t)(target - buf), req);
}

int proxy_request_parse(const char *buf, size_t len, struct proxy_request *req)
{
    memset(req, 0, sizeof *req);
    size_t window = len < PROXY_MAX_HEAD ? len : PROXY_MAX_HEAD;
    req->head_len = http_head_end(buf, window);
    if (req->head_len == 0) {
        if (len >= PROXY_MAX_HEAD)
            return refuse(req, 431, "request head longer than 16384 bytes");
        if (memchr(buf, '\n', len < PROXY_MAX_LINE ? len : PROXY_MAX_LINE) == NULL && len > PROXY_MAX_LINE)
            return refuse(req, 431, "request line longer than 8192 bytes");
        return 0;
    }
    if (check_lines(buf, req->head_len, req) < 0 || parse_request_line(buf, req) < 0)
        return -1;
    return 1;
}

static bool dropped_header(const char *line, size_t n)
{
    static const char *const dropped[] = { "Proxy-Connection", "Proxy-Authorization", "Connection", "Keep-Alive" };
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        size_t k = strlen(dropped[i]);
        if (n > k && line[k] == ':' && strncasecmp(line, dropped[i], k) == 0)
            return true;
    }
    return false;
}

static bool append(char *out, size_t cap, size_t *used, const char *s, size_t n)
{
    if (*used + n > cap)
        return false;
    memcpy(out + *used, s, n);
    *used += n;
    return true;
}

int proxy_request_rewrite(const char *buf, const struct proxy_request *req, char *out, size_t cap)
{
    size_t used = 0;
    bool ok = append(out, cap, &used, buf, req->method_len) && append(out, cap, &used, " ", 1);
    if (req->path_len == 0 || buf[req->path_off] != '/')
        ok = ok && append(out, cap, &used, "/", 1);
    ok = ok && append(out, cap, &used, buf + req->path_off, req->path_len) && append(out, cap, &used, " ", 1) &&
         append(out, cap, &used, buf + req->version_off, 8) && append(out, cap, &used, "\r\n", 2);

    const char *end = buf + req->head_len, *next, *p;
    line_at(buf, end, &p);                     /* skip the request line */
    bool has_host = false;
    while (ok && p < end) {
        size_t n = line_at(p, end, &next);
        if (n > 0 && !dropped_header(p, n)) {
            has_host = has_host || (n > 5 && strncasecmp(p, "Host:", 5) == 0);
            ok = append(out, cap, &used, p, n) && append(out, cap, &used, "\r\n", 2);
        }
        p = next;
    }
    if (!has_host)
        ok = ok && append(out, cap, &used, "Host: ", 6) &&
             append(out, cap, &used, buf + req->authority_off, req->authority_len) &&
             append(out, cap, &used, "\r\n", 2);
    ok = ok && append(out, cap, &used, "Connection: close\r\n\r\n", 21);
    return ok ? (int)used : -1;
}
