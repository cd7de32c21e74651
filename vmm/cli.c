/* vmm/cli.c — command-line and JSON config parsing for silo-vmm (see cli.h). Every option is
 * one row of option_table: its name (also the JSON key), kind, --help text, and its target:
 * the config field it is stored in, or the function that checks and stores it. */
#include "vmm/cli.h"
#include "base/error_message.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parsed JSON documents and copied strings that the config points into; they live as long as
 * the process (the config outlives the VM). */
static struct json_object *json_docs[8];
static size_t json_doc_count;
static char *owned_strings[VMM_MAX_DISKS * 2];
static size_t owned_count;

int cli_parse_size(const char *text, unsigned long long *bytes)
{
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    unsigned shift = 20; /* a plain number is MiB (kvmtool's convention) */
    switch (toupper((unsigned char)*end)) {
    case '\0':
        break;
    case 'B':
        shift = 0;
        end++;
        break;
    case 'K':
        shift = 10;
        end++;
        break;
    case 'M':
        shift = 20;
        end++;
        break;
    case 'G':
        shift = 30;
        end++;
        break;
    case 'T':
        shift = 40;
        end++;
        break;
    default:
        return -1;
    }
    if (shift != 0 && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
        end += strlen(end);
    if (*end != '\0')
        return -1;
    if (n > (~0ULL >> shift))
        return -1;
    *bytes = n << shift;
    return 0;
}

/* Strict unsigned decimal: digits only, no sign, no junk, within max. */
static int parse_uint(const char *text, unsigned long long max, unsigned long long *out)
{
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || n > max)
        return -1;
    *out = n;
    return 0;
}

static char *own_string(const char *s, size_t len)
{
    if (owned_count == sizeof owned_strings / sizeof owned_strings[0])
        return NULL;
    char *copy = strndup(s, len);
    if (copy != NULL)
        owned_strings[owned_count++] = copy;
    return copy;
}

/* "PATH[,ro][,cow]" */
static int add_disk(struct vmm_config *cfg, const char *spec, char *err, size_t errlen)
{
    if (cfg->disk_count == VMM_MAX_DISKS)
        return error_message(err, errlen, "--disk: at most %d disks", VMM_MAX_DISKS);
    const char *comma = strchr(spec, ',');
    size_t path_len = comma != NULL ? (size_t)(comma - spec) : strlen(spec);
    if (path_len == 0)
        return error_message(err, errlen, "--disk: '%s' has no path", spec);
    struct vmm_disk d = { 0 };
    while (comma != NULL) {
        const char *opt = comma + 1;
        comma = strchr(opt, ',');
        size_t len = comma != NULL ? (size_t)(comma - opt) : strlen(opt);
        if (len == 2 && strncmp(opt, "ro", 2) == 0)
            d.read_only = true;
        else if (len == 3 && strncmp(opt, "cow", 3) == 0)
            d.cow = true;
        else
            return error_message(err, errlen, "--disk: unknown flag '%.*s' in '%s' (flags: ro, cow)", (int)len, opt, spec);
    }
    d.path = strchr(spec, ',') == NULL ? spec : own_string(spec, path_len);
    if (d.path == NULL)
        return error_message(err, errlen, "--disk: out of memory");
    cfg->disks[cfg->disk_count++] = d;
    return 0;
}

/* What an option's apply function writes into: the row's target lives here. */
struct cli_target {
    struct vmm_config *cfg;
    struct cli_extra *extra;
    bool from_json; /* the value came from a --config file */
};

static int apply_config_file(const char *path, struct cli_target *t, char *err, size_t errlen);

/* The apply functions of the options whose value needs checking or converting; each stores
 * one value and refuses a bad one with one line. */

static int set_mem(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    unsigned long long bytes;
    if (cli_parse_size(value, &bytes) != 0)
        return error_message(err, errlen, "--mem: '%s' is not a size (use e.g. 512M, 2G, or a number of MiB)", value);
    if (bytes < VMM_MIN_MEM)
        return error_message(err, errlen, "--mem: %s is too small (at least 16M)", value);
    if (bytes > VMM_MAX_MEM)
        return error_message(err, errlen, "--mem: %s is too large (at most 1T)", value);
    if (bytes % (64 * 1024) != 0)
        return error_message(err, errlen, "--mem: %s is not a multiple of 64K", value);
    t->cfg->mem_bytes = bytes;
    return 0;
}

