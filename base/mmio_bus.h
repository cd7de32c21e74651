/* base/mmio_bus.h — the MMIO bus: maps guest physical address ranges to device handlers.
 *
 * Regions are added while the VM is being built, before any vCPU runs; after that the bus is
 * read-only, so vCPU threads look it up without a lock. Handlers run on the vCPU thread that
 * took the exit, possibly several at once: each device protects its own state. `offset` is
 * relative to the region base; `len` is 1, 2, 4 or 8; data is little-endian guest bytes.
 */
#ifndef SILO_BASE_MMIO_BUS_H
#define SILO_BASE_MMIO_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*mmio_read_fn)(void *opaque, uint64_t offset, void *data, uint32_t len);
typedef void (*mmio_write_fn)(void *opaque, uint64_t offset, const void *data, uint32_t len);

struct mmio_region {
    const char *name; /* for logs: "uart", "virtio-blk", ... */
    uint64_t base;
    uint64_t size;
    mmio_read_fn read;   /* NULL: reads as zero */
    mmio_write_fn write; /* NULL: writes ignored */
    void *opaque;
};

#define MMIO_BUS_MAX_REGIONS 64

struct mmio_bus {
    struct mmio_region regions[MMIO_BUS_MAX_REGIONS];
    size_t count;
    _Atomic unsigned long long accesses[MMIO_BUS_MAX_REGIONS]; /* per region, for --timings */
};

/* Adds a region. Returns 0, -EINVAL (empty or overflowing range), -EEXIST (overlaps another
 * region) or -ENOSPC (bus full). */
int mmio_bus_add(struct mmio_bus *bus, const struct mmio_region *region);

/* Dispatches an access and counts it for its region. Returns false when no region covers
 * [addr, addr + len); a read then fills data with zeros. An access straddling a region's end is
 * treated as uncovered. */
bool mmio_bus_read(struct mmio_bus *bus, uint64_t addr, void *data, uint32_t len);
bool mmio_bus_write(struct mmio_bus *bus, uint64_t addr, const void *data, uint32_t len);

#endif
