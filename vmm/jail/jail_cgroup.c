/* vmm/jail/jail_cgroup.c — the session's cgroup v2 (see jail_cgroup.h). memory.oom.group is
 * left at 0 on purpose: an OOM kill takes the VMM, not silo-vmm's --wipe-keeper beside it,
 * which must survive to wipe the guest's memory. */
#include "vmm/jail/jail_cgroup.h"

#include "base/error_message.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t jail_cgroup_plan(const struct jail_options *o, struct jail_cgroup_write out[JAIL_CGROUP_MAX_WRITES])
{
    size_t n = 0;
    if (o->cgroup == NULL)
        return 0;
    if (o->memory_max != 0) {
        out[n] = (struct jail_cgroup_write){ .file = "memory.max" };
        snprintf(out[n++].value, sizeof out[0].value, "%" PRIu64, o->memory_max);
        /* a limited session must not spill into swap instead (no swap: no file, skipped) */
        out[n++] = (struct jail_cgroup_write){ .file = "memory.swap.max", .value = "0", .optional = true };
    }
    if (o->cpu_period_us != 0) {
        out[n] = (struct jail_cgroup_write){ .file = "cpu.max" };
        if (o->cpu_quota_us == 0)
            snprintf(out[n++].value, sizeof out[0].value, "max %" PRIu64, o->cpu_period_us);
        else
            snprintf(out[n++].value, sizeof out[0].value, "%" PRIu64 " %" PRIu64, o->cpu_quota_us, o->cpu_period_us);
    }
    if (o->pids_max != 0) {
        out[n] = (struct jail_cgroup_write){ .file = "pids.max" };
        snprintf(out[n++].value, sizeof out[0].value, "%" PRIu64, o->pids_max);
    }
    return n;
}

/* Writes value into dir_fd/file; 1 if the file is absent, 0 on success, -1 with errno. */
static int write_control(int dir_fd, const char *file, const char *value)
{
    int fd = openat(dir_fd, file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

static int apply_writes(const struct jail_options *o, int dir_fd, char *err, size_t errlen)
{
    struct jail_cgroup_write writes[JAIL_CGROUP_MAX_WRITES];
    size_t n = jail_cgroup_plan(o, writes);
    for (size_t i = 0; i < n; i++) {
        int r = write_control(dir_fd, writes[i].file, writes[i].value);
        if (r == 1 && writes[i].optional)
            continue;
        if (r == 1)
            return error_message(err, errlen, "%s/%s does not exist (is its controller in the parent's "
                        "cgroup.subtree_control?)", o->cgroup, writes[i].file);
        if (r != 0)
            return error_message(err, errlen, "cannot write '%s' to %s/%s: %s", writes[i].value, o->cgroup, writes[i].file,
                        strerror(errno));
    }
    return 0;
}

int jail_cgroup_enter(const struct jail_options *o, char *err, size_t errlen)
{
    if (o->cgroup == NULL)
        return 0;
    if (mkdir(o->cgroup, 0755) != 0)
        return error_message(err, errlen, "cannot create the cgroup %s: %s", o->cgroup,
                    errno == EEXIST ? "it already exists" : strerror(errno));
    int dir_fd = open(o->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        error_message(err, errlen, "cannot open the cgroup %s: %s", o->cgroup, strerror(errno));
        rmdir(o->cgroup);
        return -1;
    }
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    int r = apply_writes(o, dir_fd, err, errlen);
    if (r == 0 && write_control(dir_fd, "cgroup.procs", pid) != 0)
        r = error_message(err, errlen, "cannot move into the cgroup %s (cgroup.procs): %s", o->cgroup, strerror(errno));
    close(dir_fd);
    if (r != 0)
        rmdir(o->cgroup);
    return r;
}
