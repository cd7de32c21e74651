/* builder/silod_build_image.c — `silod-build-image`, silod's real image builder (the
 * program its `image_builder` setting names; frontend/image_builder.h runs it). For one new
 * version of a runtime it resolves the version's containerUri to a local agent image (or pulls
 * it from a configured OCI registry, builder/registry_pull.h), builds
 * the version's root filesystem with silo-image (the version's environmentVariables baked into
 * the image config, so they are as immutable as the version and reach the agent through
 * agentd), then proves the image boots: it starts silo-vmm on it exactly as silod starts a
 * session and waits until the agent is ready; only then does it exit 0.
 *
 *   silod-build-image RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE [VERSION_CONFIG]
 *
 *   CONTAINER_URI   an absolute path under one of $SILO_IMAGE_PATHS (an OCI image layout
 *                   directory, or an OCI / `docker save` tarball, .tar or .tar.gz), or
 *                   NAME[:TAG] (TAG defaults to "latest") in the local image store
 *                   $SILO_IMAGE_STORE, looked up as STORE/NAME/TAG (an OCI layout directory),
 *                   then STORE/NAME/TAG.tar, .tar.gz, .tgz. NAME is a Docker-style repository
 *                   name ([a-z0-9]+([._-][a-z0-9]+)* components joined by '/', e.g.
 *                   "silo.local/agents/c-echo" or an ECR-style "123.dkr.ecr.R.amazonaws.com/x"),
 *                   so nothing can climb out of the store; a name or path that resolves (through
 *                   symlinks) outside its root is refused. Or HOST[:PORT]/REPO[:TAG|@sha256:HEX]
 *                   when a registry in $SILO_REGISTRIES serves HOST (and, for a tag, the store
 *                   has no such image): pulled into the registry cache (builder/registry_pull.h)
 *                   as an OCI layout. Anything else (URLs, relative paths, digests of the
 *                   store, hosts no registry serves) is refused.
 *   OUTPUT_IMAGE    the ext4 root to write (a hard link into silo-image's cache), mode 0600 (it
 *                   holds the version's environment); removed again when the build or the boot
 *                   check fails.
 *   VERSION_CONFIG  a file with the version's configuration JSON as silod stores it (what
 *                   GetAgentRuntime shows): environmentVariables (set in the image config's Env,
 *                   replacing same-named entries) and protocolConfiguration.serverProtocol
 *                   (what "ready" means: HTTP/AGUI: GET /ping on guest port 8080 answers 200;
 *                   MCP: GET /mcp on 8000 answers at all; A2A: GET /.well-known/agent-card.json
 *                   on 9000 answers 200 — microvm_contract() in frontend/microvm.h).
 *                   Without it: no environment changes, protocol HTTP.
 *
 * Environment (silod sets these from its config file; see frontend/README.md):
 *   SILO_IMAGE_STORE, SILO_IMAGE_PATHS (':'-separated; unset: no absolute paths accepted),
 *   SILO_IMAGE_CACHE (default: OUTPUT_IMAGE's directory/.cache), SILO_IMAGE_FREE_MIB (64),
 *   SILO_VMM (default: silo-vmm next to this program), SILO_VMM_KERNEL (required),
 *   SILO_VMM_INITRD, SILO_VMM_CMDLINE (default MICROVM_AGENT_CMDLINE), SILO_VMM_GUEST_MIB and
 *   SILO_VMM_CPUS (default: the VM shape of frontend/microvm.h, as silod's), SILO_BOOT_TIMEOUT_MS
 *   (60000),
 *   SILO_IMAGE_TOOL, SILO_GUEST_INIT, SILO_GUEST_AGENTD (default: silo-image, silo-init and
 *   silo-agentd next to this program),
 *   SILO_SNAPSHOTS ("1": the boot check ends by taking the version's template, below),
 *   SILO_REGISTRIES (the registries, their credentials and the pull limits as JSON,
 *   builder/registry_pull.h; read first, then removed from the environment),
 *   SILO_JAIL_SLOT (a jailing silod's slot for the boot check, frontend/jail_handoff.h: the
 *   boot-check VMM then runs under silo-jail with the slot's uid, namespaces, rlimits and
 *   cgroup exactly as a session's VMM, and says so in a line
 *   `silod-build-image: boot check VMM jailed: pid P, Uid: ..., NSpid: ..., cgroup C`).
 *
 * The template (docs/snapshots.md): with SILO_SNAPSHOTS=1 the boot-check VM runs with
 * --snapshot-to; once the agent is ready (and before anything else reached it) it gets SIGUSR2
 * and writes its snapshot, which is renamed to OUTPUT_IMAGE with ".ext4" replaced by ".snap"
 * (a directory; its file `shape` says "<guest MiB> <vCPUs>" for silod). A template that cannot
 * be taken is one line on stdout and no template: the build still succeeds, and sessions of
 * that version boot cold.
 *
 * Output: progress (silo-image's lines, the guest console) on stdout, and a closing line
 *   silod-build-image: ID vN ready: build S s, boot check S s (PROTOCOL)
 * Exit 0 only when the agent answered. Otherwise exit 1 with exactly ONE line on stderr, which
 * silod makes the version's failureReason, e.g.
 *   image build failed: no such image 'x:latest' in the local image store
 *   image did not become ready: the agent exited with status 3
 *   image did not become ready within 60 s: the agent does not answer GET /ping (connection accepted, no answer)
 * The boot-check VM is started through frontend/microvm.c, exactly as silod starts a session's:
 * the same command line (under silo-jail when silod jails: vmm_jail_argv), its own process
 * group, PR_SET_PDEATHSIG SIGTERM (if this program dies, even by SIGKILL, the VMM still wipes
 * its guest memory), the same readiness probes. It is
 * stopped with SIGTERM (silo-vmm wipes its memory); on SIGTERM this program stops its children
 * the same way and fails with "image build cancelled".
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/mono_time.h"
#include "base/small_file.h"
#include "builder/registry_pull.h"
#include "frontend/jail_handoff.h"
#include "frontend/microvm.h"
#include "frontend/vm_template.h"

static char work_dir[PATH_MAX];         /* private temporary directory, removed at exit */
static const char *output_image;        /* removed on failure */
static volatile sig_atomic_t cancelled;
static volatile pid_t child_pid;        /* silo-image or silo-vmm while one runs */
static struct registry_settings registries;   /* from $SILO_REGISTRIES (then unset) */
static char pulled_layout[PATH_MAX];    /* a registry pull's OCI layout, removed at exit */
static struct jail_handoff jail;        /* from $SILO_JAIL_SLOT; jail.slot.uid 0: the boot check runs unjailed */

