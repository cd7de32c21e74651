/* tests/unit/test_jail.c — silo-jail's pure parts (vmm/jail/): the command line and its
 * refusals, sizes and DST paths, the list of mount steps for given options (on a fake host view),
 * the cgroup control files and values, the rlimits; and the relay and init of its PID namespace
 * (jail_init.c), run here as plain processes (the init as a subreaper). What the jail actually
 * does is tests/e2e/jail.sh, in the dev host. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/jail/jail_cgroup.h"
#include "vmm/jail/jail_cli.h"
#include "vmm/jail/jail_identity.h"
#include "vmm/jail/jail_init.h"
#include "vmm/jail/jail_landlock.h"
#include "vmm/jail/jail_mounts.h"

#include <linux/landlock.h>

static struct jail_options opts;
static char err[512];

/* parse("--root", "/r", ..., NULL): argv with "silo-jail" in front */
#define PARSE(...) parse_args((const char *[]){ "silo-jail", __VA_ARGS__, NULL })
static int parse_args(const char **args)
{
    int argc = 0;
    while (args[argc] != NULL)
        argc++;
    err[0] = '\0';
    return jail_parse_options(argc, (char *const *)args, &opts, err, sizeof err);
}

#define MINIMAL "--root", "/run/silo/s1", "--uid", "10001", "--gid", "10002"

static void test_minimal(void)
{
    CHECK_EQ(PARSE(MINIMAL, "--", "/silo-vmm", "--kernel", "/k"), 0);
    CHECK(strcmp(opts.root, "/run/silo/s1") == 0);
    CHECK_EQ(opts.uid, 10001);
    CHECK_EQ(opts.gid, 10002);
    CHECK(strcmp(opts.program_argv[0], "/silo-vmm") == 0);
    CHECK(strcmp(opts.program_argv[2], "/k") == 0);
    CHECK(opts.program_argv[3] == NULL);
    CHECK(opts.cgroup == NULL);
    CHECK_EQ(opts.nbinds, 0);
}

static void test_all_options(void)
{
    CHECK_EQ(PARSE(MINIMAL, "--bind-ro", "/opt/silo/silo-vmm=/silo-vmm", "--bind", "/var/s1=/run//vm/", "--dev",
                   "/dev/kvm", "--cgroup", "/sys/fs/cgroup/silo/s1", "--memory-max", "300M", "--cpu-max",
                   "50000 100000", "--pids-max", "64", "--nofile", "1024", "--as", "2G", "--nproc", "32", "--",
                   "/silo-vmm"),
             0);
    CHECK_EQ(opts.nbinds, 2);
    CHECK(strcmp(opts.binds[0].src, "/opt/silo/silo-vmm") == 0 && strcmp(opts.binds[0].dst, "/silo-vmm") == 0);
    CHECK(!opts.binds[0].writable);
    CHECK(strcmp(opts.binds[1].src, "/var/s1") == 0 && strcmp(opts.binds[1].dst, "/run/vm") == 0);
    CHECK(opts.binds[1].writable);
    CHECK_EQ(opts.ndevs, 1);
    CHECK_EQ(opts.memory_max, 300ull << 20);
    CHECK_EQ(opts.cpu_quota_us, 50000);
    CHECK_EQ(opts.cpu_period_us, 100000);
    CHECK_EQ(opts.pids_max, 64);
    CHECK_EQ(opts.nofile, 1024);
    CHECK_EQ(opts.as_bytes, 2ull << 30);
    CHECK_EQ(opts.nproc, 32);
}

/* Each refusal: status -1 and a message naming the problem. */
static void refused(int rc, const char *want)
{
    CHECK_EQ(rc, -1);
    CHECK(strstr(err, want) != NULL);
}

