/* tests/unit/test_oci.c — reading container images (builder/oci.c): OCI layouts (plain,
 * multi-platform indexes, nested indexes), docker save directories, tarballs of either;
 * non-arm64 images, corrupted blobs, bad manifests and path escapes refused with clear reasons. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "builder/digest.h"
#include "builder/layers.h"
#include "builder/oci.h"

static char workdir[] = "/tmp/silo-test-oci-XXXXXX";

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/* Stores data as a blob of the layout at dir; returns "sha256:<hex>" (static rotating). */
static const char *put_blob(const char *dir, const char *data, size_t len)
{
    static char digests[8][80];
    static int next;
    char tmp[600], hex[DIGEST_HEX], path[700];
    snprintf(tmp, sizeof tmp, "%s/blob.tmp", dir);
    write_file(tmp, data, len);
    CHECK_EQ(sha256_file_hex(tmp, hex), 0);
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, hex);
    CHECK_EQ(rename(tmp, path), 0);
    char *d = digests[next++ % 8];
    snprintf(d, 80, "sha256:%s", hex);
    return d;
}

/* A one-file tar layer in memory: returns its bytes (static) and length. */
static const char *layer_bytes(const char *name, const char *content, size_t *len)
{
    static char buf[16384];
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    size_t used = 0;
    archive_write_open_memory(a, buf, sizeof buf, &used);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(content));
    archive_write_header(a, e);
    archive_write_data(a, content, strlen(content));
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    *len = used;
    return buf;
}

static const char *config_json(const char *arch)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/app/run\"]}}", arch);
    return buf;
}

/* Makes an OCI layout in workdir/name with one manifest (config arch) of two layers. Returns
 * the manifest digest; the layout's index lists it with `platform_arch` (NULL: no platform). */
static const char *make_manifest(const char *dir, const char *arch, const char **layer_digest)
{
    size_t len;
    const char *l1 = layer_bytes("a.txt", "first", &len);
    char d1[80], d2[80], dc[80];
    snprintf(d1, sizeof d1, "%s", put_blob(dir, l1, len));
    const char *l2 = layer_bytes("b.txt", "second", &len);
    snprintf(d2, sizeof d2, "%s", put_blob(dir, l2, len));
    const char *cfg = config_json(arch);
    snprintf(dc, sizeof dc, "%s", put_blob(dir, cfg, strlen(cfg)));
    if (layer_digest)
        *layer_digest = strdup(d2);
    char manifest[2048];
    snprintf(manifest, sizeof manifest,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":1},"
             "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1},"
             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1}]}",
             dc, d1, d2);
    return put_blob(dir, manifest, strlen(manifest));
}

