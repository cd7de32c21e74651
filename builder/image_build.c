/* builder/image_build.c — `silo image build`: turns an agent image into the ext4 root
 * filesystem its microVMs boot from, without root privileges (mkfs.ext4 -d).
 *
 *   silo image build [OPTIONS] SOURCE... [-o OUT.ext4]
 *     SOURCE            applied in order on top of each other:
 *                         a directory              copied as the root tree
 *                         an OCI image layout dir  (oci-layout + index.json) its arm64 image
 *                         a .tar / .tar.gz file    an OCI layout or `docker save` tarball; any
 *                                                  other tarball is applied as one layer
 *     --packages P,Q    Debian arm64 packages (with their Depends closure) unpacked first
 *                       (apt-get download + dpkg-deb -x; how our own test images are made)
 *     --no-deps         take --packages as they are, without their dependencies
 *     --config FILE     the image config (OCI config JSON) when no source carries one, or to
 *                       replace it; must be arm64 and name a command
 *     --cache DIR       where built images are kept by content address ($SILO_CACHE/images)
 *     -o OUT            also make OUT (a hard link or copy of the cached image)
 *     --init F --agentd F   the arm64 silo-init and agentd to install (default: next to this
 *                       program, ../../arm64/bin/silo-{init,agentd})
 *     --free-mib N      free space in the filesystem for the agent's writes (default 64)
 *     --env NAME=VALUE  set NAME in the image config's Env (replacing an entry of the same
 *                       name, else appended); repeatable, applied in order after --config
 *     --env-json FILE   the same for every member of FILE, a JSON object of strings
 *                       ({"NAME": "value", ...}); silod's builder (silod-build-image) passes
 *                       a version's environmentVariables this way, so they are baked into the
 *                       version's immutable image and reach the agent through agentd
 *     --no-python-bytecode   do not precompile the image's Python bytecode (below)
 *   silo image python-bytecode ROOT_DIR [GUEST_DIR...]
 *                       only the bytecode step, on a root tree (how the Python sample agent's
 *                       OCI archive is made); GUEST_DIRs are the agent's own directories
 * The cache key hashes the builder version, every input (file contents, directory trees,
 * resolved package versions, the config, init, agentd) and the options: the same input is
 * built once, and the second call only links the cached file.
 * Environment overrides are not part of the built tree: the image is first built (or found)
 * under the key of everything else (the "base"), and an image with overrides is a copy of the
 * base (reflink where the filesystem can, else a sparse copy) whose /silo/config.json alone is rewritten in place
 * with debugfs, then read back and compared. So a new version that changes only the
 * environment (UpdateAgentRuntime with the same containerUri) costs a copy, not a build.
 * Without debugfs the overrides are applied before the one full build, as before.
 * Python: every CPython 3.N found in the image gets its standard library, dist/site-packages
 * and the agent's directories (WorkingDir, the directory of a .py in the command) compiled to
 * bytecode (builder/python_bytecode.c: only by a python3.N of this host with the same magic
 * number; without one the build log says so and nothing is compiled).
 * Prints one line at the end:
 *   silo-image: OUT (built|reconfigured|cached) key=K size_mib=N allocated_mib=N seconds=S
 * ("reconfigured": the base was in the cache and only the environment was written).
 * Every image gets /silo/init, /silo/agentd and /silo/config.json (what agentd starts), mount
 * points (/proc /sys /dev /tmp /run), and /etc/hosts and /etc/passwd when it has none.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/small_file.h"
#include "guest/agentd/agent_config.h"
#include "builder/digest.h"
#include "builder/layers.h"
#include "builder/oci.h"
#include "builder/python_bytecode.h"
#include "builder/run_program.h"

#define BUILDER_VERSION "silo-image 2"
#define MAX_SOURCES 32
#define MAX_PACKAGES 512

static char err[2048];

#define DIE(...) (fprintf(stderr, "silo-image: " __VA_ARGS__), fputc('\n', stderr), cleanup(), exit(1))

static char stage_dir[PATH_MAX];       /* removed on exit */

static void cleanup(void)
{
    if (stage_dir[0] != '\0') {
        char *argv[] = { (char *)"rm", (char *)"-rf", stage_dir, NULL };
        pid_t pid = fork();
        if (pid == 0) {
            execvp("rm", argv);
            _exit(127);
        }
        if (pid > 0)
            waitpid(pid, NULL, 0);
        stage_dir[0] = '\0';
    }
}

/* snprintf that refuses to truncate: every path and name built here must fit whole. */
__attribute__((format(printf, 3, 4)))
static void pathf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        DIE("a path or name is too long (starts with \"%.60s\")", buf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv (in cwd, if given); with `out`, stdout is captured (up to cap-1 bytes, NUL-ended).
 * Returns the exit status, or -1 if it could not run. */
static int run(char *const argv[], const char *cwd, char *out, size_t cap)
{
    struct run_io io = { .cwd = cwd };
    return run_program(argv, &io, out, cap);
}

static void mkdirs(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    pathf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, mode);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        DIE("%s: %s", from, strerror(errno));
    unlink(to);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0)
        DIE("%s: %s", to, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            DIE("%s: %s", to, strerror(errno));
    close(in);
    if (close(out) < 0 || n < 0)
        DIE("copy %s -> %s failed", from, to);
    chmod(to, mode);
}

