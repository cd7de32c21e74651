/* devices/boot_marker.h — the boot-complete marker (Firecracker's boot timer idiom).
 *
 * A 4 KiB MMIO page at BOOT_MARKER_BASE (0x4000_0000, boot/layout.h); the device tree names it
 * `silo-boot-marker@40000000` (compatible "silo,boot-marker") so a guest init can find it. When
 * the guest writes the byte 123 at offset 0, the device records the time since `start_ns`
 * (CLOCK_MONOTONIC, taken by silo-vmm on entry to main) and prints
 *     silo-vmm: boot-complete marker at N us
 * on stderr, once. Any other write is ignored; reads return 0.
 */
#ifndef SILO_DEVICES_BOOT_MARKER_H
#define SILO_DEVICES_BOOT_MARKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "devices/platform_device_type.h"

struct boot_marker {
    uint64_t start_ns;
    _Atomic uint64_t marker_ns; /* 0 until the guest signals; then ns since start_ns */
    int log_fd;                 /* where the line goes (stderr), -1: nowhere */
};

void boot_marker_init(struct boot_marker *marker, uint64_t start_ns, int log_fd);
void boot_marker_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len);
/* Microseconds from start to the marker, or -1 when the guest has not written it. */
int64_t boot_marker_elapsed_us(const struct boot_marker *marker);
uint64_t boot_marker_now_ns(void);

/* The marker as a platform device, at BOOT_MARKER_BASE; its state is a struct boot_marker. */
extern const struct platform_device_type boot_marker_platform;

#endif
