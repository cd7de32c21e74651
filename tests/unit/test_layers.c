/* tests/unit/test_layers.c — OCI layer application (builder/layers.c): whiteouts and
 * opaque directories against lower layers, entry order inside a layer, hostile entries
 * (.., absolute paths, symlink escapes, hard links out of the tree), corrupted archives. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "builder/layers.h"

static char workdir[] = "/tmp/silo-test-layers-XXXXXX";

/* One archive entry: type 'f' file (content), 'd' dir, 'l' symlink (target), 'h' hard link (target). */
struct entry {
    char type;
    const char *path;
    const char *data;
};

/* Writes a tar (gzip-compressed when gz) with these entries; returns its path (static). */
static const char *make_tar(const char *name, const struct entry *e, size_t n, int gz)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gz)
        archive_write_add_filter_gzip(a);
    CHECK_EQ(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_mtime(ae, 1700000000, 0);
        switch (e[i].type) {
        case 'f':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
            break;
        case 'd':
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
            break;
        case 'l':
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e[i].data);
            break;
        case 'h':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_hardlink(ae, e[i].data);
            archive_entry_set_size(ae, 0);
            break;
        case 'c':
            archive_entry_set_filetype(ae, AE_IFCHR);
            archive_entry_set_perm(ae, 0600);
            archive_entry_set_rdev(ae, 0x0101);
            break;
        }
        CHECK_EQ(archive_write_header(a, ae), ARCHIVE_OK);
        if (e[i].type == 'f')
            archive_write_data(a, e[i].data, strlen(e[i].data));
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return path;
}

static const char *new_root(const char *name)
{
    static char root[512];
    snprintf(root, sizeof root, "%s/%s", workdir, name);
    CHECK_EQ(mkdir(root, 0755), 0);
    return root;
}

static int exists(const char *root, const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return lstat(p, &st) == 0;
}