static int set_cpus(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    unsigned long long n;
    if (parse_uint(value, ~0u, &n) != 0 || n == 0 || n > VMM_MAX_CPUS)
        return error_message(err, errlen, "--cpus: '%s' is not a CPU count from 1 to %d", value, VMM_MAX_CPUS);
    t->cfg->cpus = (uint32_t)n;
    return 0;
}

static int set_irqchip(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    if (strcmp(value, "auto") == 0)
        t->cfg->irqchip = 0;
    else if (strcmp(value, "gicv3") == 0)
        t->cfg->irqchip = 3;
    else if (strcmp(value, "gicv2") == 0)
        t->cfg->irqchip = 2;
    else
        return error_message(err, errlen, "--irqchip: '%s' is not auto, gicv3 or gicv2", value);
    return 0;
}

/* --cpu-features auto | none | a comma-separated list of sve, pauth */
static int set_cpu_features(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    t->cfg->cpu_features = 0;
    t->cfg->cpu_features_auto = false;
    if (strcmp(value, "auto") == 0) {
        t->cfg->cpu_features = VMM_CPU_SVE | VMM_CPU_PAUTH;
        t->cfg->cpu_features_auto = true;
        return 0;
    }
    if (strcmp(value, "none") == 0)
        return 0;
    const char *p = value;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 3 && strncmp(p, "sve", 3) == 0)
            t->cfg->cpu_features |= VMM_CPU_SVE;
        else if (n == 5 && strncmp(p, "pauth", 5) == 0)
            t->cfg->cpu_features |= VMM_CPU_PAUTH;
        else
            return error_message(err, errlen, "--cpu-features: '%.*s' is not sve or pauth (or use auto, none)", (int)n,
                                 p);
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int set_disk(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    return add_disk(t->cfg, value, err, errlen);
}

static int set_vsock_cid(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    unsigned long long cid;
    if (parse_uint(value, 0xfffffffeu, &cid) != 0 || cid < 3)
        return error_message(err, errlen, "--vsock-cid: '%s' is not a guest CID (3..4294967294)", value);
    t->cfg->vsock_cid = (uint32_t)cid;
    return 0;
}

static int read_config_file(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)flag;
    if (t->from_json)
        return error_message(err, errlen, "config: \"config\" cannot be nested in a config file");
    return apply_config_file(value, t, err, errlen);
}

/* Each -v / --verbose adds one; `"verbose": false` in a config file turns it off again. */
static int set_verbose(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)value, (void)err, (void)errlen;
    t->extra->verbose = flag ? t->extra->verbose + 1 : 0;
    return 0;
}

/* --timings: the run's timeline on stderr at exit (also printed by -v). */
static int set_timings(struct cli_target *t, const char *value, bool flag, char *err, size_t errlen)
{
    (void)value, (void)err, (void)errlen;
    t->extra->timings = flag;
    return 0;
}

/* The help texts below name these limits in words; keep them in step. */
_Static_assert(VMM_MAX_CPUS == 64, "--cpus help says 'at most 64'");
_Static_assert(VMM_MAX_DISKS == 8, "--disk help says 'up to 8'");

/* Every option of silo-vmm, in --help order: the command line, the JSON config keys and the
 * --help text all come from these rows. */
