/* tests/unit/test_virtio_mmio.c — the virtio-mmio transport and the device registry: slots,
 * identification, feature negotiation, the status machine, queue set-up, notifications through
 * the ioeventfd and the MMIO path, interrupts, reset and hostile register use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/layout.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_test_driver.h"

static const uint64_t FEATURES = VIRTIO_BIT(VIRTIO_F_VERSION_1);
static char disk_path[] = "/tmp/silo-test-mmio-XXXXXX";

static void make_disk(void)
{
    int fd = mkstemp(disk_path);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, 1 << 20), 0);
    close(fd);
}

static void test_registry_slots(void)
{
    char uds[64];
    snprintf(uds, sizeof uds, "/tmp/silo-test-mmio-%d.sock", getpid());
    struct vmm_config cfg = { .disk_count = 2, .vsock_cid = 3, .vsock_uds = uds, .rng = true };
    cfg.disks[0] = (struct vmm_disk){ .path = disk_path };
    cfg.disks[1] = (struct vmm_disk){ .path = disk_path, .read_only = true };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    CHECK_EQ(e.slot_count, 4);
    static const uint32_t ids[] = { VIRTIO_ID_BLOCK, VIRTIO_ID_BLOCK, VIRTIO_ID_VSOCK, VIRTIO_ID_RNG };
    static const uint32_t queues[] = { 1, 1, 3, 1 };
    int ioev = 0;
    for (uint32_t i = 0; i < 4; i++) {
        CHECK_EQ(e.slots[i].base, VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE);
        CHECK_EQ(e.slots[i].size, VIRTIO_MMIO_SLOT_SIZE);
        CHECK_EQ(e.slots[i].spi, VIRTIO_SPI_BASE + i);
        CHECK_EQ(e.irq_spi[i], VIRTIO_SPI_BASE + i);
        CHECK_EQ(vt_read32(&e, i, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
        CHECK_EQ(vt_read32(&e, i, VIRTIO_MMIO_VERSION), 2);
        CHECK_EQ(vt_read32(&e, i, VIRTIO_MMIO_DEVICE_ID), ids[i]);
        CHECK_EQ(e.slots[i].device_id, ids[i]);
        for (uint32_t qi = 0; qi < queues[i]; qi++, ioev++) {
            CHECK_EQ(e.ioev[ioev].gpa, e.slots[i].base + 0x50);
            CHECK_EQ(e.ioev[ioev].datamatch, qi);
        }
    }
    CHECK_EQ(e.ioev_count, ioev);
    vt_env_fini(&e);
}

static void test_too_many_devices(void)
{
    struct vmm_config cfg = { .disk_count = VMM_MAX_DISKS, .rng = true };
    for (int i = 0; i < VMM_MAX_DISKS; i++)
        cfg.disks[i] = (struct vmm_disk){ .path = disk_path };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), -ENOSPC); /* VT_MAX_SLOTS is 8: 9 devices do not fit */
    CHECK_EQ(e.slot_count, 0);
    vt_env_fini(&e);
}

static void test_missing_disk_fails_cleanly(void)
{
    struct vmm_config cfg = { .disk_count = 1 };
    cfg.disks[0] = (struct vmm_disk){ .path = "/nonexistent/silo.img" };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), -ENOENT);
    vt_env_fini(&e);
}

static void test_feature_negotiation(void)
{
    struct vmm_config cfg = { .rng = true };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    vt_write32(&e, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 = bit 32 */
    vt_write32(&e, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint32_t low = vt_read32(&e, 0, VIRTIO_MMIO_DEVICE_FEATURES);
    CHECK(low & (1u << VIRTIO_F_RING_EVENT_IDX));
    CHECK(low & (1u << VIRTIO_F_RING_INDIRECT_DESC));
    vt_write32(&e, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_DEVICE_FEATURES), 0);

    struct vt_queue q;
    vt_queue_alloc(&e, &q, 0, 0, 16);
    /* legacy driver (no VERSION_1): FEATURES_OK refused */
    CHECK(!(vt_device_up(&e, 0, 0, &q, 1) & VIRTIO_STATUS_FEATURES_OK));
    /* a feature the device never offered: refused */
    CHECK(!(vt_device_up(&e, 0, FEATURES | VIRTIO_BIT(40), &q, 1) & VIRTIO_STATUS_FEATURES_OK));
    CHECK(!(vt_read32(&e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK));
    /* DRIVER_OK without FEATURES_OK does not stick */
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    CHECK(!(vt_read32(&e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK));
    /* a correct one */
    CHECK_EQ(vt_device_up(&e, 0, FEATURES, &q, 1), 0xf);
    /* features cannot change after FEATURES_OK */
    vt_write32(&e, 0, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    vt_write32(&e, 0, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_F_RING_EVENT_IDX);
    /* a driver clearing status bits is ignored */
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_STATUS), 0xf);
    vt_env_fini(&e);
}

static void test_register_widths_and_unknown_offsets(void)
{
    struct vmm_config cfg = { .rng = true };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    uint16_t half = 0xffff;
    mmio_bus_read(&e.bus, e.slots[0].base, &half, 2); /* 16-bit read of a 32-bit register */
    CHECK_EQ(half, 0);
    uint8_t byte = 0xff;
    mmio_bus_read(&e.bus, e.slots[0].base + 1, &byte, 1);
    CHECK_EQ(byte, 0);
    CHECK_EQ(vt_read32(&e, 0, 0x3fc), 0);
    CHECK_EQ(vt_read32(&e, 0, 0xffc), 0); /* config space beyond its size */
    vt_write32(&e, 0, 0xffc, 0x12345678);
    vt_write32(&e, 0, VIRTIO_MMIO_MAGIC_VALUE, 0);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    /* queue registers of a queue that does not exist */
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_SEL, 9);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_READY, 1);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_QUEUE_READY), 0);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_NOTIFY, 0xdeadbeef); /* nonexistent queue: ignored */
    vt_run(&e);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
    vt_env_fini(&e);
}

