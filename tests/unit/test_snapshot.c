/* tests/unit/test_snapshot.c — the host-side pieces of snapshots, natively: the state encoding
 * (base/state_buf.c), the state file's container and its refusals (vmm/snapshot_file.c), the
 * platform devices' and the virtio transport's state round trips and their refusal of hostile
 * records, a copy-on-write disk's private layer (disk_image_save/load_layer), and guest RAM
 * mapped from a memory file whose wipe zeroes exactly the pages the guest wrote. The KVM side
 * (registers, vGIC) runs only in the dev host: tests/e2e/snapshot.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/guest_mem.h"
#include "base/state_buf.h"
#include "devices/rtc_pl031.h"
#include "devices/uart_8250.h"
#include "devices/virtio/disk_image.h"
#include "devices/virtio/virtio_mmio.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/snapshot_file.h"

static void test_state_buf_round_trip_and_short_reads(void)
{
    struct state_writer w;
    state_writer_init(&w);
    state_put_u8(&w, 0xab);
    state_put_u16(&w, 0x1234);
    state_put_u32(&w, 0xdeadbeef);
    state_put_u64(&w, 0x0102030405060708ULL);
    state_put_str(&w, "disk.img");
    state_put_blob(&w, "\0\1\2", 3);
    CHECK(state_writer_ok(&w));
    CHECK_EQ(w.data[1], 0x34); /* little-endian on the wire */

    struct state_reader r;
    state_reader_init(&r, w.data, w.len);
    CHECK_EQ(state_get_u8(&r), 0xab);
    CHECK_EQ(state_get_u16(&r), 0x1234);
    CHECK_EQ(state_get_u32(&r), 0xdeadbeefu);
    CHECK(state_get_u64(&r) == 0x0102030405060708ULL);
    char s[16];
    state_get_str(&r, s, sizeof s);
    CHECK(strcmp(s, "disk.img") == 0);
    uint32_t n;
    const uint8_t *b = state_get_blob(&r, &n);
    CHECK(b != NULL && n == 3 && b[2] == 2);
    CHECK(state_reader_ok(&r, true));

    /* every truncation fails cleanly, and a failed reader stays failed */
    for (size_t cut = 0; cut < w.len; cut++) {
        state_reader_init(&r, w.data, cut);
        state_get_u8(&r);
        state_get_u16(&r);
        state_get_u32(&r);
        state_get_u64(&r);
        state_get_str(&r, s, sizeof s);
        state_get_blob(&r, &n);
        CHECK(!state_reader_ok(&r, false));
    }
    /* a string that does not fit, or holds a NUL, fails */
    state_reader_init(&r, w.data + 15, w.len - 15);
    state_get_str(&r, s, 4);
    CHECK(!state_reader_ok(&r, false));
    /* a blob length beyond the buffer fails without reading */
    uint8_t huge[8] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4 };
    state_reader_init(&r, huge, sizeof huge);
    CHECK(state_get_blob(&r, &n) == NULL && n == 0 && !state_reader_ok(&r, false));
    state_writer_free(&w);
}

static const uint8_t id_a[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
static const uint8_t id_b[20] = { 9, 9, 9 };

static void build_file(struct state_writer *f, int sections)
{
    state_writer_init(f);
    snapshot_file_begin(f);
    for (int i = 0; i < sections; i++) {
        struct state_writer p;
        state_writer_init(&p);
        state_put_u64(&p, 1000u + (unsigned)i);
        snapshot_file_add(f, i == 0 ? SNAP_MACHINE : SNAP_VCPU, (uint32_t)i, &p);
        state_writer_free(&p);
    }
    CHECK(snapshot_file_finish(f, id_a, sizeof id_a));
}

static void test_container_round_trip(void)
{
    struct state_writer f;
    build_file(&f, 3);
    static struct snapshot_view v;
    char err[200];
    CHECK_EQ(snapshot_file_parse(f.data, f.len, id_a, sizeof id_a, &v, err, sizeof err), 0);
    CHECK_EQ(v.count, 3);
    const struct snapshot_section *s = snapshot_find(&v, SNAP_VCPU, 2);
    CHECK(s != NULL && s->len == 8);
    struct state_reader r;
    state_reader_init(&r, s->data, s->len);
    CHECK(state_get_u64(&r) == 1002);
    CHECK(snapshot_find(&v, SNAP_VCPU, 3) == NULL);
    CHECK(snapshot_find(&v, SNAP_GIC, 0) == NULL);
    /* the build id check can be skipped (tests, fuzzer) */
    CHECK_EQ(snapshot_file_parse(f.data, f.len, NULL, 0, &v, err, sizeof err), 0);
    uint8_t id[SNAPSHOT_BUILD_ID_MAX];
    CHECK(snapshot_build_id(id) > 0);
    state_writer_free(&f);
}

static void expect_refused(const uint8_t *buf, size_t len, const char *want)
{
    static struct snapshot_view v;
    char err[200] = "";
    CHECK_EQ(snapshot_file_parse(buf, len, id_a, sizeof id_a, &v, err, sizeof err), -1);
    CHECK(strstr(err, want) != NULL);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "    wanted '%s', got '%s'\n", want, err);
}

