/* vmm/crash_wipe.h — the wipe on the one exit path main() cannot see: silo-vmm itself
 * crashing (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS).
 *
 * Once armed, a fatal signal first takes the RAM away from the guest (deletes KVM memslot 0, so
 * vCPUs still running can no longer write it; KVM waits for them to leave guest memory), then
 * zeroes every resident page from the signal handler (mincore over fixed chunks into a static
 * vector, explicit_bzero: async-signal-safe, no malloc), says so on stderr, and lets the signal
 * kill the process as it would have. Disarm before the normal
 * teardown wipes and unmaps. SIGKILL cannot be caught; see vmm/README.md.
 */
#ifndef SILO_VMM_CRASH_WIPE_H
#define SILO_VMM_CRASH_WIPE_H

#include "vmm/guest_mem.h"

/* vm_fd: the KVM VM whose memslot 0 maps `mem`, or -1. */
void crash_wipe_arm(const struct guest_mem *mem, int vm_fd);
void crash_wipe_disarm(void);
/* The walk the handler does; exposed for tests. Returns the bytes zeroed. */
unsigned long long crash_wipe_now(void);

#endif
