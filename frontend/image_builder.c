/* frontend/image_builder.c — runs the configured image builder per version and reports the
 * result to the control plane (contract in image_builder.h). */
#include "frontend/image_builder.h"
#include "frontend/jail_handoff.h"
#include "frontend/vm_template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/mono_time.h"
#include "frontend/silod_config.h"

struct image_builder {
    char *command;
    const struct vmm_launcher_config *vmm;
    struct control_plane *cp;
    char **envp;               /* silod's environment plus the SILO_* settings, NULL-terminated */
    unsigned guest_mib;        /* each boot check's VM */
    unsigned timeout_s;
    unsigned max_concurrent;
    struct image_builder_capacity capacity;   /* reserve == NULL: none attached */
    pthread_mutex_t lock;      /* guards running */
    pthread_cond_t slot_free;
    unsigned running;          /* builds holding a slot */
};

static char *name_value(const char *name, const char *value)
{
    char *s = NULL;
    if (asprintf(&s, "%s=%s", name, value) < 0)
        abort();
    return s;
}

/* Builds envp: environ without the names we set, then ours. */
static void build_env(struct image_builder *b, const struct image_builder_config *cfg)
{
    const struct vmm_launcher_config *v = cfg->vmm;
    char mib[16], cpus[16], timeout[16];
    snprintf(mib, sizeof mib, "%u", cfg->guest_mib ? cfg->guest_mib : MICROVM_DEFAULT_GUEST_MIB);
    snprintf(cpus, sizeof cpus, "%u", v && v->cpus ? v->cpus : MICROVM_DEFAULT_CPUS);
    snprintf(timeout, sizeof timeout, "%d", v && v->ready_timeout_ms ? v->ready_timeout_ms : MICROVM_DEFAULT_READY_TIMEOUT_MS);
    const char *ours[][2] = {
        { "SILO_VMM", v ? v->vmm_path : NULL },
        { "SILO_VMM_KERNEL", v ? v->kernel : NULL },
        { "SILO_VMM_INITRD", v ? v->initrd : NULL },
        { "SILO_VMM_CMDLINE", v && v->cmdline ? v->cmdline : MICROVM_AGENT_CMDLINE },
        { "SILO_VMM_GUEST_MIB", mib },
        { "SILO_VMM_CPUS", cpus },
        { "SILO_BOOT_TIMEOUT_MS", timeout },
        { "SILO_IMAGE_STORE", cfg->image_store },
        { "SILO_IMAGE_PATHS", cfg->image_paths },
        { "SILO_IMAGE_CACHE", cfg->image_cache },
        { "SILO_SNAPSHOTS", v && v->snapshots ? "1" : "0" },
        { "SILO_REGISTRIES", cfg->registries_json },
        { JAIL_HANDOFF_ENV, NULL },     /* per build (image_builder_run), never inherited */
    };
    size_t n_ours = sizeof ours / sizeof ours[0], n = 0;
    while (environ && environ[n])
        n++;
    b->envp = calloc(n + n_ours + 1, sizeof *b->envp);
    if (!b->envp)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        for (size_t j = 0; j < n_ours && !overridden; j++) {
            size_t l = strlen(ours[j][0]);
            overridden = strncmp(environ[i], ours[j][0], l) == 0 && environ[i][l] == '=';
        }
        if (!overridden)
            b->envp[k++] = strdup(environ[i]);
    }
    for (size_t j = 0; j < n_ours; j++)
        if (ours[j][1] && *ours[j][1])
            b->envp[k++] = name_value(ours[j][0], ours[j][1]);
    b->envp[k] = NULL;
}

struct image_builder *image_builder_new(const struct image_builder_config *cfg)
{
    struct image_builder *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->command = cfg->command ? strdup(cfg->command) : NULL;
    b->vmm = cfg->vmm;
    b->guest_mib = cfg->guest_mib ? cfg->guest_mib : MICROVM_DEFAULT_GUEST_MIB;
    b->timeout_s = cfg->timeout_s ? cfg->timeout_s : IMAGE_BUILD_TIMEOUT_S;
    b->max_concurrent = cfg->max_concurrent ? cfg->max_concurrent : IMAGE_BUILDS_CONCURRENT;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->slot_free, NULL);
    build_env(b, cfg);
    return b;
}

