/* vmm/jail/jail_cli.h — silo-jail's command line: what the caller asked for (struct
 * jail_options) and its parser. Parsing is pure (no system call beyond reading argv), so the
 * whole validation is unit-tested natively (tests/unit/test_jail.c). The interface itself is
 * agreed in vmm/jail/README.md. */
#ifndef SILO_VMM_JAIL_CLI_H
#define SILO_VMM_JAIL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_MAX_BINDS 32
#define JAIL_MAX_DEVS 8
#define JAIL_PATH_MAX 4096

/* One --bind-ro / --bind: SRC on the host appears at DST (absolute, normalised) in the jail. */
struct jail_bind {
    char src[JAIL_PATH_MAX];
    char dst[JAIL_PATH_MAX];
    bool writable;
};

struct jail_options {
    const char *root;             /* --root DIR (absolute) */
    uid_t uid;                    /* --uid, never 0 */
    gid_t gid;                    /* --gid, never 0 */
    struct jail_bind binds[JAIL_MAX_BINDS];
    size_t nbinds;
    const char *devs[JAIL_MAX_DEVS]; /* --dev /dev/NAME, the same path inside */
    size_t ndevs;
    const char *cgroup;           /* --cgroup CGDIR (absolute, under /sys/fs/cgroup/) or NULL */
    uint64_t memory_max;          /* --memory-max bytes; 0 = not given */
    uint64_t cpu_quota_us;        /* --cpu-max "QUOTA PERIOD"; quota 0 with period != 0 = "max" */
    uint64_t cpu_period_us;       /* 0 = not given */
    uint64_t pids_max;            /* 0 = not given */
    uint64_t nofile;              /* rlimits; 0 = not given (left as inherited) */
    uint64_t as_bytes;
    uint64_t nproc;
    char *const *program_argv;    /* PROGRAM [ARGS...]: argv after "--", NULL-terminated */
};

/* Parses argv (argv[0] is silo-jail itself). On error returns -1 with one sentence in err
 * (without the "silo-jail: " prefix); -2 for --help (usage in err is not set). */
int jail_parse_options(int argc, char *const argv[], struct jail_options *o, char *err, size_t errlen);

/* "1048576", "64K", "512M", "2G", "1T" (binary units) -> bytes; -1 if malformed or overflowing. */
int jail_parse_size(const char *s, uint64_t *out);

/* A DST path: absolute, no "." or ".." component, not "/"; repeated and trailing slashes are
 * dropped into out. Returns -1 if refused. */
int jail_normalise_path(const char *in, char *out, size_t outlen);

/* true if a and b (normalised) are the same path or one lies inside the other. */
bool jail_paths_overlap(const char *a, const char *b);

extern const char jail_usage[];

#endif