static void test_config_space(void)
{
    struct vmm_config cfg = { .disk_count = 1 };
    cfg.disks[0] = (struct vmm_disk){ .path = disk_path };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    uint64_t cap = 0;
    CHECK(mmio_bus_read(&e.bus, e.slots[0].base + 0x100, &cap, 8));
    CHECK_EQ(cap, (1 << 20) / 512);
    uint32_t lo = vt_read32(&e, 0, 0x100), hi = vt_read32(&e, 0, 0x104);
    CHECK_EQ(lo, 2048);
    CHECK_EQ(hi, 0);
    uint8_t b = 0;
    mmio_bus_read(&e.bus, e.slots[0].base + 0x101, &b, 1);
    CHECK_EQ(b, 8);
    CHECK_EQ(vt_read32(&e, 0, 0x100 + 20), 512); /* blk_size */
    vt_env_fini(&e);
}

static void test_queue_setup_rules(void)
{
    struct vmm_config cfg = { .rng = true };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    struct vt_queue q;
    vt_queue_alloc(&e, &q, 0, 0, 16);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_SEL, 0);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
    /* rings outside RAM: the device asks for a reset instead of using them */
    q.used = 0x1000;
    vt_device_up(&e, 0, FEATURES, &q, 1);
    CHECK(vt_read32(&e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_QUEUE_READY), 0);
    /* reset clears everything, including NEEDS_RESET */
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 0);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_STATUS), 0);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    /* non power of two size */
    vt_queue_alloc(&e, &q, 0, 0, 12);
    vt_device_up(&e, 0, FEATURES, &q, 1);
    CHECK(vt_read32(&e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* a good one; addresses of a ready queue cannot be changed */
    vt_queue_alloc(&e, &q, 0, 0, 16);
    CHECK_EQ(vt_device_up(&e, 0, FEATURES, &q, 1), 0xf);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
    uint64_t a = vt_alloc(&e, 16, 8);
    vt_add_chain(&q, &(struct vt_buf){ a, 16, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    uint32_t id, len;
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(len, 16);
    vt_env_fini(&e);
}

static void test_notify_paths_and_interrupts(void)
{
    struct vmm_config cfg = { .rng = true };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    struct vt_queue q;
    vt_queue_alloc(&e, &q, 0, 0, 16);
    /* buffers added before DRIVER_OK are served when DRIVER_OK is set */
    uint64_t a = vt_alloc(&e, 8, 8);
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 0);
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 1);
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 3);
    vt_write32(&e, 0, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    vt_write32(&e, 0, VIRTIO_MMIO_DRIVER_FEATURES, 1);
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 0xb);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_SEL, 0);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_NUM, 16);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q.desc);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q.avail);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q.used);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_READY, 1);
    vt_add_chain(&q, &(struct vt_buf){ a, 8, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    uint32_t id, len;
    CHECK(!vt_get_used(&q, &id, &len)); /* not before DRIVER_OK */
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 0xf);
    vt_run(&e);
    CHECK(vt_get_used(&q, &id, &len));
    CHECK(vt_irqs(&e, 0) >= 1);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
    vt_write32(&e, 0, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

    /* the ioeventfd path: KVM signals the recorded fd; the device serves the queue */
    vt_add_chain(&q, &(struct vt_buf){ a, 8, true }, 1);
    uint64_t one = 1;
    CHECK_EQ(write(e.ioev[0].fd, &one, 8), 8);
    CHECK(vt_run(&e) > 0);
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(vt_irqs(&e, 0), 1);

    /* the driver suppresses interrupts: none raised */
    uint16_t *avail = vt_ptr(&e, q.avail);
    avail[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
    vt_add_chain(&q, &(struct vt_buf){ a, 8, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(vt_irqs(&e, 0), 0);
    vt_env_fini(&e);
}

static void test_destroy_makes_window_inert(void)
{
    struct vmm_config cfg = { .rng = true };
    struct vt_env e;
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    virtio_devices_destroy();
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_MAGIC_VALUE), 0);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 0);
    virtio_devices_destroy(); /* twice is fine */
    vt_env_fini(&e);
}

int main(void)
{
    make_disk();
    static const struct unit_test tests[] = {
        { "registry: blk, blk, vsock, rng in consecutive slots, SPIs, ioeventfd per queue", test_registry_slots },
        { "registry: more devices than slots -> -ENOSPC, nothing left behind", test_too_many_devices },
        { "registry: a missing disk fails with -ENOENT", test_missing_disk_fails_cleanly },
        { "transport: feature negotiation (VERSION_1 required, unknown bits refused)", test_feature_negotiation },
        { "transport: odd widths, unknown offsets, nonexistent queues are harmless",
          test_register_widths_and_unknown_offsets },
        { "transport: config space reads at any width", test_config_space },
        { "transport: bad rings -> DEVICE_NEEDS_RESET, reset clears, ready queues are frozen",
          test_queue_setup_rules },
        { "transport: notify via MMIO and via ioeventfd, DRIVER_OK gating, interrupts and ACK",
          test_notify_paths_and_interrupts },
        { "transport: after destroy the window reads as zero", test_destroy_makes_window_inert },
    };
    int r = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    unlink(disk_path);
    return r;
}
