/* vmm/test_probe.h — a hook for the test-only build silo-vmm-probe (never the shipped
 * silo-vmm, which links vmm/test_probe_off.c: the hook does nothing).
 *
 * In silo-vmm-probe (vmm/test_probe.c), SILO_VMM_TEST_FORBIDDEN_SYSCALL=ROLE (main, vcpu, io)
 * makes the thread of that role call getppid — on no allow-list — right after it installed
 * its filter, so tests/e2e/seccomp.sh can check the kill, the log line and the wipe.
 */
#ifndef SILO_VMM_TEST_PROBE_H
#define SILO_VMM_TEST_PROBE_H

#include "vmm/seccomp_policy.h"

void test_probe_after_filter(enum seccomp_role role);

#endif
