/* builder/oci.h — finding the config and the ordered layers of a container image laid out
 * in a directory: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`) or the
 * unpacked contents of a `docker save` tarball (`manifest.json` with Config and Layers; newer
 * Docker writes both, and manifest.json is then preferred because it names the saved image).
 *
 * Image indexes (OCI index, Docker manifest list) are followed to the linux/arm64 manifest.
 * Every blob named by digest is verified against its SHA-256; the config must say
 * architecture "arm64" and os "linux" (or no os): anything else is refused with a message that
 * says what the image is and what to do.
 */
#ifndef SILO_TOOLS_IMAGE_OCI_H
#define SILO_TOOLS_IMAGE_OCI_H

#include <stddef.h>

#define OCI_MAX_LAYERS 256

struct oci_image {
    char *config_json;            /* the image config document, NUL-terminated */
    size_t config_len;
    char *layers[OCI_MAX_LAYERS]; /* absolute-or-dir-relative paths of the layer archives, base first */
    size_t layer_count;
    char format[16];              /* "oci" or "docker" */
};

/* 1 when dir looks like an OCI layout or an unpacked docker save, else 0. */
int oci_detect(const char *dir);
/* Reads dir into img. 0, or -1 with a one-line reason in err. */
int oci_load(const char *dir, struct oci_image *img, char *err, size_t errlen);
void oci_free(struct oci_image *img);

/* Refuses configs that are not linux/arm64: 0, or -1 with the reason. Shared with the
 * directory source path (a --config file). */
int oci_check_platform(const char *config_json, size_t len, char *err, size_t errlen);

/* The linux/arm64 entry (variant "v8" or none) of an image index's "manifests" (OCI index or
 * Docker manifest list), or the first entry without a platform; NULL with the reason (which
 * platforms the index has) in err. Shared with the registry client (registry_pull.h). */
struct json_object;
struct json_object *oci_pick_arm64(struct json_object *index, char *err, size_t errlen);

#endif
