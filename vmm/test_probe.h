/* vmm/test_probe.h — a hook for the test-only build silo-vmm-probe (never the shipped
 * silo-vmm, which links vmm/test_probe_off.c: the hook does nothing).
 *
 * In silo-vmm-probe (vmm/test_probe.c), SILO_VMM_TEST_FORBIDDEN_SYSCALL=ROLE (main, vcpu, io)
 * makes the thread of that role call getppid — on no allow-list — right after it installed
 * its filter, so tests/e2e/seccomp.sh can check the kill, the log line and the wipe.
 *
 * SILO_VMM_TEST_ESCAPE=PATH[:PATH]... plays a compromised VMM, each thread with only its own
 * filter's calls, after installing it: the I/O thread connects to each PATH as a Unix socket
 * (with SILO_VMM_TEST_ESCAPE_NET set it then opens an AF_INET socket: killed there); the main
 * thread opens each PATH, makes /escape if SILO_VMM_TEST_ESCAPE_ROOT is set, creates a file in SILO_VMM_TEST_ESCAPE_DIR if set, then
 * calls ptrace(PTRACE_ATTACH, 1): killed there. Each attempt is one line on stderr,
 *   silo-vmm-probe: escape ROLE WHAT TARGET: ok | ENOENT | EACCES | ...
 * so tests/e2e/jail.sh can check, from inside the jailed VMM itself, that nothing is reachable.
 */
#ifndef SILO_VMM_TEST_PROBE_H
#define SILO_VMM_TEST_PROBE_H

#include "vmm/seccomp_policy.h"

void test_probe_after_filter(enum seccomp_role role);

#endif
