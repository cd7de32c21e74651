/* frontend/agent_http.c — reading an agent's HTTP/1.1 answer (see agent_http.h). */
#include "frontend/agent_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void agent_reader_init(struct agent_reader *rd, int fd)
{
    memset(rd, 0, sizeof *rd);
    rd->fd = fd;
    rd->remaining = -1;
}

static ssize_t reader_fill(struct agent_reader *rd)
{
    if (rd->buf_pos < rd->buf_len)
        return (ssize_t)(rd->buf_len - rd->buf_pos);
    ssize_t n;
    do
        n = read(rd->fd, rd->buf, sizeof rd->buf);
    while (n < 0 && errno == EINTR);
    rd->buf_pos = 0;
    rd->buf_len = n > 0 ? (size_t)n : 0;
    return n;
}

/* One line of the chunked framing (size line, CRLF, trailer); -1 on EOF or an overlong line. */
static int reader_line(struct agent_reader *rd, char *line, size_t len)
{
    size_t n = 0;
    for (;;) {
        if (reader_fill(rd) <= 0)
            return -1;
        char ch = (char)rd->buf[rd->buf_pos++];
        if (ch == '\n')
            break;
        if (n + 1 >= len)
            return -1;
        line[n++] = ch;
    }
    if (n && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return (int)n;
}

static ssize_t read_body(struct agent_reader *rd, char *out, size_t max);

/* Reads the next piece of the answer's body (de-chunked) into out; 0 at its end, -1 on error. */
ssize_t agent_read_body(struct agent_reader *rd, char *out, size_t max)
{
    ssize_t n = read_body(rd, out, max);
    if (n < 0)
        rd->broken = true;
    return n;
}

static ssize_t read_body(struct agent_reader *rd, char *out, size_t max)
{
    char line[256];
    for (;;) {
        if (!rd->chunked) {
            if (rd->remaining == 0)
                return 0;
            if (reader_fill(rd) <= 0)
                return rd->remaining > 0 ? -1 : 0;
            size_t n = rd->buf_len - rd->buf_pos;
            if (n > max)
                n = max;
            if (rd->remaining > 0 && (long long)n > rd->remaining)
                n = (size_t)rd->remaining;
            memcpy(out, rd->buf + rd->buf_pos, n);
            rd->buf_pos += n;
            if (rd->remaining > 0)
                rd->remaining -= (long long)n;
            return (ssize_t)n;
        }
        switch (rd->ch) {
        case CH_SIZE: {
            if (reader_line(rd, line, sizeof line) < 0)
                return -1;
            char *end;
            errno = 0;
            unsigned long long size = strtoull(line, &end, 16);
            if (end == line || errno || size > AGENT_MAX_CHUNK)
                return -1;
            rd->remaining = (long long)size;
            rd->ch = size ? CH_DATA : CH_TRAILER;
            break;
        }
        case CH_DATA: {
            if (reader_fill(rd) <= 0)
                return -1;
            size_t n = rd->buf_len - rd->buf_pos;
            if (n > max)
                n = max;
            if ((long long)n > rd->remaining)
                n = (size_t)rd->remaining;
            memcpy(out, rd->buf + rd->buf_pos, n);
            rd->buf_pos += n;
            rd->remaining -= (long long)n;
            if (rd->remaining == 0)
                rd->ch = CH_DATA_END;
            return (ssize_t)n;
        }
        case CH_DATA_END:
            if (reader_line(rd, line, sizeof line) != 0)
                return -1;
            rd->ch = CH_SIZE;
            break;
        case CH_TRAILER:
            if (reader_line(rd, line, sizeof line) < 0)
                return -1;
            if (!line[0])
                rd->ch = CH_DONE;
            break;
        case CH_DONE:
            return 0;
        }
    }
}


/* true when the whole value v (spaces and tabs around it aside) is the token tok. */
static bool token_is(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    v += strspn(v, " \t");
    if (strncasecmp(v, tok, n) != 0)
        return false;
    v += n;
    return v[strspn(v, " \t")] == '\0';
}

/* true when the comma-separated list v holds the token tok (case-insensitive). */
static bool has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v;;) {
        p += strspn(p, " \t,");
        if (!*p)
            return false;
        size_t l = strcspn(p, ",");
        size_t t = l;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == n && strncasecmp(p, tok, n) == 0)
            return true;
        p += l;
    }
}

