/* frontend/vmm_jail.c — silod's side of the VMM jail (see vmm_jail.h): uid slots, the jailed
 * command line, the cgroup's results and the cleanup after a jailed VMM. */
#include "frontend/vmm_jail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/small_file.h"

/* ---------------------------------------------------------------- paths and argv (pure) */

bool vmm_jail_slot_paths(const struct vmm_jail_config *cfg, unsigned uid, struct vmm_jail_slot *out)
{
    memset(out, 0, sizeof *out);
    out->uid = uid;
    int a = snprintf(out->root, sizeof out->root, "%s/%u", cfg->dir, uid);
    int b = snprintf(out->run_dir, sizeof out->run_dir, "%s/%u.run", cfg->dir, uid);
    int c = cfg->cgroup_parent && *cfg->cgroup_parent
                ? snprintf(out->cgroup, sizeof out->cgroup, "%s/vmm-%u", cfg->cgroup_parent, uid) : 0;
    return a > 0 && (size_t)a < sizeof out->root && b > 0 && (size_t)b < sizeof out->run_dir && c >= 0 &&
           (size_t)c < sizeof out->cgroup;
}

uint64_t vmm_jail_memory_max(const struct vmm_jail_config *cfg, unsigned guest_mib)
{
    unsigned percent = cfg->guest_memory_percent ? cfg->guest_memory_percent : 100;
    uint64_t guest_bytes = (uint64_t)guest_mib << 20;
    return guest_bytes * percent / 100 + ((uint64_t)cfg->vmm_overhead_mib << 20);
}

struct jail_args {
    const char **argv;
    size_t cap, n;
    char *buf;
    size_t len, used;
    bool failed;
};

static void add(struct jail_args *a, const char *s)
{
    if (!s || a->n + 1 >= a->cap) {
        a->failed = true;
        return;
    }
    a->argv[a->n++] = s;
}

__attribute__((format(printf, 2, 3)))
static const char *made(struct jail_args *a, const char *fmt, ...)
{
    if (a->used >= a->len) {
        a->failed = true;
        return NULL;
    }
    char *s = a->buf + a->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, a->len - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= a->len - a->used) {
        a->failed = true;
        return NULL;
    }
    a->used += (size_t)n + 1;
    return s;
}

/* "--bind-ro SRC=DST" (or --bind) */
static void bind(struct jail_args *a, const char *option, const char *src, const char *dst)
{
    if (!src || !*src || strchr(src, '=')) {     /* '=' would split the option elsewhere */
        a->failed = true;
        return;
    }
    add(a, option);
    add(a, made(a, "%s=%s", src, dst));
}