static void test_refusals(void)
{
    refused(PARSE("--uid", "1", "--gid", "1", "--", "/p"), "--root DIR is required");
    refused(PARSE("--root", "/r", "--uid", "0", "--gid", "1", "--", "/p"), "--uid wants a non-zero");
    refused(PARSE("--root", "/r", "--uid", "1", "--gid", "0", "--", "/p"), "--gid wants a non-zero");
    refused(PARSE("--root", "/r", "--uid", "-1", "--gid", "1", "--", "/p"), "--uid");
    refused(PARSE("--root", "/r", "--uid", "4294967295", "--gid", "1", "--", "/p"), "--uid");
    refused(PARSE("--root", "/r", "--uid", "12x", "--gid", "1", "--", "/p"), "--uid");
    refused(PARSE("--root", "/r", "--gid", "1", "--", "/p"), "--uid and --gid are required");
    refused(PARSE("--root", "relative", "--uid", "1", "--gid", "1", "--", "/p"), "--root wants an absolute");
    refused(PARSE("--root", "/", "--uid", "1", "--gid", "1", "--", "/p"), "--root wants an absolute");
    refused(PARSE(MINIMAL), "no program");
    refused(PARSE(MINIMAL, "--"), "no program");
    refused(PARSE(MINIMAL, "--", "silo-vmm"), "PROGRAM must be an absolute path");
    refused(PARSE(MINIMAL, "/p"), "unexpected '/p'");
    refused(PARSE(MINIMAL, "--frob", "1", "--", "/p"), "unknown option '--frob'");
    refused(PARSE(MINIMAL, "--nofile"), "--nofile needs a value");
}

static void test_bind_refusals(void)
{
    refused(PARSE(MINIMAL, "--bind-ro", "/a", "--", "/p"), "SRC=DST");
    refused(PARSE(MINIMAL, "--bind-ro", "a=/a", "--", "/p"), "absolute SRC");
    refused(PARSE(MINIMAL, "--bind-ro", "=/a", "--", "/p"), "SRC=DST");
    refused(PARSE(MINIMAL, "--bind-ro", "/a=a", "--", "/p"), "DST must be an absolute path");
    refused(PARSE(MINIMAL, "--bind", "/a=/", "--", "/p"), "DST must be an absolute path");
    refused(PARSE(MINIMAL, "--bind", "/a=/x/../etc", "--", "/p"), "DST must be an absolute path");
    refused(PARSE(MINIMAL, "--bind", "/a=/x/./y", "--", "/p"), "DST must be an absolute path");
    refused(PARSE(MINIMAL, "--bind", "/a=/proc/self", "--", "/p"), "overlaps /proc");
    refused(PARSE(MINIMAL, "--bind", "/a=/usr", "--", "/p"), "overlaps /usr/lib");
    refused(PARSE(MINIMAL, "--bind-ro", "/a=/dev/kvm", "--", "/p"), "overlaps /dev");
    refused(PARSE(MINIMAL, "--bind-ro", "/a=/vm", "--bind", "/b=/vm/run", "--", "/p"), "overlaps /vm");
    refused(PARSE(MINIMAL, "--bind-ro", "/a=/vm/x", "--bind", "/b=/vm/", "--", "/p"), "overlaps /vm/x");
    refused(PARSE(MINIMAL, "--bind-ro", "/a=/vm", "--bind", "/b=/vm", "--", "/p"), "overlaps /vm");
    /* siblings and names that merely share a prefix are fine */
    CHECK_EQ(PARSE(MINIMAL, "--bind-ro", "/a=/vm", "--bind", "/b=/vmx", "--bind", "/c=/usr/libexec", "--", "/p"), 0);
}

