/* frontend/agent_http.h — reading an agent's HTTP/1.1 answer from its guest connection (a vsock
 * stream silod may keep alive for the session's next request). The agent is untrusted: the
 * status line and headers are bounded (8 KiB a line), only the headers silod uses are kept, and
 * only if they are printable; the body is framed by chunked encoding (decoded here, chunk sizes
 * bounded by 100 MB), Content-Length, or the end of the stream. Each read returns what one
 * read() of the connection gave, so streamed answers (SSE) go on as they arrive.
 *
 * Keep-alive: agent_reader_reusable() says whether the connection may carry another request —
 * only when the answer was read exactly to its end and nothing about it is odd (see there), so
 * a hostile agent cannot make silod mis-frame the next answer on that connection. */
#ifndef SILO_FRONTEND_AGENT_HTTP_H
#define SILO_FRONTEND_AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define AGENT_MAX_CHUNK (100ull * 1024 * 1024)

struct agent_reader {
    int fd;
    bool chunked;                /* Transfer-Encoding: chunked */
    long long remaining;         /* of the current chunk, or of Content-Length; -1 = to EOF */
    enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE } ch;
    unsigned char buf[16384];
    size_t buf_pos, buf_len;
    /* what agent_reader_reusable() needs, recorded by agent_read_head / agent_read_body */
    bool head_ok;                /* a complete head was read */
    bool http11;                 /* the status line said HTTP/1.1 */
    bool conn_close;             /* a Connection header with the token "close" */
    bool odd_framing;            /* Content-Length and Transfer-Encoding together, two
                                  * Content-Lengths, or a Transfer-Encoding other than "chunked" */
    bool has_length;             /* Content-Length framed (not chunked): remaining counts it */
    bool broken;                 /* a body read failed */
};

struct agent_head {
    int status;                  /* 100–599 */
    char ctype[256];             /* Content-Type, or unchanged when absent */
    char mcp_session[257];       /* Mcp-Session-Id, or "" */
    char mcp_version[64];        /* Mcp-Protocol-Version, or "" */
    /* a WebSocket upgrade's answer (101), each "" when absent */
    char upgrade[32];            /* Upgrade */
    bool conn_upgrade;           /* Connection has the token "upgrade" */
    char ws_accept[64];          /* Sec-WebSocket-Accept */
    char ws_protocol[256];       /* Sec-WebSocket-Protocol */
    char ws_extensions[512];     /* Sec-WebSocket-Extensions */
};

void agent_reader_init(struct agent_reader *rd, int fd);
/* Reads the status line and headers; false on a malformed, overlong or missing answer. */
bool agent_read_head(struct agent_reader *rd, struct agent_head *h);
/* The next piece of the body (de-chunked) into out: > 0 bytes, 0 at its end, -1 on a broken
 * answer (bad framing, or the stream ended early). */
ssize_t agent_read_body(struct agent_reader *rd, char *out, size_t max);

/* true when the connection may carry another request: the head was HTTP/1.1 with a status
 * of 200 or more and no `Connection: close`, the body was framed by Content-Length (all of it
 * read) or chunked (read through the last chunk and the trailer), the framing was unambiguous,
 * no read failed, and no byte beyond the answer is buffered. EOF-framed answers never are. */
bool agent_reader_reusable(const struct agent_reader *rd);

/* true when the comma-separated header value v holds the token tok (case-insensitive). */
bool http_list_has_token(const char *v, const char *tok);

/* true when v is at most max characters of printable ASCII or tabs (safe on a header line). */
bool agent_header_value_ok(const char *v, size_t max);

#endif
