/* frontend/vmm_launcher.c — silod's session launcher over the guest channel (see
 * vmm_launcher.h and microvm.h), /proc metering and stale-socket cleaning. */
#include "frontend/vmm_launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/small_file.h"
#include "frontend/vm_template.h"

static void close_extras(const struct vmm_launcher_config *cfg, struct session_vm *vm)
{
    if (cfg && cfg->vm_close && vm->launcher_data)
        cfg->vm_close(cfg->vm_ctx, vm->launcher_data);
    vm->launcher_data = NULL;
}

/* The slot of a jailed session's VMM (false: not jailed). */
static bool jail_slot(const struct vmm_launcher_config *cfg, const struct session_vm *vm, struct vmm_jail_slot *s)
{
    return cfg && cfg->jail && vm->jail_uid && vmm_jail_slot_paths(vmm_jail_config_of(cfg->jail), vm->jail_uid, s);
}

/* After the VMM has been reaped: the jail slot cleaned and given back. */
static void release_jail(const struct vmm_launcher_config *cfg, struct session_vm *vm)
{
    struct vmm_jail_slot s;
    if (jail_slot(cfg, vm, &s))
        vmm_jail_release(cfg->jail, &s);
    vm->jail_uid = 0;
}

static void stop_vm(void *ctx, struct session_vm *vm)
{
    close_extras(ctx, vm);
    vm->wait_status = microvm_stop(vm->pid);
    vm->pid = 0;
    if (vm->vsock_path[0])
        unlink(vm->vsock_path);
    release_jail(ctx, vm);
}

/* Starts the VMM of p: plainly, or under silo-jail in the session's slot. */
static pid_t spawn_vmm(const struct vmm_launcher_config *cfg, const struct microvm_params *p,
                       const struct session_vm *vm, char *err, size_t err_len)
{
    struct vmm_jail_slot s;
    if (!jail_slot(cfg, vm, &s))
        return microvm_spawn(p, err, err_len);
    /* a restore's snapshot names its disk by the absolute host path: bound at that path */
    char disk[4096] = "";
    if (p->restore_dir && p->disk && !realpath(p->disk, disk)) {
        snprintf(err, err_len, "%s: %s", p->disk, strerror(errno));
        return -1;
    }
    /* the version's image and template are owner-only (they hold its environment): the jailed
     * VMMs' group may read them */
    const struct vmm_jail_config *jc = vmm_jail_config_of(cfg->jail);
    if (vmm_jail_share(jc, p->restore_dir ? disk : p->disk, err, err_len) != 0 ||
        (p->restore_dir && vmm_jail_share(jc, p->restore_dir, err, err_len) != 0))
        return -1;
    const char *argv[VMM_JAIL_ARGV_MAX];
    char buf[16384];
    if (vmm_jail_argv(vmm_jail_config_of(cfg->jail), &s, p, disk, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) < 0) {
        snprintf(err, err_len, "the jailed VMM's command line is incomplete or too long");
        return -1;
    }
    vmm_jail_reset_cgroup(&s);      /* a cold boot after a failed restore: silo-jail makes it anew */
    static const char *const env[] = VMM_JAIL_ENVIRONMENT;
    pid_t pid = microvm_spawn_argv_env(argv, env, p->stdout_fd, p->stderr_fd);
    if (pid < 0)
        snprintf(err, err_len, "fork: %s", strerror(errno));
    return pid;
}

/* Spawns the VMM (a restore when p->restore_dir is set) and, for a restore, sends RESTORED.
 * 0 with vm->pid set, or -1 with err set and nothing left running. */
static int spawn_vm(const struct vmm_launcher_config *cfg, const struct microvm_params *p, struct session_vm *vm,
                    char *err, size_t err_len)
{
    unlink(vm->vsock_path);
    pid_t pid = spawn_vmm(cfg, p, vm, err, err_len);
    if (pid < 0)
        return -1;
    vm->pid = pid;
    if (p->restore_dir == NULL)
        return 0;
    int timeout = cfg->ready_timeout_ms ? cfg->ready_timeout_ms : MICROVM_DEFAULT_READY_TIMEOUT_MS;
    if (microvm_restored(vm->pid, vm->vsock_path, timeout < 10000 ? timeout : 10000, err, err_len) == 0)
        return 0;
    microvm_stop(vm->pid);
    vm->pid = 0;
    return -1;
}