static void test_dev_and_cgroup_refusals(void)
{
    refused(PARSE(MINIMAL, "--dev", "kvm", "--", "/p"), "--dev wants a device node directly in /dev");
    refused(PARSE(MINIMAL, "--dev", "/etc/kvm", "--", "/p"), "--dev wants");
    refused(PARSE(MINIMAL, "--dev", "/dev/../kvm", "--", "/p"), "--dev wants");
    refused(PARSE(MINIMAL, "--dev", "/dev/net/tun", "--", "/p"), "--dev wants");
    refused(PARSE(MINIMAL, "--dev", "/dev/null", "--", "/p"), "always present");
    refused(PARSE(MINIMAL, "--dev", "/dev/kvm", "--dev", "/dev/kvm", "--", "/p"), "given twice");
    refused(PARSE(MINIMAL, "--cgroup", "/tmp/cg", "--", "/p"), "--cgroup wants a plain path below /sys/fs/cgroup/");
    refused(PARSE(MINIMAL, "--cgroup", "/sys/fs/cgroup/", "--", "/p"), "--cgroup wants");
    refused(PARSE(MINIMAL, "--cgroup", "/sys/fs/cgroup/a/../b", "--", "/p"), "--cgroup wants");
    refused(PARSE(MINIMAL, "--memory-max", "1G", "--", "/p"), "need --cgroup");
    refused(PARSE(MINIMAL, "--pids-max", "4", "--", "/p"), "need --cgroup");
}

static void test_values(void)
{
#define CG "--cgroup", "/sys/fs/cgroup/t/s"
    refused(PARSE(MINIMAL, CG, "--cpu-max", "50000", "--", "/p"), "--cpu-max wants \"QUOTA PERIOD\"");
    refused(PARSE(MINIMAL, CG, "--cpu-max", "50000 100000 1", "--", "/p"), "--cpu-max wants");
    refused(PARSE(MINIMAL, CG, "--cpu-max", "50000 999", "--", "/p"), "--cpu-max wants");
    refused(PARSE(MINIMAL, CG, "--cpu-max", "50000 1000001", "--", "/p"), "--cpu-max wants");
    refused(PARSE(MINIMAL, CG, "--cpu-max", "999 100000", "--", "/p"), "QUOTA must be");
    refused(PARSE(MINIMAL, CG, "--cpu-max", "-5 100000", "--", "/p"), "QUOTA must be");
    CHECK_EQ(PARSE(MINIMAL, CG, "--cpu-max", "max 250000", "--", "/p"), 0);
    CHECK_EQ(opts.cpu_quota_us, 0);
    CHECK_EQ(opts.cpu_period_us, 250000);
    refused(PARSE(MINIMAL, CG, "--memory-max", "12Q", "--", "/p"), "--memory-max wants a size");
    refused(PARSE(MINIMAL, CG, "--memory-max", "1000", "--", "/p"), "at least 1048576");
    refused(PARSE(MINIMAL, CG, "--memory-max", "", "--", "/p"), "--memory-max wants");
    refused(PARSE(MINIMAL, CG, "--pids-max", "0", "--", "/p"), "--pids-max wants a number");
    refused(PARSE(MINIMAL, "--nofile", "0", "--", "/p"), "--nofile wants");
    refused(PARSE(MINIMAL, "--nproc", "x", "--", "/p"), "--nproc wants");
    refused(PARSE(MINIMAL, "--as", "99999999999T", "--", "/p"), "--as wants");
    CHECK_EQ(PARSE("--help"), -2);
#undef CG
}

static void test_sizes_and_paths(void)
{
    uint64_t v = 0;
    CHECK(jail_parse_size("1048576", &v) == 0 && v == 1048576);
    CHECK(jail_parse_size("64K", &v) == 0 && v == 65536);
    CHECK(jail_parse_size("512m", &v) == 0 && v == 512ull << 20);
    CHECK(jail_parse_size("2G", &v) == 0 && v == 2ull << 30);
    CHECK(jail_parse_size("1T", &v) == 0 && v == 1ull << 40);
    CHECK_EQ(jail_parse_size("16777216T", &v), -1); /* 2^64: overflows */
    CHECK_EQ(jail_parse_size("18446744073709551616", &v), -1);
    CHECK_EQ(jail_parse_size("1GB", &v), -1);
    CHECK_EQ(jail_parse_size(" 1", &v), -1);
    CHECK_EQ(jail_parse_size("+1", &v), -1);
    char out[64];
    CHECK(jail_normalise_path("//a///b/", out, sizeof out) == 0 && strcmp(out, "/a/b") == 0);
    CHECK(jail_normalise_path("/a/..b/c.", out, sizeof out) == 0 && strcmp(out, "/a/..b/c.") == 0);
    CHECK_EQ(jail_normalise_path("/a/..", out, sizeof out), -1);
    CHECK_EQ(jail_normalise_path("///", out, sizeof out), -1);
    CHECK_EQ(jail_normalise_path("/aaaaaaaa", out, 8), -1);
    CHECK(jail_paths_overlap("/a", "/a/b") && jail_paths_overlap("/a/b", "/a") && jail_paths_overlap("/a", "/a"));
    CHECK(!jail_paths_overlap("/a", "/ab") && !jail_paths_overlap("/ab", "/a") && !jail_paths_overlap("/a/b", "/a/c"));
}

