/* guest/agentd/http_head.h — the small pieces of HTTP/1.1 agentd's loopback servers share:
 * finding the end of a request head, looking up one header, reason phrases and short
 * `Connection: close` answers. Pure functions, no I/O; every input is treated as hostile. */
#ifndef SILO_GUEST_AGENTD_HTTP_HEAD_H
#define SILO_GUEST_AGENTD_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the head (request line, headers and the blank line; "\r\n\r\n" or "\n\n") at the
 * start of buf, or 0 when buf does not hold a whole head yet. */
size_t http_head_end(const char *buf, size_t len);

/* Finds the first header `name` (case-insensitive) in a head; its value without surrounding
 * blanks is *value / *value_len. The request line is skipped. */
bool http_header_value(const char *head, size_t len, const char *name, const char **value, size_t *value_len);

/* "Forbidden" for 403 …; "Error" for a status it does not know. */
const char *http_reason(int status);

/* Writes a whole answer: status line, Content-Type, Content-Length, Connection: close, the
 * optional extra header lines (each ending "\r\n"), the blank line and body. Returns its length,
 * or -1 when it does not fit in cap. */
int http_format_response(char *out, size_t cap, int status, const char *content_type,
                         const char *extra_headers, const char *body, size_t body_len);

#endif
