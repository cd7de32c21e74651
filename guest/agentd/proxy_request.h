/* guest/agentd/proxy_request.h — the request head an agent sends to agentd's HTTP forward
 * proxy (127.0.0.1:3128), parsed and checked without any I/O so it can be unit-tested and
 * fuzzed.
 *
 * Accepted: `CONNECT host:port HTTP/1.x` and absolute-form plain HTTP with any method
 * (`GET http://host[:port]/path HTTP/1.x`). host is a name (host_name.h), a dotted IPv4 address
 * or `[IPv6]`. Refused with a status and a one-line reason: `https://` targets (use CONNECT),
 * origin-form requests (not a proxy request), userinfo in the URL, control characters,
 * obsolete line folding, bad ports, lines over PROXY_MAX_LINE, heads over PROXY_MAX_HEAD. */
#ifndef SILO_GUEST_AGENTD_PROXY_REQUEST_H
#define SILO_GUEST_AGENTD_PROXY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_MAX_HEAD (16 * 1024)
#define PROXY_MAX_LINE (8 * 1024)
/* room the rewritten head may need beyond the original one (Host, Connection: close) */
#define PROXY_REWRITE_SLACK 512

enum proxy_request_kind { PROXY_CONNECT, PROXY_ABSOLUTE };

struct proxy_request {
    enum proxy_request_kind kind;
    char host[256];          /* lower-cased; IPv6 keeps its brackets: "[::1]" */
    uint16_t port;
    size_t head_len;         /* bytes of the head, blank line included; body bytes follow */
    /* absolute-form: where the pieces of the request line are in the buffer */
    size_t method_len;
    size_t path_off, path_len;       /* path_len 0: the URL had no path, "/" is sent */
    size_t authority_off, authority_len;
    size_t version_off;              /* "HTTP/1.x", 8 bytes */
    /* on refusal */
    int status;
    const char *error;
};

/* Returns 1 with *req filled when buf starts with a whole acceptable head, 0 when more bytes
 * are needed (len < PROXY_MAX_HEAD and no blank line yet), -1 when refused (req->status and
 * req->error say why). */
int proxy_request_parse(const char *buf, size_t len, struct proxy_request *req);

/* For PROXY_ABSOLUTE: the head to send upstream — origin-form request line, the client's
 * headers minus Proxy-Connection, Proxy-Authorization, Connection and Keep-Alive, a Host
 * header when the client sent none, and `Connection: close`. Returns its length, or -1 when it
 * does not fit in cap (head_len + PROXY_REWRITE_SLACK always fits). */
int proxy_request_rewrite(const char *buf, const struct proxy_request *req, char *out, size_t cap);

#endif
