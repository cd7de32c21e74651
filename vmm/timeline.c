/* vmm/timeline.c — recording and printing the timeline of one run (see timeline.h). */
#include "vmm/timeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mono_time.h"

uint64_t timeline_process_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return UINT64_MAX;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void timeline_start(struct timeline *t, uint64_t start_ns)
{
    memset(t, 0, sizeof *t);
    t->start_ns = start_ns;
}

static void add(struct timeline *t, const char *what, uint64_t wall_ns, uint64_t cpu_ns)
{
    if (t->count == TIMELINE_MAX_EVENTS)
        return;
    struct timeline_event *e = &t->events[t->count++];
    snprintf(e->what, sizeof e->what, "%s", what);
    e->wall_ns = wall_ns;
    e->cpu_ns = cpu_ns;
}

void timeline_mark(struct timeline *t, const char *what)
{
    add(t, what, mono_ns(), timeline_process_cpu_ns());
}

void timeline_add_at(struct timeline *t, const char *what, uint64_t wall_ns)
{
    if (wall_ns != 0)
        add(t, what, wall_ns, UINT64_MAX);
}

static int by_time(const void *a, const void *b)
{
    const struct timeline_event *x = a, *y = b;
    return x->wall_ns < y->wall_ns ? -1 : x->wall_ns > y->wall_ns;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

void timeline_print(const struct timeline *t, const struct timeline_counts *c, FILE *out)
{
    struct timeline_event sorted[TIMELINE_MAX_EVENTS];
    memcpy(sorted, t->events, t->count * sizeof sorted[0]);
    qsort(sorted, t->count, sizeof sorted[0], by_time);
    fprintf(out, "silo-vmm: timeline (ms since main; step = since the line above; CPU = silo-vmm's CPU time so far)\n");
    fprintf(out, "silo-vmm: %10s %9s %9s  %s\n", "at", "step", "CPU", "event");
    uint64_t prev = t->start_ns;
    for (unsigned i = 0; i < t->count; i++) {
        const struct timeline_event *e = &sorted[i];
        uint64_t at = e->wall_ns > t->start_ns ? e->wall_ns - t->start_ns : 0;
        uint64_t step = e->wall_ns > prev ? e->wall_ns - prev : 0;
        char cpu[24] = "-";
        if (e->cpu_ns != UINT64_MAX)
            snprintf(cpu, sizeof cpu, "%.1f", ms(e->cpu_ns));
        fprintf(out, "silo-vmm: %10.1f %9.1f %9s  %s\n", ms(at), ms(step), cpu, e->what);
        prev = e->wall_ns > prev ? e->wall_ns : prev;
    }
    if (c == NULL)
        return;
    uint64_t mmio = 0;
    for (unsigned i = 0; i < c->mmio_devices; i++)
        mmio += c->mmio[i].accesses;
    fprintf(out, "silo-vmm: exits to silo-vmm: %llu MMIO", (unsigned long long)mmio);
    const char *sep = " (";
    for (unsigned i = 0; i < c->mmio_devices; i++) {
        if (c->mmio[i].accesses == 0)
            continue;
        fprintf(out, "%s%s %llu", sep, c->mmio[i].name, (unsigned long long)c->mmio[i].accesses);
        sep = ", ";
    }
    fprintf(out, "%s, %llu system event(s)\n", sep[0] == ',' ? ")" : "", (unsigned long long)c->system_events);
    if (c->kvm.available)
        fprintf(out,
                "silo-vmm: exits inside KVM: %llu in all: WFI %llu (%llu blocked and woken), WFE %llu, HVC %llu, "
                "MMIO handled by KVM %llu, MMIO passed to silo-vmm %llu, signals %llu, other %llu "
                "(stage-2 faults, trapped system registers, interrupts)\n",
                (unsigned long long)c->kvm.exits, (unsigned long long)c->kvm.wfi,
                (unsigned long long)c->kvm.halt_wakeup, (unsigned long long)c->kvm.wfe,
                (unsigned long long)c->kvm.hvc, (unsigned long long)c->kvm.mmio_kernel,
                (unsigned long long)c->kvm.mmio_user, (unsigned long long)c->kvm.signal,
                (unsigned long long)kvm_exit_counts_other(&c->kvm));
    else
        fprintf(out, "silo-vmm: exits inside KVM: not available (no KVM binary statistics on this kernel)\n");
    fprintf(out,
            "silo-vmm: page faults on guest RAM (vCPU threads): %ld minor, %ld major; vCPU threads' CPU %.1f ms; "
            "silo-vmm's page faults before the first KVM_RUN: %ld\n",
            c->guest_minor_faults, c->guest_major_faults, ms(c->guest_cpu_ns), c->setup_minor_faults);
}
