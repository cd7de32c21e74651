/* tests/unit/test_http_agent.c — frontend/agent_http.c: reading an (untrusted) agent's HTTP/1.1
 * answer — status and headers, Content-Length, chunked and EOF-delimited bodies, chunks that
 * span buffer refills — and refusing broken or hostile framing without overrunning anything;
 * and when a connection may be kept alive after an answer (agent_reader_reusable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/agent_http.h"
#include "tests/unit/check.h"

/* An fd that reads back exactly len bytes of data, then EOF. */
static int stream_of(const char *data, size_t len)
{
    FILE *f = tmpfile();
    if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0)
        abort();
    int fd = dup(fileno(f));
    fclose(f);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Reads the head, then the whole body into *body (malloc'd); returns the last read's result
 * (0 = clean end, -1 = broken) or -2 when the head was refused. */
static bool last_reusable;     /* agent_reader_reusable() after the last read_answer() */

static int read_answer(const char *wire, size_t wire_len, struct agent_head *h, char **body, size_t *body_len)
{
    struct agent_reader *rd = malloc(sizeof *rd);
    int fd = stream_of(wire, wire_len);
    agent_reader_init(rd, fd);
    memset(h, 0, sizeof *h);
    snprintf(h->ctype, sizeof h->ctype, "default/type");
    *body = NULL;
    *body_len = 0;
    int result = -2;
    if (agent_read_head(rd, h)) {
        size_t cap = 0;
        for (;;) {
            char piece[1000];
            ssize_t n = agent_read_body(rd, piece, sizeof piece);
            if (n <= 0) {
                result = (int)n;
                break;
            }
            if (*body_len + (size_t)n + 1 > cap) {
                cap = (*body_len + (size_t)n + 1) * 2;
                *body = realloc(*body, cap);
            }
            memcpy(*body + *body_len, piece, (size_t)n);
            *body_len += (size_t)n;
        }
        if (*body)
            (*body)[*body_len] = '\0';
    }
    last_reusable = agent_reader_reusable(rd);
    close(fd);
    free(rd);
    return result;
}

static int answer_of(const char *wire, struct agent_head *h, char **body, size_t *len)
{
    return read_answer(wire, strlen(wire), h, body, len);
}

static void test_content_length(void)
{
    struct agent_head h;
    char *body;
    size_t len;
    CHECK_EQ(answer_of("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
                       "Mcp-Session-Id: abc\r\nMcp-Protocol-Version: 2025-06-18\r\n\r\n{\"a\":1}EXTRA",
                       &h, &body, &len), 0);
    CHECK_EQ(h.status, 201);
    CHECK(strcmp(h.ctype, "application/json") == 0);
    CHECK(strcmp(h.mcp_session, "abc") == 0);
    CHECK(strcmp(h.mcp_version, "2025-06-18") == 0);
    CHECK_EQ(len, 7);
    CHECK(body && strcmp(body, "{\"a\":1}") == 0);      /* stops at Content-Length */
    free(body);
    CHECK_EQ(answer_of("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", &h, &body, &len), 0);
    CHECK_EQ(len, 0);
    CHECK(strcmp(h.ctype, "default/type") == 0);
    free(body);
}

static void test_chunked(void)
{
    struct agent_head h;
    char *body;
    size_t len;
    CHECK_EQ(answer_of("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n"
                       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nGARBAGE", &h, &body, &len), 0);
    CHECK(strcmp(h.ctype, "text/event-stream") == 0);
    CHECK_EQ(len, 11);
    CHECK(body && strcmp(body, "hello world") == 0);
    free(body);

    /* 200 KB in 3001-byte chunks: pieces span the reader's 16 KiB buffer refills */
    size_t total = 200 * 1024, cap = total * 2 + 4096, o = 0;
    char *wire = malloc(cap), *want = malloc(total);
    o += (size_t)snprintf(wire, cap, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < total; i++)
        want[i] = (char)('a' + (i * 7) % 26);
    for (size_t at = 0; at < total; at += 3001) {
        size_t n = total - at < 3001 ? total - at : 3001;
        o += (size_t)snprintf(wire + o, cap - o, "%zX\r\n", n);
        memcpy(wire + o, want + at, n);
        o += n;
        memcpy(wire + o, "\r\n", 2);
        o += 2;
    }
    o += (size_t)snprintf(wire + o, cap - o, "0\r\n\r\n");
    CHECK_EQ(read_answer(wire, o, &h, &body, &len), 0);
    CHECK_EQ(len, total);
    CHECK(body && memcmp(body, want, total) == 0);
    free(body);
    free(wire);
    free(want);
}

static void test_eof_delimited(void)
{
    struct agent_head h;
    char *body;
    size_t len;
    CHECK_EQ(answer_of("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", &h, &body, &len), 0);
    CHECK(body && strcmp(body, "until the end") == 0);
    free(body);
}

static void test_broken_answers(void)
{
    static const char *const bad_heads[] = {
        "",                                                     /* nothing at all */
        "HTTP/1.1 200 OK\r\nContent-Type: x\r\n",               /* head never ends */
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 999 Odd\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
    };
    struct agent_head h;
    char *body;
    size_t len;
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        CHECK_EQ(answer_of(bad_heads[i], &h, &body, &len), -2);
        free(body);
    }
    /* an 8 KiB+ header line */
    char *huge = malloc(20000);
    int n = snprintf(huge, 20000, "HTTP/1.1 200 OK\r\nX-Long: ");
    memset(huge + n, 'a', 10000);
    memcpy(huge + n + 10000, "\r\n\r\n", 5);
    CHECK_EQ(answer_of(huge, &h, &body, &len), -2);
    free(body);
    free(huge);

    static const char *const bad_bodies[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",                  /* ends early */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",   /* no CRLF */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",          /* EOF mid-chunk */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",     /* no last chunk */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n",  /* overflow */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6400001\r\nx",     /* > 100 MB */
    };
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        CHECK_EQ(answer_of(bad_bodies[i], &h, &body, &len), -1);
        free(body);
    }
}

static void test_unsafe_header_values_are_dropped(void)
{
    struct agent_head h;
    char *body;
    size_t len;
    CHECK_EQ(answer_of("HTTP/1.1 200 OK\r\nContent-Type: text/html\x01\r\nMcp-Session-Id: a\x7f" "b\r\n"
                       "Content-Length: 0\r\n\r\n", &h, &body, &len), 0);
    CHECK(strcmp(h.ctype, "default/type") == 0);
    CHECK(h.mcp_session[0] == '\0');
    free(body);
    CHECK(agent_header_value_ok("text/plain; charset=utf-8", 100));
    CHECK(agent_header_value_ok("a\tb", 3));
    CHECK(!agent_header_value_ok("abcd", 3));
    CHECK(!agent_header_value_ok("a\rb", 100));
    CHECK(!agent_header_value_ok("a\nb", 100));
    CHECK(!agent_header_value_ok("caf\xc3\xa9", 100));
}

/* Whether the connection could carry another request after reading the whole of wire. */
static bool reusable_after(const char *wire)
{
    struct agent_head h;
    char *body;
    size_t len;
    last_reusable = true;
    read_answer(wire, strlen(wire), &h, &body, &len);
    free(body);
    return last_reusable;
}

static void test_keep_alive_only_after_a_clean_end(void)
{
    /* exactly framed HTTP/1.1 answers: reusable */
    CHECK(reusable_after("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(reusable_after("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"));
    CHECK(reusable_after("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom"));
    CHECK(reusable_after("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    CHECK(reusable_after("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n"
                         "3;x=y\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"));
    /* bytes beyond the answer: the next answer could be mis-framed */
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nX"));
    /* the agent said close, or is not HTTP/1.1 */
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(!reusable_after("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(!reusable_after("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(!reusable_after("HTTP/1.10 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    /* framed by the end of the stream, or ambiguously */
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"));
    CHECK(!reusable_after("HTTP/1.1 204 No Content\r\n\r\n"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n0\r\n\r\n"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n0\r\n\r\n"));
    CHECK(!reusable_after("HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n"));
    /* broken answers and refused heads */
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"));
    CHECK(!reusable_after("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"));
    CHECK(!reusable_after(""));

    /* an answer not read to its end (the client went away, an error snippet cut short) */
    static const char wire[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n";
    const char *wires[] = { wire, chunked };
    for (size_t w = 0; w < 2; w++) {
        struct agent_reader *rd = malloc(sizeof *rd);
        int fd = stream_of(wires[w], strlen(wires[w]));
        agent_reader_init(rd, fd);
        struct agent_head h = { 0 };
        CHECK(!agent_reader_reusable(rd));              /* nothing read yet */
        CHECK(agent_read_head(rd, &h));
        char piece[16];
        CHECK_EQ(agent_read_body(rd, piece, 4), 4);
        CHECK(!agent_reader_reusable(rd));              /* 6 bytes still to come */
        CHECK_EQ(agent_read_body(rd, piece, sizeof piece), 6);
        if (w == 0)
            CHECK(agent_reader_reusable(rd));           /* Content-Length reached */
        else
            CHECK(!agent_reader_reusable(rd));          /* the last chunk not read yet */
        CHECK_EQ(agent_read_body(rd, piece, sizeof piece), 0);
        CHECK(agent_reader_reusable(rd));
        close(fd);
        free(rd);
    }
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "Content-Length answer, head fields kept", test_content_length },
        { "chunked answer decoded, across buffer refills", test_chunked },
        { "answer delimited by the end of the stream", test_eof_delimited },
        { "broken heads and bodies are refused", test_broken_answers },
        { "unsafe header values are dropped", test_unsafe_header_values_are_dropped },
        { "keep-alive only after an exactly framed, clean HTTP/1.1 end", test_keep_alive_only_after_a_clean_end },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
