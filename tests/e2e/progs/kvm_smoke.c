/* tests/e2e/progs/kvm_smoke.c — the first end-to-end check of the dev host: /dev/kvm works.
 *
 * Creates a VM with 64 KiB of RAM at 0x8000_0000, one vCPU (KVM_ARM_PREFERRED_TARGET), and runs
 * a few instructions that store 0x42 to 0x1000_0000, where no memory is mapped. The run must come
 * back as KVM_EXIT_MMIO with that address, length 8, is_write and the value. A second run checks the
 * MMIO read path: the value we hand back for a load must come back out in the guest's next store.
 * Prints `ok - ...` / `not ok - ...` lines (tests/run counts them) and the time taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x10000ull
#define MMIO_ADDR 0x10000000ull

static int failures;

static void verdict(int ok, const char *what)
{
    printf("%s - kvm_smoke: %s\n", ok ? "ok" : "not ok", what);
    failures += !ok;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static uint64_t core_reg_id(size_t offset)
{
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(uint32_t));
}

int main(void)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        printf("not ok - kvm_smoke: open /dev/kvm: %s\n", strerror(errno));
        return 1;
    }
    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    verdict(api == KVM_API_VERSION, "/dev/kvm opens and speaks API version 12");

    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        printf("not ok - kvm_smoke: KVM_CREATE_VM: %s\n", strerror(errno));
        return 1;
    }
    uint32_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const uint32_t code[] = {
        0xD2800840, /* movz x0, #0x42               */
        0xD2A20001, /* movz x1, #0x1000, lsl #16    */
        0xF9000020, /* str  x0, [x1]                */
        0xF9400022, /* ldr  x2, [x1]                */
        0xF9000422, /* str  x2, [x1, #8]            */
        0x14000000, /* b    .                       */
    };
    memcpy(ram, code, sizeof code);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE, .userspace_addr = (uintptr_t)ram,
    };
    verdict(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) == 0, "guest RAM registered");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    struct kvm_vcpu_init init;
    memset(&init, 0, sizeof init);
    int ok = vcpu >= 0 && ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) == 0 && ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) == 0;
    verdict(ok, "vCPU created and initialised with the preferred target");
    if (!ok)
        return 1;

    uint64_t pc = RAM_BASE;
    struct kvm_one_reg reg = { .id = core_reg_id(offsetof(struct kvm_regs, regs.pc)), .addr = (uintptr_t)&pc };
    verdict(ioctl(vcpu, KVM_SET_ONE_REG, &reg) == 0, "PC set to the start of guest RAM");

    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);

    int r = ioctl(vcpu, KVM_RUN, 0);
    uint64_t value = 0;
    memcpy(&value, run->mmio.data, sizeof value);
    ok = r == 0 && run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == MMIO_ADDR && run->mmio.len == 8 &&
         run->mmio.is_write && value == 0x42;
    if (!ok)
        printf("#   run=%d exit_reason=%u addr=0x%llx len=%u write=%u value=0x%llx\n", r, run->exit_reason,
               (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write, (unsigned long long)value);
    verdict(ok, "guest store exits with KVM_EXIT_MMIO at 0x10000000, 8 bytes, value 0x42");

    r = ioctl(vcpu, KVM_RUN, 0);
    ok = r == 0 && run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == MMIO_ADDR && !run->mmio.is_write;
    verdict(ok, "guest load exits with an MMIO read of 0x10000000");
    uint64_t answer = 0x1122334455667788ull;
    memcpy(run->mmio.data, &answer, sizeof answer);
    r = ioctl(vcpu, KVM_RUN, 0); /* completes the load, then the guest stores x2 at +8 */
    memcpy(&value, run->mmio.data, sizeof value);
    ok = r == 0 && run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == MMIO_ADDR + 8 &&
         run->mmio.is_write && value == answer;
    if (!ok)
        printf("#   run=%d addr=0x%llx value=0x%llx\n", r, (unsigned long long)run->mmio.phys_addr,
               (unsigned long long)value);
    verdict(ok, "the value handed back for the MMIO read reaches the guest (stored back from x2)");

    printf("# kvm_smoke: %.1f ms from exec to the end\n", ms_since(&t0));
    return failures ? 1 : 0;
}
