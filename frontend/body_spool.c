/* frontend/body_spool.c — request bodies held in bounded memory until verified (see body_spool.h). */
#include "frontend/body_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_PIECE (64 * 1024)

void body_spool_init(struct body_spool *s, const char *dir, size_t mem_limit)
{
    *s = (struct body_spool){ .dir = dir, .mem_limit = mem_limit, .fd = -1 };
}

/* An unlinked read-write file in the spool directory: O_TMPFILE where the file system has it,
 * else a mkstemp name removed at once. Only this process can ever reach it. */
static int open_spool_file(const char *dir)
{
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    char path[4096];
    if (snprintf(path, sizeof path, "%s/silod-body.XXXXXX", dir) >= (int)sizeof path)
        return -1;
    int tfd = mkostemp(path, O_CLOEXEC);
    if (tfd >= 0)
        unlink(path);
    return tfd;
}

static bool write_all_fd(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

bool body_spool_write(struct body_spool *s, const void *data, size_t n)
{
    if (s->failed)
        return false;
    const char *p = data;
    if (s->fd < 0 && s->mem_len < s->mem_limit) {
        size_t k = s->mem_limit - s->mem_len < n ? s->mem_limit - s->mem_len : n;
        if (!s->mem) {
            s->mem = malloc(s->mem_limit);
            if (!s->mem)
                abort();
        }
        memcpy(s->mem + s->mem_len, p, k);
        s->mem_len += k;
        s->len += k;
        p += k;
        n -= k;
    }
    if (!n)
        return true;
    if (s->fd < 0 && (s->fd = open_spool_file(s->dir)) < 0) {
        s->failed = true;
        return false;
    }
    if (!write_all_fd(s->fd, p, n)) {
        s->failed = true;
        return false;
    }
    s->len += n;
    return true;
}

bool body_spool_replay(struct body_spool *s, bool (*sink)(void *ctx, const void *data, size_t n), void *ctx)
{
    if (s->failed)
        return false;
    for (size_t off = 0; off < s->mem_len; off += REPLAY_PIECE) {
        size_t k = s->mem_len - off < REPLAY_PIECE ? s->mem_len - off : REPLAY_PIECE;
        if (!sink(ctx, s->mem + off, k))
            return false;
    }
    if (s->fd < 0)
        return true;
    char *buf = malloc(REPLAY_PIECE);
    if (!buf)
        abort();
    uint64_t left = s->len - s->mem_len;
    off_t pos = 0;
    bool ok = true;
    while (ok && left) {
        ssize_t r = pread(s->fd, buf, left < REPLAY_PIECE ? (size_t)left : REPLAY_PIECE, pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ok = false;
            break;
        }
        pos += r;
        left -= (uint64_t)r;
        ok = sink(ctx, buf, (size_t)r);
    }
    free(buf);
    return ok;
}

void body_spool_free(struct body_spool *s)
{
    free(s->mem);
    if (s->fd >= 0)
        close(s->fd);
    body_spool_init(s, s->dir, s->mem_limit);
}

bool spool_quota_reserve(struct spool_quota *q, uint64_t n)
{
    uint64_t used = __atomic_load_n(&q->used, __ATOMIC_RELAXED);
    do {
        if (q->limit && (n > q->limit || used > q->limit - n))
            return false;
    } while (!__atomic_compare_exchange_n(&q->used, &used, used + n, true, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    uint64_t now = used + n, peak = __atomic_load_n(&q->peak, __ATOMIC_RELAXED);
    while (now > peak &&
           !__atomic_compare_exchange_n(&q->peak, &peak, now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return true;
}

void spool_quota_release(struct spool_quota *q, uint64_t n)
{
    if (n)
        __atomic_sub_fetch(&q->used, n, __ATOMIC_ACQ_REL);
}

uint64_t spool_quota_used(struct spool_quota *q) { return __atomic_load_n(&q->used, __ATOMIC_RELAXED); }
