/* vmm/jail/jail_landlock.h — Landlock, where the kernel has it: the last layer silo-jail adds
 * before exec. Beneath the jail's root the program may use only the entries the mount plan put
 * there, each with only the access its kind needs:
 *   a read-only bind           read (and list, for a directory); execute only for the program
 *                              itself and the system library directories (its interpreter)
 *   a writable bind (a dir)    read, list, write, create and remove regular files, sockets and
 *                              directories, truncate; never execute, never symlinks, FIFOs or
 *                              device nodes, never link or rename into it from elsewhere
 *   a device node              read, write, ioctl
 *   /proc                      read and list
 *   the tmpfs root and /dev    nothing of their own
 * With Landlock ABI 4 or newer every TCP bind and connect is refused as well (the network
 * namespace already has no interface up), and with ABI 6 signals and abstract Unix sockets stay
 * inside the domain. The mount namespace already hides the host; Landlock is the second lock
 * should a mount ever be wrong, and it also removes what the mounts cannot (symlinks, FIFOs,
 * exec of anything written).
 *
 * The plan is a pure function of the mount plan and the ABI (unit-tested); applying it needs the
 * jail's root entered and no_new_privs set. A kernel without Landlock (or with it disabled) is
 * not an error: the jail then relies on the mounts, and jail_landlock_apply says so by returning
 * 0. */
#ifndef SILO_VMM_JAIL_LANDLOCK_H
#define SILO_VMM_JAIL_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/jail/jail_mounts.h"

struct jail_landlock_rule {
    char path[JAIL_PATH_MAX]; /* inside the jail */
    uint64_t access;          /* LANDLOCK_ACCESS_FS_* allowed beneath path */
};

struct jail_landlock_plan {
    int abi;                  /* the ABI the plan is for (1..) */
    uint64_t handled_fs;      /* every file-system right the ABI knows: all denied but the rules */
    uint64_t handled_net;     /* ABI >= 4: TCP bind and connect (no rule: both refused) */
    uint64_t scoped;          /* ABI >= 6: abstract Unix sockets and signals */
    struct jail_landlock_rule rules[JAIL_MAX_STEPS];
    size_t n;
};

/* The rules for this mount plan, `program` (the path exec'd inside the jail) and Landlock ABI
 * `abi` (>= 1). */
void jail_landlock_plan(const struct jail_mount_plan *mp, const char *program, int abi, struct jail_landlock_plan *out);

/* Enforces the plan on the calling thread (and what it execs): the root entered, no_new_privs
 * set. Returns the ABI enforced (>= 1), 0 when this kernel has no Landlock, or -1 with err. */
int jail_landlock_apply(const struct jail_mount_plan *mp, const char *program, char *err, size_t errlen);

#endif
