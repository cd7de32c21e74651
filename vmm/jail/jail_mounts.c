/* vmm/jail/jail_mounts.c — the jail's file system (see jail_mounts.h): planning the steps from
 * the options, carrying them out under --root, and entering the new root. */
#include "vmm/jail/jail_mounts.h"

#include "base/error_message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Sizes of the two tmpfs: they only hold mount points, links and device nodes. */
#define ROOT_TMPFS_OPTIONS "size=1m,nr_inodes=4096,mode=0755"
#define DEV_TMPFS_OPTIONS "size=64k,nr_inodes=64,mode=0755"
/* Newest first: only the pid directories, others' hidden (5.8+); others' hidden; older name. */
static const char *const proc_options[] = { "hidepid=invisible,subset=pid", "hidepid=invisible", "hidepid=2" };
/* Always in the jail, read-only, as on the host (a directory is bound, a symlink copied). */
static const char *const system_paths[] = { "/lib", "/lib64", "/usr/lib", "/usr/lib64" };
/* Always in the jail, mode 0666, root's. */
static const char *const basic_devices[] = { "/dev/null", "/dev/urandom" };

static ssize_t real_readlink(const char *path, char *buf, size_t len)
{
    return readlink(path, buf, len);
}
const struct jail_host_view jail_real_host = { lstat, stat, real_readlink };

static struct jail_mount_step *next_step(struct jail_mount_plan *plan, enum jail_step_kind kind, const char *dst)
{
    struct jail_mount_step *s = &plan->steps[plan->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    snprintf(s->dst, sizeof s->dst, "%s", dst);
    return s;
}

static int plan_system_paths(const struct jail_host_view *host, struct jail_mount_plan *plan, char *err,
                             size_t errlen)
{
    for (size_t i = 0; i < sizeof system_paths / sizeof system_paths[0]; i++) {
        struct stat st;
        if (host->lstat(system_paths[i], &st) != 0)
            continue; /* absent on this host (e.g. /lib64 on arm64) */
        if (S_ISLNK(st.st_mode)) {
            char target[JAIL_PATH_MAX];
            ssize_t n = host->readlink(system_paths[i], target, sizeof target - 1);
            if (n <= 0)
                return error_message(err, errlen, "cannot read the link %s: %s", system_paths[i], strerror(errno));
            target[n] = '\0';
            snprintf(next_step(plan, JAIL_STEP_SYMLINK, system_paths[i])->src, JAIL_PATH_MAX, "%s", target);
        } else if (S_ISDIR(st.st_mode)) {
            struct jail_mount_step *s = next_step(plan, JAIL_STEP_BIND, system_paths[i]);
            snprintf(s->src, sizeof s->src, "%s", system_paths[i]);
            s->read_only = true;
            s->dir = true;
        }
    }
    return 0;
}

static int plan_binds(const struct jail_options *o, const struct jail_host_view *host, struct jail_mount_plan *plan,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < o->nbinds; i++) {
        const struct jail_bind *b = &o->binds[i];
        struct stat st;
        if (host->stat(b->src, &st) != 0)
            return error_message(err, errlen, "%s %s=%s: %s", b->writable ? "--bind" : "--bind-ro", b->src, b->dst,
                        strerror(errno));
        struct jail_mount_step *s = next_step(plan, JAIL_STEP_BIND, b->dst);
        snprintf(s->src, sizeof s->src, "%s", b->src);
        s->read_only = !b->writable;
        s->dir = S_ISDIR(st.st_mode);
    }
    return 0;
}

static int plan_device(const struct jail_host_view *host, struct jail_mount_plan *plan, const char *path,
                       bool owned_by_jail, char *err, size_t errlen)
{
    struct stat st;
    if (host->stat(path, &st) != 0)
        return error_message(err, errlen, "device %s: %s", path, strerror(errno));
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return error_message(err, errlen, "%s is not a device node", path);
    struct jail_mount_step *s = next_step(plan, JAIL_STEP_DEVICE, path);
    snprintf(s->src, sizeof s->src, "%s", path);
    s->mode = (st.st_mode & S_IFMT) | (owned_by_jail ? 0600 : 0666);
    s->rdev = st.st_rdev;
    s->owned_by_jail = owned_by_jail;
    return 0;
}

