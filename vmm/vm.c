/* vmm/vm.c — KVM VM, vGIC, vCPUs and the run loop for arm64 (see vm.h). */
#include "vmm/vm.h"

#include "vmm/crash_wipe.h"
#include "vmm/sandbox.h"
#include "base/error_message.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/eventfd_util.h"
#include "base/mono_time.h"
#include "boot/layout.h"

#define VCPU_STACK_SIZE (256 * 1024)
#define MAX_UNHANDLED_MMIO_REPORTS 8
#define PSTATE_EL1H_DAIF 0x3c5ULL /* PSR_MODE_EL1h | PSR_F | PSR_I | PSR_A | PSR_D */
#define MPIDR_EL1_REG ARM64_SYS_REG(3, 0, 0, 0, 5)

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}


static const struct {
    int cap;
    const char *name;
} required_caps[] = {
    { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },       { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
    { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },           { KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2" },
    { KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL" },       { KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG" },
    { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

static int check_caps(struct vm *vm, char *err, size_t errlen)
{
    int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION)
        return error_message(err, errlen, "/dev/kvm speaks API version %d, not %d", api, KVM_API_VERSION);
    for (size_t i = 0; i < sizeof required_caps / sizeof required_caps[0]; i++)
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
            return error_message(err, errlen, "this host's KVM lacks %s, which silo-vmm needs", required_caps[i].name);
    return 0;
}

static int check_cpus(struct vm *vm, uint32_t cpus, char *err, size_t errlen)
{
    long host = sysconf(_SC_NPROCESSORS_ONLN);
    int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (host > 0 && cpus > (uint64_t)host) /* overcommit: allowed, as in kvmtool, QEMU and Firecracker */
        fprintf(stderr, "silo-vmm: warning: %u vCPUs on %ld host CPUs (overcommitted)\n", cpus, host);
    if (max > 0 && cpus > (uint32_t)max)
        return error_message(err, errlen, "--cpus: %u vCPUs but KVM allows %d", cpus, max);
    return 0;
}

int vm_open(struct vm *vm, uint64_t mem_bytes, uint32_t cpus, int mem_fd, char *err, size_t errlen)
{
    memset(vm, 0, sizeof *vm);
    vm->kvm_fd = vm->vm_fd = vm->gic_fd = vm->end_fd = -1;
    vm->vcpu_count = cpus;

    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0)
        return error_message(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
    if (check_caps(vm, err, errlen) != 0 || check_cpus(vm, cpus, err, errlen) != 0)
        return -1;

    int max_ipa = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
    uint32_t limit = max_ipa > 0 ? (uint32_t)max_ipa : 40;
    uint32_t needed = layout_ipa_bits(mem_bytes);
    if (needed > limit)
        return error_message(err, errlen,
                    "--mem: %llu MiB of RAM at 0x%llx needs a %u-bit guest physical address space; this host's KVM "
                    "offers %u bits",
                    (unsigned long long)(mem_bytes >> 20), (unsigned long long)DRAM_BASE, needed, limit);
    vm->ipa_bits = max_ipa > 0 ? needed : 40;
    unsigned long type = max_ipa > 0 ? KVM_VM_TYPE_ARM_IPA_SIZE(needed) : 0;
    do
        vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
    while (vm->vm_fd < 0 && errno == EINTR);
    if (vm->vm_fd < 0)
        return error_message(err, errlen, "KVM_CREATE_VM (IPA %u bits): %s", vm->ipa_bits, strerror(errno));

    int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size <= 0)
        return error_message(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    vm->run_mmap_size = (size_t)mmap_size;

    vm->end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vm->end_fd < 0)
        return error_message(err, errlen, "eventfd: %s", strerror(errno));

    int r = mem_fd >= 0             ? guest_mem_map_file(&vm->mem, DRAM_BASE, mem_bytes, mem_fd)
            : mem_fd == VM_MEM_MEMFD ? guest_mem_map_memfd(&vm->mem, DRAM_BASE, mem_bytes)
                                     : guest_mem_map(&vm->mem, DRAM_BASE, mem_bytes);
    if (r != 0)
        return error_message(err, errlen, "cannot map %llu MiB of guest RAM: %s", (unsigned long long)(mem_bytes >> 20),
                    strerror(-r));
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = DRAM_BASE,
        .memory_size = mem_bytes,
        .userspace_addr = (uint64_t)(uintptr_t)vm->mem.hva,
    };
    if (xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) != 0)
        return error_message(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
    return 0;
}

static int set_device_attr(int fd, uint32_t group, uint64_t attr, const void *value)
{
    struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)value };
    return xioctl(fd, KVM_SET_DEVICE_ATTR, &a);
}

