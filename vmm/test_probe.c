/* vmm/test_probe.c — silo-vmm-probe's test hook: a forbidden system call on demand (see
 * test_probe.h). Linked only into the test build. */
#include "vmm/test_probe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void test_probe_after_filter(enum seccomp_role role)
{
    const char *want = getenv("SILO_VMM_TEST_FORBIDDEN_SYSCALL");
    if (want != NULL && strcmp(want, seccomp_role_name(role)) == 0)
        syscall(SYS_getppid); /* on no role's allow-list: SIGSYS */
}
