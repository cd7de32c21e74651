/* tests/unit/virtio_test_driver.c — see virtio_test_driver.h. */
#include "tests/unit/virtio_test_driver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int record_ioeventfd(void *vm, uint64_t gpa, uint32_t datamatch, int fd)
{
    struct vt_env *e = vm;
    if (e->ioev_count == (int)(sizeof e->ioev / sizeof e->ioev[0]))
        return -ENOSPC;
    e->ioev[e->ioev_count++] = (struct vt_ioeventfd){ gpa, datamatch, fd };
    return 0;
}

static int record_irqfd(void *vm, uint32_t spi, int fd)
{
    struct vt_env *e = vm;
    if (e->irq_count == VT_MAX_SLOTS)
        return -ENOSPC;
    e->irq_spi[e->irq_count] = spi;
    e->irqfd[e->irq_count++] = fd;
    return 0;
}

int vt_env_init(struct vt_env *e, const struct vmm_config *cfg)
{
    memset(e, 0, sizeof *e);
    int err = guest_mem_map(&e->mem, VT_RAM_BASE, VT_RAM_SIZE);
    if (err < 0)
        return err;
    e->loop = event_loop_create();
    if (e->loop == NULL)
        return -ENOMEM;
    e->svc = (struct vm_services){
        .mem = &e->mem, .loop = e->loop, .add_ioeventfd = record_ioeventfd, .add_irqfd = record_irqfd, .vm = e,
    };
    e->next_alloc = VT_RAM_BASE;
    return virtio_devices_create(cfg, &e->svc, &e->bus, e->slots, VT_MAX_SLOTS, &e->slot_count);
}

void vt_env_fini(struct vt_env *e)
{
    virtio_devices_destroy();
    if (e->loop != NULL)
        event_loop_destroy(e->loop);
    e->loop = NULL;
    guest_mem_wipe(&e->mem, false, NULL);
}

uint32_t vt_read32(struct vt_env *e, uint32_t slot, uint64_t off)
{
    uint32_t v = 0;
    mmio_bus_read(&e->bus, e->slots[slot].base + off, &v, 4);
    return v;
}

void vt_write32(struct vt_env *e, uint32_t slot, uint64_t off, uint32_t v)
{
    mmio_bus_write(&e->bus, e->slots[slot].base + off, &v, 4);
}

uint64_t vt_alloc(struct vt_env *e, uint64_t size, uint64_t align)
{
    uint64_t p = (e->next_alloc + align - 1) / align * align;
    e->next_alloc = p + size;
    return p;
}

void *vt_ptr(struct vt_env *e, uint64_t gpa)
{
    return guest_mem_ptr(&e->mem, gpa, 1);
}

void vt_queue_alloc(struct vt_env *e, struct vt_queue *q, uint32_t slot, uint16_t index, uint16_t size)
{
    memset(q, 0, sizeof *q);
    q->e = e;
    q->slot = slot;
    q->index = index;
    q->size = size;
    q->desc = vt_alloc(e, 16ULL * size, 16);
    q->avail = vt_alloc(e, 6 + 2ULL * size, 2);
    q->used = vt_alloc(e, 6 + 8ULL * size, 4);
}

uint32_t vt_device_up(struct vt_env *e, uint32_t slot, uint64_t features, struct vt_queue *queues, int nq)
{
    vt_write32(e, slot, VIRTIO_MMIO_STATUS, 0);
    vt_write32(e, slot, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    vt_write32(e, slot, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    for (uint32_t sel = 0; sel < 2; sel++) {
        vt_write32(e, slot, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
        vt_write32(e, slot, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)));
    }
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    vt_write32(e, slot, VIRTIO_MMIO_STATUS, st);
    if (!(vt_read32(e, slot, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
        return vt_read32(e, slot, VIRTIO_MMIO_STATUS);
    for (int i = 0; i < nq; i++) {
        struct vt_queue *q = &queues[i];
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_SEL, q->index);
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_NUM, q->size);
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail >> 32));
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used);
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used >> 32));
        vt_write32(e, slot, VIRTIO_MMIO_QUEUE_READY, 1);
    }
    vt_write32(e, slot, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    return vt_read32(e, slot, VIRTIO_MMIO_STATUS);
}

struct virtq_desc *vt_desc(struct vt_queue *q, uint16_t i)
{
    return guest_mem_ptr(&q->e->mem, q->desc + 16ULL * i, 16);
}

void vt_publish_head(struct vt_queue *q, uint16_t head)
{
    uint16_t *avail = guest_mem_ptr(&q->e->mem, q->avail, 6 + 2ULL * q->size);
    avail[2 + q->avail_idx % q->size] = head;
    q->avail_idx++;
    __atomic_store_n(&avail[1], q->avail_idx, __ATOMIC_RELEASE);
}

uint16_t vt_add_chain(struct vt_queue *q, const struct vt_buf *bufs, int n)
{
    uint16_t head = q->next_desc;
    for (int i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % q->size);
        struct virtq_desc *desc = vt_desc(q, d);
        desc->addr = bufs[i].gpa;
        desc->len = bufs[i].len;
        desc->flags = (uint16_t)((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        desc->next = (uint16_t)((d + 1) % q->size);
    }
    q->next_desc = (uint16_t)((head + n) % q->size);
    vt_publish_head(q, head);
    return head;
}

void vt_kick(struct vt_queue *q)
{
    vt_write32(q->e, q->slot, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

int vt_run(struct vt_env *e)
{
    int total = 0, n;
    while ((n = event_loop_run_once(e->loop, 0)) > 0) {
        total += n;
        if (total > VT_RUN_LIMIT) {
            fprintf(stderr, "vt_run: the event loop is still busy after %d handler calls: a spin\n", total);
            return -1;
        }
    }
    return total;
}

bool vt_get_used(struct vt_queue *q, uint32_t *id, uint32_t *len)
{
    uint8_t *used = guest_mem_ptr(&q->e->mem, q->used, 6 + 8ULL * q->size);
    uint16_t idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);
    if (idx == q->used_seen)
        return false;
    uint8_t *elem = used + 4 + 8ULL * (q->used_seen % q->size);
    memcpy(id, elem, 4);
    memcpy(len, elem + 4, 4);
    q->used_seen++;
    return true;
}

uint64_t vt_irqs(struct vt_env *e, uint32_t slot)
{
    uint64_t v = 0;
    if (slot < (uint32_t)e->irq_count && read(e->irqfd[slot], &v, sizeof v) != sizeof v)
        v = 0;
    return v;
}
