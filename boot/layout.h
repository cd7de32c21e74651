/* boot/layout.h — Silo's guest physical memory map (arm64), shared by the VMM, the device
 * models and the device tree builder. boot/README.md has the same map as a table.
 *
 *   0x0000_0000 .. 0x00ff_ffff   unused (no flash, no boot ROM)
 *   0x0100_0000  ns16550a UART   (4 KiB)   SPI 1
 *   0x0101_0000  PL031 RTC       (4 KiB)   SPI 2
 *   0x0300_0000  virtio-mmio slot i at VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE,
 *                SPI VIRTIO_SPI_BASE + i, up to VIRTIO_MMIO_MAX_SLOTS slots
 *   GIC: distributor at 0x3fff_0000 (GICv3: 64 KiB, redistributors of 128 KiB per vCPU right
 *        below it; GICv2: 4 KiB, CPU interface of 8 KiB at 0x3ffd_0000)
 *   0x4000_0000  boot-complete marker (the guest writes the byte 123), as in Firecracker
 *   0x8000_0000  DRAM, the full guest RAM size, contiguous
 *
 * SPI numbers are as written in the device tree (INTID - 32). All device interrupts are
 * edge-triggered SPIs.
 */
#ifndef SILO_BOOT_LAYOUT_H
#define SILO_BOOT_LAYOUT_H

#define UART_MMIO_BASE 0x01000000ULL
#define UART_MMIO_SIZE 0x1000ULL
#define UART_SPI 1

#define RTC_MMIO_BASE 0x01010000ULL
#define RTC_MMIO_SIZE 0x1000ULL
#define RTC_SPI 2

#define VIRTIO_MMIO_BASE 0x03000000ULL
#define VIRTIO_MMIO_SLOT_SIZE 0x1000ULL
#define VIRTIO_MMIO_MAX_SLOTS 32
#define VIRTIO_SPI_BASE 16

#define GIC_DIST_BASE 0x3fff0000ULL
#define GIC_DIST_SIZE 0x10000ULL
#define GIC_REDIST_SIZE_PER_CPU 0x20000ULL /* GICv3: RD_base + SGI_base frames */
#define GIC_V2_DIST_SIZE 0x1000ULL
#define GIC_V2_CPU_IF_BASE 0x3ffd0000ULL /* GICv2 CPU interface: dist - 0x20000, as kvmtool */
#define GIC_V2_CPU_IF_SIZE 0x2000ULL
#define GIC_NR_IRQS 128                     /* 32 private + 96 SPIs; a multiple of 32 */

#define BOOT_MARKER_BASE 0x40000000ULL
#define BOOT_MARKER_SIZE 0x1000ULL
#define BOOT_MARKER_MAGIC 123

#define DRAM_BASE 0x80000000ULL
#define DRAM_MIN_SIZE (16ULL << 20)

/* The PMUv3 overflow interrupt: PPI 7 (INTID 23), where QEMU's virt machine and kvmtool put it */
#define PMU_PPI 7

/* arm64 architected timer PPIs (secure phys, non-secure phys, virtual, hyp) */
#define TIMER_PPI_SEC_PHYS 13
#define TIMER_PPI_PHYS 14
#define TIMER_PPI_VIRT 11
#define TIMER_PPI_HYP 10

/* Guest physical address bits needed to reach the end of `mem_bytes` of DRAM at DRAM_BASE;
 * at least 32 (KVM's minimum VM IPA size). Checked against KVM_CAP_ARM_VM_IPA_SIZE. */
static inline unsigned layout_ipa_bits(unsigned long long mem_bytes)
{
    unsigned long long last = DRAM_BASE + mem_bytes - 1;
    unsigned bits = 64 - (unsigned)__builtin_clzll(last);
    return bits < 32 ? 32 : bits;
}

#endif
