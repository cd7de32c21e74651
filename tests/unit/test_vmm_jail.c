/* tests/unit/test_vmm_jail.c — silod's side of the VMM jail (frontend/vmm_jail.c): the jailed
 * command line (paths translated, limits computed), uid slot allocation and exhaustion, the
 * cgroup files' parsers, and the slot's places made and removed in a scratch directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <sys/wait.h>

#include "frontend/jail_handoff.h"
#include "frontend/vmm_jail.h"
#include "tests/unit/check.h"

static const struct vmm_jail_config base_cfg = {
    .program = "/opt/silo/silo-jail", .dir = "/run/silo/jail", .uid_first = 200000, .uid_count = 3,
    .cgroup_parent = "/sys/fs/cgroup/silo", .vmm_overhead_mib = 64, .guest_memory_percent = 100,
    .address_space_extra_mib = 16384, .pids_max = 256, .nofile = 4096,
};

/* The argument right after `option` before the "--", or NULL. */
static const char *option_value(const char *const *argv, int n, const char *option)
{
    for (int i = 0; i + 1 < n && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], option) == 0)
            return argv[i + 1];
    return NULL;
}

static int index_of(const char *const *argv, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(argv[i], s) == 0)
            return i;
    return -1;
}

static bool has_pair(const char *const *argv, int n, const char *option, const char *value)
{
    for (int i = 0; i + 1 < n && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], option) == 0 && strcmp(argv[i + 1], value) == 0)
            return true;
    return false;
}

static void test_argv_boot(void)
{
    struct vmm_jail_slot s;
    CHECK(vmm_jail_slot_paths(&base_cfg, 200001, &s));
    CHECK(strcmp(s.root, "/run/silo/jail/200001") == 0 && strcmp(s.run_dir, "/run/silo/jail/200001.run") == 0 &&
          strcmp(s.cgroup, "/sys/fs/cgroup/silo/vmm-200001") == 0);
    struct microvm_params p = {
        .vmm_path = "/usr/bin/silo-vmm", .kernel = "/var/lib/silo/Image", .initrd = "/var/lib/silo/initrd",
        .shape = { 512, 2 }, .disk = "/var/lib/silo/images/rt-v1.ext4", .vsock_path = "/run/silo/jail/200001.run/vm.sock",
    };
    const char *argv[VMM_JAIL_ARGV_MAX];
    char buf[8192];
    int n = vmm_jail_argv(&base_cfg, &s, &p, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf);
    CHECK(n > 0);
    if (n <= 0)
        return;
    CHECK(argv[n] == NULL);
    CHECK(strcmp(argv[0], "/opt/silo/silo-jail") == 0);
    CHECK(strcmp(option_value(argv, n, "--root"), "/run/silo/jail/200001") == 0);
    CHECK(strcmp(option_value(argv, n, "--uid"), "200001") == 0 && strcmp(option_value(argv, n, "--gid"), "200001") == 0);
    CHECK(has_pair(argv, n, "--bind-ro", "/usr/bin/silo-vmm=/silo-vmm"));
    CHECK(has_pair(argv, n, "--bind-ro", "/var/lib/silo/Image=/kernel"));
    CHECK(has_pair(argv, n, "--bind-ro", "/var/lib/silo/initrd=/initrd"));
    CHECK(has_pair(argv, n, "--bind-ro", "/var/lib/silo/images/rt-v1.ext4=/disk"));
    CHECK(has_pair(argv, n, "--bind", "/run/silo/jail/200001.run=/run"));
    CHECK(has_pair(argv, n, "--dev", "/dev/kvm"));
    CHECK(strcmp(option_value(argv, n, "--cgroup"), "/sys/fs/cgroup/silo/vmm-200001") == 0);
    CHECK(strcmp(option_value(argv, n, "--memory-max"), "603979776") == 0);      /* (512 + 64) MiB */
    CHECK(strcmp(option_value(argv, n, "--cpu-max"), "200000 100000") == 0);
    CHECK(strcmp(option_value(argv, n, "--pids-max"), "256") == 0);
    CHECK(strcmp(option_value(argv, n, "--nofile"), "4096") == 0);
    CHECK(strcmp(option_value(argv, n, "--as"), "17716740096") == 0);            /* (512 + 16384) MiB */
    int dd = index_of(argv, n, "--");
    CHECK(dd > 0 && dd + 1 < n && strcmp(argv[dd + 1], "/silo-vmm") == 0);
    if (dd <= 0)
        return;
    /* the VMM sees only jail paths; no host path after the "--" */
    const char *const *vmm = argv + dd + 1;
    int vn = n - dd - 1;
    CHECK(has_pair(vmm, vn, "--kernel", "/kernel") && has_pair(vmm, vn, "--initrd", "/initrd"));
    CHECK(has_pair(vmm, vn, "--disk", "/disk,cow") && has_pair(vmm, vn, "--vsock-uds", "/run/vm.sock"));
    CHECK(has_pair(vmm, vn, "--mem", "512M") && has_pair(vmm, vn, "--cpus", "2"));
    for (int i = 0; i < vn; i++)
        CHECK(strstr(vmm[i], "/var/lib/silo") == NULL && strstr(vmm[i], "/run/silo") == NULL);
}

