/* vmm/sandbox.h — what silo-vmm gives up before it runs guest code (DESIGN.md: "a seccomp
 * filter, no inherited descriptors").
 *
 * - sandbox_close_inherited_fds: at start-up, closes every descriptor above stderr that the
 *   parent left open, so a compromised VMM holds nothing it was not meant to.
 * - sandbox_install_seccomp: right before the vCPUs start, on every thread (TSYNC), with
 *   no_new_privs: a deny-list of system calls a VMM never needs — running programs (execve,
 *   execveat), debugging or reading other processes (ptrace, process_vm_*), mounting and
 *   namespaces, loading kernels or modules, bpf, perf, keyrings, userfaultfd, reboot, swap,
 *   handles by inode (open_by_handle_at). They fail with EPERM. A foreign system-call
 *   architecture kills the process. Everything a device may legitimately do (files, sockets,
 *   eventfds, epoll, threads, KVM ioctls) stays allowed, so device code cannot break on it.
 */
#ifndef SILO_VMM_SANDBOX_H
#define SILO_VMM_SANDBOX_H

#include <stddef.h>

/* Closes fds >= 3. Returns how many were closed (best effort). */
int sandbox_close_inherited_fds(void);

/* Installs the filter on all threads of the process. Returns 0 or -1 with a reason in err. */
int sandbox_install_seccomp(char *err, size_t errlen);

#endif
