/* tests/unit/test_fdt.c — boot/devtree.c: the produced blob is parsed back with libfdt and every
 * node and property the guest relies on is checked, for GICv3 and GICv2 machines, with and
 * without optional devices. */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "boot/devtree.h"
#include "boot/layout.h"
#include "tests/unit/check.h"

static uint8_t blob[DEVTREE_BUF_SIZE];
static char err[256];

static void full_machine(struct devtree_machine *m)
{
    memset(m, 0, sizeof *m);
    m->mem_base = DRAM_BASE;
    m->mem_size = 256ULL << 20;
    m->cpu_count = 2;
    m->mpidr[0] = 0x80000000ULL; /* MPIDR_EL1 has RES1 bit 31: it must not reach reg */
    m->mpidr[1] = 0x80000001ULL;
    m->gic_version = 3;
    m->gic_dist_base = GIC_DIST_BASE;
    m->gic_dist_size = GIC_DIST_SIZE;
    m->gic_redist_size = 2 * GIC_REDIST_SIZE_PER_CPU;
    m->gic_redist_base = GIC_DIST_BASE - m->gic_redist_size;
    m->bootargs = "console=ttyS0 quiet";
    m->initrd_start = DRAM_BASE + (8ULL << 20);
    m->initrd_end = m->initrd_start + 12345;
    m->has_uart = true;
    m->uart = (struct devtree_mmio_dev){ UART_MMIO_BASE, UART_MMIO_SIZE, UART_SPI };
    m->has_rtc = true;
    m->rtc_base = RTC_MMIO_BASE;
    m->rtc_spi = RTC_SPI;
    m->has_boot_marker = true;
    m->boot_marker_base = BOOT_MARKER_BASE;
    m->virtio_count = 2;
    for (uint32_t i = 0; i < 2; i++)
        m->virtio[i] = (struct devtree_mmio_dev){ VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE, VIRTIO_MMIO_SLOT_SIZE,
                                                  VIRTIO_SPI_BASE + i };
    for (int i = 0; i < DEVTREE_RNG_SEED_BYTES; i++)
        m->rng_seed[i] = (uint8_t)(i + 1);
    m->kaslr_seed = 0x1122334455667788ULL;
}

static long build(const struct devtree_machine *m)
{
    long n = devtree_build(m, blob, sizeof blob, err, sizeof err);
    if (n > 0) {
        CHECK_EQ(fdt_check_header(blob), 0);
        CHECK_EQ(fdt_check_full(blob, (size_t)n), 0);
        CHECK_EQ(fdt_totalsize(blob), n);
    }
    return n;
}

static int node(const char *path)
{
    return fdt_path_offset(blob, path);
}

static bool prop_is_string(const char *path, const char *name, const char *want)
{
    int len;
    const char *v = fdt_getprop(blob, node(path), name, &len);
    return v != NULL && (size_t)len == strlen(want) + 1 && memcmp(v, want, (size_t)len) == 0;
}

static bool prop_exists(const char *path, const char *name)
{
    return fdt_getprop(blob, node(path), name, NULL) != NULL;
}

static uint32_t prop_u32(const char *path, const char *name, int index)
{
    int len;
    const fdt32_t *v = fdt_getprop(blob, node(path), name, &len);
    if (v == NULL || len < (index + 1) * 4)
        return 0xdeadbeef;
    return fdt32_to_cpu(v[index]);
}

static uint64_t prop_u64(const char *path, const char *name, int index)
{
    int len;
    const uint8_t *v = fdt_getprop(blob, node(path), name, &len);
    if (v == NULL || len < (index + 1) * 8)
        return 0xdeadbeefdeadbeefULL;
    fdt64_t raw; /* properties are only 4-byte aligned */
    memcpy(&raw, v + index * 8, sizeof raw);
    return fdt64_to_cpu(raw);
}

static int prop_len(const char *path, const char *name)
{
    int len = -1;
    if (fdt_getprop(blob, node(path), name, &len) == NULL)
        return -1;
    return len;
}

