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

static const struct mmio_region *find_region(const struct mmio_bus *bus, uint64_t addr, uint32_t len)
{
    for (size_t i = 0; i < bus->count; i++) {
        const struct mmio_region *r = &bus->regions[i];
        if (addr >= r->base && addr - r->base < r->size && len <= r->size - (addr - r->base))
            return r;
    }
    return NULL;
}

bool mmio_bus_read(const struct mmio_bus *bus, uint64_t addr, void *data, uint32_t len)
{
    const struct mmio_region *r = find_region(bus, addr, len);
    memset(data, 0, len);
    if (r == NULL)
        return false;
    if (r->read != NULL)
        r->read(r->opaque, addr - r->base, data, len);
    return true;
}

bool mmio_bus_write(const struct mmio_bus *bus, uint64_t addr, const void *data, uint32_t len)
{
    const struct mmio_region *r = find_region(bus, addr, len);
    if (r == NULL)
        return false;
    if (r->write != NULL)
        r->write(r->opaque, addr - r->base, data, len);
    return true;
}
