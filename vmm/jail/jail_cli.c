/* vmm/jail/jail_cli.c — silo-jail's command line into struct jail_options (see jail_cli.h):
 * every value is checked here, before anything is mounted, created or dropped. */
#include "vmm/jail/jail_cli.h"

#include "base/error_message.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char jail_usage[] =
    "usage: silo-jail --root DIR --uid UID --gid GID\n"
    "                 [--bind-ro SRC=DST]... [--bind SRC=DST]... [--dev /dev/NAME]...\n"
    "                 [--cgroup CGDIR] [--memory-max BYTES] [--cpu-max \"QUOTA PERIOD\"] [--pids-max N]\n"
    "                 [--nofile N] [--as BYTES] [--nproc N]\n"
    "                 -- PROGRAM [ARGS...]\n"
    "Sets up the jail around one process (new mount, IPC, UTS and network namespaces; a tmpfs root\n"
    "holding only what is bound; an unprivileged uid/gid without capabilities; rlimits; a cgroup v2)\n"
    "and execs PROGRAM (a path inside the jail) in the same process. Errors: one line, exit 125.\n";

/* Paths the jail itself owns: a DST may be neither one of them, nor inside, nor above one. */
static const char *const reserved_paths[] = { "/proc", "/dev", "/lib", "/lib64", "/usr/lib", "/usr/lib64" };

#define CGROUP_TOP "/sys/fs/cgroup/"
#define CPU_PERIOD_MIN_US 1000u
#define CPU_PERIOD_MAX_US 1000000u
#define CPU_QUOTA_MIN_US 1000u

/* A plain decimal number in [min, max]. */
static int parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int jail_parse_size(const char *s, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'T': case 't': shift = 40; end++; break;
    default: return -1;
    }
    if (*end != '\0' || (shift > 0 && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int jail_normalise_path(const char *in, char *out, size_t outlen)
{
    if (in[0] != '/' || outlen < 2)
        return -1;
    size_t n = 0;
    const char *p = in;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return -1;
        if (n + 1 + len + 1 > outlen)
            return -1;
        out[n++] = '/';
        memcpy(out + n, p, len);
        n += len;
        p += len;
    }
    if (n == 0)
        return -1; /* "/" itself */
    out[n] = '\0';
    return 0;
}

bool jail_paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t shorter = la < lb ? la : lb;
    if (strncmp(a, b, shorter) != 0)
        return false;
    if (la == lb)
        return true;
    const char *longer = la > lb ? a : b;
    return longer[shorter] == '/';
}

/* Whether DST collides with a reserved path, an earlier bind or a device. */
static const char *overlapping(const struct jail_options *o, const char *dst)
{
    for (size_t i = 0; i < sizeof reserved_paths / sizeof reserved_paths[0]; i++)
        if (jail_paths_overlap(dst, reserved_paths[i]))
            return reserved_paths[i];
    for (size_t i = 0; i < o->nbinds; i++)
        if (jail_paths_overlap(dst, o->binds[i].dst))
            return o->binds[i].dst;
    return NULL;
}

static int add_bind(struct jail_options *o, const char *opt, const char *arg, bool writable, char *err,
                    size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || arg[0] != '/')
        return error_message(err, errlen, "%s wants SRC=DST with an absolute SRC, got '%s'", opt, arg);
    if (o->nbinds == JAIL_MAX_BINDS)
        return error_message(err, errlen, "at most %d --bind/--bind-ro", JAIL_MAX_BINDS);
    struct jail_bind *b = &o->binds[o->nbinds];
    if (jail_normalise_path(eq + 1, b->dst, sizeof b->dst) != 0)
        return error_message(err, errlen, "%s %s: DST must be an absolute path inside the jail, not '/', without '.' or '..'",
                    opt, arg);
    const char *clash = overlapping(o, b->dst);
    if (clash != NULL)
        return error_message(err, errlen, "%s %s: DST %s overlaps %s (no DST may lie inside another, or inside %s)", opt,
                    arg, b->dst, clash, "/proc, /dev, /lib, /lib64, /usr/lib, /usr/lib64");
    size_t srclen = (size_t)(eq - arg);
    if (srclen >= sizeof b->src)
        return error_message(err, errlen, "%s: SRC too long", opt);
    memcpy(b->src, arg, srclen);
    b->src[srclen] = '\0';
    b->writable = writable;
    o->nbinds++;
    return 0;
}

