/* tests/fuzz/fuzz_blk.c — libFuzzer target for virtio-blk request parsing: fuzz-built chains on
 * a real device (raw and copy-on-write images in a temporary directory), through the transport
 * and the event loop, exactly as a guest would drive it. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "devices/virtio/virtio_blk.h"
#include "tests/fuzz/fuzz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_env env;
static bool ready;
static char dir[] = "/tmp/silo-fuzz-blk-XXXXXX";
static char raw[64], base[64];

static void cleanup(void)
{
    vt_env_fini(&env);
    unlink(raw);
    unlink(base);
    rmdir(dir);
}

static void setup(void)
{
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(raw, sizeof raw, "%s/raw.img", dir);
    snprintf(base, sizeof base, "%s/base.img", dir);
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(i ? base : raw, "wb");
        if (f == NULL || ftruncate(fileno(f), 256 * 1024) != 0)
            abort();
        fclose(f);
    }
    setenv("TMPDIR", dir, 1);
    struct vmm_config cfg = { .disk_count = 3 };
    cfg.disks[0] = (struct vmm_disk){ .path = raw };
    cfg.disks[1] = (struct vmm_disk){ .path = base, .cow = true };
    cfg.disks[2] = (struct vmm_disk){ .path = base, .read_only = true };
    if (vt_env_init(&env, &cfg) != 0)
        abort();
    atexit(cleanup);
    ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size < 2)
        return 0;
    uint32_t slot = data[0] % 3;
    uint64_t features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | ((uint64_t)(data[1] & 0x3f) << 28 & 0x30000000ULL) |
                        ((data[1] & 0x40) ? VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) : 0) |
                        ((data[1] & 0x80) ? VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) : 0);
    if (slot == 2)
        features &= ~(VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
    env.next_alloc = VT_RAM_BASE;
    struct vt_queue q;
    vt_queue_alloc(&env, &q, slot, 0, FUZZ_QSIZE);
    if (!(vt_device_up(&env, slot, features, &q, 1) & VIRTIO_STATUS_DRIVER_OK))
        return 0;
    if (fuzz_load_queue(&env, &q, data + 2, size - 2) <= 0)
        return 0;
    vt_kick(&q);
    if (vt_run(&env) < 0)
        abort(); /* a handler keeps an fd ready: the loop would spin */
    uint32_t id, len;
    while (vt_get_used(&q, &id, &len))
        if (id >= FUZZ_QSIZE)
            abort();
    return 0;
}