static void on_sigterm(int sig)
{
    (void)sig;
    cancelled = 1;
    if (child_pid > 0)
        kill(child_pid, SIGTERM);
}

static void remove_work_dir(void)
{
    if (pulled_layout[0] != '\0') {
        registry_layout_remove(pulled_layout);
        pulled_layout[0] = '\0';
    }
    if (work_dir[0] == '\0')
        return;
    const char *names[] = { "env.json", "vmm.sock", "vmm.err" };
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", work_dir, names[i]);
        unlink(p);
    }
    rmdir(work_dir);
    work_dir[0] = '\0';
}

/* The one line silod puts into failureReason: printable ASCII, at most ~400 bytes. */
__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    line[400] = '\0';
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = ' ';
    if (output_image)
        unlink(output_image);
    remove_work_dir();
    fflush(stdout);
    fprintf(stderr, "%s\n", line);
    exit(1);
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static long env_long(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max)
        fail("image build failed: %s=%s is not a number in %ld..%ld", name, v, min, max);
    return n;
}

/* $ENV_NAME, else a program next to this one (the install puts silo-image, silo-vmm, silo-init,
 * silo-agentd in one directory; so does $BUILD/arm64/bin and the dev host's /silo/bin). */
static void sibling(const char *env_name, const char *name, char *out, size_t cap)
{
    const char *v = getenv(env_name);
    if (v && *v) {
        if ((size_t)snprintf(out, cap, "%s", v) >= cap)
            fail("image build failed: %s is too long", env_name);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(out, cap, "%s", name);
        return;
    }
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    if ((size_t)snprintf(out, cap, "%s/%s", exe, name) >= cap)
        snprintf(out, cap, "%s", name);
}

/* --- resolving CONTAINER_URI ---------------------------------------------------------------- */

/* true when path (resolved through symlinks) lies inside root (resolved too). */
static bool inside(const char *path, const char *root)
{
    char rp[PATH_MAX], rr[PATH_MAX];
    if (!realpath(path, rp) || !realpath(root, rr))
        return false;
    size_t n = strlen(rr);
    return strcmp(rr, "/") == 0 || (strncmp(rp, rr, n) == 0 && rp[n] == '/');
}

