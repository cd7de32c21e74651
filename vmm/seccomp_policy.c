/* vmm/seccomp_policy.c — the allow-list of each thread role of silo-vmm (see seccomp_policy.h).
 * System calls are named with SYS_*: the lists build for arm64 (silo-vmm) and x86_64 (the unit
 * tests). Calls that exist on only one of them are guarded with #ifdef.
 */
#include "vmm/seccomp_policy.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define ALLOW(name) { .nr = SYS_##name }
#define NVALUES(...) (sizeof((uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))
#define ALLOW_ARG(name, argn, ...) \
    { .nr = SYS_##name, .arg = (argn), .arg_values = NVALUES(__VA_ARGS__), .values = { __VA_ARGS__ } }

/* mmap and mprotect: data only, never executable memory */
#define DATA_PROTS PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE

/* What every thread needs: memory, futexes, signals, thread exit, the clock, and the syscalls
 * of the fatal-signal handler (crash_wipe.c) besides its ioctl, which each role lists. */
static const struct seccomp_rule every_thread[] = {
    ALLOW(futex),
    ALLOW(rt_sigreturn),
    ALLOW(rt_sigprocmask),
    ALLOW(rt_sigaction),
    ALLOW(sigaltstack),
    ALLOW(restart_syscall),
    ALLOW(tgkill),
    ALLOW(getpid),
    ALLOW(gettid),
    ALLOW(exit),
    ALLOW(exit_group),
    ALLOW(write),
    ALLOW(mincore),
    ALLOW(madvise),
    ALLOW(munmap),
    ALLOW_ARG(mmap, 2, DATA_PROTS),
    ALLOW_ARG(mprotect, 2, DATA_PROTS),
    ALLOW(brk),
    ALLOW(clock_gettime),
    ALLOW(clock_nanosleep),
#ifdef SYS_nanosleep
    ALLOW(nanosleep),
#endif
    ALLOW(sched_yield),
    ALLOW(getrandom),
};

/* vCPU threads: KVM_RUN, and what device registers do on an MMIO exit (write: eventfds, irqfds,
 * console output, the boot marker's line; the RTC's alarm). No files, no sockets. */
static const struct seccomp_rule vcpu_only[] = {
    ALLOW_ARG(ioctl, 1, KVM_RUN, KVM_SET_USER_MEMORY_REGION),
    ALLOW(timerfd_settime),
    ALLOW(getrusage),
};

/* The I/O thread: the event loop and the device back ends on descriptors it already holds; it
 * opens nothing but AF_UNIX sockets to connect (vsock: the guest connecting to a host port)
 * and accepts on the listening socket made at start-up (no bind, listen, unlink). */
static const struct seccomp_rule io_only[] = {
    ALLOW_ARG(ioctl, 1, KVM_SET_USER_MEMORY_REGION),
    ALLOW(epoll_pwait),
#ifdef SYS_epoll_wait
    ALLOW(epoll_wait),
#endif
    ALLOW(epoll_ctl),
    ALLOW(eventfd2),
    ALLOW(timerfd_create),
    ALLOW(timerfd_settime),
    ALLOW(read),
    ALLOW(readv),
    ALLOW(writev),
    ALLOW(pread64),
    ALLOW(pwrite64),
    ALLOW(preadv),
    ALLOW(pwritev),
    ALLOW(preadv2),
    ALLOW(pwritev2),
    ALLOW(lseek),
    ALLOW(fsync),
    ALLOW(fdatasync),
    ALLOW(fallocate),
    ALLOW(ftruncate),
    ALLOW(copy_file_range),
    ALLOW(fstat),
    ALLOW(newfstatat),
    ALLOW(close),
    ALLOW(fcntl),
    ALLOW_ARG(socket, 0, AF_UNIX),
    ALLOW(connect),
    ALLOW(accept4),
    ALLOW(shutdown),
    ALLOW(sendto),
    ALLOW(recvfrom),
    ALLOW(sendmsg),
    ALLOW(recvmsg),
};

/* The main thread once the vCPUs run: the wait, the stop, a snapshot, the teardown. */
static const struct seccomp_rule main_only[] = {
    ALLOW_ARG(ioctl, 1, KVM_SET_USER_MEMORY_REGION, KVM_GET_REG_LIST, KVM_GET_ONE_REG, KVM_GET_MP_STATE,
              KVM_HAS_DEVICE_ATTR, KVM_GET_DEVICE_ATTR, KVM_SET_DEVICE_ATTR, KVM_GET_STATS_FD, TCGETS, TCSETS,
              TCSETSW, TCSETSF),
    ALLOW(ppoll),
#ifdef SYS_poll
    ALLOW(poll),
#endif
    ALLOW(read),
    ALLOW(readv),
    ALLOW(writev),
    ALLOW(pread64),
    ALLOW(pwrite64),
    ALLOW(lseek),
    ALLOW(close),
    ALLOW(fcntl),
    ALLOW(openat),
#ifdef SYS_open
    ALLOW(open),
#endif
    ALLOW(mkdirat),
#ifdef SYS_mkdir
    ALLOW(mkdir),
#endif
    ALLOW(renameat),
    ALLOW(renameat2),
    ALLOW(unlinkat),
    ALLOW(fstat),
    ALLOW(newfstatat),
    ALLOW(statx),
    ALLOW(fsync),
    ALLOW(fdatasync),
    ALLOW(ftruncate),
    ALLOW(fallocate),
    ALLOW(copy_file_range),
    ALLOW(sendfile),
    ALLOW(epoll_ctl),
    ALLOW(shutdown),
    ALLOW(getrusage),
    ALLOW(wait4),
    ALLOW(readlinkat),
};

/* The --wipe-keeper process: its pipe, the memfd's data runs. */
static const struct seccomp_rule keeper_only[] = {
    ALLOW(read),
    ALLOW(lseek),
    ALLOW(close),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct seccomp_ruleset role_sets[SECCOMP_ROLE_COUNT] = {
    [SECCOMP_ROLE_MAIN] = { main_only, COUNT(main_only) },
    [SECCOMP_ROLE_VCPU] = { vcpu_only, COUNT(vcpu_only) },
    [SECCOMP_ROLE_IO] = { io_only, COUNT(io_only) },
    [SECCOMP_ROLE_KEEPER] = { keeper_only, COUNT(keeper_only) },
};

static const char *const role_names[SECCOMP_ROLE_COUNT] = {
    [SECCOMP_ROLE_MAIN] = "main", [SECCOMP_ROLE_VCPU] = "vcpu", [SECCOMP_ROLE_IO] = "io",
    [SECCOMP_ROLE_KEEPER] = "keeper",
};

const char *seccomp_role_name(enum seccomp_role role)
{
    return (unsigned)role < SECCOMP_ROLE_COUNT ? role_names[role] : "?";
}

size_t seccomp_policy_sets(enum seccomp_role role, struct seccomp_ruleset sets[2])
{
    sets[0] = (struct seccomp_ruleset){ every_thread, COUNT(every_thread) };
    sets[1] = (unsigned)role < SECCOMP_ROLE_COUNT ? role_sets[role] : (struct seccomp_ruleset){ NULL, 0 };
    return 2;
}

size_t seccomp_policy_count(enum seccomp_role role)
{
    struct seccomp_ruleset sets[2];
    seccomp_policy_sets(role, sets);
    return sets[0].count + sets[1].count;
}

/* Names for the log line of a violation: the calls of the lists above, and the ones a
 * compromised VMM would reach for. */
#define NAME(name) { SYS_##name, #name }
static const struct {
    long nr;
    const char *name;
} names[] = {
    NAME(futex), NAME(rt_sigreturn), NAME(rt_sigprocmask), NAME(rt_sigaction), NAME(sigaltstack),
    NAME(restart_syscall), NAME(tgkill), NAME(getpid), NAME(gettid), NAME(exit), NAME(exit_group),
    NAME(write), NAME(mincore), NAME(madvise), NAME(munmap), NAME(mmap), NAME(mprotect), NAME(brk),
    NAME(clock_gettime), NAME(clock_nanosleep), NAME(sched_yield), NAME(getrandom), NAME(ioctl), NAME(read),
    NAME(close), NAME(timerfd_settime), NAME(timerfd_gettime), NAME(timerfd_create), NAME(getrusage),
    NAME(epoll_pwait), NAME(epoll_ctl), NAME(eventfd2), NAME(readv), NAME(writev), NAME(pread64),
    NAME(pwrite64), NAME(preadv), NAME(pwritev), NAME(preadv2), NAME(pwritev2), NAME(lseek), NAME(fsync),
    NAME(fdatasync), NAME(fallocate), NAME(ftruncate), NAME(copy_file_range), NAME(fstat), NAME(newfstatat),
    NAME(fcntl), NAME(socket), NAME(connect), NAME(accept4), NAME(bind), NAME(listen), NAME(shutdown),
    NAME(sendto), NAME(recvfrom), NAME(sendmsg), NAME(recvmsg), NAME(getsockopt), NAME(setsockopt),
    NAME(getsockname), NAME(getpeername), NAME(unlinkat), NAME(ppoll), NAME(openat), NAME(mkdirat),
    NAME(renameat), NAME(renameat2), NAME(statx), NAME(sendfile), NAME(wait4), NAME(kill), NAME(readlinkat),
    NAME(execve), NAME(execveat), NAME(ptrace), NAME(process_vm_readv), NAME(process_vm_writev), NAME(mount),
    NAME(umount2), NAME(pivot_root), NAME(chroot), NAME(setns), NAME(unshare), NAME(clone), NAME(clone3),
    NAME(kexec_load), NAME(init_module), NAME(finit_module), NAME(delete_module), NAME(bpf),
    NAME(perf_event_open), NAME(add_key), NAME(request_key), NAME(keyctl), NAME(userfaultfd), NAME(reboot),
    NAME(open_by_handle_at), NAME(name_to_handle_at), NAME(memfd_create), NAME(setuid), NAME(setgid),
    NAME(prctl), NAME(seccomp), NAME(getppid), NAME(uname), NAME(getcwd), NAME(chdir), NAME(fchdir),
    NAME(dup3), NAME(pipe2), NAME(getdents64), NAME(fchmod), NAME(fchmodat), NAME(fchown), NAME(linkat),
    NAME(symlinkat), NAME(set_robust_list), NAME(rseq), NAME(sysinfo), NAME(sched_getaffinity),
    NAME(prlimit64), NAME(setpriority), NAME(socketpair), NAME(accept), NAME(signalfd4), NAME(waitid),
    NAME(mremap), NAME(msync), NAME(mlock), NAME(mlock2), NAME(munlock), NAME(tkill), NAME(rt_sigqueueinfo),
    NAME(rt_tgsigqueueinfo), NAME(pidfd_open), NAME(pidfd_send_signal), NAME(pidfd_getfd),
    NAME(io_uring_setup), NAME(io_uring_enter), NAME(nanosleep),
#ifdef SYS_open
    NAME(open), NAME(poll), NAME(mkdir), NAME(unlink), NAME(fork), NAME(vfork), NAME(epoll_wait),
#endif
};

const char *seccomp_syscall_name(long nr)
{
    for (size_t i = 0; i < COUNT(names); i++)
        if (names[i].nr == nr)
            return names[i].name;
    return NULL;
}
