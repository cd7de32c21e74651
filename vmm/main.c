/* vmm/main.c — silo-vmm: builds one microVM from the command line, runs it until it powers
 * off, resets, crashes or is signalled, and always wipes guest memory before exiting.
 * Exit statuses are documented in --help (vmm/cli.c) and vmm/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/error_message.h"
#include "base/event_loop.h"
#include "base/mono_time.h"
#include "boot/devtree.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "devices/boot_marker.h"
#include "devices/platform_devices.h"
#include "devices/uart_8250.h"
#include "devices/virtio/virtio_devices.h"
#include "devices/vm_services.h"
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/crash_wipe.h"
#include "vmm/keeper.h"
#include "vmm/sandbox.h"
#include "vmm/kvm_stats.h"
#include "vmm/snapshot.h"
#include "vmm/timeline.h"
#include "vmm/vm.h"

#define EXIT_POWEROFF 0
#define EXIT_ERROR 1
#define EXIT_RESET 2
#define EXIT_CRASH 3

/* Everything one run owns, torn down in one place. */
struct vmm {
    const struct vmm_config *cfg;
    int verbose;
    bool timings; /* --timings or -v: the timeline is printed at exit */
    uint64_t start_ns;
    struct timeline timeline;
    long setup_minor_faults; /* the process's, when the vCPUs were started */
    int signal_fd;

    struct vm vm;
    bool vm_opened;
    struct keeper keeper; /* --wipe-keeper */
    struct event_loop *loop;
    bool loop_running;
    struct console console;
    bool console_open;
    struct vm_services services;
    struct virtio_device_slot virtio_slots[DEVTREE_MAX_VIRTIO];
    uint32_t virtio_count;
    bool virtio_created;

    struct kernel_info kernel;
    uint64_t initrd_gpa, initrd_size;
    uint64_t dtb_gpa;

    struct snapshot_restore *restore; /* --restore: the snapshot being restored */
    bool snapshot_requested;          /* SIGUSR2 with --snapshot-to */
};

