/* builder/layers.c — safe archive extraction and OCI layer application (see layers.h). */
#include "builder/layers.h"
#include "base/error_message.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

int layer_clean_path(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = in;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return -1;
        if (o + len + 2 > outlen)
            return -1;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, seg, len);
        o += len;
    }
    if (o == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

int layer_resolve_in_root(const char *root, const char *rel, char *out, size_t outlen)
{
    char pending[8192], resolved[4096] = "";
    size_t rlen = 0;
    int hops = 0;
    if (strlen(rel) >= sizeof pending)
        return -1;
    strcpy(pending, rel);
    char *p = pending;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        char *seg = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {        /* clamped at the root */
            char *slash = strrchr(resolved, '/');
            rlen = slash ? (size_t)(slash - resolved) : 0;
            resolved[rlen] = '\0';
            continue;
        }
        if (rlen + len + 2 > sizeof resolved)
            return -1;
        size_t before = rlen;
        if (rlen > 0)
            resolved[rlen++] = '/';
        memcpy(resolved + rlen, seg, len);
        rlen += len;
        resolved[rlen] = '\0';

        char host[8192], target[4096];
        struct stat st;
        snprintf(host, sizeof host, "%s/%s", root, resolved);
        if (lstat(host, &st) < 0 || !S_ISLNK(st.st_mode))
            continue;
        if (++hops > 40)
            return -1;
        ssize_t n = readlink(host, target, sizeof target - 1);
        if (n < 0)
            return -1;
        target[n] = '\0';
        rlen = target[0] == '/' ? 0 : before;           /* absolute: from the image root */
        resolved[rlen] = '\0';
        char rest[8192];
        int m = snprintf(rest, sizeof rest, "%s/%s", target, p);
        if (m < 0 || (size_t)m >= sizeof pending)
            return -1;
        strcpy(pending, rest);
        p = pending;
    }
    if (rlen + 1 > outlen)
        return -1;
    memcpy(out, resolved, rlen + 1);
    return 0;
}

/* The entry path with its parent directories resolved through symlinks inside root. */
static int resolve_parent(const char *root, const char *clean, char *out, size_t outlen)
{
    char parent[4096], rparent[4096];
    const char *slash = strrchr(clean, '/');
    if (slash == NULL) {
        snprintf(out, outlen, "%s", clean);
        return 0;
    }
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - clean), clean);
    if (layer_resolve_in_root(root, parent, rparent, sizeof rparent) < 0)
        return -1;
    int n = snprintf(out, outlen, "%s%s%s", rparent, rparent[0] ? "/" : "", slash + 1);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Opens directory root/reldir walking one component at a time with O_NOFOLLOW. -1 if absent
 * or not a directory (or a symlink anywhere on the way). "" is root itself. */
static int open_dir_beneath(int rootfd, const char *reldir)
{
    int fd = dup(rootfd);
    char buf[4096];
    if (fd < 0 || strlen(reldir) >= sizeof buf)
        return fd < 0 ? -1 : (close(fd), -1);
    strcpy(buf, reldir);
    for (char *save = NULL, *c = strtok_r(buf, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        if (next < 0)
            return -1;
        fd = next;
    }
    return fd;
}

static int remove_tree_at(int dirfd, const char *name);

static int empty_dir_fd(int fd)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    int rc = 0;
    if (d == NULL) {
        close(fd);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (remove_tree_at(dirfd(d), e->d_name) < 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

static int remove_tree_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || empty_dir_fd(fd) < 0)
            return -1;
        return unlinkat(dirfd, name, AT_REMOVEDIR);
    }
    return unlinkat(dirfd, name, 0);
}

static void split_parent(const char *rel, char *parent, size_t cap, const char **name)
{
    const char *slash = strrchr(rel, '/');
    if (slash == NULL) {
        parent[0] = '\0';
        *name = rel;
    } else {
        snprintf(parent, cap, "%.*s", (int)(slash - rel), rel);
        *name = slash + 1;
    }
}

int remove_beneath(int rootfd, const char *relpath)
{
    char parent[4096];
    const char *name;
    split_parent(relpath, parent, sizeof parent, &name);
    int fd = open_dir_beneath(rootfd, parent);
    if (fd < 0)
        return 0;          /* parent missing (or a symlink): nothing of ours to delete there */
    int rc = remove_tree_at(fd, name);
    close(fd);
    return rc;
}

int empty_beneath(int rootfd, const char *relpath)
{
    int fd = open_dir_beneath(rootfd, relpath);
    if (fd < 0)
        return 0;
    return empty_dir_fd(fd);
}

