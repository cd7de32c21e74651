/* frontend/image_upload.c — image archives uploaded into the local image store (see
 * image_upload.h). */
#include "frontend/image_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool image_upload_owns(const char *method, const char *path)
{
    return strcmp(method, "POST") == 0 && strcmp(path, IMAGE_UPLOAD_PATH) == 0;
}

void image_upload_init(struct image_upload *u)
{
    memset(u, 0, sizeof *u);
    u->fd = -1;
}

void image_upload_uri(const char *hex, char *uri, size_t uri_len)
{
    snprintf(uri, uri_len, "uploads/sha256-%s", hex);
}

static bool lower_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* STORE/uploads/sha256-<hex>/latest.tar(.gz) exists */
static bool stored(const struct image_upload *u)
{
    static const char *const names[] = { "latest.tar", "latest.tar.gz" };
    for (size_t i = 0; i < 2; i++) {
        char p[4400];
        struct stat st;
        snprintf(p, sizeof p, "%s/sha256-%s/%s", u->dir, u->hex, names[i]);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            return true;
    }
    return false;
}

enum image_upload_verdict image_upload_begin(struct image_upload *u, const char *store, const char *sha256_hex,
                                             char *err, size_t err_len)
{
    image_upload_init(u);
    if (!sha256_hex || !lower_hex64(sha256_hex)) {
        snprintf(err, err_len, "x-amz-content-sha256 must be the body's SHA-256 in lower-case hex");
        return UPLOAD_REFUSED;
    }
    memcpy(u->hex, sha256_hex, 65);
    int n = snprintf(u->dir, sizeof u->dir, "%s/uploads", store);
    if (n < 0 || (size_t)n >= sizeof u->dir) {
        snprintf(err, err_len, "the image store's path is too long");
        return UPLOAD_FAILED;
    }
    if (stored(u)) {
        u->present = true;
        return UPLOAD_PRESENT;
    }
    if (mkdir(u->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot make the upload directory: %s", strerror(errno));
        return UPLOAD_FAILED;
    }
    u->fd = open(u->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (u->fd < 0) {               /* no O_TMPFILE here: a hidden name, removed unless committed */
        snprintf(u->tmp_name, sizeof u->tmp_name, ".incoming-%.16s-XXXXXX", u->hex);
        char p[4300];
        snprintf(p, sizeof p, "%s/%s", u->dir, u->tmp_name);
        u->fd = mkostemp(p, O_CLOEXEC);
        if (u->fd < 0) {
            u->tmp_name[0] = '\0';
            snprintf(err, err_len, "cannot make the upload's file: %s", strerror(errno));
            return UPLOAD_FAILED;
        }
        snprintf(u->tmp_name, sizeof u->tmp_name, "%s", p + strlen(u->dir) + 1);
        fchmod(u->fd, 0644);
    }
    return UPLOAD_OPEN;
}

static bool is_gzip(const struct image_upload *u)
{
    return u->head_len >= 2 && u->head[0] == 0x1f && u->head[1] == 0x8b;
}

static bool is_tar(const struct image_upload *u)
{
    return u->head_len >= 262 && memcmp(u->head + 257, "ustar", 5) == 0;
}

/* false once enough has arrived to tell that it is no archive (whole: the body is complete) */
static bool plausible(const struct image_upload *u, bool whole)
{
    if (is_gzip(u) || is_tar(u))
        return true;
    return !whole && u->head_len < 262;     /* a tar header may still come */
}

bool image_upload_write(struct image_upload *u, const void *data, size_t n, char *err, size_t err_len)
{
    if (u->fd < 0) {
        snprintf(err, err_len, "no upload in progress");
        return false;
    }
    if (u->head_len < sizeof u->head) {
        size_t k = n < sizeof u->head - u->head_len ? n : sizeof u->head - u->head_len;
        memcpy(u->head + u->head_len, data, k);
        u->head_len += k;
        if (!plausible(u, false)) {
            snprintf(err, err_len, "the body is not an image archive (a .tar or .tar.gz OCI layout or docker-save tarball)");
            return false;
        }
    }
    for (const char *p = data; n > 0;) {
        ssize_t w = write(u->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, err_len, "cannot store the upload: %s", w < 0 ? strerror(errno) : "short write");
            return false;
        }
        p += w;
        n -= (size_t)w;
        u->len += (uint64_t)w;
    }
    return true;
}

bool image_upload_commit(struct image_upload *u, char *uri, size_t uri_len, char *err, size_t err_len)
{
    if (u->present) {
        image_upload_uri(u->hex, uri, uri_len);
        return true;
    }
    if (u->fd < 0 || !plausible(u, true)) {
        snprintf(err, err_len, "the body is not an image archive (a .tar or .tar.gz OCI layout or docker-save tarball)");
        return false;
    }
    if (fsync(u->fd) != 0) {
        snprintf(err, err_len, "cannot store the upload: %s", strerror(errno));
        return false;
    }
    char dir[4400], final[4500];
    snprintf(dir, sizeof dir, "%s/sha256-%s", u->dir, u->hex);
    snprintf(final, sizeof final, "%s/%s", dir, is_gzip(u) ? "latest.tar.gz" : "latest.tar");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot store the upload: %s", strerror(errno));
        return false;
    }
    int rc;
    if (u->tmp_name[0]) {
        char tmp[4400];
        snprintf(tmp, sizeof tmp, "%s/%s", u->dir, u->tmp_name);
        rc = link(tmp, final);            /* never replaces: the digest names the content */
    } else {
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", u->fd);
        rc = linkat(AT_FDCWD, self, AT_FDCWD, final, AT_SYMLINK_FOLLOW);
    }
    if (rc != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot store the upload: %s", strerror(errno));
        return false;
    }
    image_upload_abort(u);                /* the temporary name (if any) goes; the stored link stays */
    image_upload_uri(u->hex, uri, uri_len);
    return true;
}

void image_upload_abort(struct image_upload *u)
{
    if (u->tmp_name[0]) {
        char tmp[4400];
        snprintf(tmp, sizeof tmp, "%s/%s", u->dir, u->tmp_name);
        unlink(tmp);
        u->tmp_name[0] = '\0';
    }
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}