static const struct cli_option option_table[] = {
    { .name = "kernel", .kind = CLI_TEXT, .value_name = "FILE", .target = offsetof(struct vmm_config, kernel_path),
      .help = "guest kernel: arm64 Image, Image.gz (gzip), or a raw binary loaded\n"
              "at RAM + 0x80000 (required, unless --restore)" },
    { .name = "initrd", .kind = CLI_TEXT, .value_name = "FILE", .target = offsetof(struct vmm_config, initrd_path),
      .help = "initial ramdisk, placed above the kernel" },
    { .name = "cmdline", .kind = CLI_TEXT_MAY_BE_EMPTY, .value_name = "STRING",
      .target = offsetof(struct vmm_config, cmdline),
      .help = "kernel command line (replaces the default:\n"
              "\"" VMM_DEFAULT_CMDLINE "\")" },
    { .name = "mem", .kind = CLI_NUMBER, .value_name = "SIZE", .apply = set_mem,
      .help = "guest RAM: 512M, 2G, 65536K, or a plain number of MiB (default 512M;\n"
              "at least 16M, a multiple of 64K, within the host's IPA size)" },
    { .name = "cpus", .kind = CLI_NUMBER, .value_name = "N", .apply = set_cpus,
      .help = "vCPUs (default 1; at most 64 and KVM's limit; more than the host's\n"
              "CPUs is allowed, with a warning)" },
    { .name = "irqchip", .kind = CLI_TEXT, .value_name = "KIND", .apply = set_irqchip,
      .help = "the interrupt controller: auto (default: GICv3, or GICv2 on a host\n"
              "that has no v3), gicv3, or gicv2 (at most 8 vCPUs; refused where\n"
              "the host's KVM cannot emulate it)" },
    { .name = "cpu-features", .kind = CLI_TEXT, .value_name = "LIST", .apply = set_cpu_features,
      .help = "what the vCPUs get beyond ARMv8.0: auto (default: SVE and pointer\n"
              "authentication where the host's KVM has them), none, or a list of\n"
              "sve, pauth (each then required)" },
    { .name = "pmu", .kind = CLI_FLAG, .target = offsetof(struct vmm_config, pmu),
      .help = "a PMUv3 for the guest (perf), interrupt on PPI 7; refused where the\n"
              "host's KVM has none" },
    { .name = "console", .kind = CLI_TEXT, .value_name = "WHERE", .target = offsetof(struct vmm_config, console),
      .help = "guest serial console: stdio (default: output to stdout, input from\n"
              "stdin), none, or a FILE that receives the output" },
    { .name = "disk", .json_alias = "disks", .kind = CLI_DISK, .value_name = "PATH[,ro][,cow]", .apply = set_disk,
      .help = "a virtio-blk disk (repeatable, up to 8): ro = read-only for the\n"
              "guest; cow = base read-only, guest writes kept in a private layer\n"
              "discarded at exit" },
    { .name = "vsock-cid", .kind = CLI_NUMBER, .value_name = "N", .apply = set_vsock_cid,
      .help = "guest CID of a virtio-vsock device (3..4294967294); needs --vsock-uds" },
    { .name = "vsock-uds", .kind = CLI_TEXT, .value_name = "PATH", .target = offsetof(struct vmm_config, vsock_uds),
      .help = "host Unix socket of that device (Firecracker's hybrid vsock)" },
    { .name = "rng", .kind = CLI_FLAG, .target = offsetof(struct vmm_config, rng),
      .help = "a virtio-rng device" },
    { .name = "dump-dtb", .kind = CLI_TEXT, .value_name = "FILE", .target = offsetof(struct vmm_config, dump_dtb),
      .help = "write the guest's device tree blob to FILE and exit (no boot)" },
    { .name = "verify-wipe", .kind = CLI_FLAG, .target = offsetof(struct vmm_config, verify_wipe),
      .help = "debug: after the guest memory wipe, check every resident page reads\n"
              "zero before unmapping (a failed check is exit status 1)" },
    { .name = "wipe-keeper", .kind = CLI_FLAG, .target = offsetof(struct vmm_config, wipe_keeper),
      .help = "guest RAM in a memfd and a keeper process (silo-keeper) that wipes it\n"
              "if silo-vmm dies without wiping, even by SIGKILL; implies --mlock\n"
              "(with --restore the snapshot's memory is copied into the memfd)" },
    { .name = "mlock", .kind = CLI_FLAG, .target = offsetof(struct vmm_config, mlock),
      .help = "lock guest RAM as the guest touches it (never swapped out); needs\n"
              "RLIMIT_MEMLOCK of at least --mem, or CAP_IPC_LOCK" },
    { .name = "snapshot-to", .kind = CLI_TEXT, .value_name = "DIR", .target = offsetof(struct vmm_config, snapshot_to),
      .help = "on SIGUSR2, pause the VM, write a snapshot into DIR (created; it\n"
              "must not exist) and exit 0 (docs/snapshots.md)" },
    { .name = "restore", .kind = CLI_TEXT, .value_name = "DIR", .target = offsetof(struct vmm_config, restore_dir),
      .help = "restore the snapshot in DIR instead of booting: the machine comes\n"
              "from it; give --vsock-uds for its vsock device (a new socket)" },
    { .name = "config", .kind = CLI_TEXT, .value_name = "FILE.json", .apply = read_config_file,
      .help = "read options from a JSON object whose keys are the long option names\n"
              "without dashes, e.g. {\"kernel\": \"Image\", \"mem\": \"1G\", \"cpus\": 2,\n"
              "\"disk\": [\"root.ext4,ro\"], \"rng\": true}; applied where it appears\n"
              "on the command line, so later options win" },
    { .name = "timings", .kind = CLI_FLAG, .apply = set_timings,
      .help = "at exit, print the run's timeline on stderr: each set-up step (wall\n"
              "and CPU time), the guest's first console output and boot marker,\n"
              "exits by kind, page faults on guest RAM, each teardown step\n"
              "(docs/boot-timeline.md); -v prints it too" },
    { .name = "verbose", .short_name = 'v', .kind = CLI_FLAG, .apply = set_verbose,
      .help = "set-up and teardown details on stderr (wipe statistics, the\n"
              "timeline of --timings)" },
};