int vm_choose_cpu_features(struct vm *vm, uint32_t required, uint32_t optional, char *err, size_t errlen)
{
    static const struct {
        uint32_t feature;
        const char *name;
        long cap, cap2;
    } known[] = {
        { VMM_CPU_SVE, "sve", KVM_CAP_ARM_SVE, KVM_CAP_ARM_SVE },
        { VMM_CPU_PAUTH, "pauth", KVM_CAP_ARM_PTRAUTH_ADDRESS, KVM_CAP_ARM_PTRAUTH_GENERIC },
        { VMM_CPU_PMU, "pmu", KVM_CAP_ARM_PMU_V3, KVM_CAP_ARM_PMU_V3 },
    };
    vm->cpu_features = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (!((required | optional) & known[i].feature))
            continue;
        bool has = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, known[i].cap) > 0 &&
                   ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, known[i].cap2) > 0;
        if (has)
            vm->cpu_features |= known[i].feature;
        else if (required & known[i].feature)
            return error_message(err, errlen, "--cpu-features %s: this host's KVM does not offer it", known[i].name);
    }
    return 0;
}

int vm_create_gic(struct vm *vm, char *err, size_t errlen)
{
    if (vm->gic_wanted == 2 && vm->vcpu_count > 8)
        return error_message(err, errlen, "--irqchip gicv2: a GICv2 serves at most 8 vCPUs, not %u", vm->vcpu_count);
    struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
    if (vm->gic_wanted != 2 && xioctl(vm->vm_fd, KVM_CREATE_DEVICE, &cd) == 0) {
        vm->gic_version = 3;
        vm->gic_fd = (int)cd.fd;
        vm->gic_dist_base = GIC_DIST_BASE;
        vm->gic_dist_size = GIC_DIST_SIZE;
        vm->gic_redist_size = GIC_REDIST_SIZE_PER_CPU * vm->vcpu_count;
        vm->gic_redist_base = GIC_DIST_BASE - vm->gic_redist_size;
        if (set_device_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &vm->gic_dist_base) != 0 ||
            set_device_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &vm->gic_redist_base) != 0)
            return error_message(err, errlen, "vGICv3 addresses: %s", strerror(errno));
        return 0;
    }
    int v3_errno = errno;
    if (vm->gic_wanted == 3)
        return error_message(err, errlen, "--irqchip gicv3: this host's KVM cannot create a vGICv3: %s", strerror(v3_errno));
    if (vm->vcpu_count > 8)
        return error_message(err, errlen, "cannot create a vGICv3 (%s), and a GICv2 serves at most 8 vCPUs, not %u",
                             strerror(v3_errno), vm->vcpu_count);
    cd = (struct kvm_create_device){ .type = KVM_DEV_TYPE_ARM_VGIC_V2 };
    if (xioctl(vm->vm_fd, KVM_CREATE_DEVICE, &cd) != 0) {
        if (vm->gic_wanted == 2)
            return error_message(err, errlen,
                                 "--irqchip gicv2: this host's KVM cannot emulate a GICv2 (%s; a GICv3 host needs "
                                 "the GICv2-compatible CPU interface for it)",
                                 strerror(errno));
        return error_message(err, errlen, "cannot create a vGIC: GICv3: %s; GICv2: %s", strerror(v3_errno), strerror(errno));
    }
    vm->gic_version = 2;
    vm->gic_fd = (int)cd.fd;
    vm->gic_dist_base = GIC_DIST_BASE;
    vm->gic_dist_size = GIC_V2_DIST_SIZE;
    vm->gic_redist_base = GIC_V2_CPU_IF_BASE;
    vm->gic_redist_size = GIC_V2_CPU_IF_SIZE;
    if (set_device_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &vm->gic_dist_base) != 0 ||
        set_device_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU, &vm->gic_redist_base) != 0)
        return error_message(err, errlen, "vGICv2 addresses: %s", strerror(errno));
    return 0;
}

