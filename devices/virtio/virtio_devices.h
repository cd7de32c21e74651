/* devices/virtio/virtio_devices.h — the VMM's single entry point to every virtio device.
 *
 * silo-vmm calls virtio_devices_create once while building the VM (before any vCPU runs and
 * before event_loop_start). It creates, in this order, one virtio-blk per cfg->disks[i], the
 * virtio-vsock if cfg->vsock_cid != 0, and the virtio-rng if cfg->rng (the order of the
 * registry in virtio_devices.c). Device i sits in its own virtio-mmio slot:
 *
 *     base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE,  spi = VIRTIO_SPI_BASE + i
 *
 * (boot/layout.h). For each slot it registers the MMIO region on `bus`, one ioeventfd per queue
 * (base + 0x50, datamatch = queue index) and one irqfd (the slot's SPI) through `svc`, and
 * watches its eventfds and sockets on svc->loop. It reports the slots so that the VMM writes one
 * device-tree node per slot: `virtio_mmio@<base>`, compatible "virtio,mmio", reg <base size>,
 * interrupts <GIC_SPI spi IRQ_TYPE_EDGE_RISING>, dma-coherent.
 *
 * Teardown: virtio_devices_destroy must run after the vCPUs have stopped and after
 * event_loop_stop (no device handler may run concurrently), and before guest RAM is wiped.
 * It closes every file, socket and eventfd the devices own (a `,cow` layer is an unlinked
 * file, so it vanishes here), so no device touches guest RAM afterwards.
 */
#ifndef SILO_DEVICES_VIRTIO_VIRTIO_DEVICES_H
#define SILO_DEVICES_VIRTIO_VIRTIO_DEVICES_H

#include <stdint.h>

#include "devices/vm_services.h"
#include "base/config.h"
#include "base/mmio_bus.h"
#include "base/state_buf.h"

struct virtio_device_slot {
    uint64_t base;    /* guest physical address of the virtio-mmio register window */
    uint64_t size;    /* VIRTIO_MMIO_SLOT_SIZE */
    uint32_t spi;     /* as written in the device tree (INTID - 32), edge-rising */
    uint32_t device_id; /* virtio device ID (2 blk, 4 rng, 19 vsock), for logs */
};

/* Creates every device `cfg` asks for. On success fills slots[0 .. *slot_count) and returns 0.
 * On error prints one line saying why (e.g. "silo-vmm: disk rootfs.ext4: No such file or
 * directory"), undoes what it did and returns -errno (-ENOSPC when more than max_slots devices
 * are asked for). May be called again after virtio_devices_destroy. */
int virtio_devices_create(const struct vmm_config *cfg, const struct vm_services *svc, struct mmio_bus *bus,
                          struct virtio_device_slot *slots, uint32_t max_slots, uint32_t *slot_count);

/* Snapshot: the number of devices created, and slot i's transport and device state (see
 * virtio_mmio_save; vCPUs and loop stopped). Restore: slot i of devices just created from the
 * snapshot's configuration (virtio_mmio_restore). Both return 0 or -1 with one line in err. */
uint32_t virtio_devices_count(void);
int virtio_devices_save(uint32_t slot, struct state_writer *w, int dir_fd, char *err, size_t errlen);
int virtio_devices_restore(uint32_t slot, const uint8_t *data, size_t len, int dir_fd, char *err, size_t errlen);

/* Destroys every device created by virtio_devices_create (see the teardown rule above). The
 * MMIO regions stay on the bus but answer like an absent device. Safe to call twice. */
void virtio_devices_destroy(void);

#endif