static bool is_oci_dir(const char *dir)
{
    char p[PATH_MAX + 32], q[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/oci-layout", dir);
    snprintf(q, sizeof q, "%s/index.json", dir);
    struct stat a, b;
    return stat(p, &a) == 0 && S_ISREG(a.st_mode) && stat(q, &b) == 0 && S_ISREG(b.st_mode);
}

/* The absolute-path form: under one of $SILO_IMAGE_PATHS. */
static void resolve_path(const char *uri, char *source, size_t cap)
{
    const char *paths = getenv("SILO_IMAGE_PATHS");
    if (!paths || !*paths)
        fail("image build failed: containerUri '%.200s' is a local path, but silod accepts none "
             "(configure image_paths, or put the image in the local image store)", uri);
    /* One answer for a path that is missing, outside image_paths, or not an image: the
     * reason goes back to whoever called the control plane, and must not tell them which
     * host paths exist. */
    bool allowed = false;
    char list[4096];
    snprintf(list, sizeof list, "%s", paths);
    for (char *save = NULL, *root = strtok_r(list, ":", &save); root && !allowed; root = strtok_r(NULL, ":", &save))
        allowed = root[0] == '/' && inside(uri, root);
    struct stat st;
    if (!allowed || stat(uri, &st) != 0 || !(S_ISREG(st.st_mode) || (S_ISDIR(st.st_mode) && is_oci_dir(uri))))
        fail("image build failed: containerUri '%.200s' is not an OCI layout directory or image tarball in "
             "the directories silod reads images from (image_paths)", uri);
    snprintf(source, cap, "%s", uri);
}

/* NAME:TAG in the local image store: true with source set, false when it is not there. */
static bool in_store(const char *name, const char *tag, char *source, size_t cap)
{
    const char *store = getenv("SILO_IMAGE_STORE");
    if (!store || !*store)
        return false;
    const char *suffixes[] = { "", ".tar", ".tar.gz", ".tgz" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(source, cap, "%s/%s/%s%s", store, name, tag, suffixes[i]);
        struct stat st;
        if (stat(source, &st) != 0 || (i == 0 ? !(S_ISDIR(st.st_mode) && is_oci_dir(source)) : !S_ISREG(st.st_mode)))
            continue;
        if (!inside(source, store))
            fail("image build failed: '%s:%s' in the local image store leads outside it", name, tag);
        return true;
    }
    return false;
}

/* The registry cache: registry.cache, else the image cache's "registry" directory. */
static void registry_cache_dir(const char *out, char *dir, size_t cap)
{
    const char *ic = getenv("SILO_IMAGE_CACHE");
    if ((registries.cache && *registries.cache && (size_t)snprintf(dir, cap, "%s", registries.cache) < cap) ||
        (ic && *ic && (size_t)snprintf(dir, cap, "%s/registry", ic) < cap))
        return;
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%s", out);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = '\0';
    if ((size_t)snprintf(dir, cap, "%s/.cache/registry", slash ? base : ".") >= cap)
        fail("image build failed: the registry cache path is too long");
}

/* HOST[:PORT]/REPO[:TAG|@sha256:…] from the configured registry serving HOST, into an OCI
 * layout under the registry cache (removed at exit). */
static void pull(const char *uri, const struct registry_entry *e, const char *out, char *source, size_t cap)
{
    struct registry_ref ref;
    char err[400], cache[PATH_MAX];
    if (registry_parse_ref(uri, &ref, err, sizeof err) < 0)
        fail("image build failed: containerUri %s", err);
    registry_cache_dir(out, cache, sizeof cache);
    if ((size_t)snprintf(pulled_layout, sizeof pulled_layout, "%s/layouts/%s", cache, strrchr(work_dir, '/') + 1) >=
        sizeof pulled_layout)
        fail("image build failed: the registry cache path is too long");
    printf("silod-build-image: pulling %s from registry %s%s\n", uri, e->host,
           strcmp(e->host, ref.host) != 0 ? " (configured for that host)" : "");
    fflush(stdout);
    struct registry_pull_stats st;
    if (registry_pull(&registries, e, &ref, cache, pulled_layout, &st, err, sizeof err) < 0) {
        pulled_layout[0] = '\0';
        fail("image build failed: %s", err);
    }
    printf("silod-build-image: pulled %s (%s): %u blobs downloaded (%llu bytes), %u from the cache, %u requests\n",
           uri, st.manifest_digest, st.blobs_downloaded, (unsigned long long)st.bytes_downloaded, st.blobs_cached,
           st.requests);
    snprintf(source, cap, "%s", pulled_layout);
}

static void resolve_uri(const char *uri, const char *out, char *source, size_t cap)
{
    if (uri[0] == '/') {
        resolve_path(uri, source, cap);
        return;
    }
    /* A registry reference whose host a configured registry serves: the local image store
     * still comes first for a tag (an image put there by hand wins), digests only from the
     * registry. */
    const struct registry_entry *e = NULL;
    if (registry_names_host(uri)) {
        char host[256];
        snprintf(host, sizeof host, "%.*s", (int)strcspn(uri, "/"), uri);
        for (char *c = host; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        e = registry_find(&registries, host);
    }
    if (strchr(uri, '@')) {
        if (e)
            {
            pull(uri, e, out, source, cap);
            return;
        }
        fail("image build failed: containerUri '%.200s': a digest reference needs a registry configured for its "
             "host (silod's registries); the local image store takes NAME[:TAG]", uri);
    }
    char name[512], tag[160] = "latest";
    const char *colon = strrchr(uri, ':');
    if (colon && strchr(colon, '/'))                 /* a ':' before the last '/' is no tag */
        colon = NULL;
    size_t nlen = colon ? (size_t)(colon - uri) : strlen(uri);
    if (e && !registry_valid_repository(uri, nlen))  /* HOST:PORT/REPO: not a store name */
        {
            pull(uri, e, out, source, cap);
            return;
        }
    if (!registry_valid_repository(uri, nlen) || (colon && !registry_valid_tag(colon + 1)) ||
        (colon && strlen(colon + 1) >= sizeof tag))
        fail("image build failed: containerUri '%.200s' is neither an absolute path, a NAME[:TAG] of the local "
             "image store, nor HOST[:PORT]/REPO[:TAG|@sha256:DIGEST] of a configured registry", uri);
    memcpy(name, uri, nlen);
    name[nlen] = '\0';
    if (colon)
        snprintf(tag, sizeof tag, "%s", colon + 1);
    if (in_store(name, tag, source, cap))
        return;
    if (e)
        {
            pull(uri, e, out, source, cap);
            return;
        }
    const char *store = getenv("SILO_IMAGE_STORE");
    if (!store || !*store)
        fail("image build failed: no local image store configured (image_store) to find '%s:%s' in, and no "
             "registry configured for it (registries)", name, tag);
    fail("image build failed: no such image '%s:%s' in the local image store, and no registry configured for it "
         "(put an OCI layout or image tarball at %.100s/%s/%s[.tar], or configure registries)", name, tag, store,
         name, tag);
}

/* --- the version's configuration ------------------------------------------------------------ */

struct version_settings {
    char protocol_name[16];           /* HTTP, MCP, A2A, AGUI (for the log lines) */
    enum microvm_protocol protocol;   /* what "ready" means (frontend/microvm.h) */
    char env_file[PATH_MAX];   /* "" when there is nothing to set */
    size_t env_count;
};

static void read_version_config(const char *file, struct version_settings *vs)
{
    snprintf(vs->protocol_name, sizeof vs->protocol_name, "HTTP");
    vs->protocol = MICROVM_HTTP;
    if (!file)
        return;
    json_object *cfg = json_object_from_file(file), *pc, *sp, *env;
    if (!cfg || !json_object_is_type(cfg, json_type_object))
        fail("image build failed: the version configuration %s is not a JSON object", file);
    if (json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
        json_object_object_get_ex(pc, "serverProtocol", &sp) && json_object_is_type(sp, json_type_string))
    {
        snprintf(vs->protocol_name, sizeof vs->protocol_name, "%s", json_object_get_string(sp));
        vs->protocol = microvm_protocol_named(json_object_get_string(sp));
    }
    if (json_object_object_get_ex(cfg, "environmentVariables", &env) && !json_object_is_type(env, json_type_null)) {
        if (!json_object_is_type(env, json_type_object))
            fail("image build failed: environmentVariables is not a map of strings");
        vs->env_count = (size_t)json_object_object_length(env);
        if (vs->env_count > 0) {
            if ((size_t)snprintf(vs->env_file, sizeof vs->env_file, "%s/env.json", work_dir) >= sizeof vs->env_file)
                fail("image build failed: TMPDIR is too long");
            int fd = open(vs->env_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            const char *text = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN);
            size_t len = strlen(text);
            if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0)
                fail("image build failed: cannot write %s: %s", vs->env_file, strerror(errno));
        }
    }
    json_object_put(cfg);
}

/* --- silo-image ------------------------------------------------------------------------------- */

/* Runs silo-image with stdin from /dev/null, stdout to ours, stderr to `err_fd` (or ours); it
 * dies with this program. (The boot-check VMM is started by frontend/microvm.c instead.) */
static pid_t start_child(const char *const argv[], int err_fd, bool die_with_parent)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (die_with_parent) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(127);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (err_fd >= 0)
            dup2(err_fd, 2);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        signal(SIGTERM, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

/* Builds the image; relays silo-image's stderr to stdout, keeping its last line for the reason. */
static void build(const char *source, const struct version_settings *vs, const char *out)
{
    char tool[PATH_MAX], init[PATH_MAX], agentd[PATH_MAX], cache[PATH_MAX], free_mib[16];
    sibling("SILO_IMAGE_TOOL", "silo-image", tool, sizeof tool);
    sibling("SILO_GUEST_INIT", "silo-init", init, sizeof init);
    sibling("SILO_GUEST_AGENTD", "silo-agentd", agentd, sizeof agentd);
    if (getenv("SILO_IMAGE_CACHE") && *getenv("SILO_IMAGE_CACHE")) {
        snprintf(cache, sizeof cache, "%s", getenv("SILO_IMAGE_CACHE"));
    } else {
        snprintf(cache, sizeof cache, "%s", out);
        char *slash = strrchr(cache, '/');
        if (slash)
            snprintf(slash, sizeof cache - (size_t)(slash - cache), "/.cache");
        else
            snprintf(cache, sizeof cache, ".cache");
    }
    snprintf(free_mib, sizeof free_mib, "%ld", env_long("SILO_IMAGE_FREE_MIB", 64, 0, 1 << 20));
    const char *argv[24];
    int a = 0;
    argv[a++] = tool; argv[a++] = "build"; argv[a++] = source;
    argv[a++] = "--cache"; argv[a++] = cache;
    argv[a++] = "--init"; argv[a++] = init;
    argv[a++] = "--agentd"; argv[a++] = agentd;
    argv[a++] = "--free-mib"; argv[a++] = free_mib;
    if (vs->env_file[0]) {
        argv[a++] = "--env-json"; argv[a++] = vs->env_file;
    }
    argv[a++] = "-o"; argv[a++] = out;
    argv[a] = NULL;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        fail("image build failed: pipe: %s", strerror(errno));
    fflush(stdout);
    child_pid = start_child(argv, pipefd[1], true);
    close(pipefd[1]);
    if (child_pid < 0)
        fail("image build failed: fork: %s", strerror(errno));
    char last[512] = "", line[512];
    size_t used = 0;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        fwrite(buf, 1, (size_t)n, stdout);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                line[used] = '\0';
                if (used > 0)
                    memcpy(last, line, used + 1);
                used = 0;
            } else if (used + 1 < sizeof line) {
                line[used++] = buf[i];
            }
        }
    }
    if (used > 0) {
        line[used] = '\0';
        memcpy(last, line, used + 1);
    }
    close(pipefd[0]);
    int status = wait_child(child_pid);
    child_pid = 0;
    if (cancelled)
        fail("image build cancelled");
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const char *why = strncmp(last, "silo-image: ", 12) == 0 ? last + 12 : last;
        if (!*why)
            fail("image build failed: silo-image ended with status %d", status < 0 ? -1
                 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        fail("image build failed: %s", why);
    }
}