int vm_create_vcpus(struct vm *vm, char *err, size_t errlen)
{
    struct kvm_vcpu_init preferred;
    if (xioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &preferred) != 0)
        return error_message(err, errlen, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
    vm->vcpus = calloc(vm->vcpu_count, sizeof *vm->vcpus);
    if (vm->vcpus == NULL)
        return error_message(err, errlen, "out of memory");
    for (uint32_t i = 0; i < vm->vcpu_count; i++)
        vm->vcpus[i].fd = -1;
    for (uint32_t i = 0; i < vm->vcpu_count; i++) {
        struct vcpu *v = &vm->vcpus[i];
        v->vm = vm;
        v->index = i;
        v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
        if (v->fd < 0)
            return error_message(err, errlen, "KVM_CREATE_VCPU %u: %s", i, strerror(errno));
        void *run = mmap(NULL, vm->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (run == MAP_FAILED)
            return error_message(err, errlen, "mmap of vCPU %u's kvm_run: %s", i, strerror(errno));
        v->run = run;
        struct kvm_vcpu_init init = { .target = preferred.target };
        init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
        if (i > 0)
            init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF; /* waits for PSCI CPU_ON */
        if (vm->cpu_features & VMM_CPU_SVE)
            init.features[0] |= 1u << KVM_ARM_VCPU_SVE;
        if (vm->cpu_features & VMM_CPU_PAUTH)
            init.features[0] |= (1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS) | (1u << KVM_ARM_VCPU_PTRAUTH_GENERIC);
        if (vm->cpu_features & VMM_CPU_PMU)
            init.features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
        if (xioctl(v->fd, KVM_ARM_VCPU_INIT, &init) != 0)
            return error_message(err, errlen, "KVM_ARM_VCPU_INIT %u: %s", i, strerror(errno));
        /* SVE: the vector lengths stay KVM's default (all the host has); finalizing fixes them
         * and makes the SVE registers exist */
        int sve = KVM_ARM_VCPU_SVE;
        if ((vm->cpu_features & VMM_CPU_SVE) && xioctl(v->fd, KVM_ARM_VCPU_FINALIZE, &sve) != 0)
            return error_message(err, errlen, "vCPU %u: finalizing SVE: %s", i, strerror(errno));
        struct kvm_one_reg reg = { .id = MPIDR_EL1_REG, .addr = (uint64_t)(uintptr_t)&v->mpidr };
        if (xioctl(v->fd, KVM_GET_ONE_REG, &reg) != 0)
            return error_message(err, errlen, "reading vCPU %u's MPIDR_EL1: %s", i, strerror(errno));
    }
    return 0;
}

int vm_finalize_gic(struct vm *vm, char *err, size_t errlen)
{
    uint32_t nr_irqs = GIC_NR_IRQS;
    if (set_device_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs) != 0)
        return error_message(err, errlen, "vGIC NR_IRQS: %s", strerror(errno));
    if (set_device_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL) != 0)
        return error_message(err, errlen, "vGIC CTRL_INIT: %s", strerror(errno));
    for (uint32_t i = 0; (vm->cpu_features & VMM_CPU_PMU) && i < vm->vcpu_count; i++) {
        int irq = 16 + PMU_PPI; /* a PPI, as an INTID */
        if (set_device_attr(vm->vcpus[i].fd, KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_IRQ, &irq) != 0 ||
            set_device_attr(vm->vcpus[i].fd, KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_INIT, NULL) != 0)
            return error_message(err, errlen, "vCPU %u: PMUv3 set-up: %s", i, strerror(errno));
    }
    return 0;
}

int vm_hook_add_ioeventfd(void *opaque, uint64_t gpa, uint32_t datamatch, int fd)
{
    struct vm *vm = opaque;
    struct kvm_ioeventfd io = {
        .datamatch = datamatch, .addr = gpa, .len = 4, .fd = fd, .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
    };
    return xioctl(vm->vm_fd, KVM_IOEVENTFD, &io) == 0 ? 0 : -errno;
}

