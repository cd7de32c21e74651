/* vmm/keeper.c — the process that wipes guest RAM after a VMM that died without wiping it
 * (see keeper.h). */
#include "vmm/keeper.h"

#include "base/memfd_wipe.h"
#include "base/mono_time.h"
#include "vmm/seccomp_policy.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* One line on stderr, written in one go (no stdio buffers shared with the parent). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

int keeper_wait_and_wipe(int pipe_fd, int memfd, uint64_t size, bool verify, pid_t vmm_pid)
{
    bool wiped_by_vmm = false;
    for (;;) {
        char buf[16];
        ssize_t n = read(pipe_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EOF (or an error: the VMM is no longer there to tell us anything) */
        if (memchr(buf, KEEPER_WIPED, (size_t)n) != NULL)
            wiped_by_vmm = true;
    }
    if (wiped_by_vmm)
        return 0;
    uint64_t t0 = mono_ns();
    uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (map == MAP_FAILED) {
        say("silo-vmm keeper: VMM pid %d died without wiping; cannot map guest memory: %s\n", (int)vmm_pid,
            strerror(errno));
        return 1;
    }
    struct memfd_wipe_stats st;
    memfd_wipe(memfd, map, size, &st);
    uint64_t ns = mono_ns() - t0;
    say("silo-vmm keeper: VMM pid %d died without wiping; wiped %llu KiB of guest memory in %llu ms "
        "(%llu KiB looked at)\n",
        (int)vmm_pid, (unsigned long long)(st.zeroed_bytes >> 10), (unsigned long long)(ns / 1000000),
        (unsigned long long)(st.data_bytes >> 10));
    int status = 0;
    if (verify) {
        if (memfd_data_zero(memfd, map, size)) {
            say("silo-vmm keeper: wipe verified: all %llu KiB of guest memory data read zero\n",
                (unsigned long long)(st.data_bytes >> 10));
        } else {
            say("silo-vmm keeper: wipe verification FAILED: a guest page was not zero\n");
            status = 1;
        }
    }
    munmap(map, size);
    return status;
}

/* In the child: nothing but the memfd (as fd 3), the pipe (fd 4) and stderr (stdin and stdout
 * become /dev/null, so a reader of the VMM's stdout sees its end when the VMM ends). */
static void keeper_main(int memfd, int read_fd, uint64_t size, bool verify, pid_t vmm_pid)
{
    setpgid(0, 0); /* out of the VMM's group: a kill of that group does not reach us */
    prctl(PR_SET_NAME, "silo-keeper");
    prctl(PR_SET_PDEATHSIG, 0);
    struct sigaction ign = { .sa_handler = SIG_IGN };
    sigaction(SIGTERM, &ign, NULL);
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGHUP, &ign, NULL);
    sigaction(SIGPIPE, &ign, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* out of the way first, so neither dup2 below clobbers the other descriptor */
    int m = fcntl(memfd, F_DUPFD_CLOEXEC, 64), r = fcntl(read_fd, F_DUPFD_CLOEXEC, 64);
    if (m < 0 || r < 0 || dup2(m, 3) != 3 || dup2(r, 4) != 4)
        _exit(1);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC); /* only stderr stays: the VMM's */
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 5u, ~0u, 0u) != 0)
#endif
        for (int fd = 5; fd < 65536; fd++)
            close(fd);
    /* its own allow-list (vmm/seccomp_policy.h): forked before silo-vmm's threads took theirs */
    struct seccomp_ruleset sets[2];
    size_t nsets = seccomp_policy_sets(SECCOMP_ROLE_KEEPER, sets);
    char why[200];
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        seccomp_filter_install(sets, nsets, SECCOMP_RET_KILL_PROCESS, why, sizeof why) != 0)
        say("silo-vmm keeper: no seccomp filter (%s); wiping anyway when needed\n", why);
    _exit(keeper_wait_and_wipe(4, 3, size, verify, vmm_pid));
}

int keeper_start(struct keeper *k, int memfd, uint64_t size, bool verify)
{
    k->pid = 0;
    k->pipe_fd = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    pid_t vmm = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        close(p[1]); /* only the VMM holds the write end */
        keeper_main(memfd, p[0], size, verify, vmm);
    }
    close(p[0]);
    setpgid(pid, pid); /* also from here, so it holds before the VMM can be signalled */
    k->pid = pid;
    k->pipe_fd = p[1];
    return 0;
}

void keeper_finish(struct keeper *k, bool wiped)
{
    if (k->pid <= 0)
        return; /* no keeper (a zeroed struct keeper included) */
    if (k->pipe_fd >= 0) {
        char w = KEEPER_WIPED;
        ssize_t n = 0;
        while (wiped && (n = write(k->pipe_fd, &w, 1)) < 0 && errno == EINTR)
            ;
        close(k->pipe_fd);
        k->pipe_fd = -1;
    }
    if (k->pid > 0) {
        while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        k->pid = 0;
    }
}
