/* vmm/vm.h — the KVM virtual machine: /dev/kvm and its capabilities, IPA sizing, guest RAM
 * registration, the vGIC (v3, falling back to v2), vCPU creation and threads, the run loop
 * (MMIO dispatch, PSCI system events) and the eventfd hooks devices use (irqfd, ioeventfd).
 *
 * Set-up order (as Firecracker and kvmtool do it):
 *   vm_open          /dev/kvm, API 12, required caps, IPA size -> KVM_CREATE_VM, RAM + memslot
 *   vm_create_gic    KVM_CREATE_DEVICE(VGIC_V3) or VGIC_V2; distributor/redistributor addresses
 *   vm_create_vcpus  KVM_CREATE_VCPU, KVM_ARM_PREFERRED_TARGET, PSCI 0.2, secondaries POWER_OFF,
 *                    SVE / pointer authentication / PMUv3 as chosen (vm_choose_cpu_features),
 *                    KVM_ARM_VCPU_INIT, SVE finalized, MPIDR_EL1 read back for the device tree
 *   vm_finalize_gic  NR_IRQS, then CTRL_INIT (after the vCPUs exist), then each vCPU's PMU
 *                    (its interrupt, then PMU_V3_INIT: KVM wants the vGIC initialized first)
 *   ... devices (irqfds, ioeventfds, MMIO regions), device tree ...
 *   vm_set_boot_regs PC = kernel, X0 = DTB (vCPU 0); PSTATE = EL1h with DAIF masked (all)
 *   vm_start         one thread per vCPU
 *   vm_stop          any thread: kicks every vCPU out of KVM_RUN (immediate_exit + SIGUSR1) and
 *                    joins them
 * The VM ends when a vCPU sees PSCI SYSTEM_OFF / SYSTEM_RESET, a crash, or an error; that
 * records the end reason once and signals end_fd, which the main thread waits on.
 *
 * Signals: the caller must block SIGUSR1 (and whatever it waits for with signalfd) in every
 * thread before vm_start and call vm_install_kick_handler once; vCPU threads unblock SIGUSR1.
 */
#ifndef SILO_VMM_VM_H
#define SILO_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/guest_mem.h"
#include "base/mmio_bus.h"

#define VM_KICK_SIGNAL SIGUSR1

enum vm_end_reason {
    VM_RUNNING = 0,
    VM_END_POWEROFF, /* PSCI SYSTEM_OFF */
    VM_END_RESET,    /* PSCI SYSTEM_RESET */
    VM_END_CRASH,    /* guest crash, KVM internal error, failed entry, unhandled exit */
    VM_END_ERROR,    /* a VMM-side error while running */
    VM_END_SIGNAL,   /* SIGTERM / SIGINT */
    VM_END_SNAPSHOT, /* SIGUSR2 with --snapshot-to: the snapshot was written */
};

struct vm;

struct vcpu {
    struct vm *vm;
    uint32_t index;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    uint64_t mpidr;
    long minor_faults, major_faults; /* the thread's, recorded as it ends (--timings) */
    uint64_t cpu_ns;                 /* the thread's CPU time, recorded as it ends */
};

struct vm {
    int kvm_fd;
    int vm_fd;
    uint32_t ipa_bits;
    struct guest_mem mem;
    struct mmio_bus bus;

    int gic_fd;
    int gic_wanted;  /* 0: GICv3, else GICv2 (auto); 3 or 2: only that one (--irqchip) */
    int gic_version; /* 3 or 2 */
    uint64_t gic_dist_base, gic_dist_size;
    uint64_t gic_redist_base, gic_redist_size; /* v2: the CPU interface */

    uint32_t vcpu_count;
    struct vcpu *vcpus;
    uint32_t cpu_features; /* VMM_CPU_* (base/config.h) the vCPUs get (vm_choose_cpu_features) */
    size_t run_mmap_size;

    _Atomic int end_reason;
    int end_signal;        /* for VM_END_SIGNAL */
    char end_message[200]; /* why it ended, for VM_END_CRASH / VM_END_ERROR */
    int end_fd;            /* eventfd: readable once the VM has ended */
    _Atomic bool stopping;
    _Atomic unsigned unhandled_mmio_reports;
    _Atomic unsigned long long mmio_exits; /* for -v: every exit costs a round trip to user space */
    _Atomic unsigned long long system_events; /* PSCI system-event exits */
    uint64_t end_ns;                       /* when vm_end recorded the end (CLOCK_MONOTONIC) */
};

/* Opens KVM, checks capabilities, sizes the IPA space, creates the VM, maps `mem_bytes` of RAM at
 * DRAM_BASE and registers it: anonymous memory, in a memfd with mem_fd == VM_MEM_MEMFD, or with mem_fd >= 0 a private copy-on-write
 * mapping of that file (a snapshot's memory; guest_mem_map_file). Checks `cpus` against KVM
 * (more vCPUs than host CPUs is allowed, with a warning). Returns 0 or -1 with a one-line
 * reason in err. After a failure vm_close still works. */
#define VM_MEM_MEMFD (-2) /* vm_open's mem_fd: RAM in a memfd (guest_mem_map_memfd; --wipe-keeper) */
int vm_open(struct vm *vm, uint64_t mem_bytes, uint32_t cpus, int mem_fd, char *err, size_t errlen);
/* Before vm_create_vcpus: the vCPUs get every feature of `required` (or -1 with the first
 * missing one named in err) and those of `optional` this host's KVM has. */
int vm_choose_cpu_features(struct vm *vm, uint32_t required, uint32_t optional, char *err, size_t errlen);
/* Creates the vGIC vm->gic_wanted asks for (0: v3, falling back to v2). */
int vm_create_gic(struct vm *vm, char *err, size_t errlen);
int vm_create_vcpus(struct vm *vm, char *err, size_t errlen);
int vm_finalize_gic(struct vm *vm, char *err, size_t errlen);

/* The vm_services hooks (void *vm is a struct vm *). */
int vm_hook_add_ioeventfd(void *vm, uint64_t gpa, uint32_t datamatch, int fd);
int vm_hook_add_irqfd(void *vm, uint32_t spi, int fd);

int vm_set_boot_regs(struct vm *vm, uint64_t entry, uint64_t dtb, char *err, size_t errlen);
void vm_install_kick_handler(void);
int vm_start(struct vm *vm, char *err, size_t errlen);

/* Records why the VM ended (first caller wins) and wakes end_fd. Safe from any thread. */
void vm_end(struct vm *vm, enum vm_end_reason reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Stops and joins every vCPU thread. Idempotent. Each vCPU leaves with its pending MMIO
 * completed (one KVM_RUN with immediate_exit), so its registers can be saved as they are. */
void vm_stop(struct vm *vm);
/* Closes every fd and frees the vCPUs. Does NOT touch guest RAM: wipe it with guest_mem_wipe. */
void vm_close(struct vm *vm);

#endif
