/* base/small_file.h — reading a small file whole: /proc entries, config and JSON files.
 *
 * Two shapes, both bounded, both NUL-terminating what they read:
 *   small_file_read()  into the caller's buffer; for /proc files and the kernel command line,
 *                      whose size stat() does not tell (st_size is 0);
 *   small_file_load()  into a malloc'd buffer; for regular files of at most `max` bytes
 *                      (config files, image JSON), refusing anything else with one line in err
 *                      (base/error_message.h's convention).
 * Header-only; includes nothing above base/.
 */
#ifndef SILO_BASE_SMALL_FILE_H
#define SILO_BASE_SMALL_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/error_message.h"

/* Reads at most cap-1 bytes of path into buf (cap >= 1) and NUL-terminates them; returns the
 * number of bytes read, or -1 (buf then holds "") when the file cannot be opened or read. */
static inline ssize_t small_file_read(const char *path, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            buf[0] = '\0';
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* Reads exactly size bytes from fd (whose size the caller checked) into a malloc'd
 * NUL-terminated buffer and closes fd; *len (if not NULL) gets size. NULL with one line in err
 * (naming `name`) when out of memory or the file gave fewer bytes. */
static inline char *small_file_take(int fd, size_t size, size_t *len, const char *name, char *err, size_t errlen)
{
    size_t got = 0;
    char *buf = malloc(size + 1);
    while (buf != NULL && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != size) {
        error_message(err, errlen, "%.200s: %s", name, buf == NULL ? "out of memory" : "short read");
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    if (len != NULL)
        *len = got;
    return buf;
}

/* The whole of the regular file path, at most max bytes, in a malloc'd NUL-terminated buffer
 * (free() it); *len (if not NULL) gets its length. NULL with one line in err when it cannot be
 * opened, is not a regular file, is larger than max, or cannot be read whole. */
static inline char *small_file_load(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error_message(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > max) {
        close(fd);
        error_message(err, errlen, "%s: not a regular file of at most %zu bytes", path, max);
        return NULL;
    }
    return small_file_take(fd, (size_t)st.st_size, len, path, err, errlen);
}

#endif