/* --- Debian packages ---------------------------------------------------------------------- */

struct package { char name[128]; char version[128]; char file[PATH_MAX]; };

static bool valid_package_name(const char *s)
{
    if (s[0] == '\0' || strlen(s) >= 128)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* Finds pkg's .deb (arm64 or all) in debs_dir, as apt-get download names it. */
static bool find_deb(struct package *pkg, const char *debs_dir)
{
    char ver[256];
    size_t o = 0;
    for (const char *p = pkg->version; *p && o + 4 < sizeof ver; p++) {
        if (*p == ':') {
            memcpy(ver + o, "%3a", 3);
            o += 3;
        } else {
            ver[o++] = *p;
        }
    }
    ver[o] = '\0';
    const char *archs[] = { "arm64", "all" };
    for (int k = 0; k < 2; k++) {
        pathf(pkg->file, sizeof pkg->file, "%s/%s_%s_%s.deb", debs_dir, pkg->name, ver, archs[k]);
        if (access(pkg->file, R_OK) == 0)
            return true;
    }
    pkg->file[0] = '\0';
    return false;
}

/* Resolves names (and, unless no_deps, their Depends/Pre-Depends closure) to arm64 candidate
 * versions and .deb files in debs_dir, downloading what is missing. */
static size_t resolve_packages(char *list, bool no_deps, const char *debs_dir, struct package *pkgs)
{
    static char out[1 << 20];
    char *names[MAX_PACKAGES];
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (!valid_package_name(p))
            DIE("--packages: \"%s\" is not a Debian package name", p);
        if (n == MAX_PACKAGES)
            DIE("--packages: too many packages");
        names[n++] = p;
    }
    if (n == 0)
        DIE("--packages: empty list");
    /* the closure, as tools/deps.sh computes it */
    char *argv[MAX_PACKAGES + 16];
    size_t a = 0;
    static char args[MAX_PACKAGES][160];
    if (!no_deps) {
        const char *fixed[] = { "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                                "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances" };
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            argv[a++] = (char *)fixed[i];
        for (size_t i = 0; i < n; i++) {
            pathf(args[i], sizeof args[i], "%s:arm64", names[i]);
            argv[a++] = args[i];
        }
        argv[a] = NULL;
        if (run(argv, NULL, out, sizeof out) != 0)
            DIE("apt-cache depends failed for %s (is arm64 enabled? run: make deps)", names[0]);
        n = 0;
        for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            size_t len = strlen(line);
            if (line[0] == ' ' || len < 7 || strcmp(line + len - 6, ":arm64") != 0)
                continue;
            line[len - 6] = '\0';
            bool dup = false;
            for (size_t i = 0; i < n && !dup; i++)
                dup = strcmp(names[i], line) == 0;
            if (!dup && valid_package_name(line) && n < MAX_PACKAGES)
                names[n++] = line;
        }
    }
    /* candidate versions, one apt-cache policy call for all */
    a = 0;
    argv[a++] = (char *)"apt-cache";
    argv[a++] = (char *)"policy";
    for (size_t i = 0; i < n; i++) {
        pathf(pkgs[i].name, sizeof pkgs[i].name, "%s", names[i]);
        pathf(args[i], sizeof args[i], "%s:arm64", names[i]);
        argv[a++] = args[i];
    }
    argv[a] = NULL;
    static char policy[1 << 20];
    if (run(argv, NULL, policy, sizeof policy) != 0)
        DIE("apt-cache policy failed");
    size_t cur = SIZE_MAX;
    for (char *save = NULL, *line = strtok_r(policy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != ' ') {
            cur = SIZE_MAX;
            for (size_t i = 0; i < n; i++) {
                size_t l = strlen(pkgs[i].name);
                if (strncmp(line, pkgs[i].name, l) == 0 && strncmp(line + l, ":arm64:", 7) == 0)
                    cur = i;
            }
        } else if (cur != SIZE_MAX && strstr(line, "Candidate:") != NULL) {
            sscanf(strstr(line, "Candidate:") + 10, " %127s", pkgs[cur].version);
        }
    }
    static char want[MAX_PACKAGES][160];
    size_t nwant = 0;
    for (size_t i = 0; i < n; i++) {
        if (pkgs[i].version[0] == '\0' || strcmp(pkgs[i].version, "(none)") == 0)
            DIE("no arm64 candidate for Debian package %s (run: make deps, or check the name)", pkgs[i].name);
        if (!find_deb(&pkgs[i], debs_dir))
            pathf(want[nwant++], sizeof want[0], "%s:arm64=%s", pkgs[i].name, pkgs[i].version);
    }
    if (nwant > 0) {
        a = 0;
        argv[a++] = (char *)"apt-get";
        argv[a++] = (char *)"download";
        argv[a++] = (char *)"-q";
        for (size_t i = 0; i < nwant; i++)
            argv[a++] = want[i];
        argv[a] = NULL;
        fprintf(stderr, "silo-image: downloading %zu Debian arm64 packages into %s\n", nwant, debs_dir);
        if (run(argv, debs_dir, NULL, 0) != 0)
            DIE("apt-get download failed");
        for (size_t i = 0; i < n; i++)
            if (!find_deb(&pkgs[i], debs_dir))
                DIE("apt-get download did not produce %s %s", pkgs[i].name, pkgs[i].version);
    }
    return n;
}