/* `registries` and `registry` as builder/registry_pull.h's SILO_REGISTRIES JSON (malloc'd). */
static char *registries_json(const struct silod_config *c)
{
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    for (size_t i = 0; i < c->registry_count; i++) {
        const struct silod_registry *r = &c->registries[i];
        json_object *e = json_object_new_object(), *match = json_object_new_array();
        json_object_object_add(e, "host", json_object_new_string(r->host));
        if (r->username) {
            json_object_object_add(e, "username", json_object_new_string(r->username));
            json_object_object_add(e, "password", json_object_new_string(r->password));
        }
        json_object_object_add(e, "insecure_http", json_object_new_boolean(r->insecure_http));
        for (size_t k = 0; k < r->match.count; k++)
            json_object_array_add(match, json_object_new_string(r->match.items[k]));
        json_object_object_add(e, "match", match);
        json_object_array_add(list, e);
    }
    json_object_object_add(root, "registries", list);
    const struct silod_registry_limits *l = &c->registry;
    if (l->cache)
        json_object_object_add(root, "cache", json_object_new_string(l->cache));
    json_object_object_add(root, "max_manifest_kib", json_object_new_int64(l->max_manifest_kib));
    json_object_object_add(root, "max_layer_mib", json_object_new_int64(l->max_layer_mib));
    json_object_object_add(root, "max_image_mib", json_object_new_int64(l->max_image_mib));
    json_object_object_add(root, "timeout_s", json_object_new_int64(l->timeout_s));
    char *text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    if (!text)
        abort();
    return text;
}

struct image_builder *image_builder_from_config(const struct silod_config *c, const struct vmm_launcher_config *vmm)
{
    char *registries = registries_json(c);
    struct image_builder_config cfg = {
        c->image_builder, c->image_store, c->image_paths, c->image_cache, vmm, c->vmm.shape.guest_mib,
        c->image_build_timeout_s, c->max_concurrent_builds, registries,
    };
    struct image_builder *b = image_builder_new(&cfg);
    free(registries);
    return b;
}

void image_builder_free(struct image_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->envp[i]; i++)
        free(b->envp[i]);
    free(b->envp);
    free(b->command);
    pthread_cond_destroy(&b->slot_free);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void image_builder_attach(struct image_builder *b, struct control_plane *cp) { b->cp = cp; }

void image_builder_attach_capacity(struct image_builder *b, const struct image_builder_capacity *cap)
{
    b->capacity = *cap;
}

/* One builder output stream, split into lines for the log. */
struct line_reader {
    int fd;
    char buf[1024];
    size_t used;
};

static void sanitise(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            *s = ' ';
}

static void end_line(struct line_reader *r, const char *who, char *last, size_t last_len)
{
    r->buf[r->used] = '\0';
    sanitise(r->buf);
    fprintf(stderr, "silod: build %s: %s\n", who, r->buf);
    if (last && r->used > 0) {
        size_t n = r->used < last_len - 1 ? r->used : last_len - 1;
        memcpy(last, r->buf, n);
        last[n] = '\0';
    }
    r->used = 0;
}

/* Reads what is there; logs complete lines; keeps the last non-empty one in `last` (if given).
 * false at EOF. */
static bool pump(struct line_reader *r, const char *who, char *last, size_t last_len)
{
    char chunk[4096];
    ssize_t n = read(r->fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0) {
        if (r->used > 0)
            end_line(r, who, last, last_len);
        return false;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] == '\n') {
            end_line(r, who, last, last_len);
            continue;
        }
        if (r->used + 1 == sizeof r->buf)      /* an overlong line is logged in pieces */
            end_line(r, who, last, last_len);
        r->buf[r->used++] = chunk[i];
    }
    return true;
}