/* --- the mount plan on a fake host: /lib a symlink to usr/lib, /usr/lib a directory, no /lib64 */
static int fake_stat(const char *path, struct stat *st)
{
    memset(st, 0, sizeof *st);
    if (strcmp(path, "/lib") == 0) {
        st->st_mode = S_IFLNK | 0777;
    } else if (strcmp(path, "/usr/lib") == 0 || strcmp(path, "/var/s1") == 0) {
        st->st_mode = S_IFDIR | 0755;
    } else if (strcmp(path, "/opt/silo-vmm") == 0 || strcmp(path, "/etc/passwd") == 0) {
        st->st_mode = S_IFREG | 0755;
    } else if (strcmp(path, "/dev/null") == 0) {
        st->st_mode = S_IFCHR | 0666;
        st->st_rdev = makedev(1, 3);
    } else if (strcmp(path, "/dev/urandom") == 0) {
        st->st_mode = S_IFCHR | 0666;
        st->st_rdev = makedev(1, 9);
    } else if (strcmp(path, "/dev/kvm") == 0) {
        st->st_mode = S_IFCHR | 0660;
        st->st_rdev = makedev(10, 232);
    } else {
        errno = ENOENT;
        return -1;
    }
    return 0;
}
static ssize_t fake_readlink(const char *path, char *buf, size_t len)
{
    if (strcmp(path, "/lib") != 0 || len < 8)
        return -1;
    memcpy(buf, "usr/lib", 7);
    return 7;
}
static const struct jail_host_view fake_host = { fake_stat, fake_stat, fake_readlink };

static struct jail_mount_plan plan;

static void expect_step(size_t i, enum jail_step_kind kind, const char *dst, const char *src)
{
    CHECK(i < plan.n);
    if (i >= plan.n)
        return;
    CHECK_EQ(plan.steps[i].kind, kind);
    CHECK(strcmp(plan.steps[i].dst, dst) == 0);
    if (src != NULL)
        CHECK(strcmp(plan.steps[i].src, src) == 0);
}

