/* builder/oci.c — OCI image layouts and docker save directories (see oci.h). */
#include "builder/oci.h"
#include "base/error_message.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/digest.h"
#include "builder/layers.h"
#include "builder/open_beneath.h"

#define MAX_JSON_FILE (16u << 20)
#define MAX_INDEX_DEPTH 4

/* A regular file dir/name reached without symlinks (open_beneath.h). */
static bool exists(const char *dir, const char *name)
{
    char why[256];
    int fd = open_beneath_regular(dir, name, UINT64_MAX, 0, NULL, why, sizeof why);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

int oci_detect(const char *dir)
{
    return exists(dir, "manifest.json") || (exists(dir, "oci-layout") && exists(dir, "index.json"));
}

/* dir/rel, a regular JSON file of at most MAX_JSON_FILE bytes, read without following the
 * image's symlinks (open_beneath.h). */
static char *read_file(const char *dir, const char *rel, size_t *len, char *err, size_t errlen)
{
    return read_beneath(dir, rel, MAX_JSON_FILE, 0, len, err, errlen);
}

static json_object *parse_json(const char *text, size_t len, const char *what, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (o == NULL || e != json_tokener_success) {
        json_object_put(o);
        error_message(err, errlen, "%s: invalid JSON (%s)", what, json_tokener_error_desc(e));
        return NULL;
    }
    return o;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;
    if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* dir/blobs/sha256/<hex> for a "sha256:<64 hex>" digest, verified; NULL with err otherwise. */
static char *verified_blob(const char *dir, const char *digest, char *err, size_t errlen)
{
    if (digest == NULL || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64) {
        error_message(err, errlen, "unsupported or malformed digest \"%.80s\"", digest ? digest : "(none)");
        return NULL;
    }
    for (const char *p = digest + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            error_message(err, errlen, "malformed digest \"%.80s\"", digest);
            return NULL;
        }
    char rel[100], hex[DIGEST_HEX], why[400];
    snprintf(rel, sizeof rel, "blobs/sha256/%s", digest + 7);
    if (sha256_beneath_hex(dir, rel, 0, hex, why, sizeof why) < 0) {
        error_message(err, errlen, "blob %.19s...: %s", digest, why);
        return NULL;
    }
    char *path = malloc(strlen(dir) + sizeof rel + 1);
    sprintf(path, "%s/%s", dir, rel);
    if (strcmp(hex, digest + 7) != 0) {
        error_message(err, errlen, "blob %.19s... is corrupted: its SHA-256 is %.12s...", digest, hex);
        free(path);
        return NULL;
    }
    return path;
}

int oci_check_platform(const char *config_json, size_t len, char *err, size_t errlen)
{
    json_object *c = parse_json(config_json, len, "image config", err, errlen);
    if (c == NULL)
        return -1;
    const char *arch = get_str(c, "architecture"), *os = get_str(c, "os");
    int rc = 0;
    if (!json_object_is_type(c, json_type_object))
        rc = error_message(err, errlen, "image config: not a JSON object");
    else if (arch == NULL)
        rc = error_message(err, errlen, "image config: no \"architecture\"; Silo runs only arm64 images");
    else if (strcmp(arch, "arm64") != 0 || (os != NULL && strcmp(os, "linux") != 0))
        rc = error_message(err, errlen,
                  "image is %s/%s, but Silo runs only linux/arm64 images (AgentCore requires ARM64 too); "
                  "rebuild it with --platform linux/arm64", os ? os : "?", arch);
    json_object_put(c);
    return rc;
}

static bool is_index_type(const char *mt)
{
    return mt != NULL && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
                          strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

/* Loads a manifest blob: its config and layers into img. */
static int load_manifest(const char *dir, json_object *m, struct oci_image *img, char *err, size_t errlen)
{
    json_object *config, *layers;
    if (!json_object_object_get_ex(m, "config", &config) || !json_object_object_get_ex(m, "layers", &layers) ||
        !json_object_is_type(layers, json_type_array))
        return error_message(err, errlen, "image manifest: no config or layers");
    char *cpath = verified_blob(dir, get_str(config, "digest"), err, errlen);
    if (cpath == NULL)
        return -1;
    img->config_json = read_file(dir, cpath + strlen(dir) + 1, &img->config_len, err, errlen);
    free(cpath);
    if (img->config_json == NULL)
        return -1;
    size_t n = json_object_array_length(layers);
    if (n > OCI_MAX_LAYERS)
        return error_message(err, errlen, "image manifest: %zu layers, more than %d", n, OCI_MAX_LAYERS);
    for (size_t i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        const char *mt = get_str(l, "mediaType");
        if (mt != NULL && strstr(mt, "tar") == NULL)
            return error_message(err, errlen, "layer %zu has media type %s, which is not a tar layer", i, mt);
        if (mt != NULL && strstr(mt, "nondistributable") != NULL && strstr(mt, "foreign") != NULL)
            return error_message(err, errlen, "layer %zu is a foreign layer; pull it first", i);
        img->layers[i] = verified_blob(dir, get_str(l, "digest"), err, errlen);
        if (img->layers[i] == NULL)
            return -1;
        img->layer_count = i + 1;
    }
    return 0;
}

json_object *oci_pick_arm64(json_object *index, char *err, size_t errlen)
{
    json_object *manifests;
    char found[256] = "";
    if (!json_object_object_get_ex(index, "manifests", &manifests) || !json_object_is_type(manifests, json_type_array) ||
        json_object_array_length(manifests) == 0) {
        error_message(err, errlen, "image index lists no manifests");
        return NULL;
    }
    size_t n = json_object_array_length(manifests);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(manifests, i), *platform;
        if (!json_object_is_type(m, json_type_object))
            continue;
        if (!json_object_object_get_ex(m, "platform", &platform))
            return m;               /* no platform given: the config decides */
        const char *arch = get_str(platform, "architecture"), *os = get_str(platform, "os");
        const char *variant = get_str(platform, "variant");
        if (arch != NULL && strcmp(arch, "arm64") == 0 && (os == NULL || strcmp(os, "linux") == 0) &&
            (variant == NULL || strcmp(variant, "v8") == 0))
            return m;
        if (arch != NULL && strcmp(arch, "unknown") != 0 && strlen(found) + strlen(arch) + 40 < sizeof found)
            snprintf(found + strlen(found), sizeof found - strlen(found), "%s%.20s/%.20s%s%.10s", found[0] ? ", " : "",
                     os ? os : "?", arch, variant ? "/" : "", variant ? variant : "");
    }
    error_message(err, errlen,
                  "The container image has no linux/arm64 variant (it has: %s); AgentCore Runtime requires "
                  "arm64 images", found[0] ? found : "none");
    return NULL;
}

/* Follows an index to the linux/arm64 manifest (recursively), then loads it. */
static int load_from_index(const char *dir, json_object *index, int depth, struct oci_image *img, char *err,
                           size_t errlen)
{
    if (depth > MAX_INDEX_DEPTH)
        return error_message(err, errlen, "image index nested more than %d deep", MAX_INDEX_DEPTH);
    json_object *pick = oci_pick_arm64(index, err, errlen);
    if (pick == NULL)
        return -1;
    char *path = verified_blob(dir, get_str(pick, "digest"), err, errlen);
    if (path == NULL)
        return -1;
    size_t len;
    char *text = read_file(dir, path + strlen(dir) + 1, &len, err, errlen);
    free(path);
    json_object *doc = text ? parse_json(text, len, "image manifest", err, errlen) : NULL;
    free(text);
    if (doc == NULL)
        return -1;
    const char *mt = get_str(doc, "mediaType");
    if (mt == NULL)
        mt = get_str(pick, "mediaType");
    int rc;
    if (is_index_type(mt) || (mt == NULL && json_object_object_get_ex(doc, "manifests", NULL)))
        rc = load_from_index(dir, doc, depth + 1, img, err, errlen);
    else
        rc = load_manifest(dir, doc, img, err, errlen);
    json_object_put(doc);
    return rc;
}

/* A path from docker's manifest.json, relative to dir, that must stay inside it. */
static char *inside(const char *dir, const char *rel, char *err, size_t errlen)
{
    char clean[4096];
    if (rel == NULL || layer_clean_path(rel, clean, sizeof clean) < 0) {
        error_message(err, errlen, "manifest.json: bad path \"%.100s\"", rel ? rel : "(none)");
        return NULL;
    }
    char why[400];
    int fd = open_beneath_regular(dir, clean, UINT64_MAX, 0, NULL, why, sizeof why);
    if (fd < 0) {
        error_message(err, errlen, "manifest.json names %s", why);
        return NULL;
    }
    close(fd);
    char *path = malloc(strlen(dir) + strlen(clean) + 2);
    sprintf(path, "%s/%s", dir, clean);
    return path;
}

static int load_docker(const char *dir, struct oci_image *img, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(dir, "manifest.json", &len, err, errlen);
    json_object *doc = text ? parse_json(text, len, "manifest.json", err, errlen) : NULL;
    free(text);
    if (doc == NULL)
        return -1;
    int rc = -1;
    json_object *first, *layers;
    if (!json_object_is_type(doc, json_type_array) || json_object_array_length(doc) == 0) {
        error_message(err, errlen, "manifest.json: not a non-empty array");
        goto out;
    }
    if (json_object_array_length(doc) > 1) {
        error_message(err, errlen, "the tarball holds %zu images; save one image per tarball",
             json_object_array_length(doc));
        goto out;
    }
    first = json_object_array_get_idx(doc, 0);
    char *cpath = inside(dir, get_str(first, "Config"), err, errlen);
    if (cpath == NULL)
        goto out;
    img->config_json = read_file(dir, cpath + strlen(dir) + 1, &img->config_len, err, errlen);
    free(cpath);
    if (img->config_json == NULL)
        goto out;
    if (!json_object_object_get_ex(first, "Layers", &layers) || !json_object_is_type(layers, json_type_array)) {
        error_message(err, errlen, "manifest.json: no Layers array");
        goto out;
    }
    if (json_object_array_length(layers) > OCI_MAX_LAYERS) {
        error_message(err, errlen, "manifest.json: more than %d layers", OCI_MAX_LAYERS);
        goto out;
    }
    for (size_t i = 0; i < json_object_array_length(layers); i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        if (!json_object_is_type(l, json_type_string)) {
            error_message(err, errlen, "manifest.json: Layers[%zu] is not a string", i);
            goto out;
        }
        img->layers[i] = inside(dir, json_object_get_string(l), err, errlen);
        if (img->layers[i] == NULL)
            goto out;
        img->layer_count = i + 1;
    }
    rc = 0;
out:
    json_object_put(doc);
    return rc;
}

int oci_load(const char *dir, struct oci_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    int rc;
    if (exists(dir, "manifest.json")) {
        snprintf(img->format, sizeof img->format, "docker");
        rc = load_docker(dir, img, err, errlen);
    } else if (exists(dir, "oci-layout") && exists(dir, "index.json")) {
        size_t len;
        snprintf(img->format, sizeof img->format, "oci");
        char *text = read_file(dir, "index.json", &len, err, errlen);
        json_object *index = text ? parse_json(text, len, "index.json", err, errlen) : NULL;
        free(text);
        rc = index ? load_from_index(dir, index, 0, img, err, errlen) : -1;
        json_object_put(index);
    } else {
        rc = error_message(err, errlen, "%s is neither an OCI image layout nor a docker save", dir);
    }
    if (rc == 0)
        rc = oci_check_platform(img->config_json, img->config_len, err, errlen);
    if (rc < 0)
        oci_free(img);
    return rc;
}

void oci_free(struct oci_image *img)
{
    free(img->config_json);
    for (size_t i = 0; i < img->layer_count; i++)
        free(img->layers[i]);
    memset(img, 0, sizeof *img);
}