static bool run_builder(const struct image_builder *b, char *const envp[], const char *runtime_id, int version,
                        const char *config_json, char *reason, size_t reason_len)
{
    if (!b->command) {
        snprintf(reason, reason_len, "no image builder configured");
        return false;
    }
    const char *rootfs_dir = b->vmm && b->vmm->rootfs_dir ? b->vmm->rootfs_dir : "images";
    char out[4096], cfg_path[4096], ver[16], who[200];
    snprintf(ver, sizeof ver, "%d", version);
    snprintf(who, sizeof who, "%.180s v%d", runtime_id, version);
    if ((size_t)snprintf(out, sizeof out, "%s/%s-v%d.ext4", rootfs_dir, runtime_id, version) >= sizeof out ||
        (size_t)snprintf(cfg_path, sizeof cfg_path, "%s/.%s-v%d.config.XXXXXX", rootfs_dir, runtime_id, version) >=
            sizeof cfg_path) {
        snprintf(reason, reason_len, "image build failed: rootfs_dir path too long");
        return false;
    }
    int cfd = mkostemp(cfg_path, O_CLOEXEC);     /* mode 0600: the config holds secrets */
    size_t clen = config_json ? strlen(config_json) : 0;
    if (cfd < 0 || write(cfd, config_json ? config_json : "", clen) != (ssize_t)clen || close(cfd) != 0) {
        snprintf(reason, reason_len, "image build failed: cannot write the version configuration in %s: %s",
                 rootfs_dir, strerror(errno));
        if (cfd >= 0)
            unlink(cfg_path);
        return false;
    }
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        snprintf(reason, reason_len, "image build failed: pipe: %s", strerror(errno));
        unlink(cfg_path);
        return false;
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        snprintf(reason, reason_len, "image build failed: pipe: %s", strerror(errno));
        close(out_pipe[0]);
        close(out_pipe[1]);
        unlink(cfg_path);
        return false;
    }
    const char *args[] = { b->command, runtime_id, ver, NULL, out, cfg_path, NULL };
    json_object *cfg = config_json ? json_tokener_parse(config_json) : NULL, *art, *cc, *uri;
    args[3] = cfg && json_object_object_get_ex(cfg, "agentRuntimeArtifact", &art) &&
                      json_object_object_get_ex(art, "containerConfiguration", &cc) &&
                      json_object_object_get_ex(cc, "containerUri", &uri)
                  ? json_object_get_string(uri) : "";
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls between fork and exec: silod has threads */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);             /* its own group: a timeout ends the boot-check VMM too */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execve(b->command, (char *const *)args, envp);
        static const char msg[] = "image build failed: cannot run the image builder\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    int fork_errno = errno;
    json_object_put(cfg);
    close(out_pipe[1]);
    close(err_pipe[1]);
    char last[IMAGE_BUILDER_REASON_MAX + 1] = "";
    bool timed_out = false;
    if (pid > 0) {
        setpgid(pid, pid);         /* also here, so the group exists before any kill below */
        /* past the deadline: SIGTERM to the group, SIGKILL after 5 s, stop reading after 7 s
         * (a descendant that left the group may hold the pipes open) */
        int64_t deadline = mono_ms() + (int64_t)b->timeout_s * 1000;
        int stage = 0;
        struct line_reader ro = { .fd = out_pipe[0] }, re = { .fd = err_pipe[0] };
        bool out_open = true, err_open = true;
        while (out_open || err_open) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                if (stage == 0)
                    kill(-pid, SIGTERM);
                else if (stage == 1)
                    kill(-pid, SIGKILL);
                else
                    break;
                timed_out = true;
                deadline = mono_ms() + (stage == 0 ? 5000 : 2000);
                stage++;
                continue;
            }
            struct pollfd p[2] = { { out_open ? ro.fd : -1, POLLIN, 0 }, { err_open ? re.fd : -1, POLLIN, 0 } };
            int n = poll(p, 2, left > 1000 ? 1000 : (int)left);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (out_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                out_open = pump(&ro, who, NULL, 0);
            if (err_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
                err_open = pump(&re, who, last, sizeof last);
        }
        if (timed_out)
            kill(-pid, SIGKILL);   /* whatever of the group is left */
    }
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = 0;
    bool ok = false;
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    unlink(cfg_path);
    if (ok)
        return true;
    if (pid < 0)
        snprintf(reason, reason_len, "image build failed: fork: %s", strerror(fork_errno));
    else if (timed_out)
        snprintf(reason, reason_len, "image build timed out after %u s", b->timeout_s);
    else if (last[0])
        snprintf(reason, reason_len, "%s", last);
    else
        snprintf(reason, reason_len, "image build failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return false;
}

/* A jailing silod hands the boot check a jail slot of its own (frontend/jail_handoff.h): the
 * builder starts its VMM under silo-jail in it, as a session's. The slot is given back only
 * once every process of it has ended (the VMM outlives a builder killed at its timeout until
 * its parent-death signal has made it wipe and exit). */
