/* devices/vm_services.h — what the VMM hands every device model when it creates it.
 *
 * Devices never call KVM themselves: they get guest memory, the I/O thread's event loop, and
 * two hooks to bind eventfds to the VM. silo-vmm fills the hooks with KVM_IOEVENTFD and
 * KVM_IRQFD; unit tests fill them with functions that just record the fds, and then drive
 * notifications by writing the eventfds (or through the MMIO write path) themselves.
 */
#ifndef SILO_DEVICES_VM_SERVICES_H
#define SILO_DEVICES_VM_SERVICES_H

#include <stdint.h>

#include "base/event_loop.h"
#include "base/guest_mem.h"

struct vm_services {
    struct guest_mem *mem;
    struct event_loop *loop; /* the I/O thread; device work runs here, never on a vCPU */

    /* Signal `fd` (an eventfd) whenever the guest writes the 32-bit value `datamatch` to guest
     * physical address `gpa`, without a vCPU exit reaching user space. Returns 0 or -errno; a
     * device must still accept the same write through its MMIO handler when this fails. */
    int (*add_ioeventfd)(void *vm, uint64_t gpa, uint32_t datamatch, int fd);

    /* Bind `fd` (an eventfd) to SPI `spi` (edge-triggered): a write to fd raises it.
     * Returns 0 or -errno. */
    int (*add_irqfd)(void *vm, uint32_t spi, int fd);

    void *vm; /* first argument of the hooks */
};

#endif