static void test_mount_plan(void)
{
    CHECK_EQ(PARSE(MINIMAL, "--bind-ro", "/opt/silo-vmm=/vm/silo-vmm", "--bind", "/var/s1=/run/vm", "--dev",
                   "/dev/kvm", "--", "/vm/silo-vmm"),
             0);
    CHECK_EQ(jail_plan_mounts(&opts, &fake_host, &plan, err, sizeof err), 0);
    CHECK_EQ(plan.n, 10);
    expect_step(0, JAIL_STEP_TMPFS, "/", NULL);
    CHECK(strstr(plan.steps[0].fs_options, "size=") != NULL);
    expect_step(1, JAIL_STEP_SYMLINK, "/lib", "usr/lib"); /* as on the host */
    expect_step(2, JAIL_STEP_BIND, "/usr/lib", "/usr/lib");
    CHECK(plan.steps[2].read_only && plan.steps[2].dir);
    expect_step(3, JAIL_STEP_BIND, "/vm/silo-vmm", "/opt/silo-vmm");
    CHECK(plan.steps[3].read_only && !plan.steps[3].dir); /* a file mount point */
    expect_step(4, JAIL_STEP_BIND, "/run/vm", "/var/s1");
    CHECK(!plan.steps[4].read_only && plan.steps[4].dir);
    expect_step(5, JAIL_STEP_TMPFS, "/dev", NULL);
    expect_step(6, JAIL_STEP_DEVICE, "/dev/null", NULL);
    CHECK(plan.steps[6].mode == (S_IFCHR | 0666) && plan.steps[6].rdev == makedev(1, 3) &&
          !plan.steps[6].owned_by_jail);
    expect_step(7, JAIL_STEP_DEVICE, "/dev/urandom", NULL);
    CHECK(plan.steps[7].rdev == makedev(1, 9));
    expect_step(8, JAIL_STEP_DEVICE, "/dev/kvm", NULL);
    /* the session's device: same numbers, the session's own, nobody else's */
    CHECK(plan.steps[8].mode == (S_IFCHR | 0600) && plan.steps[8].rdev == makedev(10, 232) &&
          plan.steps[8].owned_by_jail);
    expect_step(9, JAIL_STEP_PROC, "/proc", NULL);
}

static void test_mount_plan_proc_last(void)
{
    CHECK_EQ(PARSE(MINIMAL, "--", "/p"), 0);
    CHECK_EQ(jail_plan_mounts(&opts, &fake_host, &plan, err, sizeof err), 0);
    CHECK_EQ(plan.n, 7); /* root, /lib link, /usr/lib, /dev, null, urandom, /proc */
    expect_step(6, JAIL_STEP_PROC, "/proc", NULL);
    CHECK(strstr(plan.steps[6].fs_options, "hidepid=invisible") != NULL && plan.steps[6].read_only);
}

/* Landlock: each mount-plan entry gets only its kind's rights; what the ABI lacks is left out */
static const struct jail_landlock_rule *rule_for(const struct jail_landlock_plan *lp, const char *path)
{
    for (size_t i = 0; i < lp->n; i++)
        if (strcmp(lp->rules[i].path, path) == 0)
            return &lp->rules[i];
    return NULL;
}

static void test_landlock_plan(void)
{
    CHECK_EQ(PARSE(MINIMAL, "--bind-ro", "/opt/silo-vmm=/vm/silo-vmm", "--bind-ro", "/etc/passwd=/kernel", "--bind",
                   "/var/s1=/run/vm", "--dev", "/dev/kvm", "--", "/vm/silo-vmm"),
             0);
    CHECK_EQ(jail_plan_mounts(&opts, &fake_host, &plan, err, sizeof err), 0);
    static struct jail_landlock_plan lp;
    jail_landlock_plan(&plan, "/vm/silo-vmm", 6, &lp);
    const uint64_t X = LANDLOCK_ACCESS_FS_EXECUTE, R = LANDLOCK_ACCESS_FS_READ_FILE, W = LANDLOCK_ACCESS_FS_WRITE_FILE,
                   D = LANDLOCK_ACCESS_FS_READ_DIR;
    CHECK_EQ(lp.handled_fs, (1ULL << 16) - 1); /* every right ABI 6 knows is handled */
    CHECK(lp.handled_net != 0 && lp.scoped != 0);
    /* the tmpfs root, /dev and the /lib symlink have no rule: nothing beneath them but the rules */
    CHECK(rule_for(&lp, "/") == NULL && rule_for(&lp, "/dev") == NULL && rule_for(&lp, "/lib") == NULL);
    const struct jail_landlock_rule *r;
    CHECK((r = rule_for(&lp, "/usr/lib")) != NULL && r && r->access == (R | D | X)); /* the interpreter */
    CHECK((r = rule_for(&lp, "/vm/silo-vmm")) != NULL && r && r->access == (R | X)); /* the program */
    CHECK((r = rule_for(&lp, "/kernel")) != NULL && r && r->access == R);            /* read, never executed */
    CHECK((r = rule_for(&lp, "/run/vm")) != NULL && r);
    if (r) {
        CHECK((r->access & (R | W | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
                            LANDLOCK_ACCESS_FS_REMOVE_FILE)) ==
              (R | W | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE));
        CHECK((r->access & (X | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                            LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK | (1ULL << 13))) == 0);
    }
    CHECK((r = rule_for(&lp, "/dev/kvm")) != NULL && r && r->access == (R | W | (1ULL << 15))); /* ioctl */
    CHECK((r = rule_for(&lp, "/dev/null")) != NULL);
    CHECK((r = rule_for(&lp, "/proc")) != NULL && r && r->access == (R | D));
    CHECK_EQ(lp.n, 8);
    /* ABI 1 (5.13): only its 13 rights, no network, no scopes; nothing beyond what it handles */
    jail_landlock_plan(&plan, "/vm/silo-vmm", 1, &lp);
    CHECK_EQ(lp.handled_fs, (1ULL << 13) - 1);
    CHECK(lp.handled_net == 0 && lp.scoped == 0);
    for (size_t i = 0; i < lp.n; i++)
        CHECK((lp.rules[i].access & ~lp.handled_fs) == 0);
    CHECK((r = rule_for(&lp, "/dev/kvm")) != NULL && r && r->access == (R | W));
}