int vmm_jail_argv(const struct vmm_jail_config *cfg, const struct vmm_jail_slot *s, const struct microvm_params *p,
                  const char *disk_host_path, const char **argv, size_t cap, char *buf, size_t buf_len)
{
    struct jail_args a = { argv, cap, 0, buf, buf_len, 0, false };
    size_t run_len = strlen(s->run_dir);
    if (!cfg->program || !p->vmm_path || !p->vsock_path || s->uid == 0 || run_len == 0 ||
        strncmp(p->vsock_path, s->run_dir, run_len) != 0 || p->vsock_path[run_len] != '/' ||
        strchr(p->vsock_path + run_len + 1, '/'))
        return -1;
    bool restore = p->restore_dir && *p->restore_dir;
    bool snapshot = p->snapshot_to && *p->snapshot_to;
    /* a snapshot names its disk by the path the VMM opened: the host path, in and out of jails */
    bool disk_at_host_path = restore || (snapshot && p->disk);
    if (disk_at_host_path && (!disk_host_path || disk_host_path[0] != '/'))
        return -1;
    /* the VMM's own argv, with the jail's paths */
    struct microvm_params inner = *p;
    inner.vmm_path = "/silo-vmm";
    inner.vsock_path = made(&a, "/run/%s", p->vsock_path + run_len + 1);
    if (!restore) {
        inner.kernel = p->kernel ? "/kernel" : NULL;
        inner.initrd = p->initrd && *p->initrd ? "/initrd" : NULL;
        inner.disk = !p->disk ? NULL : disk_at_host_path ? disk_host_path : "/disk";
    }
    inner.restore_dir = restore ? "/snapshot" : NULL;
    inner.snapshot_to = snapshot ? "/snapshot-out/" VMM_JAIL_SNAPSHOT_NAME : NULL;

    add(&a, cfg->program);
    add(&a, "--root"); add(&a, s->root);
    add(&a, "--uid"); add(&a, made(&a, "%u", s->uid));
    add(&a, "--gid"); add(&a, made(&a, "%u", cfg->gid ? cfg->gid : s->uid));
    bind(&a, "--bind-ro", p->vmm_path, "/silo-vmm");
    if (restore) {
        bind(&a, "--bind-ro", p->restore_dir, "/snapshot");
        bind(&a, "--bind-ro", disk_host_path, disk_host_path);
    } else {
        bind(&a, "--bind-ro", p->kernel, "/kernel");
        if (inner.initrd)
            bind(&a, "--bind-ro", p->initrd, "/initrd");
        if (disk_at_host_path)
            bind(&a, "--bind-ro", disk_host_path, disk_host_path);
        else
            bind(&a, "--bind-ro", p->disk, "/disk");
    }
    if (inner.snapshot_to)
        bind(&a, "--bind", p->snapshot_to, "/snapshot-out");
    bind(&a, "--bind", s->run_dir, "/run");
    add(&a, "--dev"); add(&a, "/dev/kvm");
    unsigned mib = p->shape.guest_mib ? p->shape.guest_mib : MICROVM_DEFAULT_GUEST_MIB;
    unsigned cpus = p->shape.cpus ? p->shape.cpus : MICROVM_DEFAULT_CPUS;
    if (s->cgroup[0]) {
        add(&a, "--cgroup"); add(&a, s->cgroup);
        add(&a, "--memory-max"); add(&a, made(&a, "%llu", (unsigned long long)vmm_jail_memory_max(cfg, mib)));
        add(&a, "--cpu-max"); add(&a, made(&a, "%llu 100000", (unsigned long long)cpus * 100000u));
        if (cfg->pids_max) {
            add(&a, "--pids-max"); add(&a, made(&a, "%u", cfg->pids_max));
        }
    }
    if (cfg->nofile) {
        add(&a, "--nofile"); add(&a, made(&a, "%u", cfg->nofile));
    }
    if (cfg->address_space_extra_mib) {
        add(&a, "--as");
        add(&a, made(&a, "%llu", ((unsigned long long)mib + cfg->address_space_extra_mib) << 20));
    }
    add(&a, "--");
    if (a.failed || a.n >= cap)
        return -1;
    int n = microvm_argv(&inner, argv + a.n, cap - a.n, buf + a.used, buf_len - a.used);
    if (n < 0)
        return -1;
    return (int)a.n + n;
}

/* ---------------------------------------------------------------- the cgroup's results */

bool vmm_cgroup_single_value(const char *text, size_t len, uint64_t *value)
{
    if (len >= 3 && strncmp(text, "max", 3) == 0 && (len == 3 || text[3] == '\n')) {
        *value = UINT64_MAX;
        return true;
    }
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    if (i == 0 || (i < len && text[i] != '\n'))
        return false;
    *value = v;
    return true;
}

bool vmm_cgroup_key_value(const char *text, size_t len, const char *key, uint64_t *value)
{
    size_t key_len = strlen(key);
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        if (line_len > key_len && memcmp(line, key, key_len) == 0 && line[key_len] == ' ')
            return vmm_cgroup_single_value(line + key_len + 1, line_len - key_len - 1, value);
        pos += line_len + 1;
    }
    return false;
}