static char *new_layout(const char *name)
{
    static char dir[512];
    char p[600];
    snprintf(dir, sizeof dir, "%s/%s", workdir, name);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/blobs", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/blobs/sha256", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/oci-layout", dir);
    write_file(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    return dir;
}

static void write_index(const char *dir, const char *manifests_json)
{
    char p[600], idx[4096];
    snprintf(p, sizeof p, "%s/index.json", dir);
    snprintf(idx, sizeof idx, "{\"schemaVersion\":2,\"manifests\":[%s]}", manifests_json);
    write_file(p, idx, strlen(idx));
}

static int load(const char *dir, struct oci_image *img, char *err)
{
    int rc = oci_load(dir, img, err, 512);
    if (rc != 0)
        fprintf(stderr, "#   oci_load(%s): %s\n", strrchr(dir, '/'), err);
    return rc;
}

static void test_plain_layout(void)
{
    char *dir = new_layout("plain");
    const char *last_layer;
    const char *m = make_manifest(dir, "arm64", &last_layer);
    char entry[256];
    snprintf(entry, sizeof entry, "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1}", m);
    write_index(dir, entry);
    CHECK_EQ(oci_detect(dir), 1);
    struct oci_image img;
    char err[512];
    CHECK_EQ(load(dir, &img, err), 0);
    CHECK_EQ(img.layer_count, 2);
    CHECK(strcmp(img.format, "oci") == 0);
    CHECK(img.layer_count == 2 && strstr(img.layers[1], last_layer + 7) != NULL);   /* order kept */
    CHECK(strstr(img.config_json, "\"arm64\"") != NULL);
    oci_free(&img);
    free((void *)last_layer);
}

static void test_multi_platform(void)
{
    char *dir = new_layout("multi");
    const char *amd = make_manifest(dir, "amd64", NULL);
    char amd_d[80];
    snprintf(amd_d, sizeof amd_d, "%s", amd);
    const char *arm = make_manifest(dir, "arm64", NULL);
    char entries[1024];
    snprintf(entries, sizeof entries,
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}", amd_d, arm);
    /* the index itself as a blob, referenced from index.json: a nested index */
    char nested[1200];
    snprintf(nested, sizeof nested, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[%s]}", entries);
    const char *nd = put_blob(dir, nested, strlen(nested));
    char top[256];
    snprintf(top, sizeof top, "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"%s\",\"size\":1}", nd);
    write_index(dir, top);
    struct oci_image img;
    char err[512];
    CHECK_EQ(load(dir, &img, err), 0);
    CHECK(img.config_json != NULL && strstr(img.config_json, "\"arm64\"") != NULL);
    oci_free(&img);

    /* the same, with only the amd64 entry: refused, naming what the image has */
    snprintf(entries, sizeof entries,
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}", amd_d);
    write_index(dir, entries);
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "no linux/arm64 variant") != NULL && strstr(err, "linux/amd64") != NULL);
}

static void test_non_arm64_config(void)
{
    char *dir = new_layout("amd64");
    const char *m = make_manifest(dir, "amd64", NULL);
    char entry[256];
    snprintf(entry, sizeof entry, "{\"digest\":\"%s\",\"size\":1}", m);   /* no platform: config decides */
    write_index(dir, entry);
    struct oci_image img;
    char err[512];
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "image is linux/amd64") != NULL);
    CHECK(strstr(err, "only linux/arm64") != NULL);
    CHECK_EQ(oci_check_platform("{\"architecture\":\"arm64\",\"os\":\"windows\"}", 40, err, sizeof err), -1);
    CHECK_EQ(oci_check_platform("{\"os\":\"linux\"}", 14, err, sizeof err), -1);
    CHECK_EQ(oci_check_platform("{\"architecture\":\"arm64\"}", 24, err, sizeof err), 0);
    CHECK_EQ(oci_check_platform("not json", 8, err, sizeof err), -1);
}

static void test_corrupted_blob(void)
{
    char *dir = new_layout("corrupt");
    const char *last;
    const char *m = make_manifest(dir, "arm64", &last);
    char entry[256], p[700];
    snprintf(entry, sizeof entry, "{\"digest\":\"%s\",\"size\":1}", m);
    write_index(dir, entry);
    snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, last + 7);
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 600, SEEK_SET);
        fputc('X', f);
        fclose(f);
    }
    struct oci_image img;
    char err[512];
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "is corrupted") != NULL);
    /* a missing blob, a malformed digest, an unparsable index */
    unlink(p);
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    write_index(dir, "{\"digest\":\"sha256:../../etc/passwd\"}");
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "digest") != NULL);
    write_index(dir, "{\"digest\":");
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "invalid JSON") != NULL);
    free((void *)last);
}

static void make_docker_dir(const char *dir, const char *manifest)
{
    char p[600];
    size_t len;
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/l1", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/l2", dir);
    mkdir(p, 0755);
    const char *l = layer_bytes("one", "1", &len);
    snprintf(p, sizeof p, "%s/l1/layer.tar", dir);
    write_file(p, l, len);
    l = layer_bytes("two", "2", &len);
    snprintf(p, sizeof p, "%s/l2/layer.tar", dir);
    write_file(p, l, len);
    snprintf(p, sizeof p, "%s/cfg.json", dir);
    write_file(p, config_json("arm64"), strlen(config_json("arm64")));
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    write_file(p, manifest, strlen(manifest));
}

