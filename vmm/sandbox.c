/* vmm/sandbox.c — descriptor hygiene and each thread's seccomp allow-list (see sandbox.h). */
#include "vmm/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/crash_wipe.h"
#include "vmm/seccomp_filter.h"
#include "vmm/test_probe.h"

int sandbox_close_inherited_fds(void)
{
    int closed = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
#ifdef SYS_close_range
        syscall(SYS_close_range, 3u, ~0u, 0u);
#endif
        return 0;
    }
    int self = dirfd(dir);
    int fds[256];
    int n = 0;
    struct dirent *e;
    /* collect first, close after: closing while reading the directory skips entries */
    while ((e = readdir(dir)) != NULL && n < (int)(sizeof fds / sizeof fds[0])) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && e->d_name[0] != '\0' && fd > 2 && fd != self)
            fds[n++] = (int)fd;
    }
    closedir(dir);
    for (int i = 0; i < n; i++)
        if (close(fds[i]) == 0)
            closed++;
#ifdef SYS_close_range
    if (n == (int)(sizeof fds / sizeof fds[0]))
        syscall(SYS_close_range, 3u, ~0u, 0u); /* more than we collected */
#endif
    return closed;
}

/* SECCOMP_RET_TRAP: SIGSYS, reported and wiped by crash_wipe.c. A trial build
 * (-DSILO_VMM_SECCOMP_TRIAL) only logs violations to the kernel log and lets the call run. */
#ifdef SILO_VMM_SECCOMP_TRIAL
#define SANDBOX_ACTION SECCOMP_RET_LOG
#else
#define SANDBOX_ACTION SECCOMP_RET_TRAP
#endif

int sandbox_prepare(char *err, size_t errlen)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sandbox_enter_role(enum seccomp_role role, char *err, size_t errlen)
{
    crash_wipe_thread_role(seccomp_role_name(role));
    struct seccomp_ruleset sets[2];
    size_t n = seccomp_policy_sets(role, sets);
    char why[200];
    if (seccomp_filter_install(sets, n, SANDBOX_ACTION, why, sizeof why) != 0) {
        snprintf(err, errlen, "seccomp (%s thread): %s", seccomp_role_name(role), why);
        return -1;
    }
    test_probe_after_filter(role);
    return 0;
}

void sandbox_io_thread_start(void)
{
    crash_wipe_thread_init();
    prctl(PR_SET_NAME, "silo-vmm-io", 0, 0, 0);
    char err[300];
    if (sandbox_enter_role(SECCOMP_ROLE_IO, err, sizeof err) != 0) {
        fprintf(stderr, "silo-vmm: %s; stopping\n", err);
        abort();
    }
}
