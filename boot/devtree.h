/* boot/devtree.h — builds the guest's flattened device tree with libfdt.
 *
 * The caller describes the machine (RAM, vCPU MPIDRs, which GIC, which devices exist, the
 * command line, the initrd, random seeds) and gets a finished, packed blob. Only devices that
 * exist get nodes. The node set follows kvmtool/Firecracker (see boot/README.md):
 *   /                    compatible "linux,dummy-virt", #address-cells = #size-cells = 2,
 *                        interrupt-parent = <&gic>
 *   /chosen              bootargs, linux,initrd-start/-end, stdout-path, rng-seed, kaslr-seed
 *   /memory@80000000     the full RAM size
 *   /cpus/cpu@N          enable-method "psci", reg = MPIDR affinity bits
 *   /psci                "arm,psci-0.2", method "hvc"
 *   /timer               "arm,armv8-timer", PPIs 13, 14, 11, 10
 *   /intc@3fff0000       "arm,gic-v3" (dist + redists) or "arm,cortex-a15-gic" (dist + cpu if)
 *   /apb-pclk            fixed 24 MHz clock (the AMBA bus needs it for the PL031)
 *   /uart@1000000        "ns16550a", edge SPI
 *   /rtc@1010000         "arm,pl031", "arm,primecell"
 *   /silo-boot-marker@40000000   "silo,boot-marker" (guest init finds the marker address here)
 *   /virtio_mmio@...     "virtio,mmio", edge SPI, dma-coherent
 */
#ifndef SILO_BOOT_DEVTREE_H
#define SILO_BOOT_DEVTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVTREE_MAX_CPUS 64
#define DEVTREE_MAX_VIRTIO 32
#define DEVTREE_RNG_SEED_BYTES 64
#define DEVTREE_BUF_SIZE (64 * 1024) /* enough for 64 CPUs and 32 virtio slots */

#define DEVTREE_PHANDLE_GIC 1
#define DEVTREE_PHANDLE_CLOCK 2

struct devtree_mmio_dev {
    uint64_t base;
    uint64_t size;
    uint32_t spi;
};

struct devtree_machine {
    uint64_t mem_base;
    uint64_t mem_size;

    uint32_t cpu_count;
    uint64_t mpidr[DEVTREE_MAX_CPUS]; /* as read back from KVM (MPIDR_EL1) */

    int gic_version;        /* 3 or 2 */
    bool has_pmu;           /* a PMUv3 node, its interrupt PMU_PPI */
    uint64_t gic_dist_base;
    uint64_t gic_dist_size;
    uint64_t gic_redist_base; /* GICv3: redistributors; GICv2: CPU interface */
    uint64_t gic_redist_size;

    const char *bootargs;   /* NULL: none */
    uint64_t initrd_start;  /* initrd_end == 0: no initrd */
    uint64_t initrd_end;

    bool has_uart;
    struct devtree_mmio_dev uart;
    bool has_rtc;
    uint64_t rtc_base;
    uint32_t rtc_spi;         /* its match interrupt (edge-rising) */
    bool has_boot_marker;
    uint64_t boot_marker_base;

    uint32_t virtio_count;
    struct devtree_mmio_dev virtio[DEVTREE_MAX_VIRTIO];

    uint8_t rng_seed[DEVTREE_RNG_SEED_BYTES];
    uint64_t kaslr_seed;
};

/* Writes the blob into buf (bufsize bytes) and packs it. Returns the blob size, or -1 with a
 * one-line reason in err. */
long devtree_build(const struct devtree_machine *m, void *buf, size_t bufsize, char *err, size_t errlen);

/* Fills rng_seed and kaslr_seed from getrandom(). Returns 0 or -errno. */
int devtree_fill_seeds(struct devtree_machine *m);

#endif