int jail_plan_mounts(const struct jail_options *o, const struct jail_host_view *host, struct jail_mount_plan *plan,
                     char *err, size_t errlen)
{
    plan->n = 0;
    next_step(plan, JAIL_STEP_TMPFS, "/")->fs_options = ROOT_TMPFS_OPTIONS;
    if (plan_system_paths(host, plan, err, errlen) != 0 || plan_binds(o, host, plan, err, errlen) != 0)
        return -1;
    next_step(plan, JAIL_STEP_TMPFS, "/dev")->fs_options = DEV_TMPFS_OPTIONS;
    for (size_t i = 0; i < sizeof basic_devices / sizeof basic_devices[0]; i++)
        if (plan_device(host, plan, basic_devices[i], false, err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < o->ndevs; i++)
        if (plan_device(host, plan, o->devs[i], true, err, errlen) != 0)
            return -1;
    struct jail_mount_step *proc = next_step(plan, JAIL_STEP_PROC, "/proc");
    proc->fs_options = proc_options[0];
    proc->read_only = true;
    return 0;
}

/* --- carrying the plan out ------------------------------------------------------------------- */

/* mkdir -p of path's parents (path is root + an absolute jail path; root itself exists). */
static int make_parents(const char *path, size_t root_len, char *err, size_t errlen)
{
    char buf[2 * JAIL_PATH_MAX + 1];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return error_message(err, errlen, "path too long in the jail");
    for (char *p = buf + root_len + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return error_message(err, errlen, "cannot create %s in the jail: %s", buf + root_len, strerror(errno));
        *p = '/';
    }
    return 0;
}

static int make_mount_point(const char *target, bool dir, const char *dst, char *err, size_t errlen)
{
    if (dir) {
        if (mkdir(target, 0755) != 0 && errno != EEXIST)
            return error_message(err, errlen, "cannot create %s in the jail: %s", dst, strerror(errno));
        return 0;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return error_message(err, errlen, "cannot create %s in the jail: %s", dst, strerror(errno));
    close(fd);
    return 0;
}

static int do_bind(const struct jail_mount_step *s, const char *target, char *err, size_t errlen)
{
    if (mount(s->src, target, NULL, MS_BIND, NULL) != 0)
        return error_message(err, errlen, "cannot bind %s at %s: %s", s->src, s->dst, strerror(errno));
    /* writable binds (sockets, a disk's writable layer) hold nothing to run */
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (s->read_only ? MS_RDONLY : MS_NOEXEC);
    if (mount(NULL, target, NULL, flags, NULL) != 0)
        return error_message(err, errlen, "cannot make %s %s in the jail: %s", s->dst, s->read_only ? "read-only" : "nosuid",
                    strerror(errno));
    return 0;
}

static int do_device(const struct jail_mount_step *s, const char *target, uid_t uid, gid_t gid, char *err,
                     size_t errlen)
{
    if (mknod(target, s->mode, s->rdev) != 0)
        return error_message(err, errlen, "cannot make the device node %s (%u:%u) in the jail: %s", s->dst, major(s->rdev),
                    minor(s->rdev), strerror(errno));
    if (s->owned_by_jail && chown(target, uid, gid) != 0)
        return error_message(err, errlen, "cannot give %s to %u:%u: %s", s->dst, (unsigned)uid, (unsigned)gid,
                    strerror(errno));
    if (chmod(target, s->mode & 07777) != 0) /* whatever the umask */
        return error_message(err, errlen, "cannot chmod %s: %s", s->dst, strerror(errno));
    return 0;
}

static int do_proc(const struct jail_mount_step *s, const char *target, char *err, size_t errlen)
{
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (s->read_only ? MS_RDONLY : 0);
    int first_errno = 0;
    for (size_t i = 0; i < sizeof proc_options / sizeof proc_options[0]; i++) {
        if (mount("proc", target, "proc", flags, proc_options[i]) == 0)
            return 0;
        if (first_errno == 0)
            first_errno = errno;
    }
    return error_message(err, errlen, "cannot mount /proc (%s) in the jail: %s", s->fs_options, strerror(first_errno));
}

static int do_step(const struct jail_mount_step *s, const char *root, uid_t uid, gid_t gid, char *err,
                   size_t errlen)
{
    char target[2 * JAIL_PATH_MAX + 1];
    bool is_root = strcmp(s->dst, "/") == 0;
    if ((size_t)snprintf(target, sizeof target, "%s%s", root, is_root ? "" : s->dst) >= sizeof target)
        return error_message(err, errlen, "%s: path too long", s->dst);
    if (!is_root && make_parents(target, strlen(root), err, errlen) != 0)
        return -1;
    switch (s->kind) {
    case JAIL_STEP_TMPFS:
        if (!is_root && make_mount_point(target, true, s->dst, err, errlen) != 0)
            return -1;
        if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC | (is_root ? MS_NODEV : 0), s->fs_options) != 0)
            return error_message(err, errlen, "cannot mount a tmpfs on %s%s: %s", is_root ? "--root " : "", target,
                        strerror(errno));
        return 0;
    case JAIL_STEP_BIND:
        if (make_mount_point(target, s->dir, s->dst, err, errlen) != 0)
            return -1;
        return do_bind(s, target, err, errlen);
    case JAIL_STEP_SYMLINK:
        if (symlink(s->src, target) != 0)
            return error_message(err, errlen, "cannot link %s -> %s in the jail: %s", s->dst, s->src, strerror(errno));
        return 0;
    case JAIL_STEP_DEVICE:
        return do_device(s, target, uid, gid, err, errlen);
    case JAIL_STEP_PROC:
        if (make_mount_point(target, true, s->dst, err, errlen) != 0)
            return -1;
        return do_proc(s, target, err, errlen);
    }
    return error_message(err, errlen, "unknown mount step");
}

