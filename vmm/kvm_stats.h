/* vmm/kvm_stats.h — what KVM itself counted for one vCPU: its binary statistics
 * (KVM_GET_STATS_FD, Linux 5.14+), read by name, for the --timings report. These are the exits
 * user space never sees: WFI/WFE traps, HVCs (PSCI), MMIO handled inside KVM (the vGIC,
 * ioeventfds) and everything else that leaves the guest (stage-2 faults, trapped system
 * registers, interrupts).
 */
#ifndef SILO_VMM_KVM_STATS_H
#define SILO_VMM_KVM_STATS_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_exit_counts {
    bool available;       /* false: this kernel has no binary statistics (or reading failed) */
    uint64_t exits;       /* every exit from the guest ("exits") */
    uint64_t wfi, wfe;    /* "wfi_exit_stat", "wfe_exit_stat" */
    uint64_t hvc;         /* "hvc_exit_stat" */
    uint64_t mmio_kernel; /* "mmio_exit_kernel": handled in KVM */
    uint64_t mmio_user;   /* "mmio_exit_user": passed to silo-vmm */
    uint64_t signal;      /* "signal_exits" */
    uint64_t halt_wakeup; /* "halt_wakeup": WFIs that blocked and were woken */
};

/* Adds the vCPU's counters (vcpu_fd: a KVM vCPU) into *sum and sets sum->available. Returns 0,
 * or -1 (sum untouched) when the statistics cannot be read. */
int kvm_stats_add_vcpu(int vcpu_fd, struct kvm_exit_counts *sum);

/* The same from an already opened statistics descriptor (KVM_GET_STATS_FD's, or a file laid out
 * alike, for tests). Every offset and size in it is checked. */
int kvm_stats_add_from_fd(int stats_fd, struct kvm_exit_counts *sum);

/* exits - (wfi + wfe + hvc + mmio_kernel + mmio_user + signal), never below zero: stage-2 faults,
 * trapped system registers, interrupts. */
uint64_t kvm_exit_counts_other(const struct kvm_exit_counts *c);

#endif