/* --- sources ------------------------------------------------------------------------------ */

enum source_kind { SRC_DIR, SRC_OCI_DIR, SRC_ARCHIVE };

struct source {
    const char *path;
    enum source_kind kind;
};

static bool is_archive_image(const char *path, const char *tmp)
{
    mkdirs(tmp, 0700);
    if (archive_extract_plain(path, tmp, err, sizeof err) < 0)
        DIE("%s", err);
    return oci_detect(tmp);
}

/* Applies an image (OCI layout or docker save, unpacked in dir) onto root; returns its config. */
static char *apply_image(const char *dir, const char *root, const char *what)
{
    struct oci_image img;
    if (oci_load(dir, &img, err, sizeof err) < 0)
        DIE("%s: %s", what, err);
    for (size_t i = 0; i < img.layer_count; i++) {
        struct layer_stats st = { 0 };
        if (layer_apply(root, img.layers[i], &st, err, sizeof err) < 0)
            DIE("%s: layer %zu: %s", what, i + 1, err);
        fprintf(stderr, "silo-image: %s layer %zu/%zu: %lu entries, %lu whiteouts, %lu opaque dirs\n", what, i + 1,
                img.layer_count, st.entries, st.whiteouts, st.opaque);
    }
    char *config = strdup(img.config_json);
    oci_free(&img);
    return config;
}

/* --- the entrypoint must be an arm64 program ------------------------------------------------ */

/* Resolves `path` (absolute, inside the image) to a host path under root, following symlinks
 * as the guest would, never leaving root. false when it does not resolve to a regular file. */
static bool resolve_in_root(const char *root, const char *path, char *out, size_t cap)
{
    char cur[PATH_MAX];
    pathf(cur, sizeof cur, "%s", path);
    for (int hops = 0; hops < 40; hops++) {
        char clean[PATH_MAX], walked[PATH_MAX] = "";
        if (layer_clean_path(cur, clean, sizeof clean) < 0)
            return false;
        bool relinked = false;
        for (char *save = NULL, *c = strtok_r(clean, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
            char host[PATH_MAX + 512], target[PATH_MAX];
            size_t wl = strlen(walked);
            pathf(walked + wl, sizeof walked - wl, "/%s", c);
            pathf(host, sizeof host, "%s%s", root, walked);
            ssize_t n = readlink(host, target, sizeof target - 1);
            if (n < 0)
                continue;
            target[n] = '\0';
            char rest[PATH_MAX];
            pathf(rest, sizeof rest, "%s", save ? save : "");
            if (target[0] == '/') {
                pathf(cur, sizeof cur, "%s/%s", target, rest);
            } else {
                char *slash = strrchr(walked, '/');
                *slash = '\0';
                pathf(cur, sizeof cur, "%s/%s/%s", walked, target, rest);
            }
            relinked = true;
            break;
        }
        if (!relinked) {
            struct stat st;
            pathf(out, cap, "%s%s", root, walked);
            return stat(out, &st) == 0 && S_ISREG(st.st_mode);
        }
    }
    return false;
}

/* Refuses a command whose program is an ELF file for another machine (or a script whose
 * interpreter is). Programs it cannot find are left to fail at start, with a warning. */
static void check_command(const char *root, const struct agent_config *cfg)
{
    char prog[PATH_MAX], host[PATH_MAX + 512];
    pathf(prog, sizeof prog, "%s", cfg->argv[0]);
    for (int depth = 0; depth < 2; depth++) {
        bool found = false;
        if (prog[0] == '/') {
            found = resolve_in_root(root, prog, host, sizeof host);
        } else {
            const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
            for (size_t i = 0; cfg->envp[i]; i++)
                if (strncmp(cfg->envp[i], "PATH=", 5) == 0)
                    path = cfg->envp[i] + 5;
            char dirs[4096];
            pathf(dirs, sizeof dirs, "%s", path);
            for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
                char cand[PATH_MAX + 256];
                pathf(cand, sizeof cand, "%s/%s", d, prog);
                found = resolve_in_root(root, cand, host, sizeof host);
            }
        }
        if (!found) {
            fprintf(stderr, "silo-image: warning: the command %s is not a file in the image\n", prog);
            return;
        }
        unsigned char head[256];
        int fd = open(host, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, head, sizeof head - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n >= 20 && memcmp(head, "\177ELF", 4) == 0) {
            unsigned machine = head[5] == 1 ? (unsigned)(head[18] | head[19] << 8) : (unsigned)(head[18] << 8 | head[19]);
            if (machine != 183)        /* EM_AARCH64 */
                DIE("the command %s is an ELF program for machine %u, not arm64 (183); Silo runs only arm64 "
                    "images (AgentCore requires ARM64 too)", prog, machine);
            return;
        }
        if (n >= 3 && head[0] == '#' && head[1] == '!') {
            head[n] = '\0';
            char *p = (char *)head + 2;
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, " \t\n");
            p[l] = '\0';
            pathf(prog, sizeof prog, "%s", p);
            continue;
        }
        return;
    }
}

