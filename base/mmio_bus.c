/* base/mmio_bus.c — address → device dispatch for MMIO exits (see mmio_bus.h). */
#include "base/mmio_bus.h"

#include <errno.h>
#include <string.h>

int mmio_bus_add(struct mmio_bus *bus, const struct mmio_region *region)
{
    if (region->size == 0 || region->base + region->size < region->base)
        return -EINVAL;
    for (size_t i = 0; i < bus->count; i++) {
        const struct mmio_region *r = &bus->regions[i];
        if (region->base < r->base + r->size && r->base < region->base + region->size)
            return -EEXIST;
    }
    if (bus->count == MMIO_BUS_MAX_REGIONS)
        return -ENOSPC;
    bus->regions[bus->count++] = *region;
    return 0;
}

/* The index of the region covering [addr, addr + len), or -1. */
static long find_region(const struct mmio_bus *bus, uint64_t addr, uint32_t len)
{
    for (size_t i = 0; i < bus->count; i++) {
        const struct mmio_region *r = &bus->regions[i];
        if (addr >= r->base && addr - r->base < r->size && len <= r->size - (addr - r->base))
            return (long)i;
    }
    return -1;
}

bool mmio_bus_read(struct mmio_bus *bus, uint64_t addr, void *data, uint32_t len)
{
    long i = find_region(bus, addr, len);
    memset(data, 0, len);
    if (i < 0)
        return false;
    const struct mmio_region *r = &bus->regions[i];
    atomic_fetch_add_explicit(&bus->accesses[i], 1, memory_order_relaxed);
    if (r->read != NULL)
        r->read(r->opaque, addr - r->base, data, len);
    return true;
}

bool mmio_bus_write(struct mmio_bus *bus, uint64_t addr, const void *data, uint32_t len)
{
    long i = find_region(bus, addr, len);
    if (i < 0)
        return false;
    const struct mmio_region *r = &bus->regions[i];
    atomic_fetch_add_explicit(&bus->accesses[i], 1, memory_order_relaxed);
    if (r->write != NULL)
        r->write(r->opaque, addr - r->base, data, len);
    return true;
}
