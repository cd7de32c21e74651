/* tests/unit/test_sandbox.c — vmm/sandbox.c: inherited descriptors are closed; after the
 * seccomp filter, denied calls fail with EPERM on every thread while ordinary ones work.
 * Each check runs in a forked child, so the filter never reaches the test runner. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"
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

static int go[2];

/* Started before the filter exists; waits, then tries to exec: TSYNC must have reached it. */
static void *thread_exec(void *arg)
{
    (void)arg;
    char c;
    if (read(go[0], &c, 1) != 1)
        return (void *)-1L;
    static char *const argv[] = { (char *)"/bin/true", NULL };
    execve("/bin/true", argv, NULL);
    return (void *)(long)errno;
}

static int denies_after_install(void)
{
    pthread_t t0;
    char err[128];
    if (pipe(go) != 0 || pthread_create(&t0, NULL, thread_exec, NULL) != 0)
        return 6;
    if (sandbox_install_seccomp(err, sizeof err) != 0)
        return 1;
    static char *const argv[] = { (char *)"/bin/true", NULL };
    if (execve("/bin/true", argv, NULL) != -1 || errno != EPERM)
        return 2;
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != -1 || errno != EPERM)
        return 3;
    if (syscall(SYS_unshare, 0) != -1 || errno != EPERM)
        return 4;
    if (getpid() <= 0 || open("/dev/null", O_RDONLY) < 0)
        return 5; /* ordinary calls still work */
    if (write(go[1], "x", 1) != 1)
        return 8;
    void *r;
    pthread_join(t0, &r);
    if ((long)r != EPERM)
        return 7;
    return 0;
}

static void test_closes_inherited_fds(void)
{
    CHECK_EQ(in_child(closes_fds), 0);
}

static void test_seccomp_denies(void)
{
    CHECK_EQ(in_child(denies_after_install), 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "inherited descriptors above stderr are closed", test_closes_inherited_fds },
        { "seccomp: exec, ptrace, unshare fail with EPERM on all threads; the rest works", test_seccomp_denies },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