static void note(const struct vmm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const struct vmm *v, const char *fmt, ...)
{
    if (v->verbose == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "silo-vmm: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static unsigned long long elapsed_us(const struct vmm *v)
{
    return (unsigned long long)((boot_marker_now_ns() - v->start_ns) / 1000);
}

static int load_guest(struct vmm *v, char *err, size_t errlen)
{
    char why[200];
    if (boot_load_kernel_file(&v->vm.mem, v->cfg->kernel_path, &v->kernel, why, sizeof why) != 0) {
        snprintf(err, errlen, "kernel '%s': %s", v->cfg->kernel_path, why);
        return -1;
    }
    uint64_t end = v->kernel.reserved_end;
    if (v->cfg->initrd_path != NULL) {
        v->initrd_gpa = boot_initrd_gpa(&v->kernel);
        if (boot_load_initrd_file(&v->vm.mem, v->cfg->initrd_path, v->initrd_gpa, &v->initrd_size, why,
                                  sizeof why) != 0) {
            snprintf(err, errlen, "initrd '%s': %s", v->cfg->initrd_path, why);
            return -1;
        }
        end = v->initrd_gpa + v->initrd_size;
    }
    v->dtb_gpa = boot_dtb_gpa(end);
    note(v, "kernel (%s, %s) at 0x%llx, %llu bytes; initrd at 0x%llx, %llu bytes; DTB at 0x%llx (at %llu us)",
         v->kernel.format == KERNEL_IMAGE ? "Image" : v->kernel.format == KERNEL_IMAGE_GZ ? "Image.gz" : "raw",
         v->kernel.mapped ? "mapped copy-on-write" : "copied", (unsigned long long)v->kernel.load_gpa, (unsigned long long)v->kernel.file_bytes,
         (unsigned long long)v->initrd_gpa, (unsigned long long)v->initrd_size, (unsigned long long)v->dtb_gpa,
         elapsed_us(v));
    return 0;
}

/* The platform devices (platform_device_list.h), then the virtio devices the config asks for
 * (device_list.h). */
static int create_devices(struct vmm *v, char *err, size_t errlen)
{
    v->services = (struct vm_services){
        .mem = &v->vm.mem,
        .loop = v->loop,
        .add_ioeventfd = vm_hook_add_ioeventfd,
        .add_irqfd = vm_hook_add_irqfd,
        .vm = &v->vm,
    };
    struct platform_services platform = {
        .vm = &v->services, .console_out_fd = v->console.out_fd, .start_ns = v->start_ns,
    };
    if (platform_devices_create(&platform, &v->vm.bus, err, errlen) != 0)
        return -1;
    /* virtio_devices_create prints its own one-line reason on failure */
    int rc2 = virtio_devices_create(v->cfg, &v->services, &v->vm.bus, v->virtio_slots, DEVTREE_MAX_VIRTIO,
                                    &v->virtio_count);
    if (rc2 != 0) {
        snprintf(err, errlen, "cannot create the virtio devices: %s", strerror(-rc2));
        return -1;
    }
    v->virtio_created = true;
    for (uint32_t i = 0; i < v->virtio_count; i++)
        note(v, "virtio device %u (type %u) at 0x%llx, SPI %u", i, v->virtio_slots[i].device_id,
             (unsigned long long)v->virtio_slots[i].base, v->virtio_slots[i].spi);
    return 0;
}

static int build_device_tree(struct vmm *v, void **blob, long *size, char *err, size_t errlen)
{
    struct devtree_machine *m = calloc(1, sizeof *m);
    *blob = malloc(DEVTREE_BUF_SIZE);
    if (m == NULL || *blob == NULL) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->mem_base = v->vm.mem.gpa_base;
    m->mem_size = v->vm.mem.size;
    m->cpu_count = v->vm.vcpu_count;
    for (uint32_t i = 0; i < m->cpu_count && i < DEVTREE_MAX_CPUS; i++)
        m->mpidr[i] = v->vm.vcpus[i].mpidr;
    m->gic_version = v->vm.gic_version;
    m->has_pmu = (v->vm.cpu_features & VMM_CPU_PMU) != 0;
    m->gic_dist_base = v->vm.gic_dist_base;
    m->gic_dist_size = v->vm.gic_dist_size;
    m->gic_redist_base = v->vm.gic_redist_base;
    m->gic_redist_size = v->vm.gic_redist_size;
    m->bootargs = v->cfg->cmdline != NULL ? v->cfg->cmdline : VMM_DEFAULT_CMDLINE;
    if (v->initrd_size != 0) {
        m->initrd_start = v->initrd_gpa;
        m->initrd_end = v->initrd_gpa + v->initrd_size;
    }
    platform_devices_describe(m);
    m->virtio_count = v->virtio_count;
    for (uint32_t i = 0; i < v->virtio_count; i++)
        m->virtio[i] = (struct devtree_mmio_dev){ .base = v->virtio_slots[i].base,
                                                  .size = v->virtio_slots[i].size,
                                                  .spi = v->virtio_slots[i].spi };
    int rc = devtree_fill_seeds(m);
    if (rc != 0) {
        free(m);
        snprintf(err, errlen, "getrandom for the DT seeds: %s", strerror(-rc));
        return -1;
    }
    *size = devtree_build(m, *blob, DEVTREE_BUF_SIZE, err, errlen);
    explicit_bzero(m, sizeof *m);
    free(m);
    return *size < 0 ? -1 : 0;
}

static int write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "--dump-dtb: cannot create '%s': %s", path, strerror(errno));
        return -1;
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "--dump-dtb: writing '%s': %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) == 0 ? 0 : -1;
}

/* The interrupt controller and the vCPUs' features the config asks for (a snapshot's config
 * when restoring: exactly its features, or a refusal). */
static int choose_machine(struct vmm *v, char *err, size_t errlen)
{
    v->vm.gic_wanted = v->cfg->irqchip;
    /* auto: SVE and PAuth where the host has them; a listed feature, and the PMU when asked,
     * are required */
    uint32_t listed = v->cfg->cpu_features_auto ? 0 : v->cfg->cpu_features;
    uint32_t optional = v->cfg->cpu_features_auto ? v->cfg->cpu_features : 0;
    return vm_choose_cpu_features(&v->vm, listed | (v->cfg->pmu ? VMM_CPU_PMU : 0), optional, err, errlen);
}