/* --- libarchive plumbing ------------------------------------------------------------------ */

static struct archive *open_reader(const char *path, char *err, size_t errlen)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
        error_message(err, errlen, "%s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static struct archive *open_writer(void)
{
    struct archive *w = archive_write_disk_new();
    /* no ARCHIVE_EXTRACT_UNLINK: with it, SECURE_SYMLINKS would silently delete symlinks on
     * the way; we resolve parents inside the root ourselves and let libarchive refuse the rest */
    int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
    if (geteuid() == 0)
        flags |= ARCHIVE_EXTRACT_OWNER;
    archive_write_disk_set_options(w, flags);
    archive_write_disk_set_standard_lookup(w);
    return w;
}

/* Copies one entry's data from reader to writer. */
static int copy_data(struct archive *r, struct archive *w)
{
    const void *buf;
    size_t size;
    la_int64_t offset;
    for (;;) {
        int rc = archive_read_data_block(r, &buf, &size, &offset);
        if (rc == ARCHIVE_EOF)
            return ARCHIVE_OK;
        if (rc != ARCHIVE_OK)
            return rc;
        if (archive_write_data_block(w, buf, size, offset) != ARCHIVE_OK)
            return ARCHIVE_FAILED;
    }
}

/* Where the process is now; extraction runs with the staging dir as cwd so that entry paths
 * and hard link targets are relative to it and libarchive's SECURE checks apply to them. */
struct cwd_guard {
    int saved;
};

static int enter_dir(struct cwd_guard *g, const char *dir, char *err, size_t errlen)
{
    g->saved = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g->saved < 0 || chdir(dir) < 0) {
        if (g->saved >= 0)
            close(g->saved);
        return error_message(err, errlen, "cannot enter %s: %s", dir, strerror(errno));
    }
    return 0;
}

static void leave_dir(struct cwd_guard *g)
{
    if (fchdir(g->saved) < 0)
        perror("silo-image: fchdir");
    close(g->saved);
}

/* Extracts the entries of `path` into the cwd; with `layer`, whiteouts are skipped (pass 2). */
static int extract_entries(const char *path, bool layer, struct layer_stats *stats, char *err, size_t errlen)
{
    struct archive *r = open_reader(path, err, errlen);
    if (r == NULL)
        return -1;
    struct archive *w = open_writer();
    struct archive_entry *e;
    int rc = 0, hr;
    char clean[4096], link_clean[4096];

    while ((hr = archive_read_next_header(r, &e)) == ARCHIVE_OK || hr == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        if (name == NULL || layer_clean_path(name, clean, sizeof clean) < 0) {
            if (name != NULL && (strcmp(name, "./") == 0 || strcmp(name, ".") == 0 || strcmp(name, "/") == 0))
                continue;                       /* the root itself */
            rc = error_message(err, errlen, "%s: refusing entry \"%.200s\" (absolute, empty or with \"..\")", path,
                      name ? name : "(null)");
            break;
        }
        const char *base = strrchr(clean, '/');
        base = base ? base + 1 : clean;
        if (layer && strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
            continue;                           /* applied in pass 1 */
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFCHR || type == AE_IFBLK) {
            stats->skipped++;
            archive_read_data_skip(r);
            continue;
        }
        const char *hardlink = archive_entry_hardlink(e);
        if (hardlink != NULL) {
            char resolved_link[4096];
            if (layer_clean_path(hardlink, link_clean, sizeof link_clean) < 0 ||
                layer_resolve_in_root(".", link_clean, resolved_link, sizeof resolved_link) < 0 ||
                resolved_link[0] == '\0') {
                rc = error_message(err, errlen, "%s: refusing hard link \"%.200s\" -> \"%.200s\"", path, clean, hardlink);
                break;
            }
            archive_entry_set_hardlink(e, resolved_link);
        }
        /* like containerd: parent directories resolve through symlinks inside the root, so
         * "lib/x" lands in usr/lib/x when lib -> usr/lib, and never outside */
        char resolved[4096];
        if (resolve_parent(".", clean, resolved, sizeof resolved) < 0) {
            rc = error_message(err, errlen, "%s: cannot resolve \"%.200s\" inside the image", path, clean);
            break;
        }
        archive_entry_set_pathname(e, resolved);
        int wr = archive_write_header(w, e);
        if (wr == ARCHIVE_OK && archive_entry_size(e) > 0)
            wr = copy_data(r, w);
        if (wr == ARCHIVE_OK)
            wr = archive_write_finish_entry(w);
        if (wr != ARCHIVE_OK && wr != ARCHIVE_WARN) {
            rc = error_message(err, errlen, "%s: cannot extract \"%.200s\": %s", path, clean,
                      archive_error_string(w) ? archive_error_string(w) : archive_error_string(r));
            break;
        }
        stats->entries++;
    }
    if (rc == 0 && hr != ARCHIVE_EOF)
        rc = error_message(err, errlen, "%s: corrupted or truncated archive: %s", path,
                  archive_error_string(r) ? archive_error_string(r) : "unreadable header");
    archive_write_free(w);
    archive_read_free(r);
    return rc;
}