static int start_vm_in(const struct vmm_launcher_config *cfg, const struct session_spec *spec, struct session_vm *vm,
                       char *err, size_t err_len)
{
    static unsigned counter;
    int64_t t0 = mono_ms();
    struct vmm_jail_slot slot;
    int len;
    if (cfg->jail) {                /* the socket in the slot's run directory (/run in the jail) */
        if (vmm_jail_acquire(cfg->jail, &slot, err, err_len) != 0)
            return -1;
        vm->jail_uid = slot.uid;
        len = snprintf(vm->vsock_path, sizeof vm->vsock_path, "%s/%s", slot.run_dir, VMM_JAIL_SOCKET);
    } else {
        len = snprintf(vm->vsock_path, sizeof vm->vsock_path, "%s/s%d-%u.sock", cfg->socket_dir,
                       (int)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    }
    if (len < 0 || (size_t)len >= sizeof vm->vsock_path) {
        snprintf(err, err_len, cfg->jail ? "jail.dir path too long" : "socket directory path too long");
        return -1;
    }
    char rootfs[4096], template_dir[4200];
    if ((size_t)snprintf(rootfs, sizeof rootfs, "%s/%s-v%d.ext4", cfg->rootfs_dir, spec->runtime_id, spec->version) >=
        sizeof rootfs) {
        snprintf(err, err_len, "rootfs_dir path too long");
        return -1;
    }
    struct microvm_params p = {
        .vmm_path = cfg->vmm_path, .kernel = cfg->kernel, .initrd = cfg->initrd, .cmdline = cfg->cmdline,
        .shape = { spec->guest_mib, cfg->cpus }, .disk = rootfs, .vsock_path = vm->vsock_path,
        .verify_wipe = cfg->verify_wipe, .wipe_keeper = cfg->wipe_keeper,
        .stdout_fd = MICROVM_FD_NULL, .stderr_fd = MICROVM_FD_INHERIT,   /* stderr: silod's log */
    };
    vm->launcher_data = NULL;
    if (cfg->vm_open && !(vm->launcher_data = cfg->vm_open(cfg->vm_ctx, spec, vm->vsock_path, err, err_len)))
        return -1;
    if (cfg->jail && vmm_jail_give_run_dir(&slot, err, err_len) != 0) {   /* the guest → host sockets */
        close_extras(cfg, vm);
        return -1;
    }
    /* the template, when there is a usable one; a failed restore falls back to a cold boot */
    char why[300] = "snapshots are off (vmm.snapshots)";
    bool restored = false;
    unsigned mib = spec->guest_mib ? spec->guest_mib : MICROVM_DEFAULT_GUEST_MIB;
    unsigned cpus = cfg->cpus ? cfg->cpus : MICROVM_DEFAULT_CPUS;
    if (cfg->snapshots && vm_template_paths(rootfs, template_dir, sizeof template_dir, NULL, 0) &&
        vm_template_usable(template_dir, mib, cpus, why, sizeof why)) {
        p.restore_dir = template_dir;
        restored = spawn_vm(cfg, &p, vm, why, sizeof why) == 0;
        if (!restored)
            fprintf(stderr, "silod: session %s (runtime %s v%d): restore from the template failed (%s); booting cold\n",
                    spec->session_id, spec->runtime_id, spec->version, why);
        p.restore_dir = NULL;
    }
    enum microvm_protocol protocol = microvm_protocol_of(spec->config_json);
    vm->no_ping = !microvm_contract(protocol)->pinged;
    for (;;) { /* once, or twice when a restored microVM does not become ready: then cold */
        if (!restored && spawn_vm(cfg, &p, vm, err, err_len) != 0) {
            close_extras(cfg, vm);
            return -1;
        }
        struct microvm_wait w = {
            .protocol = protocol,
            .deadline_ms = mono_ms() + (cfg->ready_timeout_ms ? cfg->ready_timeout_ms : MICROVM_DEFAULT_READY_TIMEOUT_MS),
        };
        int status = 0;
        char wait_why[256];
        enum microvm_ready r = microvm_wait_ready(&vm->pid, vm->vsock_path, &w, &status, wait_why, sizeof wait_why);
        if (r == MICROVM_READY) {
            long long ms = (long long)(mono_ms() - t0);
            if (restored)
                fprintf(stderr, "silod: session %s (runtime %s v%d): restored from the version's template, ready in %lld ms\n",
                        spec->session_id, spec->runtime_id, spec->version, ms);
            else
                fprintf(stderr, "silod: session %s (runtime %s v%d): booted, ready in %lld ms (not restored: %s)\n",
                        spec->session_id, spec->runtime_id, spec->version, ms, why);
            return 0;
        }
        if (restored && r != MICROVM_CANCELLED) {
            if (r == MICROVM_VMM_EXITED)
                snprintf(wait_why, sizeof wait_why, "its VMM exited with status %d", status);
            fprintf(stderr, "silod: session %s (runtime %s v%d): the restored microVM did not become ready (%s); booting cold\n",
                    spec->session_id, spec->runtime_id, spec->version, wait_why);
            microvm_stop(vm->pid); /* the session's channels stay: the cold VM uses the same socket */
            vm->pid = 0;
            snprintf(why, sizeof why, "the restored microVM did not become ready: %.200s", wait_why);
            restored = false;
            continue;
        }
        if (r == MICROVM_VMM_EXITED) {
            snprintf(err, err_len, "the VMM exited before the agent was ready (status %d%s)", status,
                     status == 128 + SIGSYS ? ": killed for a forbidden system call (seccomp); see its log" : "");
            close_extras(cfg, vm);
            unlink(vm->vsock_path);
            return -1;
        }
        snprintf(err, err_len, "the agent did not answer %s in time (%s)", protocol == MICROVM_MCP ? "/mcp" : "/ping",
                 wait_why);
        stop_vm((void *)cfg, vm);
        return -1;
    }
}

static int start_vm(void *ctx, const struct session_spec *spec, struct session_vm *vm, char *err,
                    size_t err_len)
{
    vm->jail_uid = 0;
    int rc = start_vm_in(ctx, spec, vm, err, err_len);
    if (rc != 0)
        release_jail(ctx, vm);      /* nothing runs any more (every failure path reaps) */
    return rc;
}

/* Without reaping (stop_vm reaps). */
static bool vm_alive(void *ctx, const struct session_vm *vm)
{
    (void)ctx;
    return microvm_alive(vm->pid);
}

/* ---------------------------------------------------------------- metering from /proc */

bool vmm_parse_task_stat(const char *text, size_t len, char *comm, size_t comm_len, uint64_t *ticks)
{
    /* "PID (COMM) STATE PPID ...": COMM may hold anything, ')' and spaces included, so the
     * fields start after the LAST ')'. utime and stime are fields 14 and 15. */
    const char *open = memchr(text, '(', len), *close = NULL;
    for (const char *p = text + len; p > text; p--)
        if (p[-1] == ')') {
            close = p - 1;
            break;
        }
    if (!open || !close || close < open)
        return false;
    size_t n = (size_t)(close - open - 1);
    if (comm_len) {
        size_t c = n < comm_len - 1 ? n : comm_len - 1;
        memcpy(comm, open + 1, c);
        comm[c] = '\0';
    }
    const char *p = close + 1, *end = text + len;
    uint64_t utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p == '\n')
            return false;
        uint64_t v = 0;
        bool digits = false;
        const char *start = p;
        while (p < end && *p != ' ' && *p != '\n') {
            if (*p >= '0' && *p <= '9' && v <= (UINT64_MAX - 9) / 10) {
                v = v * 10 + (uint64_t)(*p - '0');
                digits = true;
            } else if (!(field == 3 && p == start) && !(*p == '-' && p == start)) {
                return false;       /* only the state (field 3) and signed fields are not digits */
            }
            p++;
        }
        if (field == 14 || field == 15) {
            if (!digits || *start == '-')
                return false;
            if (field == 14)
                utime = v;
            else
                stime = v;
        }
    }
    *ticks = utime + stime;
    return true;
}

