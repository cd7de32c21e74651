/* tests/unit/test_oci_symlinks.c — issue 12 item 7: an image's symlinks never make the image
 * builder (builder/oci.c through builder/open_beneath.c) follow host paths. A blob that is a
 * symlink to /dev/zero fails at once with a clear reason; one pointing at a private host file
 * leaks nothing of it (no digest prefix, no content, not its path) into the error that becomes
 * failureReason; index.json / manifest.json symlinks and docker Layers paths through a
 * symlinked directory are refused the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "builder/digest.h"
#include "builder/oci.h"
#include "tests/unit/check.h"

static char work[] = "/tmp/silo-test-oci-links-XXXXXX";
static char private_file[600], private_hex[DIGEST_HEX];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A blob with this text; its "sha256:<hex>" into digest. */
static void put_blob(const char *dir, const char *text, char digest[80])
{
    char tmp[700], path[800], hex[DIGEST_HEX];
    snprintf(tmp, sizeof tmp, "%s/blob.tmp", dir);
    write_file(tmp, text);
    CHECK_EQ(sha256_file_hex(tmp, hex), 0);
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, hex);
    CHECK_EQ(rename(tmp, path), 0);
    snprintf(digest, 80, "sha256:%s", hex);
}

/* An OCI layout in work/NAME whose config (which = 'c') or layer (which = 'l') blob is a
 * symlink to target, under the digest claimed. */
static void make_layout(const char *name, char which, const char *target, const char *claimed_hex, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", work, name);
    char p[800];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/blobs", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/blobs/sha256", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/oci-layout", dir);
    write_file(p, "{\"imageLayoutVersion\":\"1.0.0\"}");
    char config[80], layer[80], manifest[80], text[1024];
    put_blob(dir, "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{}}", config);
    put_blob(dir, "not really a tar", layer);
    char *linked = which == 'c' ? config : layer;
    snprintf(linked, 80, "sha256:%s", claimed_hex);
    snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, claimed_hex);
    CHECK_EQ(symlink(target, p), 0);
    snprintf(text, sizeof text,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"digest\":\"%s\"},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
             "\"digest\":\"%s\"}]}", config, layer);
    put_blob(dir, text, manifest);
    snprintf(text, sizeof text, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"%s\","
             "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}", manifest);
    snprintf(p, sizeof p, "%s/index.json", dir);
    write_file(p, text);
}

static bool leaks_nothing(const char *err)
{
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", private_hex);
    return strstr(err, prefix) == NULL && strstr(err, "s3cr3t") == NULL && strstr(err, private_file) == NULL &&
           strstr(err, "/dev/zero") == NULL;
}

static void test_blob_to_dev_zero_fails_fast(void)
{
    char dir[700], err[1024];
    const char *hex = "1111111111111111111111111111111111111111111111111111111111111111";
    for (int which = 0; which < 2; which++) {
        make_layout(which ? "zero-layer" : "zero-config", which ? 'l' : 'c', "/dev/zero", hex, dir, sizeof dir);
        struct oci_image img;
        int64_t t0 = mono_ms();
        CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
        CHECK(mono_ms() - t0 < 2000);
        CHECK(strstr(err, "symbolic link") != NULL);
        CHECK(leaks_nothing(err));
        printf("#   %s\n", err);
    }
}

static void test_blob_to_private_file_leaks_nothing(void)
{
    char dir[700], err[1024];
    const char *hex = "2222222222222222222222222222222222222222222222222222222222222222";
    for (int which = 0; which < 2; which++) {
        make_layout(which ? "private-layer" : "private-config", which ? 'l' : 'c', private_file, hex, dir, sizeof dir);
        struct oci_image img;
        CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
        CHECK(strstr(err, "symbolic link") != NULL);
        CHECK(leaks_nothing(err));
    }
    /* even a blob linked under its true digest (the attacker guessed it) is refused */
    make_layout("private-right-digest", 'l', private_file, private_hex, dir, sizeof dir);
    struct oci_image img;
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "symbolic link") != NULL);
}

static void test_index_and_docker_paths(void)
{
    char dir[700], p[800], err[1024];
    /* index.json a symlink to the private file: not a layout, nothing read */
    snprintf(dir, sizeof dir, "%s/index-link", work);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/oci-layout", dir);
    write_file(p, "{}");
    snprintf(p, sizeof p, "%s/index.json", dir);
    CHECK_EQ(symlink(private_file, p), 0);
    struct oci_image img;
    CHECK_EQ(oci_detect(dir), 0);
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(leaks_nothing(err));
    /* docker save: a Layers path through a symlinked directory */
    snprintf(dir, sizeof dir, "%s/docker-link", work);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_file(p, "{\"architecture\":\"arm64\",\"os\":\"linux\"}");
    snprintf(p, sizeof p, "%s/sub", dir);
    CHECK_EQ(symlink(work, p), 0);
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    write_file(p, "[{\"Config\":\"config.json\",\"Layers\":[\"sub/private\"]}]");
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "sub/private") != NULL && strstr(err, "symbolic link") != NULL);
    CHECK(leaks_nothing(err));
}

int main(void)
{
    CHECK(mkdtemp(work) != NULL);
    snprintf(private_file, sizeof private_file, "%s/private", work);
    write_file(private_file, "aws_secret_access_key = s3cr3t\n");
    CHECK_EQ(sha256_file_hex(private_file, private_hex), 0);
    static const struct unit_test tests[] = {
        { "a config or layer blob symlinked to /dev/zero fails at once, clearly", test_blob_to_dev_zero_fails_fast },
        { "a blob symlinked to a private host file leaks no digest prefix, content or path", test_blob_to_private_file_leaks_nothing },
        { "index.json and docker Layers paths through symlinks are refused", test_index_and_docker_paths },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    CHECK(system(cmd) == 0);
    return rc;
}
