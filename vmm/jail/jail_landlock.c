/* vmm/jail/jail_landlock.c — the jail's Landlock rules: planned from the mount plan, then
 * enforced (see jail_landlock.h). The system calls have no libc wrappers: syscall(2). */
#include "vmm/jail/jail_landlock.h"

#include "base/error_message.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The rights each ABI added (older headers may lack the newer names). */
#define FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define FS_REFER (1ULL << 13)      /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define NET_TCP_BIND_AND_CONNECT ((1ULL << 0) | (1ULL << 1)) /* ABI 4 */
#define SCOPE_UNIX_AND_SIGNAL ((1ULL << 0) | (1ULL << 1))    /* ABI 6 */

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a larger struct whose fields it
 * does not know are zero, so the newer fields are left zero on older kernels. */
struct ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

#define READ_ONLY (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
                     FS_TRUNCATE | FS_IOCTL_DEV)
#define WRITABLE_DIR (READ_ONLY | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | \
                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
                      LANDLOCK_ACCESS_FS_REMOVE_DIR | FS_TRUNCATE)
#define DEVICE (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | FS_IOCTL_DEV)

static bool is_system_library_dir(const char *dst)
{
    static const char *const dirs[] = { "/lib", "/lib64", "/usr/lib", "/usr/lib64" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (strcmp(dst, dirs[i]) == 0)
            return true;
    return false;
}

static uint64_t rights_for(const struct jail_mount_step *s, const char *program)
{
    switch (s->kind) {
    case JAIL_STEP_BIND:
        if (!s->read_only)
            return s->dir ? WRITABLE_DIR : LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | FS_TRUNCATE;
        if (s->dir)
            return READ_ONLY | (is_system_library_dir(s->dst) || jail_paths_overlap(s->dst, program)
                                    ? LANDLOCK_ACCESS_FS_EXECUTE : 0);
        return LANDLOCK_ACCESS_FS_READ_FILE | (strcmp(s->dst, program) == 0 ? LANDLOCK_ACCESS_FS_EXECUTE : 0);
    case JAIL_STEP_DEVICE:
        return DEVICE;
    case JAIL_STEP_PROC:
        return READ_ONLY;
    case JAIL_STEP_TMPFS:
    case JAIL_STEP_SYMLINK:
        return 0;
    }
    return 0;
}

void jail_landlock_plan(const struct jail_mount_plan *mp, const char *program, int abi, struct jail_landlock_plan *out)
{
    memset(out, 0, sizeof *out);
    out->abi = abi;
    out->handled_fs = FS_ABI1 | (abi >= 2 ? FS_REFER : 0) | (abi >= 3 ? FS_TRUNCATE : 0) |
                      (abi >= 5 ? FS_IOCTL_DEV : 0);
    out->handled_net = abi >= 4 ? NET_TCP_BIND_AND_CONNECT : 0;
    out->scoped = abi >= 6 ? SCOPE_UNIX_AND_SIGNAL : 0;
    for (size_t i = 0; i < mp->n; i++) {
        const struct jail_mount_step *s = &mp->steps[i];
        uint64_t access = rights_for(s, program) & out->handled_fs;
        if (access == 0)
            continue;
        struct jail_landlock_rule *r = &out->rules[out->n++];
        snprintf(r->path, sizeof r->path, "%s", s->dst);
        r->access = access;
    }
}

int jail_landlock_apply(const struct jail_mount_plan *mp, const char *program, char *err, size_t errlen)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0) {
        if (errno == ENOSYS || errno == EOPNOTSUPP)
            return 0; /* not built in, or not enabled at boot (lsm=) */
        return error_message(err, errlen, "Landlock: cannot read its ABI version: %s", strerror(errno));
    }
    static struct jail_landlock_plan plan;
    jail_landlock_plan(mp, program, (int)abi, &plan);
    struct ruleset_attr attr = { plan.handled_fs, plan.handled_net, plan.scoped };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        return error_message(err, errlen, "Landlock (ABI %ld): cannot create the ruleset: %s", abi, strerror(errno));
    for (size_t i = 0; i < plan.n; i++) {
        struct landlock_path_beneath_attr rule = { .allowed_access = plan.rules[i].access };
        rule.parent_fd = open(plan.rules[i].path, O_PATH | O_CLOEXEC);
        if (rule.parent_fd < 0) {
            int e = errno;
            close(ruleset);
            return error_message(err, errlen, "Landlock: cannot open %s: %s", plan.rules[i].path, strerror(e));
        }
        int r = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
        int e = errno;
        close(rule.parent_fd);
        if (r != 0) {
            close(ruleset);
            return error_message(err, errlen, "Landlock: cannot add the rule for %s: %s", plan.rules[i].path,
                                 strerror(e));
        }
    }
    int r = (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
    int e = errno;
    close(ruleset);
    if (r != 0)
        return error_message(err, errlen, "Landlock: cannot enforce the ruleset: %s", strerror(e));
    return (int)abi;
}
