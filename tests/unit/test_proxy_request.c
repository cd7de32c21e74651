/* tests/unit/test_proxy_request.c — the forward proxy's request-head parser and rewriter
 * (guest/agentd/proxy_request.c): CONNECT and absolute-form accepted, everything else refused
 * with the right status, the upstream head rewritten to origin-form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/agentd/proxy_request.h"
#include "tests/unit/check.h"

static int parse(const char *head, struct proxy_request *req)
{
    return proxy_request_parse(head, strlen(head), req);
}

static void test_connect(void)
{
    struct proxy_request r;
    const char *head = "CONNECT Example.COM:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nTLSDATA";
    CHECK_EQ(parse(head, &r), 1);
    CHECK_EQ(r.kind, PROXY_CONNECT);
    CHECK(strcmp(r.host, "example.com") == 0);
    CHECK_EQ(r.port, 443);
    CHECK_EQ(r.head_len, strlen(head) - 7);            /* the TLS bytes after the head are the body */
    CHECK_EQ(parse("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", &r), 1);
    CHECK(strcmp(r.host, "[::1]") == 0);
    CHECK_EQ(r.port, 8443);
    CHECK_EQ(parse("CONNECT 10.0.0.1:22 HTTP/1.0\n\n", &r), 1);
    CHECK(strcmp(r.host, "10.0.0.1") == 0);
    CHECK_EQ(parse("CONNECT a.b.:1 HTTP/1.1\r\n\r\n", &r), 1);   /* trailing dot dropped */
    CHECK(strcmp(r.host, "a.b") == 0);
}

