/* tests/unit/virtio_test_driver.h — a tiny virtio driver for unit tests and fuzzers: a small
 * simulated guest RAM, an event loop driven by hand, the registry's devices on an MMIO bus, and
 * helpers to bring a device up and to build descriptor chains in guest memory the way a guest
 * kernel would (or, for the malformed cases, the way a hostile one would).
 */
#ifndef SILO_TESTS_UNIT_VIRTIO_TEST_DRIVER_H
#define SILO_TESTS_UNIT_VIRTIO_TEST_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_devices.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtq.h"
#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "base/mmio_bus.h"

#define VT_RAM_BASE 0x80000000ULL
#define VT_RAM_SIZE (4ULL << 20)
#define VT_MAX_SLOTS 8

struct vt_ioeventfd {
    uint64_t gpa;
    uint32_t datamatch;
    int fd;
};

struct vt_env {
    struct guest_mem mem;
    struct event_loop *loop;
    struct mmio_bus bus;
    struct vm_services svc;
    struct virtio_device_slot slots[VT_MAX_SLOTS];
    uint32_t slot_count;
    struct vt_ioeventfd ioev[32];
    int ioev_count;
    int irqfd[VT_MAX_SLOTS];
    uint32_t irq_spi[VT_MAX_SLOTS];
    int irq_count;
    uint64_t next_alloc; /* bump allocator in guest RAM */
};

struct vt_queue {
    struct vt_env *e;
    uint32_t slot;
    uint16_t index, size;
    uint64_t desc, avail, used; /* guest physical addresses */
    uint16_t avail_idx, used_seen, next_desc;
};

struct vt_buf {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

/* Maps RAM, creates the loop and the devices of cfg. Returns 0 or -errno. */
int vt_env_init(struct vt_env *e, const struct vmm_config *cfg);
void vt_env_fini(struct vt_env *e);

uint32_t vt_read32(struct vt_env *e, uint32_t slot, uint64_t off);
void vt_write32(struct vt_env *e, uint32_t slot, uint64_t off, uint32_t v);
uint64_t vt_alloc(struct vt_env *e, uint64_t size, uint64_t align);
void *vt_ptr(struct vt_env *e, uint64_t gpa);

/* Allocates a queue's rings in guest RAM. */
void vt_queue_alloc(struct vt_env *e, struct vt_queue *q, uint32_t slot, uint16_t index, uint16_t size);
/* Full driver init: reset, ACK, DRIVER, features, FEATURES_OK, queues, DRIVER_OK.
 * Returns the final status register. */
uint32_t vt_device_up(struct vt_env *e, uint32_t slot, uint64_t features, struct vt_queue *queues, int nq);

/* Writes descriptors for bufs (chained with NEXT) into the table and publishes the head. */
uint16_t vt_add_chain(struct vt_queue *q, const struct vt_buf *bufs, int n);
/* Publishes an arbitrary head index (for hostile tests) without writing descriptors. */
void vt_publish_head(struct vt_queue *q, uint16_t head);
void vt_kick(struct vt_queue *q);
/* Runs ready loop handlers until none is ready. Returns the number run, or -1 if the loop is
 * still busy after VT_RUN_LIMIT handler calls (a handler that keeps an fd ready: a spin). */
#define VT_RUN_LIMIT 200000
int vt_run(struct vt_env *e);
/* Takes the next used element, if any. */
bool vt_get_used(struct vt_queue *q, uint32_t *id, uint32_t *len);
/* Number of interrupts raised on slot since the last call (reads the irqfd). */
uint64_t vt_irqs(struct vt_env *e, uint32_t slot);
struct virtq_desc *vt_desc(struct vt_queue *q, uint16_t i);

#endif
