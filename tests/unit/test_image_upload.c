/* tests/unit/test_image_upload.c — image archives into the store (frontend/image_upload.c):
 * a tar and a gzip'd archive kept under their digest names, a refused hash, a body that is no
 * archive refused from its first bytes and at its end, an aborted upload leaving nothing, an
 * upload of a stored digest answered without a file. (Authentication, the size bound and the
 * HTTP side are tests/host/silo_deploy.sh's.) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/image_upload.h"
#include "tests/unit/check.h"

static char store[64];
static const char hex_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char hex_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char hex_c[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/* entries in STORE/uploads (names starting with '.' too) */
static int entries(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/uploads", store);
    DIR *d = opendir(p);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static bool is_file(const char *hex, const char *name, long long size)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/uploads/sha256-%s/%s", store, hex, name);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
}

/* a 1536-byte "tar": a ustar header block and two zero blocks */
static void tar_bytes(unsigned char *b)
{
    memset(b, 0, 1536);
    memcpy(b, "file.txt", 8);
    memcpy(b + 257, "ustar", 5);
}

static void test_tar_and_gzip_kept_by_digest(void)
{
    unsigned char tar[1536];
    tar_bytes(tar);
    struct image_upload u;
    char err[300], uri[128];
    CHECK_EQ(image_upload_begin(&u, store, hex_a, err, sizeof err), UPLOAD_OPEN);
    CHECK(image_upload_write(&u, tar, 100, err, sizeof err));        /* the header arrives in pieces */
    CHECK(image_upload_write(&u, tar + 100, sizeof tar - 100, err, sizeof err));
    CHECK(image_upload_commit(&u, uri, sizeof uri, err, sizeof err));
    CHECK(strcmp(uri, "uploads/sha256-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == 0);
    CHECK(is_file(hex_a, "latest.tar", sizeof tar));
    image_upload_abort(&u);
    CHECK(is_file(hex_a, "latest.tar", sizeof tar));                 /* committed: abort keeps it */

    unsigned char gz[40] = { 0x1f, 0x8b, 8 };
    CHECK_EQ(image_upload_begin(&u, store, hex_b, err, sizeof err), UPLOAD_OPEN);
    CHECK(image_upload_write(&u, gz, sizeof gz, err, sizeof err));
    CHECK(image_upload_commit(&u, uri, sizeof uri, err, sizeof err));
    CHECK(is_file(hex_b, "latest.tar.gz", sizeof gz));
    CHECK_EQ(entries(), 2);                                            /* two digests, no temporary names */

    CHECK_EQ(image_upload_begin(&u, store, hex_a, err, sizeof err), UPLOAD_PRESENT);
    CHECK(u.present && u.fd < 0);
    CHECK(image_upload_commit(&u, uri, sizeof uri, err, sizeof err) && strstr(uri, hex_a));
}

static void test_refusals_leave_nothing(void)
{
    struct image_upload u;
    char err[300], uri[128];
    int before = entries();
    CHECK_EQ(image_upload_begin(&u, store, "ABC", err, sizeof err), UPLOAD_REFUSED);
    CHECK_EQ(image_upload_begin(&u, store, "UNSIGNED-PAYLOAD", err, sizeof err), UPLOAD_REFUSED);
    char upper[65];
    memcpy(upper, hex_c, 65);
    upper[0] = 'C';
    CHECK_EQ(image_upload_begin(&u, store, upper, err, sizeof err), UPLOAD_REFUSED);

    /* no archive: refused once 262 bytes show no tar header */
    unsigned char junk[600];
    memset(junk, 'x', sizeof junk);
    CHECK_EQ(image_upload_begin(&u, store, hex_c, err, sizeof err), UPLOAD_OPEN);
    CHECK(image_upload_write(&u, junk, 100, err, sizeof err));       /* too early to tell */
    CHECK(!image_upload_write(&u, junk, 500, err, sizeof err) && strstr(err, "not an image archive"));
    image_upload_abort(&u);
    CHECK_EQ(entries(), before);
    /* a short body that never shows a header: refused at its end */
    CHECK_EQ(image_upload_begin(&u, store, hex_c, err, sizeof err), UPLOAD_OPEN);
    CHECK(image_upload_write(&u, junk, 10, err, sizeof err));
    CHECK(!image_upload_commit(&u, uri, sizeof uri, err, sizeof err));
    image_upload_abort(&u);
    /* a good body whose hash was refused (the caller aborts): nothing kept */
    unsigned char tar[1536];
    tar_bytes(tar);
    CHECK_EQ(image_upload_begin(&u, store, hex_c, err, sizeof err), UPLOAD_OPEN);
    CHECK(image_upload_write(&u, tar, sizeof tar, err, sizeof err));
    image_upload_abort(&u);
    image_upload_abort(&u);                                            /* twice is harmless */
    CHECK_EQ(entries(), before);
    CHECK(!is_file(hex_c, "latest.tar", -1));
}

int main(void)
{
    snprintf(store, sizeof store, "/tmp/silo-upload-test.XXXXXX");
    if (!mkdtemp(store))
        return 1;
    static const struct unit_test tests[] = {
        { "a tar and a gzip'd archive are kept by digest; a stored digest needs no body", test_tar_and_gzip_kept_by_digest },
        { "a bad hash, a body that is no archive, an aborted upload: refused, nothing left", test_refusals_leave_nothing },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", store);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
