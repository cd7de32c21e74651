/* tests/e2e/progs/vsock_common.h — what the e2e vsock tools share (vsock-host in the dev host,
 * vsock-guest in the microVM): a deterministic byte pattern that the receiver verifies byte by
 * byte (so a transfer is checked end to end without shipping a checksum), full reads/writes,
 * an FNV-1a checksum for the logs, and a monotonic clock. Header-only: each tool is one file.
 */
#ifndef SILO_TESTS_E2E_PROGS_VSOCK_COMMON_H
#define SILO_TESTS_E2E_PROGS_VSOCK_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static inline uint8_t pattern_byte(uint64_t i, uint32_t seed)
{
    uint64_t x = i + (uint64_t)seed * 1000003u;
    return (uint8_t)(x * 131 + (x >> 9) * 7 + (x >> 17));
}

static inline void pattern_fill(uint8_t *buf, size_t len, uint64_t off, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern_byte(off + i, seed);
}

static inline uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}
#define FNV_INIT 1469598103934665603ULL

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sends `total` pattern bytes. Returns 0 or -1. */
static inline int send_pattern(int fd, uint64_t total, uint32_t seed, uint64_t *sum)
{
    static uint8_t buf[CHUNK];
    uint64_t h = FNV_INIT;
    for (uint64_t off = 0; off < total;) {
        size_t n = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
        pattern_fill(buf, n, off, seed);
        h = fnv1a(h, buf, n);
        if (write_all(fd, buf, n) < 0)
            return -1;
        off += n;
    }
    if (sum != NULL)
        *sum = h;
    return 0;
}

/* Reads until EOF, checking the pattern. Returns the bytes read; *bad = offset of the first
 * wrong byte or UINT64_MAX. */
static inline uint64_t recv_pattern(int fd, uint32_t seed, uint64_t *bad, uint64_t *sum)
{
    static uint8_t buf[CHUNK];
    uint64_t off = 0, h = FNV_INIT;
    *bad = UINT64_MAX;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && *bad == UINT64_MAX; i++)
            if (buf[i] != pattern_byte(off + (uint64_t)i, seed))
                *bad = off + (uint64_t)i;
        h = fnv1a(h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (sum != NULL)
        *sum = h;
    return off;
}

/* Reads one line (up to cap-1 bytes, without the newline). Returns its length or -1. */
static inline int read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return n > 0 ? (int)n : -1;
        if (c == '\n')
            break;
        line[n++] = c;
    }
    line[n] = '\0';
    return (int)n;
}

#endif
