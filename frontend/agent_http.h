/* frontend/agent_http.h — reading an agent's HTTP/1.1 answer from its guest connection (the
 * vsock stream silod opened with `Connection: close`). The agent is untrusted: the status line
 * and headers are bounded (8 KiB a line), only the headers silod uses are kept, and only if
 * they are printable; the body is framed by chunked encoding (decoded here, chunk sizes
 * bounded by 100 MB), Content-Length, or the end of the stream. Each read returns what one
 * read() of the connection gave, so streamed answers (SSE) go on as they arrive. */
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
};

struct agent_head {
    int status;                  /* 100–599 */
    char ctype[256];             /* Content-Type, or unchanged when absent */
    char mcp_session[257];       /* Mcp-Session-Id, or "" */
    char mcp_version[64];        /* Mcp-Protocol-Version, or "" */
};

void agent_reader_init(struct agent_reader *rd, int fd);
/* Reads the status line and headers; false on a malformed, overlong or missing answer. */
bool agent_read_head(struct agent_reader *rd, struct agent_head *h);
/* The next piece of the body (de-chunked) into out: > 0 bytes, 0 at its end, -1 on a broken
 * answer (bad framing, or the stream ended early). */
ssize_t agent_read_body(struct agent_reader *rd, char *out, size_t max);

/* true when v is at most max characters of printable ASCII or tabs (safe on a header line). */
bool agent_header_value_ok(const char *v, size_t max);

#endif