static void test_mount_plan_refusals(void)
{
    CHECK_EQ(PARSE(MINIMAL, "--bind-ro", "/nope=/x", "--", "/p"), 0);
    refused(jail_plan_mounts(&opts, &fake_host, &plan, err, sizeof err), "--bind-ro /nope=/x: No such file");
    CHECK_EQ(PARSE(MINIMAL, "--dev", "/dev/sda", "--", "/p"), 0);
    refused(jail_plan_mounts(&opts, &fake_host, &plan, err, sizeof err), "device /dev/sda");
    CHECK_EQ(PARSE(MINIMAL, "--bind", "/etc/passwd=/x", "--dev", "/dev/kvm", "--", "/p"), 0);
    CHECK_EQ(jail_plan_mounts(&opts, &fake_host, &plan, err, sizeof err), 0);
}

static void test_not_a_device(void)
{
    /* a regular file given as --dev is refused at planning time */
    static const struct jail_host_view host = { fake_stat, fake_stat, fake_readlink };
    struct jail_options o;
    memset(&o, 0, sizeof o);
    o.devs[0] = "/etc/passwd";
    o.ndevs = 1;
    refused(jail_plan_mounts(&o, &host, &plan, err, sizeof err), "/etc/passwd is not a device node");
}

/* --- cgroup files ---------------------------------------------------------------------------- */
static void test_cgroup_plan(void)
{
    struct jail_cgroup_write w[JAIL_CGROUP_MAX_WRITES];
    CHECK_EQ(PARSE(MINIMAL, "--", "/p"), 0);
    CHECK_EQ(jail_cgroup_plan(&opts, w), 0);
    CHECK_EQ(PARSE(MINIMAL, "--cgroup", "/sys/fs/cgroup/silo/s1", "--", "/p"), 0);
    CHECK_EQ(jail_cgroup_plan(&opts, w), 0); /* a cgroup without limits: only the move */
    CHECK_EQ(PARSE(MINIMAL, "--cgroup", "/sys/fs/cgroup/silo/s1", "--memory-max", "300M", "--cpu-max",
                   "50000 100000", "--pids-max", "64", "--", "/p"),
             0);
    CHECK_EQ(jail_cgroup_plan(&opts, w), 4);
    CHECK(strcmp(w[0].file, "memory.max") == 0 && strcmp(w[0].value, "314572800") == 0 && !w[0].optional);
    CHECK(strcmp(w[1].file, "memory.swap.max") == 0 && strcmp(w[1].value, "0") == 0 && w[1].optional);
    CHECK(strcmp(w[2].file, "cpu.max") == 0 && strcmp(w[2].value, "50000 100000") == 0);
    CHECK(strcmp(w[3].file, "pids.max") == 0 && strcmp(w[3].value, "64") == 0);
    CHECK_EQ(PARSE(MINIMAL, "--cgroup", "/sys/fs/cgroup/silo/s1", "--cpu-max", "max 100000", "--", "/p"), 0);
    CHECK_EQ(jail_cgroup_plan(&opts, w), 1);
    CHECK(strcmp(w[0].file, "cpu.max") == 0 && strcmp(w[0].value, "max 100000") == 0);
}

