/* devices/virtio/virtio_mmio.c — the virtio-mmio version 2 transport (see virtio_mmio.h). */
#include "devices/virtio/virtio_mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/error_message.h"
#include "base/eventfd_util.h"

#define TRANSPORT_FEATURES \
    (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))

static uint64_t offered_features(const struct virtio_mmio *t)
{
    return t->device_features | TRANSPORT_FEATURES;
}

void virtio_mmio_lock(struct virtio_mmio *t)
{
    pthread_mutex_lock(&t->lock);
}

void virtio_mmio_unlock(struct virtio_mmio *t)
{
    pthread_mutex_unlock(&t->lock);
}

bool virtio_mmio_has_feature(const struct virtio_mmio *t, unsigned bit)
{
    return bit < 64 && (t->driver_features & VIRTIO_BIT(bit)) != 0;
}

bool virtio_mmio_queue_usable(const struct virtio_mmio *t, uint16_t q)
{
    return t->live && q < t->num_queues && t->queues[q].ready && (t->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(t->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

static void raise_interrupt(struct virtio_mmio *t, uint32_t bits)
{
    __atomic_fetch_or(&t->interrupt_status, bits, __ATOMIC_SEQ_CST);
    irq_line_raise(&t->irq);
}

void virtio_mmio_signal_used(struct virtio_mmio *t, uint16_t q)
{
    if (q < t->num_queues && virtq_should_interrupt(&t->queues[q]))
        raise_interrupt(t, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_fail(struct virtio_mmio *t, const char *why)
{
    if (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        return;
    fprintf(stderr, "silo-vmm: %s@%#llx: %s; device needs reset\n", t->name, (unsigned long long)t->base, why);
    t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (t->status & VIRTIO_STATUS_DRIVER_OK)
        raise_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_kick(struct virtio_mmio *t, uint16_t q)
{
    /* EAGAIN (ignored): the counter is already non-zero, the loop will run anyway */
    if (q < t->num_queues && t->queue_fd[q] >= 0)
        eventfd_signal(t->queue_fd[q]);
}

/* Device reset (status 0 written): everything back to its initial state. Lock held. */
static void reset_device(struct virtio_mmio *t)
{
    t->status = 0;
    t->device_features_sel = 0;
    t->driver_features_sel = 0;
    t->driver_features = 0;
    t->queue_sel = 0;
    __atomic_store_n(&t->interrupt_status, 0, __ATOMIC_SEQ_CST);
    for (uint16_t q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
        virtq_reset(&t->queues[q], t->queue_max_size);
    if (t->ops->reset != NULL)
        t->ops->reset(t);
}

static void queue_event(void *opaque, int fd, uint32_t events)
{
    struct virtio_mmio *t = opaque;
    (void)events;
    (void)eventfd_drain(fd);
    for (uint16_t q = 0; q < t->num_queues; q++) {
        if (t->queue_fd[q] != fd)
            continue;
        virtio_mmio_lock(t);
        if (virtio_mmio_queue_usable(t, q))
            t->ops->queue_notify(t, q);
        virtio_mmio_unlock(t);
    }
}

int virtio_mmio_start(struct virtio_mmio *t, const struct vm_services *svc, uint64_t base, uint32_t spi)
{
    int err;

    t->svc = svc;
    t->base = base;
    t->irq.fd = -1;
    t->irq.spi = spi;
    for (int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
        t->queue_fd[q] = -1;
    pthread_mutex_init(&t->lock, NULL);
    if (t->num_queues == 0 || t->num_queues > VIRTIO_MMIO_MAX_QUEUES || t->queue_max_size == 0 ||
        t->queue_max_size > VIRTQ_MAX_SIZE || (t->queue_max_size & (t->queue_max_size - 1)) != 0 ||
        t->config_size > sizeof t->config || t->ops == NULL || t->ops->queue_notify == NULL)
        return -EINVAL;
    reset_device(t);

    t->irq.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->irq.fd < 0)
        return -errno;
    if (svc->add_irqfd != NULL && (err = svc->add_irqfd(svc->vm, spi, t->irq.fd)) < 0)
        return err;
    for (uint16_t q = 0; q < t->num_queues; q++) {
        t->queue_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (t->queue_fd[q] < 0)
            return -errno;
        /* if KVM cannot bind the ioeventfd, the MMIO write path still signals the same fd */
        if (svc->add_ioeventfd != NULL)
            (void)svc->add_ioeventfd(svc->vm, base + VIRTIO_MMIO_QUEUE_NOTIFY, q, t->queue_fd[q]);
        if ((err = event_loop_add(svc->loop, t->queue_fd[q], EPOLLIN, queue_event, t)) < 0)
            return err;
    }
    t->live = true;
    return 0;
}

void virtio_mmio_stop(struct virtio_mmio *t)
{
    if (t->svc == NULL)
        return;
    virtio_mmio_lock(t);
    t->live = false;
    virtio_mmio_unlock(t);
    if (t->ops != NULL && t->ops->destroy != NULL)
        t->ops->destroy(t);
    for (int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
        if (t->queue_fd[q] >= 0) {
            event_loop_remove(t->svc->loop, t->queue_fd[q]);
            close(t->queue_fd[q]);
            t->queue_fd[q] = -1;
        }
    }
    if (t->irq.fd >= 0)
        close(t->irq.fd);
    t->irq.fd = -1;
    t->svc = NULL;
    pthread_mutex_destroy(&t->lock);
}

/* --- register reads ------------------------------------------------------------------------- */

static uint32_t read_register(struct virtio_mmio *t, uint64_t offset)
{
    struct virtq *q = t->queue_sel < t->num_queues ? &t->queues[t->queue_sel] : NULL;

    switch (offset) {
    case VIRTIO_MMIO_MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION:
        return 2;
    case VIRTIO_MMIO_DEVICE_ID:
        return t->device_id;
    case VIRTIO_MMIO_VENDOR_ID:
        return VIRTIO_MMIO_VENDOR;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        if (t->device_features_sel > 1)
            return 0;
        return (uint32_t)(offered_features(t) >> (32 * t->device_features_sel));
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return q != NULL ? t->queue_max_size : 0;
    case VIRTIO_MMIO_QUEUE_READY:
        return q != NULL && q->ready;
    case VIRTIO_MMIO_INTERRUPT_STATUS:
        return __atomic_load_n(&t->interrupt_status, __ATOMIC_SEQ_CST);
    case VIRTIO_MMIO_STATUS:
        return t->status;
    case VIRTIO_MMIO_SHM_LEN_LOW:
    case VIRTIO_MMIO_SHM_LEN_HIGH:
        return 0xffffffffu; /* no shared memory regions */
    case VIRTIO_MMIO_CONFIG_GENERATION:
        return t->config_generation;
    default:
        return 0;
    }
}

void virtio_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
    struct virtio_mmio *t = opaque;

    memset(data, 0, len);
    if (!__atomic_load_n(&t->live, __ATOMIC_ACQUIRE))
        return;
    if (offset >= VIRTIO_MMIO_CONFIG) {
        uint64_t off = offset - VIRTIO_MMIO_CONFIG;
        virtio_mmio_lock(t);
        if (off < t->config_size && len <= t->config_size - off)
            memcpy(data, t->config + off, len);
        virtio_mmio_unlock(t);
        return;
    }
    if (len != 4 || offset % 4 != 0)
        return; /* control registers are 32-bit only (spec 4.2.2.2) */
    uint32_t v;
    if (offset == VIRTIO_MMIO_INTERRUPT_STATUS) {
        v = __atomic_load_n(&t->interrupt_status, __ATOMIC_SEQ_CST); /* lock-free: IRQ path */
    } else {
        virtio_mmio_lock(t);
        v = read_register(t, offset);
        virtio_mmio_unlock(t);
    }
    memcpy(data, &v, 4);
}

/* --- register writes ------------------------------------------------------------------------ */

static void set_u64_half(uint64_t *field, bool high, uint32_t v)
{
    if (high)
        *field = (*field & 0xffffffffULL) | ((uint64_t)v << 32);
    else
        *field = (*field & ~0xffffffffULL) | v;
}

static void write_queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t v)
{
    if (v == 0) {
        q->ready = false;
        return;
    }
    if (q->ready)
        return;
    bool event_idx = virtio_mmio_has_feature(t, VIRTIO_F_RING_EVENT_IDX);
    bool indirect = virtio_mmio_has_feature(t, VIRTIO_F_RING_INDIRECT_DESC);
    if (virtq_enable(q, t->svc->mem, t->queue_max_size, event_idx, indirect) < 0)
        virtio_mmio_fail(t, "queue rings outside guest RAM, misaligned, or bad queue size");
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
    if (v == 0) {
        reset_device(t);
        return;
    }
    uint32_t cur = t->status & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    v &= 0xff & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if ((v & cur) != cur)
        return; /* the driver may only add bits (spec 2.1.1); anything else is ignored */
    uint32_t added = v & ~cur;
    if (added & VIRTIO_STATUS_FEATURES_OK) {
        uint64_t drv = t->driver_features;
        if ((drv & ~offered_features(t)) != 0 || !(drv & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
            v &= ~VIRTIO_STATUS_FEATURES_OK; /* refused: the driver reads it back clear */
    }
    if ((added & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
        v &= ~VIRTIO_STATUS_DRIVER_OK; /* DRIVER_OK without FEATURES_OK: not allowed */
        added &= ~VIRTIO_STATUS_DRIVER_OK;
    }
    t->status = v | (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if (added & VIRTIO_STATUS_DRIVER_OK) {
        /* buffers added before DRIVER_OK get processed now */
        for (uint16_t q = 0; q < t->num_queues; q++)
            virtio_mmio_kick(t, q);
    }
}

static void write_register(struct virtio_mmio *t, uint64_t offset, uint32_t v)
{
    struct virtq *q = t->queue_sel < t->num_queues ? &t->queues[t->queue_sel] : NULL;
    bool queue_writable = q != NULL && !q->ready;
    bool features_writable = (t->status & VIRTIO_STATUS_DRIVER) && !(t->status & VIRTIO_STATUS_FEATURES_OK);

    switch (offset) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        t->device_features_sel = v;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (features_writable && t->driver_features_sel <= 1)
            set_u64_half(&t->driver_features, t->driver_features_sel == 1, v);
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        t->driver_features_sel = v;
        break;
    case VIRTIO_MMIO_QUEUE_SEL:
        t->queue_sel = v;
        break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if (queue_writable)
            q->size = (uint16_t)(v > 0xffff ? 0 : v); /* validated when the queue is enabled */
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if (q != NULL)
            write_queue_ready(t, q, v);
        break;
    case VIRTIO_MMIO_STATUS:
        write_status(t, v);
        break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        if (queue_writable)
            set_u64_half(&q->desc_gpa, offset == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
        if (queue_writable)
            set_u64_half(&q->avail_gpa, offset == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_USED_LOW:
    case VIRTIO_MMIO_QUEUE_USED_HIGH:
        if (queue_writable)
            set_u64_half(&q->used_gpa, offset == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
        break;
    default:
        break; /* read-only or unknown registers: ignored */
    }
}

void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
    struct virtio_mmio *t = opaque;

    if (!__atomic_load_n(&t->live, __ATOMIC_ACQUIRE))
        return;
    if (offset >= VIRTIO_MMIO_CONFIG) {
        uint64_t off = offset - VIRTIO_MMIO_CONFIG;
        virtio_mmio_lock(t);
        if (t->ops->config_write != NULL && off < t->config_size && len <= t->config_size - off)
            t->ops->config_write(t, (uint32_t)off, data, len);
        virtio_mmio_unlock(t);
        return;
    }
    if (len != 4 || offset % 4 != 0)
        return;
    uint32_t v;
    memcpy(&v, data, 4);
    if (offset == VIRTIO_MMIO_QUEUE_NOTIFY) {
        virtio_mmio_kick(t, (uint16_t)(v > 0xffff ? 0xffff : v)); /* lock-free: same path as ioeventfd */
        return;
    }
    if (offset == VIRTIO_MMIO_INTERRUPT_ACK) {
        __atomic_fetch_and(&t->interrupt_status, ~v, __ATOMIC_SEQ_CST);
        return;
    }
    virtio_mmio_lock(t);
    write_register(t, offset, v);
    virtio_mmio_unlock(t);
}

/* --- snapshot ------------------------------------------------------------------------------- */

int virtio_mmio_save(struct virtio_mmio *t, struct state_writer *w, int dir_fd, char *err, size_t errlen)
{
    state_put_u32(w, t->device_id);
    state_put_u32(w, t->status);
    state_put_u32(w, t->device_features_sel);
    state_put_u32(w, t->driver_features_sel);
    state_put_u64(w, t->driver_features);
    state_put_u32(w, t->queue_sel);
    state_put_u32(w, __atomic_load_n(&t->interrupt_status, __ATOMIC_SEQ_CST));
    state_put_u32(w, t->config_generation);
    state_put_blob(w, t->config, t->config_size);
    state_put_u32(w, t->num_queues);
    for (uint16_t i = 0; i < t->num_queues; i++) {
        const struct virtq *q = &t->queues[i];
        state_put_u16(w, q->size);
        state_put_u64(w, q->desc_gpa);
        state_put_u64(w, q->avail_gpa);
        state_put_u64(w, q->used_gpa);
        state_put_u8(w, q->ready);
        state_put_u16(w, q->last_avail);
        state_put_u16(w, q->used_idx);
        state_put_u16(w, q->signalled_used);
    }
    struct state_writer dev;
    state_writer_init(&dev);
    int rc = t->ops->save != NULL ? t->ops->save(t, &dev, dir_fd, err, errlen) : 0;
    if (rc == 0) {
        state_put_blob(w, dev.data, (uint32_t)dev.len);
        if (!state_writer_ok(&dev) || !state_writer_ok(w))
            rc = error_message(err, errlen, "%s: out of memory saving its state", t->name);
    }
    state_writer_free(&dev);
    return rc;
}

int virtio_mmio_restore(struct virtio_mmio *t, const uint8_t *data, size_t len, int dir_fd, char *err,
                        size_t errlen)
{
    struct state_reader r;
    state_reader_init(&r, data, len);
    uint32_t device_id = state_get_u32(&r);
    if (state_reader_ok(&r, false) && device_id != t->device_id)
        return error_message(err, errlen, "virtio slot at %#llx: the snapshot has device type %u, not %s",
                             (unsigned long long)t->base, device_id, t->name);
    uint32_t status = state_get_u32(&r), dsel = state_get_u32(&r), drsel = state_get_u32(&r);
    uint64_t driver_features = state_get_u64(&r);
    uint32_t queue_sel = state_get_u32(&r), isr = state_get_u32(&r), generation = state_get_u32(&r);
    uint32_t config_len;
    const uint8_t *config = state_get_blob(&r, &config_len);
    uint32_t nq = state_get_u32(&r);
    if (!state_reader_ok(&r, false) || nq != t->num_queues)
        return error_message(err, errlen, "%s: the snapshot's record is malformed", t->name);
    if (config_len != t->config_size || (config_len > 0 && memcmp(config, t->config, config_len) != 0))
        return error_message(err, errlen, "%s: its configuration differs from the snapshot's (a disk of another "
                             "size, another vsock CID)", t->name);
    if ((driver_features & ~offered_features(t)) != 0 || status > 0xff ||
        ((status & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_FEATURES_OK)))
        return error_message(err, errlen, "%s: the snapshot's device status is impossible", t->name);
    t->status = status;
    t->device_features_sel = dsel;
    t->driver_features_sel = drsel;
    t->driver_features = driver_features;
    t->queue_sel = queue_sel;
    t->config_generation = generation;
    __atomic_store_n(&t->interrupt_status, isr & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG), __ATOMIC_SEQ_CST);
    bool event_idx = virtio_mmio_has_feature(t, VIRTIO_F_RING_EVENT_IDX);
    bool indirect = virtio_mmio_has_feature(t, VIRTIO_F_RING_INDIRECT_DESC);
    for (uint16_t i = 0; i < nq; i++) {
        struct virtq *q = &t->queues[i];
        q->size = state_get_u16(&r);
        q->desc_gpa = state_get_u64(&r);
        q->avail_gpa = state_get_u64(&r);
        q->used_gpa = state_get_u64(&r);
        uint8_t ready = state_get_u8(&r);
        uint16_t last_avail = state_get_u16(&r), used_idx = state_get_u16(&r), signalled = state_get_u16(&r);
        if (!state_reader_ok(&r, false) || ready > 1)
            return error_message(err, errlen, "%s: the snapshot's record is malformed", t->name);
        if (!ready)
            continue;
        if (virtq_enable(q, t->svc->mem, t->queue_max_size, event_idx, indirect) != 0)
            return error_message(err, errlen, "%s: queue %u of the snapshot lies outside guest RAM or is malformed",
                                 t->name, i);
        q->last_avail = last_avail;
        q->used_idx = used_idx;
        q->signalled_used = signalled;
    }
    uint32_t dev_len;
    const uint8_t *dev = state_get_blob(&r, &dev_len);
    if (!state_reader_ok(&r, true))
        return error_message(err, errlen, "%s: the snapshot's record is malformed", t->name);
    if (t->ops->restore != NULL) {
        struct state_reader dr;
        state_reader_init(&dr, dev, dev_len);
        if (t->ops->restore(t, &dr, dir_fd, err, errlen) != 0)
            return -1;
    } else if (dev_len != 0) {
        return error_message(err, errlen, "%s: the snapshot holds device state this device does not have", t->name);
    }
    for (uint16_t i = 0; i < t->num_queues; i++)
        virtio_mmio_kick(t, i); /* notifications that were in flight at the snapshot */
    return 0;
}
