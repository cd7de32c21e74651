/* vmm/cli.c — command-line and JSON config parsing for silo-vmm (see cli.h). */
#include "vmm/cli.h"
#include "vmm/error_message.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parsed JSON documents and copied strings that the config points into; they live as long as
 * the process (the config outlives the VM). */
static struct json_object *json_docs[8];
static size_t json_doc_count;
static char *owned_strings[VMM_MAX_DISKS * 2];
static size_t owned_count;

void cli_usage(FILE *out)
{
    fprintf(out,
            "usage: silo-vmm --kernel FILE [options]\n"
            "\n"
            "Boots one arm64 Linux guest in a KVM microVM and exits when it stops.\n"
            "\n"
            "options:\n"
            "  --kernel FILE        guest kernel: arm64 Image, Image.gz (gzip), or a raw binary loaded\n"
            "                       at RAM + 0x80000 (required)\n"
            "  --initrd FILE        initial ramdisk, placed above the kernel\n"
            "  --cmdline STRING     kernel command line (replaces the default:\n"
            "                       \"" VMM_DEFAULT_CMDLINE "\")\n"
            "  --mem SIZE           guest RAM: 512M, 2G, 65536K, or a plain number of MiB (default 512M;\n"
            "                       at least 16M, a multiple of 64K, within the host's IPA size)\n"
            "  --cpus N             vCPUs, 1 up to the host's CPU count (default 1; at most %d)\n"
            "  --console WHERE      guest serial console: stdio (default: output to stdout, input from\n"
            "                       stdin), none, or a FILE that receives the output\n"
            "  --disk PATH[,ro][,cow]  a virtio-blk disk (repeatable, up to %d): ro = read-only for the\n"
            "                       guest; cow = base read-only, guest writes kept in a private layer\n"
            "                       discarded at exit\n"
            "  --vsock-cid N        guest CID of a virtio-vsock device (3..4294967294); needs --vsock-uds\n"
            "  --vsock-uds PATH     host Unix socket of that device (Firecracker's hybrid vsock)\n"
            "  --rng                a virtio-rng device\n"
            "  --dump-dtb FILE      write the guest's device tree blob to FILE and exit (no boot)\n"
            "  --verify-wipe        debug: after the guest memory wipe, check every resident page reads\n"
            "                       zero before unmapping (a failed check is exit status 1)\n"
            "  --config FILE.json   read options from a JSON object whose keys are the long option names\n"
            "                       without dashes, e.g. {\"kernel\": \"Image\", \"mem\": \"1G\", \"cpus\": 2,\n"
            "                       \"disk\": [\"root.ext4,ro\"], \"rng\": true}; applied where it appears\n"
            "                       on the command line, so later options win\n"
            "  -v, --verbose        set-up and teardown details on stderr (wipe statistics)\n"
            "  -h, --help           this text            --version   the version\n"
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
            VMM_MAX_CPUS, VMM_MAX_DISKS);
}

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

static int apply_config_file(const char *path, struct vmm_config *cfg, struct cli_extra *extra, char *err,
                             size_t errlen);

enum opt_kind { OPT_STRING, OPT_FLAG };

struct option_def {
    const char *name; /* long name without dashes; also the JSON key */
    enum opt_kind kind;
};

static const struct option_def options[] = {
    { "kernel", OPT_STRING },    { "initrd", OPT_STRING },      { "cmdline", OPT_STRING },
    { "mem", OPT_STRING },       { "cpus", OPT_STRING },        { "console", OPT_STRING },
    { "disk", OPT_STRING },      { "vsock-cid", OPT_STRING },   { "vsock-uds", OPT_STRING },
    { "rng", OPT_FLAG },         { "dump-dtb", OPT_STRING },    { "verify-wipe", OPT_FLAG },
    { "config", OPT_STRING },    { "verbose", OPT_FLAG },
};

static const struct option_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static int non_empty(const char *name, const char *value, char *err, size_t errlen)
{
    if (value == NULL || value[0] == '\0')
        return error_message(err, errlen, "--%s: empty value", name);
    return 0;
}

