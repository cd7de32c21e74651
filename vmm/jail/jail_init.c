/* vmm/jail/jail_init.c — the jail's PID 1 (silo-jail-init) and the relay outside the PID
 * namespace (silo-jail itself): signal forwarding, reaping, and the program's exit status carried
 * out to the caller unchanged. The interface and the process tree are in jail_init.h. */
#include "vmm/jail/jail_init.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
#define N_FORWARDED (sizeof forwarded_signals / sizeof forwarded_signals[0])

static void jail_signal_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(set, forwarded_signals[i]);
    sigaddset(set, SIGCHLD);
}

int jail_block_signals(void)
{
    sigset_t set;
    jail_signal_set(&set);
    return sigprocmask(SIG_BLOCK, &set, NULL);
}

void jail_unblock_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

_Noreturn void jail_end_like(int status)
{
    if (WIFEXITED(status))
        _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
        _exit(128 + sig); /* a signal whose default is not to terminate */
    }
    _exit(125);
}

/* Reaps every child that has ended; reports `program`'s status once. Returns false when no
 * process of the jail is left. */
static bool reap(pid_t program, bool *program_alive, int *status_fd)
{
    for (;;) {
        int status;
        pid_t w = waitpid(-1, &status, WNOHANG);
        if (w == 0)
            return true;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false; /* ECHILD: nothing left */
        }
        if (w == program && *program_alive) {
            *program_alive = false;
            if (*status_fd >= 0) {
                ssize_t n;
                do
                    n = write(*status_fd, &status, sizeof status);
                while (n < 0 && errno == EINTR);
                close(*status_fd);
                *status_fd = -1;
            }
        }
    }
}

int jail_init_become_reaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

_Noreturn void jail_init_run(pid_t program, int status_fd, int alive_fd)
{
    sigset_t set;
    jail_signal_set(&set);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    bool program_alive = true;
    if (sfd < 0) {
        /* cannot forward anything: end the program rather than leave it unmanaged */
        kill(program, SIGKILL);
    }
    while (reap(program, &program_alive, &status_fd)) {
        struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = alive_fd, .events = POLLIN } };
        int r = poll(p, 2, sfd < 0 ? 100 : -1);
        if (r < 0 && errno != EINTR)
            break;
        if (sfd >= 0 && (p[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo != SIGCHLD && program_alive)
                kill(program, (int)si.ssi_signo);
        }
        if (alive_fd >= 0 && p[1].revents) {
            /* end-of-file: the relay (the caller's process) is gone, so is the session */
            if (program_alive)
                kill(program, SIGKILL);
            close(alive_fd);
            alive_fd = -1;
        }
    }
    _exit(0);
}

_Noreturn void jail_relay_run(pid_t init, int status_fd)
{
    sigset_t set;
    jail_signal_set(&set);
    int init_status = 125 << 8;
    for (;;) {
        pid_t w = waitpid(init, &init_status, WNOHANG);
        if (w == init)
            break;
        if (w < 0 && errno != EINTR) {
            init_status = 125 << 8;
            break;
        }
        siginfo_t si;
        if (sigwaitinfo(&set, &si) > 0 && si.si_signo != SIGCHLD)
            kill(init, si.si_signo);
    }
    int status;
    ssize_t n;
    do
        n = read(status_fd, &status, sizeof status);
    while (n < 0 && errno == EINTR);
    jail_end_like(n == (ssize_t)sizeof status ? status : init_status);
}
