/* devices/virtio/disk_image.c — raw and copy-on-write disk images (see disk_image.h). */
#include "devices/virtio/disk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BITS_PER_WORD 64u
#define ZERO_CHUNK 65536u

static int open_overlay(uint64_t size)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/silo-cow-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
            return -errno;
        unlink(path);
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int disk_image_open(struct disk_image *d, const char *path, bool read_only, bool cow)
{
    struct stat st;

    memset(d, 0, sizeof *d);
    d->overlay_fd = -1;
    d->read_only = read_only;
    d->cow = cow && !read_only;
    d->base_fd = open(path, (read_only || d->cow ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (d->base_fd < 0)
        return -errno;
    if (fstat(d->base_fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        int err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        disk_image_close(d);
        return err;
    }
    off_t end = lseek(d->base_fd, 0, SEEK_END);
    if (end < 0) {
        int err = -errno;
        disk_image_close(d);
        return err;
    }
    d->size = (uint64_t)end / DISK_SECTOR_SIZE * DISK_SECTOR_SIZE;
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    if (d->cow) {
        uint64_t sectors = d->size / DISK_SECTOR_SIZE;
        d->written = calloc(sectors / BITS_PER_WORD + 1, sizeof *d->written);
        d->overlay_fd = d->written != NULL ? open_overlay(d->size) : -ENOMEM;
        if (d->overlay_fd < 0) {
            int err = d->overlay_fd;
            d->overlay_fd = -1;
            disk_image_close(d);
            return err;
        }
    }
    return 0;
}

void disk_image_close(struct disk_image *d)
{
    if (d->base_fd >= 0)
        close(d->base_fd);
    if (d->overlay_fd >= 0)
        close(d->overlay_fd);
    free(d->written);
    d->base_fd = d->overlay_fd = -1;
    d->written = NULL;
}

static bool sector_written(const struct disk_image *d, uint64_t s)
{
    return (d->written[s / BITS_PER_WORD] >> (s % BITS_PER_WORD)) & 1;
}

static void mark_written(struct disk_image *d, uint64_t first, uint64_t count)
{
    for (uint64_t s = first; s < first + count; s++)
        d->written[s / BITS_PER_WORD] |= 1ULL << (s % BITS_PER_WORD);
}

/* Full-length positioned vector I/O, retrying short transfers. */
static int io_all(int fd, bool write, uint64_t off, const struct iovec *iov_in, int iovcnt)
{
    struct iovec iov[IOV_MAX];
    if (iovcnt > IOV_MAX)
        return -EINVAL;
    memcpy(iov, iov_in, (size_t)iovcnt * sizeof *iov);
    struct iovec *v = iov;
    while (iovcnt > 0) {
        ssize_t n = write ? pwritev(fd, v, iovcnt, (off_t)off) : preadv(fd, v, iovcnt, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {
            if (write)
                return -EIO;
            /* reading past a short file: the rest reads as zeroes */
            for (int i = 0; i < iovcnt; i++)
                memset(v[i].iov_base, 0, v[i].iov_len);
            return 0;
        }
        off += (uint64_t)n;
        while (iovcnt > 0 && (size_t)n >= v->iov_len) {
            n -= (ssize_t)v->iov_len;
            v++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            v->iov_base = (uint8_t *)v->iov_base + n;
            v->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* iovecs covering bytes [skip, skip + len) of iov_in. */
static int iov_slice(const struct iovec *iov_in, int iovcnt, uint64_t skip, uint64_t len, struct iovec *out)
{
    int n = 0;
    for (int i = 0; i < iovcnt && len > 0; i++) {
        if (skip >= iov_in[i].iov_len) {
            skip -= iov_in[i].iov_len;
            continue;
        }
        uint64_t take = iov_in[i].iov_len - skip;
        if (take > len)
            take = len;
        out[n].iov_base = (uint8_t *)iov_in[i].iov_base + skip;
        out[n].iov_len = take;
        n++;
        len -= take;
        skip = 0;
    }
    return n;
}

static uint64_t iov_total(const struct iovec *iov, int iovcnt)
{
    uint64_t t = 0;
    for (int i = 0; i < iovcnt; i++)
        t += iov[i].iov_len;
    return t;
}

int disk_image_read(struct disk_image *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
    if (!d->cow)
        return io_all(d->base_fd, false, off, iov, iovcnt);

    /* split into runs of sectors that live in the same file */
    uint64_t total = iov_total(iov, iovcnt);
    uint64_t first = off / DISK_SECTOR_SIZE, count = total / DISK_SECTOR_SIZE;
    struct iovec part[IOV_MAX];
    for (uint64_t s = 0; s < count;) {
        bool in_overlay = sector_written(d, first + s);
        uint64_t e = s + 1;
        while (e < count && sector_written(d, first + e) == in_overlay)
            e++;
        int n = iov_slice(iov, iovcnt, s * DISK_SECTOR_SIZE, (e - s) * DISK_SECTOR_SIZE, part);
        int err = io_all(in_overlay ? d->overlay_fd : d->base_fd, false, off + s * DISK_SECTOR_SIZE, part, n);
        if (err < 0)
            return err;
        s = e;
    }
    return 0;
}

int disk_image_write(struct disk_image *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
    if (d->read_only)
        return -EROFS;
    if (!d->cow)
        return io_all(d->base_fd, true, off, iov, iovcnt);
    int err = io_all(d->overlay_fd, true, off, iov, iovcnt);
    if (err == 0)
        mark_written(d, off / DISK_SECTOR_SIZE, iov_total(iov, iovcnt) / DISK_SECTOR_SIZE);
    return err;
}

int disk_image_flush(struct disk_image *d)
{
    if (d->read_only || d->cow)
        return 0; /* nothing of ours to make durable: a cow layer dies with the VM */
    return fdatasync(d->base_fd) == 0 ? 0 : -errno;
}

int disk_image_write_zeroes(struct disk_image *d, uint64_t off, uint64_t len, bool may_unmap)
{
    static const uint8_t zeroes[ZERO_CHUNK];

    if (d->read_only)
        return -EROFS;
    if (!d->cow) {
        int mode = may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE;
        if (fallocate(d->base_fd, mode, (off_t)off, (off_t)len) == 0)
            return 0;
    }
    /* cow layer, or a file system without fallocate modes: write zeroes */
    while (len > 0) {
        uint64_t n = len < ZERO_CHUNK ? len : ZERO_CHUNK;
        struct iovec v = { .iov_base = (void *)zeroes, .iov_len = n };
        int err = disk_image_write(d, off, &v, 1);
        if (err < 0)
            return err;
        off += n;
        len -= n;
    }
    return 0;
}

int disk_image_discard(struct disk_image *d, uint64_t off, uint64_t len)
{
    if (d->read_only)
        return -EROFS;
    if (d->cow)
        return 0; /* sectors keep their contents, which the spec allows */
    if (fallocate(d->base_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0 &&
        errno != EOPNOTSUPP)
        return -errno;
    return 0;
}

/* --- snapshot of the private layer ------------------------------------------------------------ */

/* Copies [off, off + len) from in to out at the same offset (copy_file_range, else read/write). */
static int copy_range(int in, int out, uint64_t off, uint64_t len)
{
    while (len > 0) {
        loff_t a = (loff_t)off, b = (loff_t)off;
        ssize_t n = copy_file_range(in, &a, out, &b, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL)
                return -errno;
            /* no copy_file_range between these files: plain copy */
            static uint8_t buf[ZERO_CHUNK];
            size_t chunk = len < sizeof buf ? (size_t)len : sizeof buf;
            ssize_t r = pread(in, buf, chunk, (off_t)off);
            if (r <= 0)
                return r < 0 ? -errno : -EIO;
            struct iovec v = { buf, (size_t)r };
            int err = io_all(out, true, off, &v, 1);
            if (err < 0)
                return err;
            n = r;
        }
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

int disk_image_save_layer(const struct disk_image *d, int out_fd, struct state_writer *w)
{
    if (!d->cow) {
        state_put_u32(w, 0);
        return 0;
    }
    uint64_t sectors = d->size / DISK_SECTOR_SIZE;
    struct state_writer runs;
    state_writer_init(&runs);
    uint32_t count = 0;
    int err = ftruncate(out_fd, (off_t)d->size) == 0 ? 0 : -errno;
    for (uint64_t s = 0; err == 0 && s < sectors;) {
        if (d->written[s / BITS_PER_WORD] == 0 && s % BITS_PER_WORD == 0) {
            s += BITS_PER_WORD;
            continue;
        }
        if (!sector_written(d, s)) {
            s++;
            continue;
        }
        uint64_t e = s;
        while (e < sectors && sector_written(d, e))
            e++;
        state_put_u64(&runs, s);
        state_put_u64(&runs, e - s);
        count++;
        err = copy_range(d->overlay_fd, out_fd, s * DISK_SECTOR_SIZE, (e - s) * DISK_SECTOR_SIZE);
        s = e;
    }
    state_put_u32(w, count);
    state_put_bytes(w, runs.data, runs.len);
    if (err == 0 && (!state_writer_ok(&runs) || !state_writer_ok(w)))
        err = -ENOMEM;
    state_writer_free(&runs);
    return err;
}

int disk_image_load_layer(struct disk_image *d, int in_fd, struct state_reader *r)
{
    uint32_t count = state_get_u32(r);
    if (!state_reader_ok(r, false) || (count > 0 && !d->cow) || count > state_reader_left(r) / 16)
        return -EINVAL;
    uint64_t sectors = d->size / DISK_SECTOR_SIZE, next = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t first = state_get_u64(r), n = state_get_u64(r);
        if (!state_reader_ok(r, false) || n == 0 || first < next || first > sectors || n > sectors - first)
            return -EINVAL;
        int err = copy_range(in_fd, d->overlay_fd, first * DISK_SECTOR_SIZE, n * DISK_SECTOR_SIZE);
        if (err < 0)
            return err;
        mark_written(d, first, n);
        next = first + n;
    }
    return 0;
}
