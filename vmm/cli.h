/* vmm/cli.h — silo-vmm's command line and its JSON twin (--config FILE.json).
 *
 * cli_parse fills a struct vmm_config from argv. Options apply in order; `--config FILE` applies
 * the file's keys where it appears, so later options override it and it overrides earlier ones.
 * The JSON keys are the long option names without the dashes ("kernel", "mem", "cpus",
 * "disk", "vsock-cid", "verify-wipe", ...); see cli_usage() / vmm/README.md.
 *
 * Every bad value gets one line in `err` ("--mem: '12Q' is not a size (use e.g. 512M, 2G)")
 * and a non-zero return. File arguments are checked for readability here, so a typo fails
 * before /dev/kvm is touched.
 */
#ifndef SILO_VMM_CLI_H
#define SILO_VMM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/config.h"

#define VMM_DEFAULT_MEM (512ULL << 20)
#define VMM_MIN_MEM (16ULL << 20)
#define VMM_MAX_MEM (1ULL << 40) /* 1 TiB; the real limit is the host's IPA size, checked at VM creation */
#define VMM_MAX_CPUS 64
#define VMM_DEFAULT_CMDLINE "console=ttyS0 earlycon=uart,mmio,0x01000000 reboot=k panic=-1"
#define SILO_VMM_VERSION "0.1.0"

enum cli_result {
    CLI_RUN = 0,   /* config is complete: boot it */
    CLI_EXIT_OK,   /* --help / --version were printed: exit 0 */
    CLI_ERROR,     /* err holds the reason: exit 1 */
};

struct cli_extra {
    int verbose;  /* -v: set-up and teardown details (wipe statistics) on stderr */
    bool timings; /* --timings: the run's timeline on stderr at exit (vmm/timeline.h) */
};

enum cli_result cli_parse(int argc, char **argv, struct vmm_config *cfg, struct cli_extra *extra, FILE *out,
                          char *err, size_t errlen);

/* One option of silo-vmm, one row of the table in cli.c: the command-line option, the JSON key
 * of --config and the --help entry all come from it. */
enum cli_option_kind {
    CLI_TEXT,              /* --name VALUE, non-empty; JSON: a string (or a number, as text) */
    CLI_TEXT_MAY_BE_EMPTY, /* the same, and "" is allowed (--cmdline "") */
    CLI_NUMBER,            /* --name VALUE; JSON: a string or a non-negative number */
    CLI_FLAG,              /* --name, no value; JSON: true or false */
    CLI_DISK,              /* --disk PATH[,ro][,cow], repeatable; JSON: that string, an array of
                              them, or {"path": ..., "ro": bool, "cow": bool} */
};

struct cli_target; /* what the apply functions write into (the config being built) */

struct cli_option {
    const char *name;       /* the long option without its dashes, and the JSON key */
    const char *json_alias; /* a second JSON key ("disks"), or NULL */
    char short_name;        /* a one-letter flag alias ('v' for -v), or 0 */
    enum cli_option_kind kind;
    const char *value_name; /* the value in --help ("FILE", "SIZE"); NULL for flags */
    /* The row's target, one of two: `apply`, which checks `value` (or `flag`, for CLI_FLAG),
     * stores it and returns 0, or -1 with one line in err; or, when apply is NULL, `target`:
     * offsetof(struct vmm_config, field) of a `const char *` (text kinds) or `bool` (CLI_FLAG)
     * field that receives the value as given. */
    int (*apply)(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen);
    size_t target;
    const char *help; /* the --help text; each '\n' starts an indented continuation line */
};

/* The option table, in --help order (for tests and documentation checks). */
const struct cli_option *cli_options(size_t *count);

/* Parses "512M", "2G", "65536K", "1073741824B" or a plain number of MiB. Returns 0 or -1. */
int cli_parse_size(const char *text, unsigned long long *bytes);

void cli_usage(FILE *out);

/* Frees the JSON documents and strings the parsed configs point into (end of process / tests). */
void cli_release(void);

#endif
