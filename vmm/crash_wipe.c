/* vmm/crash_wipe.c — zero guest RAM when silo-vmm crashes (see crash_wipe.h). */
#include "vmm/crash_wipe.h"

#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/seccomp_policy.h"

/* si_code of a seccomp SIGSYS (asm-generic/siginfo.h's SYS_SECCOMP; glibc does not export it) */
#define SECCOMP_SI_CODE 1

#define CHUNK_PAGES 4096 /* one mincore call covers 16 MiB of 4 KiB pages */

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS };
static uint8_t *_Atomic armed_hva;
static uint64_t armed_size;
static int armed_vm_fd = -1;
static _Atomic int keeper_fd = -1;
static atomic_bool handling; /* a thread is in on_fatal: the others wait for it */
static unsigned char vec[CHUNK_PAGES];
static _Thread_local const char *thread_role; /* "main", "vcpu", "io" once it has a filter */

unsigned long long crash_wipe_now(void)
{
    uint8_t *hva = atomic_exchange(&armed_hva, NULL); /* one wipe, even if several threads crash */
    if (hva == NULL)
        return 0;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    unsigned long long zeroed = 0;
    for (uint64_t off = 0; off < armed_size; off += CHUNK_PAGES * page) {
        uint64_t len = armed_size - off < CHUNK_PAGES * page ? armed_size - off : CHUNK_PAGES * page;
        if (mincore(hva + off, len, vec) != 0) {
            explicit_bzero(hva + off, len); /* cannot tell: zero it all */
            zeroed += len;
            continue;
        }
        for (uint64_t i = 0; i < len / page; i++)
            if (vec[i] & 1) {
                explicit_bzero(hva + off + i * page, page);
                zeroed += page;
            }
    }
    return zeroed;
}

static void say(const char *text)
{
    ssize_t n = write(STDERR_FILENO, text, strlen(text));
    (void)n;
}

/* Appends v in hex to buf at *pos (async-signal-safe; no stdio). */
static void put_hex(char *buf, size_t *pos, size_t cap, uintptr_t v)
{
    char tmp[2 * sizeof v];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v && n < sizeof tmp);
    for (const char *p = "0x"; *p && *pos + 1 < cap; p++)
        buf[(*pos)++] = *p;
    while (n && *pos + 1 < cap)
        buf[(*pos)++] = tmp[--n];
}

static void put_dec(char *buf, size_t *pos, size_t cap, unsigned v)
{
    char tmp[12];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof tmp);
    while (n && *pos + 1 < cap)
        buf[(*pos)++] = tmp[--n];
}

static void put_str(char *buf, size_t *pos, size_t cap, const char *s)
{
    while (*s && *pos + 1 < cap)
        buf[(*pos)++] = *s++;
}

/* "silo-vmm: crashed (signal 11, fault address 0x…)" — what the next reader of a
 * crash report needs to find it; then whether guest memory was wiped. */
static void say_crash(int sig, const siginfo_t *info, bool wiped)
{
    char line[192];
    size_t pos = 0;
    put_str(line, &pos, sizeof line, "silo-vmm: crashed (signal ");
    put_dec(line, &pos, sizeof line, (unsigned)sig);
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) {
        put_str(line, &pos, sizeof line, ", fault address ");
        put_hex(line, &pos, sizeof line, info ? (uintptr_t)info->si_addr : 0);
    }
    put_str(line, &pos, sizeof line, wiped ? "): guest memory wiped before exit\n"
                                           : "): no guest memory to wipe yet\n");
    line[pos] = '\0';
    say(line);
}

/* "silo-vmm: seccomp: thread vcpu made a forbidden system call 110 (getppid)" */
static void say_seccomp(const siginfo_t *info)
{
    char line[192];
    size_t pos = 0;
    const char *name = seccomp_syscall_name(info->si_syscall);
    put_str(line, &pos, sizeof line, "silo-vmm: seccomp: thread ");
    put_str(line, &pos, sizeof line, thread_role != NULL ? thread_role : "(no role yet)");
    put_str(line, &pos, sizeof line, " made a forbidden system call ");
    put_dec(line, &pos, sizeof line, (unsigned)info->si_syscall);
    put_str(line, &pos, sizeof line, " (");
    put_str(line, &pos, sizeof line, name != NULL ? name : "unknown");
    put_str(line, &pos, sizeof line, ")\n");
    line[pos] = '\0';
    say(line);
}

static void on_fatal(int sig, siginfo_t *info, void *ucontext)
{
    (void)ucontext;
    bool wiped = false;
    if (sig == SIGSYS && info != NULL && info->si_code == SECCOMP_SI_CODE)
        say_seccomp(info);
    if (atomic_exchange(&handling, true)) {
        /* another thread crashed first and is wiping: dying now (our signal's default action
         * kills the whole process) would cut its wipe short. Wait; its raise ends us all. */
        for (;;) {
            struct timespec second = { 1, 0 };
            nanosleep(&second, NULL); /* clock_nanosleep: on every seccomp role's list */
        }
    }
    if (atomic_load(&armed_hva) != NULL) {
        if (armed_vm_fd >= 0) {
            struct kvm_userspace_memory_region gone = { .slot = 0, .memory_size = 0 };
            ioctl(armed_vm_fd, KVM_SET_USER_MEMORY_REGION, &gone);
        }
        crash_wipe_now();
        wiped = true;
        int kfd = atomic_load(&keeper_fd);
        if (kfd >= 0) {
            ssize_t n = write(kfd, "W", 1); /* KEEPER_WIPED: the keeper need not wipe again */
            (void)n;
        }
    }
    say_crash(sig, info, wiped);
    signal(sig, SIG_DFL); /* then die of it, as without us */
    raise(sig);
}

void crash_wipe_install(void)
{
    crash_wipe_thread_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sigfillset(&sa.sa_mask);
    /* no SA_RESETHAND: a second thread crashing while the first wipes must reach the handler
     * (and wait there), not the default action that kills the process mid-wipe */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}

void crash_wipe_thread_init(void)
{
    /* The handler must run even when the crash is a stack overflow: give every thread its own
     * alternate signal stack, with a guard page below it. Never freed: one per thread, and
     * threads live as long as the process. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = CRASH_STACK_SIZE + page;
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return; /* the handler still runs on the thread's own stack */
    mprotect(p, page, PROT_NONE);
    stack_t ss = { .ss_sp = p + page, .ss_size = CRASH_STACK_SIZE, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0)
        munmap(p, size);
}

void crash_wipe_thread_role(const char *role)
{
    thread_role = role;
}

void crash_wipe_arm(const struct guest_mem *mem, int vm_fd)
{
    armed_size = mem->size;
    armed_vm_fd = vm_fd;
    atomic_store(&armed_hva, mem->hva);
    crash_wipe_install(); /* idempotent: main installs it first thing */
}

void crash_wipe_set_keeper_fd(int fd)
{
    atomic_store(&keeper_fd, fd);
}

void crash_wipe_disarm(void)
{
    atomic_store(&armed_hva, NULL); /* the handler still reports a crash, but wipes nothing */
}
