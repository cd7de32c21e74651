/* tests/unit/test_cli.c — vmm/cli.c: defaults, every option, --opt=value, the JSON config with
 * the same keys and its precedence, one clear line for each bad value, and every row of the
 * option table present in --help, as an option and as a JSON key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/cli.h"

static char kernel[] = "/tmp/test_cli_kernel.XXXXXX";
static char disk[] = "/tmp/test_cli_disk.XXXXXX";
static struct vmm_config cfg;
static struct cli_extra extra;
static char err[512];
static char out_text[16384];

/* Parses a NULL-terminated argument list (argv[0] is added). */
static enum cli_result parse_args(const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"silo-vmm";
    while (*args != NULL && argc < 63)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    memset(out_text, 0, sizeof out_text);
    cli_release(); /* the previous result's JSON documents and strings */
    FILE *out = fmemopen(out_text, sizeof out_text - 1, "w");
    err[0] = '\0';
    enum cli_result r = cli_parse(argc, argv, &cfg, &extra, out, err, sizeof err);
    fclose(out);
    return r;
}

#define PARSE(...) parse_args((const char *const[]){ __VA_ARGS__, NULL })

/* An error: CLI_ERROR and one line mentioning `want`. */
static void check_error(enum cli_result r, const char *want)
{
    CHECK_EQ(r, CLI_ERROR);
    CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
    CHECK(strstr(err, want) != NULL);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "    error was: %s (wanted '%s')\n", err, want);
}

static const char *write_json(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/test_cli_json.XXXXXX");
    int fd = mkstemp(path);
    ssize_t n = write(fd, text, strlen(text));
    (void)n;
    close(fd);
    return path;
}

static void test_defaults(void)
{
    CHECK_EQ(PARSE("--kernel", kernel), CLI_RUN);
    CHECK(strcmp(cfg.kernel_path, kernel) == 0);
    CHECK_EQ(cfg.mem_bytes, 512ULL << 20);
    CHECK_EQ(cfg.cpus, 1);
    CHECK(strcmp(cfg.console, "stdio") == 0);
    CHECK(cfg.initrd_path == NULL && cfg.cmdline == NULL && cfg.dump_dtb == NULL);
    CHECK(cfg.disk_count == 0 && cfg.vsock_cid == 0 && !cfg.rng && !cfg.verify_wipe);
    CHECK_EQ(extra.verbose, 0);
}

static void test_every_option(void)
{
    char disk_ro[80], disk_cow[80];
    snprintf(disk_ro, sizeof disk_ro, "%s,ro", disk);
    snprintf(disk_cow, sizeof disk_cow, "%s,cow,ro", disk);
    CHECK_EQ(PARSE("--kernel", kernel, "--initrd", kernel, "--cmdline", "console=ttyS0 quiet", "--mem", "2G",
                   "--cpus", "4", "--console", "none", "--disk", disk, "--disk", disk_ro, "--disk", disk_cow,
                   "--vsock-cid", "3", "--vsock-uds", "/tmp/v.sock", "--rng", "--dump-dtb", "/tmp/x.dtb",
                   "--verify-wipe", "-v", "--verbose"),
             CLI_RUN);
    CHECK(strcmp(cfg.initrd_path, kernel) == 0);
    CHECK(strcmp(cfg.cmdline, "console=ttyS0 quiet") == 0);
    CHECK_EQ(cfg.mem_bytes, 2ULL << 30);
    CHECK_EQ(cfg.cpus, 4);
    CHECK(strcmp(cfg.console, "none") == 0);
    CHECK_EQ(cfg.disk_count, 3);
    CHECK(strcmp(cfg.disks[0].path, disk) == 0 && !cfg.disks[0].read_only && !cfg.disks[0].cow);
    CHECK(strcmp(cfg.disks[1].path, disk) == 0 && cfg.disks[1].read_only && !cfg.disks[1].cow);
    CHECK(strcmp(cfg.disks[2].path, disk) == 0 && cfg.disks[2].read_only && cfg.disks[2].cow);
    CHECK_EQ(cfg.vsock_cid, 3);
    CHECK(strcmp(cfg.vsock_uds, "/tmp/v.sock") == 0);
    CHECK(cfg.rng && cfg.verify_wipe);
    CHECK(strcmp(cfg.dump_dtb, "/tmp/x.dtb") == 0);
    CHECK_EQ(extra.verbose, 2);
    CHECK_EQ(PARSE("--kernel=" "/dev/null", "--mem=100", "--cpus=2", "--cmdline="), CLI_RUN); /* --opt=value */
    CHECK_EQ(cfg.mem_bytes, 100ULL << 20); /* a plain number is MiB */
    CHECK(strcmp(cfg.cmdline, "") == 0);
}