const struct cli_option *cli_options(size_t *count)
{
    *count = sizeof option_table / sizeof option_table[0];
    return option_table;
}

static const struct cli_option *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
        if (strlen(option_table[i].name) == len && strncmp(option_table[i].name, name, len) == 0)
            return &option_table[i];
    return NULL;
}

static const struct cli_option *find_json_key(const char *key)
{
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
        if (strcmp(option_table[i].name, key) == 0 ||
            (option_table[i].json_alias != NULL && strcmp(option_table[i].json_alias, key) == 0))
            return &option_table[i];
    return NULL;
}

static const struct cli_option *find_short_option(char letter)
{
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
        if (option_table[i].short_name != 0 && option_table[i].short_name == letter)
            return &option_table[i];
    return NULL;
}

/* Applies one option through its row: its apply function, or else a plain store into the
 * config field at its target (a string for text options, a bool for flags). `value` is the
 * text (options with a value) or NULL; `flag` is the value of a CLI_FLAG option. */
static int apply_option(const struct cli_option *opt, const char *value, bool flag, struct cli_target *t,
                        char *err, size_t errlen)
{
    if (opt->kind != CLI_FLAG && opt->kind != CLI_TEXT_MAY_BE_EMPTY && (value == NULL || value[0] == '\0'))
        return error_message(err, errlen, "--%s: empty value", opt->name);
    if (opt->kind == CLI_TEXT_MAY_BE_EMPTY && value == NULL)
        return error_message(err, errlen, "--%s: missing value", opt->name);
    if (opt->apply != NULL)
        return opt->apply(t, value, flag, err, errlen);
    char *field = (char *)t->cfg + opt->target;
    if (opt->kind == CLI_FLAG)
        memcpy(field, &flag, sizeof flag);
    else
        memcpy(field, &value, sizeof value);
    return 0;
}

/* `--name VALUE` (or `-v`) as the left column of --help. */
static int usage_left_column(const struct cli_option *opt, char *buf, size_t size)
{
    if (opt->short_name != 0)
        return snprintf(buf, size, "  -%c, --%s", opt->short_name, opt->name);
    if (opt->value_name != NULL)
        return snprintf(buf, size, "  --%s %s", opt->name, opt->value_name);
    return snprintf(buf, size, "  --%s", opt->name);
}

enum { USAGE_HELP_COLUMN = 23 };

/* One table row in --help: the left column, then the help text, continuation lines indented
 * to the help column. */
static void usage_row(FILE *out, const struct cli_option *opt)
{
    char left[64];
    int width = usage_left_column(opt, left, sizeof left);
    fputs(left, out);
    fprintf(out, "%*s", width < USAGE_HELP_COLUMN ? USAGE_HELP_COLUMN - width : 2, "");
    for (const char *p = opt->help; *p != '\0'; p++) {
        fputc(*p, out);
        if (*p == '\n')
            fprintf(out, "%*s", USAGE_HELP_COLUMN, "");
    }
    fputc('\n', out);
}

void cli_usage(FILE *out)
{
    fputs("usage: silo-vmm --kernel FILE [options]\n"
          "\n"
          "Boots one arm64 Linux guest in a KVM microVM and exits when it stops.\n"
          "\n"
          "options:\n",
          out);
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
        usage_row(out, &option_table[i]);
    fputs("  -h, --help           this text            --version   the version\n"
          "\n"
          "exit status:\n"
          "  0    the guest powered off (PSCI SYSTEM_OFF), or --help/--version/--dump-dtb\n"
          "  1    a set-up or VMM error (bad option, unreadable file, missing KVM capability, ...);\n"
          "       one line on stderr says why\n"
          "  2    the guest asked for a reset/reboot (PSCI SYSTEM_RESET); silo-vmm does not restart it\n"
          "  3    the guest crashed (KVM crash event, internal error, failed entry, unhandled exit)\n"
          "  129  SIGHUP, 130 SIGINT, 143 SIGTERM: the VM was stopped and its memory wiped\n"
          "       (128 + the signal number)\n"
          "Guest memory is wiped (explicit_bzero of every touched page, then munmap) on every exit path.\n"
          "On stderr, `silo-vmm: boot-complete marker at N us` reports the time from start to the\n"
          "guest's write of 123 to the marker at 0x40000000 (device tree node silo-boot-marker).\n",
          out);
}

