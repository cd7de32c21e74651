/* vmm/test_probe.c — silo-vmm-probe's test hooks: a forbidden system call, or a compromised VMM
 * trying to get out, on demand (see test_probe.h). Linked only into the test build. */
#include "vmm/test_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* One line on stderr for one attempt: "silo-vmm-probe: escape ROLE WHAT TARGET: RESULT". */
static void tell(enum seccomp_role role, const char *what, const char *target, int rc, int err)
{
    char line[600];
    int n = snprintf(line, sizeof line, "silo-vmm-probe: escape %s %s %s: %s\n", seccomp_role_name(role), what,
                     target, rc >= 0 ? "ok" : strerrorname_np(err) ? strerrorname_np(err) : "error");
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The I/O thread (sockets allowed, AF_UNIX only): connect to each path of the list. */
static void escape_io(char *list)
{
    for (char *save = NULL, *p = strtok_r(list, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            tell(SECCOMP_ROLE_IO, "socket", "AF_UNIX", fd, errno);
            continue;
        }
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof a.sun_path, "%s", p);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        tell(SECCOMP_ROLE_IO, "connect", p, rc, errno);
        close(fd);
    }
    if (getenv("SILO_VMM_TEST_ESCAPE_NET") != NULL) {
        tell(SECCOMP_ROLE_IO, "socket", "AF_INET (next: the kill)", 0, 0);
        syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); /* not AF_UNIX: SIGSYS */
    }
}

/* The main thread (file calls allowed for snapshots): open and create, then ptrace, which no
 * role may call: the VMM dies of SIGSYS there. */
static void escape_main(char *list)
{
    for (char *save = NULL, *p = strtok_r(list, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        tell(SECCOMP_ROLE_MAIN, "open", p, fd, errno);
        if (fd >= 0)
            close(fd);
    }
    if (getenv("SILO_VMM_TEST_ESCAPE_ROOT") != NULL) {
        int rc = mkdir("/escape", 0700);
        tell(SECCOMP_ROLE_MAIN, "mkdir", "/escape", rc, errno);
    }
    const char *other_dir = getenv("SILO_VMM_TEST_ESCAPE_DIR");
    if (other_dir != NULL) {
        char path[512];
        snprintf(path, sizeof path, "%s/escape", other_dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        tell(SECCOMP_ROLE_MAIN, "create", path, fd, errno);
        if (fd >= 0)
            close(fd);
    }
    tell(SECCOMP_ROLE_MAIN, "ptrace", "PTRACE_ATTACH 1 (next: the kill)", 0, 0);
    syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0);
}

void test_probe_after_filter(enum seccomp_role role)
{
    const char *want = getenv("SILO_VMM_TEST_FORBIDDEN_SYSCALL");
    if (want != NULL && strcmp(want, seccomp_role_name(role)) == 0)
        syscall(SYS_getppid); /* on no role's allow-list: SIGSYS */
    const char *escape = getenv("SILO_VMM_TEST_ESCAPE");
    if (escape == NULL || (role != SECCOMP_ROLE_IO && role != SECCOMP_ROLE_MAIN))
        return;
    char list[2048];
    snprintf(list, sizeof list, "%s", escape);
    if (role == SECCOMP_ROLE_IO)
        escape_io(list);
    else
        escape_main(list);
}