static int guard_guest_ram(struct vmm *v, char *err, size_t errlen);

/* --restore: the VM is built from the snapshot (snapshot.h has the order); nothing is loaded,
 * no device tree is made, no register is set for boot. */
static int build_restored_vm(struct vmm *v, char *err, size_t errlen)
{
    v->restore = calloc(1, sizeof *v->restore);
    if (v->restore == NULL)
        return error_message(err, errlen, "out of memory");
    struct snapshot_restore *s = v->restore;
    if (snapshot_open(s, v->cfg, err, errlen) != 0)
        return -1;
    v->cfg = &s->cfg; /* from here on the machine is the snapshot's */
    timeline_mark(&v->timeline, "snapshot read and checked");
    note(v, "snapshot %s read and checked at %llu us", s->cfg.restore_dir, elapsed_us(v));
    /* the keeper can only reach RAM in a memfd: with it the snapshot's memory is copied in, not
     * mapped copy-on-write (whose written pages would be private to this process) */
    if (vm_open(&v->vm, s->cfg.mem_bytes, s->cfg.cpus, s->cfg.wipe_keeper ? VM_MEM_MEMFD : s->mem_fd, err, errlen) != 0)
        return -1;
    crash_wipe_arm(&v->vm.mem, v->vm.vm_fd);
    if (s->cfg.wipe_keeper) {
        uint64_t copied = 0;
        int r = guest_mem_fill_from_file(&v->vm.mem, s->mem_fd, &copied);
        if (r != 0)
            return error_message(err, errlen, "--restore %s: cannot copy the guest memory file into RAM: %s",
                                 s->cfg.restore_dir, strerror(-r));
        timeline_mark(&v->timeline, "VM created, the snapshot's memory copied into the guest RAM memfd");
        note(v, "VM created, %llu KiB of the snapshot's memory copied into the RAM memfd (at %llu us)",
             (unsigned long long)(copied >> 10), elapsed_us(v));
    } else {
        timeline_mark(&v->timeline, "VM created, guest RAM mapped from the snapshot");
        note(v, "VM created, RAM mapped from the snapshot (at %llu us)", elapsed_us(v));
    }
    if (guard_guest_ram(v, err, errlen) != 0)
        return -1;
    char why[400];
    if (choose_machine(v, err, errlen) != 0 || vm_create_gic(&v->vm, err, errlen) != 0 ||
        vm_create_vcpus(&v->vm, err, errlen) != 0)
        return -1;
    note(v, "vGIC and vCPUs created (at %llu us)", elapsed_us(v));
    if (snapshot_restore_vcpus(s, &v->vm, why, sizeof why) != 0)
        return error_message(err, errlen, "--restore %s: %s", s->cfg.restore_dir, why);
    note(v, "vCPU registers restored (at %llu us)", elapsed_us(v));
    if (vm_finalize_gic(&v->vm, why, sizeof why) != 0 || snapshot_restore_gic(s, &v->vm, why, sizeof why) != 0)
        return error_message(err, errlen, "--restore %s: %s", s->cfg.restore_dir, why);
    timeline_mark(&v->timeline, "vGIC and vCPUs created and restored");
    note(v, "VM restored: %llu MiB RAM mapped from the snapshot, %u vCPU(s), vGICv%d (at %llu us)",
         (unsigned long long)(s->cfg.mem_bytes >> 20), s->cfg.cpus, v->vm.gic_version, elapsed_us(v));
    v->loop = event_loop_create();
    if (v->loop == NULL)
        return error_message(err, errlen, "cannot create the I/O event loop");
    if (create_devices(v, err, errlen) != 0)
        return -1;
    note(v, "devices created (at %llu us)", elapsed_us(v));
    if (snapshot_restore_devices(s, why, sizeof why) != 0)
        return error_message(err, errlen, "--restore %s: %s", s->cfg.restore_dir, why);
    snapshot_close(s);
    timeline_mark(&v->timeline, "devices created and restored");
    note(v, "devices restored (at %llu us)", elapsed_us(v));
    return 0;
}

