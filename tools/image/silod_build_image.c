/* tools/image/silod_build_image.c — `silod-build-image`, silod's real image builder (the
 * program its `image_builder` setting names; frontend/image_builder.h runs it). For one new
 * version of a runtime it resolves the version's containerUri to a local agent image, builds
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
 *                   symlinks) outside its root is refused. Nothing is ever pulled from a
 *                   registry; anything else (URLs, relative paths, digests) is refused.
 *   OUTPUT_IMAGE    the ext4 root to write (a hard link into silo-image's cache), mode 0600 (it
 *                   holds the version's environment); removed again when the build or the boot
 *                   check fails.
 *   VERSION_CONFIG  a file with the version's configuration JSON as silod stores it (what
 *                   GetAgentRuntime shows): environmentVariables (set in the image config's Env,
 *                   replacing same-named entries) and protocolConfiguration.serverProtocol
 *                   (what "ready" means: HTTP/AGUI: GET /ping on guest port 8080 answers 200;
 *                   MCP: GET /mcp on 8000 answers at all; A2A: agentd reports port 9000 open).
 *                   Without it: no environment changes, protocol HTTP.
 *
 * Environment (silod sets these from its config file; see frontend/README.md):
 *   SILO_IMAGE_STORE, SILO_IMAGE_PATHS (':'-separated; unset: no absolute paths accepted),
 *   SILO_IMAGE_CACHE (default: OUTPUT_IMAGE's directory/.cache), SILO_IMAGE_FREE_MIB (64),
 *   SILO_VMM (default: silo-vmm next to this program), SILO_VMM_KERNEL (required),
 *   SILO_VMM_INITRD, SILO_VMM_CMDLINE (default VMM_AGENT_CMDLINE), SILO_VMM_GUEST_MIB (256),
 *   SILO_VMM_CPUS (1), SILO_BOOT_TIMEOUT_MS (60000),
 *   SILO_IMAGE_TOOL, SILO_GUEST_INIT, SILO_GUEST_AGENTD (default: silo-image, silo-init and
 *   silo-agentd next to this program).
 *
 * Output: progress (silo-image's lines, the guest console) on stdout, and a closing line
 *   silod-build-image: ID vN ready: build S s, boot check S s (PROTOCOL)
 * Exit 0 only when the agent answered. Otherwise exit 1 with exactly ONE line on stderr, which
 * silod makes the version's failureReason, e.g.
 *   image build failed: no such image 'x:latest' in the local image store
 *   image did not become ready: the agent exited with status 3
 *   image did not become ready within 60 s: the agent does not answer GET /ping (connection accepted, no answer)
 * The boot-check VM is stopped with SIGTERM (silo-vmm wipes its memory); on SIGTERM this
 * program stops its children the same way and fails with "image build cancelled".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

#include "frontend/vmm_launcher.h"
#include "guest/agentd/control_proto.h"

static char work_dir[PATH_MAX];         /* private temporary directory, removed at exit */
static const char *output_image;        /* removed on failure */
static volatile sig_atomic_t cancelled;
static volatile pid_t child_pid;        /* silo-image or silo-vmm while one runs */

static void on_sigterm(int sig)
{
    (void)sig;
    cancelled = 1;
    if (child_pid > 0)
        kill(child_pid, SIGTERM);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void remove_work_dir(void)
{
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

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* [a-z0-9]+([._-][a-z0-9]+)* components joined by '/' (at most 255 characters). */
static bool valid_repository(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    bool want_alnum = true;              /* at a component start or after a separator */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_lower_alnum(c)) {
            want_alnum = false;
        } else if ((c == '.' || c == '_' || c == '-' || c == '/') && !want_alnum) {
            want_alnum = true;
            if (c == '_' && i + 1 < len && s[i + 1] == '_')   /* "__" is one separator */
                i++;
        } else {
            return false;
        }
    }
    return !want_alnum;
}

static bool valid_tag(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (const char *c = s; *c; c++)
        if (!is_lower_alnum(*c) && !(*c >= 'A' && *c <= 'Z') && *c != '_' && *c != '.' && *c != '-')
            return false;
    return true;
}

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

