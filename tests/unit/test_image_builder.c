/* tests/unit/test_image_builder.c — silod's side of the image-builder contract
 * (frontend/image_builder.h): the arguments and environment a builder gets, the version
 * configuration file (present while it runs, 0600, removed after), and the failure reason taken
 * from the builder's last stderr line. The builders here are small sh scripts written by the test. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/image_builder.h"
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

/* A builder running dir/script; the previous one is freed. */
static struct image_builder *builder(const char *script)
{
    image_builder_free(current);
    static struct vmm_launcher_config lc;
    lc = (struct vmm_launcher_config){ "/opt/silo-vmm", "/opt/Image", NULL, dir, dir, 1, 45000, NULL };
    char cmd[128];
    snprintf(cmd, sizeof cmd, "%s/%s", dir, script);
    struct image_builder_config cfg = { cmd, "/srv/store", "/a:/b", NULL, &lc, 384 };
    return current = image_builder_new(&cfg);
}

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
    CHECK(strstr(rec, "env=/opt/silo-vmm|/opt/Image|384|1|45000|/srv/store|/a:/b|unset|" VMM_AGENT_CMDLINE "\n") != NULL);
    const char *cp = strstr(rec, "cfgpath=");
    CHECK(cp != NULL);
    if (cp) {
        char path[256];
        sscanf(cp + 8, "%255s", path);
        CHECK(access(path, F_OK) != 0);             /* removed once the builder ended */
    }
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
    struct image_builder_config none = { NULL, NULL, NULL, NULL, NULL, 0 };
    struct image_builder *b = image_builder_new(&none);
    CHECK(!image_builder_run(b, "rt_e-0123456789", 1, config, reason, sizeof reason));
    CHECK(strcmp(reason, "no image builder configured") == 0);
    image_builder_free(b);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/silo-test-builder-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    static const struct unit_test tests[] = {
        { "a successful builder gets the arguments, the 0600 version config and the VMM settings", test_success_gets_the_contract },
        { "failureReason is the builder's last stderr line", test_failure_reason_is_the_last_stderr_line },
        { "a builder without a stderr line fails with its exit status or signal", test_failure_without_a_line_says_the_status },
        { "an overlong line with control characters becomes a bounded printable reason", test_long_and_hostile_lines_are_bounded },
        { "a missing builder and no builder fail with a reason", test_missing_builder },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    image_builder_free(current);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
