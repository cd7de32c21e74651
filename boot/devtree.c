/* boot/devtree.c — the guest device tree, built with libfdt's sequential-write API (see
 * devtree.h for the node set). */
#include "boot/devtree.h"

#include <errno.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "boot/layout.h"

#define GIC_FDT_IRQ_TYPE_SPI 0
#define GIC_FDT_IRQ_TYPE_PPI 1
#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_LEVEL_HIGH 4
#define GICV3_MAINT_PPI 9
#define GICV2_MAINT_PPI 8
#define MPIDR_HWID_MASK 0xff00ffffffULL

/* Every libfdt call goes through TRY: the first failure stops the build with its reason. */
#define TRY(call)                                                                                                     \
    do {                                                                                                              \
        int try_err_ = (call);                                                                                        \
        if (try_err_ < 0) {                                                                                           \
            snprintf(err, errlen, "device tree: %s: %s", #call, fdt_strerror(try_err_));                             \
            return -1;                                                                                                \
        }                                                                                                             \
    } while (0)

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
    fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };
    return fdt_property(fdt, "reg", reg, sizeof reg);
}

static int prop_irq(void *fdt, uint32_t type, uint32_t num, uint32_t flags)
{
    fdt32_t irq[3] = { cpu_to_fdt32(type), cpu_to_fdt32(num), cpu_to_fdt32(flags) };
    return fdt_property(fdt, "interrupts", irq, sizeof irq);
}

static int node_name(char *out, size_t len, const char *name, uint64_t addr)
{
    snprintf(out, len, "%s@%llx", name, (unsigned long long)addr);
    return 0;
}

static long add_chosen(void *fdt, const struct devtree_machine *m, char *err, size_t errlen)
{
    TRY(fdt_begin_node(fdt, "chosen"));
    if (m->bootargs != NULL)
        TRY(fdt_property_string(fdt, "bootargs", m->bootargs));
    if (m->initrd_end != 0) {
        TRY(fdt_property_u64(fdt, "linux,initrd-start", m->initrd_start));
        TRY(fdt_property_u64(fdt, "linux,initrd-end", m->initrd_end));
    }
    if (m->has_uart) {
        char path[64];
        snprintf(path, sizeof path, "/uart@%llx", (unsigned long long)m->uart.base);
        TRY(fdt_property_string(fdt, "stdout-path", path));
    }
    TRY(fdt_property(fdt, "rng-seed", m->rng_seed, sizeof m->rng_seed));
    TRY(fdt_property_u64(fdt, "kaslr-seed", m->kaslr_seed));
    TRY(fdt_end_node(fdt));
    return 0;
}

static long add_cpus(void *fdt, const struct devtree_machine *m, char *err, size_t errlen)
{
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    for (uint32_t i = 0; i < m->cpu_count; i++) {
        uint64_t hwid = m->mpidr[i] & MPIDR_HWID_MASK;
        char name[32];
        node_name(name, sizeof name, "cpu", hwid);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_string(fdt, "device_type", "cpu"));
        TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
        TRY(fdt_property_string(fdt, "enable-method", "psci"));
        TRY(fdt_property_u64(fdt, "reg", hwid));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_end_node(fdt));
    return 0;
}

static long add_gic(void *fdt, const struct devtree_machine *m, char *err, size_t errlen)
{
    char name[32];
    node_name(name, sizeof name, "intc", m->gic_dist_base);
    TRY(fdt_begin_node(fdt, name));
    if (m->gic_version == 3)
        TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
    else
        TRY(fdt_property_string(fdt, "compatible", "arm,cortex-a15-gic"));
    TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
    TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property(fdt, "ranges", NULL, 0));
    fdt64_t reg[4] = { cpu_to_fdt64(m->gic_dist_base), cpu_to_fdt64(m->gic_dist_size),
                       cpu_to_fdt64(m->gic_redist_base), cpu_to_fdt64(m->gic_redist_size) };
    TRY(fdt_property(fdt, "reg", reg, sizeof reg));
    TRY(prop_irq(fdt, GIC_FDT_IRQ_TYPE_PPI, m->gic_version == 3 ? GICV3_MAINT_PPI : GICV2_MAINT_PPI,
                 IRQ_TYPE_LEVEL_HIGH));
    TRY(fdt_property_u32(fdt, "phandle", DEVTREE_PHANDLE_GIC));
    TRY(fdt_end_node(fdt));
    return 0;
}