bool vmm_is_vcpu_thread_name(const char *comm)
{
    if (strncmp(comm, "vcpu", 4) != 0 || !comm[4])
        return false;
    for (const char *p = comm + 4; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return strlen(comm + 4) <= 4;
}

bool vmm_measure(pid_t pid, struct vm_usage *out)
{
    memset(out, 0, sizeof *out);
    if (pid <= 0)
        return false;
    pid = vmm_jail_vmm_pid(pid);
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ticks = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *endp;
        long tid = strtol(e->d_name, &endp, 10);
        if (*endp || tid <= 0)
            continue;
        char tpath[96];
        snprintf(tpath, sizeof tpath, "/proc/%d/task/%ld/stat", (int)pid, tid);
        ssize_t n = small_file_read(tpath, buf, sizeof buf);
        char comm[64];
        uint64_t t;
        if (n > 0 && vmm_parse_task_stat(buf, (size_t)n, comm, sizeof comm, &t) &&
            vmm_is_vcpu_thread_name(comm)) {
            ticks += t;
            out->vcpu_threads++;
        }
    }
    closedir(d);
    out->vcpu_ms = hz > 0 ? ticks * 1000 / (uint64_t)hz : 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    ssize_t n = small_file_read(path, buf, sizeof buf);
    const char *hwm = n > 0 ? strstr(buf, "\nVmHWM:") : NULL;
    if (hwm) {
        unsigned long long kib = strtoull(hwm + 7, NULL, 10);
        out->mem_peak_kib = kib;
    }
    return out->vcpu_threads > 0 || out->mem_peak_kib > 0;
}

