/* devices/boot_marker.c — the boot-complete marker device (see boot_marker.h). */
#include "devices/boot_marker.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/error_message.h"
#include "boot/devtree.h"
#include "boot/layout.h"

uint64_t boot_marker_now_ns(void)
{
    return mono_ns();
}

void boot_marker_init(struct boot_marker *marker, uint64_t start_ns, int log_fd)
{
    marker->start_ns = start_ns;
    atomic_store(&marker->marker_ns, 0);
    marker->log_fd = log_fd;
}

void boot_marker_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
    struct boot_marker *marker = opaque;
    if (offset != 0 || len < 1 || ((const uint8_t *)data)[0] != BOOT_MARKER_MAGIC)
        return;
    uint64_t elapsed = boot_marker_now_ns() - marker->start_ns;
    if (elapsed == 0)
        elapsed = 1;
    uint64_t expected = 0;
    if (!atomic_compare_exchange_strong(&marker->marker_ns, &expected, elapsed))
        return; /* only the first signal counts */
    if (marker->log_fd >= 0) {
        /* snprintf + write, not dprintf: dprintf's stream on the fd costs an lseek and an
         * fstat, which a vCPU thread's seccomp allow-list does not have (vmm/seccomp_policy.c) */
        char line[80];
        int n = snprintf(line, sizeof line, "silo-vmm: boot-complete marker at %llu us\n",
                         (unsigned long long)(elapsed / 1000));
        if (n > 0 && (size_t)n < sizeof line) {
            ssize_t w = write(marker->log_fd, line, (size_t)n);
            (void)w;
        }
    }
}

int64_t boot_marker_elapsed_us(const struct boot_marker *marker)
{
    uint64_t ns = atomic_load(&marker->marker_ns);
    return ns == 0 ? -1 : (int64_t)(ns / 1000);
}

/* --- as a platform device (devices/platform_device_list.h) --- */

/* The marker's line goes to stderr, timed from the start of silo-vmm's main. */
static void *boot_marker_platform_create(const struct platform_services *ps, char *err, size_t errlen)
{
    struct boot_marker *marker = malloc(sizeof *marker);
    if (marker == NULL) {
        error_message(err, errlen, "boot marker: out of memory");
        return NULL;
    }
    boot_marker_init(marker, ps->start_ns, STDERR_FILENO);
    return marker;
}

static void boot_marker_platform_describe(struct devtree_machine *m)
{
    m->has_boot_marker = true;
    m->boot_marker_base = BOOT_MARKER_BASE;
}

const struct platform_device_type boot_marker_platform = {
    .name = "boot-marker", .base = BOOT_MARKER_BASE, .size = BOOT_MARKER_SIZE,
    .read = NULL, .write = boot_marker_mmio_write,
    .create = boot_marker_platform_create, .destroy = free, .describe = boot_marker_platform_describe,
};
