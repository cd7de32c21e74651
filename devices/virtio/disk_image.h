/* devices/virtio/disk_image.h — the host file behind a virtio-blk disk: a raw image, opened
 * read-write or read-only, or a raw image with a private copy-on-write layer (`,cow`).
 *
 * Copy-on-write (the per-session writable layer): the base image is opened O_RDONLY and never
 * written. Writes go to an overlay that is an unlinked temporary file (O_TMPFILE in $TMPDIR or
 * /tmp; mkstemp + unlink as a fallback) of the same size, sparse, so it costs only what the
 * guest writes and disappears when the VMM closes it or dies. A bitmap with one bit per 512-byte
 * sector records which sectors live in the overlay (sector granularity: guest writes are
 * always whole sectors, so no block is ever copied up). Reads are split into runs of sectors
 * that come from the same file. The bitmap costs size/4096 bytes of VMM memory (256 KiB per GiB),
 * allocated lazily by the kernel as it is touched.
 *
 * All offsets and lengths must be multiples of DISK_SECTOR_SIZE and inside the disk; callers
 * (virtio_blk.c) check that first. Functions return 0 or -errno.
 */
#ifndef SILO_DEVICES_VIRTIO_DISK_IMAGE_H
#define SILO_DEVICES_VIRTIO_DISK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/state_buf.h"

#define DISK_SECTOR_SIZE 512u

struct disk_image {
    int base_fd;          /* the image; O_RDONLY when read_only or cow */
    int overlay_fd;       /* cow only: the unlinked private layer, else -1 */
    uint64_t size;        /* bytes, rounded down to whole sectors */
    uint64_t *written;    /* cow only: one bit per sector, set = sector is in the overlay */
    bool read_only;       /* the guest may not write */
    bool cow;
    uint64_t dev, ino;    /* identity of the base file, for GET_ID */
};

/* Opens `path`. read_only wins over cow. Returns 0 or -errno. */
int disk_image_open(struct disk_image *d, const char *path, bool read_only, bool cow);
void disk_image_close(struct disk_image *d);

/* Scatter/gather I/O at byte offset `off` (sector-aligned, total length sector-aligned). */
int disk_image_read(struct disk_image *d, uint64_t off, const struct iovec *iov, int iovcnt);
int disk_image_write(struct disk_image *d, uint64_t off, const struct iovec *iov, int iovcnt);
/* Makes written data durable (fdatasync of the image; nothing to do for a cow layer). */
int disk_image_flush(struct disk_image *d);
/* Zeroes [off, off + len). `may_unmap`: the range may become a hole. */
int disk_image_write_zeroes(struct disk_image *d, uint64_t off, uint64_t len, bool may_unmap);
/* Discards [off, off + len): afterwards it reads as zeroes or as its old contents. */
int disk_image_discard(struct disk_image *d, uint64_t off, uint64_t len);

/* Snapshot of a cow disk's private layer: copies every run of written sectors into out_fd at
 * its own offset (out_fd stays sparse elsewhere) and appends the runs to w as u32 n, then n ×
 * { u64 first sector, u64 sector count }. Returns 0 or -errno. */
int disk_image_save_layer(const struct disk_image *d, int out_fd, struct state_writer *w);
/* Loads a layer written by disk_image_save_layer into a cow disk just opened over the same base
 * image: each run (checked: in order, not overlapping, inside the disk) is copied from in_fd into
 * this disk's own private layer and marked written. Returns 0 or -errno (-EINVAL: malformed). */
int disk_image_load_layer(struct disk_image *d, int in_fd, struct state_reader *r);

#endif