static int add_dev(struct jail_options *o, const char *arg, char *err, size_t errlen)
{
    char norm[JAIL_PATH_MAX];
    if (jail_normalise_path(arg, norm, sizeof norm) != 0 || strncmp(norm, "/dev/", 5) != 0 ||
        strchr(norm + 5, '/') != NULL || strcmp(norm, arg) != 0)
        return error_message(err, errlen, "--dev wants a device node directly in /dev, e.g. /dev/kvm, got '%s'", arg);
    if (strcmp(arg, "/dev/null") == 0 || strcmp(arg, "/dev/urandom") == 0)
        return error_message(err, errlen, "--dev %s: always present in the jail", arg);
    for (size_t i = 0; i < o->ndevs; i++)
        if (strcmp(o->devs[i], arg) == 0)
            return error_message(err, errlen, "--dev %s given twice", arg);
    if (o->ndevs == JAIL_MAX_DEVS)
        return error_message(err, errlen, "at most %d --dev", JAIL_MAX_DEVS);
    o->devs[o->ndevs++] = arg;
    return 0;
}

/* "QUOTA PERIOD": QUOTA is "max" or microseconds >= 1000; PERIOD 1000 ... 1000000 us. */
static int parse_cpu_max(struct jail_options *o, const char *arg, char *err, size_t errlen)
{
    char quota[32], period[32], extra[2];
    if (sscanf(arg, "%31s %31s %1s", quota, period, extra) != 2 ||
        parse_number(period, CPU_PERIOD_MIN_US, CPU_PERIOD_MAX_US, &o->cpu_period_us) != 0)
        return error_message(err, errlen, "--cpu-max wants \"QUOTA PERIOD\" (QUOTA: microseconds >= %u or max; PERIOD: "
                    "%u ... %u microseconds), got '%s'", CPU_QUOTA_MIN_US, CPU_PERIOD_MIN_US,
                    CPU_PERIOD_MAX_US, arg);
    if (strcmp(quota, "max") == 0)
        o->cpu_quota_us = 0;
    else if (parse_number(quota, CPU_QUOTA_MIN_US, UINT32_MAX, &o->cpu_quota_us) != 0)
        return error_message(err, errlen, "--cpu-max: QUOTA must be microseconds >= %u (or max), got '%s'", CPU_QUOTA_MIN_US,
                    quota);
    return 0;
}

static int parse_id(const char *opt, const char *arg, uint64_t *out, char *err, size_t errlen)
{
    /* 0 is root; (uid_t)-1 means "unchanged" to the set*id calls */
    if (parse_number(arg, 1, UINT32_MAX - 1, out) != 0)
        return error_message(err, errlen, "%s wants a non-zero numeric id below 4294967295, got '%s'", opt, arg);
    return 0;
}

static int parse_size_option(const char *opt, const char *arg, uint64_t min, uint64_t *out, char *err,
                             size_t errlen)
{
    if (jail_parse_size(arg, out) != 0 || *out < min)
        return error_message(err, errlen, "%s wants a size of at least %" PRIu64 " bytes (e.g. 512M, 2G, 1048576), got '%s'",
                    opt, min, arg);
    return 0;
}

static int parse_count_option(const char *opt, const char *arg, uint64_t *out, char *err, size_t errlen)
{
    if (parse_number(arg, 1, UINT32_MAX, out) != 0)
        return error_message(err, errlen, "%s wants a number from 1 to %u, got '%s'", opt, UINT32_MAX, arg);
    return 0;
}

