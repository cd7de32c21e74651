/* tests/unit/test_silod_build_image.c — the real image builder (builder/silod_build_image.c,
 * this build's x86 `silod-build-image` and `silo-image`) run the way silod runs it
 * (frontend/image_builder.c), on this machine: containerUri resolution and its refusals, the
 * version's environment written into the image, and the boot check's failures with a stand-in
 * VMM (a sh script: x86 has no /dev/kvm; the passing boot check is exercised in the dev host by
 * tests/host/silod_devhost.sh). Each case checks the failureReason silod would store. Needs
 * builder/oci-archive.sh (run from the top of the tree, as `make unit` does) and debugfs. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend/image_builder.h"
#include "tests/unit/check.h"

static char dir[64], bin[PATH_MAX];
static struct vmm_launcher_config lc;
static char vmm_path[160], kernel[160], rootfs[160], store[160], paths[160];

static void mkdirs(const char *list)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", list);
    CHECK(system(cmd) == 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* A fake arm64 program: an ELF header saying EM_AARCH64, enough for silo-image's check. */
static void fake_arm64_elf(const char *path)
{
    unsigned char h[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
    h[16] = 2;          /* ET_EXEC */
    h[18] = 183;        /* EM_AARCH64, little endian */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fwrite(h, 1, sizeof h, f);
        fclose(f);
    }
    chmod(path, 0755);
}

static void setup(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(bin, sizeof bin, "%s/../host/bin", dirname(self));
    snprintf(dir, sizeof dir, "/tmp/silo-test-sbi-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char p[512], q[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/root/app", dir);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/root/app/agent", dir);
    fake_arm64_elf(p);
    snprintf(p, sizeof p, "%s/init", dir);
    fake_arm64_elf(p);
    setenv("SILO_GUEST_INIT", p, 1);
    setenv("SILO_GUEST_AGENTD", p, 1);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_file(p, "{\"architecture\": \"arm64\", \"os\": \"linux\", \"config\": {\"Entrypoint\": [\"/app/agent\"],"
                  " \"Env\": [\"PATH=/usr/bin:/bin\", \"ECHO_TAG=from-image\"]}}\n", 0644);
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(paths, sizeof paths, "%s/paths", dir);
    snprintf(rootfs, sizeof rootfs, "%s/out", dir);
    snprintf(p, sizeof p, "%s/agents/echo %s/outside %s/out", store, dir, dir);
    mkdirs(p);
    mkdirs(paths);
    /* store/agents/echo/latest.tar, and a symlink store/evil -> dir/outside (with a tarball) */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "builder/oci-archive.sh %s/root %s/config.json %s/agents/echo/latest.tar && "
             "cp %s/agents/echo/latest.tar %s/outside/t.tar && ln -s %s/outside %s/evil && "
             "cp %s/agents/echo/latest.tar %s/outside/abs.tar", dir, dir, store, store, dir, dir, store, store, dir);
    CHECK(system(cmd) == 0);
    snprintf(kernel, sizeof kernel, "%s/Image", dir);
    write_file(kernel, "not a kernel\n", 0644);
    snprintf(vmm_path, sizeof vmm_path, "%s/vmm.sh", dir);
    snprintf(q, sizeof q, "%s/silod-build-image", bin);
    CHECK(access(q, X_OK) == 0);
}