static void test_container_refusals(void)
{
    struct state_writer f;
    build_file(&f, 3);
    uint8_t *copy = malloc(f.len);
    static struct snapshot_view v;
    char err[200];

    expect_refused(f.data, 10, "not a silo-vmm snapshot");
    CHECK_EQ(snapshot_file_parse(f.data, f.len, id_b, sizeof id_b, &v, err, sizeof err), -1);
    CHECK(strstr(err, "another silo-vmm build") != NULL);
    for (size_t at = SNAPSHOT_HEADER_SIZE; at < f.len; at++) { /* any flipped byte of the body */
        memcpy(copy, f.data, f.len);
        copy[at] ^= 0x40;
        expect_refused(copy, f.len, "checksum mismatch");
    }
    expect_refused(f.data, f.len - 1, "checksum mismatch"); /* truncated */
    memcpy(copy, f.data, f.len);
    copy[8] = SNAPSHOT_FORMAT_VERSION + 1; /* format version */
    expect_refused(copy, f.len, "format version 3");
    memcpy(copy, f.data, f.len);
    copy[52] = 4; /* one section more than there is */
    expect_refused(copy, f.len, "overruns");
    memcpy(copy, f.data, f.len);
    copy[52] = 2; /* one section less: bytes left over */
    expect_refused(copy, f.len, "after the last section");
    memcpy(copy, f.data, f.len);
    copy[53] = 0x10; /* thousands of sections */
    expect_refused(copy, f.len, "sections (at most");
    free(copy);
    state_writer_free(&f);

    /* the same (type, index) twice, and an unknown type: refused even with a valid CRC */
    struct state_writer p;
    state_writer_init(&f);
    state_writer_init(&p);
    state_put_u32(&p, 7);
    snapshot_file_begin(&f);
    snapshot_file_add(&f, SNAP_VCPU, 1, &p);
    snapshot_file_add(&f, SNAP_VCPU, 1, &p);
    CHECK(snapshot_file_finish(&f, id_a, sizeof id_a));
    expect_refused(f.data, f.len, "appears twice");
    state_writer_free(&f);
    state_writer_init(&f);
    snapshot_file_begin(&f);
    snapshot_file_add(&f, 99, 0, &p);
    CHECK(snapshot_file_finish(&f, id_a, sizeof id_a));
    expect_refused(f.data, f.len, "unknown type 99");
    state_writer_free(&f);
    state_writer_free(&p);
}