/* --- the boot check ------------------------------------------------------------------------- */

static void last_line_of(const char *file, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(file, "re");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && (size_t)snprintf(out, cap, "%s", line) >= cap)
            out[cap - 1] = '\0';
    }
    if (f)
        fclose(f);
}

#define TEMPLATE_TIMEOUT_MS 120000

/* The snapshot a jailed VMM wrote (as the slot's uid, into dir) becomes ours before it becomes
 * the version's template: only regular files with one link each, given to this program's
 * user (root) and made owner-only, so that the uid, handed to another session later, owns
 * nothing of it. Nothing is followed: a compromised VMM may have left anything there. */
static bool adopt_jailed_snapshot(const char *dir, char *why, size_t why_len)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        snprintf(why, why_len, "the jailed VMM's snapshot %.200s: %s", dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return false;
    }
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
            snprintf(why, why_len, "the jailed VMM's snapshot holds '%.100s', not a plain file", e->d_name);
            ok = false;
        } else if (fchownat(dfd, e->d_name, getuid(), getgid(), AT_SYMLINK_NOFOLLOW) != 0 ||
                   fchmodat(dfd, e->d_name, 0600, 0) != 0) {
            snprintf(why, why_len, "cannot take over the jailed VMM's snapshot file %.100s: %s", e->d_name, strerror(errno));
            ok = false;
        }
    }
    if (ok && (fchown(dfd, getuid(), getgid()) != 0 || fchmod(dfd, 0700) != 0)) {
        snprintf(why, why_len, "cannot take over the jailed VMM's snapshot directory: %s", strerror(errno));
        ok = false;
    }
    closedir(d);
    return ok;
}