int vm_hook_add_irqfd(void *opaque, uint32_t spi, int fd)
{
    struct vm *vm = opaque;
    if (spi >= GIC_NR_IRQS - 32)
        return -EINVAL;
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = spi };
    return xioctl(vm->vm_fd, KVM_IRQFD, &irqfd) == 0 ? 0 : -errno;
}

static int set_core_reg(int fd, size_t offset, uint64_t value)
{
    struct kvm_one_reg reg = {
        .id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(uint32_t)),
        .addr = (uint64_t)(uintptr_t)&value,
    };
    return xioctl(fd, KVM_SET_ONE_REG, &reg);
}

int vm_set_boot_regs(struct vm *vm, uint64_t entry, uint64_t dtb, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < vm->vcpu_count; i++)
        if (set_core_reg(vm->vcpus[i].fd, offsetof(struct kvm_regs, regs.pstate), PSTATE_EL1H_DAIF) != 0)
            return error_message(err, errlen, "setting vCPU %u's PSTATE: %s", i, strerror(errno));
    int fd = vm->vcpus[0].fd;
    if (set_core_reg(fd, offsetof(struct kvm_regs, regs.pc), entry) != 0 ||
        set_core_reg(fd, offsetof(struct kvm_regs, regs.regs[0]), dtb) != 0 ||
        set_core_reg(fd, offsetof(struct kvm_regs, regs.regs[1]), 0) != 0 ||
        set_core_reg(fd, offsetof(struct kvm_regs, regs.regs[2]), 0) != 0 ||
        set_core_reg(fd, offsetof(struct kvm_regs, regs.regs[3]), 0) != 0)
        return error_message(err, errlen, "setting vCPU 0's boot registers: %s", strerror(errno));
    return 0;
}

void vm_end(struct vm *vm, enum vm_end_reason reason, const char *fmt, ...)
{
    int expected = VM_RUNNING;
    if (!atomic_compare_exchange_strong(&vm->end_reason, &expected, (int)reason))
        return;
    vm->end_ns = mono_ns();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->end_message, sizeof vm->end_message, fmt, ap);
    va_end(ap);
    eventfd_signal(vm->end_fd);
}

static void report_unhandled_mmio(struct vcpu *v, const struct kvm_run *run)
{
    unsigned n = atomic_fetch_add(&v->vm->unhandled_mmio_reports, 1);
    if (n < MAX_UNHANDLED_MMIO_REPORTS)
        fprintf(stderr, "silo-vmm: vCPU %u: guest %s of %u bytes at 0x%llx: no device there (%s)\n", v->index,
                run->mmio.is_write ? "write" : "read", run->mmio.len, (unsigned long long)run->mmio.phys_addr,
                run->mmio.is_write ? "ignored" : "reads as zero");
    else if (n == MAX_UNHANDLED_MMIO_REPORTS)
        fprintf(stderr, "silo-vmm: further accesses to unmapped MMIO are not reported\n");
}

/* Returns false when this vCPU must stop running. */
static bool handle_exit(struct vcpu *v)
{
    struct vm *vm = v->vm;
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO: {
        uint32_t len = run->mmio.len;
        atomic_fetch_add_explicit(&vm->mmio_exits, 1, memory_order_relaxed);
        bool ok;
        if (len == 0 || len > sizeof run->mmio.data) {
            ok = false;
        } else if (run->mmio.is_write) {
            ok = mmio_bus_write(&vm->bus, run->mmio.phys_addr, run->mmio.data, len);
        } else {
            ok = mmio_bus_read(&vm->bus, run->mmio.phys_addr, run->mmio.data, len);
        }
        if (!ok)
            report_unhandled_mmio(v, run);
        return true;
    }
    case KVM_EXIT_SYSTEM_EVENT:
        atomic_fetch_add_explicit(&vm->system_events, 1, memory_order_relaxed);
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
            vm_end(vm, VM_END_POWEROFF, "guest powered off");
            return false;
        case KVM_SYSTEM_EVENT_RESET:
            vm_end(vm, VM_END_RESET, "guest asked for a reset");
            return false;
        case KVM_SYSTEM_EVENT_CRASH:
            vm_end(vm, VM_END_CRASH, "guest reported a crash (PSCI system event)");
            return false;
        default:
            return true; /* wakeup/suspend: resume the vCPU */
        }
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_FAIL_ENTRY:
        vm_end(vm, VM_END_CRASH, "vCPU %u: KVM entry failed (reason 0x%llx)", v->index,
               (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        return false;
    case KVM_EXIT_INTERNAL_ERROR:
        vm_end(vm, VM_END_CRASH, "vCPU %u: KVM internal error (suberror %u)", v->index, run->internal.suberror);
        return false;
    case KVM_EXIT_ARM_NISV:
        vm_end(vm, VM_END_CRASH, "vCPU %u: guest MMIO access at 0x%llx that KVM cannot decode", v->index,
               (unsigned long long)run->arm_nisv.fault_ipa);
        return false;
    default:
        vm_end(vm, VM_END_CRASH, "vCPU %u: unhandled KVM exit reason %u", v->index, run->exit_reason);
        return false;
    }
}