/* Runs the builder as silod would; returns its success, reason in `reason`. */
static bool run(const char *uri, const char *vmm_script, int timeout_ms, char *reason, size_t len)
{
    write_file(vmm_path, vmm_script ? vmm_script : "#!/bin/sh\nexit 99\n", 0755);
    lc = (struct vmm_launcher_config){ vmm_path, kernel, NULL, rootfs, dir, 1, timeout_ms, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "%s/silod-build-image", bin);
    struct image_builder_config cfg = { cmd, store, paths, NULL, &lc, 256, 0, 0, NULL };
    struct image_builder *b = image_builder_new(&cfg);
    char config[512];
    snprintf(config, sizeof config, "{\"agentRuntimeArtifact\":{\"containerConfiguration\":{\"containerUri\":\"%s\"}},"
             "\"environmentVariables\":{\"ECHO_TAG\":\"version-7\",\"EXTRA\":\"x y\"}}", uri);
    reason[0] = '\0';
    bool ok = image_builder_run(b, "rt_x-0123456789", 7, config, reason, len);
    image_builder_free(b);
    return ok;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static void test_refusals(void)
{
    char r[IMAGE_BUILDER_REASON_MAX + 1];
    CHECK(!run("agents/none", NULL, 5000, r, sizeof r));
    CHECK(starts(r, "image build failed: no such image 'agents/none:latest' in the local image store, and no registry "
                    "configured for it"));
    /* a URL is no reference; a registry reference is pulled only from a configured registry
     * (tests/host/oci_registry.sh pulls from one); a digest never from the local store */
    CHECK(!run("https://registry.example/agent:1", NULL, 5000, r, sizeof r));
    CHECK(starts(r, "image build failed: containerUri 'https://registry.example/agent:1' is neither an absolute path"));
    CHECK(!run("registry.example:5000/agent:1", NULL, 5000, r, sizeof r));
    CHECK(starts(r, "image build failed: containerUri 'registry.example:5000/agent:1' is neither an absolute path, a "
                    "NAME[:TAG] of the local image store, nor HOST[:PORT]/REPO[:TAG|@sha256:DIGEST] of a configured registry"));
    CHECK(!run("registry.example/agent:1", NULL, 5000, r, sizeof r));   /* a store name too: not in the store */
    CHECK(starts(r, "image build failed: no such image 'registry.example/agent:1' in the local image store, and no "
                    "registry configured for it"));
    CHECK(!run("agents/echo@sha256:0123", NULL, 5000, r, sizeof r));
    CHECK(starts(r, "image build failed: containerUri 'agents/echo@sha256:0123': a digest reference needs a registry "
                    "configured for its host"));
    CHECK(!run("agents/../../etc:x", NULL, 5000, r, sizeof r));
    CHECK(strstr(r, "is neither an absolute path, a NAME[:TAG] of the local image store") != NULL);
    CHECK(!run("evil:t", NULL, 5000, r, sizeof r));           /* store/evil -> outside the store */
    CHECK(strcmp(r, "image build failed: 'evil:t' in the local image store leads outside it") == 0);
    char abs[256];
    snprintf(abs, sizeof abs, "%s/outside/abs.tar", dir);      /* exists, but not under image_paths */
    CHECK(!run(abs, NULL, 5000, r, sizeof r));
    char outside_reason[IMAGE_BUILDER_REASON_MAX + 1], expect[512];
    snprintf(expect, sizeof expect, "image build failed: containerUri '%s' is not an OCI layout directory or image "
             "tarball in the directories silod reads images from (image_paths)", abs);
    CHECK(strcmp(r, expect) == 0);
    snprintf(outside_reason, sizeof outside_reason, "%s", r);
    /* a path that does not exist gets the same answer as one that exists outside image_paths:
     * the reason says nothing about which host paths exist */
    snprintf(abs, sizeof abs, "%s/outside/missing.tar", dir);
    CHECK(!run(abs, NULL, 5000, r, sizeof r));
    snprintf(expect, sizeof expect, "image build failed: containerUri '%s' is not an OCI layout directory or image "
             "tarball in the directories silod reads images from (image_paths)", abs);
    CHECK(strcmp(r, expect) == 0);
    CHECK(strstr(r, "No such file") == NULL && strstr(outside_reason, "No such file") == NULL);
}

static void test_env_in_image_and_vmm_failure(void)
{
    char r[IMAGE_BUILDER_REASON_MAX + 1];
    CHECK(!run("agents/echo", "#!/bin/sh\necho 'silo-vmm: /dev/kvm: No such file or directory' >&2\nexit 1\n", 5000, r,
               sizeof r));
    CHECK(strcmp(r, "image did not become ready: silo-vmm exited with status 1: silo-vmm: /dev/kvm: No such file or "
                    "directory") == 0);
    char out[256];
    snprintf(out, sizeof out, "%s/rt_x-0123456789-v7.ext4", rootfs);
    CHECK(access(out, F_OK) != 0);                              /* a failed version leaves no image */
    /* the built image (kept in the cache) carries the version's environment over the image's,
     * owner only; the cache's other image is the base without the version's environment */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "n=0; for f in %s/.cache/*.ext4; do c=$(debugfs -R 'cat /silo/config.json' $f 2>/dev/null);"
             " case \"$c\" in *ECHO_TAG=version-7*) n=$((n+1)); [ \"$(stat -c %%a $f)\" = 600 ] || exit 2;"
             " echo \"$c\" >%s/config.out;; *) case \"$c\" in *EXTRA=*) exit 3;; esac;; esac; done; [ $n = 1 ]",
             rootfs, dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s/config.out", dir);
    FILE *f = fopen(cmd, "r");
    char text[4096] = "";
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = '\0';
        fclose(f);
    }
    CHECK(strstr(text, "\"ECHO_TAG=version-7\"") != NULL);
    CHECK(strstr(text, "\"EXTRA=x y\"") != NULL);
    CHECK(strstr(text, "ECHO_TAG=from-image") == NULL);
}