/* --- rlimits --------------------------------------------------------------------------------- */
static void test_rlimits_plan(void)
{
    struct jail_rlimit r[JAIL_MAX_RLIMITS];
    CHECK_EQ(PARSE(MINIMAL, "--", "/p"), 0);
    CHECK_EQ(jail_rlimits_plan(&opts, r), 1); /* no core file, always */
    CHECK(r[0].resource == RLIMIT_CORE && r[0].value == 0);
    CHECK_EQ(PARSE(MINIMAL, "--nofile", "256", "--as", "768M", "--nproc", "16", "--", "/p"), 0);
    CHECK_EQ(jail_rlimits_plan(&opts, r), 5);
    CHECK(r[0].resource == RLIMIT_NOFILE && r[0].value == 256);
    CHECK(r[1].resource == RLIMIT_AS && r[1].value == 768ull << 20);
    CHECK(r[2].resource == RLIMIT_NPROC && r[2].value == 16);
    CHECK(r[3].resource == RLIMIT_CORE && r[3].value == 0);
    CHECK(r[4].resource == RLIMIT_MEMLOCK && r[4].value == 768ull << 20); /* guest RAM may be mlocked */
    CHECK(r[4].best_effort && !r[0].best_effort && !r[1].best_effort && !r[2].best_effort && !r[3].best_effort);
}

/* ------------------------------------------------ the relay and init (jail_init.c) */

enum program_kind { EXIT_7, CRASH, TERM_143, KEEPER, SLEEP };
static char keeper_mark[64];

static _Noreturn void program_body(enum program_kind kind, int pid_fd)
{
    pid_t me = getpid();
    if (write(pid_fd, &me, sizeof me) != (ssize_t)sizeof me)
        _exit(99);
    switch (kind) {
    case EXIT_7:
        _exit(7);
    case CRASH:
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        _exit(98);
    case TERM_143: {
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, NULL);
        int sig = 0;
        sigwait(&term, &sig);
        _exit(128 + sig); /* as silo-vmm does after its wipe */
    }
    case KEEPER:
        if (fork() == 0) { /* outlives the program, as silo-vmm's --wipe-keeper does */
            usleep(300 * 1000);
            int fd = open(keeper_mark, O_CREAT | O_WRONLY, 0600);
            _exit(fd >= 0 ? 0 : 1);
        }
        _exit(0);
    case SLEEP:
        for (;;)
            pause();
    }
    _exit(97);
}

/* silo-jail's shape without the namespaces: relay -> init -> program. Returns the relay's pid;
 * the program's pid arrives on *program_pid_fd. */
static pid_t start_relay(enum program_kind kind, int *program_pid_fd)
{
    int pids[2];
    if (pipe(pids) != 0)
        return -1;
    pid_t relay = fork();
    if (relay == 0) {
        close(pids[0]);
        int status_pipe[2], alive_pipe[2];
        if (jail_block_signals() != 0 || pipe2(status_pipe, O_CLOEXEC) != 0 || pipe2(alive_pipe, O_CLOEXEC) != 0)
            _exit(90);
        pid_t init = fork();
        if (init == 0) {
            close(status_pipe[0]);
            close(alive_pipe[1]);
            jail_init_become_reaper();
            pid_t program = fork();
            if (program == 0) {
                jail_unblock_signals();
                program_body(kind, pids[1]);
            }
            close(pids[1]);
            jail_init_run(program, status_pipe[1], alive_pipe[0]);
        }
        close(pids[1]);
        close(status_pipe[1]);
        close(alive_pipe[0]);
        jail_relay_run(init, status_pipe[0]);
    }
    close(pids[1]);
    *program_pid_fd = pids[0];
    return relay;
}

