/* builder/python_bytecode.c — precompiled bytecode for the Pythons in an agent image.
 *
 * Debian's python packages ship no .pyc files (dpkg's postinst compiles them on a real system),
 * and every microVM boots from a copy-on-write view of the image whose writes die with it: a
 * Python agent would compile its whole standard library again at every cold start (about half
 * of its start time). silo-image therefore compiles it once, into the image.
 *
 * Bytecode does not depend on the machine (the image is arm64, the builder may run on x86), but
 * it does depend on the Python minor version: a .pyc starts with a magic number that the
 * interpreter checks. For each CPython 3.N in the image this looks for a python3.N on the build
 * host (/usr/bin, /usr/local/bin, then $PATH) whose importlib.util.MAGIC_NUMBER equals the one
 * the image's importlib/_bootstrap_external.py declares; a host Debian python3 of the same
 * release as the image's packages always matches. Without such a python (the dev host and an
 * arm64 silod host have none), it says so and compiles nothing: never bytecode of another
 * version.
 *
 * Compiled (each with `python3.N -I -m compileall -q -j 0 --invalidation-mode unchecked-hash
 * -d GUEST_DIR HOST_DIR`): /usr/lib/python3.N, /usr/local/lib/python3.N,
 * /usr/lib/python3/dist-packages, /usr/local/lib/python3/dist-packages (the shared ones, once
 * per version: each version's files carry its own cpython-3N tag) and the agent's directories
 * the caller names. unchecked-hash .pyc files are valid whatever the file times in the ext4
 * image are (the interpreter never compares them with the source, which cannot change: the
 * image is immutable and the guest's writes are private to one VM); -d makes tracebacks show
 * guest paths. Files that do not compile (compileall reports them) stay source only.
 */
#include "builder/python_bytecode.h"
#include "builder/run_program.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_VERSIONS 8

/* Runs argv with stdin from /dev/null; stdout captured into out (cap > 0, stderr dropped) or
 * sent to stderr, the build log (cap == 0). Exit status, or -1 when it could not run. */
static int run_python(char *const argv[], char *out, size_t cap)
{
    struct run_io io = { .stdin_null = true, .quiet_stderr = cap > 0, .stdout_to_stderr = true };
    return run_program(argv, &io, out, cap);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "python3.N" with 1-3 digits: N, else -1. */
static int minor_of(const char *name)
{
    if (strncmp(name, "python3.", 8) != 0 || name[8] == '\0' || strlen(name) > 11)
        return -1;
    int minor = 0;
    for (const char *p = name + 8; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        minor = minor * 10 + (*p - '0');
    }
    return minor;
}

/* The stdlib directory of 3.minor in root (usr/lib first), or false. */
static bool stdlib_dir(const char *root, int minor, char *out, size_t cap)
{
    const char *bases[] = { "usr/lib", "usr/local/lib" };
    for (size_t i = 0; i < 2; i++) {
        char os_py[PATH_MAX];
        if (snprintf(os_py, sizeof os_py, "%s/%s/python3.%d/os.py", root, bases[i], minor) >= (int)sizeof os_py)
            continue;
        if (access(os_py, R_OK) == 0) {
            snprintf(out, cap, "%s/%s/python3.%d", root, bases[i], minor);
            return true;
        }
    }
    return false;
}

/* The versions 3.N in root, sorted, at most MAX_VERSIONS. */
static size_t image_versions(const char *root, int *minors)
{
    size_t n = 0;
    const char *bases[] = { "usr/lib", "usr/local/lib" };
    for (size_t i = 0; i < 2; i++) {
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s", root, bases[i]) >= (int)sizeof dir)
            continue;
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int minor = minor_of(e->d_name);
            char lib[PATH_MAX];
            if (minor < 0 || !stdlib_dir(root, minor, lib, sizeof lib))
                continue;
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = minors[k] == minor;
            if (!dup && n < MAX_VERSIONS)
                minors[n++] = minor;
        }
        closedir(d);
    }
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && minors[b - 1] > minors[b]; b--) {
            int t = minors[b];
            minors[b] = minors[b - 1];
            minors[b - 1] = t;
        }
    return n;
}

/* The image's magic number as 8 hex digits, from the line
 *   MAGIC_NUMBER = (3495).to_bytes(2, 'little') + b'\r\n'
 * of its importlib/_bootstrap_external.py (the form of 3.5 .. 3.13). false when absent. */