/* --- the filesystem ------------------------------------------------------------------------ */

struct usage { unsigned long long bytes, inodes; };

static void measure(const char *dir, struct usage *u)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        struct stat st;
        pathf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) < 0)
            continue;
        u->inodes++;
        u->bytes += ((unsigned long long)st.st_size + 4095) / 4096 * 4096;
        if (S_ISDIR(st.st_mode))
            measure(p, u);
    }
    closedir(d);
}

static void write_if_missing(const char *root, const char *rel, const char *text)
{
    char p[PATH_MAX];
    struct stat st;
    pathf(p, sizeof p, "%s%s", root, rel);
    if (lstat(p, &st) == 0)
        return;
    FILE *f = fopen(p, "we");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        DIE("%s: %s", p, strerror(errno));
}

static void install_silo_files(const char *root, const char *init, const char *agentd, const char *config)
{
    char p[PATH_MAX];
    const char *dirs[] = { "/proc", "/sys", "/dev", "/tmp", "/run", "/etc", "/root", "/silo" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        pathf(p, sizeof p, "%s%s", root, dirs[i]);
        struct stat st;
        if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode))
            DIE("the image has %s, but it is not a directory", dirs[i]);
        mkdir(p, strcmp(dirs[i], "/tmp") == 0 ? 01777 : 0755);
    }
    pathf(p, sizeof p, "%s/silo/init", root);
    copy_file(init, p, 0755);
    pathf(p, sizeof p, "%s/silo/agentd", root);
    copy_file(agentd, p, 0755);
    pathf(p, sizeof p, "%s/silo/config.json", root);
    FILE *f = fopen(p, "we");
    if (f == NULL || fputs(config, f) < 0 || fclose(f) != 0)
        DIE("%s: %s", p, strerror(errno));
    write_if_missing(root, "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
    write_if_missing(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    write_if_missing(root, "/etc/group", "root:x:0:\n");
}

static void make_ext4(const char *root, const char *out, unsigned long free_mib, const char *key)
{
    struct usage u = { 0, 0 };
    measure(root, &u);
    unsigned long long inodes = u.inodes + u.inodes / 4 + 1024;
    unsigned long long mib = (u.bytes + u.bytes / 8 + inodes * 256) / (1 << 20) + free_mib + 8;
    char size[32], ninodes[32], uuid[40], ext[128];
    pathf(size, sizeof size, "%lluM", mib);
    pathf(ninodes, sizeof ninodes, "%llu", inodes);
    pathf(uuid, sizeof uuid, "%.8s-%.4s-%.4s-%.4s-%.12s", key, key + 8, key + 12, key + 16, key + 20);
    pathf(ext, sizeof ext, "root_owner=0:0,hash_seed=%s", uuid);
    char *argv[] = { (char *)"mkfs.ext4", (char *)"-q", (char *)"-F", (char *)"-O", (char *)"^has_journal",
                     (char *)"-m", (char *)"0", (char *)"-b", (char *)"4096", (char *)"-N", ninodes,
                     (char *)"-L", (char *)"silo-root", (char *)"-U", uuid, (char *)"-E", ext,
                     (char *)"-d", (char *)root, (char *)out, size, NULL };
    unlink(out);
    static char output[16384];
    if (run(argv, NULL, output, sizeof output) != 0)
        DIE("mkfs.ext4 -d %s failed (is e2fsprogs >= 1.43 installed? run: make deps): %s", root, output);
}

/* --- environment overrides ---------------------------------------------------------------- */

static char *env_overrides[AGENT_CONFIG_MAX_ENV];   /* "NAME=value", in the order given */
static size_t env_override_count;

static void add_env(const char *name, size_t name_len, const char *value, size_t value_len)
{
    bool ok = name_len > 0 && !(name[0] >= '0' && name[0] <= '9');
    for (size_t k = 0; k < name_len && ok; k++)
        ok = (name[k] >= 'A' && name[k] <= 'Z') || (name[k] >= 'a' && name[k] <= 'z') ||
             (name[k] >= '0' && name[k] <= '9') || name[k] == '_';
    if (!ok)
        DIE("environment variable name \"%.*s\" is not [A-Za-z_][A-Za-z0-9_]*", (int)(name_len > 60 ? 60 : name_len), name);
    if (memchr(value, '\0', value_len) != NULL)
        DIE("environment variable %.*s contains a NUL byte", (int)name_len, name);
    if (env_override_count == AGENT_CONFIG_MAX_ENV)
        DIE("more than %u environment variables", AGENT_CONFIG_MAX_ENV);
    char *kv = malloc(name_len + 1 + value_len + 1);
    if (kv == NULL)
        DIE("out of memory");
    memcpy(kv, name, name_len);
    kv[name_len] = '=';
    memcpy(kv + name_len + 1, value, value_len);
    kv[name_len + 1 + value_len] = '\0';
    env_overrides[env_override_count++] = kv;
}

static void add_env_json(const char *file)
{
    json_object *doc = json_object_from_file(file);
    if (doc == NULL || !json_object_is_type(doc, json_type_object))
        DIE("--env-json %s: not a readable JSON object (%s)", file, json_util_get_last_err());
    json_object_object_foreach(doc, k, v) {
        if (!json_object_is_type(v, json_type_string))
            DIE("--env-json %s: the value of %.60s is not a string", file, k);
        add_env(k, strlen(k), json_object_get_string(v), (size_t)json_object_get_string_len(v));
    }
    json_object_put(doc);
}

/* Returns config (freed) with the overrides set in config.Env. */
static char *apply_env_overrides(char *config)
{
    if (env_override_count == 0)
        return config;
    json_object *doc = json_tokener_parse(config), *inner = NULL, *env = NULL;
    if (doc == NULL || !json_object_is_type(doc, json_type_object))
        DIE("the image config is not a JSON object");
    if (!json_object_object_get_ex(doc, "config", &inner) || !json_object_is_type(inner, json_type_object)) {
        inner = json_object_new_object();
        json_object_object_add(doc, "config", inner);
    }
    if (!json_object_object_get_ex(inner, "Env", &env) || !json_object_is_type(env, json_type_array)) {
        env = json_object_new_array();
        json_object_object_add(inner, "Env", env);
    }
    for (size_t k = 0; k < env_override_count; k++) {
        const char *kv = env_overrides[k];
        size_t name_len = (size_t)(strchr(kv, '=') - kv) + 1;      /* with the '=' */
        bool replaced = false;
        for (size_t e = 0; e < json_object_array_length(env) && !replaced; e++) {
            json_object *item = json_object_array_get_idx(env, e);
            if (json_object_is_type(item, json_type_string) && strncmp(json_object_get_string(item), kv, name_len) == 0) {
                json_object_array_put_idx(env, e, json_object_new_string(kv));
                replaced = true;
            }
        }
        if (!replaced)
            json_object_array_add(env, json_object_new_string(kv));
    }
    char *out = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
    free(config);
    if (out == NULL)
        DIE("out of memory");
    return out;
}

/* config with the version's environment applied (with_env), checked to be an arm64 image whose
 * command agentd can run and parsed into *cfg (the caller frees it); dies otherwise. Both the
 * full build and an environment-only reconfiguration check the config they write this way. */
static char *checked_config(char *config, bool with_env, struct agent_config *cfg)
{
    if (with_env)
        config = apply_env_overrides(config);
    if (oci_check_platform(config, strlen(config), err, sizeof err) < 0)
        DIE("%s", err);
    if (agent_config_parse(config, strlen(config), cfg, err, sizeof err) < 0)
        DIE("%s", err);
    return config;
}

/* --- the full build ------------------------------------------------------------------------ */

struct build_inputs {
    const struct source *sources;
    size_t nsrc;
    const struct package *pkgs;
    size_t npkgs;
    const char *config_file, *init, *agentd;
    unsigned long free_mib;
    bool python_bytecode;
};

/* The agent's own directories for the bytecode step: WorkingDir and the directory of every
 * .py file in the command (relative ones taken from WorkingDir). Returns how many (at most cap). */
static size_t agent_dirs(const struct agent_config *cfg, char dirs[][PATH_MAX], size_t cap)
{
    size_t n = 0;
    if (strcmp(cfg->workdir, "/") != 0 && n < cap)
        pathf(dirs[n++], PATH_MAX, "%s", cfg->workdir);
    for (size_t k = 1; cfg->argv[k] && n < cap; k++) {
        size_t l = strlen(cfg->argv[k]);
        if (l < 4 || strcmp(cfg->argv[k] + l - 3, ".py") != 0 || strstr(cfg->argv[k], "..") != NULL)
            continue;
        char full[PATH_MAX];
        if (cfg->argv[k][0] == '/')
            pathf(full, sizeof full, "%s", cfg->argv[k]);
        else
            pathf(full, sizeof full, "%s/%s", strcmp(cfg->workdir, "/") == 0 ? "" : cfg->workdir, cfg->argv[k]);
        *strrchr(full, '/') = '\0';
        if (full[0] == '\0')
            continue;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(dirs[i], full) == 0;
        if (!dup)
            pathf(dirs[n++], PATH_MAX, "%s", full);
    }
    return n;
}

/* Builds the image of `in` (with the environment overrides when with_env) into `cached`. */
static void build_image(const struct build_inputs *in, bool with_env, const char *cache, const char *key,
                        const char *cached)
{
    pathf(stage_dir, sizeof stage_dir, "%s/.stage-%d", cache, (int)getpid());
    char root[PATH_MAX], tmp[PATH_MAX];
    pathf(root, sizeof root, "%s/root", stage_dir);
    mkdirs(root, 0755);
    for (size_t k = 0; k < in->npkgs; k++) {
        char *x[] = { (char *)"dpkg-deb", (char *)"-x", (char *)in->pkgs[k].file, root, NULL };
        if (run(x, NULL, NULL, 0) != 0)
            DIE("dpkg-deb -x %s failed", in->pkgs[k].file);
    }
    if (in->npkgs > 0)
        fprintf(stderr, "silo-image: unpacked %zu Debian arm64 packages\n", in->npkgs);
    char *config = NULL;
    for (size_t k = 0; k < in->nsrc; k++) {
        const char *p = in->sources[k].path;
        if (in->sources[k].kind == SRC_DIR) {
            char from[PATH_MAX];
            pathf(from, sizeof from, "%s/.", p);
            char *x[] = { (char *)"cp", (char *)"-a", from, root, NULL };
            if (run(x, NULL, NULL, 0) != 0)
                DIE("copying %s failed", p);
        } else if (in->sources[k].kind == SRC_OCI_DIR) {
            free(config);
            config = apply_image(p, root, p);
        } else {
            pathf(tmp, sizeof tmp, "%s/src-%zu", stage_dir, k);
            if (is_archive_image(p, tmp)) {
                free(config);
                config = apply_image(tmp, root, p);
            } else {
                struct layer_stats st = { 0 };
                if (layer_apply(root, p, &st, err, sizeof err) < 0)
                    DIE("%s", err);
            }
        }
    }
    if (in->config_file != NULL) {
        free(config);
        size_t n = 0;
        config = small_file_load(in->config_file, AGENT_CONFIG_MAX_BYTES, &n, err, sizeof err);
        if (config == NULL || n == 0)
            DIE("%s", config == NULL ? err : "the --config file is empty");
    }
    if (config == NULL)
        DIE("no image config: the sources carry none; pass --config FILE (an OCI image config with "
            "\"architecture\": \"arm64\" and config.Entrypoint/Cmd)");
    struct agent_config cfg;
    config = checked_config(config, with_env, &cfg);
    check_command(root, &cfg);
    if (in->python_bytecode) {
        static char dirs[8][PATH_MAX];
        const char *dir_ptrs[8];
        size_t ndirs = agent_dirs(&cfg, dirs, 8);
        for (size_t k = 0; k < ndirs; k++)
            dir_ptrs[k] = dirs[k];
        python_bytecode_compile(root, dir_ptrs, ndirs);
    }
    install_silo_files(root, in->init, in->agentd, config);
    uid_t uid;
    gid_t gid;
    if (agent_user_resolve(cfg.user, root, &uid, &gid, err, sizeof err) < 0)
        DIE("%s", err);
    agent_config_free(&cfg);
    free(config);

    pathf(tmp, sizeof tmp, "%s/image.ext4", stage_dir);
    make_ext4(root, tmp, in->free_mib, key);
    if (rename(tmp, cached) < 0)
        DIE("rename %s -> %s: %s", tmp, cached, strerror(errno));
    cleanup();
}

/* --- the environment of a built image, rewritten in place ----------------------------------- */

/* debugfs (e2fsprogs) on PATH or in /sbin, /usr/sbin: its path, or false. */
static bool find_debugfs(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    pathf(dirs, sizeof dirs, "%s:/sbin:/usr/sbin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (d[0] != '/')
            continue;
        pathf(out, cap, "%s/debugfs", d);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

/* debugfs with stderr silenced (its banner); stdout into out when cap > 0. */
static int run_debugfs(char *const argv[], char *out, size_t cap)
{
    struct run_io io = { .quiet_stderr = true };
    return run_program(argv, &io, out, cap);
}

/* to = a copy of the image from: a reflink where the filesystem shares blocks, else its data
 * extents only (SEEK_DATA/SEEK_HOLE), so the copy stays as sparse as the original. Done here
 * because the dev host's cp (busybox) has neither --reflink nor --sparse. */
static void copy_image(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0)
        DIE("%s: %s", from, strerror(errno));
    unlink(to);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0)
        DIE("%s: %s", to, strerror(errno));
    if (ioctl(out, FICLONE, in) != 0) {
        if (ftruncate(out, st.st_size) < 0)
            DIE("%s: %s", to, strerror(errno));
        static char buf[1 << 20];
        off_t pos = 0;
        while (pos < st.st_size) {
            off_t data = lseek(in, pos, SEEK_DATA);
            if (data < 0 && errno == ENXIO)
                break;                                          /* a hole to the end */
            off_t hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
            if (data < 0 || hole < 0)
                DIE("%s: %s", from, strerror(errno));
            for (pos = data; pos < hole;) {
                size_t want = (size_t)(hole - pos) < sizeof buf ? (size_t)(hole - pos) : sizeof buf;
                ssize_t n = pread(in, buf, want, pos);
                if (n <= 0 || pwrite(out, buf, (size_t)n, pos) != n)
                    DIE("copying %s to %s failed: %s", from, to, n == 0 ? "short read" : strerror(errno));
                pos += n;
            }
        }
    }
    close(in);
    if (close(out) < 0)
        DIE("%s: %s", to, strerror(errno));
}

/* /silo/config.json of an ext4 image, read with debugfs (NUL-ended, static storage). */
static char *image_config(const char *debugfs, const char *image)
{
    static char buf[AGENT_CONFIG_MAX_BYTES + 1];
    char *x[] = { (char *)debugfs, (char *)"-R", (char *)"cat /silo/config.json", (char *)image, NULL };
    if (run_debugfs(x, buf, sizeof buf) != 0)
        DIE("debugfs could not read /silo/config.json of %s", image);
    return buf;
}

/* cached = a copy of base whose /silo/config.json carries the environment overrides. */
static void reconfigure_image(const char *debugfs, const char *base, const char *cache, const char *cached)
{
    pathf(stage_dir, sizeof stage_dir, "%s/.stage-%d", cache, (int)getpid());
    mkdirs(stage_dir, 0700);
    char img[PATH_MAX], cfg_file[PATH_MAX], cmds[PATH_MAX];
    pathf(img, sizeof img, "%s/image.ext4", stage_dir);
    pathf(cfg_file, sizeof cfg_file, "%s/config.json", stage_dir);
    pathf(cmds, sizeof cmds, "%s/debugfs.cmds", stage_dir);
    copy_image(base, img);
    char *config = strdup(image_config(debugfs, base));
    if (config == NULL)
        DIE("out of memory");
    struct agent_config cfg;
    config = checked_config(config, true, &cfg);
    agent_config_free(&cfg);
    if (strchr(cfg_file, '"') != NULL || strchr(cfg_file, '\n') != NULL)
        DIE("the cache directory's path cannot be given to debugfs: %s", cache);
    FILE *f = fopen(cfg_file, "we");
    if (f == NULL || fputs(config, f) < 0 || fclose(f) != 0)
        DIE("%s: %s", cfg_file, strerror(errno));
    chmod(cfg_file, 0644);
    f = fopen(cmds, "we");
    if (f == NULL || fprintf(f, "cd /silo\nrm config.json\nwrite \"%s\" config.json\n"
                                "set_inode_field config.json uid 0\nset_inode_field config.json gid 0\n", cfg_file) < 0 ||
        fclose(f) != 0)
        DIE("%s: %s", cmds, strerror(errno));
    char *w[] = { (char *)debugfs, (char *)"-w", (char *)"-f", cmds, img, NULL };
    static char echo[16384];                                   /* debugfs echoes each command */
    if (run_debugfs(w, echo, sizeof echo) != 0)
        DIE("debugfs could not write /silo/config.json into %s", img);
    if (strcmp(image_config(debugfs, img), config) != 0)        /* debugfs exits 0 on most errors */
        DIE("debugfs did not write /silo/config.json into %s as asked", img);
    free(config);
    if (rename(img, cached) < 0)
        DIE("rename %s -> %s: %s", img, cached, strerror(errno));
    cleanup();
}

/* --- main --------------------------------------------------------------------------------- */

static void usage_exit(void)
{
    fprintf(stderr, "usage: silo image build [--packages P,Q] [--no-deps] [--config FILE] [--cache DIR]\n"
                    "                        [--init F] [--agentd F] [--free-mib N] [--env NAME=VALUE]...\n"
                    "                        [--env-json FILE] [--no-python-bytecode] [SOURCE...] [-o OUT.ext4]\n"
                    "       silo image python-bytecode ROOT_DIR [GUEST_DIR...]\n");
    exit(2);
}

static void default_sibling(const char *self, const char *name, char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    (void)self;
    if (n < 0) {
        out[0] = '\0';
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';                      /* .../BUILD/host/bin */
    pathf(out, cap, "%s/../../arm64/bin/%s", exe, name);
}

int main(int argc, char **argv)
{
    struct source sources[MAX_SOURCES];
    size_t nsrc = 0;
    char *packages = NULL, *config_file = NULL, *out = NULL, *cache = NULL;
    char init[PATH_MAX], agentd[PATH_MAX];
    bool no_deps = false, python_bytecode = true;
    unsigned long free_mib = 64;
    double t0 = now_s();

    default_sibling(argv[0], "silo-init", init, sizeof init);
    default_sibling(argv[0], "silo-agentd", agentd, sizeof agentd);
    int i = 1;
    if (i < argc && strcmp(argv[i], "python-bytecode") == 0) {
        if (argc < 3)
            usage_exit();
        return python_bytecode_compile(argv[2], (const char *const *)argv + 3, (size_t)(argc - 3)) > 0 ? 0 : 1;
    }
    if (i < argc && strcmp(argv[i], "build") == 0)
        i++;
    for (; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--packages") == 0 && v) packages = strdup(v), i++;
        else if (strcmp(argv[i], "--no-deps") == 0) no_deps = true;
        else if (strcmp(argv[i], "--config") == 0 && v) config_file = argv[++i];
        else if (strcmp(argv[i], "--cache") == 0 && v) cache = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && v) out = argv[++i];
        else if (strcmp(argv[i], "--init") == 0 && v) pathf(init, sizeof init, "%s", argv[++i]);
        else if (strcmp(argv[i], "--agentd") == 0 && v) pathf(agentd, sizeof agentd, "%s", argv[++i]);
        else if (strcmp(argv[i], "--free-mib") == 0 && v) free_mib = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--env") == 0 && v && strchr(v, '=')) add_env(v, (size_t)(strchr(v, '=') - v), strchr(v, '=') + 1, strlen(strchr(v, '=') + 1)), i++;
        else if (strcmp(argv[i], "--env-json") == 0 && v) add_env_json(argv[++i]);
        else if (strcmp(argv[i], "--no-python-bytecode") == 0) python_bytecode = false;
        else if (argv[i][0] == '-') usage_exit();
        else if (nsrc == MAX_SOURCES) DIE("more than %d sources", MAX_SOURCES);
        else {
            struct stat st;
            if (stat(argv[i], &st) < 0)
                DIE("%s: %s", argv[i], strerror(errno));
            sources[nsrc].path = argv[i];
            sources[nsrc++].kind = S_ISDIR(st.st_mode) ? (oci_detect(argv[i]) ? SRC_OCI_DIR : SRC_DIR) : SRC_ARCHIVE;
        }
    }
    if (nsrc == 0 && packages == NULL)
        usage_exit();
    if (access(init, R_OK) < 0 || access(agentd, R_OK) < 0)
        DIE("silo-init or agentd not found (%s, %s); build them (make programs) or pass --init/--agentd", init, agentd);

    const char *silo_cache = getenv("SILO_CACHE");
    char cache_buf[PATH_MAX], debs_dir[PATH_MAX];
    const char *home = getenv("HOME") ? getenv("HOME") : "/tmp";
    if (silo_cache == NULL) {
        pathf(cache_buf, sizeof cache_buf, "%s/.cache/silo", home);
        silo_cache = cache_buf;
    }
    pathf(debs_dir, sizeof debs_dir, "%s/debs", silo_cache);
    char images_dir[PATH_MAX];
    pathf(images_dir, sizeof images_dir, "%s/images", silo_cache);
    if (cache == NULL)
        cache = images_dir;
    mkdirs(cache, 0755);

    /* the content address: the base (everything but the environment), then the whole */
    struct digest *d = digest_new();
    digest_add_str(d, BUILDER_VERSION);
    char fmt[64];
    pathf(fmt, sizeof fmt, "free=%lu pyc=%d", free_mib, python_bytecode ? 1 : 0);
    digest_add_str(d, fmt);
    if (digest_add_file(d, init) < 0 || digest_add_file(d, agentd) < 0)
        DIE("cannot read %s or %s", init, agentd);
    static struct package pkgs[MAX_PACKAGES];
    size_t npkgs = 0;
    if (packages != NULL) {
        mkdirs(debs_dir, 0755);
        npkgs = resolve_packages(packages, no_deps, debs_dir, pkgs);
        for (size_t k = 0; k < npkgs; k++) {
            digest_add_str(d, pkgs[k].name);
            digest_add_str(d, pkgs[k].version);
        }
    }
    for (size_t k = 0; k < nsrc; k++) {
        digest_add_str(d, sources[k].kind == SRC_ARCHIVE ? "archive" : "tree");
        int rc = sources[k].kind == SRC_ARCHIVE ? digest_add_file(d, sources[k].path)
                                                 : digest_add_tree(d, sources[k].path);
        if (rc < 0)
            DIE("%s: cannot read: %s", sources[k].path, strerror(errno));
    }
    if (config_file != NULL) {
        digest_add_str(d, "config");
        if (digest_add_file(d, config_file) < 0)
            DIE("%s: %s", config_file, strerror(errno));
    }
    char base_key[DIGEST_HEX], key[DIGEST_HEX];
    digest_finish(d, base_key);
    d = digest_new();
    digest_add_str(d, base_key);
    for (size_t k = 0; k < env_override_count; k++) {
        digest_add_str(d, "env");
        digest_add_str(d, env_overrides[k]);
    }
    digest_finish(d, key);
    if (env_override_count == 0)
        memcpy(key, base_key, sizeof key);
    char cached[PATH_MAX], base[PATH_MAX], debugfs[PATH_MAX];
    pathf(cached, sizeof cached, "%s/%.32s.ext4", cache, key);
    pathf(base, sizeof base, "%s/%.32s.ext4", cache, base_key);

    struct build_inputs in = { sources, nsrc, pkgs, npkgs, config_file, init, agentd, free_mib, python_bytecode };
    const char *how = "cached";
    if (access(cached, R_OK) != 0) {
        if (env_override_count > 0 && find_debugfs(debugfs, sizeof debugfs)) {
            how = "reconfigured";
            if (access(base, R_OK) != 0) {
                build_image(&in, false, cache, base_key, base);
                how = "built";
            }
            reconfigure_image(debugfs, base, cache, cached);
        } else {
            if (env_override_count > 0)
                fprintf(stderr, "silo-image: no debugfs (e2fsprogs): the environment is built into the image\n");
            build_image(&in, true, cache, key, cached);
            how = "built";
        }
    }
    const char *result = cached;
    if (out != NULL) {
        unlink(out);
        if (link(cached, out) < 0) {
            char *x[] = { (char *)"cp", (char *)"--sparse=always", cached, out, NULL };
            if (run(x, NULL, NULL, 0) != 0)
                DIE("cannot copy %s to %s", cached, out);
        }
        result = out;
    }
    struct stat st;
    stat(cached, &st);
    printf("silo-image: %s (%s) key=%.32s size_mib=%lld allocated_mib=%lld seconds=%.2f\n", result,
           how, key, (long long)(st.st_size >> 20), (long long)(st.st_blocks * 512 >> 20),
           now_s() - t0);
    free(packages);
    return 0;
}
