/* devices/platform_devices.h — the VMM's single entry point to the platform devices (UART,
 * RTC, boot marker), created from the registry in platform_device_list.h as virtio devices
 * are from devices/virtio/device_list.h.
 *
 * silo-vmm calls platform_devices_create once while building the VM (after the vGIC exists,
 * before any vCPU runs and before event_loop_start), platform_devices_describe when it fills
 * the device-tree description, and platform_devices_destroy once the vCPUs and the I/O thread
 * have stopped.
 */
#ifndef SILO_DEVICES_PLATFORM_DEVICES_H
#define SILO_DEVICES_PLATFORM_DEVICES_H

#include <stddef.h>

#include "base/mmio_bus.h"
#include "devices/platform_device_type.h"

struct devtree_machine;

/* Creates every registered platform device and puts its MMIO window on `bus`. Returns 0, or -1
 * with one line in err ("UART interrupt (irqfd): ...", "cannot place rtc at 0x...: ...") after
 * destroying what it created. */
int platform_devices_create(const struct platform_services *ps, struct mmio_bus *bus, char *err, size_t errlen);

/* Marks every created platform device present in `m` (the device tree's input). */
void platform_devices_describe(struct devtree_machine *m);

/* The state of the created device of `type` (e.g. the struct uart_8250 the console feeds), or
 * NULL when it was not created. */
void *platform_device_state(const struct platform_device_type *type);

/* Snapshot: the number of registered platform devices; device i's name and state (a record
 * of its save hook); and restoring such a record into the created device i (the name must
 * match). 0 or -1 with one line in err. */
size_t platform_devices_count(void);
int platform_devices_save(size_t i, struct state_writer *w, char *err, size_t errlen);
int platform_devices_restore(size_t i, const uint8_t *data, size_t len, char *err, size_t errlen);

/* Destroys every created platform device, in reverse order. The MMIO regions stay on the bus;
 * the bus must not be used afterwards. Safe to call twice. */
void platform_devices_destroy(void);

#endif
