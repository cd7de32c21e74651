/* vmm/timeline.h — the timeline of one silo-vmm run, printed with --timings (and -v): when
 * each set-up step ended (wall time, and the process's CPU time so far), when the guest was seen
 * to do things (its first console output, the boot-complete marker, the end of the VM), each
 * teardown step, and the counters that explain the time (exits by kind, page faults on guest
 * RAM). Times are from the start of silo-vmm's main. The method is in docs/boot-timeline.md.
 *
 * Only the main thread calls timeline_mark; events seen on other threads are added with
 * timeline_add_at once those threads have stopped. The printer sorts by time.
 */
#ifndef SILO_VMM_TIMELINE_H
#define SILO_VMM_TIMELINE_H

#include <stdint.h>
#include <stdio.h>

#include "vmm/kvm_stats.h"

#define TIMELINE_MAX_EVENTS 32
#define TIMELINE_MAX_DEVICES 16
#define TIMELINE_WHAT_MAX 128

struct timeline_event {
    char what[TIMELINE_WHAT_MAX];
    uint64_t wall_ns; /* CLOCK_MONOTONIC */
    uint64_t cpu_ns;  /* the process's CPU time then; UINT64_MAX: not known (seen by another thread) */
};

/* What the run did, gathered once the vCPUs have stopped. */
struct timeline_counts {
    struct {
        const char *name;
        uint64_t accesses;
    } mmio[TIMELINE_MAX_DEVICES]; /* MMIO exits to silo-vmm, per device region */
    unsigned mmio_devices;
    uint64_t system_events;       /* PSCI SYSTEM_OFF / RESET / crash exits */
    struct kvm_exit_counts kvm;   /* every vCPU, summed */
    long guest_minor_faults;      /* page faults taken by the vCPU threads: guest RAM first touched */
    long guest_major_faults;      /*   (or swapped/file pages read) while KVM maps it for the guest */
    uint64_t guest_cpu_ns;        /* CPU time of the vCPU threads (guest and KVM) */
    long setup_minor_faults;      /* page faults of silo-vmm before the first KVM_RUN (loading the guest) */
};

struct timeline {
    uint64_t start_ns; /* CLOCK_MONOTONIC at the start of main */
    struct timeline_event events[TIMELINE_MAX_EVENTS];
    unsigned count;
};

void timeline_start(struct timeline *t, uint64_t start_ns);
/* Records `what` now, with the process's CPU time (main thread only). Beyond the capacity,
 * events are dropped. */
void timeline_mark(struct timeline *t, const char *what);
/* Records `what` at wall_ns (0: not reached, nothing recorded), CPU time unknown. */
void timeline_add_at(struct timeline *t, const char *what, uint64_t wall_ns);
/* Prints the events in time order, then the counts, each line prefixed "silo-vmm: ". */
void timeline_print(const struct timeline *t, const struct timeline_counts *c, FILE *out);

/* CPU time of the whole process, in ns. */
uint64_t timeline_process_cpu_ns(void);

#endif
