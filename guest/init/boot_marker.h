/* guest/init/boot_marker.h — the guest's half of the boot-complete marker.
 *
 * silo-vmm's device tree has a node `silo-boot-marker@ADDR` (compatible "silo,boot-marker");
 * writing the byte 123 at ADDR tells the VMM the guest is up, and it records the time. QEMU and
 * other VMMs have no such node, and then nothing is written. Shared by silo-init (every agent
 * microVM) and tiny-init (bare boot tests and benchmarks).
 */
#ifndef SILO_GUEST_INIT_BOOT_MARKER_H
#define SILO_GUEST_INIT_BOOT_MARKER_H

#include <stddef.h>

#define BOOT_MARKER_VALUE 123

/* Writes the marker through /dev/mem. Returns 1 when written, 0 when the device tree has no
 * marker node, -1 with a one-line reason in err when the write failed. */
int guest_write_boot_marker(char *err, size_t errlen);

#endif