static void resolve_uri(const char *uri, char *source, size_t cap)
{
    if (uri[0] == '/') {
        const char *paths = getenv("SILO_IMAGE_PATHS");
        if (!paths || !*paths)
            fail("image build failed: containerUri '%.200s' is a local path, but silod accepts none "
                 "(configure image_paths, or put the image in the local image store)", uri);
        struct stat st;
        if (stat(uri, &st) != 0)
            fail("image build failed: containerUri '%.200s': %s", uri, strerror(errno));
        char list[4096];
        snprintf(list, sizeof list, "%s", paths);
        for (char *save = NULL, *root = strtok_r(list, ":", &save); root; root = strtok_r(NULL, ":", &save))
            if (root[0] == '/' && inside(uri, root)) {
                if (!S_ISREG(st.st_mode) && !(S_ISDIR(st.st_mode) && is_oci_dir(uri)))
                    fail("image build failed: containerUri '%.200s' is neither an OCI layout directory nor "
                         "an image tarball", uri);
                snprintf(source, cap, "%s", uri);
                return;
            }
        fail("image build failed: containerUri '%.200s' is outside the directories silod reads images "
             "from (image_paths)", uri);
    }
    if (strchr(uri, '@'))
        fail("image build failed: containerUri '%.200s': digest references are not supported by the "
             "local image store; use NAME[:TAG]", uri);
    char name[512], tag[160] = "latest";
    const char *colon = strrchr(uri, ':');
    if (colon && strchr(colon, '/'))                 /* a ':' before the last '/' is no tag */
        colon = NULL;
    size_t nlen = colon ? (size_t)(colon - uri) : strlen(uri);
    if (!valid_repository(uri, nlen) || (colon && !valid_tag(colon + 1)) ||
        (colon && strlen(colon + 1) >= sizeof tag))
        fail("image build failed: containerUri '%.200s' is neither an absolute path nor a NAME[:TAG] "
             "of the local image store (silod pulls nothing from registries)", uri);
    memcpy(name, uri, nlen);
    name[nlen] = '\0';
    if (colon)
        snprintf(tag, sizeof tag, "%s", colon + 1);
    const char *store = getenv("SILO_IMAGE_STORE");
    if (!store || !*store)
        fail("image build failed: no local image store configured (image_store) to find '%s:%s' in", name, tag);
    const char *suffixes[] = { "", ".tar", ".tar.gz", ".tgz" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(source, cap, "%s/%s/%s%s", store, name, tag, suffixes[i]);
        struct stat st;
        if (stat(source, &st) != 0 || (i == 0 ? !(S_ISDIR(st.st_mode) && is_oci_dir(source)) : !S_ISREG(st.st_mode)))
            continue;
        if (!inside(source, store))
            fail("image build failed: '%s:%s' in the local image store leads outside it", name, tag);
        return;
    }
    fail("image build failed: no such image '%s:%s' in the local image store (silod pulls nothing from "
         "registries; put an OCI layout or image tarball at %.100s/%s/%s[.tar])", name, tag, store, name, tag);
}

/* --- the version's configuration ------------------------------------------------------------ */

struct version_settings {
    char protocol[16];         /* HTTP, MCP, A2A, AGUI */
    char env_file[PATH_MAX];   /* "" when there is nothing to set */
    size_t env_count;
};

