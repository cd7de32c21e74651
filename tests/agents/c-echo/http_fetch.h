/* tests/agents/c-echo/http_fetch.h — a minimal plain-HTTP/1.1 GET client for measurements: the
 * egress benchmark runs the same code inside a microVM (the c-echo agent's "fetch" action,
 * through agentd's proxy) and directly in the dev host (silo-http-fetch), so the difference
 * between the two figures is the egress path alone. */
#ifndef SILO_TESTS_HTTP_FETCH_H
#define SILO_TESTS_HTTP_FETCH_H
#include <stdint.h>

struct http_fetch_result {
    int status;                /* the answer's status code, 0 if none */
    uint64_t body_bytes;       /* bytes after the head, read to EOF */
    uint64_t elapsed_us;       /* connect → EOF */
    char error[128];           /* set when status is 0 */
};

/* GET url ("http://HOST[:PORT]/PATH"); through proxy "HOST:PORT" (absolute-form request) or
 * directly when proxy is NULL. Connection: close; the body is read and discarded. 0 or -1. */
int http_fetch(const char *url, const char *proxy, struct http_fetch_result *out);

#endif
