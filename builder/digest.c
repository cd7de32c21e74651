/* builder/digest.c — SHA-256 over bytes, files and directory trees (see digest.h). */
#include "builder/digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct digest {
    EVP_MD_CTX *ctx;
};

struct digest *digest_new(void)
{
    struct digest *d = calloc(1, sizeof *d);
    if (d == NULL)
        abort();
    d->ctx = EVP_MD_CTX_new();
    if (d->ctx == NULL || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
        abort();
    return d;
}

void digest_add(struct digest *d, const void *data, size_t len)
{
    EVP_DigestUpdate(d->ctx, data, len);
}

void digest_add_str(struct digest *d, const char *s)
{
    digest_add(d, s, strlen(s) + 1);
}

int digest_add_file(struct digest *d, const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        digest_add(d, buf, (size_t)n);
    int saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int add_tree(struct digest *d, const char *base, const char *rel)
{
    char path[4096];
    int plen = snprintf(path, sizeof path, "%s%s%s", base, rel[0] ? "/" : "", rel);
    if (plen < 0 || (size_t)plen >= sizeof path)
        return -1;
    struct dirent **names;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char child_rel[4096], child[4096];
            struct stat st;
            int l1 = snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, rel[0] ? "/" : "", name);
            int l2 = snprintf(child, sizeof child, "%s/%s", base, child_rel);
            if (l1 < 0 || (size_t)l1 >= sizeof child_rel || l2 < 0 || (size_t)l2 >= sizeof child) {
                errno = ENAMETOOLONG;
                rc = -1;
            } else if (lstat(child, &st) < 0) {
                rc = -1;
            } else {
                char meta[64];
                snprintf(meta, sizeof meta, "%o", (unsigned)st.st_mode);
                digest_add_str(d, child_rel);
                digest_add_str(d, meta);
                if (S_ISREG(st.st_mode)) {
                    rc = digest_add_file(d, child);
                } else if (S_ISLNK(st.st_mode)) {
                    char target[4096];
                    ssize_t len = readlink(child, target, sizeof target - 1);
                    if (len < 0)
                        rc = -1;
                    else {
                        target[len] = '\0';
                        digest_add_str(d, target);
                    }
                } else if (S_ISDIR(st.st_mode)) {
                    rc = add_tree(d, base, child_rel);
                }
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int digest_add_tree(struct digest *d, const char *dir)
{
    return add_tree(d, dir, "");
}

void digest_finish(struct digest *d, char hex[DIGEST_HEX])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(d->ctx, md, &len);
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

int sha256_file_hex(const char *path, char hex[DIGEST_HEX])
{
    struct digest *d = digest_new();
    int rc = digest_add_file(d, path);
    digest_finish(d, hex);
    return rc;
}
