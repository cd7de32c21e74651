/* tests/unit/test_seccomp_filter.c — vmm/seccomp_filter.c and vmm/seccomp_policy.c, natively:
 * the builder's refusals, then real filters in forked children (so no filter reaches the test
 * runner): an allowed call works, a forbidden one traps (SIGSYS, with the call's number) or
 * fails with the default action, ioctl/mmap arguments are checked as full 64-bit values, and
 * the silo-vmm role policies build and refuse what their role must not do. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/seccomp_filter.h"
#include "vmm/seccomp_policy.h"

/* si_code of a seccomp SIGSYS (asm-generic/siginfo.h's SYS_SECCOMP; glibc does not export it) */
#define SECCOMP_SI_CODE 1

#define DENY_EPERM (SECCOMP_RET_ERRNO | EPERM)

/* What the test children need besides the calls under test. */
static const struct seccomp_rule test_rules[] = {
    { .nr = SYS_exit_group },
    { .nr = SYS_exit },
    { .nr = SYS_write },
    { .nr = SYS_getpid },
    { .nr = SYS_rt_sigreturn },
    { .nr = SYS_rt_sigprocmask },
    { .nr = SYS_rt_sigaction },
    { .nr = SYS_sigaltstack }, /* ASan's signal handling */
    { .nr = SYS_futex },
    { .nr = SYS_brk },
    { .nr = SYS_munmap },
    { .nr = SYS_ioctl, .arg = 1, .arg_values = 2, .values = { FIONREAD, TCGETS } },
    { .nr = SYS_mmap, .arg = 2, .arg_values = 2, .values = { PROT_READ, PROT_READ | PROT_WRITE } },
};

static int install_test_policy(uint32_t action)
{
    struct seccomp_ruleset set = { test_rules, sizeof test_rules / sizeof test_rules[0] };
    char err[200];
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return seccomp_filter_install(&set, 1, action, err, sizeof err);
}

/* Runs fn in a child; returns its exit status, or 100 + the signal that killed it. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn()); /* _exit: no atexit work (LSan) under the filter */
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_builder_refuses_bad_rules(void)
{
    struct sock_filter prog[SECCOMP_FILTER_MAX_INSNS];
    char err[200] = "";
    struct seccomp_rule twice[] = { { .nr = SYS_read }, { .nr = SYS_write }, { .nr = SYS_read } };
    struct seccomp_ruleset set = { twice, 3 };
    CHECK_EQ(seccomp_filter_build(&set, 1, SECCOMP_RET_TRAP, prog, SECCOMP_FILTER_MAX_INSNS, err, sizeof err), -1);
    CHECK(strstr(err, "twice") != NULL);
    /* the same call in two sets of one policy is refused too */
    struct seccomp_ruleset two[] = { { twice, 1 }, { twice + 2, 1 } };
    CHECK_EQ(seccomp_filter_build(two, 2, SECCOMP_RET_TRAP, prog, SECCOMP_FILTER_MAX_INSNS, err, sizeof err), -1);
    struct seccomp_rule bad_arg = { .nr = SYS_ioctl, .arg = 6, .arg_values = 1, .values = { 1 } };
    set = (struct seccomp_ruleset){ &bad_arg, 1 };
    CHECK_EQ(seccomp_filter_build(&set, 1, SECCOMP_RET_TRAP, prog, SECCOMP_FILTER_MAX_INSNS, err, sizeof err), -1);
    /* arch check (3) + per rule: ld nr, jeq, ret allow (3) + default (1) */
    set = (struct seccomp_ruleset){ twice, 2 };
    CHECK_EQ(seccomp_filter_build(&set, 1, SECCOMP_RET_TRAP, prog, SECCOMP_FILTER_MAX_INSNS, err, sizeof err), 10);
    CHECK_EQ(seccomp_filter_build(&set, 1, SECCOMP_RET_TRAP, prog, 5, err, sizeof err), -1); /* does not fit */
}

static int forbidden_call_traps(void)
{
    if (install_test_policy(SECCOMP_RET_TRAP) != 0)
        return 1;
    if (getpid() <= 0)
        return 2;
    syscall(SYS_getppid); /* not listed: SIGSYS, default disposition: death */
    return 3;
}

static void test_forbidden_call_kills_with_sigsys(void)
{
    CHECK_EQ(in_child(forbidden_call_traps), 100 + SIGSYS);
}

static void on_sigsys(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    _exit(info->si_code == SECCOMP_SI_CODE && info->si_syscall == SYS_getppid ? 42 : 43);
}

