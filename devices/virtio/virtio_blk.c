/* devices/virtio/virtio_blk.c — virtio-blk (device ID 2), one per --disk.
 *
 * Backing store: devices/virtio/disk_image.c (raw read-write, raw read-only, or a raw base with
 * a private copy-on-write layer for `,cow`). One request queue of 256; requests run to
 * completion on the event-loop thread (synchronous preadv/pwritev straight into and out of
 * guest memory), never on a vCPU.
 *
 * Requests: IN, OUT, FLUSH, GET_ID, DISCARD and WRITE_ZEROES (the last two only on writable
 * disks and only if the driver negotiated them). Every request is checked before any I/O: a
 * 16-byte header in the readable part, a status byte at the end of the writable part, data
 * lengths in whole sectors, and the sector range inside the disk (overflow-safe). A request
 * that fails those checks gets VIRTIO_BLK_S_IOERR (or UNSUPP for an unknown or unnegotiated
 * type); a chain with no writable byte for the status is returned with 0 bytes written. Only a
 * malformed descriptor chain (virtq_pop) marks the device as needing reset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error_message.h"
#include "devices/virtio/disk_image.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_device_type.h"

struct virtio_blk {
    struct disk_image disk;
    uint32_t index;           /* which --disk: names its layer in a snapshot (disk<index>.layer) */
    char id[VIRTIO_BLK_ID_BYTES];
    struct virtq_chain chain; /* scratch for the request being processed */
};

static void put_le32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Is [sector, sector + bytes / 512) inside the disk? */
static bool range_ok(const struct disk_image *d, uint64_t sector, uint64_t bytes)
{
    uint64_t sectors = d->size / DISK_SECTOR_SIZE;
    uint64_t count = bytes / DISK_SECTOR_SIZE;
    return bytes % DISK_SECTOR_SIZE == 0 && sector <= sectors && count <= sectors - sector;
}