/* The agent is ready in the boot-check VM `pid`: SIGUSR2 makes it write its snapshot to tmp
 * and exit 0; then tmp becomes the version's template. Any failure: a line, no template. */
static void take_template(pid_t pid, const char *tmp, const char *dir, const struct microvm_shape *shape,
                          const char *errfile)
{
    /* jailed, the VMM wrote its snapshot into an entry of tmp (vmm_jail.h) */
    char written[PATH_MAX + 32];
    snprintf(written, sizeof written, jail.slot.uid ? "%s/" VMM_JAIL_SNAPSHOT_NAME : "%s", tmp);
    int64_t t0 = mono_ms();
    kill(pid, SIGUSR2);
    int status = -1;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() - t0 < TEMPLATE_TIMEOUT_MS && !cancelled)
        usleep(20000);
    if (r == 0) {
        microvm_stop(pid);
        printf("silod-build-image: no template: the snapshot took longer than %d s\n", TEMPLATE_TIMEOUT_MS / 1000);
        vm_template_remove(tmp);
        return;
    }
    char why[300] = "";
    bool ok = r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
              (!jail.slot.uid || adopt_jailed_snapshot(written, why, sizeof why)) &&
              vm_template_write_shape(written, shape->guest_mib, shape->cpus) == 0;
    if (ok && rename(written, dir) != 0)
        ok = false;
    if (!ok) {
        char last[256];
        last_line_of(errfile, last, sizeof last);
        printf("silod-build-image: no template (sessions of this version boot cold): %s\n",
               why[0] ? why : last[0] ? last : "silo-vmm did not write its snapshot");
        vm_template_remove(tmp);
        return;
    }
    if (jail.slot.uid)
        rmdir(tmp);
    printf("silod-build-image: template %s taken in %.1f s\n", dir, (double)(mono_ms() - t0) / 1000.0);
}