/* The builder's log (silod logs it on its stderr) for one version with environment `env_json`. */
static bool run_logged(int version, const char *env_json, char *log, size_t cap)
{
    write_file(vmm_path, "#!/bin/sh\nexit 99\n", 0755);
    lc = (struct vmm_launcher_config){ vmm_path, kernel, NULL, rootfs, dir, 1, 5000, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    char cmd[PATH_MAX + 32], logfile[256], config[512], reason[IMAGE_BUILDER_REASON_MAX + 1];
    snprintf(cmd, sizeof cmd, "%s/silod-build-image", bin);
    struct image_builder_config cfg = { cmd, store, paths, NULL, &lc, 256, 0, 0, NULL };
    struct image_builder *b = image_builder_new(&cfg);
    snprintf(config, sizeof config, "{\"agentRuntimeArtifact\":{\"containerConfiguration\":{\"containerUri\":"
             "\"agents/echo\"}},\"environmentVariables\":%s}", env_json);
    snprintf(logfile, sizeof logfile, "%s/builder.log", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    bool ok = image_builder_run(b, "rt_env-0123456789", version, config, reason, sizeof reason);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    image_builder_free(b);
    FILE *f = fopen(logfile, "r");
    CHECK(f != NULL);
    log[fread(log, 1, cap - 1, f)] = '\0';
    fclose(f);
    return ok;
}

/* An UpdateAgentRuntime that changes only the environment: the builder does not build the image
 * again (no layer is applied, no mkfs): silo-image copies the cached base and rewrites its
 * /silo/config.json ("reconfigured"); the same environment again is a cache hit. */
static void test_env_only_version_is_not_rebuilt(void)
{
    static char log[65536];
    run_logged(8, "{\"ECHO_TAG\":\"update-a\"}", log, sizeof log);
    CHECK(strstr(log, "silo-image: ") != NULL);
    run_logged(9, "{\"ECHO_TAG\":\"update-b\"}", log, sizeof log);
    CHECK(strstr(log, ".ext4 (reconfigured) key=") != NULL);
    CHECK(strstr(log, "layer 1/1") == NULL);                    /* nothing unpacked */
    CHECK(strstr(log, "(built)") == NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "n=0; for f in %s/.cache/*.ext4; do c=$(debugfs -R 'cat /silo/config.json' $f 2>/dev/null);"
             " case \"$c\" in *ECHO_TAG=update-b*) n=$((n+1)); case \"$c\" in *update-a*|*from-image*) exit 2;; esac;;"
             " esac; done; [ $n = 1 ]", rootfs);
    CHECK(system(cmd) == 0);                                    /* exactly one image has update-b, alone */
    run_logged(10, "{\"ECHO_TAG\":\"update-b\"}", log, sizeof log);
    CHECK(strstr(log, ".ext4 (cached) key=") != NULL);
}

static void test_guest_powers_off(void)
{
    char r[IMAGE_BUILDER_REASON_MAX + 1];
    CHECK(!run("agents/echo:latest", "#!/bin/sh\nexit 0\n", 5000, r, sizeof r));
    CHECK(starts(r, "image did not become ready: the guest powered off before the agent was ready"));
}

static void test_timeout_stops_the_vm(void)
{
    char r[IMAGE_BUILDER_REASON_MAX + 1], script[512], pidfile[128];
    snprintf(pidfile, sizeof pidfile, "%.100s/vmm.pid", dir);
    snprintf(script, sizeof script, "#!/bin/sh\necho $$ >%s\nexec sleep 60\n", pidfile);
    CHECK(!run("agents/echo", script, 1500, r, sizeof r));
    CHECK(starts(r, "image did not become ready within 1 s: agentd never answered on vsock port 1024"));
    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    CHECK(f != NULL && fscanf(f, "%d", &pid) == 1);
    if (f)
        fclose(f);
    CHECK(pid > 0 && kill(pid, 0) != 0);                        /* the stand-in VMM was stopped */
}


/* The builder itself SIGKILLed during the boot check (silod's timeout ends its group with
 * SIGKILL 5 s after SIGTERM): its boot-check VMM gets SIGTERM as its parent-death signal, so it
 * ends its VM the normal way and wipes (frontend/microvm.c's spawn policy; once SIGKILL). */
static void test_builder_killed_vmm_gets_sigterm(void)
{
    char script[1024], mark[128], ppid_file[128];
    snprintf(mark, sizeof mark, "%.100s/vmm.mark", dir);
    snprintf(ppid_file, sizeof ppid_file, "%.100s/builder.pid", dir);
    unlink(mark);
    unlink(ppid_file);
    snprintf(script, sizeof script,
             "#!/bin/sh\necho $PPID >%s\ntrap 'echo TERM >%s; exit 0' TERM\necho started >%s\n"
             "while :; do sleep 0.05; done\n", ppid_file, mark, mark);
    pid_t child = fork();
    if (child == 0) {
        char r[IMAGE_BUILDER_REASON_MAX + 1];
        _exit(run("agents/echo", script, 30000, r, sizeof r) ? 1 : 0);
    }
    char text[64] = "";
    int builder = 0;
    for (int i = 0; i < 1000 && strncmp(text, "started", 7) != 0; i++) {
        usleep(20000);
        FILE *f = fopen(mark, "r");
        if (f) {
            if (!fgets(text, sizeof text, f))
                text[0] = '\0';
            fclose(f);
        }
    }
    CHECK(strncmp(text, "started", 7) == 0);
    FILE *f = fopen(ppid_file, "r");
    CHECK(f != NULL && fscanf(f, "%d", &builder) == 1);
    if (f)
        fclose(f);
    CHECK(builder > 1);
    if (builder > 1)
        kill(builder, SIGKILL);
    for (int i = 0; i < 250 && strncmp(text, "TERM", 4) != 0; i++) {
        usleep(20000);
        f = fopen(mark, "r");
        if (f) {
            if (!fgets(text, sizeof text, f))
                text[0] = '\0';
            fclose(f);
        }
    }
    CHECK(strncmp(text, "TERM", 4) == 0);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);      /* the version failed */
}

int main(void)
{
    setup();
    static const struct unit_test tests[] = {
        { "containerUri: missing names, URLs, digests, '..', store symlink escapes, paths outside image_paths are refused", test_refusals },
        { "the version's environment is in the built image (mode 0600); a failing VMM fails the version and leaves no image", test_env_in_image_and_vmm_failure },
        { "an environment-only version reuses the cached image (only /silo/config.json rewritten); the same environment is a cache hit", test_env_only_version_is_not_rebuilt },
        { "a guest that powers off before the agent is ready fails the version", test_guest_powers_off },
        { "a VM whose agent never answers fails after the timeout and is stopped", test_timeout_stops_the_vm },
        { "the builder SIGKILLed during its boot check: the boot-check VMM gets SIGTERM (parent-death signal)", test_builder_killed_vmm_gets_sigterm },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
