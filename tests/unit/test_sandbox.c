/* tests/unit/test_sandbox.c — vmm/sandbox.c: inherited descriptors are closed; a thread in a
 * role that makes a forbidden call is reported by the crash handler and dies of SIGSYS.
 * Each check runs in a forked child, so the filter never reaches the test runner. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/crash_wipe.h"
#include "vmm/sandbox.h"

/* Runs fn in a child; returns its exit status (or 100 + signal). */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int closes_fds(void)
{
    int a = open("/dev/null", O_RDONLY), b = dup(a);
    if (a < 3 || b < 3)
        return 1;
    if (sandbox_close_inherited_fds() < 2)
        return 2;
    if (fcntl(a, F_GETFD) != -1 || fcntl(b, F_GETFD) != -1)
        return 3;
    if (fcntl(1, F_GETFD) == -1 || fcntl(2, F_GETFD) == -1)
        return 4; /* stdio stays */
    return 0;
}

/* A vcpu-role thread that makes a forbidden call: the crash handler names the role and the
 * call on stderr, and the process dies of SIGSYS. */
static int forbidden_call_reported(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        crash_wipe_install();
        char err[200];
        if (sandbox_prepare(err, sizeof err) != 0 || sandbox_enter_role(SECCOMP_ROLE_VCPU, err, sizeof err) != 0)
            _exit(2);
        syscall(SYS_getppid);
        _exit(3);
    }
    close(p[1]);
    char out[512] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof out - 1 && (n = read(p[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
        return 4;
    char want[128];
    snprintf(want, sizeof want, "silo-vmm: seccomp: thread vcpu made a forbidden system call %d (getppid)\n",
             (int)SYS_getppid);
    if (strstr(out, want) == NULL)
        return 5;
    if (strstr(out, "silo-vmm: crashed (signal 31): no guest memory to wipe yet") == NULL)
        return 6;
    return 0;
}

static void test_closes_inherited_fds(void)
{
    CHECK_EQ(in_child(closes_fds), 0);
}

static void test_forbidden_call_reported(void)
{
    CHECK_EQ(in_child(forbidden_call_reported), 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "inherited descriptors above stderr are closed", test_closes_inherited_fds },
        { "seccomp: a vcpu thread's forbidden call is named on stderr, then SIGSYS", test_forbidden_call_reported },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
