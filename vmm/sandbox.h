/* vmm/sandbox.h — what silo-vmm gives up before it runs guest code (DESIGN.md: "a seccomp
 * filter, no inherited descriptors").
 *
 * - sandbox_close_inherited_fds: at start-up, closes every descriptor above stderr that the
 *   parent left open, so a compromised VMM holds nothing it was not meant to.
 * - sandbox_prepare: PR_SET_NO_NEW_PRIVS, in main before any thread exists (threads inherit it).
 * - sandbox_enter_role: each thread installs the seccomp allow-list of its role on itself
 *   (vmm/seccomp_policy.h has the lists; vmm/seccomp_filter.h builds them):
 *     io    the I/O thread, first thing on it (sandbox_io_thread_start, the loop's start hook);
 *     vcpu  each vCPU thread, before its first KVM_RUN;
 *     main  the main thread, right after it started the vCPU threads (a filter is inherited
 *           by threads created later, so main's comes last and reaches no other thread).
 *   Filters are per thread (no TSYNC): a vCPU thread, which runs device register code for the
 *   guest, cannot open files or sockets; the I/O thread can reach only AF_UNIX sockets and
 *   the descriptors it holds; ioctl is limited to listed request numbers on every thread
 *   (KVM_RUN on vCPU threads). mmap/mprotect never grant PROT_EXEC.
 * - On a violation (SECCOMP_RET_TRAP), the kernel sends SIGSYS to the thread: crash_wipe.c's
 *   handler (on the thread's alternate signal stack) writes
 *   "silo-vmm: seccomp: thread ROLE made a forbidden system call NR (NAME)", wipes guest RAM,
 *   and the process dies of SIGSYS (exit status 159 to a shell; silod logs it). A foreign
 *   system-call architecture kills the process outright.
 * The --wipe-keeper child (vmm/keeper.c) is a separate process forked before any filter; it
 * installs the keeper role's list itself (a violation kills it: SECCOMP_RET_KILL_PROCESS).
 */
#ifndef SILO_VMM_SANDBOX_H
#define SILO_VMM_SANDBOX_H

#include <stddef.h>

#include "vmm/seccomp_policy.h"

/* Closes fds >= 3. Returns how many were closed (best effort). */
int sandbox_close_inherited_fds(void);

/* Sets no_new_privs for the process's threads to come. Returns 0 or -1 with a reason in err. */
int sandbox_prepare(char *err, size_t errlen);

/* Installs `role`'s filter on the calling thread and names the role for the crash handler.
 * Returns 0 or -1 with a reason in err. */
int sandbox_enter_role(enum seccomp_role role, char *err, size_t errlen);

/* The I/O thread's start hook: its alternate signal stack, then the io filter. A thread that
 * cannot get its filter does not run unfiltered: it reports and aborts the process (which the
 * crash handler wipes). */
void sandbox_io_thread_start(void);

#endif