static bool read_file_value(const char *dir, const char *name, const char *key, uint64_t *value)
{
    char path[320], text[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return false;
    ssize_t n = small_file_read(path, text, sizeof text);
    if (n <= 0)
        return false;
    return key ? vmm_cgroup_key_value(text, (size_t)n, key, value) : vmm_cgroup_single_value(text, (size_t)n, value);
}

void vmm_cgroup_read(const char *cgroup_dir, struct vmm_cgroup_result *out)
{
    memset(out, 0, sizeof *out);
    if (!cgroup_dir || !*cgroup_dir)
        return;
    out->read = read_file_value(cgroup_dir, "memory.events", "oom_kill", &out->oom_kills);
    read_file_value(cgroup_dir, "memory.peak", NULL, &out->memory_peak_bytes);
    read_file_value(cgroup_dir, "cpu.stat", "usage_usec", &out->cpu_usage_usec);
    read_file_value(cgroup_dir, "memory.max", NULL, &out->memory_max_bytes);
}

/* ---------------------------------------------------------------- the slots */

struct vmm_jail {
    struct vmm_jail_config cfg;
    bool detached;
    pthread_mutex_t lock;
    unsigned char *used;        /* uid_count flags */
    unsigned in_use;
};

static struct vmm_jail *jail_alloc(const struct vmm_jail_config *cfg)
{
    if (!cfg->program || !cfg->dir || cfg->uid_first == 0 || cfg->uid_count == 0 ||
        (uint64_t)cfg->uid_first + cfg->uid_count > 2147483647u)
        return NULL;
    struct vmm_jail *j = calloc(1, sizeof *j);
    if (!j || !(j->used = calloc(cfg->uid_count, 1))) {
        free(j);
        return NULL;
    }
    j->cfg = *cfg;
    pthread_mutex_init(&j->lock, NULL);
    return j;
}

struct vmm_jail *vmm_jail_new_detached(const struct vmm_jail_config *cfg)
{
    struct vmm_jail *j = jail_alloc(cfg);
    if (j)
        j->detached = true;
    return j;
}

/* mkdir -p of an absolute path, the last component with mode */
static int make_dirs(const char *path, mode_t mode)
{
    char p[512];
    if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
        return -1;
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return -1;
            *c = '/';
        }
    return mkdir(p, mode) == 0 || errno == EEXIST ? 0 : -1;
}

/* What a cgroup parent enables for its children (cgroup.subtree_control). */
static const char cgroup_enable_controllers[] = "+memory +cpu +pids";

/* Writes text into the control file path; false with errno set if it cannot. */
static bool cgroup_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    int saved = errno;
    close(fd);
    errno = saved;
    return ok;
}