static void test_sizes(void)
{
    unsigned long long b;
    CHECK(cli_parse_size("512M", &b) == 0 && b == 512ULL << 20);
    CHECK(cli_parse_size("1g", &b) == 0 && b == 1ULL << 30);
    CHECK(cli_parse_size("2GiB", &b) == 0 && b == 2ULL << 30);
    CHECK(cli_parse_size("65536K", &b) == 0 && b == 64ULL << 20);
    CHECK(cli_parse_size("1048576B", &b) == 0 && b == 1ULL << 20);
    CHECK(cli_parse_size("256", &b) == 0 && b == 256ULL << 20);
    CHECK(cli_parse_size("1T", &b) == 0 && b == 1ULL << 40);
    CHECK(cli_parse_size("", &b) != 0);
    CHECK(cli_parse_size("-5M", &b) != 0);
    CHECK(cli_parse_size("12Q", &b) != 0);
    CHECK(cli_parse_size("5MX", &b) != 0);
    CHECK(cli_parse_size(" 5M", &b) != 0);
    CHECK(cli_parse_size("99999999999999999999", &b) != 0);
    CHECK(cli_parse_size("20000000000000T", &b) != 0); /* overflows 64 bits */
}

static void test_bad_values(void)
{
    check_error(PARSE("--kernel", kernel, "--mem", "12Q"), "is not a size");
    check_error(PARSE("--kernel", kernel, "--mem", "8M"), "too small");
    check_error(PARSE("--kernel", kernel, "--mem", "2T"), "too large");
    check_error(PARSE("--kernel", kernel, "--mem", "16400K"), "multiple of 64K");
    check_error(PARSE("--kernel", kernel, "--cpus", "0"), "--cpus");
    check_error(PARSE("--kernel", kernel, "--cpus", "65"), "--cpus");
    check_error(PARSE("--kernel", kernel, "--cpus", "2x"), "--cpus");
    check_error(PARSE("--kernel", kernel, "--cpus", "-1"), "--cpus");
    check_error(PARSE("--kernel", kernel, "--vsock-cid", "2", "--vsock-uds", "/x"), "--vsock-cid");
    check_error(PARSE("--kernel", kernel, "--vsock-cid", "4294967295", "--vsock-uds", "/x"), "--vsock-cid");
    check_error(PARSE("--kernel", kernel, "--vsock-cid", "5"), "together");
    check_error(PARSE("--kernel", kernel, "--vsock-uds", "/x"), "together");
    check_error(PARSE("--kernel", kernel, "--disk", ",ro"), "no path");
    check_error(PARSE("--kernel", kernel, "--disk", "/x,rw"), "unknown flag 'rw'");
    check_error(PARSE("--kernel", kernel, "--disk", "/nonexistent/disk.img"), "cannot open");
    check_error(PARSE("--kernel", kernel, "--console", ""), "--console");
    check_error(PARSE("--kernel", kernel, "--frobnicate"), "unknown option '--frobnicate'");
    check_error(PARSE("--kernel", kernel, "stray"), "unexpected argument 'stray'");
    check_error(PARSE("--kernel"), "needs a value");
    check_error(PARSE("--kernel", kernel, "--rng=yes"), "takes no value");
    check_error(PARSE("--mem", "1G"), "--kernel is required");
    check_error(PARSE("--kernel", "/nonexistent/Image"), "cannot open '/nonexistent/Image'");
    check_error(PARSE("--kernel", kernel, "--initrd", "/nonexistent/initrd"), "--initrd");
    check_error(PARSE("--kernel", ""), "empty value");
    const char *args[VMM_MAX_DISKS * 2 + 8] = { "--kernel", kernel };
    int n = 2;
    for (int i = 0; i <= VMM_MAX_DISKS; i++) {
        args[n++] = "--disk";
        args[n++] = disk;
    }
    args[n] = NULL;
    check_error(parse_args(args), "at most");
}