bool image_builder_run(const struct image_builder *b, const char *runtime_id, int version,
                       const char *config_json, char *reason, size_t reason_len)
{
    struct vmm_jail *jail = b->vmm ? b->vmm->jail : NULL;
    if (!jail || !b->command)
        return run_builder(b, b->envp, runtime_id, version, config_json, reason, reason_len);
    struct vmm_jail_slot slot;
    char err[300];
    if (vmm_jail_acquire(jail, &slot, err, sizeof err) != 0) {
        snprintf(reason, reason_len, "image build failed: no jail for the boot check: %s", err);
        return false;
    }
    char *handoff = jail_handoff_encode(vmm_jail_config_of(jail), slot.uid);
    size_t n = 0;
    while (b->envp[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    char *entry = handoff ? name_value(JAIL_HANDOFF_ENV, handoff) : NULL;
    bool ok = false;
    if (!envp || !entry) {
        snprintf(reason, reason_len, "image build failed: out of memory");
    } else {
        memcpy(envp, b->envp, n * sizeof *envp);
        envp[n] = entry;
        ok = run_builder(b, envp, runtime_id, version, config_json, reason, reason_len);
    }
    free(entry);
    free(envp);
    free(handoff);
    vmm_jail_release(jail, &slot);
    return ok;
}

/* --- one thread per build ------------------------------------------------------------------ */

struct build_job {
    struct image_builder *b;
    char runtime_id[256];
    int version;
    char *config_json;
};

/* Reserves the boot check's guest memory, waiting up to timeout_s for room; true when done. */
static bool reserve_boot_memory(struct image_builder *b, const char *runtime_id, int version)
{
    if (!b->capacity.reserve)
        return true;
    int64_t deadline = mono_ms() + (int64_t)b->timeout_s * 1000;
    bool said = false;
    while (!b->capacity.reserve(b->capacity.ctx, b->guest_mib)) {
        if (mono_ms() >= deadline)
            return false;
        if (!said)
            fprintf(stderr, "silod: build %.180s v%d: waits for %u MiB of guest memory for its boot check\n",
                    runtime_id, version, b->guest_mib);
        said = true;
        usleep(200 * 1000);
    }
    return true;
}

bool image_builder_build(struct image_builder *b, const char *runtime_id, int version,
                         const char *config_json, char *reason, size_t reason_len)
{
    pthread_mutex_lock(&b->lock);
    while (b->running >= b->max_concurrent)
        pthread_cond_wait(&b->slot_free, &b->lock);
    b->running++;
    pthread_mutex_unlock(&b->lock);
    bool ok = false;
    if (!reserve_boot_memory(b, runtime_id, version)) {
        snprintf(reason, reason_len, "no guest memory free for the boot check (%u MiB) within %u s",
                 b->guest_mib, b->timeout_s);
    } else {
        ok = image_builder_run(b, runtime_id, version, config_json, reason, reason_len);
        if (b->capacity.release)
            b->capacity.release(b->capacity.ctx, b->guest_mib);
    }
    pthread_mutex_lock(&b->lock);
    b->running--;
    pthread_cond_signal(&b->slot_free);
    pthread_mutex_unlock(&b->lock);
    return ok;
}

static void *build_thread(void *p)
{
    struct build_job *j = p;
    char reason[IMAGE_BUILDER_REASON_MAX + 1];
    bool ok = image_builder_build(j->b, j->runtime_id, j->version, j->config_json, reason, sizeof reason);
    control_plane_version_built(j->b->cp, j->runtime_id, j->version, ok, ok ? NULL : reason);
    free(j->config_json);
    free(j);
    return NULL;
}

static void submit(void *ctx, const char *runtime_id, int version, const char *config_json)
{
    struct image_builder *b = ctx;
    json_object *cfg = config_json ? json_tokener_parse(config_json) : NULL, *art, *cc, *uri;
    bool has_uri = cfg && json_object_object_get_ex(cfg, "agentRuntimeArtifact", &art) &&
                   json_object_object_get_ex(art, "containerConfiguration", &cc) &&
                   json_object_object_get_ex(cc, "containerUri", &uri) && json_object_is_type(uri, json_type_string);
    json_object_put(cfg);
    if (!b->command || !has_uri) {
        control_plane_version_built(b->cp, runtime_id, version, false,
                                    b->command ? "no containerUri" : "no image builder configured");
        return;
    }
    struct build_job *j = calloc(1, sizeof *j);
    if (!j) {
        control_plane_version_built(b->cp, runtime_id, version, false, "cannot start the build");
        return;
    }
    j->b = b;
    snprintf(j->runtime_id, sizeof j->runtime_id, "%s", runtime_id);
    j->version = version;
    j->config_json = strdup(config_json);
    pthread_t t;
    if (!j->config_json || pthread_create(&t, NULL, build_thread, j) != 0) {
        control_plane_version_built(b->cp, runtime_id, version, false, "cannot start the build");
        free(j->config_json);
        free(j);
        return;
    }
    pthread_detach(t);
}

/* A deleted version's image and template (version 0: every version of the runtime). Sessions
 * still running on them keep their open files; new ones cannot start. */
static void remove_built(void *ctx, const char *runtime_id, int version)
{
    struct image_builder *b = ctx;
    const char *rootfs_dir = b->vmm && b->vmm->rootfs_dir ? b->vmm->rootfs_dir : "images";
    char prefix[300];
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s-v", runtime_id);
    DIR *d = plen < sizeof prefix ? opendir(rootfs_dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, plen) != 0)
            continue;
        char *end;
        long v = strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || v <= 0 || (version != 0 && v != version))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", rootfs_dir, e->d_name);
        if (strcmp(end, ".ext4") == 0)
            unlink(path);
        else if (strcmp(end, ".snap") == 0 || strcmp(end, ".snap.tmp") == 0)
            vm_template_remove(path);
    }
    if (d)
        closedir(d);
}

struct version_builder image_builder_interface(struct image_builder *b)
{
    return (struct version_builder){ submit, b, remove_built };
}