static pid_t read_pid(int fd)
{
    pid_t p = -1;
    if (read(fd, &p, sizeof p) != (ssize_t)sizeof p)
        p = -1;
    return p;
}

static int wait_status(pid_t pid)
{
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static void test_relay_exit_code_and_signal(void)
{
    int fd;
    pid_t relay = start_relay(EXIT_7, &fd);
    CHECK(read_pid(fd) > 0);
    int st = wait_status(relay);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    close(fd);

    relay = start_relay(CRASH, &fd);
    CHECK(read_pid(fd) > 0);
    st = wait_status(relay);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(!WCOREDUMP(st));
    close(fd);
}

static void test_relay_forwards_sigterm(void)
{
    int fd;
    pid_t relay = start_relay(TERM_143, &fd);
    CHECK(read_pid(fd) > 0);
    kill(relay, SIGTERM);
    int st = wait_status(relay);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 143);
    close(fd);
}

static void test_relay_waits_for_keeper(void)
{
    int fd;
    snprintf(keeper_mark, sizeof keeper_mark, "/tmp/silo-test-jail-keeper.%d", (int)getpid());
    unlink(keeper_mark);
    pid_t relay = start_relay(KEEPER, &fd);
    CHECK(read_pid(fd) > 0);
    int st = wait_status(relay);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(access(keeper_mark, F_OK), 0); /* the relay ended only after the keeper */
    unlink(keeper_mark);
    close(fd);
}

static void test_relay_killed_ends_program(void)
{
    int fd;
    pid_t relay = start_relay(SLEEP, &fd);
    pid_t program = read_pid(fd);
    CHECK(program > 0);
    kill(relay, SIGKILL);
    int st = wait_status(relay);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* the init sees the relay's end and SIGKILLs the program */
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        gone = program > 0 && kill(program, 0) != 0 && errno == ESRCH;
        if (!gone)
            usleep(10 * 1000);
    }
    CHECK(gone);
    if (!gone && program > 0)
        kill(program, SIGKILL);
    close(fd);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the minimal command line", test_minimal },
        { "every option", test_all_options },
        { "refusals: missing --root/--uid/--gid, uid 0, bad ids, no or relative PROGRAM", test_refusals },
        { "refusals: --bind SRC=DST (relative, /, '..', reserved, nested or repeated DST)", test_bind_refusals },
        { "refusals: --dev outside /dev, duplicates; --cgroup outside /sys/fs/cgroup; limits without --cgroup",
          test_dev_and_cgroup_refusals },
        { "--cpu-max, sizes, counts", test_values },
        { "sizes and DST paths", test_sizes_and_paths },
        { "the mount plan: root tmpfs, libraries as on the host, binds, /dev nodes, /proc", test_mount_plan },
        { "the mount plan ends with /proc hidepid=invisible, read-only", test_mount_plan_proc_last },
        { "the mount plan refuses a missing SRC or device", test_mount_plan_refusals },
        { "Landlock: each mount-plan entry gets only its kind's rights, masked by the ABI", test_landlock_plan },
        { "the mount plan refuses a --dev that is not a device", test_not_a_device },
        { "cgroup files and their contents", test_cgroup_plan },
        { "rlimits: NOFILE, AS, NPROC as given, CORE 0, MEMLOCK = AS", test_rlimits_plan },
        { "relay: ends with the program's exit code, or dies of its signal (no core)", test_relay_exit_code_and_signal },
        { "relay: SIGTERM reaches the program through the init (exit 143)", test_relay_forwards_sigterm },
        { "relay: ends only after the program's keeper has finished", test_relay_waits_for_keeper },
        { "relay: SIGKILLed, its init SIGKILLs the program", test_relay_killed_ends_program },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