/* Reads the agent's status line and headers; false on a malformed or missing answer. */
bool agent_read_head(struct agent_reader *rd, struct agent_head *h)
{
    char line[8192];
    bool first = true, te_seen = false;
    int lengths = 0;
    rd->remaining = -1;
    for (;;) {
        int n = reader_line(rd, line, sizeof line);
        if (n < 0)
            return false;
        if (first) {
            if (sscanf(line, "HTTP/1.%*d %d", &h->status) != 1 || h->status < 100 || h->status > 599)
                return false;
            rd->http11 = strncmp(line, "HTTP/1.1 ", 9) == 0;
            first = false;
        } else if (n == 0) {
            if (lengths > 1 || (lengths && te_seen) || (te_seen && !rd->chunked) || h->status < 200)
                rd->odd_framing = true;     /* (an interim 1xx answer is never a place to stop) */
            rd->has_length = lengths > 0 && !rd->chunked;
            rd->head_ok = true;
            return true;
        } else {
            char *colon = strchr(line, ':');
            if (!colon)
                return false;
            *colon = '\0';
            const char *v = colon + 1 + strspn(colon + 1, " \t");
            if (strcasecmp(line, "content-type") == 0 && agent_header_value_ok(v, sizeof h->ctype - 1))
                snprintf(h->ctype, sizeof h->ctype, "%s", v);
            else if (strcasecmp(line, "mcp-session-id") == 0 && agent_header_value_ok(v, sizeof h->mcp_session - 1))
                snprintf(h->mcp_session, sizeof h->mcp_session, "%s", v);
            else if (strcasecmp(line, "mcp-protocol-version") == 0 && agent_header_value_ok(v, sizeof h->mcp_version - 1))
                snprintf(h->mcp_version, sizeof h->mcp_version, "%s", v);
            else if (strcasecmp(line, "upgrade") == 0 && agent_header_value_ok(v, sizeof h->upgrade - 1))
                snprintf(h->upgrade, sizeof h->upgrade, "%s", v);
            else if (strcasecmp(line, "sec-websocket-accept") == 0 && agent_header_value_ok(v, sizeof h->ws_accept - 1))
                snprintf(h->ws_accept, sizeof h->ws_accept, "%s", v);
            else if (strcasecmp(line, "sec-websocket-protocol") == 0 &&
                     agent_header_value_ok(v, sizeof h->ws_protocol - 1))
                snprintf(h->ws_protocol, sizeof h->ws_protocol, "%s", v);
            else if (strcasecmp(line, "sec-websocket-extensions") == 0 &&
                     agent_header_value_ok(v, sizeof h->ws_extensions - 1))
                snprintf(h->ws_extensions, sizeof h->ws_extensions, "%s", v);
            else if (strcasecmp(line, "transfer-encoding") == 0) {
                rd->chunked = strcasestr(v, "chunked") != NULL;
                if (te_seen || !token_is(v, "chunked"))
                    rd->odd_framing = true;     /* still read as before; never reused */
                te_seen = true;
            } else if (strcasecmp(line, "connection") == 0) {
                if (has_token(v, "close"))
                    rd->conn_close = true;
                if (has_token(v, "upgrade"))
                    h->conn_upgrade = true;
            } else if (strcasecmp(line, "content-length") == 0) {
                lengths++;
                char *end;
                long long len = strtoll(v, &end, 10);
                if (end == v || *end || len < 0)
                    return false;
                rd->remaining = len;
            }
        }
    }
}


bool agent_reader_reusable(const struct agent_reader *rd)
{
    if (!rd->head_ok || !rd->http11 || rd->conn_close || rd->odd_framing || rd->broken)
        return false;
    if (rd->buf_pos != rd->buf_len)
        return false;             /* bytes beyond the answer: the agent is not speaking HTTP */
    if (rd->chunked)
        return rd->ch == CH_DONE;
    return rd->has_length && rd->remaining == 0;
}

bool http_list_has_token(const char *v, const char *tok) { return v && has_token(v, tok); }

/* A header value safe to put on a line to the agent: printable ASCII (and tabs) only. */
bool agent_header_value_ok(const char *v, size_t max)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= max || ((unsigned char)v[n] < 0x20 && v[n] != '\t') || (unsigned char)v[n] > 0x7e)
            return false;
    return true;
}