/* Enables the memory, cpu and pids controllers for the children of the cgroup parent. */
static int prepare_cgroup_parent(const char *parent, char *err, size_t err_len)
{
    if (make_dirs(parent, 0755) != 0) {
        snprintf(err, err_len, "jail.cgroup_parent %s cannot be created: %s (is cgroup v2 mounted at /sys/fs/cgroup, "
                 "and is silod root or delegated that subtree?)", parent, strerror(errno));
        return -1;
    }
    char path[320], have[512];
    snprintf(path, sizeof path, "%s/cgroup.controllers", parent);
    if (small_file_read(path, have, sizeof have) < 0) {
        snprintf(err, err_len, "jail.cgroup_parent %s is not a cgroup v2 directory (%s cannot be read)", parent, path);
        return -1;
    }
    static const char *const needed[] = { "memory", "cpu", "pids" };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        bool found = false;
        for (char *w = have; *w && !found;) {
            size_t n = strcspn(w, " \n");
            found = n == strlen(needed[i]) && strncmp(w, needed[i], n) == 0;
            w += n;
            w += strspn(w, " \n");
        }
        if (!found) {
            snprintf(err, err_len, "jail.cgroup_parent %s does not have the %s controller (its cgroup.controllers: "
                     "\"%.100s\"; enable it in the parent's cgroup.subtree_control)", parent, needed[i],
                     strtok(have, "\n") ? have : "");
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", parent);
    if (!cgroup_write(path, cgroup_enable_controllers)) {
        snprintf(err, err_len, "jail.cgroup_parent: cannot enable memory, cpu and pids in %s: %s (a cgroup with "
                 "processes of its own cannot delegate controllers; use an empty one)", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Moves silod into BASE/silod (made if missing), so that BASE holds no process of its own. */
static bool move_self_into_leaf(const char *base)
{
    char leaf[320], procs[340], pid[24];
    snprintf(leaf, sizeof leaf, "%s/silod", base);
    if (mkdir(leaf, 0755) != 0 && errno != EEXIST)
        return false;
    snprintf(procs, sizeof procs, "%s/cgroup.procs", leaf);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    return cgroup_write(procs, pid);
}

bool vmm_jail_default_cgroup_parent(char *out, size_t out_len, char *why, size_t why_len)
{
    char own[512], probe[64];
    ssize_t n = small_file_read("/proc/self/cgroup", own, sizeof own);
    const char *line = n > 0 ? (strncmp(own, "0::/", 4) == 0 ? own : strstr(own, "\n0::/")) : NULL;
    if (!line || small_file_read("/sys/fs/cgroup/cgroup.controllers", probe, sizeof probe) < 0) {
        snprintf(why, why_len, "no cgroup v2 at /sys/fs/cgroup");
        return false;
    }
    line += line[0] == '\n' ? 4 : 3; /* at the path's leading '/' */
    size_t len = strcspn(line, "\n");
    char base[300], path[340];
    if (len == 1) /* the root cgroup: exempt from the no-internal-processes rule */
        snprintf(base, sizeof base, "/sys/fs/cgroup");
    else if (len < 200)
        snprintf(base, sizeof base, "/sys/fs/cgroup%.*s", (int)len, line);
    else {
        snprintf(why, why_len, "silod's own cgroup path is too long");
        return false;
    }
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", base);
    bool enabled = cgroup_write(path, cgroup_enable_controllers);
    int saved = errno;
    if (!enabled && saved == EBUSY && len > 1 && move_self_into_leaf(base)) /* processes in it: leave it */
        enabled = cgroup_write(path, cgroup_enable_controllers);
    if (!enabled) {
        snprintf(why, why_len, "cannot enable memory, cpu and pids in %s: %s", path, strerror(saved));
        return false;
    }
    snprintf(out, out_len, "%s/silo-vmms", base);
    char err[400];
    if (prepare_cgroup_parent(out, err, sizeof err) != 0) {
        snprintf(why, why_len, "%s", err);
        return false;
    }
    return true;
}

struct vmm_jail *vmm_jail_new(const struct vmm_jail_config *cfg, char *err, size_t err_len)
{
    if (access(cfg->program ? cfg->program : "", X_OK) != 0) {
        snprintf(err, err_len, "jail.program %s cannot be executed: %s", cfg->program ? cfg->program : "(none)",
                 strerror(errno));
        return NULL;
    }
    if (make_dirs(cfg->dir, 0711) != 0) {
        snprintf(err, err_len, "jail.dir %s cannot be created: %s", cfg->dir, strerror(errno));
        return NULL;
    }
    if (cfg->cgroup_parent && *cfg->cgroup_parent && prepare_cgroup_parent(cfg->cgroup_parent, err, err_len) != 0)
        return NULL;
    struct vmm_jail *j = jail_alloc(cfg);
    if (!j)
        snprintf(err, err_len, "the jail's configuration is incomplete (program, dir, uid range)");
    return j;
}

void vmm_jail_free(struct vmm_jail *j)
{
    if (!j)
        return;
    pthread_mutex_destroy(&j->lock);
    free(j->used);
    free(j);
}

const struct vmm_jail_config *vmm_jail_config_of(const struct vmm_jail *j) { return &j->cfg; }

unsigned vmm_jail_in_use(struct vmm_jail *j)
{
    pthread_mutex_lock(&j->lock);
    unsigned n = j->in_use;
    pthread_mutex_unlock(&j->lock);
    return n;
}

/* Removes the run directory's entries and the directory; true when it is gone. */
static bool remove_run_dir(const char *run_dir)
{
    DIR *d = opendir(run_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    return rmdir(run_dir) == 0 || errno == ENOENT;
}

/* A VMM that died without wiping (SIGKILL, its cgroup's OOM kill) leaves its wipe keeper
 * (vmm/keeper.h, vmm.wipe_keeper) in the cgroup until the guest RAM is wiped: waits, bounded
 * by KEEPER_WAIT_MS, for the cgroup to hold no process before the slot is cleaned. Never kills
 * the keeper: that would leave the memory unwiped. */
#define KEEPER_WAIT_MS 60000
static void wait_cgroup_empty(const char *cgroup)
{
    char path[320]; /* a slot's cgroup path is < 256 */
    snprintf(path, sizeof path, "%s/cgroup.events", cgroup);
    for (int waited = 0; waited < KEEPER_WAIT_MS; waited += 10) {
        char text[256];
        if (small_file_read(path, text, sizeof text) <= 0 || strstr(text, "populated 0") != NULL)
            return; /* no such cgroup (nothing to wait for), or no process left in it */
        if (waited == 0)
            fprintf(stderr, "silod: jail: %s still holds a process (the VMM's wipe keeper, wiping); waiting\n", cgroup);
        nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    }
    fprintf(stderr, "silod: jail: %s still holds a process after %d s\n", cgroup, KEEPER_WAIT_MS / 1000);
}

/* true when some live process of the host runs as uid (real, effective or saved; from
 * /proc/PID/status; a zombie holds nothing and is not counted). */
static bool uid_has_process(unsigned uid)
{
    DIR *d = opendir("/proc");
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], text[2048];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        ssize_t n = small_file_read(path, text, sizeof text);
        const char *line = n > 0 ? strstr(text, "\nUid:") : NULL, *state = n > 0 ? strstr(text, "\nState:") : NULL;
        unsigned long ids[3];
        char st = 0;
        if (state && sscanf(state + 7, " %c", &st) == 1 && (st == 'Z' || st == 'X'))
            continue;
        if (line && sscanf(line + 5, "%lu %lu %lu", &ids[0], &ids[1], &ids[2]) == 3)
            found = ids[0] == uid || ids[1] == uid || ids[2] == uid;
    }
    if (d)
        closedir(d);
    return found;
}

/* Without a cgroup, the same wait by uid: a jail whose relay was SIGKILLed (or whose starter
 * died, as an image builder killed at its timeout) still has its VMM and wipe keeper ending
 * under the slot's uid; the uid is not handed out again while any process holds it. true when
 * none is left. */
static bool wait_uid_gone(unsigned uid)
{
    for (int waited = 0; waited < KEEPER_WAIT_MS; waited += 10) {
        if (!uid_has_process(uid))
            return true;
        if (waited == 0)
            fprintf(stderr, "silod: jail uid %u still has a process (a VMM or its wipe keeper ending); waiting\n", uid);
        nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    }
    fprintf(stderr, "silod: jail uid %u still has a process after %d s\n", uid, KEEPER_WAIT_MS / 1000);
    return false;
}

/* The leftovers of a slot's earlier life (a crashed silod) removed; true when none remain. */
static bool clean_slot(const struct vmm_jail_slot *s)
{
    bool ok = true;
    if (s->cgroup[0] && rmdir(s->cgroup) != 0 && errno != ENOENT)
        ok = false;      /* still has processes: a VMM of an earlier silod lives on */
    if (!remove_run_dir(s->run_dir))
        ok = false;
    if (rmdir(s->root) != 0 && errno != ENOENT)
        ok = false;      /* not empty, or still a mount point */
    return ok;
}

static void give_back(struct vmm_jail *j, unsigned uid)
{
    pthread_mutex_lock(&j->lock);
    unsigned i = uid - j->cfg.uid_first;
    if (uid >= j->cfg.uid_first && i < j->cfg.uid_count && j->used[i]) {
        j->used[i] = 0;
        j->in_use--;
    }
    pthread_mutex_unlock(&j->lock);
}

int vmm_jail_acquire(struct vmm_jail *j, struct vmm_jail_slot *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    for (unsigned from = 0;;) {
        unsigned i;
        pthread_mutex_lock(&j->lock);
        for (i = from; i < j->cfg.uid_count && j->used[i]; i++) {
        }
        if (i < j->cfg.uid_count) {
            j->used[i] = 1;
            j->in_use++;
        }
        pthread_mutex_unlock(&j->lock);
        if (i >= j->cfg.uid_count) {
            snprintf(err, err_len, "no free jail uid: all %u of jail.uid_first %u.. are in use or left behind",
                     j->cfg.uid_count, j->cfg.uid_first);
            return -1;
        }
        unsigned uid = j->cfg.uid_first + i;
        struct vmm_jail_slot s;
        if (!vmm_jail_slot_paths(&j->cfg, uid, &s)) {
            give_back(j, uid);
            snprintf(err, err_len, "jail.dir or jail.cgroup_parent is too long for a slot's paths");
            return -1;
        }
        if (j->detached) {
            *out = s;
            return 0;
        }
        if (!clean_slot(&s)) {
            /* an earlier life's VMM or mount is still there: leave the uid alone (kept as used) */
            fprintf(stderr, "silod: jail uid %u skipped: %s, %s or %s is left from an earlier silod and cannot "
                    "be removed\n", uid, s.cgroup[0] ? s.cgroup : "(no cgroup)", s.run_dir, s.root);
            from = i + 1;
            continue;
        }
        if (mkdir(s.root, 0755) != 0 || mkdir(s.run_dir, 0700) != 0 || chown(s.run_dir, uid, uid) != 0) {
            snprintf(err, err_len, "jail: cannot make %s and %s: %s", s.root, s.run_dir, strerror(errno));
            clean_slot(&s);
            give_back(j, uid);
            return -1;
        }
        *out = s;
        return 0;
    }
}

void vmm_jail_reset_cgroup(const struct vmm_jail_slot *s)
{
    if (s->cgroup[0])
        wait_cgroup_empty(s->cgroup);
    if (s->cgroup[0] && rmdir(s->cgroup) != 0 && errno != ENOENT)
        fprintf(stderr, "silod: jail: cannot remove cgroup %s: %s\n", s->cgroup, strerror(errno));
}

void vmm_jail_release(struct vmm_jail *j, struct vmm_jail_slot *s)
{
    if (!s->uid)
        return;
    if (!j->detached && s->cgroup[0])
        wait_cgroup_empty(s->cgroup);
    if (!j->detached && !s->cgroup[0] && !wait_uid_gone(s->uid)) {
        fprintf(stderr, "silod: jail uid %u not released: a process still runs as it\n", s->uid);
        s->uid = 0;
        return;
    }
    if (!j->detached && !clean_slot(s)) {
        /* kept as used: the next acquire must not hand out a uid whose VMM may live on */
        fprintf(stderr, "silod: jail uid %u not released: %s, %s or %s cannot be removed\n", s->uid,
                s->cgroup[0] ? s->cgroup : "(no cgroup)", s->run_dir, s->root);
        s->uid = 0;
        return;
    }
    give_back(j, s->uid);
    s->uid = 0;
}

static int share_one(int dir_fd, const char *name, unsigned gid, bool is_dir_wanted, char *err, size_t err_len)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        snprintf(err, err_len, "jail: %s: %s", name, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) && !(is_dir_wanted && S_ISDIR(st.st_mode)))
        return 0;                                       /* sockets, links: nothing to share */
    mode_t want = (st.st_mode & 07777) | (S_ISDIR(st.st_mode) ? 0050 : 0040);
    if ((st.st_gid != gid && fchownat(dir_fd, name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) != 0) ||
        (want != (st.st_mode & 07777) && fchmodat(dir_fd, name, want, 0) != 0)) {
        snprintf(err, err_len, "jail: cannot let group %u read %s: %s", gid, name, strerror(errno));
        return -1;
    }
    return 0;
}

int vmm_jail_share(const struct vmm_jail_config *cfg, const char *path, char *err, size_t err_len)
{
    if (!cfg->gid)
        return 0;
    if (share_one(AT_FDCWD, path, cfg->gid, true, err, err_len) != 0)
        return -1;
    DIR *d = opendir(path);
    if (!d)
        return 0;                                       /* a file */
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = share_one(dirfd(d), e->d_name, cfg->gid, false, err, err_len);
    closedir(d);
    return rc;
}

int vmm_jail_give_run_dir(const struct vmm_jail_slot *s, char *err, size_t err_len)
{
    DIR *d = opendir(s->run_dir);
    if (!d) {
        snprintf(err, err_len, "jail: %s: %s", s->run_dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            fchownat(dirfd(d), e->d_name, s->uid, s->uid, AT_SYMLINK_NOFOLLOW) != 0 && rc == 0) {
            snprintf(err, err_len, "jail: cannot give %s/%s to uid %u: %s", s->run_dir, e->d_name, s->uid,
                     strerror(errno));
            rc = -1;
        }
    closedir(d);
    return rc;
}

pid_t vmm_jail_vmm_pid(pid_t pid)
{
    for (int depth = 0; depth < 2; depth++) {
        char path[96], buf[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        ssize_t n = small_file_read(path, buf, sizeof buf);
        if (n <= 0 || (strcmp(buf, "silo-jail\n") != 0 && strcmp(buf, "silo-jail-init\n") != 0))
            return pid;
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
        n = small_file_read(path, buf, sizeof buf);
        long child = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (child <= 0)
            return pid;
        pid = (pid_t)child;
    }
    return pid;
}
