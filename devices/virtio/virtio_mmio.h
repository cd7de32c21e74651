/* devices/virtio/virtio_mmio.h — the virtio-mmio transport (version 2, "modern") that every
 * Silo virtio device sits behind, and the interface between it and the device models.
 *
 * The transport owns the register window (magic, features, status, queues, interrupt status,
 * config space), one eventfd per queue and the interrupt line. A device model (blk, vsock,
 * rng) owns only its state and supplies struct virtio_device_ops.
 *
 * Threads and the lock:
 *   - MMIO handlers run on vCPU threads. QueueNotify, InterruptStatus and InterruptACK never
 *     take the lock: a notify just signals the queue's eventfd (the same eventfd KVM signals
 *     through the ioeventfd, datamatch = queue index), and the interrupt status is an atomic.
 *     Every other register takes `lock` for a few instructions; no I/O is done on a vCPU.
 *   - Device work runs on the event-loop thread: a queue's eventfd fires, the transport takes
 *     `lock` and calls ops->queue_notify. A device's own fds (sockets) take the lock too
 *     through virtio_mmio_lock/unlock.
 *   - A status write of 0 resets the device under the lock: queues, features, interrupt status
 *     and then ops->reset (which must not block and must not touch the event loop; vsock defers
 *     its socket clean-up to its next loop handler).
 *
 * Status machine: the driver may only add bits; FEATURES_OK is refused (reads back clear)
 * unless the driver's features are a subset of the device's and include VERSION_1; queues
 * work only once DRIVER_OK is set; DEVICE_NEEDS_RESET (virtio_mmio_fail) stops all queue work
 * until the driver resets the device, and raises a configuration-change interrupt.
 */
#ifndef SILO_DEVICES_VIRTIO_VIRTIO_MMIO_H
#define SILO_DEVICES_VIRTIO_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/state_buf.h"
#include "devices/irq.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtq.h"
#include "devices/vm_services.h"

#define VIRTIO_MMIO_MAX_QUEUES 4

struct virtio_mmio;

struct virtio_device_ops {
    /* The driver kicked queue q, or DRIVER_OK was just set. Loop thread, lock held. */
    void (*queue_notify)(struct virtio_mmio *t, uint16_t q);
    /* The driver reset the device (status 0). Lock held, any thread: no blocking, no loop
     * calls. Optional. */
    void (*reset)(struct virtio_mmio *t);
    /* Driver-written config space bytes [offset, offset + len). Lock held. Optional: when
     * NULL, config writes are ignored. */
    void (*config_write)(struct virtio_mmio *t, uint32_t offset, const void *data, uint32_t len);
    /* Frees the device state, closes its fds (the loop is stopped). Optional. */
    void (*destroy)(struct virtio_mmio *t);
    /* Snapshot (vCPUs and loop stopped): appends the device's own state to w; files it needs
     * (a disk's private layer) go into the snapshot directory dir_fd. 0 or -1 with err.
     * Optional: NULL means the device has no state beyond the transport's. */
    int (*save)(struct virtio_mmio *t, struct state_writer *w, int dir_fd, char *err, size_t errlen);
    /* Restore into a device just created from the snapshot's configuration, transport state
     * and queues already restored, before the loop or any vCPU runs: reads what save wrote
     * (hostile input: check everything), may use the queues (vsock posts its transport-reset
     * event). 0 or -1 with err. Optional. */
    int (*restore)(struct virtio_mmio *t, struct state_reader *r, int dir_fd, char *err, size_t errlen);
};

struct virtio_mmio {
    /* --- filled by the device model's create function --- */
    const char *name;              /* "virtio-blk", for logs */
    uint32_t device_id;            /* VIRTIO_ID_* */
    uint64_t device_features;      /* device-specific bits; the transport adds VERSION_1,
                                      RING_INDIRECT_DESC and RING_EVENT_IDX */
    uint16_t num_queues;           /* <= VIRTIO_MMIO_MAX_QUEUES */
    uint16_t queue_max_size;       /* <= VIRTQ_MAX_SIZE, a power of two */
    uint8_t config[64];            /* device-specific config space (read by the driver) */
    uint32_t config_size;
    const struct virtio_device_ops *ops;
    void *dev;                     /* the device model's state */

    /* --- owned by the transport --- */
    const struct vm_services *svc;
    uint64_t base;
    struct irq_line irq;
    int queue_fd[VIRTIO_MMIO_MAX_QUEUES]; /* eventfds: ioeventfd / MMIO notify -> loop */
    pthread_mutex_t lock;
    bool live;                     /* false after destroy: the window reads as zero */

    uint32_t status;
    uint32_t device_features_sel, driver_features_sel;
    uint64_t driver_features;
    uint32_t queue_sel;
    uint32_t interrupt_status;     /* atomic */
    uint32_t config_generation;
    struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

/* Finishes a transport whose device fields are filled: creates the eventfds, binds them with
 * svc->add_ioeventfd / add_irqfd at `base` / `spi`, watches the queue eventfds on svc->loop.
 * Returns 0 or -errno. */
int virtio_mmio_start(struct virtio_mmio *t, const struct vm_services *svc, uint64_t base, uint32_t spi);

/* Closes the transport's fds (loop stopped or on the loop thread) and calls ops->destroy. */
void virtio_mmio_stop(struct virtio_mmio *t);

/* The MMIO bus handlers (opaque = struct virtio_mmio *). */
void virtio_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len);

/* For device handlers on the loop thread that are not queue notifications (sockets). */
void virtio_mmio_lock(struct virtio_mmio *t);
void virtio_mmio_unlock(struct virtio_mmio *t);

/* True when queue q may be used now: DRIVER_OK set, not NEEDS_RESET, queue ready. Lock held. */
bool virtio_mmio_queue_usable(const struct virtio_mmio *t, uint16_t q);

/* After pushing used buffers on queue q: raises the interrupt if the driver wants one. */
void virtio_mmio_signal_used(struct virtio_mmio *t, uint16_t q);

/* The guest broke the protocol: logs `why` once, sets DEVICE_NEEDS_RESET and raises a
 * configuration-change interrupt. Lock held. */
void virtio_mmio_fail(struct virtio_mmio *t, const char *why);

/* Whether the driver negotiated feature bit `bit`. */
bool virtio_mmio_has_feature(const struct virtio_mmio *t, unsigned bit);

/* Snapshot of the transport (registers, feature words, queue addresses and ring positions,
 * interrupt status, config space) followed by the device's own state (ops->save). Loop and
 * vCPUs stopped. 0 or -1 with one line in err. */
int virtio_mmio_save(struct virtio_mmio *t, struct state_writer *w, int dir_fd, char *err, size_t errlen);
/* Restores a record written by virtio_mmio_save into a transport started from the same
 * configuration: the device type and config space must match, every ready queue is validated
 * again (virtq_enable) before its ring positions are set, then ops->restore runs and every
 * queue is kicked once, so work the guest queued before the snapshot is seen. */
int virtio_mmio_restore(struct virtio_mmio *t, const uint8_t *data, size_t len, int dir_fd, char *err,
                        size_t errlen);

/* Makes the loop run ops->queue_notify(q) soon (signals the queue's eventfd); any thread. */
void virtio_mmio_kick(struct virtio_mmio *t, uint16_t q);

#endif