static int has_content(const char *root, const char *rel, const char *want)
{
    char p[1024], buf[256] = "";
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

static void apply_ok(const char *root, const char *tar, struct layer_stats *st)
{
    char err[512] = "";
    int rc = layer_apply(root, tar, st, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "#   layer_apply: %s\n", err);
    CHECK_EQ(rc, 0);
}

static void test_whiteouts(void)
{
    const char *root = new_root("wh");
    const struct entry base[] = {
        { 'd', "etc", NULL }, { 'f', "etc/keep", "k" }, { 'f', "etc/gone", "g" },
        { 'd', "app", NULL }, { 'd', "app/lib", NULL }, { 'f', "app/lib/a.js", "a" }, { 'f', "app/main.js", "m1" },
        { 'd', "opq", NULL }, { 'f', "opq/old1", "1" }, { 'd', "opq/olddir", NULL }, { 'f', "opq/olddir/x", "x" },
        { 'l', "link", "etc/keep" },
    };
    struct layer_stats st = { 0 };
    apply_ok(root, make_tar("base.tar", base, sizeof base / sizeof base[0], 0), &st);
    CHECK_EQ(st.entries, sizeof base / sizeof base[0]);
    CHECK(has_content(root, "app/main.js", "m1"));

    /* the upper layer: whiteouts (file, whole dir, symlink), an opaque dir whose new content
     * comes BEFORE its .wh..wh..opq marker, and a changed file; gzip-compressed */
    const struct entry upper[] = {
        { 'f', "opq/new", "n" },
        { 'f', "etc/.wh.gone", "" },
        { 'f', "app/.wh.lib", "" },
        { 'f', ".wh.link", "" },
        { 'f', "opq/.wh..wh..opq", "" },
        { 'f', "app/main.js", "m2" },
        { 'f', "etc/.wh.never-existed", "" },
    };
    memset(&st, 0, sizeof st);
    apply_ok(root, make_tar("upper.tar.gz", upper, sizeof upper / sizeof upper[0], 1), &st);
    CHECK_EQ(st.whiteouts, 4);
    CHECK_EQ(st.opaque, 1);
    CHECK(exists(root, "etc/keep"));
    CHECK(!exists(root, "etc/gone"));
    CHECK(!exists(root, "app/lib"));
    CHECK(!exists(root, "link"));
    CHECK(has_content(root, "app/main.js", "m2"));
    CHECK(exists(root, "opq"));
    CHECK(has_content(root, "opq/new", "n"));          /* same layer: kept despite the marker */
    CHECK(!exists(root, "opq/old1"));
    CHECK(!exists(root, "opq/olddir"));
    CHECK(!exists(root, "etc/.wh.gone"));              /* whiteout files are never written */
    CHECK(!exists(root, "opq/.wh..wh..opq"));

    /* a file replacing a directory and a directory replacing a file */
    const struct entry swap[] = { { 'f', ".wh.opq", "" }, { 'f', "opq", "now a file" }, { 'f', ".wh.etc", "" },
                                  { 'd', "etc", NULL }, { 'f', "etc/fresh", "f" } };
    apply_ok(root, make_tar("swap.tar", swap, sizeof swap / sizeof swap[0], 0), NULL);
    CHECK(has_content(root, "opq", "now a file"));
    CHECK(!exists(root, "etc/keep"));
    CHECK(has_content(root, "etc/fresh", "f"));
}

static void test_whiteout_through_symlink_stays_inside(void)
{
    /* a lower layer makes "escape" a symlink to a directory outside the root; a whiteout of
     * "escape/victim" must not delete the outside file */
    const char *root = new_root("wh-sym");
    char outside[512], victim[600];
    snprintf(outside, sizeof outside, "%s/outside", workdir);
    mkdir(outside, 0755);
    snprintf(victim, sizeof victim, "%s/victim", outside);
    FILE *f = fopen(victim, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    const struct entry lower[] = { { 'l', "escape", outside } };
    apply_ok(root, make_tar("sym-lower.tar", lower, 1, 0), NULL);
    const struct entry upper[] = { { 'f', "escape/.wh.victim", "" }, { 'f', "escape/.wh..wh..opq", "" } };
    apply_ok(root, make_tar("sym-upper.tar", upper, 2, 0), NULL);
    CHECK_EQ(access(victim, F_OK), 0);
}

static void expect_refused(const char *name, const struct entry *e, size_t n, const char *why)
{
    char root[512], err[512] = "";
    snprintf(root, sizeof root, "%s/r-%s", workdir, name);
    mkdir(root, 0755);
    int rc = layer_apply(root, make_tar(name, e, n, 0), NULL, err, sizeof err);
    CHECK_EQ(rc, -1);
    if (strstr(err, why) == NULL)
        fprintf(stderr, "#   %s: reason \"%s\" lacks \"%s\"\n", name, err, why);
    CHECK(strstr(err, why) != NULL);
}

static void test_hostile_entries(void)
{
    const struct entry dotdot[] = { { 'f', "../evil", "x" } };
    expect_refused("dotdot.tar", dotdot, 1, "refusing entry");
    const struct entry deep[] = { { 'd', "a", NULL }, { 'f', "a/../../evil", "x" } };
    expect_refused("deep.tar", deep, 2, "refusing entry");
    const struct entry hard[] = { { 'h', "pw", "../../etc/passwd" } };
    expect_refused("hard.tar", hard, 1, "refusing hard link");
    /* a file written through a symlink that points out of the tree lands inside it */
    const struct entry via[] = { { 'l', "out", "/tmp" }, { 'l', "rel", "../../../tmp" },
                                 { 'f', "out/silo-test-evil", "x" }, { 'f', "rel/silo-test-evil2", "y" } };
    const char *vroot = new_root("via");
    apply_ok(vroot, make_tar("via-symlink.tar", via, 4, 0), NULL);
    CHECK(access("/tmp/silo-test-evil", F_OK) != 0);
    CHECK(access("/tmp/silo-test-evil2", F_OK) != 0);
    CHECK(has_content(vroot, "tmp/silo-test-evil", "x"));
    CHECK(has_content(vroot, "tmp/silo-test-evil2", "y"));
    /* merged /usr: lib -> usr/lib in a lower layer, then lib/x in an upper one */
    const char *mroot = new_root("merged");
    const struct entry lower[] = { { 'd', "usr", NULL }, { 'd', "usr/lib", NULL }, { 'l', "lib", "usr/lib" } };
    apply_ok(mroot, make_tar("merged-lower.tar", lower, 3, 0), NULL);
    const struct entry upper[] = { { 'd', "lib/x", NULL }, { 'f', "lib/x/y.so", "so" }, { 'h', "z.so", "lib/x/y.so" },
                                   { 'f', "lib/.wh.old", "" } };
    apply_ok(mroot, make_tar("merged-upper.tar", upper, 4, 0), NULL);
    CHECK(has_content(mroot, "usr/lib/x/y.so", "so"));
    CHECK(has_content(mroot, "z.so", "so"));
    struct stat lst;
    char lpath[600];
    snprintf(lpath, sizeof lpath, "%s/lib", mroot);
    CHECK(lstat(lpath, &lst) == 0 && S_ISLNK(lst.st_mode));      /* the symlink survives */

    /* absolute paths are made relative (as tar does), never written outside */
    char root[512];
    snprintf(root, sizeof root, "%s/abs", workdir);
    mkdir(root, 0755);
    const struct entry abs[] = { { 'f', "/abs-file", "a" }, { 'c', "dev/null", NULL } };
    struct layer_stats st = { 0 };
    apply_ok(root, make_tar("abs.tar", abs, 2, 0), &st);
    CHECK(has_content(root, "abs-file", "a"));
    CHECK_EQ(st.skipped, 1);                 /* the device node */
    CHECK(!exists(root, "dev/null"));
}

static void test_corrupted(void)
{
    const struct entry files[] = { { 'f', "a", "hello" }, { 'f', "b", "world, a longer file" } };
    const char *tar = make_tar("good.tar.gz", files, 2, 1);
    char bad[600], err[512] = "";
    snprintf(bad, sizeof bad, "%s/truncated.tar.gz", workdir);
    /* keep the first 40 bytes only */
    FILE *in = fopen(tar, "rb"), *out = fopen(bad, "wb");
    char buf[40];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    const char *root = new_root("corrupt");
    CHECK_EQ(layer_apply(root, bad, NULL, err, sizeof err), -1);
    CHECK(strlen(err) > 0);

    snprintf(bad, sizeof bad, "%s/garbage.tar", workdir);
    out = fopen(bad, "wb");
    for (int i = 0; i < 2000; i++)
        fputc((i * 7919) & 0xff, out);
    fclose(out);
    CHECK_EQ(layer_apply(root, bad, NULL, err, sizeof err), -1);
    CHECK(strlen(err) > 0);
    CHECK_EQ(layer_apply(root, "/nonexistent/layer.tar", NULL, err, sizeof err), -1);
}

static void test_clean_path(void)
{
    char out[64];
    CHECK_EQ(layer_clean_path("./a//b/./c/", out, sizeof out), 0);
    CHECK(strcmp(out, "a/b/c") == 0);
    CHECK_EQ(layer_clean_path("/etc/passwd", out, sizeof out), 0);
    CHECK(strcmp(out, "etc/passwd") == 0);
    CHECK_EQ(layer_clean_path("a/..", out, sizeof out), -1);
    CHECK_EQ(layer_clean_path("..", out, sizeof out), -1);
    CHECK_EQ(layer_clean_path("./", out, sizeof out), -1);
    CHECK_EQ(layer_clean_path("a..b/..c", out, sizeof out), 0);
    CHECK_EQ(layer_clean_path("0123456789012345678901234567890123456789012345678901234567890123456789", out, sizeof out), -1);
}

int main(void)
{
    if (mkdtemp(workdir) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        { "layers: whiteouts and opaque dirs hide lower layers only", test_whiteouts },
        { "layers: whiteouts never reach through a symlink", test_whiteout_through_symlink_stays_inside },
        { "layers: .., hard links and symlink escapes are refused", test_hostile_entries },
        { "layers: corrupted and truncated archives are refused", test_corrupted },
        { "layers: entry paths are normalized", test_clean_path },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
