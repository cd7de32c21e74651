/* vmm/crash_wipe.h — the wipe on the one exit path main() cannot see: silo-vmm itself
 * crashing (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS).
 *
 * Once armed, a fatal signal first takes the RAM away from the guest (deletes KVM memslot 0, so
 * vCPUs still running can no longer write it; KVM waits for them to leave guest memory), then
 * zeroes every resident page from the signal handler (mincore over fixed chunks into a static
 * vector, explicit_bzero: async-signal-safe, no malloc), says so on stderr, and lets the signal
 * kill the process as it would have. Disarm before the normal
 * teardown wipes and unmaps. SIGKILL cannot be caught; see vmm/README.md.
 *
 * The handler is installed first thing in main (crash_wipe_install), so a crash before the
 * guest has memory is reported too: one line with the signal and fault address. It runs on
 * an alternate signal stack that every thread sets up (crash_wipe_thread_init at the start of
 * each thread), so a stack overflow is reported and wiped like any other fault.
 *
 * When several threads crash at once (two vCPUs making the same forbidden call), the first
 * one in the handler wipes and reports; the others wait for it, so none kills the process
 * before the wipe is done.
 *
 * A SIGSYS from seccomp (vmm/sandbox.h) first gets its own line naming the thread's role and
 * the system call, then the same wipe and the same death.
 */
#ifndef SILO_VMM_CRASH_WIPE_H
#define SILO_VMM_CRASH_WIPE_H

#include "base/guest_mem.h"

#define CRASH_STACK_SIZE (64 * 1024)

/* Installs the fatal-signal handler (and the calling thread's alternate stack). */
void crash_wipe_install(void);
/* Gives the calling thread an alternate signal stack for the handler. */
void crash_wipe_thread_init(void);
/* Names the calling thread's role ("main", "vcpu", "io"; a static string) for the line a
 * seccomp violation (SIGSYS, SYS_SECCOMP) prints before the wipe. */
void crash_wipe_thread_role(const char *role);
/* vm_fd: the KVM VM whose memslot 0 maps `mem`, or -1. */
void crash_wipe_arm(const struct guest_mem *mem, int vm_fd);
void crash_wipe_disarm(void);
/* --wipe-keeper: after its wipe the handler writes KEEPER_WIPED to this pipe (vmm/keeper.h), so
 * the keeper does not wipe again. -1: none. */
void crash_wipe_set_keeper_fd(int fd);
/* The walk the handler does; exposed for tests. Returns the bytes zeroed. */
unsigned long long crash_wipe_now(void);

#endif