/* Pass 1: applies the whiteouts of `path` to the tree at root (rootfd). */
static int apply_whiteouts(const char *path, const char *root, int rootfd, struct layer_stats *stats, char *err,
                           size_t errlen)
{
    struct archive *r = open_reader(path, err, errlen);
    if (r == NULL)
        return -1;
    struct archive_entry *e;
    int rc = 0, hr;
    char clean[4096], parent[4096], target[4096];
    while ((hr = archive_read_next_header(r, &e)) == ARCHIVE_OK || hr == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        if (name == NULL || layer_clean_path(name, clean, sizeof clean) < 0)
            continue;                           /* pass 2 reports it */
        const char *base;
        char unresolved[4096];
        split_parent(clean, unresolved, sizeof unresolved, &base);
        if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) != 0)
            continue;
        if (layer_resolve_in_root(root, unresolved, parent, sizeof parent) < 0) {
            rc = error_message(err, errlen, "%s: cannot resolve \"%.200s\" inside the image", path, unresolved);
            break;
        }
        if (strcmp(base, OPAQUE_NAME) == 0) {
            if (empty_beneath(rootfd, parent) < 0) {
                rc = error_message(err, errlen, "%s: cannot apply opaque whiteout in \"%s\": %s", path, parent, strerror(errno));
                break;
            }
            stats->opaque++;
            continue;
        }
        if (strncmp(base, ".wh..wh.", 8) == 0)
            continue;                           /* other aufs metadata (.wh..wh.plnk etc.) */
        const char *victim = base + strlen(WHITEOUT_PREFIX);
        if (*victim == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0) {
            rc = error_message(err, errlen, "%s: malformed whiteout \"%.200s\"", path, clean);
            break;
        }
        int tl = snprintf(target, sizeof target, "%s%s%s", parent, parent[0] ? "/" : "", victim);
        if (tl < 0 || (size_t)tl >= sizeof target) {     /* cannot happen: shorter than clean */
            rc = error_message(err, errlen, "%s: whiteout path too long", path);
            break;
        }
        if (remove_beneath(rootfd, target) < 0) {
            rc = error_message(err, errlen, "%s: cannot apply whiteout of \"%s\": %s", path, target, strerror(errno));
            break;
        }
        stats->whiteouts++;
    }
    if (rc == 0 && hr != ARCHIVE_EOF)
        rc = error_message(err, errlen, "%s: corrupted or truncated archive: %s", path,
                  archive_error_string(r) ? archive_error_string(r) : "unreadable header");
    archive_read_free(r);
    return rc;
}

int layer_apply(const char *root, const char *layer, struct layer_stats *stats, char *err, size_t errlen)
{
    struct layer_stats local = { 0 };
    struct cwd_guard g;
    char abs[4096];
    if (stats == NULL)
        stats = &local;
    if (realpath(layer, abs) == NULL)
        return error_message(err, errlen, "%s: %s", layer, strerror(errno));
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_message(err, errlen, "%s: %s", root, strerror(errno));
    int rc = apply_whiteouts(abs, root, rootfd, stats, err, errlen);
    close(rootfd);
    if (rc < 0 || enter_dir(&g, root, err, errlen) < 0)
        return -1;
    rc = extract_entries(abs, true, stats, err, errlen);
    leave_dir(&g);
    return rc;
}

int archive_extract_plain(const char *archive, const char *dir, char *err, size_t errlen)
{
    struct layer_stats stats = { 0 };
    struct cwd_guard g;
    char abs[4096];
    if (realpath(archive, abs) == NULL)
        return error_message(err, errlen, "%s: %s", archive, strerror(errno));
    if (enter_dir(&g, dir, err, errlen) < 0)
        return -1;
    int rc = extract_entries(abs, false, &stats, err, errlen);
    leave_dir(&g);
    return rc;
}