/* The boot-check VMM: under silo-jail in the slot silod handed over, as silod starts a
 * session's (frontend/vmm_launcher.c), or plainly when silod does not jail. */
static pid_t spawn_boot_check_vmm(const struct microvm_params *p, const char *image, char *err, size_t err_len)
{
    if (!jail.slot.uid)
        return microvm_spawn(p, err, err_len);
    char disk[PATH_MAX];
    if (!realpath(image, disk)) {
        snprintf(err, err_len, "%s: %s", image, strerror(errno));
        return -1;
    }
    /* the image is owner-only (it holds the version's environment): the jailed VMMs' group may read it */
    if (vmm_jail_share(&jail.cfg, disk, err, err_len) != 0)
        return -1;
    const char *argv[VMM_JAIL_ARGV_MAX];
    static char buf[16384];
    if (vmm_jail_argv(&jail.cfg, &jail.slot, p, disk, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) < 0) {
        snprintf(err, err_len, "the jailed VMM's command line is incomplete or too long");
        return -1;
    }
    static const char *const env[] = VMM_JAIL_ENVIRONMENT;
    pid_t pid = microvm_spawn_argv_env(argv, env, p->stdout_fd, p->stderr_fd);
    if (pid < 0)
        snprintf(err, err_len, "fork: %s", strerror(errno));
    return pid;
}

/* One line on where the jailed VMM runs, from /proc: its uid, its pid in its own PID namespace,
 * its cgroup (what an operator, and tests/e2e/silod_jail.sh, check). */