static void test_help_and_version(void)
{
    CHECK_EQ(PARSE("--help"), CLI_EXIT_OK);
    static const char *const documented[] = { "--kernel", "--initrd", "--cmdline", "--mem", "--cpus", "--console",
                                              "--disk", "--vsock-cid", "--vsock-uds", "--rng", "--dump-dtb",
                                              "--verify-wipe", "--config", "--verbose", "--version", "exit status",
                                              "143", "reset" };
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++) {
        CHECK(strstr(out_text, documented[i]) != NULL);
        if (strstr(out_text, documented[i]) == NULL)
            fprintf(stderr, "    --help lacks %s\n", documented[i]);
    }
    CHECK_EQ(PARSE("--kernel", "/nonexistent", "-h"), CLI_EXIT_OK); /* help wins, nothing validated */
    CHECK_EQ(PARSE("--version"), CLI_EXIT_OK);
    CHECK(strncmp(out_text, "silo-vmm ", 9) == 0);
}

static void test_json_config(void)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{ \"kernel\": \"%s\", \"initrd\": \"%s\", \"cmdline\": \"console=ttyS0\", \"mem\": \"1G\","
             "  \"cpus\": 2, \"console\": \"none\", \"disk\": [\"%s,ro\", {\"path\": \"%s\", \"cow\": true}],"
             "  \"vsock-cid\": 7, \"vsock-uds\": \"/tmp/v.sock\", \"rng\": true, \"verify-wipe\": true,"
             "  \"verbose\": true, \"dump-dtb\": \"/tmp/d.dtb\" }",
             kernel, kernel, disk, disk);
    const char *path = write_json(text);
    CHECK_EQ(PARSE("--config", path), CLI_RUN);
    CHECK(strcmp(cfg.kernel_path, kernel) == 0 && strcmp(cfg.initrd_path, kernel) == 0);
    CHECK(strcmp(cfg.cmdline, "console=ttyS0") == 0);
    CHECK_EQ(cfg.mem_bytes, 1ULL << 30);
    CHECK_EQ(cfg.cpus, 2);
    CHECK(strcmp(cfg.console, "none") == 0);
    CHECK_EQ(cfg.disk_count, 2);
    CHECK(cfg.disks[0].read_only && !cfg.disks[0].cow && strcmp(cfg.disks[0].path, disk) == 0);
    CHECK(!cfg.disks[1].read_only && cfg.disks[1].cow && strcmp(cfg.disks[1].path, disk) == 0);
    CHECK_EQ(cfg.vsock_cid, 7);
    CHECK(cfg.rng && cfg.verify_wipe && extra.verbose == 1);
    CHECK(strcmp(cfg.dump_dtb, "/tmp/d.dtb") == 0);
    /* order decides: options after --config override it, options before are overridden */
    CHECK_EQ(PARSE("--mem", "256M", "--config", path, "--cpus", "3"), CLI_RUN);
    CHECK_EQ(cfg.mem_bytes, 1ULL << 30);
    CHECK_EQ(cfg.cpus, 3);
    unlink(path);
    /* a plain number for mem is MiB, as on the command line; "disks" is accepted too */
    snprintf(text, sizeof text, "{\"kernel\": \"%s\", \"mem\": 128, \"disks\": \"%s\"}", kernel, disk);
    path = write_json(text);
    CHECK_EQ(PARSE("--config", path), CLI_RUN);
    CHECK_EQ(cfg.mem_bytes, 128ULL << 20);
    CHECK_EQ(cfg.disk_count, 1);
    unlink(path);
}

static void test_json_errors(void)
{
    const char *path = write_json("{ \"kernel\": ");
    check_error(PARSE("--config", path), "not valid JSON");
    unlink(path);
    path = write_json("[1, 2]");
    check_error(PARSE("--config", path), "JSON object");
    unlink(path);
    path = write_json("{\"kernal\": \"x\"}");
    check_error(PARSE("--config", path), "unknown key \"kernal\"");
    unlink(path);
    path = write_json("{\"rng\": \"yes\"}");
    check_error(PARSE("--config", path), "true or false");
    unlink(path);
    path = write_json("{\"cpus\": -2}");
    check_error(PARSE("--config", path), "negative");
    unlink(path);
    path = write_json("{\"mem\": \"lots\"}");
    check_error(PARSE("--config", path), "is not a size");
    unlink(path);
    path = write_json("{\"kernel\": [1]}");
    check_error(PARSE("--config", path), "must be a string");
    unlink(path);
    path = write_json("{\"disk\": {\"ro\": true}}");
    check_error(PARSE("--config", path), "\"path\"");
    unlink(path);
    path = write_json("{\"config\": \"/tmp/other.json\"}");
    check_error(PARSE("--config", path), "nested");
    unlink(path);
    check_error(PARSE("--config", "/nonexistent.json"), "cannot open");
}