/* The vCPU thread's page faults (guest RAM KVM faulted in for the guest) and CPU time, read
 * by the main thread after the join. */
static void record_thread_usage(struct vcpu *v)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return;
    v->minor_faults = ru.ru_minflt;
    v->major_faults = ru.ru_majflt;
    v->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
                ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    struct vm *vm = v->vm;
    crash_wipe_thread_init();
    /* "vcpuN": silod meters the guest's active time by these threads' CPU time. Named by the
     * thread itself: naming another thread (pthread_setname_np) writes /proc/self/task/TID/comm,
     * which a jailed VMM cannot (its /proc is read-only) */
    char name[16];
    snprintf(name, sizeof name, "vcpu%u", v->index);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    char why[300];
    if (sandbox_enter_role(SECCOMP_ROLE_VCPU, why, sizeof why) != 0) {
        vm_end(vm, VM_END_ERROR, "vCPU %u: %s", v->index, why); /* never run the guest unfiltered */
        return NULL;
    }
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, VM_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

    while (!atomic_load(&vm->stopping)) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            vm_end(vm, VM_END_ERROR, "vCPU %u: KVM_RUN: %s", v->index, strerror(errno));
            break;
        }
        if (!handle_exit(v)) {
            record_thread_usage(v);
            return NULL;
        }
    }
    /* Stopped from outside: an exit just handled (an MMIO read's value) is completed by the
     * next KVM_RUN; with immediate_exit set that run returns at once without guest code. */
    ((volatile struct kvm_run *)v->run)->immediate_exit = 1;
    for (int tries = 0; tries < 3 && (ioctl(v->fd, KVM_RUN, 0) == 0 || errno == EAGAIN); tries++) {
    }
    record_thread_usage(v);
    return NULL;
}

static void kick_handler(int sig)
{
    (void)sig; /* only there to interrupt KVM_RUN and blocking calls */
}

void vm_install_kick_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler; /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(VM_KICK_SIGNAL, &sa, NULL);
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
    for (uint32_t i = 0; i < vm->vcpu_count; i++) {
        int r = pthread_create(&vm->vcpus[i].thread, &attr, vcpu_thread, &vm->vcpus[i]);
        if (r != 0) {
            pthread_attr_destroy(&attr);
            return error_message(err, errlen, "cannot start vCPU %u's thread: %s", i, strerror(r));
        }
        vm->vcpus[i].thread_started = true;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

void vm_stop(struct vm *vm)
{
    atomic_store(&vm->stopping, true);
    for (uint32_t i = 0; vm->vcpus != NULL && i < vm->vcpu_count; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (!v->thread_started)
            continue;
        ((volatile struct kvm_run *)v->run)->immediate_exit = 1;
        pthread_kill(v->thread, VM_KICK_SIGNAL);
    }
    for (uint32_t i = 0; vm->vcpus != NULL && i < vm->vcpu_count; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (!v->thread_started)
            continue;
        pthread_join(v->thread, NULL);
        v->thread_started = false;
    }
}

void vm_close(struct vm *vm)
{
    vm_stop(vm);
    for (uint32_t i = 0; vm->vcpus != NULL && i < vm->vcpu_count; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (v->run != NULL)
            munmap(v->run, vm->run_mmap_size);
        if (v->fd >= 0)
            close(v->fd);
    }
    free(vm->vcpus);
    vm->vcpus = NULL;
    int *fds[] = { &vm->gic_fd, &vm->vm_fd, &vm->kvm_fd, &vm->end_fd };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}
