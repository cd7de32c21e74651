/* vmm/jail/jail_identity.c — rlimits, descriptors and the drop of identity and capabilities
 * (see jail_identity.h). */
#include "vmm/jail/jail_identity.h"

#include "base/error_message.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

size_t jail_rlimits_plan(const struct jail_options *o, struct jail_rlimit out[JAIL_MAX_RLIMITS])
{
    size_t n = 0;
    if (o->nofile != 0)
        out[n++] = (struct jail_rlimit){ RLIMIT_NOFILE, "RLIMIT_NOFILE", (rlim_t)o->nofile, false };
    if (o->as_bytes != 0)
        out[n++] = (struct jail_rlimit){ RLIMIT_AS, "RLIMIT_AS", (rlim_t)o->as_bytes, false };
    if (o->nproc != 0)
        out[n++] = (struct jail_rlimit){ RLIMIT_NPROC, "RLIMIT_NPROC", (rlim_t)o->nproc, false };
    out[n++] = (struct jail_rlimit){ RLIMIT_CORE, "RLIMIT_CORE", 0, false }; /* no core file of guest memory */
    if (o->as_bytes != 0)
        out[n++] = (struct jail_rlimit){ RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", (rlim_t)o->as_bytes, true };
    return n;
}

int jail_apply_rlimits(const struct jail_options *o, char *err, size_t errlen)
{
    struct jail_rlimit limits[JAIL_MAX_RLIMITS];
    size_t n = jail_rlimits_plan(o, limits);
    for (size_t i = 0; i < n; i++) {
        struct rlimit rl = { limits[i].value, limits[i].value };
        if (setrlimit(limits[i].resource, &rl) != 0 && !(limits[i].best_effort && errno == EPERM))
            return error_message(err, errlen, "cannot set %s to %llu: %s", limits[i].name, (unsigned long long)limits[i].value,
                        strerror(errno));
    }
    return 0;
}

void jail_close_fds(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
        return;
#endif
    /* kernels before 5.9: every number up to the descriptor limit */
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
        close((int)fd);
}

static int empty_bounding_set(char *err, size_t errlen)
{
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            return error_message(err, errlen, "cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
    return 0;
}

static int clear_capabilities(char *err, size_t errlen)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0)
        return error_message(err, errlen, "cannot clear the capability sets: %s", strerror(errno));
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return error_message(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
    return 0;
}

/* After the drop: every id is the jail's, no group, no capability left, root is out of reach. */
static int check_dropped(const struct jail_options *o, char *err, size_t errlen)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != o->uid || eu != o->uid ||
        su != o->uid || rg != o->gid || eg != o->gid || sg != o->gid)
        return error_message(err, errlen, "the uid/gid did not change as asked");
    if (getgroups(0, NULL) != 0)
        return error_message(err, errlen, "supplementary groups remain");
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return error_message(err, errlen, "capget: %s", strerror(errno));
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0)
            return error_message(err, errlen, "capabilities remain after the drop");
    if (setuid(0) == 0 || setgid(0) == 0)
        return error_message(err, errlen, "root could be regained after the drop");
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return error_message(err, errlen, "no_new_privs is not set");
    return 0;
}

int jail_drop_identity(const struct jail_options *o, char *err, size_t errlen)
{
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
        return error_message(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
    if (empty_bounding_set(err, errlen) != 0)
        return -1;
    if (setgroups(0, NULL) != 0)
        return error_message(err, errlen, "cannot drop the supplementary groups: %s", strerror(errno));
    if (setresgid(o->gid, o->gid, o->gid) != 0)
        return error_message(err, errlen, "cannot switch to gid %u: %s", (unsigned)o->gid, strerror(errno));
    /* with no uid left 0 and no KEEPCAPS, the kernel clears the permitted and effective sets */
    if (setresuid(o->uid, o->uid, o->uid) != 0)
        return error_message(err, errlen, "cannot switch to uid %u: %s", (unsigned)o->uid, strerror(errno));
    if (clear_capabilities(err, errlen) != 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return error_message(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
    return check_dropped(o, err, errlen);
}