static void test_uart_and_rtc_state(void)
{
    struct uart_8250 a, b;
    struct irq_line none = { .fd = -1, .spi = 1 };
    uart_8250_init(&a, none, -1);
    uart_8250_init(&b, none, -1);
    uint8_t ier = 0x05, lcr = 0x1b;
    uart_8250_mmio_write(&a, 1, &ier, 1);
    uart_8250_mmio_write(&a, 3, &lcr, 1);
    CHECK_EQ(uart_8250_feed(&a, (const uint8_t *)"hello", 5), 5);
    struct state_writer w;
    state_writer_init(&w);
    uart_8250_save(&a, &w);
    struct state_reader r;
    char err[200];
    state_reader_init(&r, w.data, w.len);
    CHECK_EQ(uart_8250_restore(&b, &r, err, sizeof err), 0);
    CHECK_EQ(b.ier, 0x05);
    CHECK_EQ(b.lcr, 0x1b);
    CHECK_EQ(b.fifo_len, 5);
    uint8_t c = 0;
    lcr = 0x03;
    uart_8250_mmio_write(&b, 3, &lcr, 1);
    uart_8250_mmio_read(&b, 0, &c, 1);
    CHECK_EQ(c, 'h'); /* the FIFO comes back in order */
    /* a FIFO longer than the part's is refused */
    w.data[9] = 0xff;
    state_reader_init(&r, w.data, w.len);
    CHECK_EQ(uart_8250_restore(&b, &r, err, sizeof err), -1);
    CHECK(strstr(err, "malformed") != NULL);
    state_reader_init(&r, w.data, 3);
    CHECK_EQ(uart_8250_restore(&b, &r, err, sizeof err), -1);
    state_writer_free(&w);
    uart_8250_destroy(&a);
    uart_8250_destroy(&b);

    /* the RTC keeps the guest's offset from the host clock */
    const struct platform_device_type *rtc_type = &rtc_pl031_platform;
    struct platform_services ps = { 0 };
    void *ra = rtc_type->create(&ps, err, sizeof err), *rb = rtc_type->create(&ps, err, sizeof err);
    uint32_t lr = 1000;
    rtc_pl031_mmio_write(ra, PL031_LR, &lr, 4);
    state_writer_init(&w);
    rtc_type->save(ra, &w);
    state_reader_init(&r, w.data, w.len);
    CHECK_EQ(rtc_type->restore(rb, &r, err, sizeof err), 0);
    uint32_t dr = 0;
    rtc_pl031_mmio_read(rb, PL031_DR, &dr, 4);
    CHECK(dr >= 1000 && dr < 1010);
    state_reader_init(&r, w.data, w.len - 1);
    CHECK_EQ(rtc_type->restore(rb, &r, err, sizeof err), -1);
    state_writer_free(&w);
    rtc_type->destroy(ra);
    rtc_type->destroy(rb);
}

static const uint64_t FEATURES = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);

/* A transport saved mid-life, reset (as a new VMM's fresh device would be) and restored: the
 * guest's queues go on where they were; hostile records are refused. */
static void test_virtio_transport_state(void)
{
    struct vt_env e;
    struct vt_queue q;
    struct vmm_config cfg = { .rng = true };
    CHECK_EQ(vt_env_init(&e, &cfg), 0);
    vt_queue_alloc(&e, &q, 0, 0, 16);
    CHECK(vt_device_up(&e, 0, FEATURES, &q, 1) & VIRTIO_STATUS_DRIVER_OK);
    for (int i = 0; i < 3; i++) {
        uint64_t a = vt_alloc(&e, 32, 8);
        vt_add_chain(&q, &(struct vt_buf){ a, 32, true }, 1);
    }
    vt_kick(&q);
    vt_run(&e);
    uint32_t id, len;
    for (int i = 0; i < 3; i++)
        CHECK(vt_get_used(&q, &id, &len));
    uint32_t status = vt_read32(&e, 0, VIRTIO_MMIO_STATUS);

    struct state_writer w;
    state_writer_init(&w);
    char err[200];
    CHECK_EQ(virtio_devices_save(0, &w, -1, err, sizeof err), 0);
    vt_write32(&e, 0, VIRTIO_MMIO_STATUS, 0); /* a fresh device */
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_STATUS), 0);
    CHECK_EQ(virtio_devices_restore(0, w.data, w.len, -1, err, sizeof err), 0);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_STATUS), status);
    vt_write32(&e, 0, VIRTIO_MMIO_QUEUE_SEL, 0);
    CHECK_EQ(vt_read32(&e, 0, VIRTIO_MMIO_QUEUE_READY), 1);
    /* a buffer added after the restore is served, with the used index continuing at 3 */
    uint64_t a = vt_alloc(&e, 32, 8);
    uint16_t head = vt_add_chain(&q, &(struct vt_buf){ a, 32, true }, 1);
    vt_kick(&q);
    vt_run(&e);
    CHECK(vt_get_used(&q, &id, &len));
    CHECK_EQ(id, head);
    CHECK_EQ(len, 32);

    /* hostile records: another device type, a ring outside RAM, truncation, trailing bytes */
    uint8_t *bad = malloc(w.len + 1);
    memcpy(bad, w.data, w.len);
    bad[0] = 2; /* virtio-blk */
    CHECK_EQ(virtio_devices_restore(0, bad, w.len, -1, err, sizeof err), -1);
    CHECK(strstr(err, "device type 2") != NULL);
    memcpy(bad, w.data, w.len);
    size_t queue_at = 4 * 4 + 8 + 4 * 3 + 4 + 0 + 4; /* ids, status.., features, sel, isr, gen, cfg len, nq */
    uint64_t far = 0x7000000000ULL;
    memcpy(bad + queue_at + 2, &far, 8); /* the descriptor table's address */
    CHECK_EQ(virtio_devices_restore(0, bad, w.len, -1, err, sizeof err), -1);
    CHECK(strstr(err, "outside guest RAM") != NULL);
    for (size_t cut = 0; cut < w.len; cut += 7)
        CHECK_EQ(virtio_devices_restore(0, w.data, cut, -1, err, sizeof err), -1);
    memcpy(bad, w.data, w.len);
    bad[w.len] = 0;
    CHECK_EQ(virtio_devices_restore(0, bad, w.len + 1, -1, err, sizeof err), -1);
    CHECK_EQ(virtio_devices_restore(5, w.data, w.len, -1, err, sizeof err), -1);
    free(bad);
    state_writer_free(&w);
    vt_env_fini(&e);
}

