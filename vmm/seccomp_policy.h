/* vmm/seccomp_policy.h — what each thread role of silo-vmm may call once the guest runs.
 *
 * Roles (vmm/sandbox.h installs them):
 * - vcpu: a vCPU thread. KVM_RUN and the MMIO exits it handles: device register reads and
 *   writes, which signal eventfds/irqfds, write console output, arm the RTC's timerfd.
 * - io: the I/O thread (base/event_loop.c): epoll, eventfds, the disk files (read, write,
 *   flush, punch holes for the cow layer), vsock's Unix sockets (AF_UNIX only), getrandom.
 * - main: the main thread once the vCPUs run: waits on its signalfd, stops and joins the
 *   threads, writes a snapshot (--snapshot-to), then wipes, closes KVM and restores the tty.
 * - keeper: the --wipe-keeper process (vmm/keeper.c), once it holds only the memfd and the
 *   pipe: reads the pipe, maps the memfd (no PROT_EXEC), finds its data (lseek), zeroes it,
 *   writes its line to stderr. No ioctl at all.
 * Every role also gets what any thread needs: memory (mmap/mprotect without PROT_EXEC),
 * futexes, signal return and masks, thread exit, and everything the fatal-signal handler
 * (vmm/crash_wipe.c) calls: KVM_SET_USER_MEMORY_REGION, mincore, write, rt_sigaction,
 * tgkill. ioctl is allowed only for the request numbers listed per role.
 */
#ifndef SILO_VMM_SECCOMP_POLICY_H
#define SILO_VMM_SECCOMP_POLICY_H

#include <stddef.h>

#include "vmm/seccomp_filter.h"

enum seccomp_role { SECCOMP_ROLE_MAIN, SECCOMP_ROLE_VCPU, SECCOMP_ROLE_IO, SECCOMP_ROLE_KEEPER, SECCOMP_ROLE_COUNT };

/* "main", "vcpu", "io", "keeper". */
const char *seccomp_role_name(enum seccomp_role role);
/* The role's rulesets (what every thread needs, then the role's own) into sets[0..1].
 * Returns the number of sets (2). */
size_t seccomp_policy_sets(enum seccomp_role role, struct seccomp_ruleset sets[2]);
/* How many system calls the role may make (rules, common ones included). */
size_t seccomp_policy_count(enum seccomp_role role);
/* The name of system call nr if this file knows it, else NULL. Async-signal-safe. */
const char *seccomp_syscall_name(long nr);

#endif