/* --wipe-keeper: the keeper for the memfd guest RAM is in; --wipe-keeper or --mlock: RAM is
 * locked as the guest touches it. */
static int guard_guest_ram(struct vmm *v, char *err, size_t errlen)
{
    if (v->cfg->wipe_keeper) {
        int r = keeper_start(&v->keeper, v->vm.mem.memfd, v->vm.mem.size, v->cfg->verify_wipe);
        if (r != 0)
            return error_message(err, errlen, "--wipe-keeper: cannot start the keeper: %s", strerror(-r));
        crash_wipe_set_keeper_fd(v->keeper.pipe_fd);
        note(v, "wipe keeper pid %d holds the guest RAM memfd (at %llu us)", (int)v->keeper.pid, elapsed_us(v));
    }
    if (v->cfg->wipe_keeper || v->cfg->mlock) {
        int r = guest_mem_lock(&v->vm.mem);
        if (r != 0) {
            struct rlimit rl = { 0, 0 };
            getrlimit(RLIMIT_MEMLOCK, &rl);
            return error_message(err, errlen,
                                 "%s: cannot lock %llu MiB of guest RAM (%s): RLIMIT_MEMLOCK is %llu KiB; it must be "
                                 "at least the guest's RAM (ulimit -l %llu), or give CAP_IPC_LOCK",
                                 v->cfg->wipe_keeper ? "--wipe-keeper" : "--mlock",
                                 (unsigned long long)(v->vm.mem.size >> 20), strerror(-r),
                                 rl.rlim_cur == RLIM_INFINITY ? 0ULL : (unsigned long long)(rl.rlim_cur >> 10),
                                 (unsigned long long)(v->vm.mem.size >> 10) + 1024);
        }
    }
    if (v->cfg->wipe_keeper || v->cfg->mlock)
        timeline_mark(&v->timeline, v->cfg->wipe_keeper ? "wipe keeper forked, guest RAM locked" : "guest RAM locked");
    return 0;
}

/* Builds the VM up to the point where it can run. Returns 0, 1 for --dump-dtb done, -1 on error. */
static int build_vm(struct vmm *v, char *err, size_t errlen)
{
    const struct vmm_config *cfg = v->cfg;
    if (cfg->restore_dir != NULL)
        return build_restored_vm(v, err, errlen);
    if (vm_open(&v->vm, cfg->mem_bytes, cfg->cpus, cfg->wipe_keeper ? VM_MEM_MEMFD : -1, err, errlen) != 0)
        return -1;
    crash_wipe_arm(&v->vm.mem, v->vm.vm_fd); /* from here on, even a VMM crash wipes guest RAM */
    timeline_mark(&v->timeline, cfg->wipe_keeper ? "VM created, guest RAM (memfd) mapped and registered"
                                                 : "VM created, guest RAM mapped and registered");
    if (guard_guest_ram(v, err, errlen) != 0)
        return -1;
    note(v, "VM: %llu MiB RAM at 0x%llx, IPA %u bits, %u vCPU(s) (at %llu us)",
         (unsigned long long)(cfg->mem_bytes >> 20), (unsigned long long)DRAM_BASE, v->vm.ipa_bits, cfg->cpus,
         elapsed_us(v));
    if (load_guest(v, err, errlen) != 0)
        return -1;
    timeline_mark(&v->timeline, "kernel and initrd placed in guest RAM");
    if (choose_machine(v, err, errlen) != 0 || vm_create_gic(&v->vm, err, errlen) != 0 ||
        vm_create_vcpus(&v->vm, err, errlen) != 0 || vm_finalize_gic(&v->vm, err, errlen) != 0)
        return -1;
    timeline_mark(&v->timeline, "vGIC and vCPUs created");
    note(v, "vGICv%d, vCPU 0 MPIDR 0x%llx, CPU features:%s%s%s%s (at %llu us)", v->vm.gic_version,
         (unsigned long long)v->vm.vcpus[0].mpidr, (v->vm.cpu_features & VMM_CPU_SVE) ? " sve" : "",
         (v->vm.cpu_features & VMM_CPU_PAUTH) ? " pauth" : "", (v->vm.cpu_features & VMM_CPU_PMU) ? " pmu" : "",
         v->vm.cpu_features == 0 ? " none" : "", elapsed_us(v));
    v->loop = event_loop_create();
    if (v->loop == NULL) {
        snprintf(err, errlen, "cannot create the I/O event loop");
        return -1;
    }
    if (create_devices(v, err, errlen) != 0)
        return -1;
    timeline_mark(&v->timeline, "devices created");

    void *blob;
    long size;
    int rc = build_device_tree(v, &blob, &size, err, errlen);
    if (rc == 0 && cfg->dump_dtb != NULL) {
        rc = write_file(cfg->dump_dtb, blob, (size_t)size, err, errlen);
        explicit_bzero(blob, DEVTREE_BUF_SIZE);
        free(blob);
        return rc == 0 ? 1 : -1;
    }
    if (rc == 0)
        rc = boot_place_dtb(&v->vm.mem, v->dtb_gpa, blob, (size_t)size, err, errlen);
    if (blob != NULL)
        explicit_bzero(blob, DEVTREE_BUF_SIZE); /* it held the RNG seeds */
    free(blob);
    if (rc != 0)
        return -1;
    if (vm_set_boot_regs(&v->vm, v->kernel.load_gpa, v->dtb_gpa, err, errlen) != 0)
        return -1;
    timeline_mark(&v->timeline, "device tree placed, boot registers set");
    return 0;
}