static void read_version_config(const char *file, struct version_settings *vs)
{
    snprintf(vs->protocol, sizeof vs->protocol, "HTTP");
    if (!file)
        return;
    json_object *cfg = json_object_from_file(file), *pc, *sp, *env;
    if (!cfg || !json_object_is_type(cfg, json_type_object))
        fail("image build failed: the version configuration %s is not a JSON object", file);
    if (json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
        json_object_object_get_ex(pc, "serverProtocol", &sp) && json_object_is_type(sp, json_type_string))
        snprintf(vs->protocol, sizeof vs->protocol, "%s", json_object_get_string(sp));
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

/* Runs argv with stdin from /dev/null, stdout to ours, stderr to `err_fd` (or ours). */
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

/* One agentd control request; 0 with the decoded answer, else -1. */
static int control(const char *sock, enum cp_verb verb, struct cp_response *resp, int timeout_ms)
{
    char req[32], line[CP_MAX_LINE + 1];
    int len = cp_encode_request(verb, req, sizeof req);
    int fd = vsock_connect(sock, CP_PORT, timeout_ms);
    if (fd < 0)
        return -1;
    int rc = len > 0 && write(fd, req, (size_t)len) == len &&
             vsock_read_line(fd, line, sizeof line, mono_ms() + timeout_ms) == 0 &&
             cp_decode_response(line, strlen(line), resp) == 0 && resp->ok ? 0 : -1;
    close(fd);
    return rc;
}

/* GET `path` on guest `port`: the HTTP status, 0 for a connection without an answer, -1 when
 * the port cannot be reached. */
static int http_status(const char *sock, unsigned port, const char *path, int timeout_ms)
{
    int fd = vsock_connect(sock, port, timeout_ms);
    if (fd < 0)
        return -1;
    char req[256], line[256];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: agent\r\nAccept: %s\r\nConnection: close\r\n\r\n",
                       path, port == 8000 ? "application/json, text/event-stream" : "*/*");
    int status = 0;
    if (write(fd, req, (size_t)len) != len || vsock_read_line(fd, line, sizeof line, mono_ms() + timeout_ms) != 0 ||
        sscanf(line, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    close(fd);
    return status;
}

static const char *agent_end(const struct cp_response *r, char *buf, size_t cap)
{
    if (r->u.agent.state == CP_AGENT_EXITED)
        snprintf(buf, cap, "the agent exited with status %d", r->u.agent.code);
    else if (r->u.agent.state == CP_AGENT_KILLED)
        snprintf(buf, cap, "the agent was killed by signal %d (%s)", r->u.agent.signal, strsignal(r->u.agent.signal));
    else if (r->u.agent.state == CP_AGENT_FAILED)
        snprintf(buf, cap, "the agent could not be started: %s", strerror(r->u.agent.code));
    else
        return NULL;
    return buf;
}

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

static void stop_vmm(pid_t pid)
{
    kill(pid, SIGTERM);
    int64_t deadline = mono_ms() + 15000;
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(10000);
    }
}

static void boot_check(const char *image, const char *protocol, double *seconds)
{
    char vmm[PATH_MAX], sock[PATH_MAX + 16], errfile[PATH_MAX + 16], disk[PATH_MAX + 8], mem[24], cpus[16];
    sibling("SILO_VMM", "silo-vmm", vmm, sizeof vmm);
    const char *kernel = getenv("SILO_VMM_KERNEL");
    if (!kernel || !*kernel)
        fail("image boot check failed: SILO_VMM_KERNEL (silod's vmm.kernel) is not set");
    const char *initrd = getenv("SILO_VMM_INITRD");
    long timeout_ms = env_long("SILO_BOOT_TIMEOUT_MS", 60000, 1000, 3600000);
    snprintf(mem, sizeof mem, "%ldM", env_long("SILO_VMM_GUEST_MIB", 256, 32, 1 << 20));
    snprintf(cpus, sizeof cpus, "%ld", env_long("SILO_VMM_CPUS", 1, 1, 64));
    snprintf(sock, sizeof sock, "%s/vmm.sock", work_dir);
    snprintf(errfile, sizeof errfile, "%s/vmm.err", work_dir);
    snprintf(disk, sizeof disk, "%s,cow", image);
    /* the argv frontend/vmm_launcher.c uses for a session */
    const char *argv[24];
    int a = 0;
    argv[a++] = vmm;
    argv[a++] = "--kernel"; argv[a++] = kernel;
    if (initrd && *initrd) {
        argv[a++] = "--initrd"; argv[a++] = initrd;
    }
    argv[a++] = "--cmdline"; argv[a++] = env_or("SILO_VMM_CMDLINE", VMM_AGENT_CMDLINE);
    argv[a++] = "--mem"; argv[a++] = mem;
    argv[a++] = "--cpus"; argv[a++] = cpus;
    argv[a++] = "--disk"; argv[a++] = disk;
    argv[a++] = "--vsock-cid"; argv[a++] = "3";
    argv[a++] = "--vsock-uds"; argv[a++] = sock;
    argv[a] = NULL;
    int err_fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fflush(stdout);
    int64_t t0 = mono_ms(), deadline = t0 + timeout_ms;
    pid_t pid = start_child(argv, err_fd, true);
    if (err_fd >= 0)
        close(err_fd);
    if (pid < 0)
        fail("image boot check failed: fork: %s", strerror(errno));
    child_pid = pid;

    bool mcp = strcmp(protocol, "MCP") == 0, a2a = strcmp(protocol, "A2A") == 0;
    char state[256] = "agentd never answered on vsock port 1024: the guest did not finish booting";
    char reason[300] = "";
    int wait_fd = -1;          /* an open WAIT: agentd answers it when the agent ends */
    bool ready = false;
    while (!ready && !reason[0] && !cancelled && mono_ms() < deadline) {
        if (wait_fd >= 0) {
            struct pollfd p = { wait_fd, POLLIN, 0 };
            if (poll(&p, 1, 0) > 0) {
                char line[CP_MAX_LINE + 1];
                struct cp_response r;
                if (vsock_read_line(wait_fd, line, sizeof line, mono_ms() + 2000) == 0 &&
                    cp_decode_response(line, strlen(line), &r) == 0 && r.ok &&
                    agent_end(&r, reason, sizeof reason))
                    break;
                close(wait_fd);         /* agentd went away without an answer: ask again */
                wait_fd = -1;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            child_pid = pid = 0;
            char last[256];
            last_line_of(errfile, last, sizeof last);
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (code == 0)
                snprintf(reason, sizeof reason, "the guest powered off before the agent was ready (%s)", state);
            else
                snprintf(reason, sizeof reason, "silo-vmm exited with status %d%s%.200s", code, last[0] ? ": " : "", last);
            break;
        }
        if (wait_fd < 0) {
            wait_fd = vsock_connect(sock, CP_PORT, 2000);
            char req[16];
            int len = cp_encode_request(CP_WAIT, req, sizeof req);
            if (wait_fd >= 0 && write(wait_fd, req, (size_t)len) != len) {
                close(wait_fd);
                wait_fd = -1;
            }
            if (wait_fd >= 0)
                snprintf(state, sizeof state, "agentd is up, the agent is not ready");
        }
        if (wait_fd >= 0) {
            int left = (int)(deadline - mono_ms());
            int probe_ms = left < 3000 ? (left > 0 ? left : 1) : 3000;
            if (a2a) {
                struct cp_response r;
                ready = control(sock, CP_READY, &r, probe_ms) == 0 && (r.u.ready.ports & CP_PORT_A2A);
                if (!ready)
                    snprintf(state, sizeof state, "the agent does not accept connections on port 9000");
            } else {
                int s = http_status(sock, mcp ? 8000 : 8080, mcp ? "/mcp" : "/ping", probe_ms);
                ready = mcp ? s >= 100 : s == 200;
                if (!ready && s > 0)
                    snprintf(state, sizeof state, "the agent answers GET %s with %d", mcp ? "/mcp" : "/ping", s);
                else if (!ready)
                    snprintf(state, sizeof state, "the agent does not answer GET %s on port %d",
                             mcp ? "/mcp" : "/ping", mcp ? 8000 : 8080);
            }
        }
        if (!ready)
            usleep(100000);
    }
    if (wait_fd >= 0)
        close(wait_fd);
    *seconds = (double)(mono_ms() - t0) / 1000.0;
    if (pid > 0)
        stop_vmm(pid);
    child_pid = 0;
    unlink(sock);
    if (cancelled)
        fail("image build cancelled");
    if (reason[0])
        fail("image did not become ready: %s", reason);
    if (!ready)
        fail("image did not become ready within %ld s: %s", timeout_ms / 1000, state);
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
    struct version_settings vs = { .env_count = 0 };
    read_version_config(argc == 6 ? argv[5] : NULL, &vs);
    char source[PATH_MAX + 64];
    resolve_uri(uri, source, sizeof source);
    printf("silod-build-image: %s v%s: %s -> %s (%zu environment variables, protocol %s)\n", runtime_id, version,
           source, out, vs.env_count, vs.protocol);
    int64_t t0 = mono_ms();
    output_image = out;
    build(source, &vs, out);
    /* the image holds the version's environment (sensitive in AgentCore's API): owner only */
    if (chmod(out, 0600) != 0)
        fail("image build failed: chmod %s: %s", out, strerror(errno));
    double build_s = (double)(mono_ms() - t0) / 1000.0, boot_s = 0;
    boot_check(out, vs.protocol, &boot_s);
    remove_work_dir();
    printf("silod-build-image: %s v%s ready: build %.1f s, boot check %.1f s (%s)\n", runtime_id, version, build_s,
           boot_s, vs.protocol);
    return 0;
}