static void say_where_jailed(pid_t relay)
{
    pid_t vmm = vmm_jail_vmm_pid(relay);
    char path[64], text[4096], cgroup[512] = "(none)";
    snprintf(path, sizeof path, "/proc/%d/status", (int)vmm);
    ssize_t n = small_file_read(path, text, sizeof text);
    const char *uid = n > 0 ? strstr(text, "\nUid:") : NULL, *nspid = n > 0 ? strstr(text, "\nNSpid:") : NULL;
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)vmm);
    if (small_file_read(path, cgroup, sizeof cgroup) > 3 && strncmp(cgroup, "0::", 3) == 0)
        memmove(cgroup, cgroup + 3, strlen(cgroup + 3) + 1);
    cgroup[strcspn(cgroup, "\n")] = '\0';
    printf("silod-build-image: boot check VMM jailed: pid %d, Uid:%.*s, NSpid:%.*s, cgroup %s\n", (int)vmm,
           uid ? (int)strcspn(uid + 5, "\n") : 0, uid ? uid + 5 : "", nspid ? (int)strcspn(nspid + 7, "\n") : 0,
           nspid ? nspid + 7 : "", cgroup);
}

/* Boots the image exactly as silod boots a session (frontend/microvm.h: the same command line,
 * the same spawn policy, the same readiness), holding an agentd WAIT open so that an agent that
 * exits at once fails the check at once. */
