/* vmm/snapshot_file.h — the container of a silo-vmm snapshot's `state` file: a fixed header and
 * a list of typed sections, checked before anything in it is used.
 *
 * Format version 1 (docs/snapshots.md has the whole layout; integers are little-endian):
 *
 *   header (64 bytes)
 *      0  "SILOSNAP"                      magic
 *      8  u32 format version              SNAPSHOT_FORMAT_VERSION
 *     12  u32 header size                 64
 *     16  u8[32] build id                 of the silo-vmm that wrote it (GNU build id, padded)
 *     48  u32 build id length             1..32
 *     52  u32 section count               <= SNAPSHOT_MAX_SECTIONS
 *     56  u32 CRC-32 (zlib)               of every byte after the header
 *     60  u32 0
 *   sections, back to back
 *      u32 type, u32 index, u64 length, then `length` bytes of payload (state_buf.h encoding)
 *
 * A snapshot is restored only by the silo-vmm build that wrote it (same build id): the state of
 * every device is that build's, so anything else is refused with one line saying why, before
 * /dev/kvm is touched. The parser treats the file as hostile: every length is checked against
 * the buffer, a (type, index) pair may appear once, and unknown types are refused.
 */
#ifndef SILO_VMM_SNAPSHOT_FILE_H
#define SILO_VMM_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/state_buf.h"

#define SNAPSHOT_FORMAT_VERSION 2u
#define SNAPSHOT_HEADER_SIZE 64u
#define SNAPSHOT_BUILD_ID_MAX 32u
#define SNAPSHOT_MAX_SECTIONS 256u
#define SNAPSHOT_MAX_STATE_BYTES (64u << 20) /* a state file larger than this is refused */

enum snapshot_section_type {
    SNAP_MACHINE = 1,  /* index 0: the machine's shape and the devices' configuration */
    SNAP_VCPU = 2,     /* index = vCPU: MP state and every register KVM_GET_REG_LIST names */
    SNAP_GIC = 3,      /* index 0: vGICv3 distributor, redistributors, CPU interfaces */
    SNAP_PLATFORM = 4, /* index = registry position: one platform device's state */
    SNAP_VIRTIO = 5,   /* index = virtio-mmio slot: transport, queues, device state */
    SNAP_TYPE_LAST = SNAP_VIRTIO,
};

struct snapshot_section {
    uint32_t type, index;
    const uint8_t *data;
    uint64_t len;
};

struct snapshot_view {
    uint32_t count;
    struct snapshot_section sections[SNAPSHOT_MAX_SECTIONS];
};

/* This program's build id (the GNU build-id note, else a hash of its version string). */
size_t snapshot_build_id(uint8_t out[SNAPSHOT_BUILD_ID_MAX]);

/* Writing: begin, add sections, finish. finish fills the header (build id, count, CRC); false
 * when memory ran out or there were too many sections. */
void snapshot_file_begin(struct state_writer *w);
void snapshot_file_add(struct state_writer *w, uint32_t type, uint32_t index, const struct state_writer *payload);
bool snapshot_file_finish(struct state_writer *w, const uint8_t *build_id, size_t build_id_len);

/* Parsing: checks magic, version, header size, build id (skipped when build_id is NULL: tests
 * and the fuzzer), CRC and every section's bounds; fills v with pointers into buf. Returns 0,
 * or -1 with one line in err ("written by another silo-vmm build", "checksum mismatch: the
 * file is corrupt", ...). */
int snapshot_file_parse(const uint8_t *buf, size_t len, const uint8_t *build_id, size_t build_id_len,
                        struct snapshot_view *v, char *err, size_t errlen);

/* The section (type, index), or NULL. */
const struct snapshot_section *snapshot_find(const struct snapshot_view *v, uint32_t type, uint32_t index);

#endif