static long add_timer_psci_clock(void *fdt, const struct devtree_machine *m, char *err, size_t errlen)
{
    /* GICv2 PPIs carry a CPU mask in the flags cell; GICv3 ignores it. */
    uint32_t flags = IRQ_TYPE_LEVEL_HIGH;
    if (m->gic_version == 2)
        flags |= (((1u << (m->cpu_count > 8 ? 8 : m->cpu_count)) - 1) & 0xff) << 8;
    static const uint32_t ppis[4] = { TIMER_PPI_SEC_PHYS, TIMER_PPI_PHYS, TIMER_PPI_VIRT, TIMER_PPI_HYP };
    fdt32_t irqs[12];
    for (int i = 0; i < 4; i++) {
        irqs[i * 3] = cpu_to_fdt32(GIC_FDT_IRQ_TYPE_PPI);
        irqs[i * 3 + 1] = cpu_to_fdt32(ppis[i]);
        irqs[i * 3 + 2] = cpu_to_fdt32(flags);
    }
    TRY(fdt_begin_node(fdt, "timer"));
    TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
    TRY(fdt_property(fdt, "always-on", NULL, 0));
    TRY(fdt_property(fdt, "interrupts", irqs, sizeof irqs));
    TRY(fdt_end_node(fdt));

    if (m->has_pmu) {
        TRY(fdt_begin_node(fdt, "pmu"));
        TRY(fdt_property_string(fdt, "compatible", "arm,armv8-pmuv3"));
        TRY(prop_irq(fdt, GIC_FDT_IRQ_TYPE_PPI, PMU_PPI, flags));
        TRY(fdt_end_node(fdt));
    }

    TRY(fdt_begin_node(fdt, "psci"));
    TRY(fdt_property_string(fdt, "compatible", "arm,psci-0.2"));
    TRY(fdt_property_string(fdt, "method", "hvc"));
    TRY(fdt_end_node(fdt));

    TRY(fdt_begin_node(fdt, "apb-pclk"));
    TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
    TRY(fdt_property_u32(fdt, "#clock-cells", 0));
    TRY(fdt_property_u32(fdt, "clock-frequency", 24000000));
    TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
    TRY(fdt_property_u32(fdt, "phandle", DEVTREE_PHANDLE_CLOCK));
    TRY(fdt_end_node(fdt));
    return 0;
}

static long add_platform_devices(void *fdt, const struct devtree_machine *m, char *err, size_t errlen)
{
    char name[48];
    if (m->has_uart) {
        node_name(name, sizeof name, "uart", m->uart.base);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
        TRY(prop_reg(fdt, m->uart.base, m->uart.size));
        TRY(fdt_property_u32(fdt, "clock-frequency", 1843200));
        TRY(prop_irq(fdt, GIC_FDT_IRQ_TYPE_SPI, m->uart.spi, IRQ_TYPE_EDGE_RISING));
        TRY(fdt_end_node(fdt));
    }
    if (m->has_rtc) {
        static const char compat[] = "arm,pl031\0arm,primecell";
        node_name(name, sizeof name, "rtc", m->rtc_base);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property(fdt, "compatible", compat, sizeof compat));
        TRY(prop_reg(fdt, m->rtc_base, RTC_MMIO_SIZE));
        TRY(prop_irq(fdt, GIC_FDT_IRQ_TYPE_SPI, m->rtc_spi, IRQ_TYPE_EDGE_RISING));
        TRY(fdt_property_u32(fdt, "clocks", DEVTREE_PHANDLE_CLOCK));
        TRY(fdt_property_string(fdt, "clock-names", "apb_pclk"));
        TRY(fdt_end_node(fdt));
    }
    if (m->has_boot_marker) {
        node_name(name, sizeof name, "silo-boot-marker", m->boot_marker_base);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_string(fdt, "compatible", "silo,boot-marker"));
        TRY(prop_reg(fdt, m->boot_marker_base, BOOT_MARKER_SIZE));
        TRY(fdt_end_node(fdt));
    }
    for (uint32_t i = 0; i < m->virtio_count; i++) {
        const struct devtree_mmio_dev *v = &m->virtio[i];
        node_name(name, sizeof name, "virtio_mmio", v->base);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
        TRY(prop_reg(fdt, v->base, v->size));
        TRY(prop_irq(fdt, GIC_FDT_IRQ_TYPE_SPI, v->spi, IRQ_TYPE_EDGE_RISING));
        TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
        TRY(fdt_end_node(fdt));
    }
    return 0;
}

