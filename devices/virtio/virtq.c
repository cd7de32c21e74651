/* devices/virtio/virtq.c — the split virtqueue walker, hostile-guest safe (see virtq.h). */
#include "devices/virtio/virtq.h"

#include <errno.h>
#include <string.h>

#define DESC_SIZE 16u

static uint16_t load16(const void *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static uint16_t load16_acquire(const void *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

void virtq_reset(struct virtq *q, uint16_t max_size)
{
    memset(q, 0, sizeof *q);
    q->size = max_size;
}

static bool is_power_of_two(uint32_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint16_t max_size, bool event_idx, bool indirect)
{
    uint64_t n = q->size;

    if (!is_power_of_two(q->size) || q->size > max_size)
        return -EINVAL;
    if (q->desc_gpa % 16 != 0 || q->avail_gpa % 2 != 0 || q->used_gpa % 4 != 0)
        return -EINVAL;
    q->desc = guest_mem_ptr(mem, q->desc_gpa, n * DESC_SIZE);
    q->avail = guest_mem_ptr(mem, q->avail_gpa, 6 + 2 * n);
    q->used = guest_mem_ptr(mem, q->used_gpa, 6 + 8 * n);
    if (q->desc == NULL || q->avail == NULL || q->used == NULL) {
        q->desc = NULL;
        q->avail = NULL;
        q->used = NULL;
        return -EINVAL;
    }
    q->mem = mem;
    q->event_idx = event_idx;
    q->indirect = indirect;
    q->last_avail = 0;
    q->used_idx = 0;
    q->signalled_used = 0;
    q->ready = true;
    return 0;
}

int virtq_pending(const struct virtq *q)
{
    uint16_t avail_idx = load16_acquire(&q->avail[1]);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    return pending > q->size ? -EINVAL : pending;
}

/* Copies descriptor i of a table out of guest memory (one read, then only the copy is used). */
static struct virtq_desc read_desc(const uint8_t *table, uint32_t i)
{
    struct virtq_desc d;
    memcpy(&d, table + (uint64_t)i * DESC_SIZE, sizeof d);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return d;
}

/* Appends one data descriptor's buffer to the chain. */
static int add_segment(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
    bool writable = (d->flags & VIRTQ_DESC_F_WRITE) != 0;
    uint16_t n = (uint16_t)(c->readable + c->writable);

    if (n >= VIRTQ_MAX_SEGS)
        return -EINVAL;
    if (!writable && c->writable != 0)
        return -EINVAL; /* readable after writable: not a valid layout */
    void *p = guest_mem_ptr(q->mem, d->addr, d->len);
    if (p == NULL)
        return -EINVAL;
    c->iov[n].iov_base = p;
    c->iov[n].iov_len = d->len;
    if (writable) {
        c->writable++;
        c->write_bytes += d->len;
    } else {
        c->readable++;
        c->read_bytes += d->len;
    }
    return 0;
}

/* Walks an indirect table (its descriptor `d` came from the main table). */
static int walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
    if (!q->indirect || (d->flags & VIRTQ_DESC_F_NEXT) || d->len == 0 || d->len % DESC_SIZE != 0)
        return -EINVAL;
    uint32_t count = d->len / DESC_SIZE;
    if (count > VIRTQ_MAX_SEGS)
        return -EINVAL;
    const uint8_t *table = guest_mem_ptr(q->mem, d->addr, d->len);
    if (table == NULL)
        return -EINVAL;
    uint32_t i = 0;
    for (uint32_t steps = 0;; steps++) {
        if (steps >= count)
            return -EINVAL; /* more steps than entries: a loop */
        struct virtq_desc e = read_desc(table, i);
        if (e.flags & VIRTQ_DESC_F_INDIRECT)
            return -EINVAL; /* indirect inside indirect */
        int r = add_segment(q, c, &e);
        if (r < 0)
            return r;
        if (!(e.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (e.next >= count)
            return -EINVAL;
        i = e.next;
    }
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
    if (!q->ready)
        return 0;
    int pending = virtq_pending(q);
    if (pending <= 0)
        return pending;

    uint16_t head = load16(&q->avail[2 + q->last_avail % q->size]);
    q->last_avail++;
    c->head = head;
    c->readable = c->writable = 0;
    c->read_bytes = c->write_bytes = 0;
    if (head >= q->size)
        return -EINVAL;

    uint32_t i = head;
    for (uint32_t steps = 0;; steps++) {
        if (steps >= q->size)
            return -EINVAL; /* longer than the queue: a loop */
        struct virtq_desc d = read_desc(q->desc, i);
        int r;
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            /* an indirect descriptor must be the only one in its chain (spec 2.7.5.3.1) */
            if (steps != 0)
                return -EINVAL;
            return walk_indirect(q, c, &d) < 0 ? -EINVAL : 1;
        }
        r = add_segment(q, c, &d);
        if (r < 0)
            return r;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 1;
        if (d.next >= q->size)
            return -EINVAL;
        i = d.next;
    }
}

void virtq_unpop(struct virtq *q)
{
    q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
    uint8_t *elem = q->used + 4 + (uint64_t)(q->used_idx % q->size) * 8;
    uint32_t id = head;
    __atomic_store_n((uint32_t *)elem, id, __ATOMIC_RELAXED);
    __atomic_store_n((uint32_t *)(elem + 4), written, __ATOMIC_RELAXED);
    q->used_idx++;
    __atomic_store_n((uint16_t *)(q->used + 2), q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_interrupt(struct virtq *q)
{
    uint16_t old = q->signalled_used, now = q->used_idx;

    if (!q->ready || old == now)
        return false;
    q->signalled_used = now;
    /* the used index store must be visible before we read the driver's suppression state */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!q->event_idx)
        return !(load16(&q->avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    uint16_t used_event = load16(&q->avail[2 + q->size]);
    /* vring_need_event: interrupt when used_event lies in [old, now) */
    return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

bool virtq_enable_kicks(struct virtq *q)
{
    if (!q->ready)
        return false;
    if (q->event_idx) {
        __atomic_store_n((uint16_t *)(q->used + 4 + (uint64_t)q->size * 8), q->last_avail, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return virtq_pending(q) != 0;
}

void virtq_kick_on_next_avail(struct virtq *q)
{
    if (!q->ready || !q->event_idx)
        return; /* without EVENT_IDX the driver kicks on every buffer anyway */
    uint16_t avail_idx = load16_acquire(&q->avail[1]);
    __atomic_store_n((uint16_t *)(q->used + 4 + (uint64_t)q->size * 8), avail_idx, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int virtq_chain_slice(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
                      struct iovec *out, int max, uint64_t *covered)
{
    int first = writable ? c->readable : 0;
    int end = writable ? c->readable + c->writable : c->readable;
    int n = 0;
    uint64_t got = 0;

    for (int i = first; i < end && n < max && got < len; i++) {
        uint64_t seg = c->iov[i].iov_len;
        if (offset >= seg) {
            offset -= seg;
            continue;
        }
        uint64_t take = seg - offset;
        if (take > len - got)
            take = len - got;
        out[n].iov_base = (uint8_t *)c->iov[i].iov_base + offset;
        out[n].iov_len = take;
        n++;
        got += take;
        offset = 0;
    }
    if (covered != NULL)
        *covered = got;
    return n;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *buf, size_t len)
{
    struct iovec v[VIRTQ_MAX_SEGS];
    uint64_t covered;
    int n = virtq_chain_slice(c, false, offset, len, v, VIRTQ_MAX_SEGS, &covered);
    size_t done = 0;
    for (int i = 0; i < n; i++) {
        memcpy((uint8_t *)buf + done, v[i].iov_base, v[i].iov_len);
        done += v[i].iov_len;
    }
    return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *buf, size_t len)
{
    struct iovec v[VIRTQ_MAX_SEGS];
    uint64_t covered;
    int n = virtq_chain_slice(c, true, offset, len, v, VIRTQ_MAX_SEGS, &covered);
    size_t done = 0;
    for (int i = 0; i < n; i++) {
        memcpy(v[i].iov_base, (const uint8_t *)buf + done, v[i].iov_len);
        done += v[i].iov_len;
    }
    return done;
}