/* One option with its value. */
static int apply_option(struct jail_options *o, const char *opt, const char *val, char *err, size_t errlen)
{
    uint64_t v = 0;
    if (strcmp(opt, "--root") == 0) {
        char norm[JAIL_PATH_MAX];
        if (jail_normalise_path(val, norm, sizeof norm) != 0)
            return error_message(err, errlen, "--root wants an absolute directory other than /, got '%s'", val);
        o->root = val;
    } else if (strcmp(opt, "--uid") == 0) {
        if (parse_id(opt, val, &v, err, errlen) != 0)
            return -1;
        o->uid = (uid_t)v;
    } else if (strcmp(opt, "--gid") == 0) {
        if (parse_id(opt, val, &v, err, errlen) != 0)
            return -1;
        o->gid = (gid_t)v;
    } else if (strcmp(opt, "--bind-ro") == 0 || strcmp(opt, "--bind") == 0) {
        return add_bind(o, opt, val, strcmp(opt, "--bind") == 0, err, errlen);
    } else if (strcmp(opt, "--dev") == 0) {
        return add_dev(o, val, err, errlen);
    } else if (strcmp(opt, "--cgroup") == 0) {
        char norm[JAIL_PATH_MAX];
        if (jail_normalise_path(val, norm, sizeof norm) != 0 || strcmp(norm, val) != 0 ||
            strncmp(val, CGROUP_TOP, strlen(CGROUP_TOP)) != 0 || val[strlen(CGROUP_TOP)] == '\0')
            return error_message(err, errlen, "--cgroup wants a plain path below %s, got '%s'", CGROUP_TOP, val);
        o->cgroup = val;
    } else if (strcmp(opt, "--memory-max") == 0) {
        return parse_size_option(opt, val, 1u << 20, &o->memory_max, err, errlen);
    } else if (strcmp(opt, "--cpu-max") == 0) {
        return parse_cpu_max(o, val, err, errlen);
    } else if (strcmp(opt, "--pids-max") == 0) {
        return parse_count_option(opt, val, &o->pids_max, err, errlen);
    } else if (strcmp(opt, "--nofile") == 0) {
        return parse_count_option(opt, val, &o->nofile, err, errlen);
    } else if (strcmp(opt, "--as") == 0) {
        return parse_size_option(opt, val, 1u << 20, &o->as_bytes, err, errlen);
    } else if (strcmp(opt, "--nproc") == 0) {
        return parse_count_option(opt, val, &o->nproc, err, errlen);
    } else {
        return error_message(err, errlen, "unknown option '%s' (see --help)", opt);
    }
    return 0;
}

int jail_parse_options(int argc, char *const argv[], struct jail_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    int i = 1;
    while (i < argc) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return -2;
        if (strncmp(arg, "--", 2) != 0)
            return error_message(err, errlen, "unexpected '%s' (the program comes after --)", arg);
        if (i + 1 >= argc)
            return error_message(err, errlen, "%s needs a value", arg);
        if (apply_option(o, arg, argv[i + 1], err, errlen) != 0)
            return -1;
        i += 2;
    }
    if (o->root == NULL)
        return error_message(err, errlen, "--root DIR is required");
    if (o->uid == 0 || o->gid == 0)
        return error_message(err, errlen, "--uid and --gid are required (non-zero)");
    if ((o->memory_max != 0 || o->cpu_period_us != 0 || o->pids_max != 0) && o->cgroup == NULL)
        return error_message(err, errlen, "--memory-max, --cpu-max and --pids-max need --cgroup CGDIR");
    if (i >= argc || argv[i][0] == '\0')
        return error_message(err, errlen, "no program to run (-- PROGRAM [ARGS...])");
    if (argv[i][0] != '/')
        return error_message(err, errlen, "PROGRAM must be an absolute path inside the jail, got '%s'", argv[i]);
    o->program_argv = &argv[i];
    return 0;
}
