/* frontend/body_spool.h — a request body held until its SigV4 signature (or signed payload
 * hash) is verified, in bounded memory: the first `mem_limit` bytes in memory, everything beyond
 * in an unlinked temporary file (O_TMPFILE in the spool directory, else mkstemp + unlink), so
 * a 100 MiB body costs silod a few KiB of heap however it is signed. Once verified the body is
 * replayed in pieces (body_spool_replay) to the agent; nothing of it reaches the agent before.
 *
 * The spool quota caps the bytes held at once for requests whose signature is not yet known
 * (unauthenticated work): every such byte is reserved before it is accepted, and released when
 * the request is decided or ends. A request that cannot reserve is refused (503) and its
 * connection closed. The quota is process-wide and thread-safe. */
#ifndef SILO_FRONTEND_BODY_SPOOL_H
#define SILO_FRONTEND_BODY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BODY_SPOOL_MEM_LIMIT (64u * 1024)     /* held in memory before the file is made */

struct body_spool {
    const char *dir;      /* where the temporary file goes (NULL: $TMPDIR or /tmp) */
    size_t mem_limit;
    char *mem;            /* the first bytes (at most mem_limit) */
    size_t mem_len;
    int fd;               /* the unlinked file with the rest, -1 until needed */
    uint64_t len;         /* total bytes held */
    bool failed;          /* a write failed: the body is incomplete */
};

/* An empty spool (no allocation yet). dir may be NULL. */
void body_spool_init(struct body_spool *s, const char *dir, size_t mem_limit);
/* Appends; false (and failed set) when the temporary file cannot be made or written. */
bool body_spool_write(struct body_spool *s, const void *data, size_t n);
/* Calls sink(ctx, piece, len) for the held body in order, pieces of at most 64 KiB; false when
 * a read fails or sink returns false. */
bool body_spool_replay(struct body_spool *s, bool (*sink)(void *ctx, const void *data, size_t n), void *ctx);
/* Frees the memory and closes (so deletes) the file. The spool can be reused after init. */
void body_spool_free(struct body_spool *s);

/* Bytes held at once by requests not yet authenticated. */
struct spool_quota {
    uint64_t limit;       /* 0: no limit */
    uint64_t used;        /* atomic */
    uint64_t peak;        /* atomic; the most ever held at once (for tests and metrics) */
};

/* Reserves n bytes; false (nothing reserved) when that would pass the limit. */
bool spool_quota_reserve(struct spool_quota *q, uint64_t n);
void spool_quota_release(struct spool_quota *q, uint64_t n);
uint64_t spool_quota_used(struct spool_quota *q);

#endif
