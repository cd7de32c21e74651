/* tests/unit/test_blk.c — virtio-blk over raw, read-only and copy-on-write images: every request
 * type, then malformed requests; the cow base image is never modified and its layer vanishes. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio_blk.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_test_driver.h"

#define DISK_SIZE (1 << 20)
static const uint64_t FEATURES = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
                                 VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) |
                                 VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);

static char tmpdir[] = "/tmp/silo-test-blk-XXXXXX";
static char disk_path[256], cow_dir[256];

struct blk {
    struct vt_env e;
    struct vt_queue q;
    uint64_t hdr, data, status;
};

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + off / 512);
}

static void make_disk(void)
{
    FILE *f = fopen(disk_path, "wb");
    for (uint64_t i = 0; i < DISK_SIZE; i++)
        fputc(pattern(i), f);
    fclose(f);
}

static uint64_t file_checksum(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 1469598103934665603ULL;
    int c;
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (uint64_t)c) * 1099511628211ULL;
    fclose(f);
    return h;
}

static void blk_up(struct blk *b, bool ro, bool cow, uint64_t features)
{
    struct vmm_config cfg = { .disk_count = 1 };
    cfg.disks[0] = (struct vmm_disk){ .path = disk_path, .read_only = ro, .cow = cow };
    CHECK_EQ(vt_env_init(&b->e, &cfg), 0);
    vt_queue_alloc(&b->e, &b->q, 0, 0, 64);
    CHECK(vt_device_up(&b->e, 0, features, &b->q, 1) & VIRTIO_STATUS_DRIVER_OK);
    b->hdr = vt_alloc(&b->e, 16, 16);
    b->data = vt_alloc(&b->e, 64 * 1024, 512);
    b->status = vt_alloc(&b->e, 1, 1);
}

/* Submits one request; returns its status byte (or 0xee if not returned), used len in *used. */
static int submit(struct blk *b, uint32_t type, uint64_t sector, const struct vt_buf *data, int n, uint32_t *used)
{
    uint8_t *h = vt_ptr(&b->e, b->hdr);
    memset(h, 0, 16);
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    *(uint8_t *)vt_ptr(&b->e, b->status) = 0xee;
    struct vt_buf bufs[8] = { { b->hdr, 16, false } };
    for (int i = 0; i < n; i++)
        bufs[1 + i] = data[i];
    bufs[1 + n] = (struct vt_buf){ b->status, 1, true };
    uint16_t head = vt_add_chain(&b->q, bufs, n + 2);
    vt_kick(&b->q);
    vt_run(&b->e);
    uint32_t id = 0, len = 0;
    if (!vt_get_used(&b->q, &id, &len) || id != head)
        return -1;
    if (used != NULL)
        *used = len;
    return *(uint8_t *)vt_ptr(&b->e, b->status);
}

static void test_read(void)
{
    struct blk b;
    blk_up(&b, false, false, FEATURES);
    uint32_t used;
    /* two data segments: 512 + 1024 bytes from sector 3 */
    struct vt_buf d[2] = { { b.data, 512, true }, { b.data + 4096, 1024, true } };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 3, d, 2, &used), VIRTIO_BLK_S_OK);
    CHECK_EQ(used, 1537);
    uint8_t *p = vt_ptr(&b.e, b.data), *p2 = vt_ptr(&b.e, b.data + 4096);
    bool same = true;
    for (int i = 0; i < 512; i++)
        same &= p[i] == pattern(3 * 512 + i);
    for (int i = 0; i < 1024; i++)
        same &= p2[i] == pattern(4 * 512 + i);
    CHECK(same);
    CHECK(vt_irqs(&b.e, 0) >= 1);
    vt_env_fini(&b.e);
}

static void test_write_flush_getid(void)
{
    struct blk b;
    blk_up(&b, false, false, FEATURES);
    memset(vt_ptr(&b.e, b.data), 0xab, 1024);
    struct vt_buf w = { b.data, 1024, false };
    uint32_t used;
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_OUT, 10, &w, 1, &used), VIRTIO_BLK_S_OK);
    CHECK_EQ(used, 1);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
    memset(vt_ptr(&b.e, b.data), 0, 1024);
    struct vt_buf r = { b.data, 1024, true };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 10, &r, 1, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(((uint8_t *)vt_ptr(&b.e, b.data))[1023], 0xab);
    struct vt_buf id = { b.data, 20, true };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_GET_ID, 0, &id, 1, &used), VIRTIO_BLK_S_OK);
    CHECK_EQ(used, 21);
    CHECK(memcmp(vt_ptr(&b.e, b.data), "silo-disk0", 10) == 0);
    vt_env_fini(&b.e);
    /* the raw image really changed on the host */
    FILE *f = fopen(disk_path, "rb");
    fseek(f, 10 * 512, SEEK_SET);
    CHECK_EQ(fgetc(f), 0xab);
    fclose(f);
    make_disk();
}