static int temp_file(char *path, size_t size)
{
    strcpy(path, "/tmp/silo-snap-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0 && ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_disk_layer(void)
{
    char base[64], layer[64];
    int bfd = temp_file(base, 1 << 20);
    CHECK(bfd >= 0);
    CHECK(pwrite(bfd, "BASE", 4, 4096) == 4);
    close(bfd);
    struct disk_image a, b;
    CHECK_EQ(disk_image_open(&a, base, false, true), 0);
    uint8_t sector[512];
    memset(sector, 'x', sizeof sector);
    struct iovec v = { sector, sizeof sector };
    CHECK_EQ(disk_image_write(&a, 0, &v, 1), 0);
    CHECK_EQ(disk_image_write(&a, 512 * 9, &v, 1), 0);
    CHECK_EQ(disk_image_write(&a, 512 * 10, &v, 1), 0); /* runs: [0,1) and [9,11) */
    int lfd = temp_file(layer, 0);
    struct state_writer w;
    state_writer_init(&w);
    CHECK_EQ(disk_image_save_layer(&a, lfd, &w), 0);
    struct state_reader r;
    state_reader_init(&r, w.data, w.len);
    CHECK_EQ(state_get_u32(&r), 2);

    CHECK_EQ(disk_image_open(&b, base, false, true), 0);
    state_reader_init(&r, w.data, w.len);
    CHECK_EQ(disk_image_load_layer(&b, lfd, &r), 0);
    CHECK(state_reader_ok(&r, true));
    uint8_t got[512 * 12];
    struct iovec g = { got, sizeof got };
    CHECK_EQ(disk_image_read(&b, 0, &g, 1), 0);
    CHECK(got[0] == 'x' && got[511] == 'x' && got[512] == 0 && got[512 * 9] == 'x' && got[512 * 11 - 1] == 'x');
    CHECK(memcmp(got + 4096, "BASE", 4) == 0);
    /* a write after the restore stays private to it, and the base never changed */
    CHECK_EQ(disk_image_write(&b, 4096, &v, 1), 0);
    char raw[4];
    bfd = open(base, O_RDONLY);
    CHECK(pread(bfd, raw, 4, 4096) == 4 && memcmp(raw, "BASE", 4) == 0);
    close(bfd);
    disk_image_close(&b);

    /* hostile runs: out of the disk, overlapping, zero-length, more than the bytes hold */
    uint64_t bad_runs[][2] = { { 2047, 2 }, { 5, 0 } };
    for (size_t i = 0; i < 2; i++) {
        struct state_writer h;
        state_writer_init(&h);
        state_put_u32(&h, 1);
        state_put_u64(&h, bad_runs[i][0]);
        state_put_u64(&h, bad_runs[i][1]);
        CHECK_EQ(disk_image_open(&b, base, false, true), 0);
        state_reader_init(&r, h.data, h.len);
        CHECK_EQ(disk_image_load_layer(&b, lfd, &r), -EINVAL);
        disk_image_close(&b);
        state_writer_free(&h);
    }
    struct state_writer h;
    state_writer_init(&h);
    state_put_u32(&h, 2);
    state_put_u64(&h, 10);
    state_put_u64(&h, 4);
    state_put_u64(&h, 12); /* overlaps [10, 14) */
    state_put_u64(&h, 1);
    CHECK_EQ(disk_image_open(&b, base, false, true), 0);
    state_reader_init(&r, h.data, h.len);
    CHECK_EQ(disk_image_load_layer(&b, lfd, &r), -EINVAL);
    disk_image_close(&b);
    state_writer_free(&h);
    state_writer_init(&h);
    state_put_u32(&h, 1000000);
    CHECK_EQ(disk_image_open(&b, base, false, true), 0);
    state_reader_init(&r, h.data, h.len);
    CHECK_EQ(disk_image_load_layer(&b, lfd, &r), -EINVAL);
    disk_image_close(&b);
    state_writer_free(&h);

    state_writer_free(&w);
    disk_image_close(&a);
    close(lfd);
    unlink(layer);
    unlink(base);
}

/* Guest RAM restored from a memory file: reads come from the file, writes become private
 * pages, and the wipe zeroes exactly those; the file never changes. Also the writer. */
static void test_guest_memory_file(void)
{
    const size_t size = 64 * 4096;
    struct guest_mem m = { 0 };
    CHECK_EQ(guest_mem_map(&m, 0x80000000ULL, size), 0);
    memset(m.hva + 4096 * 3, 0xaa, 4096);
    memset(m.hva + 4096 * 10, 0xbb, 4096 * 2);
    m.hva[4096 * 20] = 0; /* touched but zero: not written */
    char path[64];
    int fd = temp_file(path, 0);
    uint64_t written = 0;
    CHECK_EQ(guest_mem_write_file(&m, fd, &written), 0);
    CHECK_EQ(written, 3 * 4096);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size == size && st.st_blocks * 512 < (blkcnt_t)size);
    CHECK_EQ(guest_mem_wipe(&m, true, NULL), 0);

    struct guest_mem r = { 0 };
    CHECK_EQ(guest_mem_map_file(&r, 0x80000000ULL, size, fd), 0);
    CHECK(r.file_backed);
    CHECK_EQ(r.hva[4096 * 3 + 17], 0xaa);      /* read from the file */
    CHECK_EQ(r.hva[4096 * 11 + 5], 0xbb);
    CHECK_EQ(guest_mem_resident_bytes(&r), 0); /* reads made no private page */
    r.hva[4096 * 30] = 0x55;                   /* two private pages */
    r.hva[4096 * 3] = 0x66;
    CHECK_EQ(guest_mem_resident_bytes(&r), 2 * 4096);
    struct guest_mem_wipe_stats ws;
    CHECK_EQ(guest_mem_wipe(&r, true, &ws), 0);
    CHECK_EQ(ws.resident_bytes, 2 * 4096);
    uint8_t b = 0;
    CHECK(pread(fd, &b, 1, 4096 * 3) == 1 && b == 0xaa); /* the file is untouched */
    CHECK(pread(fd, &b, 1, 4096 * 30) == 1 && b == 0);
    CHECK_EQ(guest_mem_map_file(&r, 0x80000000ULL, size * 2, fd), -EINVAL); /* shorter than RAM */
    /* a restored VM is not snapshotted again */
    CHECK_EQ(guest_mem_map_file(&r, 0x80000000ULL, size, fd), 0);
    CHECK_EQ(guest_mem_write_file(&r, fd, NULL), -ENOTSUP);
    guest_mem_wipe(&r, false, NULL);
    close(fd);
    unlink(path);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "state encoding: round trip, every truncation fails, oversized strings and blobs", test_state_buf_round_trip_and_short_reads },
        { "state file: sections round trip with the build id", test_container_round_trip },
        { "state file: foreign build, flipped byte, truncation, version, counts, duplicates refused", test_container_refusals },
        { "UART registers and FIFO, RTC offset: saved and restored; malformed refused", test_uart_and_rtc_state },
        { "virtio transport: queues go on after restore; hostile records refused", test_virtio_transport_state },
        { "cow disk layer: saved sparse, loaded into a new layer; hostile runs refused", test_disk_layer },
        { "memory file: sparse writer; private mapping, wipe of exactly the written pages", test_guest_memory_file },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
