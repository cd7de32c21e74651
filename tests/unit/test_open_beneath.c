/* tests/unit/test_open_beneath.c — builder/open_beneath.c: files an untrusted image names are
 * opened without following its symlinks. A blob that is a symlink to /dev/zero fails at once
 * with a clear line; one pointing at a private host file leaks nothing (no content, no digest
 * prefix, no target) into the error; FIFOs, devices, directories, "..", absolute paths and
 * (on request) hard links are refused; regular files are read and hashed. Both ways: openat2
 * and the O_NOFOLLOW walk for kernels without it. */
#include "builder/open_beneath.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "tests/unit/check.h"

#define GOOD_HEX "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"   /* "hello world" */

static char root[64], outside[64], secret_path[128];
/* SHA-256 of the secret's contents: none of it may appear in an error */
static const char secret[] = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET\n";
static char secret_hex[65];

static void put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void link_in_root(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    CHECK(symlink(target, p) == 0);
}

static void set_up(void)
{
    snprintf(root, sizeof root, "/tmp/silo-beneath-XXXXXX");
    snprintf(outside, sizeof outside, "/tmp/silo-private-XXXXXX");
    CHECK(mkdtemp(root) != NULL && mkdtemp(outside) != NULL);
    snprintf(secret_path, sizeof secret_path, "%s/credentials", outside);
    FILE *f = fopen(secret_path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(secret, f);
        fclose(f);
    }
    char d[256];
    snprintf(d, sizeof d, "%s/blobs", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/blobs/sha256", root);
    mkdir(d, 0755);
    put("blobs/sha256/" GOOD_HEX, "hello world");
    put("index.json", "{}");
    link_in_root("/dev/zero", "blobs/sha256/zero");
    link_in_root(secret_path, "blobs/sha256/private");
    link_in_root(outside, "shadowdir");                    /* a directory symlink on the way */
    link_in_root("../" GOOD_HEX, "blobs/sha256/relative");   /* even one that stays inside */
    snprintf(d, sizeof d, "%s/fifo", root);
    CHECK(mkfifo(d, 0600) == 0);
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/blobs/sha256/" GOOD_HEX, root);
    snprintf(b, sizeof b, "%s/hardlink", root);
    CHECK(link(a, b) == 0);
    /* the secret's digest, computed through the helper from its own directory (trusted root) */
    char err[256];
    CHECK(sha256_beneath_hex(outside, "credentials", 0, secret_hex, err, sizeof err) == 0);
}

static void tear_down(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", root, outside);
    CHECK(system(cmd) == 0);
}

/* nothing of the secret, its digest or where the link points in err */
static bool leaks_nothing(const char *err)
{
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", secret_hex);
    return strstr(err, prefix) == NULL && strstr(err, "wJalr") == NULL && strstr(err, outside) == NULL &&
           strstr(err, "/dev/zero") == NULL;
}

static void refusals(bool walk)
{
    open_beneath_test_without_openat2(walk);
    char err[512], hex[65];
    /* /dev/zero behind a blob: refused at once, clearly */
    int64_t t0 = mono_ms();
    CHECK_EQ(sha256_beneath_hex(root, "blobs/sha256/zero", 0, hex, err, sizeof err), -1);
    CHECK(mono_ms() - t0 < 1000);
    CHECK(strstr(err, "blobs/sha256/zero is a symbolic link") != NULL);
    CHECK(hex[0] == '\0' && leaks_nothing(err));
    /* a private host file behind a blob: nothing of it in the error */
    CHECK_EQ(sha256_beneath_hex(root, "blobs/sha256/private", 0, hex, err, sizeof err), -1);
    CHECK(strstr(err, "blobs/sha256/private is a symbolic link") != NULL);
    CHECK(hex[0] == '\0' && leaks_nothing(err));
    CHECK(read_beneath(root, "blobs/sha256/private", 1 << 20, 0, NULL, err, sizeof err) == NULL);
    CHECK(leaks_nothing(err));
    /* a symlinked directory on the way, even to a real file */
    CHECK(read_beneath(root, "shadowdir/credentials", 1 << 20, 0, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "shadowdir/credentials") != NULL && leaks_nothing(err));
    /* a symlink that stays inside is refused too: blobs are regular files */
    CHECK_EQ(open_beneath_regular(root, "blobs/sha256/relative", 1 << 20, 0, NULL, err, sizeof err), -1);
    /* "..", absolute, empty */
    CHECK_EQ(open_beneath_regular(root, "blobs/../../etc/passwd", 1 << 20, 0, NULL, err, sizeof err), -1);
    CHECK_EQ(open_beneath_regular(root, "/etc/passwd", 1 << 20, 0, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "not a relative path") != NULL);
    CHECK_EQ(open_beneath_regular(root, "", 1 << 20, 0, NULL, err, sizeof err), -1);
    /* a FIFO does not hang the build; a directory is not a file */
    t0 = mono_ms();
    CHECK_EQ(open_beneath_regular(root, "fifo", 1 << 20, 0, NULL, err, sizeof err), -1);
    CHECK(mono_ms() - t0 < 1000);
    CHECK(strstr(err, "fifo is a device, FIFO or socket") != NULL);
    CHECK_EQ(open_beneath_regular(root, "blobs", 1 << 20, 0, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "blobs is a directory") != NULL);
    /* missing; too large; hard links when asked */
    CHECK_EQ(open_beneath_regular(root, "blobs/sha256/none", 1 << 20, 0, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "blobs/sha256/none is missing") != NULL);
    CHECK_EQ(open_beneath_regular(root, "index.json", 1, 0, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "index.json is larger than 1 bytes") != NULL);
    CHECK_EQ(open_beneath_regular(root, "hardlink", 1 << 20, OPEN_BENEATH_SINGLE_LINK, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "hard link") != NULL);
    open_beneath_test_without_openat2(false);
}

static void accepted(bool walk)
{
    open_beneath_test_without_openat2(walk);
    char err[256], hex[65];
    uint64_t size = 0;
    int fd = open_beneath_regular(root, "index.json", 1 << 20, OPEN_BENEATH_SINGLE_LINK, &size, err, sizeof err);
    CHECK(fd >= 0 && size == 2);
    if (fd >= 0) {
        CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
        CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        close(fd);
    }
    size_t len = 0;
    char *text = read_beneath(root, "index.json", 1 << 20, 0, &len, err, sizeof err);
    CHECK(text != NULL && len == 2 && strcmp(text, "{}") == 0);
    free(text);
    CHECK_EQ(sha256_beneath_hex(root, "blobs/sha256/" GOOD_HEX, 0, hex, err, sizeof err), 0);
    CHECK(strcmp(hex, GOOD_HEX) == 0);
    /* a hard link is fine unless refused on request; "./" and "//" are not path tricks */
    CHECK_EQ(sha256_beneath_hex(root, "hardlink", 0, hex, err, sizeof err), 0);
    CHECK(strcmp(hex, GOOD_HEX) == 0);
    open_beneath_test_without_openat2(false);
}

static void test_refusals_openat2(void) { refusals(false); }
static void test_refusals_walk(void) { refusals(true); }
static void test_regular_files_openat2(void) { accepted(false); }
static void test_regular_files_walk(void) { accepted(true); }

int main(void)
{
    set_up();
    static const struct unit_test tests[] = {
        { "symlinked blobs (/dev/zero, a private file, a directory on the way), FIFOs, .., refused fast and leak nothing (openat2)", test_refusals_openat2 },
        { "the same refusals without openat2 (O_NOFOLLOW walk)", test_refusals_walk },
        { "regular files inside the image are opened, read and hashed (openat2)", test_regular_files_openat2 },
        { "regular files inside the image are opened, read and hashed (O_NOFOLLOW walk)", test_regular_files_walk },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    tear_down();
    return rc;
}
