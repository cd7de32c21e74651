/* builder/open_beneath.c — files named by an untrusted image, opened without following its
 * symlinks (see open_beneath.h). */
#include "builder/open_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/error_message.h"
#include "base/small_file.h"

#define MAX_REL 4096

#ifdef SILO_UNIT_TEST
static bool without_openat2;
void open_beneath_test_without_openat2(bool on) { without_openat2 = on; }
#else
static const bool without_openat2 = false;
#endif

/* openat2 through syscall(2) (glibc 2.36 has no wrapper); -1 with errno ENOSYS when the kernel
 * (or a seccomp filter) does not offer it. */
static int openat2_beneath(int dirfd, const char *rel, int oflags)
{
#ifdef SYS_openat2
    struct open_how how = {
        .flags = (uint64_t)oflags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
#else
    (void)dirfd, (void)rel, (void)oflags;
    errno = ENOSYS;
    return -1;
#endif
}

/* The same without openat2: every directory component opened O_NOFOLLOW | O_DIRECTORY, the
 * last O_NOFOLLOW; "..", "." and empty components are refused (EXDEV, like RESOLVE_BENEATH),
 * a symlink anywhere fails with ELOOP (or ENOTDIR for a directory component). */
static int walk_beneath(int dirfd, const char *rel, int oflags)
{
    char copy[MAX_REL];
    if (snprintf(copy, sizeof copy, "%s", rel) >= (int)sizeof copy) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = dup(dirfd);
    char *save = NULL;
    char *c = strtok_r(copy, "/", &save);
    while (fd >= 0 && c != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(c, "..") == 0 || strcmp(c, ".") == 0) {
            close(fd);
            errno = EXDEV;
            return -1;
        }
        int nfd = openat(fd, c, next != NULL ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                                             : oflags | O_NOFOLLOW);
        int saved = errno;
        close(fd);
        errno = saved;
        fd = nfd;
        c = next;
    }
    return fd;
}

/* Why an open of rel failed, in words that name nothing outside the image. */
static const char *why_refused(int e)
{
    switch (e) {
    case ELOOP:
    case EXDEV:
        return "is a symbolic link or passes through one (image files must be regular files inside the image)";
    case ENOTDIR:
        return "passes through a symbolic link or a non-directory (image files must be regular files inside the image)";
    case ENOENT:
        return "is missing";
    case EACCES:
    case EPERM:
        return "cannot be read (permission denied)";
    case ENAMETOOLONG:
        return "is too long a path";
    default:
        return "cannot be opened";
    }
}

int open_beneath_regular(const char *root, const char *rel, uint64_t max_size, unsigned flags, uint64_t *size,
                         char *err, size_t errlen)
{
    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strlen(rel) >= MAX_REL)
        return error_message(err, errlen, "\"%.200s\" is not a relative path inside the image", rel ? rel : "");
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_message(err, errlen, "%s: %s", root, strerror(errno));
    int oflags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = without_openat2 ? -1 : openat2_beneath(rootfd, rel, oflags);
    if (without_openat2)
        errno = ENOSYS;
    if (fd < 0 && (errno == ENOSYS || errno == EPERM))
        fd = walk_beneath(rootfd, rel, oflags);
    int saved = errno;
    close(rootfd);
    if (fd < 0)
        return error_message(err, errlen, "%.200s %s", rel, why_refused(saved));
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) < 0)
        bad = "cannot be examined";
    else if (S_ISDIR(st.st_mode))
        bad = "is a directory, not a regular file";
    else if (!S_ISREG(st.st_mode))
        bad = "is a device, FIFO or socket, not a regular file";
    else if ((flags & OPEN_BENEATH_SINGLE_LINK) && st.st_nlink > 1)
        bad = "is a hard link (image files unpacked from an archive must not be)";
    if (bad != NULL) {
        close(fd);
        return error_message(err, errlen, "%.200s %s", rel, bad);
    }
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return error_message(err, errlen, "%.200s is larger than %llu bytes", rel, (unsigned long long)max_size);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size != NULL)
        *size = (uint64_t)st.st_size;
    return fd;
}

char *read_beneath(const char *root, const char *rel, uint64_t max_size, unsigned flags, size_t *len,
                   char *err, size_t errlen)
{
    uint64_t size;
    int fd = open_beneath_regular(root, rel, max_size, flags, &size, err, errlen);
    if (fd < 0)
        return NULL;
    return small_file_take(fd, (size_t)size, len, rel, err, errlen);
}

int sha256_beneath_hex(const char *root, const char *rel, unsigned flags, char hex[65], char *err, size_t errlen)
{
    hex[0] = '\0';
    int fd = open_beneath_regular(root, rel, UINT64_MAX, flags, NULL, err, errlen);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort();
    static __thread unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            EVP_DigestUpdate(ctx, buf, (size_t)n);
    int saved = errno;
    close(fd);
    unsigned char md[32];
    unsigned int mdlen = sizeof md;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (n < 0)
        return error_message(err, errlen, "%.200s: %s", rel, strerror(saved));
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}
