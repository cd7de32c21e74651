/* frontend/image_upload.h — `POST /silo/images`: an agent image archive (an OCI layout or
 * `docker save` tarball, .tar or .tar.gz) uploaded into silod's local image store, so that a
 * runtime's containerUri can name it wherever silod runs (natively, or inside the dev host,
 * whose store is otherwise filled only from the build tree at boot). `silo image push` and
 * `silo deploy` use it.
 *
 * Who may upload and what it costs (http_api.c enforces it before any of this runs): SigV4
 * only (never a bearer token, never credentials vended to an agent), with the body's SHA-256
 * in x-amz-content-sha256, so the caller is authenticated from the request head alone and a
 * caller who is not costs nothing (refused before any body byte is read); a Content-Length is
 * required and bounded by image_upload_max_mib; at most IMAGE_UPLOADS_CONCURRENT at once.
 * The body goes to an unnamed temporary file in STORE/uploads (O_TMPFILE; else a hidden name
 * removed on failure) and is kept only once the whole body matched its signed hash: then it
 * gets its name by digest,
 *
 *     STORE/uploads/sha256-<hex>/latest.tar      (or latest.tar.gz for a gzip'd archive)
 *
 * which silod-build-image resolves for the containerUri `uploads/sha256-<hex>` (its name
 * grammar, tag `latest`). The same bytes uploaded twice are stored once: an upload whose digest
 * is already stored is answered from its head (no body read). Content is immutable by name. */
#ifndef SILO_FRONTEND_IMAGE_UPLOAD_H
#define SILO_FRONTEND_IMAGE_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_UPLOAD_PATH "/silo/images"
#define IMAGE_UPLOADS_CONCURRENT 2
#define IMAGE_UPLOAD_SNIFF 512          /* bytes kept to tell tar from gzip */

struct image_upload {
    int fd;                             /* the temporary file, -1 when none */
    char tmp_name[64];                  /* the hidden name when O_TMPFILE is unavailable ("" else) */
    char dir[4200];                     /* STORE/uploads */
    char hex[65];                       /* the signed SHA-256 */
    uint64_t len;
    unsigned char head[IMAGE_UPLOAD_SNIFF];
    size_t head_len;
    bool present;                       /* already stored: nothing to read */
};

enum image_upload_verdict { UPLOAD_OPEN, UPLOAD_PRESENT, UPLOAD_REFUSED, UPLOAD_FAILED };

/* Whether METHOD PATH is the upload operation. */
bool image_upload_owns(const char *method, const char *path);
/* A zeroed upload with no file. */
void image_upload_init(struct image_upload *u);
/* Starts one: sha256_hex must be 64 hex digits (lower case; REFUSED otherwise). PRESENT when
 * the store already has that digest, OPEN with the temporary file made, FAILED when it cannot
 * be made; err says why. */
enum image_upload_verdict image_upload_begin(struct image_upload *u, const char *store, const char *sha256_hex,
                                             char *err, size_t err_len);
/* Appends a piece of the body; false (err filled) when it cannot be written or its first bytes
 * are neither a tar archive nor gzip. */
bool image_upload_write(struct image_upload *u, const void *data, size_t n, char *err, size_t err_len);
/* The body arrived whole and matched its hash: checks it is an archive, syncs it and names it
 * by digest. True with the containerUri in uri; false with err. */
bool image_upload_commit(struct image_upload *u, char *uri, size_t uri_len, char *err, size_t err_len);
/* Drops an uncommitted file (nothing of it is left in the store). Safe to call twice. */
void image_upload_abort(struct image_upload *u);
/* The containerUri of digest hex (`uploads/sha256-<hex>`). */
void image_upload_uri(const char *hex, char *uri, size_t uri_len);

#endif