static void test_argv_restore_and_limits(void)
{
    struct vmm_jail_config cfg = base_cfg;
    cfg.cgroup_parent = NULL;           /* no cgroup: no cgroup options */
    cfg.guest_memory_percent = 25;
    cfg.gid = 199999;                   /* the jailed VMMs' shared group */
    struct vmm_jail_slot s;
    CHECK(vmm_jail_slot_paths(&cfg, 200000, &s) && s.cgroup[0] == '\0');
    struct microvm_params p = {
        .vmm_path = "/usr/bin/silo-vmm", .kernel = "/k", .disk = "images/rt-v1.ext4",
        .vsock_path = "/run/silo/jail/200000.run/vm.sock", .restore_dir = "/var/lib/silo/images/rt-v1.snap",
        .verify_wipe = true,
    };
    const char *argv[VMM_JAIL_ARGV_MAX];
    char buf[8192];
    /* a restore needs the disk's absolute host path (the snapshot names it) */
    CHECK(vmm_jail_argv(&cfg, &s, &p, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    CHECK(vmm_jail_argv(&cfg, &s, &p, "images/rt-v1.ext4", argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    int n = vmm_jail_argv(&cfg, &s, &p, "/var/lib/silo/images/rt-v1.ext4", argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf);
    CHECK(n > 0);
    if (n <= 0)
        return;
    CHECK(has_pair(argv, n, "--bind-ro", "/var/lib/silo/images/rt-v1.snap=/snapshot"));
    CHECK(strcmp(option_value(argv, n, "--uid"), "200000") == 0 && strcmp(option_value(argv, n, "--gid"), "199999") == 0);
    CHECK(has_pair(argv, n, "--bind-ro", "/var/lib/silo/images/rt-v1.ext4=/var/lib/silo/images/rt-v1.ext4"));
    CHECK(option_value(argv, n, "--cgroup") == NULL && option_value(argv, n, "--memory-max") == NULL);
    CHECK(index_of(argv, n, "/k=/kernel") < 0);
    int dd = index_of(argv, n, "--");
    CHECK(dd > 0);
    if (dd <= 0)
        return;
    const char *const *vmm = argv + dd + 1;
    int vn = n - dd - 1;
    CHECK(has_pair(vmm, vn, "--restore", "/snapshot") && has_pair(vmm, vn, "--vsock-uds", "/run/vm.sock") &&
          index_of(vmm, vn, "--verify-wipe") > 0 && index_of(vmm, vn, "--kernel") < 0);
    /* memory.max: a share of the guest RAM plus the overhead */
    CHECK(vmm_jail_memory_max(&cfg, 512) == (128ull + 64) << 20);
    cfg.guest_memory_percent = 0;
    CHECK(vmm_jail_memory_max(&cfg, 512) == (512ull + 64) << 20);

    /* refusals: the socket outside the run directory, a '=' in a host path, no room */
    struct microvm_params q = { .vmm_path = "/v", .kernel = "/k", .disk = "/d", .vsock_path = "/tmp/s.sock" };
    CHECK(vmm_jail_argv(&cfg, &s, &q, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    q.vsock_path = "/run/silo/jail/200000.run/sub/s.sock";
    CHECK(vmm_jail_argv(&cfg, &s, &q, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    q.vsock_path = "/run/silo/jail/200000.run/vm.sock";
    CHECK(vmm_jail_argv(&cfg, &s, &q, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) > 0);
    q.disk = "/d=x";
    CHECK(vmm_jail_argv(&cfg, &s, &q, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    q.disk = "/d";
    CHECK(vmm_jail_argv(&cfg, &s, &q, NULL, argv, 10, buf, sizeof buf) == -1);
    CHECK(vmm_jail_argv(&cfg, &s, &q, NULL, argv, VMM_JAIL_ARGV_MAX, buf, 40) == -1);
    struct vmm_jail_slot none = s;
    none.uid = 0;
    CHECK(vmm_jail_argv(&cfg, &none, &q, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
}

static void test_uid_slots(void)
{
    struct vmm_jail *j = vmm_jail_new_detached(&base_cfg);
    CHECK(j != NULL);
    if (!j)
        return;
    struct vmm_jail_slot a, b, c, d;
    char err[256];
    CHECK(vmm_jail_acquire(j, &a, err, sizeof err) == 0 && a.uid == 200000);
    CHECK(vmm_jail_acquire(j, &b, err, sizeof err) == 0 && b.uid == 200001);
    CHECK(vmm_jail_acquire(j, &c, err, sizeof err) == 0 && c.uid == 200002);
    CHECK_EQ(vmm_jail_in_use(j), 3);
    /* exhausted: refused with one line naming the range */
    CHECK(vmm_jail_acquire(j, &d, err, sizeof err) == -1 && d.uid == 0);
    CHECK(strstr(err, "all 3 of jail.uid_first 200000") != NULL);
    /* a uid is handed out again only after it was given back */
    vmm_jail_release(j, &b);
    CHECK(b.uid == 0);
    CHECK_EQ(vmm_jail_in_use(j), 2);
    vmm_jail_release(j, &b);            /* twice: nothing */
    CHECK_EQ(vmm_jail_in_use(j), 2);
    CHECK(vmm_jail_acquire(j, &d, err, sizeof err) == 0 && d.uid == 200001);
    vmm_jail_release(j, &a);
    vmm_jail_release(j, &c);
    vmm_jail_release(j, &d);
    CHECK_EQ(vmm_jail_in_use(j), 0);
    vmm_jail_free(j);
    /* uid 0 and a range past 2^31 are never accepted */
    struct vmm_jail_config bad = base_cfg;
    bad.uid_first = 0;
    CHECK(vmm_jail_new_detached(&bad) == NULL);
    bad.uid_first = 2147483000u;
    bad.uid_count = 1000;
    CHECK(vmm_jail_new_detached(&bad) == NULL);
}

static void test_cgroup_parsers(void)
{
    static const char events[] = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 1\noom_group_kill 0\n";
    uint64_t v = 99;
    CHECK(vmm_cgroup_key_value(events, strlen(events), "oom_kill", &v) && v == 1);
    CHECK(vmm_cgroup_key_value(events, strlen(events), "oom", &v) && v == 3);    /* not oom_kill's prefix */
    CHECK(vmm_cgroup_key_value(events, strlen(events), "max", &v) && v == 12);
    CHECK(!vmm_cgroup_key_value(events, strlen(events), "oom_kil", &v));
    static const char stat[] = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n";
    CHECK(vmm_cgroup_key_value(stat, strlen(stat), "usage_usec", &v) && v == 1234567);
    /* without a final newline; not NUL-terminated at len */
    CHECK(vmm_cgroup_key_value("a 1\nb 22XYZ", 8, "b", &v) && v == 22);
    /* malformed values refused */
    CHECK(!vmm_cgroup_key_value("oom_kill x\n", 11, "oom_kill", &v));
    CHECK(!vmm_cgroup_key_value("oom_kill \n", 10, "oom_kill", &v));
    CHECK(!vmm_cgroup_key_value("oom_kill 99999999999999999999999\n", 33, "oom_kill", &v));
    CHECK(!vmm_cgroup_key_value("", 0, "oom_kill", &v));
    CHECK(vmm_cgroup_single_value("603979776\n", 10, &v) && v == 603979776ull);
    CHECK(vmm_cgroup_single_value("max\n", 4, &v) && v == UINT64_MAX);
    CHECK(!vmm_cgroup_single_value("maximum\n", 8, &v));
    CHECK(!vmm_cgroup_single_value("-1\n", 3, &v));
    CHECK(!vmm_cgroup_single_value("12 34\n", 6, &v));
}

/* A fake cgroup directory read like the kernel's. */
static void test_cgroup_read(void)
{
    char dir[] = "/tmp/test_vmm_jail_cg.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    static const char *const files[][2] = {
        { "memory.events", "low 0\nhigh 0\nmax 40\noom 2\noom_kill 1\n" },
        { "memory.peak", "201326592\n" },
        { "memory.max", "201326592\n" },
        { "cpu.stat", "usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\n" },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f) {
            fputs(files[i][1], f);
            fclose(f);
        }
    }
    struct vmm_cgroup_result r;
    vmm_cgroup_read(dir, &r);
    CHECK(r.read && r.oom_kills == 1 && r.memory_peak_bytes == 201326592ull && r.cpu_usage_usec == 5000000ull &&
          r.memory_max_bytes == 201326592ull);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        unlink(path);
    }
    rmdir(dir);
    vmm_cgroup_read(dir, &r);            /* gone: nothing read */
    CHECK(!r.read && r.oom_kills == 0);
}

/* A jail over a scratch directory made from dir (a mkdtemp template), no cgroup, its uids from
 * uid_first (0: base_cfg's); *cfg is the config it was made with. NULL (a failed check) when it
 * cannot be made. */
static struct vmm_jail *scratch_jail(char *dir, unsigned uid_first, struct vmm_jail_config *cfg)
{
    CHECK(mkdtemp(dir) != NULL);
    *cfg = base_cfg;
    cfg->dir = dir;
    if (uid_first)
        cfg->uid_first = uid_first;
    cfg->cgroup_parent = NULL;
    cfg->program = "/bin/true";
    char err[256];
    struct vmm_jail *j = vmm_jail_new(cfg, err, sizeof err);
    CHECK(j != NULL);
    return j;
}

/* The slot's places made (root 0755, run dir 0700 owned by the uid) and removed, in a scratch
 * directory: only as root (chown to the uid). */
static void test_places(void)
{
    if (geteuid() != 0) {
        printf("#   (not root: the slot's directories are checked in the dev host only)\n");
        return;
    }
    char dir[] = "/tmp/test_vmm_jail_dir.XXXXXX";
    struct vmm_jail_config cfg;
    struct vmm_jail *j = scratch_jail(dir, 0, &cfg);
    if (!j)
        return;
    char err[256];
    struct vmm_jail_slot s;
    CHECK(vmm_jail_acquire(j, &s, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(s.root, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) == 0755);
    CHECK(stat(s.run_dir, &st) == 0 && st.st_uid == s.uid && (st.st_mode & 07777) == 0700);
    char sock[256];
    snprintf(sock, sizeof sock, "%s/vm.sock_1234", s.run_dir);
    FILE *f = fopen(sock, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(vmm_jail_give_run_dir(&s, err, sizeof err) == 0 && stat(sock, &st) == 0 && st.st_uid == s.uid);
    /* the version's files, owner-only, shared with the jailed VMMs' group (others untouched) */
    cfg.gid = 4242;
    char file[256], snap[256], snap_file[300];
    snprintf(file, sizeof file, "%s/image.ext4", dir);
    snprintf(snap, sizeof snap, "%s/image.snap", dir);
    snprintf(snap_file, sizeof snap_file, "%s/memory", snap);
    FILE *img = fopen(file, "w");
    CHECK(img != NULL);
    if (img)
        fclose(img);
    chmod(file, 0600);
    CHECK(mkdir(snap, 0700) == 0);
    img = fopen(snap_file, "w");
    if (img)
        fclose(img);
    chmod(snap_file, 0600);
    CHECK(vmm_jail_share(&cfg, file, err, sizeof err) == 0 && vmm_jail_share(&cfg, snap, err, sizeof err) == 0);
    CHECK(stat(file, &st) == 0 && st.st_gid == 4242 && (st.st_mode & 07777) == 0640);
    CHECK(stat(snap, &st) == 0 && st.st_gid == 4242 && (st.st_mode & 07777) == 0750);
    CHECK(stat(snap_file, &st) == 0 && st.st_gid == 4242 && (st.st_mode & 07777) == 0640);
    CHECK(vmm_jail_share(&cfg, "/nonexistent/x", err, sizeof err) == -1 && strstr(err, "/nonexistent/x") != NULL);
    unlink(snap_file);
    rmdir(snap);
    unlink(file);
    struct vmm_jail_slot copy = s;
    vmm_jail_release(j, &s);
    CHECK(stat(copy.root, &st) != 0 && stat(copy.run_dir, &st) != 0);
    CHECK_EQ(vmm_jail_in_use(j), 0);
    vmm_jail_free(j);
    rmdir(dir);
}

/* The image builder's boot check: the disk at its host path (the snapshot names it so), the
 * caller's directory bound writable at /snapshot-out and the snapshot an entry of it. */
static void test_argv_snapshot_to(void)
{
    struct vmm_jail_slot s;
    CHECK(vmm_jail_slot_paths(&base_cfg, 200002, &s));
    struct microvm_params p = {
        .vmm_path = "/opt/silo/silo-vmm", .kernel = "/opt/silo/Image", .shape = { 256, 1 },
        .disk = "images/rt-v1.ext4", .vsock_path = "/run/silo/jail/200002.run/vm.sock",
        .snapshot_to = "/var/lib/silo/images/rt-v1.snap.tmp",
    };
    const char *argv[VMM_JAIL_ARGV_MAX];
    char buf[16384];
    /* the disk's absolute host path is required: the snapshot will name it */
    CHECK(vmm_jail_argv(&base_cfg, &s, &p, NULL, argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    CHECK(vmm_jail_argv(&base_cfg, &s, &p, "images/rt-v1.ext4", argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf) == -1);
    int n = vmm_jail_argv(&base_cfg, &s, &p, "/var/lib/silo/images/rt-v1.ext4", argv, VMM_JAIL_ARGV_MAX, buf, sizeof buf);
    CHECK(n > 0 && argv[n] == NULL);
    if (n <= 0)
        return;
    CHECK(has_pair(argv, n, "--bind-ro", "/var/lib/silo/images/rt-v1.ext4=/var/lib/silo/images/rt-v1.ext4"));
    CHECK(has_pair(argv, n, "--bind", "/var/lib/silo/images/rt-v1.snap.tmp=/snapshot-out"));
    CHECK(has_pair(argv, n, "--bind-ro", "/opt/silo/Image=/kernel"));
    int dash = index_of(argv, n, "--");
    CHECK(dash > 0);
    const char *const *vmm = argv + dash + 1;
    int vn = n - dash - 1;
    CHECK(has_pair(vmm, vn, "--snapshot-to", "/snapshot-out/" VMM_JAIL_SNAPSHOT_NAME));
    CHECK(has_pair(vmm, vn, "--kernel", "/kernel"));
    bool disk_at_host_path = false;
    for (int i = 0; i + 1 < vn; i++)
        disk_at_host_path |= strcmp(vmm[i], "--disk") == 0 && strncmp(vmm[i + 1], "/var/lib/silo/images/rt-v1.ext4", 31) == 0;
    CHECK(disk_at_host_path);
    CHECK(index_of(vmm, vn, "/disk") < 0);
}

/* A slot handed to the image builder: what silod encodes, the builder decodes to the same
 * config and slot; hostile or broken hand-offs refused with one line. */
static void test_handoff(void)
{
    char *json = jail_handoff_encode(&base_cfg, 200001);
    CHECK(json != NULL);
    struct jail_handoff h;
    char err[200] = "";
    CHECK(jail_handoff_decode(json, &h, err, sizeof err) == 0);
    CHECK(strcmp(h.cfg.program, base_cfg.program) == 0 && strcmp(h.cfg.dir, base_cfg.dir) == 0 &&
          strcmp(h.cfg.cgroup_parent, base_cfg.cgroup_parent) == 0);
    CHECK(h.cfg.uid_first == 200000 && h.cfg.uid_count == 3 && h.cfg.vmm_overhead_mib == 64 &&
          h.cfg.guest_memory_percent == 100 && h.cfg.address_space_extra_mib == 16384 && h.cfg.pids_max == 256 &&
          h.cfg.nofile == 4096 && h.cfg.gid == 0);
    struct vmm_jail_slot want;
    CHECK(vmm_jail_slot_paths(&base_cfg, 200001, &want));
    CHECK(h.slot.uid == 200001 && strcmp(h.slot.root, want.root) == 0 && strcmp(h.slot.run_dir, want.run_dir) == 0 &&
          strcmp(h.slot.cgroup, want.cgroup) == 0);
    free(json);

    struct vmm_jail_config nocg = base_cfg;     /* no cgroup parent: none in the slot */
    nocg.cgroup_parent = NULL;
    nocg.gid = 199999;
    json = jail_handoff_encode(&nocg, 200000);
    CHECK(jail_handoff_decode(json, &h, err, sizeof err) == 0 && h.cfg.cgroup_parent == NULL && h.slot.cgroup[0] == '\0' &&
          h.cfg.gid == 199999);
    free(json);

    static const char *const bad[] = {
        NULL, "", "[]", "{}", "not json",
        /* the uid outside the range, uid_first 0 */
        "{\"program\":\"/j\",\"dir\":\"/d\",\"uid_first\":10,\"uid_count\":2,\"gid\":0,\"cgroup_parent\":\"\","
        "\"vmm_overhead_mib\":1,\"guest_memory_percent\":100,\"address_space_extra_mib\":1,\"pids_max\":1,\"nofile\":1,\"uid\":12}",
        "{\"program\":\"/j\",\"dir\":\"/d\",\"uid_first\":0,\"uid_count\":2,\"gid\":0,\"cgroup_parent\":\"\","
        "\"vmm_overhead_mib\":1,\"guest_memory_percent\":100,\"address_space_extra_mib\":1,\"pids_max\":1,\"nofile\":1,\"uid\":0}",
        /* a relative program, a negative number, a percent over 100 */
        "{\"program\":\"j\",\"dir\":\"/d\",\"uid_first\":10,\"uid_count\":2,\"gid\":0,\"cgroup_parent\":\"\","
        "\"vmm_overhead_mib\":1,\"guest_memory_percent\":100,\"address_space_extra_mib\":1,\"pids_max\":1,\"nofile\":1,\"uid\":10}",
        "{\"program\":\"/j\",\"dir\":\"/d\",\"uid_first\":10,\"uid_count\":2,\"gid\":-1,\"cgroup_parent\":\"\","
        "\"vmm_overhead_mib\":1,\"guest_memory_percent\":100,\"address_space_extra_mib\":1,\"pids_max\":1,\"nofile\":1,\"uid\":10}",
        "{\"program\":\"/j\",\"dir\":\"/d\",\"uid_first\":10,\"uid_count\":2,\"gid\":0,\"cgroup_parent\":\"\","
        "\"vmm_overhead_mib\":1,\"guest_memory_percent\":101,\"address_space_extra_mib\":1,\"pids_max\":1,\"nofile\":1,\"uid\":10}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(jail_handoff_decode(bad[i], &h, err, sizeof err) == -1 && strncmp(err, JAIL_HANDOFF_ENV ": ", 16) == 0 &&
              h.slot.uid == 0);
    }
    /* the good one of those, for contrast */
    CHECK(jail_handoff_decode("{\"program\":\"/j\",\"dir\":\"/d\",\"uid_first\":10,\"uid_count\":2,\"gid\":0,"
                              "\"cgroup_parent\":\"\",\"vmm_overhead_mib\":1,\"guest_memory_percent\":100,"
                              "\"address_space_extra_mib\":1,\"pids_max\":1,\"nofile\":1,\"uid\":11}",
                              &h, err, sizeof err) == 0 && h.slot.uid == 11);
}

/* Without a cgroup, a slot is given back only once no live process runs as its uid (a jail
 * whose relay was killed: its VMM and keeper end a moment later under that uid). */
static void test_release_waits_for_uid(void)
{
    if (geteuid() != 0) {
        printf("#   (not root: checked where the unit tests run as root)\n");
        return;
    }
    char dir[] = "/tmp/test_vmm_jail_uid.XXXXXX";
    struct vmm_jail_config cfg;
    /* uids no other test uses */
    struct vmm_jail *j = scratch_jail(dir, 290000 + (unsigned)(getpid() % 1000) * 4, &cfg);
    if (!j)
        return;
    char err[256];
    struct vmm_jail_slot s;
    CHECK(vmm_jail_acquire(j, &s, err, sizeof err) == 0);
    /* an orphan of the slot's uid that lives 600 ms more (its parent exits at once) */
    pid_t child = fork();
    if (child == 0) {
        if (fork() == 0) {
            if (setresgid(s.uid, s.uid, s.uid) != 0 || setresuid(s.uid, s.uid, s.uid) != 0)
                _exit(1);
            usleep(600 * 1000);
            _exit(0);
        }
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    usleep(100 * 1000);             /* the orphan has changed its uid */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned uid = s.uid;
    vmm_jail_release(j, &s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(ms >= 300 && ms < 30000);
    CHECK_EQ(vmm_jail_in_use(j), 0);
    /* and the uid is handed out again */
    CHECK(vmm_jail_acquire(j, &s, err, sizeof err) == 0 && s.uid == uid);
    vmm_jail_release(j, &s);
    vmm_jail_free(j);
    rmdir(dir);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the jailed argv: silo-jail's options, then the VMM's argv with jail paths only", test_argv_boot },
        { "a restore binds the snapshot and its disk at the host path; no cgroup, no cgroup options; refusals",
          test_argv_restore_and_limits },
        { "a snapshot-taking VMM: its disk at the host path, the snapshot in a writable /snapshot-out", test_argv_snapshot_to },
        { "a slot handed to the image builder: encoded, decoded alike; bad hand-offs refused", test_handoff },
        { "uid slots: lowest free, never 0, exhaustion refused, reused only after release", test_uid_slots },
        { "cgroup files: flat keys, single values, malformed values refused", test_cgroup_parsers },
        { "a cgroup directory's results read (oom_kill, peak, usage, max)", test_cgroup_read },
        { "a slot's root and run directory made and removed (root only)", test_places },
        { "without a cgroup, a slot is given back only once no process of its uid lives (root only)",
          test_release_waits_for_uid },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
