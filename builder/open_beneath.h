/* builder/open_beneath.h — opening files an untrusted image names, without ever following the
 * image's symlinks into the host.
 *
 * An OCI layout or `docker save` tarball is unpacked into a staging directory before it is read;
 * anything in it may be a symlink the image's author planted (`blobs/sha256/<hex> -> /dev/zero`
 * spins a hash until the build timeout; `-> /root/.aws/credentials` would be hashed and its
 * digest shown in failureReason). Every file the builder reads from such a directory (index.json,
 * oci-layout, manifest.json, manifest and config blobs, layer blobs, docker's Config/Layers paths)
 * goes through open_beneath_regular() instead of open()/fopen()/stat():
 *   - rel is resolved inside root with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 *     RESOLVE_NO_MAGICLINKS): a symlink anywhere in rel (not only its last component), "..",
 *     or an absolute path fail at once; on kernels without openat2 a component-by-component walk
 *     with O_NOFOLLOW does the same;
 *   - the file is opened O_NONBLOCK (a FIFO cannot hang the build) and must be a regular file
 *     (fstat S_ISREG: no devices, FIFOs, sockets, directories) of at most max_size bytes;
 *   - with OPEN_BENEATH_SINGLE_LINK a regular file with more than one hard link is refused too
 *     (for trees unpacked from an untrusted archive, where a hard link can only be the archive's
 *     doing).
 * Refusals are one line in err that names rel (the image's own path) and what it is, never the
 * target of a link and nothing read from any file.
 */
#ifndef SILO_BUILDER_OPEN_BENEATH_H
#define SILO_BUILDER_OPEN_BENEATH_H

#include <stddef.h>
#include <stdint.h>

#define OPEN_BENEATH_SINGLE_LINK 1u

/* A read-only descriptor (O_CLOEXEC, blocking again) of root/rel, a regular file of at most
 * max_size bytes reached without symlinks; *size (if not NULL) gets its size. -1 with err. */
int open_beneath_regular(const char *root, const char *rel, uint64_t max_size, unsigned flags, uint64_t *size,
                         char *err, size_t errlen);

/* The whole of such a file in a malloc'd NUL-terminated buffer (free() it); NULL with err. */
char *read_beneath(const char *root, const char *rel, uint64_t max_size, unsigned flags, size_t *len,
                   char *err, size_t errlen);

/* Lower-case hex SHA-256 of such a file (no size limit beyond the file's own). 0, or -1 with
 * err; on failure hex is "" (nothing of what was or was not read is ever reported). */
int sha256_beneath_hex(const char *root, const char *rel, unsigned flags, char hex[65], char *err, size_t errlen);

#ifdef SILO_UNIT_TEST
#include <stdbool.h>
/* Tests only: take the O_NOFOLLOW walk even where openat2 exists. */
void open_beneath_test_without_openat2(bool on);
#endif

#endif
