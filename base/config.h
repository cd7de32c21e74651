/* base/config.h — the parsed silo-vmm configuration: what the command line (or the equivalent
 * --config FILE.json) asked for. Filled by vmm/cli.c, read by the VMM and the device models.
 * Strings point into argv or into the parsed JSON document, which outlive the VM.
 */
#ifndef SILO_BASE_CONFIG_H
#define SILO_BASE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VMM_MAX_DISKS 8

/* CPU features beyond the base ARMv8 vCPU (--cpu-features, --pmu) */
#define VMM_CPU_SVE 1u   /* the Scalable Vector Extension, every vector length the host has */
#define VMM_CPU_PAUTH 2u /* pointer authentication (address and generic keys) */
#define VMM_CPU_PMU 4u   /* a PMUv3, its overflow interrupt on PPI 7 (INTID 23) */

struct vmm_disk {
    const char *path;
    bool read_only; /* ",ro": the guest sees a read-only disk */
    bool cow;       /* ",cow": base opened read-only, guest writes go to a private layer that
                       dies with the VM (the per-session writable layer; see devices/README.md) */
};

struct vmm_config {
    const char *kernel_path;
    const char *initrd_path;  /* NULL: none */
    const char *cmdline;      /* NULL: the default command line */
    uint64_t mem_bytes;
    uint32_t cpus;
    const char *console;      /* "stdio" (default), "none", or a file path */
    const char *dump_dtb;     /* NULL, or write the DTB there and exit */

    struct vmm_disk disks[VMM_MAX_DISKS];
    uint32_t disk_count;

    uint32_t vsock_cid;       /* 0: no vsock device */
    const char *vsock_uds;    /* host Unix socket path (Firecracker's hybrid vsock convention) */

    bool rng;                 /* virtio-rng device */
    int irqchip;              /* 0: GICv3, GICv2 where the host has no v3; 3 or 2: only that */
    uint32_t cpu_features;    /* VMM_CPU_*: with cpu_features_auto, those the host offers */
    bool cpu_features_auto;   /* --cpu-features auto (the default): SVE and PAuth where available */
    bool pmu;                 /* --pmu: a PMUv3 (required then) */
    bool verify_wipe;         /* debug: check every resident page reads zero before munmap */
    bool wipe_keeper;         /* RAM in a memfd, a keeper process wipes it if the VMM dies (implies mlock) */
    bool mlock;               /* mlock2(MLOCK_ONFAULT) guest RAM: never swapped out */

    const char *snapshot_to;  /* on SIGUSR2: write a snapshot into this new directory, exit 0 */
    const char *restore_dir;  /* restore the snapshot in this directory instead of booting; the
                                 machine (kernel, memory, vCPUs, disks, vsock CID) comes from it */
};

#endif