static bool image_magic(const char *stdlib, char hex[9])
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/importlib/_bootstrap_external.py", stdlib) >= (int)sizeof path)
        return false;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        static const char prefix[] = "MAGIC_NUMBER = (";
        if (strncmp(line, prefix, sizeof prefix - 1) != 0)
            continue;
        char *end;
        errno = 0;
        unsigned long v = strtoul(line + sizeof prefix - 1, &end, 10);
        if (errno == 0 && end != line + sizeof prefix - 1 && v <= 0xffff &&
            strncmp(end, ").to_bytes(2, 'little') + b'\\r\\n'", 33) == 0) {
            snprintf(hex, 9, "%02lx%02lx0d0a", v & 0xff, v >> 8);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* A python3.minor of this host whose magic number is `magic`: its path in out. */
static bool host_python(int minor, const char *magic, char *out, size_t cap, char *seen, size_t seen_cap)
{
    char name[32];
    snprintf(name, sizeof name, "python3.%d", minor);
    char cands[16][PATH_MAX];
    size_t n = 0;
    snprintf(cands[n++], PATH_MAX, "/usr/bin/%s", name);
    snprintf(cands[n++], PATH_MAX, "/usr/local/bin/%s", name);
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && n < 16; d = strtok_r(NULL, ":", &save))
        if (d[0] == '/' && snprintf(cands[n], PATH_MAX, "%s/%s", d, name) < PATH_MAX) {
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(cands[k], cands[n]) == 0;
            n += !dup;
        }
    seen[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (access(cands[i], X_OK) != 0)
            continue;
        char answer[128];
        char *argv[] = { cands[i], (char *)"-I", (char *)"-c",
                         (char *)"import sys, importlib.util as u; print('%d.%d' % sys.version_info[:2], u.MAGIC_NUMBER.hex())",
                         NULL };
        if (run_python(argv, answer, sizeof answer) != 0)
            continue;
        char want[64];
        snprintf(want, sizeof want, "3.%d %s\n", minor, magic);
        if (strcmp(answer, want) == 0)
            return snprintf(out, cap, "%s", cands[i]) < (int)cap;
        size_t l = strlen(seen);
        answer[strcspn(answer, "\n")] = '\0';
        if (snprintf(seen + l, seen_cap - l, "%s%s (%s)", l ? ", " : "", cands[i], answer[0] ? answer : "no answer") >=
            (int)(seen_cap - l))
            seen[l] = '\0';
    }
    return false;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Compiles one guest directory; true when compileall ran (it may report files it could not
 * compile, which stay source only). */
static bool compile_dir(const char *python, const char *root, const char *guest)
{
    char host[PATH_MAX];
    if (snprintf(host, sizeof host, "%s%s", root, guest) >= (int)sizeof host || !is_dir(host))
        return false;
    char *argv[] = { (char *)python, (char *)"-I", (char *)"-m", (char *)"compileall", (char *)"-q", (char *)"-j", (char *)"0",
                     (char *)"--invalidation-mode", (char *)"unchecked-hash", (char *)"-d", (char *)guest, host, NULL };
    int rc = run_python(argv, NULL, 0);
    if (rc != 0)
        fprintf(stderr, "silo-image: python bytecode: compileall of %s ended with status %d (files it names stay "
                        "source only)\n", guest, rc);
    return rc >= 0 && rc != 127;
}

unsigned python_bytecode_compile(const char *root, const char *const *extra_dirs, size_t n_extra)
{
    int minors[MAX_VERSIONS];
    size_t n = image_versions(root, minors);
    unsigned compiled = 0;
    for (size_t v = 0; v < n; v++) {
        double t0 = mono_s();
        char stdlib[PATH_MAX], magic[9], python[PATH_MAX], seen[1024];
        stdlib_dir(root, minors[v], stdlib, sizeof stdlib);
        if (!image_magic(stdlib, magic)) {
            fprintf(stderr, "silo-image: python bytecode: python3.%d in the image, but its bytecode magic number "
                            "could not be read from importlib/_bootstrap_external.py; not precompiled\n", minors[v]);
            continue;
        }
        if (!host_python(minors[v], magic, python, sizeof python, seen, sizeof seen)) {
            char shipped[PATH_MAX + 64];
            if (snprintf(shipped, sizeof shipped, "%s/__pycache__/os.cpython-3%d.pyc", stdlib, minors[v]) <
                    (int)sizeof shipped && access(shipped, R_OK) == 0) {
                fprintf(stderr, "silo-image: python bytecode: python3.%d in the image already carries its bytecode "
                                "(its layers have __pycache__); this build host has no python3.%d with magic %s to "
                                "add more\n", minors[v], minors[v], magic);
                continue;
            }
            fprintf(stderr, "silo-image: python bytecode: python3.%d in the image (magic %s), but this build host has "
                            "no python3.%d with that magic number%s%s; not precompiled (the agent compiles what it "
                            "imports at every cold start)\n", minors[v], magic, minors[v], seen[0] ? ": " : "", seen);
            continue;
        }
        char shared[4][64];
        snprintf(shared[0], sizeof shared[0], "/usr/lib/python3.%d", minors[v]);
        snprintf(shared[1], sizeof shared[1], "/usr/local/lib/python3.%d", minors[v]);
        snprintf(shared[2], sizeof shared[2], "/usr/lib/python3/dist-packages");
        snprintf(shared[3], sizeof shared[3], "/usr/local/lib/python3/dist-packages");
        unsigned dirs = 0;
        for (size_t i = 0; i < 4; i++)
            dirs += compile_dir(python, root, shared[i]);
        for (size_t i = 0; i < n_extra; i++) {
            /* not "/", not a system directory, nor one holding them (say /usr) */
            size_t len = strlen(extra_dirs[i]);
            bool system = len < 2 || extra_dirs[i][0] != '/';
            for (size_t k = 0; k < 4 && !system; k++)
                system = strncmp(shared[k], extra_dirs[i], len) == 0 && (shared[k][len] == '\0' || shared[k][len] == '/');
            if (!system)
                dirs += compile_dir(python, root, extra_dirs[i]);
        }
        fprintf(stderr, "silo-image: python bytecode: python3.%d (magic %s) compiled by %s in %u directories, "
                        "unchecked-hash, %.1f s\n", minors[v], magic, python, dirs, mono_s() - t0);
        compiled++;
    }
    return compiled;
}