/* Takes a pending SIGTERM/SIGINT/SIGHUP, if any, as the end of the VM. Returns the signal or 0. */
static int take_signal(struct vmm *v)
{
    struct signalfd_siginfo si;
    if (read(v->signal_fd, &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    if (si.ssi_signo == SIGUSR2) {
        if (v->cfg->snapshot_to == NULL) {
            fprintf(stderr, "silo-vmm: SIGUSR2 ignored: no --snapshot-to DIR was given\n");
            return 0;
        }
        v->snapshot_requested = true;
        return SIGUSR2;
    }
    v->vm.end_signal = (int)si.ssi_signo;
    vm_end(&v->vm, VM_END_SIGNAL, "stopped by signal %u", si.ssi_signo);
    return (int)si.ssi_signo;
}

/* Waits for the VM to end or a signal. Returns the signal number, or 0 when the VM ended. */
static int wait_for_end(struct vmm *v)
{
    struct pollfd fds[2] = { { .fd = v->vm.end_fd, .events = POLLIN }, { .fd = v->signal_fd, .events = POLLIN } };
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            vm_end(&v->vm, VM_END_ERROR, "poll: %s", strerror(errno));
            return 0;
        }
        if (fds[1].revents & POLLIN) {
            int sig = take_signal(v);
            if (sig != 0)
                return sig;
        }
        if (fds[0].revents & POLLIN)
            return 0;
    }
}

/* SIGUSR2 with --snapshot-to: the vCPUs are stopped; stop the I/O thread too, so that no
 * device is mid-request, write the snapshot, and end the VM (exit 0, or 1 if it failed). */
static void take_snapshot(struct vmm *v)
{
    if (atomic_load(&v->vm.end_reason) != VM_RUNNING)
        return; /* it ended on its own meanwhile: nothing to snapshot */
    if (v->loop_running)
        event_loop_stop(v->loop);
    v->loop_running = false;
    char err[400];
    struct snapshot_save_stats st;
    if (snapshot_save(v->cfg->snapshot_to, &v->vm, v->cfg, &st, err, sizeof err) != 0) {
        vm_end(&v->vm, VM_END_ERROR, "snapshot to %s failed: %s", v->cfg->snapshot_to, err);
        return;
    }
    vm_end(&v->vm, VM_END_SNAPSHOT,
           "snapshot written to %s: %llu KiB of guest memory (of %llu MiB), %llu KiB of state, in %llu ms",
           v->cfg->snapshot_to, (unsigned long long)(st.memory_bytes >> 10),
           (unsigned long long)(v->vm.mem.size >> 20), (unsigned long long)(st.state_bytes >> 10),
           (unsigned long long)(st.elapsed_ns / 1000000));
}