static bool vm_usage(void *ctx, const struct session_vm *vm, struct vm_usage *out)
{
    const struct vmm_launcher_config *cfg = ctx;
    bool measured = vmm_measure(vm->pid, out);
    struct vmm_jail_slot s;
    struct vmm_cgroup_result cg;
    if (jail_slot(cfg, vm, &s) && s.cgroup[0] && (vmm_cgroup_read(s.cgroup, &cg), cg.read)) {
        out->from_cgroup = true;
        out->vcpu_ms = cg.cpu_usage_usec / 1000;
        if (cg.memory_peak_bytes / 1024 > out->mem_peak_kib)
            out->mem_peak_kib = cg.memory_peak_bytes / 1024;
        out->oom_kills = cg.oom_kills;
        if (cg.oom_kills)
            fprintf(stderr, "silod: jail uid %u: the cgroup's OOM killer killed in %s (memory.max %llu bytes, "
                    "memory.peak %llu bytes, oom_kill %llu)\n", s.uid, s.cgroup, (unsigned long long)cg.memory_max_bytes,
                    (unsigned long long)cg.memory_peak_bytes, (unsigned long long)cg.oom_kills);
        measured = true;
    }
    if (cfg && cfg->vm_counters && vm->launcher_data)
        cfg->vm_counters(cfg->vm_ctx, vm->launcher_data, out);
    return measured;
}

/* ---------------------------------------------------------------- stale sockets */

bool vmm_socket_name_ours(const char *name)
{
    /* s<pid>-<n>.sock, or a guest→host port socket s<pid>-<n>.sock_<port> */
    const char *p = name;
    if (*p++ != 's' || !(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p++ != '-' || !(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (strncmp(p, ".sock", 5) != 0)
        return false;
    p += 5;
    if (!*p)
        return true;
    if (*p++ != '_' || !*p)
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return !*p;
}

unsigned vmm_clean_socket_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!vmm_socket_name_ours(e->d_name))
            continue;
        /* the silod that made it: gone, or a previous life of our own pid */
        pid_t owner = (pid_t)strtol(e->d_name + 1, NULL, 10);
        if (owner != getpid() && (kill(owner, 0) == 0 || errno != ESRCH))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

struct session_launcher vmm_launcher(const struct vmm_launcher_config *cfg)
{
    return (struct session_launcher){ .start = start_vm, .stop = stop_vm, .alive = vm_alive,
                                      .ctx = (void *)cfg, .usage = vm_usage };
}
