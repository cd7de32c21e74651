/* vmm/jail/jail_mounts.h — the jail's file system: the list of steps that build it (a small
 * tmpfs root, the shared libraries, the caller's binds, a /dev with only the named nodes, a
 * /proc showing the process's own entries), made from the options by a pure planner so the
 * list is unit-tested, then carried out under --root and entered (pivot_root). */
#ifndef SILO_VMM_JAIL_MOUNTS_H
#define SILO_VMM_JAIL_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "vmm/jail/jail_cli.h"

enum jail_step_kind {
    JAIL_STEP_TMPFS,   /* a tmpfs at dst ("/" is --root itself), options in fs_options */
    JAIL_STEP_BIND,    /* host src bind-mounted at dst; read_only, dir (else a file mount point) */
    JAIL_STEP_SYMLINK, /* dst is a symbolic link to src (as on the host: /lib -> usr/lib) */
    JAIL_STEP_DEVICE,  /* a device node at dst: mode (type and permissions), rdev, owner */
    JAIL_STEP_PROC,    /* procfs at dst, hidepid=invisible (fs_options; fallbacks tried in order) */
};

struct jail_mount_step {
    enum jail_step_kind kind;
    char src[JAIL_PATH_MAX];
    char dst[JAIL_PATH_MAX];
    bool read_only;
    bool dir;
    mode_t mode;
    dev_t rdev;
    bool owned_by_jail; /* chown to --uid:--gid (the --dev nodes); else root's */
    const char *fs_options;
};

#define JAIL_MAX_STEPS (8 + JAIL_MAX_BINDS + JAIL_MAX_DEVS)

struct jail_mount_plan {
    struct jail_mount_step steps[JAIL_MAX_STEPS];
    size_t n;
};

/* What the planner asks of the host (real by default; the unit tests pass their own). Both
 * return 0 or -1 with errno set, as lstat(2)/stat(2); readlink returns the length or -1. */
struct jail_host_view {
    int (*lstat)(const char *path, struct stat *st);
    int (*stat)(const char *path, struct stat *st);
    ssize_t (*readlink)(const char *path, char *buf, size_t len);
};
extern const struct jail_host_view jail_real_host;

/* The steps for these options, in the order they are carried out. -1 with a sentence in err
 * if a SRC or a device does not exist or is of the wrong kind. */
int jail_plan_mounts(const struct jail_options *o, const struct jail_host_view *host, struct jail_mount_plan *plan,
                     char *err, size_t errlen);

/* Carries the plan out under root (in the caller's private mount namespace), then makes the
 * root and /dev read-only. Needs CAP_SYS_ADMIN and CAP_MKNOD. */
int jail_build_root(const struct jail_mount_plan *plan, const char *root, uid_t uid, gid_t gid, char *err,
                    size_t errlen);

/* pivot_root into root and detach the old root; on an initramfs root (rootfs cannot be
 * pivoted) the root is moved over / and chroot()ed into instead. Leaves cwd at the new /. */
int jail_enter_root(const char *root, char *err, size_t errlen);

#endif