static long check_machine(const struct devtree_machine *m, char *err, size_t errlen)
{
    if (m->cpu_count == 0 || m->cpu_count > DEVTREE_MAX_CPUS) {
        snprintf(err, errlen, "device tree: %u CPUs (1..%d supported)", m->cpu_count, DEVTREE_MAX_CPUS);
        return -1;
    }
    if (m->virtio_count > DEVTREE_MAX_VIRTIO) {
        snprintf(err, errlen, "device tree: %u virtio devices (at most %d)", m->virtio_count, DEVTREE_MAX_VIRTIO);
        return -1;
    }
    if (m->gic_version != 2 && m->gic_version != 3) {
        snprintf(err, errlen, "device tree: unknown GIC version %d", m->gic_version);
        return -1;
    }
    if (m->mem_size == 0) {
        snprintf(err, errlen, "device tree: no memory");
        return -1;
    }
    return 0;
}

long devtree_build(const struct devtree_machine *m, void *buf, size_t bufsize, char *err, size_t errlen)
{
    if (check_machine(m, err, errlen) != 0)
        return -1;
    TRY(fdt_create(buf, (int)bufsize));
    TRY(fdt_finish_reservemap(buf));
    TRY(fdt_begin_node(buf, ""));
    TRY(fdt_property_string(buf, "compatible", "linux,dummy-virt"));
    TRY(fdt_property_string(buf, "model", "silo-vmm"));
    TRY(fdt_property_u32(buf, "#address-cells", 2));
    TRY(fdt_property_u32(buf, "#size-cells", 2));
    TRY(fdt_property_u32(buf, "interrupt-parent", DEVTREE_PHANDLE_GIC));
    if (add_chosen(buf, m, err, errlen) != 0)
        return -1;
    char name[32];
    node_name(name, sizeof name, "memory", m->mem_base);
    TRY(fdt_begin_node(buf, name));
    TRY(fdt_property_string(buf, "device_type", "memory"));
    TRY(prop_reg(buf, m->mem_base, m->mem_size));
    TRY(fdt_end_node(buf));
    if (add_cpus(buf, m, err, errlen) != 0 || add_gic(buf, m, err, errlen) != 0 ||
        add_timer_psci_clock(buf, m, err, errlen) != 0 || add_platform_devices(buf, m, err, errlen) != 0)
        return -1;
    TRY(fdt_end_node(buf));
    TRY(fdt_finish(buf));
    TRY(fdt_pack(buf));
    return (long)fdt_totalsize(buf);
}

int devtree_fill_seeds(struct devtree_machine *m)
{
    uint8_t bytes[DEVTREE_RNG_SEED_BYTES + sizeof(uint64_t)];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t r = getrandom(bytes + got, sizeof bytes - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    memcpy(m->rng_seed, bytes, DEVTREE_RNG_SEED_BYTES);
    memcpy(&m->kaslr_seed, bytes + DEVTREE_RNG_SEED_BYTES, sizeof m->kaslr_seed);
    explicit_bzero(bytes, sizeof bytes);
    return 0;
}
