/* tests/unit/test_rng.c — virtio-rng: buffers come back full of random bytes; hostile chains. */
#include <string.h>

#include "devices/virtio/virtio_spec.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_test_driver.h"

static const uint64_t FEATURES = VIRTIO_BIT(VIRTIO_F_VERSION_1);

static void rng_up(struct vt_env *e, struct vt_queue *q)
{
    struct vmm_config cfg = { .rng = true };
    CHECK_EQ(vt_env_init(e, &cfg), 0);
    CHECK_EQ(e->slot_count, 1);
    CHECK_EQ(vt_read32(e, 0, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
    vt_queue_alloc(e, q, 0, 0, 16);
    CHECK(vt_device_up(e, 0, FEATURES, q, 1) & VIRTIO_STATUS_DRIVER_OK);
}

static void test_fills_buffers(void)
{
    struct vt_env e;
    struct vt_queue q;
    rng_up(&e, &q);
    uint64_t a = vt_alloc(&e, 64, 8), b = vt_alloc(&e, 64, 8);
    uint16_t ha = vt_add_chain(&q, &(struct vt_buf){ a, 64, true }, 1);
    uint16_t hb = vt_add_chain(&q, &(struct vt_buf){ b, 64, true }, 1);
    vt_kick(&q);
    CHECK(vt_run(&e) > 0);
    uint32_t id, len;
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(id, ha);
    CHECK_EQ(len, 64);
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(id, hb);
    CHECK_EQ(len, 64);
    CHECK(memcmp(vt_ptr(&e, a), vt_ptr(&e, b), 64) != 0);
    static const uint8_t zero[64];
    CHECK(memcmp(vt_ptr(&e, a), zero, 64) != 0);
    CHECK(vt_irqs(&e, 0) >= 1);
    vt_env_fini(&e);
}

static void test_readable_only_chain_gets_nothing(void)
{
    struct vt_env e;
    struct vt_queue q;
    rng_up(&e, &q);
    uint64_t a = vt_alloc(&e, 64, 8);
    vt_add_chain(&q, &(struct vt_buf){ a, 64, false }, 1);
    vt_kick(&q);
    vt_run(&e);
    uint32_t id, len = 99;
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(len, 0);
    CHECK(!(vt_read32(&e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    vt_env_fini(&e);
}

static void test_buffer_outside_ram_needs_reset(void)
{
    struct vt_env e;
    struct vt_queue q;
    rng_up(&e, &q);
    vt_add_chain(&q, &(struct vt_buf){ VT_RAM_BASE + VT_RAM_SIZE - 8, 64, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    uint32_t id, len;
    CHECK(!vt_get_used(&q, &id, &len));
    CHECK(vt_read32(&e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    CHECK(vt_read32(&e, 0, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
    /* after a reset the device works again */
    vt_queue_alloc(&e, &q, 0, 0, 16);
    CHECK(vt_device_up(&e, 0, FEATURES, &q, 1) & VIRTIO_STATUS_DRIVER_OK);
    uint64_t a = vt_alloc(&e, 32, 8);
    vt_add_chain(&q, &(struct vt_buf){ a, 32, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(len, 32);
    vt_env_fini(&e);
}

static void test_large_request_is_capped(void)
{
    struct vt_env e;
    struct vt_queue q;
    rng_up(&e, &q);
    uint64_t a = vt_alloc(&e, 1 << 20, 8);
    vt_add_chain(&q, &(struct vt_buf){ a, 1 << 20, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    uint32_t id, len;
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(len, 65536);
    vt_env_fini(&e);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "rng fills every buffer with fresh random bytes and interrupts", test_fills_buffers },
        { "rng returns a chain without writable buffers with 0 bytes", test_readable_only_chain_gets_nothing },
        { "rng buffer outside RAM: DEVICE_NEEDS_RESET, config interrupt, works after reset",
          test_buffer_outside_ram_needs_reset },
        { "rng caps one request at 64 KiB", test_large_request_is_capped },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