int jail_build_root(const struct jail_mount_plan *plan, const char *root, uid_t uid, gid_t gid, char *err,
                    size_t errlen)
{
    char top[JAIL_PATH_MAX];
    struct stat st;
    if (jail_normalise_path(root, top, sizeof top) != 0)
        return error_message(err, errlen, "--root %s: not an absolute directory", root);
    if (lstat(top, &st) != 0)
        return error_message(err, errlen, "--root %s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return error_message(err, errlen, "--root %s: not a directory", root);
    if (st.st_uid != 0)
        return error_message(err, errlen, "--root %s must be owned by root", root);
    for (size_t i = 0; i < plan->n; i++)
        if (do_step(&plan->steps[i], top, uid, gid, err, errlen) != 0)
            return -1;
    /* nothing more is created: the root and /dev become read-only (the device nodes stay usable) */
    char dev[JAIL_PATH_MAX + 8];
    snprintf(dev, sizeof dev, "%s/dev", top);
    if (mount(NULL, dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) != 0)
        return error_message(err, errlen, "cannot make the jail's /dev read-only: %s", strerror(errno));
    if (mount(NULL, top, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return error_message(err, errlen, "cannot make the jail's root read-only: %s", strerror(errno));
    return 0;
}

int jail_enter_root(const char *root, char *err, size_t errlen)
{
    if (chdir(root) != 0)
        return error_message(err, errlen, "cannot enter --root %s: %s", root, strerror(errno));
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        /* the old root now sits on top of the new one at "/": detach it */
        if (umount2(".", MNT_DETACH) != 0)
            return error_message(err, errlen, "cannot detach the old root: %s", strerror(errno));
    } else if (errno == EINVAL) {
        /* the host runs from its initramfs (rootfs cannot be pivoted): move the jail's root over
         * "/" and chroot into it, as switch_root does; the old root stays underneath, unreachable
         * without CAP_SYS_CHROOT/CAP_SYS_ADMIN, which the jailed process never has */
        if (mount(".", "/", NULL, MS_MOVE, NULL) != 0)
            return error_message(err, errlen, "cannot move the jail's root over / (pivot_root: EINVAL): %s", strerror(errno));
        if (chroot(".") != 0)
            return error_message(err, errlen, "cannot chroot into the jail: %s", strerror(errno));
    } else {
        return error_message(err, errlen, "pivot_root into %s: %s", root, strerror(errno));
    }
    if (chdir("/") != 0)
        return error_message(err, errlen, "cannot chdir to the jail's /: %s", strerror(errno));
    return 0;
}