/* One JSON value as an option: strings and numbers as their text, booleans for flags; a disk
 * also as an array of those or as {"path": ..., "ro": true, "cow": true}. */
static int apply_json_value(const struct cli_option *opt, struct json_object *val, struct cli_target *t,
                            const char *file, char *err, size_t errlen)
{
    enum json_type type = json_object_get_type(val);
    if (opt->kind == CLI_FLAG) {
        if (type != json_type_boolean)
            return error_message(err, errlen, "%s: \"%s\" must be true or false", file, opt->name);
        return apply_option(opt, NULL, json_object_get_boolean(val), t, err, errlen);
    }
    if (opt->kind == CLI_DISK && type == json_type_array) {
        for (size_t i = 0; i < json_object_array_length(val); i++)
            if (apply_json_value(opt, json_object_array_get_idx(val, i), t, file, err, errlen) != 0)
                return -1;
        return 0;
    }
    if (opt->kind == CLI_DISK && type == json_type_object) {
        struct vmm_config *cfg = t->cfg;
        struct json_object *path, *flag;
        if (!json_object_object_get_ex(val, "path", &path) || json_object_get_type(path) != json_type_string)
            return error_message(err, errlen, "%s: a \"disk\" object needs a \"path\" string", file);
        if (cfg->disk_count == VMM_MAX_DISKS)
            return error_message(err, errlen, "--disk: at most %d disks", VMM_MAX_DISKS);
        struct vmm_disk d = { .path = json_object_get_string(path) };
        if (d.path[0] == '\0')
            return error_message(err, errlen, "%s: empty disk path", file);
        if (json_object_object_get_ex(val, "ro", &flag))
            d.read_only = json_object_get_boolean(flag);
        if (json_object_object_get_ex(val, "cow", &flag))
            d.cow = json_object_get_boolean(flag);
        cfg->disks[cfg->disk_count++] = d;
        return 0;
    }
    if (type != json_type_string && type != json_type_int)
        return error_message(err, errlen, "%s: \"%s\" must be a string%s", file, opt->name,
                             opt->kind == CLI_NUMBER ? " or a number" : "");
    if (type == json_type_int && json_object_get_int64(val) < 0)
        return error_message(err, errlen, "%s: \"%s\" must not be negative", file, opt->name);
    return apply_option(opt, json_object_get_string(val), false, t, err, errlen);
}