static void test_absolute(void)
{
    struct proxy_request r;
    char out[PROXY_MAX_HEAD + PROXY_REWRITE_SLACK];
    const char *head = "POST http://api.example.com:8080/v1/x?q=1 HTTP/1.1\r\nHost: api.example.com:8080\r\n"
                       "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nConnection: keep-alive\r\n"
                       "Content-Length: 4\r\n\r\nbody";
    CHECK_EQ(parse(head, &r), 1);
    CHECK_EQ(r.kind, PROXY_ABSOLUTE);
    CHECK(strcmp(r.host, "api.example.com") == 0);
    CHECK_EQ(r.port, 8080);
    int n = proxy_request_rewrite(head, &r, out, sizeof out);
    CHECK(n > 0);
    out[n > 0 ? n : 0] = '\0';
    CHECK(strcmp(out, "POST /v1/x?q=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nContent-Length: 4\r\n"
                      "Connection: close\r\n\r\n") == 0);

    const char *bare = "GET http://Example.com HTTP/1.0\r\nAccept: */*\r\n\r\n";
    CHECK_EQ(parse(bare, &r), 1);
    CHECK_EQ(r.port, 80);
    n = proxy_request_rewrite(bare, &r, out, sizeof out);
    CHECK(n > 0);
    out[n > 0 ? n : 0] = '\0';
    CHECK(strcmp(out, "GET / HTTP/1.0\r\nAccept: */*\r\nHost: Example.com\r\nConnection: close\r\n\r\n") == 0);

    CHECK_EQ(parse("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r), 1);
    n = proxy_request_rewrite("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r, out, sizeof out);
    out[n > 0 ? n : 0] = '\0';
    CHECK(strncmp(out, "GET /?x=1 HTTP/1.1\r\n", 20) == 0);
    CHECK_EQ(parse("DELETE http://[2001:db8::1]:81/a HTTP/1.1\r\n\r\n", &r), 1);
    CHECK(strcmp(r.host, "[2001:db8::1]") == 0);
    CHECK_EQ(r.port, 81);
    CHECK_EQ(proxy_request_rewrite(head, &r, out, 10), -1);      /* does not fit */
}

static void test_incomplete(void)
{
    struct proxy_request r;
    CHECK_EQ(parse("", &r), 0);
    CHECK_EQ(parse("CONNECT a:1 HTTP/1.1\r\n", &r), 0);
    CHECK_EQ(parse("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r", &r), 0);
}

static void refused(const char *head, int status)
{
    struct proxy_request r;
    int rc = parse(head, &r);
    CHECK_EQ(rc, -1);
    CHECK_EQ(r.status, status);
    CHECK(rc != -1 || (r.error != NULL && r.error[0] != '\0'));
    if (rc != -1 || r.status != status)
        fprintf(stderr, "  for: %s\n", head);
}

static void test_refused(void)
{
    refused("GET https://example.com/ HTTP/1.1\r\n\r\n", 400);
    refused("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    refused("BREW coffee://pot HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT example.com HTTP/1.1\r\n\r\n", 400);               /* no port */
    refused("CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT example.com:65536 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT example.com:+443 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT example.com:443x HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT :443 HTTP/1.1\r\n\r\n", 400);                      /* empty host */
    refused("CONNECT a..b:443 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT a b:443 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT [::1:443 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT [zz::1]:443 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT []:443 HTTP/1.1\r\n\r\n", 400);
    refused("CONNECT a:443 HTTP/2.0\r\n\r\n", 400);
    refused("CONNECT a:443\r\n\r\n", 400);
    refused("GET http://user:pw@a/ HTTP/1.1\r\n\r\n", 400);
    refused("GET http:///x HTTP/1.1\r\n\r\n", 400);
    refused("GET http://a\x01/ HTTP/1.1\r\n\r\n", 400);
    refused("GET http://a/ HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400);
    refused("GET http://a/ HTTP/1.1\r\n folded: x\r\n\r\n", 400);
    refused("GET http://a/ HTTP/1.1\r\nno colon\r\n\r\n", 400);
    refused("GET http://a/ HTTP/1.1\r\n: empty name\r\n\r\n", 400);
    refused("G(T http://a/ HTTP/1.1\r\n\r\n", 400);
    refused(" http://a/ HTTP/1.1\r\n\r\n", 400);

    char name[300];
    memset(name, 'a', sizeof name);
    memcpy(name, "CONNECT ", 8);
    snprintf(name + 8 + 64, sizeof name - 72, ".com:443 HTTP/1.1\r\n\r\n");   /* a 64-byte label */
    refused(name, 400);
}

static void test_oversized(void)
{
    struct proxy_request r;
    char *big = malloc(PROXY_MAX_HEAD + 100);
    memset(big, 'a', PROXY_MAX_HEAD + 100);
    CHECK_EQ(proxy_request_parse(big, PROXY_MAX_LINE + 1, &r), -1);    /* request line never ends */
    CHECK_EQ(r.status, 431);
    memcpy(big, "GET http://a/ HTTP/1.1\r\n", 24);
    for (size_t i = 24; i + 2 < PROXY_MAX_HEAD + 100; i += 100)
        memcpy(big + i, "X: y\r\n", 6);
    CHECK_EQ(proxy_request_parse(big, PROXY_MAX_HEAD + 100, &r), -1); /* no end within 16 KiB */
    CHECK_EQ(r.status, 431);
    char line[PROXY_MAX_LINE + 64];
    int n = snprintf(line, sizeof line, "GET http://a/ HTTP/1.1\r\nX: ");
    memset(line + n, 'v', PROXY_MAX_LINE);
    memcpy(line + n + PROXY_MAX_LINE, "\r\n\r\n", 4);
    CHECK_EQ(proxy_request_parse(line, (size_t)n + PROXY_MAX_LINE + 4, &r), -1);
    CHECK_EQ(r.status, 431);
    free(big);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "CONNECT host:port, [IPv6]:port, IPv4, trailing dot", test_connect },
        { "absolute-form parsed and rewritten to origin-form", test_absolute },
        { "an incomplete head asks for more", test_incomplete },
        { "malformed and non-proxy requests refused with 400", test_refused },
        { "over-long lines and heads refused with 431", test_oversized },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
