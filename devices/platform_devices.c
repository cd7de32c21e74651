/* devices/platform_devices.c — creates the platform devices of platform_device_list.h, one MMIO
 * window each, and answers for them (see platform_devices.h). */
#include "devices/platform_devices.h"

#include <string.h>

#include "base/error_message.h"

#define PLATFORM_DEVICE(type) extern const struct platform_device_type type;
#include "devices/platform_device_list.h"
#undef PLATFORM_DEVICE

static const struct platform_device_type *const registry[] = {
#define PLATFORM_DEVICE(type) &type,
#include "devices/platform_device_list.h"
#undef PLATFORM_DEVICE
};

#define PLATFORM_DEVICE_COUNT (sizeof registry / sizeof registry[0])

static void *states[PLATFORM_DEVICE_COUNT]; /* NULL: not created */

void platform_devices_destroy(void)
{
    for (size_t i = PLATFORM_DEVICE_COUNT; i-- > 0;) {
        if (states[i] != NULL)
            registry[i]->destroy(states[i]);
        states[i] = NULL;
    }
}

int platform_devices_create(const struct platform_services *ps, struct mmio_bus *bus, char *err, size_t errlen)
{
    platform_devices_destroy();
    for (size_t i = 0; i < PLATFORM_DEVICE_COUNT; i++) {
        const struct platform_device_type *type = registry[i];
        states[i] = type->create(ps, err, errlen);
        if (states[i] == NULL) {
            platform_devices_destroy();
            return -1;
        }
        struct mmio_region region = {
            .name = type->name, .base = type->base, .size = type->size,
            .read = type->read, .write = type->write, .opaque = states[i],
        };
        int rc = mmio_bus_add(bus, &region);
        if (rc != 0) {
            platform_devices_destroy();
            return error_message(err, errlen, "cannot place %s at 0x%llx: %s", type->name,
                                 (unsigned long long)type->base, strerror(-rc));
        }
    }
    return 0;
}

void platform_devices_describe(struct devtree_machine *m)
{
    for (size_t i = 0; i < PLATFORM_DEVICE_COUNT; i++)
        if (states[i] != NULL)
            registry[i]->describe(m);
}

void *platform_device_state(const struct platform_device_type *type)
{
    for (size_t i = 0; i < PLATFORM_DEVICE_COUNT; i++)
        if (registry[i] == type)
            return states[i];
    return NULL;
}

size_t platform_devices_count(void)
{
    return PLATFORM_DEVICE_COUNT;
}

int platform_devices_save(size_t i, struct state_writer *w, char *err, size_t errlen)
{
    if (i >= PLATFORM_DEVICE_COUNT || states[i] == NULL)
        return error_message(err, errlen, "platform device %zu does not exist", i);
    state_put_str(w, registry[i]->name);
    if (registry[i]->save != NULL)
        registry[i]->save(states[i], w);
    return state_writer_ok(w) ? 0 : error_message(err, errlen, "%s: out of memory saving it", registry[i]->name);
}

int platform_devices_restore(size_t i, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (i >= PLATFORM_DEVICE_COUNT || states[i] == NULL)
        return error_message(err, errlen, "the snapshot has platform device %zu; this VMM has %zu", i,
                             (size_t)PLATFORM_DEVICE_COUNT);
    struct state_reader r;
    state_reader_init(&r, data, len);
    char name[32];
    state_get_str(&r, name, sizeof name);
    if (!state_reader_ok(&r, false) || strcmp(name, registry[i]->name) != 0)
        return error_message(err, errlen, "platform device %zu: the snapshot's is not a %s", i, registry[i]->name);
    if (registry[i]->restore != NULL)
        return registry[i]->restore(states[i], &r, err, errlen);
    return state_reader_ok(&r, true) ? 0 : error_message(err, errlen, "%s: unexpected state in the snapshot", name);
}
