/* devices/virtio/virtq.h — the split virtqueue, device side, for a guest we do not trust.
 *
 * A virtq lives in guest RAM at three addresses the driver chose (descriptor table, available
 * ring, used ring). virtq_enable validates them once: inside RAM (guest_mem_ptr), aligned as
 * the spec says, queue size a power of two no larger than the device's maximum. Afterwards:
 *
 *   virtq_pop      takes the next available chain and turns it into a list of host segments.
 *                  Each descriptor is copied out of guest memory once (no time-of-check /
 *                  time-of-use games), its range checked with guest_mem_ptr, and the walk is
 *                  bounded: at most `size` descriptors in the table, at most the indirect
 *                  table's entry count inside it, at most VIRTQ_MAX_SEGS segments in all, so a
 *                  loop cannot hang us. Readable segments must come before writable ones;
 *                  an indirect descriptor inside an indirect table, an indirect table without
 *                  VIRTIO_F_RING_INDIRECT_DESC negotiated, a zero-length or misaligned table, a
 *                  head index out of range, or an available index that jumps by more than the
 *                  queue size are all "malformed": virtq_pop returns -EINVAL and the caller
 *                  marks the device DEVICE_NEEDS_RESET (virtio_mmio_fail).
 *   virtq_push     returns a chain to the driver with the number of bytes written into it.
 *   virtq_should_interrupt  after a batch of pushes: does the driver want an interrupt
 *                  (VRING_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_RING_EVENT_IDX)?
 *   virtq_enable_kicks  before going idle with EVENT_IDX: publishes avail_event and reports
 *                  whether buffers arrived meanwhile (then keep going).
 *
 * Memory ordering: the available index is read with acquire semantics before the ring entries
 * and descriptors; the used index is published with release semantics after the used element.
 * A virtq is used by one thread at a time (the device's event-loop handler, under the
 * transport's lock).
 */
#ifndef SILO_DEVICES_VIRTIO_VIRTQ_H
#define SILO_DEVICES_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/guest_mem.h"

#define VIRTQ_MAX_SIZE 256 /* largest queue size any Silo device offers */
#define VIRTQ_MAX_SEGS 256 /* segments in one chain, direct and indirect together */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq {
    /* set by the driver through the transport */
    uint16_t size;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    bool ready;

    /* set by virtq_enable */
    const struct guest_mem *mem;
    bool event_idx;       /* VIRTIO_F_RING_EVENT_IDX negotiated */
    bool indirect;        /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
    uint8_t *desc;        /* host pointers into guest RAM, validated */
    uint16_t *avail;      /* flags, idx, ring[size], used_event */
    uint8_t *used;        /* flags, idx, ring[size] {id, len}, avail_event */
    uint16_t last_avail;  /* next available-ring entry to take */
    uint16_t used_idx;    /* next used-ring entry to fill */
    uint16_t signalled_used; /* used_idx when we last decided about an interrupt */
};

/* One chain taken from the queue. iov[0 .. readable) are driver→device buffers,
 * iov[readable .. readable + writable) device→driver buffers; all point into guest RAM. */
struct virtq_chain {
    uint16_t head;
    uint16_t readable, writable;
    uint64_t read_bytes, write_bytes; /* totals of each kind */
    struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Resets the queue to the state after device reset (size = max_size, addresses 0, not ready). */
void virtq_reset(struct virtq *q, uint16_t max_size);

/* Validates the addresses and size set by the driver and makes the queue usable.
 * Returns 0 or -EINVAL (the queue stays not ready). */
int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint16_t max_size, bool event_idx, bool indirect);

/* Takes the next chain. Returns 1 (chain filled), 0 (queue empty) or -EINVAL (malformed; the
 * chain is consumed, the queue should not be used again until reset). */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);

/* Puts a chain back so that the next virtq_pop returns it again (e.g. no room to finish it). */
void virtq_unpop(struct virtq *q);

/* Returns `head` to the driver, `written` bytes written into its writable part. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* After a batch of virtq_push: true when the driver asked to be interrupted for it. */
bool virtq_should_interrupt(struct virtq *q);

/* With EVENT_IDX, asks for a kick at the next available buffer; returns true when the
 * available ring is not empty (the caller must keep processing). Without EVENT_IDX it only
 * reports whether the ring is non-empty. */
bool virtq_enable_kicks(struct virtq *q);

/* With EVENT_IDX, asks for a kick when the driver makes its next buffer available, however
 * many are available and not taken yet (a queue whose buffers the device keeps, such as
 * vsock's event queue). Without EVENT_IDX the driver kicks every time anyway. */
void virtq_kick_on_next_avail(struct virtq *q);

/* Number of available chains not taken yet, or -EINVAL if the driver's index is impossible. */
int virtq_pending(const struct virtq *q);

/* Copies up to len bytes starting `offset` bytes into the readable (or writable) part of a
 * chain. Return the bytes copied. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *buf, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *buf, size_t len);

/* Fills `out` with the iovecs covering [offset, offset + len) of the readable (writable = false)
 * or writable part of the chain; returns the number of iovecs used (at most max), and the bytes
 * covered in *covered. */
int virtq_chain_slice(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
                      struct iovec *out, int max, uint64_t *covered);

#endif
