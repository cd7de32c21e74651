/* builder/layers.h — unpacking archives into the image staging directory, safely.
 *
 * Archives are read with libarchive (tar in any compression libarchive knows: gzip, zstd, xz,
 * bzip2, or none). Every entry is hostile: ".." components are refused, absolute paths made
 * relative; the parent directories of each entry (and hard link targets, and whiteouts) are
 * resolved through symlinks *inside* the tree, as containerd does, so `lib/x` lands in
 * `usr/lib/x` when `lib -> usr/lib` and nothing ever lands outside; libarchive's SECURE_*
 * checks stay on as a second fence. Device nodes are skipped (/dev is a devtmpfs in the guest).
 *
 * layer_apply follows the OCI image-spec layer rules: first the whiteouts of the layer are
 * applied to what the lower layers left (`dir/.wh.NAME` deletes NAME, `dir/.wh..wh..opq` empties
 * dir), then its other entries are extracted; whiteout files themselves are never written.
 * Doing the two in separate passes makes the result independent of entry order inside a layer.
 */
#ifndef SILO_TOOLS_IMAGE_LAYERS_H
#define SILO_TOOLS_IMAGE_LAYERS_H

#include <stddef.h>

struct layer_stats {
    unsigned long entries;        /* extracted */
    unsigned long whiteouts;      /* .wh.NAME applied */
    unsigned long opaque;         /* .wh..wh..opq applied */
    unsigned long skipped;        /* device nodes and the like */
};

/* Applies the layer archive at `layer` on top of directory `root`. 0, or -1 with a reason. */
int layer_apply(const char *root, const char *layer, struct layer_stats *stats, char *err, size_t errlen);

/* Extracts an archive as it is (no whiteout handling) into `dir`: used for the outer tar of an
 * OCI layout or `docker save`. 0, or -1 with a reason. */
int archive_extract_plain(const char *archive, const char *dir, char *err, size_t errlen);

/* Normalizes an archive entry path: strips leading "/" and "./", collapses "//" and "/./";
 * -1 when it contains a ".." component or is empty after that. out gets at most outlen bytes. */
int layer_clean_path(const char *in, char *out, size_t outlen);

/* Resolves the relative path rel inside the tree at root the way the guest will see it:
 * symlinks followed (absolute targets from root, ".." clamped at root, at most 40 hops),
 * missing tails kept as they are. out is a relative path without symlinks in it ("" = root).
 * -1 when too long or looping. */
int layer_resolve_in_root(const char *root, const char *rel, char *out, size_t outlen);

/* Removes root/relpath (a file, a symlink, or a whole directory tree) without ever following a
 * symlink in relpath; missing paths are fine. 0, or -1 with errno. */
int remove_beneath(int rootfd, const char *relpath);
/* Empties the directory root/relpath (keeps the directory itself); missing is fine. */
int empty_beneath(int rootfd, const char *relpath);

#endif