static int trap_names_the_call(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    if (install_test_policy(SECCOMP_RET_TRAP) != 0)
        return 1;
    syscall(SYS_getppid);
    return 3;
}

static void test_trap_handler_sees_the_call(void)
{
    CHECK_EQ(in_child(trap_names_the_call), 42);
}

static int arguments_are_checked(void)
{
    int fd = open("/dev/null", O_RDONLY); /* before the filter: open is not listed */
    if (fd < 0)
        return 1;
    if (install_test_policy(DENY_EPERM) != 0)
        return 8;
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) != 0 && errno == EPERM)
        return 2; /* listed request: the filter lets it through (whatever /dev/null says) */
    if (ioctl(fd, FIONBIO, &n) != -1 || errno != EPERM)
        return 3; /* another request */
    if (syscall(SYS_ioctl, fd, (unsigned long)FIONREAD | (1ul << 32), &n) != -1 || errno != EPERM)
        return 4; /* the high half counts */
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 5;
    if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED || errno != EPERM)
        return 6;
    if (syscall(SYS_getppid) != -1 || errno != EPERM)
        return 7;
    return 0;
}

static void test_arguments_checked(void)
{
    CHECK_EQ(in_child(arguments_are_checked), 0);
}

static void test_role_policies_build(void)
{
    struct sock_filter prog[SECCOMP_FILTER_MAX_INSNS];
    char err[200] = "";
    for (int r = 0; r < SECCOMP_ROLE_COUNT; r++) {
        struct seccomp_ruleset sets[2];
        size_t n = seccomp_policy_sets((enum seccomp_role)r, sets);
        int len = seccomp_filter_build(sets, n, SECCOMP_RET_TRAP, prog, SECCOMP_FILTER_MAX_INSNS, err, sizeof err);
        CHECK(len > 0);
        CHECK(seccomp_policy_count((enum seccomp_role)r) > 20);
        CHECK(strcmp(seccomp_role_name((enum seccomp_role)r), "?") != 0);
    }
    /* each role narrower than main where it must be */
    CHECK(seccomp_policy_count(SECCOMP_ROLE_VCPU) < seccomp_policy_count(SECCOMP_ROLE_IO));
    CHECK(strcmp(seccomp_syscall_name(SYS_getppid), "getppid") == 0);
    CHECK(strcmp(seccomp_syscall_name(SYS_openat), "openat") == 0);
    CHECK(seccomp_syscall_name(-5) == NULL);
}

static int vcpu_role_refuses_files_and_sockets(void)
{
    struct seccomp_ruleset sets[2];
    size_t n = seccomp_policy_sets(SECCOMP_ROLE_VCPU, sets);
    char err[200];
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_filter_install(sets, n, DENY_EPERM, err, sizeof err) != 0)
        return 1;
    if (syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY) != -1 || errno != EPERM)
        return 2;
    if (syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) != -1 || errno != EPERM)
        return 3;
    if (syscall(SYS_ioctl, 0, FIONREAD, &n) != -1 || errno != EPERM)
        return 4; /* vCPU threads: KVM_RUN (and the crash wipe's memslot ioctl) only */
    if (syscall(SYS_getpid) <= 0 || write(STDERR_FILENO, "", 0) != 0)
        return 5;
    return 0;
}

static int io_role_allows_only_unix_sockets(void)
{
    struct seccomp_ruleset sets[2];
    size_t n = seccomp_policy_sets(SECCOMP_ROLE_IO, sets);
    char err[200];
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_filter_install(sets, n, DENY_EPERM, err, sizeof err) != 0)
        return 1;
    int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return 2;
    if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
        return 3;
    if (syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY) != -1 || errno != EPERM)
        return 4;
    return 0;
}

static void test_role_policies_refuse(void)
{
    CHECK_EQ(in_child(vcpu_role_refuses_files_and_sockets), 0);
    CHECK_EQ(in_child(io_role_allows_only_unix_sockets), 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "builder: duplicate calls, bad argument numbers, overflow are refused", test_builder_refuses_bad_rules },
        { "a forbidden call kills with SIGSYS; allowed calls work", test_forbidden_call_kills_with_sigsys },
        { "the SIGSYS handler sees SYS_SECCOMP and the call's number", test_trap_handler_sees_the_call },
        { "ioctl requests and mmap protections are checked as 64-bit values", test_arguments_checked },
        { "the main, vcpu and io policies build; names are known", test_role_policies_build },
        { "vcpu: no files, sockets or other ioctls; io: AF_UNIX sockets only", test_role_policies_refuse },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