static void test_root_and_memory(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK(build(&m) > 0);
    CHECK(prop_is_string("/", "compatible", "linux,dummy-virt"));
    CHECK_EQ(prop_u32("/", "#address-cells", 0), 2);
    CHECK_EQ(prop_u32("/", "#size-cells", 0), 2);
    CHECK_EQ(prop_u32("/", "interrupt-parent", 0), DEVTREE_PHANDLE_GIC);
    CHECK(prop_is_string("/memory@80000000", "device_type", "memory"));
    CHECK_EQ(prop_u64("/memory@80000000", "reg", 0), DRAM_BASE);
    CHECK_EQ(prop_u64("/memory@80000000", "reg", 1), 256ULL << 20); /* the full size */
}

static void test_chosen(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK(build(&m) > 0);
    CHECK(prop_is_string("/chosen", "bootargs", "console=ttyS0 quiet"));
    CHECK_EQ(prop_u64("/chosen", "linux,initrd-start", 0), m.initrd_start);
    CHECK_EQ(prop_u64("/chosen", "linux,initrd-end", 0), m.initrd_end);
    CHECK(prop_is_string("/chosen", "stdout-path", "/uart@1000000"));
    CHECK(node("/uart@1000000") >= 0); /* stdout-path resolves */
    CHECK_EQ(prop_len("/chosen", "rng-seed"), DEVTREE_RNG_SEED_BYTES);
    const uint8_t *seed = fdt_getprop(blob, node("/chosen"), "rng-seed", NULL);
    CHECK(seed != NULL && memcmp(seed, m.rng_seed, DEVTREE_RNG_SEED_BYTES) == 0);
    CHECK_EQ(prop_u64("/chosen", "kaslr-seed", 0), 0x1122334455667788ULL);
}

static void test_cpus_psci_timer(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK(build(&m) > 0);
    CHECK_EQ(prop_u32("/cpus", "#address-cells", 0), 2);
    CHECK_EQ(prop_u32("/cpus", "#size-cells", 0), 0);
    CHECK(prop_is_string("/cpus/cpu@0", "device_type", "cpu"));
    CHECK(prop_is_string("/cpus/cpu@0", "enable-method", "psci"));
    CHECK(prop_is_string("/cpus/cpu@0", "compatible", "arm,arm-v8"));
    CHECK_EQ(prop_u64("/cpus/cpu@0", "reg", 0), 0);
    CHECK_EQ(prop_u64("/cpus/cpu@1", "reg", 0), 1);
    CHECK(prop_is_string("/cpus/cpu@1", "enable-method", "psci"));
    int count = 0;
    for (int off = fdt_first_subnode(blob, node("/cpus")); off >= 0; off = fdt_next_subnode(blob, off))
        count++;
    CHECK_EQ(count, 2);
    CHECK(prop_is_string("/psci", "compatible", "arm,psci-0.2"));
    CHECK(prop_is_string("/psci", "method", "hvc"));
    CHECK(prop_is_string("/timer", "compatible", "arm,armv8-timer"));
    CHECK(prop_exists("/timer", "always-on"));
    CHECK_EQ(prop_len("/timer", "interrupts"), 48);
    static const uint32_t ppis[4] = { 13, 14, 11, 10 };
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(prop_u32("/timer", "interrupts", i * 3), 1); /* PPI */
        CHECK_EQ(prop_u32("/timer", "interrupts", i * 3 + 1), ppis[i]);
        CHECK_EQ(prop_u32("/timer", "interrupts", i * 3 + 2), 4); /* level high, no CPU mask on v3 */
    }
}

static void test_gic_v3(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK(build(&m) > 0);
    const char *gic = "/intc@3fff0000";
    CHECK(prop_is_string(gic, "compatible", "arm,gic-v3"));
    CHECK(prop_exists(gic, "interrupt-controller"));
    CHECK_EQ(prop_u32(gic, "#interrupt-cells", 0), 3);
    CHECK_EQ(prop_u32(gic, "phandle", 0), DEVTREE_PHANDLE_GIC);
    CHECK_EQ(prop_u64(gic, "reg", 0), GIC_DIST_BASE);
    CHECK_EQ(prop_u64(gic, "reg", 1), GIC_DIST_SIZE);
    CHECK_EQ(prop_u64(gic, "reg", 2), GIC_DIST_BASE - 2 * GIC_REDIST_SIZE_PER_CPU);
    CHECK_EQ(prop_u64(gic, "reg", 3), 2 * GIC_REDIST_SIZE_PER_CPU);
    CHECK_EQ(prop_u32(gic, "interrupts", 1), 9); /* maintenance PPI */
    CHECK_EQ(fdt_node_offset_by_phandle(blob, DEVTREE_PHANDLE_GIC), node(gic));
}

