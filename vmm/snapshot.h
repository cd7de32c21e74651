/* vmm/snapshot.h — taking a snapshot of a running microVM, and building a new one from it.
 *
 * A snapshot is a directory (docs/snapshots.md):
 *   state          the container of vmm/snapshot_file.h: the machine's shape and device
 *                  configuration, every vCPU (vm_state.h), the vGICv3, every platform device,
 *                  every virtio transport with its queues and device state
 *   memory         guest RAM as a sparse file: only pages that were resident and not zero
 *   disk<N>.layer  for each copy-on-write disk, the sectors the guest had written (sparse)
 * all 0600 in a 0700 directory. `state` is written last (renamed into place), so a directory
 * without it is an unfinished snapshot, and a failed snapshot removes what it wrote.
 *
 * Taking one (snapshot_save): the vCPUs are out of KVM_RUN with their MMIO completed
 * (vm_stop) and the I/O thread is stopped (event_loop_stop), so no device is mid-request;
 * vsock connections are not saved (the restored guest is told to reset them).
 *
 * Restoring (snapshot_open, then the VM is built in this order by vmm/main.c):
 *   snapshot_open          read and check `state` (build id, format, CRC, machine record),
 *                          open `memory`; fills the configuration the devices are created from
 *   vm_open(mem_fd)        guest RAM mapped private from `memory` (lazy, copy-on-write)
 *   vm_create_gic, vm_create_vcpus, snapshot_restore_vcpus, vm_finalize_gic, snapshot_restore_gic
 *   devices created from that configuration, then snapshot_restore_devices
 * Any refusal is one line in err and nothing has run: a snapshot is never half-restored.
 */
#ifndef SILO_VMM_SNAPSHOT_H
#define SILO_VMM_SNAPSHOT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "vmm/snapshot_file.h"
#include "vmm/vm.h"

struct snapshot_save_stats {
    uint64_t memory_bytes;   /* guest memory written (resident, non-zero pages) */
    uint64_t state_bytes;
    uint64_t elapsed_ns;
};

/* Writes a snapshot of `vm` (built from `cfg`) into the new directory `dir`. 0 or -1 with err
 * (and `dir` removed). */
int snapshot_save(const char *dir, const struct vm *vm, const struct vmm_config *cfg, struct snapshot_save_stats *st,
                  char *err, size_t errlen);

struct snapshot_restore {
    uint8_t *state;
    size_t state_len;
    struct snapshot_view view;
    int dir_fd, mem_fd;
    struct vmm_config cfg; /* the machine: the snapshot's, plus the command line's console,
                              vsock socket, verify-wipe */
    char disk_paths[VMM_MAX_DISKS][PATH_MAX];
    char cmdline[4096];
    uint32_t gic_version;
};

/* Reads and checks DIR/state, opens DIR/memory. `cli` is the command line (--restore,
 * --vsock-uds, --console, --verify-wipe). 0 or -1 with err. */
int snapshot_open(struct snapshot_restore *s, const struct vmm_config *cli, char *err, size_t errlen);
int snapshot_restore_vcpus(struct snapshot_restore *s, const struct vm *vm, char *err, size_t errlen);
int snapshot_restore_gic(struct snapshot_restore *s, const struct vm *vm, char *err, size_t errlen);
int snapshot_restore_devices(struct snapshot_restore *s, char *err, size_t errlen);
/* Closes the files and frees the state (the configuration strings stay in s). */
void snapshot_close(struct snapshot_restore *s);

#endif