static void boot_check(const char *image, enum microvm_protocol protocol, double *seconds)
{
    char vmm[PATH_MAX], sock[PATH_MAX + 16], errfile[PATH_MAX + 16], err[256];
    sibling("SILO_VMM", "silo-vmm", vmm, sizeof vmm);
    const char *kernel = getenv("SILO_VMM_KERNEL");
    if (!kernel || !*kernel)
        fail("image boot check failed: SILO_VMM_KERNEL (silod's vmm.kernel) is not set");
    long timeout_ms = env_long("SILO_BOOT_TIMEOUT_MS", 60000, 1000, 3600000);
    if (jail.slot.uid)
        snprintf(sock, sizeof sock, "%s/%s", jail.slot.run_dir, VMM_JAIL_SOCKET);
    else
        snprintf(sock, sizeof sock, "%s/vmm.sock", work_dir);
    snprintf(errfile, sizeof errfile, "%s/vmm.err", work_dir);
    struct microvm_params p = {
        .vmm_path = vmm, .kernel = kernel, .initrd = getenv("SILO_VMM_INITRD"),
        .cmdline = env_or("SILO_VMM_CMDLINE", MICROVM_AGENT_CMDLINE),
        .shape = { (unsigned)env_long("SILO_VMM_GUEST_MIB", MICROVM_DEFAULT_GUEST_MIB, MICROVM_MIN_GUEST_MIB,
                                      MICROVM_MAX_GUEST_MIB),
                   (unsigned)env_long("SILO_VMM_CPUS", MICROVM_DEFAULT_CPUS, 1, MICROVM_MAX_CPUS) },
        .disk = image, .vsock_path = sock,
        .stdout_fd = MICROVM_FD_INHERIT,     /* the guest console: into silod's log */
        .stderr_fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600),
    };
    if (p.stderr_fd < 0)
        p.stderr_fd = MICROVM_FD_NULL;
    char template_dir[PATH_MAX + 16], template_tmp[PATH_MAX + 16];
    const char *snap_env = getenv("SILO_SNAPSHOTS");
    bool want_template = snap_env && strcmp(snap_env, "1") == 0 &&
                         vm_template_paths(image, template_dir, sizeof template_dir, template_tmp, sizeof template_tmp);
    if (want_template) {
        vm_template_remove(template_dir); /* a stale one of an earlier build of this version */
        vm_template_remove(template_tmp);
        p.snapshot_to = template_tmp;
        /* jailed, the VMM writes into this directory as the slot's uid (vmm_jail.h) */
        if (jail.slot.uid && (mkdir(template_tmp, 0700) != 0 ||
                              chown(template_tmp, jail.slot.uid, jail.cfg.gid ? jail.cfg.gid : jail.slot.uid) != 0)) {
            printf("silod-build-image: no template (sessions of this version boot cold): cannot make %s for the "
                   "jailed VMM: %s\n", template_tmp, strerror(errno));
            vm_template_remove(template_tmp);
            want_template = false;
            p.snapshot_to = NULL;
        }
    }
    fflush(stdout);
    int64_t t0 = mono_ms();
    pid_t pid = spawn_boot_check_vmm(&p, image, err, sizeof err);
    if (p.stderr_fd >= 0)
        close(p.stderr_fd);
    if (pid < 0)
        fail("image boot check failed: %s", err);
    child_pid = pid;
    struct microvm_wait w = { .protocol = protocol, .deadline_ms = t0 + timeout_ms, .watch_agent = true,
                              .interval_ms = 100, .cancelled = &cancelled };
    int code = 0;
    char why[256];
    enum microvm_ready r = microvm_wait_ready(&pid, sock, &w, &code, why, sizeof why);
    *seconds = (double)(mono_ms() - t0) / 1000.0;
    if (r == MICROVM_READY && jail.slot.uid)
        say_where_jailed(pid);
    if (r == MICROVM_READY && want_template)
        take_template(pid, template_tmp, template_dir, &p.shape, errfile); /* the VMM exits */
    else
        microvm_stop(pid);         /* pid is 0 when the VMM already exited */
    child_pid = 0;
    unlink(sock);
    switch (r) {
    case MICROVM_READY:
        return;
    case MICROVM_CANCELLED:
        fail("image build cancelled");
    case MICROVM_AGENT_ENDED:
        fail("image did not become ready: %s", why);
    case MICROVM_VMM_EXITED: {
        char last[256];
        last_line_of(errfile, last, sizeof last);
        if (code == 0)
            fail("image did not become ready: the guest powered off before the agent was ready (%s)", why);
        fail("image did not become ready: silo-vmm exited with status %d%s%.200s", code, last[0] ? ": " : "", last);
    }
    case MICROVM_TIMED_OUT:
        break;
    }
    if (cancelled)
        fail("image build cancelled");
    fail("image did not become ready within %ld s: %s", timeout_ms / 1000, why);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: silod-build-image RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE [VERSION_CONFIG]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = { .sa_handler = on_sigterm };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    const char *runtime_id = argv[1], *version = argv[2], *uri = argv[3], *out = argv[4];
    const char *tmp = env_or("TMPDIR", "/tmp");
    snprintf(work_dir, sizeof work_dir, "%s/silod-build-XXXXXX", tmp);
    if (!mkdtemp(work_dir)) {
        work_dir[0] = '\0';
        fail("image build failed: cannot make a directory in %s: %s", tmp, strerror(errno));
    }
    /* a jailing silod's slot for the boot check (frontend/jail_handoff.h) */
    const char *handoff = getenv(JAIL_HANDOFF_ENV);
    char jail_err[300];
    if (handoff && jail_handoff_decode(handoff, &jail, jail_err, sizeof jail_err) != 0)
        fail("image boot check failed: %s", jail_err);
    unsetenv(JAIL_HANDOFF_ENV);
    /* registry credentials: read once, then out of the environment of everything we start */
    char reg_err[400];
    int reg_rc = registry_settings_parse(getenv("SILO_REGISTRIES"), &registries, reg_err, sizeof reg_err);
    unsetenv("SILO_REGISTRIES");
    registries.cancelled = &cancelled;
    if (reg_rc < 0)
        fail("image build failed: %s", reg_err);
    struct version_settings vs = { .env_count = 0 };
    read_version_config(argc == 6 ? argv[5] : NULL, &vs);
    char source[PATH_MAX + 64];
    resolve_uri(uri, out, source, sizeof source);
    printf("silod-build-image: %s v%s: %s -> %s (%zu environment variables, protocol %s)\n", runtime_id, version,
           source, out, vs.env_count, vs.protocol_name);
    int64_t t0 = mono_ms();
    output_image = out;
    build(source, &vs, out);
    /* the image holds the version's environment (sensitive in AgentCore's API): owner only */
    if (chmod(out, 0600) != 0)
        fail("image build failed: chmod %s: %s", out, strerror(errno));
    double build_s = (double)(mono_ms() - t0) / 1000.0, boot_s = 0;
    boot_check(out, vs.protocol, &boot_s);
    remove_work_dir();
    registry_settings_free(&registries);
    printf("silod-build-image: %s v%s ready: build %.1f s, boot check %.1f s (%s)\n", runtime_id, version, build_s,
           boot_s, vs.protocol_name);
    return 0;
}