static void test_docker_save(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/docker", workdir);
    /* layers listed l2 then l1: that order, not the directory order, is kept */
    make_docker_dir(dir, "[{\"Config\":\"cfg.json\",\"RepoTags\":[\"a:b\"],\"Layers\":[\"l2/layer.tar\",\"l1/layer.tar\"]}]");
    CHECK_EQ(oci_detect(dir), 1);
    struct oci_image img;
    char err[512];
    CHECK_EQ(load(dir, &img, err), 0);
    CHECK(strcmp(img.format, "docker") == 0);
    CHECK_EQ(img.layer_count, 2);
    CHECK(img.layer_count == 2 && strstr(img.layers[0], "/l2/") != NULL && strstr(img.layers[1], "/l1/") != NULL);
    oci_free(&img);

    char p[600];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    const char *escape = "[{\"Config\":\"cfg.json\",\"Layers\":[\"../../etc/passwd\"]}]";
    write_file(p, escape, strlen(escape));
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "bad path") != NULL);
    const char *two = "[{\"Config\":\"cfg.json\",\"Layers\":[]},{\"Config\":\"cfg.json\",\"Layers\":[]}]";
    write_file(p, two, strlen(two));
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "holds 2 images") != NULL);
    const char *missing = "[{\"Config\":\"cfg.json\",\"Layers\":[\"l3/layer.tar\"]}]";
    write_file(p, missing, strlen(missing));
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
    CHECK(strstr(err, "missing") != NULL);
    const char *notarray = "{\"Config\":\"cfg.json\"}";
    write_file(p, notarray, strlen(notarray));
    CHECK_EQ(oci_load(dir, &img, err, sizeof err), -1);
}

static void test_tarball(void)
{
    /* the plain layout from test_plain_layout, as a tarball, extracted and loaded again */
    char tar[600], out[600], cmd[1600], err[512];
    snprintf(tar, sizeof tar, "%s/plain.tar", workdir);
    snprintf(out, sizeof out, "%s/plain-x", workdir);
    snprintf(cmd, sizeof cmd, "tar -C %s/plain -cf %s .", workdir, tar);
    CHECK_EQ(system(cmd), 0);
    mkdir(out, 0755);
    CHECK_EQ(archive_extract_plain(tar, out, err, sizeof err), 0);
    CHECK_EQ(oci_detect(out), 1);
    struct oci_image img;
    CHECK_EQ(load(out, &img, err), 0);
    CHECK_EQ(img.layer_count, 2);
    oci_free(&img);
    /* a truncated tarball is refused clearly */
    snprintf(cmd, sizeof cmd, "head -c 1500 %s > %s.cut", tar, tar);
    CHECK_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.cut", tar);
    snprintf(out, sizeof out, "%s/cut-x", workdir);
    mkdir(out, 0755);
    CHECK_EQ(archive_extract_plain(cmd, out, err, sizeof err), -1);
    CHECK(strstr(err, "corrupted or truncated") != NULL || strstr(err, "cannot extract") != NULL);
}

int main(void)
{
    if (mkdtemp(workdir) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        { "OCI layout: config and layers in order", test_plain_layout },
        { "OCI index: the linux/arm64 manifest is picked; none is refused", test_multi_platform },
        { "non-arm64 image configs are refused clearly", test_non_arm64_config },
        { "corrupted or missing blobs, bad digests, bad JSON refused", test_corrupted_blob },
        { "docker save: Layers order kept; escapes and bad manifests refused", test_docker_save },
        { "tarballs of a layout extract and load; truncated ones refused", test_tarball },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