/* Applies one option. `value` is the string value (OPT_STRING) or NULL; `flag` for OPT_FLAG. */
static int apply_option(const struct option_def *opt, const char *value, bool flag, struct vmm_config *cfg,
                        struct cli_extra *extra, bool from_json, char *err, size_t errlen)
{
    const char *n = opt->name;
    unsigned long long v;
    if (opt->kind == OPT_STRING && strcmp(n, "cmdline") != 0 && non_empty(n, value, err, errlen) != 0)
        return -1;
    if (strcmp(n, "kernel") == 0) {
        cfg->kernel_path = value;
    } else if (strcmp(n, "initrd") == 0) {
        cfg->initrd_path = value;
    } else if (strcmp(n, "cmdline") == 0) {
        if (value == NULL)
            return error_message(err, errlen, "--cmdline: missing value");
        cfg->cmdline = value;
    } else if (strcmp(n, "mem") == 0) {
        if (cli_parse_size(value, &v) != 0)
            return error_message(err, errlen, "--mem: '%s' is not a size (use e.g. 512M, 2G, or a number of MiB)", value);
        if (v < VMM_MIN_MEM)
            return error_message(err, errlen, "--mem: %s is too small (at least 16M)", value);
        if (v > VMM_MAX_MEM)
            return error_message(err, errlen, "--mem: %s is too large (at most 1T)", value);
        if (v % (64 * 1024) != 0)
            return error_message(err, errlen, "--mem: %s is not a multiple of 64K", value);
        cfg->mem_bytes = v;
    } else if (strcmp(n, "cpus") == 0) {
        if (parse_uint(value, ~0u, &v) != 0 || v == 0 || v > VMM_MAX_CPUS)
            return error_message(err, errlen, "--cpus: '%s' is not a CPU count from 1 to %d", value, VMM_MAX_CPUS);
        cfg->cpus = (uint32_t)v;
    } else if (strcmp(n, "console") == 0) {
        cfg->console = value;
    } else if (strcmp(n, "disk") == 0) {
        return add_disk(cfg, value, err, errlen);
    } else if (strcmp(n, "vsock-cid") == 0) {
        if (parse_uint(value, 0xfffffffeu, &v) != 0 || v < 3)
            return error_message(err, errlen, "--vsock-cid: '%s' is not a guest CID (3..4294967294)", value);
        cfg->vsock_cid = (uint32_t)v;
    } else if (strcmp(n, "vsock-uds") == 0) {
        cfg->vsock_uds = value;
    } else if (strcmp(n, "rng") == 0) {
        cfg->rng = flag;
    } else if (strcmp(n, "dump-dtb") == 0) {
        cfg->dump_dtb = value;
    } else if (strcmp(n, "verify-wipe") == 0) {
        cfg->verify_wipe = flag;
    } else if (strcmp(n, "verbose") == 0) {
        extra->verbose = flag ? extra->verbose + 1 : 0;
    } else if (strcmp(n, "config") == 0) {
        if (from_json)
            return error_message(err, errlen, "config: \"config\" cannot be nested in a config file");
        return apply_config_file(value, cfg, extra, err, errlen);
    }
    return 0;
}

/* One JSON value as an option: strings and numbers as their text, booleans for flags. */
static int apply_json_value(const struct option_def *opt, struct json_object *val, struct vmm_config *cfg,
                            struct cli_extra *extra, const char *file, char *err, size_t errlen)
{
    enum json_type t = json_object_get_type(val);
    if (opt->kind == OPT_FLAG) {
        if (t != json_type_boolean)
            return error_message(err, errlen, "%s: \"%s\" must be true or false", file, opt->name);
        return apply_option(opt, NULL, json_object_get_boolean(val), cfg, extra, true, err, errlen);
    }
    if (strcmp(opt->name, "disk") == 0 && t == json_type_array) {
        for (size_t i = 0; i < json_object_array_length(val); i++)
            if (apply_json_value(opt, json_object_array_get_idx(val, i), cfg, extra, file, err, errlen) != 0)
                return -1;
        return 0;
    }
    if (strcmp(opt->name, "disk") == 0 && t == json_type_object) {
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
    if (t != json_type_string && t != json_type_int)
        return error_message(err, errlen, "%s: \"%s\" must be a string%s", file, opt->name,
                    strcmp(opt->name, "mem") == 0 || strcmp(opt->name, "cpus") == 0 ||
                            strcmp(opt->name, "vsock-cid") == 0
                        ? " or a number"
                        : "");
    if (t == json_type_int && json_object_get_int64(val) < 0)
        return error_message(err, errlen, "%s: \"%s\" must not be negative", file, opt->name);
    return apply_option(opt, json_object_get_string(val), false, cfg, extra, true, err, errlen);
}

static int apply_config_file(const char *path, struct vmm_config *cfg, struct cli_extra *extra, char *err,
                             size_t errlen)
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
    json_object_object_foreach(doc, key, val)
    {
        const struct option_def *opt = find_option(key, strlen(key));
        if (strcmp(key, "disks") == 0)
            opt = find_option("disk", 4);
        if (opt == NULL)
            return error_message(err, errlen, "%s: unknown key \"%s\"", path, key);
        if (apply_json_value(opt, val, cfg, extra, path, err, errlen) != 0)
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

static int validate(const struct vmm_config *cfg, char *err, size_t errlen)
{
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
    cfg->console = "stdio";

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
        if (strcmp(arg, "-v") == 0) {
            extra->verbose++;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            error_message(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return CLI_ERROR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const struct option_def *opt = find_option(name, name_len);
        if (opt == NULL) {
            error_message(err, errlen, "unknown option '--%.*s' (see --help)", (int)name_len, name);
            return CLI_ERROR;
        }
        const char *value = NULL;
        if (opt->kind == OPT_FLAG) {
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
        if (apply_option(opt, value, true, cfg, extra, false, err, errlen) != 0)
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
