/* vmm/sandbox.c — descriptor hygiene and the seccomp deny-list (see sandbox.h). */
#include "vmm/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#else
#error "sandbox.c: unknown architecture"
#endif

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

/* System calls silo-vmm never makes once the guest runs. */
static const int denied[] = {
    SYS_execve,        SYS_execveat,        SYS_ptrace,       SYS_process_vm_readv, SYS_process_vm_writev,
    SYS_mount,         SYS_umount2,         SYS_pivot_root,   SYS_chroot,           SYS_setns,
    SYS_unshare,       SYS_kexec_load,      SYS_init_module,  SYS_finit_module,     SYS_delete_module,
    SYS_bpf,           SYS_perf_event_open, SYS_add_key,      SYS_request_key,      SYS_keyctl,
    SYS_userfaultfd,   SYS_reboot,          SYS_swapon,       SYS_swapoff,          SYS_open_by_handle_at,
    SYS_name_to_handle_at, SYS_acct,        SYS_settimeofday, SYS_clock_settime,    SYS_kcmp,
#ifdef SYS_kexec_file_load
    SYS_kexec_file_load,
#endif
#ifdef SYS_fsopen
    SYS_fsopen,        SYS_fsmount,         SYS_move_mount,   SYS_open_tree,
#endif
};

#define NDENIED (sizeof denied / sizeof denied[0])

int sandbox_install_seccomp(char *err, size_t errlen)
{
    /* load arch; kill if foreign; load nr; one JEQ per denied call -> EPERM; else allow */
    struct sock_filter prog[4 + 2 * NDENIED + 1];
    size_t n = 0;
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < NDENIED; i++) {
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i], 0, 1);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    }
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0) {
        snprintf(err, errlen, "installing the seccomp filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}
