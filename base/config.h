/* base/config.h — the parsed silo-vmm configuration: what the command line (or the equivalent
 * --config FILE.json) asked for. Filled by vmm/cli.c, read by the VMM and the device models.
 * Strings point into argv or into the parsed JSON document, which outlive the VM.
 */
#ifndef SILO_BASE_CONFIG_H
#define SILO_BASE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VMM_MAX_DISKS 8

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
    bool verify_wipe;         /* debug: check every resident page reads zero before munmap */

    const char *snapshot_to;  /* on SIGUSR2: write a snapshot into this new directory, exit 0 */
    const char *restore_dir;  /* restore the snapshot in this directory instead of booting; the
                                 machine (kernel, memory, vCPUs, disks, vsock CID) comes from it */
};

#endif