static void test_gic_v2(void)
{
    struct devtree_machine m;
    full_machine(&m);
    m.gic_version = 2;
    m.gic_dist_size = GIC_V2_DIST_SIZE;
    m.gic_redist_base = GIC_V2_CPU_IF_BASE;
    m.gic_redist_size = GIC_V2_CPU_IF_SIZE;
    CHECK(build(&m) > 0);
    const char *gic = "/intc@3fff0000";
    CHECK(prop_is_string(gic, "compatible", "arm,cortex-a15-gic"));
    CHECK_EQ(prop_u64(gic, "reg", 2), GIC_V2_CPU_IF_BASE);
    CHECK_EQ(prop_u64(gic, "reg", 3), GIC_V2_CPU_IF_SIZE);
    CHECK_EQ(prop_u32(gic, "interrupts", 1), 8);
    CHECK_EQ(prop_u32("/timer", "interrupts", 2), 4 | (0x3 << 8)); /* CPU mask for 2 CPUs */
}

static void test_platform_devices(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK(build(&m) > 0);
    const char *uart = "/uart@1000000";
    CHECK(prop_is_string(uart, "compatible", "ns16550a"));
    CHECK_EQ(prop_u64(uart, "reg", 0), UART_MMIO_BASE);
    CHECK_EQ(prop_u64(uart, "reg", 1), UART_MMIO_SIZE);
    CHECK_EQ(prop_u32(uart, "interrupts", 0), 0);
    CHECK_EQ(prop_u32(uart, "interrupts", 1), UART_SPI);
    CHECK_EQ(prop_u32(uart, "interrupts", 2), 1); /* edge rising */
    CHECK_EQ(prop_u32(uart, "clock-frequency", 0), 1843200);

    const char *rtc = "/rtc@1010000";
    CHECK_EQ(prop_len(rtc, "compatible"), (int)sizeof "arm,pl031\0arm,primecell");
    CHECK_EQ(fdt_node_check_compatible(blob, node(rtc), "arm,pl031"), 0);
    CHECK_EQ(fdt_node_check_compatible(blob, node(rtc), "arm,primecell"), 0);
    CHECK_EQ(prop_u64(rtc, "reg", 0), RTC_MMIO_BASE);
    CHECK_EQ(prop_u32(rtc, "clocks", 0), DEVTREE_PHANDLE_CLOCK);
    CHECK(prop_is_string(rtc, "clock-names", "apb_pclk"));
    CHECK_EQ(prop_u32(rtc, "interrupts", 0), 0);       /* SPI */
    CHECK_EQ(prop_u32(rtc, "interrupts", 1), RTC_SPI);  /* its match (alarm) interrupt */
    CHECK_EQ(prop_u32(rtc, "interrupts", 2), 1);        /* edge rising */
    CHECK_EQ(fdt_node_offset_by_phandle(blob, DEVTREE_PHANDLE_CLOCK), node("/apb-pclk"));
    CHECK(prop_is_string("/apb-pclk", "compatible", "fixed-clock"));
    CHECK_EQ(prop_u32("/apb-pclk", "#clock-cells", 0), 0);
    CHECK_EQ(prop_u32("/apb-pclk", "clock-frequency", 0), 24000000);

    const char *marker = "/silo-boot-marker@40000000";
    CHECK(prop_is_string(marker, "compatible", "silo,boot-marker"));
    CHECK_EQ(prop_u64(marker, "reg", 0), BOOT_MARKER_BASE);
    CHECK_EQ(prop_u64(marker, "reg", 1), BOOT_MARKER_SIZE);
}

static void test_virtio_nodes(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK(build(&m) > 0);
    const char *names[2] = { "/virtio_mmio@3000000", "/virtio_mmio@3001000" };
    for (int i = 0; i < 2; i++) {
        CHECK(prop_is_string(names[i], "compatible", "virtio,mmio"));
        CHECK_EQ(prop_u64(names[i], "reg", 0), VIRTIO_MMIO_BASE + (uint64_t)i * VIRTIO_MMIO_SLOT_SIZE);
        CHECK_EQ(prop_u64(names[i], "reg", 1), VIRTIO_MMIO_SLOT_SIZE);
        CHECK_EQ(prop_u32(names[i], "interrupts", 0), 0);
        CHECK_EQ(prop_u32(names[i], "interrupts", 1), VIRTIO_SPI_BASE + (uint32_t)i);
        CHECK_EQ(prop_u32(names[i], "interrupts", 2), 1);
        CHECK(prop_exists(names[i], "dma-coherent"));
    }
    CHECK(node("/virtio_mmio@3002000") < 0);
}

