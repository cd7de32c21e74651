/* tests/fuzz/fuzz_snapshot.c — libFuzzer target for snapshot files, which silo-vmm --restore
 * reads as hostile input: the state file's container (snapshot_file_parse, build id check
 * skipped so the fuzzer gets past it), then every section's payload fed to the decoders that
 * run before any vCPU: the UART and RTC state, a virtio transport with its queues (an rng
 * device over simulated guest RAM), and a copy-on-write disk's layer runs. Nothing may crash,
 * hang or read outside its buffer; a refused record is fine. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/rtc_pl031.h"
#include "devices/uart_8250.h"
#include "devices/virtio/disk_image.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/snapshot_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_env env;
static bool env_ready;
static char disk_path[64];

static void setup(void)
{
    struct vmm_config cfg = { .rng = true };
    env_ready = vt_env_init(&env, &cfg) == 0;
    strcpy(disk_path, "/tmp/silo-fuzz-snap-XXXXXX");
    int fd = mkstemp(disk_path);
    if (fd >= 0) {
        if (ftruncate(fd, 64 * 1024) != 0)
            abort();
        close(fd);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct snapshot_view v;
    char err[256];
    if (disk_path[0] == '\0')
        setup();
    if (snapshot_file_parse(data, size, NULL, 0, &v, err, sizeof err) != 0) {
        /* the sections' decoders see raw fuzz input too */
        v.count = 1;
        v.sections[0] = (struct snapshot_section){ .type = SNAP_PLATFORM, .index = 0, .data = data, .len = size };
    }
    for (uint32_t i = 0; i < v.count; i++) {
        const struct snapshot_section *s = &v.sections[i];
        struct state_reader r;
        struct uart_8250 uart;
        uart_8250_init(&uart, (struct irq_line){ .fd = -1 }, -1);
        state_reader_init(&r, s->data, (size_t)s->len);
        uart_8250_restore(&uart, &r, err, sizeof err);
        uart_8250_destroy(&uart);

        struct platform_services ps = { 0 };
        void *rtc = rtc_pl031_platform.create(&ps, err, sizeof err);
        state_reader_init(&r, s->data, (size_t)s->len);
        rtc_pl031_platform.restore(rtc, &r, err, sizeof err);
        rtc_pl031_platform.destroy(rtc);

        if (env_ready) {
            vt_write32(&env, 0, VIRTIO_MMIO_STATUS, 0);
            virtio_devices_restore(0, s->data, (size_t)s->len, -1, err, sizeof err);
            vt_run(&env);
        }

        struct disk_image d;
        if (disk_image_open(&d, disk_path, false, true) == 0) {
            int zero = open("/dev/zero", O_RDONLY);
            state_reader_init(&r, s->data, (size_t)s->len);
            disk_image_load_layer(&d, zero, &r);
            close(zero);
            disk_image_close(&d);
        }
    }
    return 0;
}
