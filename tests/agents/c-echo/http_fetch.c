/* tests/agents/c-echo/http_fetch.c — see http_fetch.h. */
#include "tests/agents/c-echo/http_fetch.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int fail(struct http_fetch_result *out, const char *what)
{
    snprintf(out->error, sizeof out->error, "%s", what);
    return -1;
}

/* "HOST:PORT" or "HOST" (port dflt) → a connected TCP socket, or -1 */
static int dial(const char *hostport, const char *dflt)
{
    char host[256];
    const char *port = dflt;
    const char *colon = strrchr(hostport, ':');
    size_t hl = colon ? (size_t)(colon - hostport) : strlen(hostport);
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, hostport, hl);
    host[hl] = 0;
    if (colon)
        port = colon + 1;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int http_fetch(const char *url, const char *proxy, struct http_fetch_result *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(url, "http://", 7) != 0)
        return fail(out, "only http:// URLs");
    const char *authority = url + 7, *path = strchr(authority, '/');
    char hostport[300];
    size_t al = path ? (size_t)(path - authority) : strlen(authority);
    if (al == 0 || al >= sizeof hostport)
        return fail(out, "bad authority");
    memcpy(hostport, authority, al);
    hostport[al] = 0;
    if (!path)
        path = "/";
    uint64_t t0 = now_us();
    int fd = proxy ? dial(proxy, "3128") : dial(hostport, "80");
    if (fd < 0)
        return fail(out, "cannot connect");
    char req[2048];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     proxy ? url : path, hostport);
    if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return fail(out, "cannot send the request");
    }
    static __thread char buf[65536];
    char head[4096];
    size_t head_len = 0;
    int in_body = 0;
    ssize_t got;
    while ((got = recv(fd, buf, sizeof buf, 0)) > 0) {
        if (in_body) {
            out->body_bytes += (uint64_t)got;
            continue;
        }
        size_t take = (size_t)got < sizeof head - 1 - head_len ? (size_t)got : sizeof head - 1 - head_len;
        memcpy(head + head_len, buf, take);
        head_len += take;
        head[head_len] = 0;
        char *end = strstr(head, "\r\n\r\n");
        if (end) {
            in_body = 1;
            size_t head_bytes = (size_t)(end + 4 - head);
            out->body_bytes = (uint64_t)got - (head_bytes - (head_len - take));
            out->status = atoi(head + 9);
        } else if (head_len == sizeof head - 1) {
            close(fd);
            return fail(out, "answer head too long");
        }
    }
    close(fd);
    out->elapsed_us = now_us() - t0;
    return out->status ? 0 : fail(out, "no answer");
}