static void test_discard_write_zeroes(void)
{
    struct blk b;
    blk_up(&b, false, false, FEATURES);
    uint8_t *seg = vt_ptr(&b.e, b.data);
    uint64_t sector = 100;
    uint32_t num = 8, flags = 0;
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    struct vt_buf s = { b.data, 16, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_WRITE_ZEROES, 0, &s, 1, NULL), VIRTIO_BLK_S_OK);
    struct vt_buf r = { b.data + 4096, 4096, true };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 100, &r, 1, NULL), VIRTIO_BLK_S_OK);
    static const uint8_t zero[4096];
    CHECK(memcmp(vt_ptr(&b.e, b.data + 4096), zero, 4096) == 0);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_DISCARD, 0, &s, 1, NULL), VIRTIO_BLK_S_OK);
    flags = 1; /* UNMAP is not a valid discard flag */
    memcpy(seg + 12, &flags, 4);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_DISCARD, 0, &s, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_WRITE_ZEROES, 0, &s, 1, NULL), VIRTIO_BLK_S_OK);
    sector = DISK_SIZE / 512 - 4; /* runs past the end */
    memcpy(seg, &sector, 8);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_WRITE_ZEROES, 0, &s, 1, NULL), VIRTIO_BLK_S_IOERR);
    struct vt_buf odd = { b.data, 12, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_DISCARD, 0, &odd, 1, NULL), VIRTIO_BLK_S_IOERR);
    vt_env_fini(&b.e);
    make_disk();
}

static void test_read_only(void)
{
    struct blk b;
    uint64_t before = file_checksum(disk_path);
    blk_up(&b, true, false, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_RO));
    vt_write32(&b.e, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    CHECK(vt_read32(&b.e, 0, VIRTIO_MMIO_DEVICE_FEATURES) & (1u << VIRTIO_BLK_F_RO));
    struct vt_buf w = { b.data, 512, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_OUT, 0, &w, 1, NULL), VIRTIO_BLK_S_IOERR);
    uint8_t *seg = vt_ptr(&b.e, b.data);
    memset(seg, 0, 16);
    seg[8] = 1;
    struct vt_buf s = { b.data, 16, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_DISCARD, 0, &s, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_WRITE_ZEROES, 0, &s, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    struct vt_buf r = { b.data, 512, true };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 0, &r, 1, NULL), VIRTIO_BLK_S_OK);
    vt_env_fini(&b.e);
    CHECK_EQ(file_checksum(disk_path), before);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_copy_on_write(void)
{
    struct blk b;
    uint64_t before = file_checksum(disk_path);
    setenv("TMPDIR", cow_dir, 1);
    blk_up(&b, false, true, FEATURES);
    /* write sectors 5..6 and 9, read 4..10 back: a mix of base and overlay sectors */
    memset(vt_ptr(&b.e, b.data), 0x11, 1024);
    struct vt_buf w = { b.data, 1024, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_OUT, 5, &w, 1, NULL), VIRTIO_BLK_S_OK);
    memset(vt_ptr(&b.e, b.data), 0x22, 512);
    w.len = 512;
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_OUT, 9, &w, 1, NULL), VIRTIO_BLK_S_OK);
    struct vt_buf r = { b.data + 8192, 7 * 512, true };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 4, &r, 1, NULL), VIRTIO_BLK_S_OK);
    uint8_t *p = vt_ptr(&b.e, b.data + 8192);
    bool ok = true;
    for (int i = 0; i < 7 * 512; i++) {
        uint64_t sector = 4 + (uint64_t)i / 512;
        uint8_t want = sector == 5 || sector == 6 ? 0x11 : sector == 9 ? 0x22 : pattern(4 * 512 + (uint64_t)i);
        ok &= p[i] == want;
    }
    CHECK(ok);
    /* write-zeroes and discard on a cow disk */
    uint8_t *seg = vt_ptr(&b.e, b.data);
    uint64_t sector = 20;
    uint32_t num = 2, flags = 1;
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    struct vt_buf s = { b.data, 16, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_WRITE_ZEROES, 0, &s, 1, NULL), VIRTIO_BLK_S_OK);
    r.len = 1024;
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 20, &r, 1, NULL), VIRTIO_BLK_S_OK);
    static const uint8_t zero[1024];
    CHECK(memcmp(p, zero, 1024) == 0);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(count_files(cow_dir), 0); /* the layer is an unlinked file */
    vt_env_fini(&b.e);
    CHECK_EQ(file_checksum(disk_path), before);
    /* a new VM over the same base sees the base again */
    blk_up(&b, false, true, FEATURES);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 5, &r, 1, NULL), VIRTIO_BLK_S_OK);
    p = vt_ptr(&b.e, b.data + 8192);
    CHECK_EQ(p[0], pattern(5 * 512));
    vt_env_fini(&b.e);
    unsetenv("TMPDIR");
}

