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

#include <stddef.h>
#include <stdio.h>

#include "vmm/config.h"

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
    int verbose; /* -v: set-up and teardown details (wipe statistics) on stderr */
};

enum cli_result cli_parse(int argc, char **argv, struct vmm_config *cfg, struct cli_extra *extra, FILE *out,
                          char *err, size_t errlen);

/* Parses "512M", "2G", "65536K", "1073741824B" or a plain number of MiB. Returns 0 or -1. */
int cli_parse_size(const char *text, unsigned long long *bytes);

void cli_usage(FILE *out);

/* Frees the JSON documents and strings the parsed configs point into (end of process / tests). */
void cli_release(void);

#endif