/* A valid value for each option of the table, for the row test below; a new row needs one. */
static const char *sample_value(const struct cli_option *opt, const char *empty_json)
{
    static const struct {
        const char *name, *value;
    } samples[] = {
        { "cmdline", "console=ttyS0 quiet" }, { "mem", "256M" },   { "cpus", "2" },
        { "console", "none" },                { "vsock-cid", "5" },   { "vsock-uds", "/tmp/other.sock" },
        { "dump-dtb", "/tmp/x.dtb" },         { "snapshot-to", "/tmp/snap" }, { "irqchip", "gicv2" },
        { "cpu-features", "sve,pauth" },
    };
    if (strcmp(opt->name, "kernel") == 0 || strcmp(opt->name, "initrd") == 0)
        return kernel;
    if (strcmp(opt->name, "disk") == 0)
        return disk;
    if (strcmp(opt->name, "config") == 0)
        return empty_json;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        if (strcmp(samples[i].name, opt->name) == 0)
            return samples[i].value;
    return NULL;
}

static void test_machine_options(void)
{
    CHECK_EQ(PARSE("--kernel", kernel), CLI_RUN);
    CHECK_EQ(cfg.irqchip, 0);
    CHECK(cfg.cpu_features_auto && cfg.cpu_features == (VMM_CPU_SVE | VMM_CPU_PAUTH) && !cfg.pmu);
    CHECK_EQ(PARSE("--kernel", kernel, "--irqchip", "gicv2", "--cpu-features", "pauth", "--pmu"), CLI_RUN);
    CHECK(cfg.irqchip == 2 && !cfg.cpu_features_auto && cfg.cpu_features == VMM_CPU_PAUTH && cfg.pmu);
    CHECK_EQ(PARSE("--kernel", kernel, "--irqchip", "gicv3", "--cpu-features", "none"), CLI_RUN);
    CHECK(cfg.irqchip == 3 && !cfg.cpu_features_auto && cfg.cpu_features == 0);
    CHECK_EQ(PARSE("--kernel", kernel, "--cpu-features", "none", "--cpu-features", "auto"), CLI_RUN);
    CHECK(cfg.cpu_features_auto); /* later options win */
    check_error(PARSE("--kernel", kernel, "--irqchip", "gicv4"), "--irqchip: 'gicv4' is not auto, gicv3 or gicv2");
    check_error(PARSE("--kernel", kernel, "--cpu-features", "sve,,mte"), "--cpu-features: '' is not sve or pauth");
    check_error(PARSE("--kernel", kernel, "--cpu-features", "sve,mte"), "--cpu-features: 'mte' is not sve or pauth");
}

/* Every row of the option table is in --help, works as an option and as a JSON key (with its
 * alias, if any): the three views of an option cannot drift apart. */
static void test_every_table_row_everywhere(void)
{
    size_t count;
    const struct cli_option *table = cli_options(&count);
    CHECK(count >= 14);
    CHECK_EQ(PARSE("--help"), CLI_EXIT_OK);
    static char help[sizeof out_text];
    memcpy(help, out_text, sizeof help);
    char empty_json[64];
    strcpy(empty_json, write_json("{}"));
    for (size_t i = 0; i < count; i++) {
        const struct cli_option *opt = &table[i];
        char option[64], json[512];
        snprintf(option, sizeof option, "--%s", opt->name);
        bool in_help = strstr(help, option) != NULL && opt->help != NULL;
        if (opt->short_name != 0) {
            char short_form[8];
            snprintf(short_form, sizeof short_form, "-%c,", opt->short_name);
            in_help = in_help && strstr(help, short_form) != NULL;
        }
        CHECK(in_help);
        if (strcmp(opt->name, "restore") == 0)
            continue; /* excludes --kernel: test_restore_options has it */
        const char *value = opt->kind == CLI_FLAG ? NULL : sample_value(opt, empty_json);
        CHECK(opt->kind == CLI_FLAG || value != NULL);
        if (!in_help || (opt->kind != CLI_FLAG && value == NULL)) {
            fprintf(stderr, "    option table row '%s': missing from --help or without a test value\n", opt->name);
            continue;
        }
        /* as an option (vsock needs both halves, so they are always given) */
        enum cli_result r = value != NULL ? PARSE("--kernel", kernel, "--vsock-cid", "3", "--vsock-uds", "/tmp/v.sock",
                                                  option, value)
                                          : PARSE("--kernel", kernel, "--vsock-cid", "3", "--vsock-uds", "/tmp/v.sock",
                                                  option);
        CHECK_EQ(r, CLI_RUN);
        if (r != CLI_RUN)
            fprintf(stderr, "    %s refused: %s\n", option, err);
        /* as a JSON key, and under its alias */
        const char *keys[2] = { opt->name, opt->json_alias };
        for (size_t k = 0; k < 2 && keys[k] != NULL; k++) {
            if (value != NULL)
                snprintf(json, sizeof json, "{\"%s\": \"%s\"}", keys[k], value);
            else
                snprintf(json, sizeof json, "{\"%s\": true}", keys[k]);
            const char *path = write_json(json);
            r = PARSE("--kernel", kernel, "--vsock-cid", "3", "--vsock-uds", "/tmp/v.sock", "--config", path);
            if (strcmp(opt->name, "config") == 0) {
                check_error(r, "nested"); /* known, and refused inside a config file by design */
            } else {
                CHECK_EQ(r, CLI_RUN);
                if (r != CLI_RUN)
                    fprintf(stderr, "    JSON key \"%s\" refused: %s\n", keys[k], err);
            }
            unlink(path);
        }
    }
    unlink(empty_json);
}

