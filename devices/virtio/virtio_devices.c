/* devices/virtio/virtio_devices.c — creates the virtio devices a configuration asks for, one
 * virtio-mmio slot each, in the order of device_list.h (see virtio_devices.h).
 *
 * Transports live in a static table that is never freed: the MMIO bus keeps pointers to them,
 * and after virtio_devices_destroy they answer like an absent device.
 */
#include "devices/virtio/virtio_devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/error_message.h"
#include "boot/layout.h"
#include "devices/virtio/virtio_device_type.h"

#define VIRTIO_DEVICE(type) extern const struct virtio_device_type type;
#include "devices/virtio/device_list.h"
#undef VIRTIO_DEVICE

static const struct virtio_device_type *const registry[] = {
#define VIRTIO_DEVICE(type) &type,
#include "devices/virtio/device_list.h"
#undef VIRTIO_DEVICE
};

static struct virtio_mmio transports[VIRTIO_MMIO_MAX_SLOTS];
static uint32_t transport_count;

void virtio_devices_destroy(void)
{
    for (uint32_t i = 0; i < transport_count; i++)
        virtio_mmio_stop(&transports[i]);
    transport_count = 0;
}

static int create_one(const struct virtio_device_type *type, const struct vmm_config *cfg, uint32_t index,
                      const struct vm_services *svc, struct mmio_bus *bus, struct virtio_device_slot *slot)
{
    uint32_t i = transport_count;
    struct virtio_mmio *t = &transports[i];
    uint64_t base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE;
    uint32_t spi = VIRTIO_SPI_BASE + i;
    int err;

    /* a bus from an earlier VM may still point here; it only ever sees live = false */
    __atomic_store_n(&t->live, false, __ATOMIC_RELEASE);
    memset(t, 0, sizeof *t);
    err = type->create(t, cfg, index, svc);
    if (err < 0)
        return err;
    err = virtio_mmio_start(t, svc, base, spi);
    if (err == 0) {
        struct mmio_region region = {
            .name = t->name, .base = base, .size = VIRTIO_MMIO_SLOT_SIZE,
            .read = virtio_mmio_read, .write = virtio_mmio_write, .opaque = t,
        };
        err = mmio_bus_add(bus, &region);
    }
    transport_count++; /* from here on virtio_devices_destroy undoes it */
    if (err < 0) {
        fprintf(stderr, "silo-vmm: %s: cannot attach at %#llx: %s\n", type->name, (unsigned long long)base,
                strerror(-err));
        return err;
    }
    *slot = (struct virtio_device_slot){
        .base = base, .size = VIRTIO_MMIO_SLOT_SIZE, .spi = spi, .device_id = t->device_id,
    };
    return 0;
}

int virtio_devices_create(const struct vmm_config *cfg, const struct vm_services *svc, struct mmio_bus *bus,
                          struct virtio_device_slot *slots, uint32_t max_slots, uint32_t *slot_count)
{
    *slot_count = 0;
    virtio_devices_destroy();
    if (max_slots > VIRTIO_MMIO_MAX_SLOTS)
        max_slots = VIRTIO_MMIO_MAX_SLOTS;
    for (size_t r = 0; r < sizeof registry / sizeof registry[0]; r++) {
        uint32_t n = registry[r]->instances(cfg);
        for (uint32_t index = 0; index < n; index++) {
            if (transport_count >= max_slots) {
                fprintf(stderr, "silo-vmm: too many virtio devices (at most %u)\n", max_slots);
                virtio_devices_destroy();
                return -ENOSPC;
            }
            int err = create_one(registry[r], cfg, index, svc, bus, &slots[transport_count]);
            if (err < 0) {
                virtio_devices_destroy();
                return err;
            }
        }
    }
    *slot_count = transport_count;
    return 0;
}

uint32_t virtio_devices_count(void)
{
    return transport_count;
}

int virtio_devices_save(uint32_t slot, struct state_writer *w, int dir_fd, char *err, size_t errlen)
{
    if (slot >= transport_count)
        return error_message(err, errlen, "no virtio device in slot %u", slot);
    return virtio_mmio_save(&transports[slot], w, dir_fd, err, errlen);
}

int virtio_devices_restore(uint32_t slot, const uint8_t *data, size_t len, int dir_fd, char *err, size_t errlen)
{
    if (slot >= transport_count)
        return error_message(err, errlen, "the snapshot has a virtio device in slot %u; this VM has %u", slot,
                             transport_count);
    return virtio_mmio_restore(&transports[slot], data, len, dir_fd, err, errlen);
}
