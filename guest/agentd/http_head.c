/* guest/agentd/http_head.c — shared HTTP/1.1 head helpers for agentd's loopback servers (see
 * http_head.h). */
#include "guest/agentd/http_head.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t http_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool http_header_value(const char *head, size_t len, const char *name, const char **value, size_t *value_len)
{
    size_t name_len = strlen(name);
    const char *nl = memchr(head, '\n', len);
    while (nl != NULL) {
        const char *line = nl + 1;
        size_t rest = len - (size_t)(line - head);
        nl = memchr(line, '\n', rest);
        size_t line_len = nl ? (size_t)(nl - line) : rest;
        if (line_len > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1, *end = line + line_len;
            while (v < end && is_blank(*v))
                v++;
            while (end > v && is_blank(end[-1]))
                end--;
            *value = v;
            *value_len = (size_t)(end - v);
            return true;
        }
    }
    return false;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Error";
    }
}

int http_format_response(char *out, size_t cap, int status, const char *content_type,
                         const char *extra_headers, const char *body, size_t body_len)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, http_reason(status), content_type, body_len, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n + body_len >= cap)
        return -1;
    memcpy(out + n, body, body_len);
    return n + (int)body_len;
}
