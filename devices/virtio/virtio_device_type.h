/* devices/virtio/virtio_device_type.h — what one virtio device model file provides to the
 * registry (device_list.h): how many instances a configuration wants, and how to create one.
 */
#ifndef SILO_DEVICES_VIRTIO_VIRTIO_DEVICE_TYPE_H
#define SILO_DEVICES_VIRTIO_VIRTIO_DEVICE_TYPE_H

#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"
#include "devices/vm_services.h"
#include "base/config.h"

struct virtio_device_type {
    const char *name;
    /* How many instances of this device `cfg` asks for (0 if none). */
    uint32_t (*instances)(const struct vmm_config *cfg);
    /* Creates instance `index`: fills t->name, device_id, device_features, num_queues,
     * queue_max_size, config/config_size, ops and dev (t is zeroed beforehand). May watch its
     * own fds on svc->loop. Returns 0, or prints one line saying why and returns -errno with
     * everything it opened closed. The transport is started after it returns. */
    int (*create)(struct virtio_mmio *t, const struct vmm_config *cfg, uint32_t index,
                  const struct vm_services *svc);
};

#endif
