/* tests/unit/test_image_builder.c — silod's side of the image-builder contract
 * (frontend/image_builder.h): the arguments and environment a builder gets, the version
 * configuration file (present while it runs, 0600, removed after), and the failure reason taken
 * from the builder's last stderr line, the build timeout (the builder's whole process group is
 * ended), the bound on concurrent builds and the boot check's guest-memory reservation. The
 * builders here are small sh scripts written by the test. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frontend/image_builder.h"
#include "frontend/silod_config.h"
#include "tests/unit/check.h"

static char dir[64];

static void write_script(const char *name, const char *body)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    chmod(p, 0755);
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static struct image_builder *current;

/* A builder running dir/script with a timeout and a concurrency bound (0: defaults); the
 * previous one is freed. */
static struct image_builder *builder_with(const char *script, unsigned timeout_s, unsigned max_concurrent)
{
    image_builder_free(current);
    static struct vmm_launcher_config lc;
    lc = (struct vmm_launcher_config){ "/opt/silo-vmm", "/opt/Image", NULL, dir, dir, 1, 45000, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    char cmd[128];
    snprintf(cmd, sizeof cmd, "%s/%s", dir, script);
    struct image_builder_config cfg = { cmd, "/srv/store", "/a:/b", NULL, &lc, 384, timeout_s, max_concurrent, NULL };
    return current = image_builder_new(&cfg);
}

static struct image_builder *builder(const char *script) { return builder_with(script, 0, 0); }

static const char config[] = "{\"agentRuntimeArtifact\":{\"containerConfiguration\":{\"containerUri\":\"agents/x:v2\"}},"
                             "\"environmentVariables\":{\"K\":\"v\"}}";

static void test_success_gets_the_contract(void)
{
    /* records its arguments, the config file's text and mode, and the environment it got */
    write_script("ok.sh", "out=$(dirname \"$4\")/record\n"
                          "{ echo \"args=$1|$2|$3|$4\"; echo \"cfg=$(cat \"$5\")\"; echo \"mode=$(stat -c %a \"$5\")\";\n"
                          "  echo \"cfgpath=$5\"; echo \"env=$SILO_VMM|$SILO_VMM_KERNEL|$SILO_VMM_GUEST_MIB|$SILO_VMM_CPUS|\"\\\n"
                          "\"$SILO_BOOT_TIMEOUT_MS|$SILO_IMAGE_STORE|$SILO_IMAGE_PATHS|${SILO_IMAGE_CACHE-unset}|$SILO_VMM_CMDLINE\"; } >\"$out\"\n"
                          "echo progress on stdout; echo progress on stderr >&2\n");
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "untouched";
    CHECK(image_builder_run(builder("ok.sh"), "rt_a-0123456789", 2, config, reason, sizeof reason));
    char p[128];
    snprintf(p, sizeof p, "%s/record", dir);
    char *rec = slurp(p);
    CHECK(rec != NULL);
    if (!rec)
        return;
    char want[512];
    snprintf(want, sizeof want, "args=rt_a-0123456789|2|agents/x:v2|%s/rt_a-0123456789-v2.ext4\n", dir);
    CHECK(strstr(rec, want) != NULL);
    snprintf(want, sizeof want, "cfg=%s\n", config);
    CHECK(strstr(rec, want) != NULL);
    CHECK(strstr(rec, "mode=600\n") != NULL);
    CHECK(strstr(rec, "env=/opt/silo-vmm|/opt/Image|384|1|45000|/srv/store|/a:/b|unset|" MICROVM_AGENT_CMDLINE "\n") != NULL);
    const char *cp = strstr(rec, "cfgpath=");
    CHECK(cp != NULL);
    if (cp) {
        char path[256];
        sscanf(cp + 8, "%255s", path);
        CHECK(access(path, F_OK) != 0);             /* removed once the builder ended */
    }
}

/* `registries` reach the builder in SILO_REGISTRIES (credentials too), never on its command line */
static void test_registries_reach_the_builder_in_its_environment(void)
{
    static const char text[] =
        "{\"credentials\": [{\"access_key_id\": \"a\", \"secret_access_key\": \"b\"}], \"image_builder\": \"%s/reg.sh\","
        " \"vmm\": {\"rootfs_dir\": \"%s\"}, \"registries\": [{\"host\": \"r.example:5000\", \"username\": \"u\","
        " \"password\": \"pw-1234\", \"match\": [\"*.dkr.ecr.*.amazonaws.com\"]}], \"registry\": {\"max_layer_mib\": 7}}";
    char json[1024], err[256];
    snprintf(json, sizeof json, text, dir, dir);
    struct silod_config c;
    CHECK(silod_config_parse(json, strlen(json), &c, err, sizeof err));
    write_script("reg.sh", "out=$(dirname \"$4\")/record-reg\n"
                           "{ echo \"argv=$*\"; echo \"reg=$SILO_REGISTRIES\"; } >\"$out\"\n");
    static struct vmm_launcher_config lc;
    lc = (struct vmm_launcher_config){ "/opt/silo-vmm", "/opt/Image", NULL, dir, dir, 1, 45000, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    struct image_builder *b = image_builder_from_config(&c, &lc);
    silod_config_free(&c);
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    CHECK(image_builder_run(b, "rt_r-0123456789", 1, config, reason, sizeof reason));
    image_builder_free(b);
    char p[128];
    snprintf(p, sizeof p, "%s/record-reg", dir);
    char *rec = slurp(p);
    CHECK(rec != NULL);
    if (!rec)
        return;
    CHECK(strstr(rec, "reg={\"registries\":[{\"host\":\"r.example:5000\",\"username\":\"u\",\"password\":\"pw-1234\","
                      "\"insecure_http\":false,\"match\":[\"*.dkr.ecr.*.amazonaws.com\"]}],\"max_manifest_kib\":4096,"
                      "\"max_layer_mib\":7,\"max_image_mib\":8192,\"timeout_s\":600}\n") != NULL);
    const char *argv_line = strstr(rec, "argv=");
    char argv_text[512] = "";
    if (argv_line)
        snprintf(argv_text, sizeof argv_text, "%.*s", (int)strcspn(argv_line, "\n"), argv_line);
    CHECK(strstr(argv_text, "rt_r-0123456789 1 agents/x:v2") != NULL && strstr(argv_text, "pw-1234") == NULL);
}

static void test_failure_reason_is_the_last_stderr_line(void)
{
    write_script("fail.sh", "echo 'silo-image: layer 1/1' >&2\necho stdout line\n"
                            "printf 'image did not become ready: the agent exited with status 3\\n\\n' >&2\nexit 1\n");
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    CHECK(!image_builder_run(builder("fail.sh"), "rt_b-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "image did not become ready: the agent exited with status 3") == 0);
}

static void test_failure_without_a_line_says_the_status(void)
{
    write_script("silent.sh", "exit 7\n");
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    CHECK(!image_builder_run(builder("silent.sh"), "rt_c-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "image build failed (exit status 7)") == 0);
    write_script("killed.sh", "kill -9 $$\n");
    CHECK(!image_builder_run(builder("killed.sh"), "rt_c-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "image build failed (signal 9)") == 0);
}

static void test_long_and_hostile_lines_are_bounded(void)
{
    /* 5000 characters with control characters in one stderr line, then exit 1 */
    write_script("long.sh", "printf 'x\\033[31m\\ty' >&2; head -c 5000 /dev/zero | tr '\\0' z >&2; echo >&2; exit 1\n");
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    CHECK(!image_builder_run(builder("long.sh"), "rt_d-0123456789", 1, config, reason, sizeof reason));
    CHECK(strlen(reason) <= IMAGE_BUILDER_REASON_MAX);
    for (const char *c = reason; *c; c++)
        CHECK(*c >= 0x20 && *c < 0x7f);
    CHECK(strspn(reason, "z") == strlen(reason));    /* the last piece of the overlong line */
}

static void test_missing_builder(void)
{
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    CHECK(!image_builder_run(builder("does-not-exist"), "rt_e-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "image build failed: cannot run the image builder") == 0);
    struct image_builder_config none = { NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL };
    struct image_builder *b = image_builder_new(&none);
    CHECK(!image_builder_run(b, "rt_e-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "no image builder configured") == 0);
    image_builder_free(b);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* true while pid exists and is not a zombie (an orphan waits for init to reap it) */
static bool process_runs(pid_t pid)
{
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *end = strrchr(stat, ')');   /* "pid (comm) S ..." */
    return end && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

static void test_a_hung_build_times_out_with_its_group(void)
{
    /* the builder starts a child (think: the boot-check VMM) that records its pid, then hangs */
    char script[512];
    snprintf(script, sizeof script, "sleep 600 & echo $! >%s/grandchild.pid\necho building >&2\nwait\n", dir);
    write_script("hang.sh", script);
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    int64_t t0 = now_ms();
    CHECK(!image_builder_run(builder_with("hang.sh", 1, 0), "rt_f-0123456789", 1, config, reason, sizeof reason));
    int64_t took = now_ms() - t0;
    CHECK(strcmp(reason, "image build timed out after 1 s") == 0);
    CHECK(took >= 1000 && took < 8000);
    char path[128];
    snprintf(path, sizeof path, "%s/grandchild.pid", dir);
    const char *pid_text = slurp(path);
    CHECK(pid_text != NULL);
    if (pid_text) {
        pid_t grandchild = (pid_t)atoi(pid_text);
        CHECK(grandchild > 1);
        usleep(100 * 1000);
        CHECK(grandchild > 1 && !process_runs(grandchild));   /* the whole group was ended */
    }
}

static void test_a_builder_ignoring_sigterm_is_killed(void)
{
    write_script("stubborn.sh", "trap '' TERM\nwhile :; do sleep 0.1; done\n");
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    int64_t t0 = now_ms();
    CHECK(!image_builder_run(builder_with("stubborn.sh", 1, 0), "rt_g-0123456789", 1, config, reason, sizeof reason));
    int64_t took = now_ms() - t0;
    CHECK(strcmp(reason, "image build timed out after 1 s") == 0);
    CHECK(took >= 6000 && took < 12000);    /* 1 s, then 5 s of grace before SIGKILL */
}

struct build_arg {
    const char *runtime_id;
    bool ok;
    char reason[IMAGE_BUILDER_REASON_MAX + 1];
};

static void *build_in_thread(void *p)
{
    struct build_arg *a = p;
    a->ok = image_builder_build(current, a->runtime_id, 1, config, a->reason, sizeof a->reason);
    return NULL;
}

/* Runs three builds at once on `current`; returns how many succeeded. */
static int three_builds_at_once(void)
{
    struct build_arg a[3] = { { "rt_h-0123456789a", false, "" }, { "rt_h-0123456789b", false, "" },
                              { "rt_h-0123456789c", false, "" } };
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK(pthread_create(&t[i], NULL, build_in_thread, &a[i]) == 0);
    int ok = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
    }
    return ok;
}

static void test_builds_beyond_the_bound_wait_their_turn(void)
{
    /* a build fails if another runs beside it (mkdir is atomic) */
    char script[512];
    snprintf(script, sizeof script,
             "mkdir %s/running 2>/dev/null || { echo overlapped >&2; exit 3; }\nsleep 0.3\nrmdir %s/running\n",
             dir, dir);
    write_script("alone.sh", script);
    builder_with("alone.sh", 0, 1);
    CHECK(three_builds_at_once() == 3);
    builder_with("alone.sh", 0, 3);      /* the same builds unbounded do overlap: the test can fail */
    CHECK(three_builds_at_once() < 3);
}

struct fake_capacity {
    pthread_mutex_t lock;
    unsigned free_mib, reserved_max, refusals;
};

static bool fake_reserve(void *ctx, unsigned mib)
{
    struct fake_capacity *c = ctx;
    pthread_mutex_lock(&c->lock);
    bool ok = mib <= c->free_mib;
    if (ok)
        c->free_mib -= mib;
    else
        c->refusals++;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static void fake_release(void *ctx, unsigned mib)
{
    struct fake_capacity *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->free_mib += mib;
    pthread_mutex_unlock(&c->lock);
}

static void test_boot_checks_reserve_guest_memory(void)
{
    write_script("quick.sh", "sleep 0.3\n");
    /* room for one boot check (384 MiB) at a time: three builds run one after another */
    struct fake_capacity cap = { PTHREAD_MUTEX_INITIALIZER, 500, 0, 0 };
    struct image_builder_capacity ic = { fake_reserve, fake_release, &cap };
    image_builder_attach_capacity(builder_with("quick.sh", 5, 3), &ic);
    CHECK(three_builds_at_once() == 3);
    CHECK(cap.refusals > 0);             /* someone had to wait */
    CHECK(cap.free_mib == 500);          /* everything given back */
    /* no room at all: the build fails after its timeout, and never ran */
    cap.free_mib = 100;
    image_builder_attach_capacity(builder_with("quick.sh", 1, 0), &ic);
    char reason[IMAGE_BUILDER_REASON_MAX + 1] = "";
    CHECK(!image_builder_build(current, "rt_i-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "no guest memory free for the boot check (384 MiB) within 1 s") == 0);
    CHECK(cap.free_mib == 100);
}

static void touch(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
}

static bool exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void make_template(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    mkdir(p, 0700);
    static const char *const files[] = { "state", "memory", "disk0.layer", "shape" };
    for (size_t i = 0; i < 4; i++) {
        char f[300];
        snprintf(f, sizeof f, "%s/%s", name, files[i]);
        touch(f);
    }
}

/* A deleted version takes its image and template with it (the whole runtime: every version);
 * nothing of another runtime, and nothing that only looks alike, is touched. */
static void test_deletion_removes_images_and_templates(void)
{
    struct version_builder vb = image_builder_interface(builder("ok.sh"));
    CHECK(vb.remove != NULL);
    touch("rt_d-0123456789-v1.ext4");
    make_template("rt_d-0123456789-v1.snap");
    touch("rt_d-0123456789-v2.ext4");
    make_template("rt_d-0123456789-v2.snap");
    make_template("rt_d-0123456789-v3.snap.tmp");
    touch("rt_d-0123456789-v2.ext4.bak");
    touch("rt_e-0123456789-v1.ext4");
    make_template("rt_e-0123456789-v1.snap");
    vb.remove(vb.ctx, "rt_d-0123456789", 2);
    CHECK(!exists("rt_d-0123456789-v2.ext4") && !exists("rt_d-0123456789-v2.snap"));
    CHECK(exists("rt_d-0123456789-v1.ext4") && exists("rt_d-0123456789-v1.snap/state"));
    vb.remove(vb.ctx, "rt_d-0123456789", 0);
    CHECK(!exists("rt_d-0123456789-v1.ext4") && !exists("rt_d-0123456789-v1.snap"));
    CHECK(!exists("rt_d-0123456789-v3.snap.tmp"));
    CHECK(exists("rt_d-0123456789-v2.ext4.bak"));
    CHECK(exists("rt_e-0123456789-v1.ext4") && exists("rt_e-0123456789-v1.snap/memory"));
    vb.remove(vb.ctx, "rt_e-0123456789", 0);
    CHECK(!exists("rt_e-0123456789-v1.snap"));
    char p[256];
    snprintf(p, sizeof p, "%s/rt_d-0123456789-v2.ext4.bak", dir);
    unlink(p);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/silo-test-builder-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    static const struct unit_test tests[] = {
        { "a successful builder gets the arguments, the 0600 version config and the VMM settings", test_success_gets_the_contract },
        { "registries (credentials included) reach the builder in SILO_REGISTRIES, not its command line",
          test_registries_reach_the_builder_in_its_environment },
        { "failureReason is the builder's last stderr line", test_failure_reason_is_the_last_stderr_line },
        { "a builder without a stderr line fails with its exit status or signal", test_failure_without_a_line_says_the_status },
        { "an overlong line with control characters becomes a bounded printable reason", test_long_and_hostile_lines_are_bounded },
        { "a missing builder and no builder fail with a reason", test_missing_builder },
        { "a build past its timeout fails, and its whole process group is ended", test_a_hung_build_times_out_with_its_group },
        { "a builder that ignores SIGTERM is killed 5 s later", test_a_builder_ignoring_sigterm_is_killed },
        { "builds beyond max_concurrent wait their turn instead of running beside the others", test_builds_beyond_the_bound_wait_their_turn },
        { "each boot check reserves its guest memory: builds wait for room, or fail after the timeout", test_boot_checks_reserve_guest_memory },
        { "a deleted version's image and template are removed; every version's with the runtime", test_deletion_removes_images_and_templates },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    image_builder_free(current);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