static void test_malformed_requests(void)
{
    struct blk b;
    blk_up(&b, false, false, VIRTIO_BIT(VIRTIO_F_VERSION_1));
    struct vt_buf r = { b.data, 512, true };
    uint32_t used;
    /* out of range, straddling the end, sector overflow */
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, DISK_SIZE / 512, &r, 1, NULL), VIRTIO_BLK_S_IOERR);
    r.len = 1024;
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, &r, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, UINT64_MAX / 256, &r, 1, NULL), VIRTIO_BLK_S_IOERR);
    /* not whole sectors, zero length */
    r.len = 100;
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 0, &r, 1, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 0, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_OUT, 0, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
    /* unknown type; features never negotiated */
    CHECK_EQ(submit(&b, 77, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
    struct vt_buf s = { b.data, 16, false };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_DISCARD, 0, &s, 1, NULL), VIRTIO_BLK_S_UNSUPP);
    /* short header: IOERR in the status byte */
    *(uint8_t *)vt_ptr(&b.e, b.status) = 0xee;
    struct vt_buf shorthdr[2] = { { b.hdr, 8, false }, { b.status, 1, true } };
    vt_add_chain(&b.q, shorthdr, 2);
    vt_kick(&b.q);
    vt_run(&b.e);
    uint32_t id;
    CHECK(vt_get_used(&b.q, &id, &used));
    CHECK_EQ(used, 1);
    CHECK_EQ(*(uint8_t *)vt_ptr(&b.e, b.status), VIRTIO_BLK_S_IOERR);
    /* no writable byte at all: returned with 0 bytes, device still fine */
    struct vt_buf noout[1] = { { b.hdr, 16, false } };
    vt_add_chain(&b.q, noout, 1);
    vt_kick(&b.q);
    vt_run(&b.e);
    CHECK(vt_get_used(&b.q, &id, &used));
    CHECK_EQ(used, 0);
    CHECK(!(vt_read32(&b.e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    /* data buffer outside RAM: a malformed chain, the device needs a reset and does no I/O */
    struct vt_buf outside = { VT_RAM_BASE + VT_RAM_SIZE - 256, 512, true };
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 0, &outside, 1, NULL), -1);
    CHECK(vt_read32(&b.e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* further requests are not served until reset */
    r.len = 512;
    CHECK_EQ(submit(&b, VIRTIO_BLK_T_IN, 0, &r, 1, NULL), -1);
    vt_env_fini(&b.e);
}

static void test_indirect_request(void)
{
    struct blk b;
    blk_up(&b, false, false, FEATURES);
    uint64_t table = vt_alloc(&b.e, 3 * 16, 16);
    struct virtq_desc *t = vt_ptr(&b.e, table);
    t[0] = (struct virtq_desc){ b.hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
    t[1] = (struct virtq_desc){ b.data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
    t[2] = (struct virtq_desc){ b.status, 1, VIRTQ_DESC_F_WRITE, 0 };
    uint8_t *h = vt_ptr(&b.e, b.hdr);
    memset(h, 0, 16);
    h[8] = 7; /* sector 7, type IN */
    struct virtq_desc *d = vt_desc(&b.q, 0);
    *d = (struct virtq_desc){ table, 48, VIRTQ_DESC_F_INDIRECT, 0 };
    vt_publish_head(&b.q, 0);
    vt_kick(&b.q);
    vt_run(&b.e);
    uint32_t id, used;
    CHECK(vt_get_used(&b.q, &id, &used));
    CHECK_EQ(used, 513);
    CHECK_EQ(*(uint8_t *)vt_ptr(&b.e, b.status), VIRTIO_BLK_S_OK);
    CHECK_EQ(((uint8_t *)vt_ptr(&b.e, b.data))[0], pattern(7 * 512));
    vt_env_fini(&b.e);
}

int main(void)
{
    CHECK(mkdtemp(tmpdir) != NULL);
    snprintf(disk_path, sizeof disk_path, "%s/disk.img", tmpdir);
    snprintf(cow_dir, sizeof cow_dir, "%s/cow", tmpdir);
    mkdir(cow_dir, 0700);
    make_disk();
    static const struct unit_test tests[] = {
        { "blk: IN across two segments reads the image", test_read },
        { "blk: OUT, FLUSH, GET_ID on a raw image", test_write_flush_getid },
        { "blk: WRITE_ZEROES and DISCARD, bad flags, out of range", test_discard_write_zeroes },
        { "blk: read-only disk refuses OUT/DISCARD/WRITE_ZEROES, image unchanged", test_read_only },
        { "blk: cow layer: reads mix base and layer, base checksum unchanged, layer unlinked and gone",
          test_copy_on_write },
        { "blk: malformed requests fail that request; buffers outside RAM need reset",
          test_malformed_requests },
        { "blk: a request in an indirect table", test_indirect_request },
    };
    int r = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    unlink(disk_path);
    rmdir(cow_dir);
    rmdir(tmpdir);
    return r;
}
