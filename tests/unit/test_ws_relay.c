/* tests/unit/test_ws_relay.c — frontend/ws_relay.c: the RFC 6455 accept value (the RFC's own
 * example), key validity, and the byte relay over socket pairs: both directions with the
 * pre-read bytes first, more than a buffer's worth with back-pressure, half-close passed on,
 * the idle limit, and silod's shutdown ending an open relay. */
#include "frontend/ws_relay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "tests/unit/check.h"

static void test_accept(void)
{
    char out[WS_KEY_ACCEPT_LEN + 1];
    ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", out);      /* RFC 6455 §1.3 */
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    CHECK(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
    CHECK(!ws_key_valid(NULL));
    CHECK(!ws_key_valid(""));
    CHECK(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="));           /* 23 characters */
    CHECK(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=x"));
    CHECK(!ws_key_valid("dGhlIHNhbXBsZSBub25jZR=="));          /* stray bits in the last one */
    CHECK(!ws_key_valid("dGhlIHNhbXBsZSBub25j*Q=="));
    CHECK(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==AAAA"));       /* 20 bytes */
}

struct run_ctx {
    struct ws_relays *set;
    struct ws_relay_run run;
    uint64_t to_agent, to_client;
    const char *why;
};

static void *run_thread(void *p)
{
    struct run_ctx *x = p;
    x->run.bytes_to_agent = &x->to_agent;
    x->run.bytes_to_client = &x->to_client;
    x->why = ws_relay_run(x->set, &x->run);
    return NULL;
}

/* client_far / agent_far: the test's ends; the relay gets the near ones. */
static void start(struct run_ctx *x, pthread_t *t, int *client_far, int *agent_far, int64_t idle_ms)
{
    int c[2], a[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, c) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    x->run.client = c[0];
    x->run.agent = a[0];
    x->run.idle_ms = idle_ms;
    *client_far = c[1];
    *agent_far = a[1];
    CHECK(pthread_create(t, NULL, run_thread, x) == 0);
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    return n;
}

static void test_both_ways(void)
{
    struct run_ctx x = { .set = ws_relays_new() };
    x.run.to_agent = "early";
    x.run.to_agent_len = 5;
    x.run.to_client = "first";
    x.run.to_client_len = 5;
    pthread_t t;
    int cf, af;
    start(&x, &t, &cf, &af, 10000);
    CHECK(write(cf, "hello", 5) == 5);
    CHECK(write(af, "world", 5) == 5);
    char buf[64];
    usleep(100 * 1000);
    CHECK_EQ(ws_relays_open(x.set), 1);
    shutdown(cf, SHUT_WR);                          /* the client is done sending */
    CHECK_EQ(read_all(af, buf, sizeof buf), 10);    /* the agent sees EOF after both pieces */
    CHECK(memcmp(buf, "earlyhello", 10) == 0);
    CHECK(write(af, "!", 1) == 1);                  /* the other way still goes */
    shutdown(af, SHUT_WR);
    CHECK_EQ(read_all(cf, buf, sizeof buf), 11);
    CHECK(memcmp(buf, "firstworld!", 11) == 0);
    pthread_join(t, NULL);
    CHECK(x.why && strcmp(x.why, "client_closed") == 0);
    CHECK_EQ(x.to_agent, 10);
    CHECK_EQ(x.to_client, 11);
    CHECK_EQ(ws_relays_open(x.set), 0);
    close(cf);
    close(af);
    close(x.run.client);
    close(x.run.agent);
    ws_relays_free(x.set);
}

struct pump {
    int fd;
    size_t n;
    size_t got;
    unsigned sum, want;
};

static void *writer(void *p)
{
    struct pump *w = p;
    char *b = malloc(w->n);
    for (size_t i = 0; i < w->n; i++)
        b[i] = (char)(i % 251);
    size_t off = 0;
    while (off < w->n) {
        ssize_t r = write(w->fd, b + off, w->n - off);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    shutdown(w->fd, SHUT_WR);
    free(b);
    return NULL;
}

/* Four buffers' worth each way at once, checked byte by byte: back-pressure loses nothing. */
static void test_bulk(void)
{
    struct run_ctx x = { .set = ws_relays_new() };
    pthread_t t, w1, w2;
    int cf, af;
    start(&x, &t, &cf, &af, 10000);
    size_t n = 4 * WS_RELAY_BUF + 123;
    struct pump up = { .fd = cf, .n = n }, down = { .fd = af, .n = n };
    pthread_create(&w1, NULL, writer, &up);
    pthread_create(&w2, NULL, writer, &down);
    char *got = malloc(n + 1);
    size_t at_agent = read_all(af, got, n + 1);
    bool same = at_agent == n;
    for (size_t i = 0; same && i < n; i++)
        same = got[i] == (char)(i % 251);
    CHECK(same);
    size_t at_client = read_all(cf, got, n + 1);
    same = at_client == n;
    for (size_t i = 0; same && i < n; i++)
        same = got[i] == (char)(i % 251);
    CHECK(same);
    pthread_join(w1, NULL);
    pthread_join(w2, NULL);
    pthread_join(t, NULL);
    CHECK_EQ(x.to_agent, n);
    CHECK_EQ(x.to_client, n);
    free(got);
    close(cf);
    close(af);
    close(x.run.client);
    close(x.run.agent);
    ws_relays_free(x.set);
}

static void test_idle_and_shutdown(void)
{
    struct run_ctx x = { .set = ws_relays_new() };
    pthread_t t;
    int cf, af;
    int64_t t0 = mono_ms();
    start(&x, &t, &cf, &af, 300);
    pthread_join(t, NULL);
    CHECK(x.why && strcmp(x.why, "idle_timeout") == 0);
    CHECK(mono_ms() - t0 >= 300 && mono_ms() - t0 < 3000);
    close(cf);
    close(af);
    close(x.run.client);
    close(x.run.agent);

    struct run_ctx y = { .set = x.set };
    start(&y, &t, &cf, &af, 60000);
    usleep(100 * 1000);
    CHECK_EQ(ws_relays_open(y.set), 1);
    t0 = mono_ms();
    ws_relays_close_all(y.set, 5000);
    CHECK_EQ(ws_relays_open(y.set), 0);
    CHECK(mono_ms() - t0 < 3000);
    pthread_join(t, NULL);
    CHECK(y.why && strcmp(y.why, "shutdown") == 0);
    char b;
    CHECK_EQ(read(cf, &b, 1), 0);        /* the client's socket was shut down */
    /* once closing, a new relay is refused at once */
    close(cf);
    close(af);
    close(y.run.client);
    close(y.run.agent);
    struct run_ctx z = { .set = x.set };
    start(&z, &t, &cf, &af, 60000);
    pthread_join(t, NULL);
    CHECK(z.why && strcmp(z.why, "shutdown") == 0);
    close(cf);
    close(af);
    close(z.run.client);
    close(z.run.agent);
    ws_relays_free(x.set);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "Sec-WebSocket-Accept (RFC 6455's example) and Sec-WebSocket-Key validity", test_accept },
        { "both directions, pre-read bytes first, half-close passed on after the data", test_both_ways },
        { "four buffers each way at once: back-pressure, every byte in order", test_bulk },
        { "idle limit ends a quiet relay; shutdown ends an open one and refuses new ones", test_idle_and_shutdown },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
