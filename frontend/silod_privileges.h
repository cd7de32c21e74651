/* frontend/silod_privileges.h — what a silod started as root keeps of root. At start, before it
 * serves anything, silod narrows its capability sets (bounding, permitted, effective,
 * inheritable) to the ones it and the programs it starts need:
 *   CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_MKNOD, CAP_SETUID, CAP_SETGID, CAP_SETPCAP,
 *   CAP_SYS_RESOURCE   silo-jail: namespaces, mounts, pivot_root/chroot, /dev/kvm in the jail,
 *                      the session's uid/gid, dropping the bounding set, rlimits
 *   CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
 *                      run directories and sockets handed to a session's uid, images made
 *                      group-readable, leftovers of other uids removed
 *   CAP_KILL           SIGTERM/SIGKILL to a jailed VMM, which runs as another uid
 *   CAP_IPC_LOCK       guest RAM locked (the wipe keeper; the boot check's VMM)
 *   CAP_NET_BIND_SERVICE  listen_port below 1024
 * Everything else goes — module loading, raw I/O, ptrace, network administration, raw sockets,
 * time, reboot, BPF, perf, audit, MAC — for silod and, through the bounding set, for every program
 * it starts. A silod that is not root has nothing to narrow. */
#ifndef SILO_FRONTEND_SILOD_PRIVILEGES_H
#define SILO_FRONTEND_SILOD_PRIVILEGES_H

#include <stddef.h>
#include <stdint.h>

/* The capabilities kept, as a bit mask (bit N = capability N). */
uint64_t silod_kept_capabilities(void);

/* Narrows the calling process to silod_kept_capabilities() if it runs as root (euid 0); else
 * does nothing. 0, or -1 with err set. *kept (may be NULL) gets the number of capabilities left. */
int silod_narrow_capabilities(unsigned *kept, char *err, size_t err_len);

#endif
