/* devices/platform_device_type.h — what one platform device model (UART, RTC, boot marker)
 * provides to the platform registry (platform_device_list.h): where it sits, its MMIO handlers,
 * how to create and destroy one, and its node in the device tree.
 *
 * Platform devices are the fixed devices every microVM has, each at its own address from
 * boot/layout.h; virtio devices (devices/virtio/) are the optional ones, in numbered slots.
 */
#ifndef SILO_DEVICES_PLATFORM_DEVICE_TYPE_H
#define SILO_DEVICES_PLATFORM_DEVICE_TYPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mmio_bus.h"
#include "base/state_buf.h"
#include "devices/vm_services.h"

struct devtree_machine;

/* What the VMM hands every platform device when it creates it. */
struct platform_services {
    const struct vm_services *vm; /* interrupts are bound through vm->add_irqfd */
    int console_out_fd;           /* where the serial console's output goes; -1: discarded */
    uint64_t start_ns;            /* CLOCK_MONOTONIC at the start of silo-vmm's main */
};

struct platform_device_type {
    const char *name;    /* the MMIO region's name in logs: "uart", "rtc", "boot-marker" */
    uint64_t base, size; /* its MMIO window (boot/layout.h) */
    mmio_read_fn read;   /* NULL: reads as zero; opaque is the state create returned */
    mmio_write_fn write; /* NULL: writes ignored */
    /* Creates the device; returns its state, or NULL with one line in err and nothing left
     * open. Runs on the main thread while the VM is built, before any vCPU. */
    void *(*create)(const struct platform_services *ps, char *err, size_t errlen);
    /* Frees the state and closes what create opened; runs after the vCPUs and the I/O thread
     * have stopped. */
    void (*destroy)(void *state);
    /* Marks the device present in the machine the device tree is built from. */
    void (*describe)(struct devtree_machine *m);
    /* Snapshot (vCPUs stopped): appends the guest-visible state to w. Optional: NULL means
     * nothing the guest could tell apart survives (the boot marker). */
    void (*save)(void *state, struct state_writer *w);
    /* Restores what save wrote into a just-created device (hostile input: check it all);
     * 0 or -1 with one line in err. NULL when save is. */
    int (*restore)(void *state, struct state_reader *r, char *err, size_t errlen);
};

#endif
