/* devices/virtio/virtio_blk.h — virtio-blk constants (spec 5.2) and the request handler,
 * exposed for unit tests and the blk fuzzer. The device itself is created by the registry
 * (virtio_blk_type, one per --disk).
 */
#ifndef SILO_DEVICES_VIRTIO_VIRTIO_BLK_H
#define SILO_DEVICES_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u
#define VIRTIO_BLK_HDR_SIZE 16
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2)      /* data segments besides header and status */
#define VIRTIO_BLK_MAX_RANGE_SECTORS (1u << 22)       /* 2 GiB per discard / write-zeroes segment */
#define VIRTIO_BLK_MAX_RANGE_SEGS 16

struct virtio_blk;

/* Makes t a virtio-blk over the image at `path` (what blk_create does for each --disk).
 * Returns 0 or -errno (after printing one line). */
int virtio_blk_init(struct virtio_mmio *t, struct virtio_blk **b, const char *path, bool read_only, bool cow,
                    uint32_t index);

/* Serves one request chain; returns the number of bytes written into it (the used length). */
uint32_t virtio_blk_handle_request(struct virtio_mmio *t, struct virtio_blk *b, const struct virtq_chain *c);

#endif
