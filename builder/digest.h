/* builder/digest.h — SHA-256 (OpenSSL's libcrypto) for blob verification and for the
 * content address of an image build: files, whole directory trees, strings. */
#ifndef SILO_TOOLS_IMAGE_DIGEST_H
#define SILO_TOOLS_IMAGE_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX 65                  /* 64 hex digits and a NUL */

struct digest;                         /* an open SHA-256 computation */

struct digest *digest_new(void);
void digest_add(struct digest *d, const void *data, size_t len);
void digest_add_str(struct digest *d, const char *s);     /* the string and a NUL */
/* Adds a file's bytes; -1 (errno set) when it cannot be read. */
int digest_add_file(struct digest *d, const char *path);
/* Adds a directory tree: for every entry in sorted order its relative path, type, mode, and
 * its contents (files) or target (symlinks). -1 when unreadable. */
int digest_add_tree(struct digest *d, const char *dir);
/* Finishes into hex (lowercase) and frees d. */
void digest_finish(struct digest *d, char hex[DIGEST_HEX]);

int sha256_file_hex(const char *path, char hex[DIGEST_HEX]);

#endif