static int apply_config_file(const char *path, struct cli_target *t, char *err, size_t errlen)
{
    if (json_doc_count == sizeof json_docs / sizeof json_docs[0])
        return error_message(err, errlen, "--config: too many config files");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "--config: cannot open '%s': %s", path, strerror(errno));
    close(fd);
    struct json_object *doc = json_object_from_file(path);
    if (doc == NULL) {
        const char *why = json_util_get_last_err();
        why = why != NULL ? why : "parse error";
        return error_message(err, errlen, "--config: '%s' is not valid JSON: %.*s", path, (int)strcspn(why, "\n"), why);
    }
    json_docs[json_doc_count++] = doc; /* the config points into it from now on */
    if (json_object_get_type(doc) != json_type_object)
        return error_message(err, errlen, "--config: '%s' must hold a JSON object", path);
    struct cli_target in_file = { .cfg = t->cfg, .extra = t->extra, .from_json = true };
    json_object_object_foreach(doc, key, val)
    {
        const struct cli_option *opt = find_json_key(key);
        if (opt == NULL)
            return error_message(err, errlen, "%s: unknown key \"%s\"", path, key);
        if (apply_json_value(opt, val, &in_file, path, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int check_readable(const char *what, const char *path, int mode, char *err, size_t errlen)
{
    int fd = open(path, mode | O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "--%s: cannot open '%s': %s", what, path, strerror(errno));
    close(fd);
    return 0;
}

/* --restore: the machine comes from the snapshot, so options that describe one are refused. */
static int validate_restore(const struct vmm_config *cfg, char *err, size_t errlen)
{
    const char *clash = cfg->kernel_path ? "--kernel" : cfg->initrd_path ? "--initrd" : cfg->cmdline ? "--cmdline"
                      : cfg->disk_count ? "--disk" : cfg->vsock_cid ? "--vsock-cid" : cfg->rng ? "--rng"
                      : cfg->dump_dtb ? "--dump-dtb" : cfg->snapshot_to ? "--snapshot-to"
                      : cfg->mem_bytes != VMM_DEFAULT_MEM ? "--mem" : cfg->cpus != 1 ? "--cpus"
                      : cfg->irqchip != 0 ? "--irqchip" : cfg->pmu ? "--pmu"
                      : !cfg->cpu_features_auto ? "--cpu-features" : NULL;
    if (clash != NULL)
        return error_message(err, errlen, "%s cannot be combined with --restore: the machine comes from the snapshot",
                             clash);
    if (cfg->restore_dir[0] == '\0')
        return error_message(err, errlen, "--restore: empty value");
    if (cfg->console == NULL || cfg->console[0] == '\0')
        return error_message(err, errlen, "--console: empty value");
    return 0;
}

static int validate(const struct vmm_config *cfg, char *err, size_t errlen)
{
    if (cfg->restore_dir != NULL)
        return validate_restore(cfg, err, errlen);
    if (cfg->kernel_path == NULL)
        return error_message(err, errlen, "--kernel is required (see --help)");
    if (check_readable("kernel", cfg->kernel_path, O_RDONLY, err, errlen) != 0)
        return -1;
    if (cfg->initrd_path != NULL && check_readable("initrd", cfg->initrd_path, O_RDONLY, err, errlen) != 0)
        return -1;
    for (uint32_t i = 0; i < cfg->disk_count; i++) {
        const struct vmm_disk *d = &cfg->disks[i];
        if (check_readable("disk", d->path, d->read_only || d->cow ? O_RDONLY : O_RDWR, err, errlen) != 0)
            return -1;
    }
    if ((cfg->vsock_cid != 0) != (cfg->vsock_uds != NULL))
        return error_message(err, errlen, "--vsock-cid and --vsock-uds must be given together");
    if (cfg->console == NULL || cfg->console[0] == '\0')
        return error_message(err, errlen, "--console: empty value");
    return 0;
}

enum cli_result cli_parse(int argc, char **argv, struct vmm_config *cfg, struct cli_extra *extra, FILE *out,
                          char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    memset(extra, 0, sizeof *extra);
    cfg->mem_bytes = VMM_DEFAULT_MEM;
    cfg->cpus = 1;
    cfg->cpu_features = VMM_CPU_SVE | VMM_CPU_PAUTH;
    cfg->cpu_features_auto = true;
    cfg->console = "stdio";

    struct cli_target target = { .cfg = cfg, .extra = extra, .from_json = false };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cli_usage(out);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            fprintf(out, "silo-vmm " SILO_VMM_VERSION "\n");
            return CLI_EXIT_OK;
        }
        const struct cli_option *short_opt =
            arg[0] == '-' && arg[1] != '-' && arg[1] != '\0' && arg[2] == '\0' ? find_short_option(arg[1]) : NULL;
        if (short_opt != NULL) { /* short names are flags only (-v) */
            if (apply_option(short_opt, NULL, true, &target, err, errlen) != 0)
                return CLI_ERROR;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            error_message(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return CLI_ERROR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const struct cli_option *opt = find_option(name, name_len);
        if (opt == NULL) {
            error_message(err, errlen, "unknown option '--%.*s' (see --help)", (int)name_len, name);
            return CLI_ERROR;
        }
        const char *value = NULL;
        if (opt->kind == CLI_FLAG) {
            if (eq != NULL) {
                error_message(err, errlen, "--%s takes no value", opt->name);
                return CLI_ERROR;
            }
        } else if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            error_message(err, errlen, "--%s needs a value", opt->name);
            return CLI_ERROR;
        }
        if (apply_option(opt, value, true, &target, err, errlen) != 0)
            return CLI_ERROR;
    }
    if (validate(cfg, err, errlen) != 0)
        return CLI_ERROR;
    return CLI_RUN;
}

void cli_release(void)
{
    for (size_t i = 0; i < json_doc_count; i++)
        json_object_put(json_docs[i]);
    json_doc_count = 0;
    for (size_t i = 0; i < owned_count; i++)
        free(owned_strings[i]);
    owned_count = 0;
}