static void test_only_existing_devices(void)
{
    struct devtree_machine m;
    full_machine(&m);
    m.has_uart = m.has_rtc = m.has_boot_marker = false;
    m.virtio_count = 0;
    m.initrd_start = m.initrd_end = 0;
    m.bootargs = NULL;
    m.cpu_count = 1;
    CHECK(build(&m) > 0);
    CHECK(node("/uart@1000000") < 0);
    CHECK(node("/rtc@1010000") < 0);
    CHECK(node("/silo-boot-marker@40000000") < 0);
    CHECK(node("/virtio_mmio@3000000") < 0);
    CHECK(node("/cpus/cpu@1") < 0);
    CHECK(!prop_exists("/chosen", "stdout-path"));
    CHECK(!prop_exists("/chosen", "linux,initrd-start"));
    CHECK(!prop_exists("/chosen", "bootargs"));
    CHECK(prop_exists("/chosen", "rng-seed"));
}

static void test_many_cpus_and_mpidr_affinity(void)
{
    struct devtree_machine m;
    full_machine(&m);
    m.cpu_count = DEVTREE_MAX_CPUS;
    for (uint32_t i = 0; i < m.cpu_count; i++)
        m.mpidr[i] = 0x80000000ULL | ((uint64_t)(i / 16) << 8) | (i % 16);
    m.virtio_count = DEVTREE_MAX_VIRTIO;
    for (uint32_t i = 0; i < m.virtio_count; i++)
        m.virtio[i] = (struct devtree_mmio_dev){ VIRTIO_MMIO_BASE + i * 0x1000, 0x1000, VIRTIO_SPI_BASE + i };
    CHECK(build(&m) > 0);
    CHECK_EQ(prop_u64("/cpus/cpu@30f", "reg", 0), 0x30f);
    CHECK(node("/virtio_mmio@301f000") >= 0);
}

static void test_errors(void)
{
    struct devtree_machine m;
    full_machine(&m);
    CHECK_EQ(devtree_build(&m, blob, 256, err, sizeof err), -1); /* buffer too small */
    CHECK(strstr(err, "device tree") != NULL && strchr(err, '\n') == NULL);
    m.cpu_count = 0;
    CHECK_EQ(devtree_build(&m, blob, sizeof blob, err, sizeof err), -1);
    full_machine(&m);
    m.virtio_count = DEVTREE_MAX_VIRTIO + 1;
    CHECK_EQ(devtree_build(&m, blob, sizeof blob, err, sizeof err), -1);
    full_machine(&m);
    m.gic_version = 4;
    CHECK_EQ(devtree_build(&m, blob, sizeof blob, err, sizeof err), -1);
}

static void test_seeds_are_random(void)
{
    struct devtree_machine a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    CHECK_EQ(devtree_fill_seeds(&a), 0);
    CHECK_EQ(devtree_fill_seeds(&b), 0);
    CHECK(memcmp(a.rng_seed, b.rng_seed, sizeof a.rng_seed) != 0);
    CHECK(a.kaslr_seed != b.kaslr_seed);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "root node and /memory with the full RAM size", test_root_and_memory },
        { "/chosen: bootargs, initrd, stdout-path, rng-seed, kaslr-seed", test_chosen },
        { "/cpus with psci enable-method, /psci 0.2 hvc, /timer PPIs 13 14 11 10", test_cpus_psci_timer },
        { "GICv3 node: dist + redistributors, phandle", test_gic_v3 },
        { "GICv2 node: dist + CPU interface, timer CPU mask", test_gic_v2 },
        { "uart, rtc (+ apb-pclk), boot marker nodes", test_platform_devices },
        { "virtio-mmio nodes: edge SPI, dma-coherent", test_virtio_nodes },
        { "only existing devices get nodes", test_only_existing_devices },
        { "64 CPUs with affinity levels and 32 virtio slots fit", test_many_cpus_and_mpidr_affinity },
        { "errors: small buffer, bad counts, unknown GIC", test_errors },
        { "rng-seed and kaslr-seed come from getrandom", test_seeds_are_random },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