static int run_vm(struct vmm *v, char *err, size_t errlen)
{
    /* fds join the loop before it runs */
    console_attach_input(&v->console, platform_device_state(&uart_8250_platform), v->loop);
    if (sandbox_prepare(err, errlen) != 0)
        return -1;
    /* the I/O thread gets its alternate signal stack for the crash wipe, then its seccomp
     * filter, before any handler runs */
    if (event_loop_start(v->loop, sandbox_io_thread_start) != 0) {
        snprintf(err, errlen, "cannot start the I/O thread");
        return -1;
    }
    v->loop_running = true;
    timeline_mark(&v->timeline, "I/O thread started");
    if (take_signal(v) != 0 && !v->snapshot_requested)
        return 0; /* signalled while the VM was being built: never run it */
    note(v, "VM built, starting %u vCPU(s) at %llu us", v->vm.vcpu_count, elapsed_us(v));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        v->setup_minor_faults = ru.ru_minflt;
    timeline_mark(&v->timeline, "per-thread seccomp; vCPU threads start (first KVM_RUN)");
    if (vm_start(&v->vm, err, errlen) != 0)
        return -1;
    /* last: threads created after a filter inherit it, and the vCPU threads have theirs */
    if (sandbox_enter_role(SECCOMP_ROLE_MAIN, err, errlen) != 0)
        return -1;
    note(v, "seccomp filters on: main %zu, io %zu, vcpu %zu allowed system calls (at %llu us)",
         seccomp_policy_count(SECCOMP_ROLE_MAIN), seccomp_policy_count(SECCOMP_ROLE_IO),
         seccomp_policy_count(SECCOMP_ROLE_VCPU), elapsed_us(v));
    if (v->restore != NULL)
        note(v, "restored: vCPUs running at %llu us", elapsed_us(v));
    if (!v->snapshot_requested)
        wait_for_end(v);
    vm_stop(&v->vm);
    if (v->snapshot_requested)
        take_snapshot(v);
    return 0;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* The guest's events and the run's counters, for the timeline: read after the vCPU threads and
 * the I/O thread have stopped, before the devices and KVM descriptors go. */
static void gather_counts(struct vmm *v, struct timeline_counts *c)
{
    memset(c, 0, sizeof *c);
    const struct uart_8250 *uart = platform_device_state(&uart_8250_platform);
    if (uart != NULL)
        timeline_add_at(&v->timeline, "guest: first console output", uart->first_tx_ns);
    const struct boot_marker *marker = platform_device_state(&boot_marker_platform);
    int64_t marker_us = marker != NULL ? boot_marker_elapsed_us(marker) : -1;
    if (marker_us >= 0)
        timeline_add_at(&v->timeline, "guest: boot-complete marker", v->start_ns + (uint64_t)marker_us * 1000);
    if (v->vm.end_ns != 0) {
        char what[TIMELINE_WHAT_MAX];
        snprintf(what, sizeof what, "VM ended: %.100s", v->vm.end_message);
        timeline_add_at(&v->timeline, what, v->vm.end_ns);
    }
    for (size_t i = 0; i < v->vm.bus.count && c->mmio_devices < TIMELINE_MAX_DEVICES; i++) {
        c->mmio[c->mmio_devices].name = v->vm.bus.regions[i].name;
        c->mmio[c->mmio_devices].accesses = atomic_load(&v->vm.bus.accesses[i]);
        c->mmio_devices++;
    }
    c->system_events = atomic_load(&v->vm.system_events);
    for (uint32_t i = 0; v->vm.vcpus != NULL && i < v->vm.vcpu_count; i++) {
        const struct vcpu *cpu = &v->vm.vcpus[i];
        if (cpu->fd >= 0)
            kvm_stats_add_vcpu(cpu->fd, &c->kvm);
        c->guest_minor_faults += cpu->minor_faults;
        c->guest_major_faults += cpu->major_faults;
        c->guest_cpu_ns += cpu->cpu_ns;
    }
    c->setup_minor_faults = v->setup_minor_faults;
}

/* Stops everything, wipes guest RAM and releases the rest. Returns EXIT_ERROR when the wipe
 * verification failed, else `status`. */
static int teardown(struct vmm *v, int status)
{
    if (v->vm_opened) {
        vm_stop(&v->vm);
        timeline_mark(&v->timeline, "vCPU threads stopped and joined");
    }
    if (v->loop_running) {
        event_loop_stop(v->loop);
        timeline_mark(&v->timeline, "I/O thread stopped and joined");
    }
    v->loop_running = false;
    struct timeline_counts counts;
    if (v->timings)
        gather_counts(v, &counts); /* vCPU descriptors and devices are still there */
    if (v->virtio_created) {
        virtio_devices_destroy(); /* after the vCPUs and the loop stopped, before the wipe */
        timeline_mark(&v->timeline, "virtio devices destroyed");
    }
    v->virtio_created = false;
    crash_wipe_disarm(); /* the normal wipe takes over */
    if (v->vm_opened && v->vm.mem.hva != NULL) {
        if (v->verbose > 0) {
            long rss = rss_kib();
            uint64_t guest = guest_mem_resident_bytes(&v->vm.mem) >> 10;
            note(v, "RSS %ld KiB = guest RAM %llu KiB + VMM %lld KiB", rss, (unsigned long long)guest,
                 (long long)rss - (long long)guest);
        }
        uint64_t mem_size = v->vm.mem.size;
        struct guest_mem_wipe_stats ws;
        int wr = guest_mem_clear(&v->vm.mem, v->cfg->verify_wipe, &ws);
        char what[TIMELINE_WHAT_MAX];
        snprintf(what, sizeof what, "guest RAM wiped: %llu KiB resident, %llu KiB held data and were zeroed",
                 (unsigned long long)(ws.resident_bytes >> 10), (unsigned long long)(ws.zeroed_bytes >> 10));
        timeline_mark(&v->timeline, what);
        /* KVM goes before the RAM: destroying the VM frees its stage-2 tables in one go, so
         * munmap has no KVM mapping left to invalidate */
        vm_close(&v->vm);
        timeline_mark(&v->timeline, "KVM closed (vCPUs, vGIC, VM)");
        guest_mem_unmap(&v->vm.mem, &ws);
        timeline_mark(&v->timeline, "guest RAM unmapped");
        if (v->keeper.pid > 0) {
            keeper_finish(&v->keeper, wr == 0); /* a failed verification: the keeper wipes again */
            timeline_mark(&v->timeline, "wipe keeper told and reaped");
        }
        note(v, "%llu MMIO exits to user space", (unsigned long long)atomic_load(&v->vm.mmio_exits));
        note(v, "wiped %llu KiB of touched memory (of %llu MiB; %llu KiB held data and were zeroed) in %llu us, munmap %llu us",
             (unsigned long long)(ws.resident_bytes >> 10), (unsigned long long)(mem_size >> 20),
             (unsigned long long)(ws.zeroed_bytes >> 10),
             (unsigned long long)(ws.wipe_ns / 1000), (unsigned long long)(ws.unmap_ns / 1000));
        if (v->cfg->verify_wipe && wr == 0)
            fprintf(stderr, "silo-vmm: wipe verified: all %llu KiB of touched guest memory read zero before munmap\n",
                    (unsigned long long)(ws.resident_bytes >> 10));
        if (wr != 0) {
            fprintf(stderr, "silo-vmm: wipe verification FAILED: a touched guest page was not zero\n");
            status = EXIT_ERROR;
        }
    }
    if (v->vm_opened)
        vm_close(&v->vm); /* idempotent: already closed when there was RAM to wipe */
    keeper_finish(&v->keeper, false); /* idempotent: only a keeper not told yet wipes */
    event_loop_destroy(v->loop);
    v->loop = NULL;
    platform_devices_destroy(); /* whatever part of them was created */
    if (v->console_open)
        console_close(&v->console);
    if (v->restore != NULL)
        snapshot_close(v->restore);
    free(v->restore);
    v->restore = NULL;
    if (v->timings) {
        timeline_mark(&v->timeline, "everything released; exit");
        timeline_print(&v->timeline, &counts, stderr);
    }
    return status;
}

static int status_for_end(struct vmm *v)
{
    int reason = atomic_load(&v->vm.end_reason);
    switch (reason) {
    case VM_END_POWEROFF:
        note(v, "%s", v->vm.end_message);
        return EXIT_POWEROFF;
    case VM_END_RESET:
        fprintf(stderr, "silo-vmm: %s (exit status %d)\n", v->vm.end_message, EXIT_RESET);
        return EXIT_RESET;
    case VM_END_SIGNAL:
        fprintf(stderr, "silo-vmm: %s; VM stopped\n", v->vm.end_message);
        return 128 + v->vm.end_signal;
    case VM_END_SNAPSHOT:
        fprintf(stderr, "silo-vmm: %s\n", v->vm.end_message);
        return EXIT_POWEROFF;
    case VM_END_CRASH:
        fprintf(stderr, "silo-vmm: %s\n", v->vm.end_message);
        return EXIT_CRASH;
    default:
        fprintf(stderr, "silo-vmm: %s\n", v->vm.end_message[0] ? v->vm.end_message : "VM ended unexpectedly");
        return EXIT_ERROR;
    }
}

static int setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2); /* --snapshot-to */
    sigaddset(&set, VM_KICK_SIGNAL);
    /* Blocked here, before any thread exists, so every thread inherits the mask; SIGTERM and
     * SIGINT are then read from a signalfd at any stage, vCPU threads unblock only the kick. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    vm_install_kick_handler();
    sigdelset(&set, VM_KICK_SIGNAL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int main(int argc, char **argv)
{
    struct vmm v;
    memset(&v, 0, sizeof v);
    v.start_ns = boot_marker_now_ns();
    crash_wipe_install(); /* a crash is reported from the start; it wipes once RAM exists */
    sandbox_close_inherited_fds(); /* nothing from the parent beyond stdin/stdout/stderr */
    mallopt(M_ARENA_MAX, 1); /* one malloc arena: threads must not each reserve their own */

    struct vmm_config cfg;
    struct cli_extra extra;
    char err[512] = "";
    enum cli_result cr = cli_parse(argc, argv, &cfg, &extra, stdout, err, sizeof err);
    if (cr != CLI_RUN) {
        if (cr == CLI_ERROR)
            fprintf(stderr, "silo-vmm: %s\n", err);
        cli_release();
        return cr == CLI_EXIT_OK ? 0 : EXIT_ERROR;
    }
    v.cfg = &cfg;
    v.verbose = extra.verbose;
    v.timings = extra.timings || extra.verbose > 0;
    timeline_start(&v.timeline, v.start_ns);
    timeline_mark(&v.timeline, "command line parsed");
    note(&v, "command line parsed at %llu us", elapsed_us(&v));
    v.signal_fd = setup_signals();
    if (v.signal_fd < 0) {
        fprintf(stderr, "silo-vmm: signalfd: %s\n", strerror(errno));
        return EXIT_ERROR;
    }

    int status = EXIT_ERROR;
    if (console_open(&v.console, cfg.console, err, sizeof err) != 0) {
        fprintf(stderr, "silo-vmm: %s\n", err);
        goto out;
    }
    v.console_open = true;
    v.vm_opened = true; /* vm_open leaves a closable vm even when it fails */
    int built = build_vm(&v, err, sizeof err);
    if (built < 0) {
        fprintf(stderr, "silo-vmm: %s\n", err);
        goto out;
    }
    if (built == 1) {
        note(&v, "device tree written to %s", cfg.dump_dtb);
        status = 0;
        goto out;
    }
    if (run_vm(&v, err, sizeof err) != 0) {
        fprintf(stderr, "silo-vmm: %s\n", err);
        goto out;
    }
    status = status_for_end(&v);
out:
    status = teardown(&v, status);
    close(v.signal_fd);
    cli_release();
    return status;
}