/* --restore takes the machine from the snapshot: machine options are refused beside it. */
static void test_restore_options(void)
{
    CHECK_EQ(PARSE("--restore", "/tmp/snap", "--vsock-uds", "/tmp/v.sock", "--verify-wipe", "-v"), CLI_RUN);
    CHECK(cfg.restore_dir != NULL && strcmp(cfg.restore_dir, "/tmp/snap") == 0);
    CHECK(cfg.verify_wipe && extra.verbose == 1 && cfg.kernel_path == NULL);
    check_error(PARSE("--restore", "/tmp/snap", "--kernel", kernel), "--kernel cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--mem", "1G"), "--mem cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--cpus", "2"), "--cpus cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--irqchip", "gicv3"), "--irqchip cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--pmu"), "--pmu cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--cpu-features", "none"),
                "--cpu-features cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--disk", disk), "--disk cannot be combined with --restore");
    check_error(PARSE("--restore", "/tmp/snap", "--vsock-cid", "4"), "--vsock-cid cannot be combined");
    check_error(PARSE("--restore", "/tmp/snap", "--snapshot-to", "/tmp/s2"), "--snapshot-to cannot be combined");
    check_error(PARSE("--restore", "/tmp/snap", "--cmdline", "quiet"), "--cmdline cannot be combined");
    check_error(PARSE("--restore", ""), "--restore: empty value");
    /* a restore may have the keeper: the snapshot's memory is then copied into the memfd */
    CHECK_EQ(PARSE("--restore", "/tmp/snap", "--vsock-uds", "/tmp/v.sock", "--wipe-keeper"), CLI_RUN);
    CHECK(cfg.wipe_keeper && cfg.restore_dir != NULL);
    CHECK_EQ(PARSE("--kernel", kernel, "--wipe-keeper", "--mlock"), CLI_RUN);
    CHECK(cfg.wipe_keeper && cfg.mlock);
    CHECK_EQ(PARSE("--kernel", kernel, "--snapshot-to", "/tmp/snapdir"), CLI_RUN);
    CHECK(cfg.snapshot_to != NULL && strcmp(cfg.snapshot_to, "/tmp/snapdir") == 0);
}

int main(void)
{
    int fd = mkstemp(kernel);
    close(fd);
    fd = mkstemp(disk);
    close(fd);
    static const struct unit_test tests[] = {
        { "--irqchip, --cpu-features, --pmu: defaults, values, refusals", test_machine_options },
        { "defaults", test_defaults },
        { "every option, and --opt=value", test_every_option },
        { "sizes: suffixes, plain MiB, junk and overflow", test_sizes },
        { "bad values get one clear line", test_bad_values },
        { "--help documents every option and exit status; --version", test_help_and_version },
        { "--config JSON with the same keys, applied in order", test_json_config },
        { "--config errors: syntax, type, unknown key, nesting", test_json_errors },
        { "every option table row: in --help, as an option, as a JSON key", test_every_table_row_everywhere },
        { "--restore: the machine comes from the snapshot; machine options refused", test_restore_options },
    };
    int r = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    unlink(kernel);
    unlink(disk);
    cli_release();
    return r;
}