static uint8_t status_of(int err)
{
    return err == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/* DISCARD / WRITE_ZEROES: the readable part after the header holds 16-byte segments. */
static uint8_t do_ranges(struct virtio_blk *b, const struct virtq_chain *c, uint32_t type)
{
    uint64_t bytes = c->read_bytes - VIRTIO_BLK_HDR_SIZE;
    if (bytes == 0 || bytes % 16 != 0 || bytes / 16 > VIRTIO_BLK_MAX_RANGE_SEGS)
        return VIRTIO_BLK_S_IOERR;
    for (uint64_t off = VIRTIO_BLK_HDR_SIZE; off < c->read_bytes; off += 16) {
        uint8_t seg[16];
        uint64_t sector;
        uint32_t num, flags;
        virtq_chain_read(c, off, seg, sizeof seg);
        memcpy(&sector, seg, 8);
        memcpy(&num, seg + 8, 4);
        memcpy(&flags, seg + 12, 4);
        if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
            return VIRTIO_BLK_S_UNSUPP;
        if (type == VIRTIO_BLK_T_DISCARD && flags != 0)
            return VIRTIO_BLK_S_UNSUPP;
        if (num > VIRTIO_BLK_MAX_RANGE_SECTORS || !range_ok(&b->disk, sector, (uint64_t)num * DISK_SECTOR_SIZE))
            return VIRTIO_BLK_S_IOERR;
        int err = type == VIRTIO_BLK_T_DISCARD
                      ? disk_image_discard(&b->disk, sector * DISK_SECTOR_SIZE, (uint64_t)num * DISK_SECTOR_SIZE)
                      : disk_image_write_zeroes(&b->disk, sector * DISK_SECTOR_SIZE,
                                                (uint64_t)num * DISK_SECTOR_SIZE,
                                                flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        if (err < 0)
            return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
}

uint32_t virtio_blk_handle_request(struct virtio_mmio *t, struct virtio_blk *b, const struct virtq_chain *c)
{
    struct iovec data[VIRTQ_MAX_SEGS];
    uint64_t covered;
    uint32_t written = 0;
    uint8_t status;
    uint8_t hdr[VIRTIO_BLK_HDR_SIZE];

    if (c->write_bytes == 0)
        return 0; /* nowhere to put a status: return the chain untouched */
    uint64_t in_bytes = c->write_bytes - 1; /* device-writable data before the status byte */

    if (c->read_bytes < VIRTIO_BLK_HDR_SIZE) {
        status = VIRTIO_BLK_S_IOERR;
        goto done;
    }
    virtq_chain_read(c, 0, hdr, sizeof hdr);
    uint32_t type;
    uint64_t sector;
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);

    switch (type) {
    case VIRTIO_BLK_T_IN: {
        if (in_bytes == 0 || !range_ok(&b->disk, sector, in_bytes)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        int n = virtq_chain_slice(c, true, 0, in_bytes, data, VIRTQ_MAX_SEGS, &covered);
        int err = disk_image_read(&b->disk, sector * DISK_SECTOR_SIZE, data, n);
        status = status_of(err);
        if (err == 0)
            written = (uint32_t)(in_bytes > UINT32_MAX - 1 ? UINT32_MAX - 1 : in_bytes);
        break;
    }
    case VIRTIO_BLK_T_OUT: {
        uint64_t out_bytes = c->read_bytes - VIRTIO_BLK_HDR_SIZE;
        if (b->disk.read_only) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        if (out_bytes == 0 || !range_ok(&b->disk, sector, out_bytes)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        int n = virtq_chain_slice(c, false, VIRTIO_BLK_HDR_SIZE, out_bytes, data, VIRTQ_MAX_SEGS, &covered);
        status = status_of(disk_image_write(&b->disk, sector * DISK_SECTOR_SIZE, data, n));
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        if (!virtio_mmio_has_feature(t, VIRTIO_BLK_F_FLUSH)) {
            status = VIRTIO_BLK_S_UNSUPP;
            break;
        }
        status = status_of(disk_image_flush(&b->disk));
        break;
    case VIRTIO_BLK_T_GET_ID: {
        uint64_t n = in_bytes < VIRTIO_BLK_ID_BYTES ? in_bytes : VIRTIO_BLK_ID_BYTES;
        written = (uint32_t)virtq_chain_write(c, 0, b->id, n);
        status = VIRTIO_BLK_S_OK;
        break;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
        unsigned bit = type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
        if (b->disk.read_only || !virtio_mmio_has_feature(t, bit)) {
            status = VIRTIO_BLK_S_UNSUPP;
            break;
        }
        status = do_ranges(b, c, type);
        break;
    }
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
done:
    virtq_chain_write(c, in_bytes, &status, 1);
    return written + 1;
}

static void blk_queue_notify(struct virtio_mmio *t, uint16_t q)
{
    struct virtio_blk *b = t->dev;
    struct virtq *vq = &t->queues[q];
    int r;

    do {
        while ((r = virtq_pop(vq, &b->chain)) > 0) {
            virtq_push(vq, b->chain.head, virtio_blk_handle_request(t, b, &b->chain));
            /* complete each request at once (EVENT_IDX still coalesces): the guest can work
             * on it, and queue more, while we serve the next one */
            virtio_mmio_signal_used(t, q);
        }
        virtio_mmio_signal_used(t, q);
        if (r < 0) {
            virtio_mmio_fail(t, "malformed descriptor chain");
            return;
        }
    } while (virtq_enable_kicks(vq));
}

static void blk_destroy(struct virtio_mmio *t)
{
    struct virtio_blk *b = t->dev;
    if (b == NULL)
        return;
    disk_image_close(&b->disk);
    free(b);
    t->dev = NULL;
}

/* Snapshot: the base image's identity (size and modification time: a restore over another
 * image is refused) and, for a cow disk, its private layer as DIR/disk<index>.layer. */
static int blk_save(struct virtio_mmio *t, struct state_writer *w, int dir_fd, char *err, size_t errlen)
{
    struct virtio_blk *b = t->dev;
    struct stat st;
    if (fstat(b->disk.base_fd, &st) != 0)
        return error_message(err, errlen, "disk %u: fstat: %s", b->index, strerror(errno));
    state_put_u64(w, b->disk.size);
    state_put_u64(w, (uint64_t)st.st_mtim.tv_sec);
    state_put_u64(w, (uint64_t)st.st_mtim.tv_nsec);
    char name[32];
    snprintf(name, sizeof name, "disk%u.layer", b->index);
    int fd = b->disk.cow ? openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (b->disk.cow && fd < 0)
        return error_message(err, errlen, "disk %u: cannot create %s: %s", b->index, name, strerror(errno));
    int rc = disk_image_save_layer(&b->disk, fd, w);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc == 0 ? 0 : error_message(err, errlen, "disk %u: saving its private layer: %s", b->index, strerror(-rc));
}

static int blk_restore(struct virtio_mmio *t, struct state_reader *r, int dir_fd, char *err, size_t errlen)
{
    struct virtio_blk *b = t->dev;
    uint64_t size = state_get_u64(r), sec = state_get_u64(r), nsec = state_get_u64(r);
    struct stat st;
    if (!state_reader_ok(r, false))
        return error_message(err, errlen, "disk %u: the snapshot's record is malformed", b->index);
    if (fstat(b->disk.base_fd, &st) != 0 || size != b->disk.size || sec != (uint64_t)st.st_mtim.tv_sec ||
        nsec != (uint64_t)st.st_mtim.tv_nsec)
        return error_message(err, errlen, "disk %u: the image changed since the snapshot was taken", b->index);
    char name[32];
    snprintf(name, sizeof name, "disk%u.layer", b->index);
    int fd = b->disk.cow ? openat(dir_fd, name, O_RDONLY | O_CLOEXEC) : -1;
    if (b->disk.cow && fd < 0)
        return error_message(err, errlen, "disk %u: cannot open the snapshot's %s: %s", b->index, name, strerror(errno));
    int rc = disk_image_load_layer(&b->disk, fd, r);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && !state_reader_ok(r, true))
        rc = -EINVAL;
    return rc == 0 ? 0
                   : error_message(err, errlen, "disk %u: loading the snapshot's private layer: %s", b->index,
                                   rc == -EINVAL ? "malformed" : strerror(-rc));
}

static const struct virtio_device_ops blk_ops = {
    .queue_notify = blk_queue_notify,
    .destroy = blk_destroy,
    .save = blk_save,
    .restore = blk_restore,
};

/* Fills the config space (struct virtio_blk_config, spec 5.2.4). */
static void fill_config(struct virtio_mmio *t, const struct disk_image *d)
{
    uint8_t *c = t->config;
    put_le64(c + 0, d->size / DISK_SECTOR_SIZE);       /* capacity */
    put_le32(c + 12, VIRTIO_BLK_SEG_MAX);              /* seg_max */
    put_le32(c + 20, DISK_SECTOR_SIZE);                /* blk_size */
    put_le32(c + 36, VIRTIO_BLK_MAX_RANGE_SECTORS);    /* max_discard_sectors */
    put_le32(c + 40, 1);                               /* max_discard_seg */
    put_le32(c + 44, 1);                               /* discard_sector_alignment */
    put_le32(c + 48, VIRTIO_BLK_MAX_RANGE_SECTORS);    /* max_write_zeroes_sectors */
    put_le32(c + 52, 1);                               /* max_write_zeroes_seg */
    c[56] = 1;                                         /* write_zeroes_may_unmap */
    t->config_size = 60;
}

int virtio_blk_init(struct virtio_mmio *t, struct virtio_blk **out, const char *path, bool read_only, bool cow,
                    uint32_t index)
{
    struct virtio_blk *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    int err = disk_image_open(&b->disk, path, read_only, cow);
    if (err < 0) {
        fprintf(stderr, "silo-vmm: disk %s: %s\n", path, strerror(-err));
        free(b);
        return err;
    }
    snprintf(b->id, sizeof b->id, "silo-disk%u", index);
    b->index = index;
    t->name = "virtio-blk";
    t->device_id = VIRTIO_ID_BLOCK;
    t->num_queues = 1;
    t->queue_max_size = VIRTQ_MAX_SIZE;
    t->device_features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
                         VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
    if (b->disk.read_only)
        t->device_features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
    else
        t->device_features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
    fill_config(t, &b->disk);
    t->ops = &blk_ops;
    t->dev = b;
    if (out != NULL)
        *out = b;
    return 0;
}

static uint32_t blk_instances(const struct vmm_config *cfg)
{
    return cfg->disk_count;
}

static int blk_create(struct virtio_mmio *t, const struct vmm_config *cfg, uint32_t index,
                      const struct vm_services *svc)
{
    (void)svc;
    const struct vmm_disk *disk = &cfg->disks[index];
    return virtio_blk_init(t, NULL, disk->path, disk->read_only, disk->cow, index);
}

const struct virtio_device_type virtio_blk_type = {
    .name = "virtio-blk",
    .instances = blk_instances,
    .create = blk_create,
};
