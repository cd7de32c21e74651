/* tests/unit/test_loader.c — boot/loader.c on the real guest Image (build/guest/Image, or
 * $SILO_GUEST_IMAGE), its gzip, raw binaries, and corrupted inputs: truncated, bad magic, huge
 * image_size, garbage. Every refusal must come with a one-line reason and leave no kernel info. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "boot/layout.h"
#include "boot/loader.h"
#include "tests/unit/check.h"

#define RAM_SIZE (64ULL << 20)

static struct guest_mem mem;
static uint8_t *image;
static size_t image_len;
static char err[256];

static void map_ram(uint64_t size)
{
    if (mem.hva != NULL)
        guest_mem_wipe(&mem, false, NULL);
    CHECK_EQ(guest_mem_map(&mem, DRAM_BASE, size), 0);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* gzip-compresses buf (with the gzip wrapper, as `gzip -c` would). */
static uint8_t *gzip_buffer(const uint8_t *buf, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&zs, len) + 64;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)buf;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int r = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static int load(const uint8_t *buf, size_t len, struct kernel_info *ki)
{
    memset(ki, 0, sizeof *ki);
    err[0] = '\0';
    return boot_load_kernel_buffer(&mem, buf, len, ki, err, sizeof err);
}

/* A refusal: -1, a non-empty single-line reason containing `want`. */
static void check_refused(const uint8_t *buf, size_t len, const char *want)
{
    struct kernel_info ki;
    CHECK_EQ(load(buf, len, &ki), -1);
    CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
    CHECK(strstr(err, want) != NULL);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "    reason was: %s (wanted '%s')\n", err, want);
}

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void test_real_image_loads(void)
{
    CHECK(image != NULL);
    if (image == NULL)
        return;
    map_ram(RAM_SIZE);
    struct kernel_info ki;
    CHECK_EQ(load(image, image_len, &ki), 0);
    CHECK_EQ(ki.format, KERNEL_IMAGE);
    CHECK_EQ(ki.load_gpa, DRAM_BASE + le64_at(image + 8));
    CHECK_EQ(ki.file_bytes, image_len);
    CHECK_EQ(ki.reserved_end, ki.load_gpa + le64_at(image + 16));
    CHECK(memcmp(guest_mem_ptr(&mem, ki.load_gpa, image_len), image, image_len) == 0);
}

static void test_real_image_from_file(void)
{
    const char *path = getenv("SILO_GUEST_IMAGE") ? getenv("SILO_GUEST_IMAGE") : "build/guest/Image";
    map_ram(RAM_SIZE);
    struct kernel_info ki;
    CHECK_EQ(boot_load_kernel_file(&mem, path, &ki, err, sizeof err), 0);
    CHECK_EQ(ki.format, KERNEL_IMAGE);
    CHECK(image != NULL && memcmp(guest_mem_ptr(&mem, ki.load_gpa, image_len), image, image_len) == 0);
    CHECK_EQ(boot_load_kernel_file(&mem, "/nonexistent/Image", &ki, err, sizeof err), -1);
    CHECK(strstr(err, "cannot open") != NULL);
    CHECK_EQ(boot_load_kernel_file(&mem, "/tmp", &ki, err, sizeof err), -1);
    CHECK(strstr(err, "not a regular file") != NULL);
}

static void test_file_image_mapped_copy_on_write(void)
{
    const char *path = getenv("SILO_GUEST_IMAGE") ? getenv("SILO_GUEST_IMAGE") : "build/guest/Image";
    map_ram(RAM_SIZE);
    struct kernel_info ki;
    CHECK_EQ(boot_load_kernel_file(&mem, path, &ki, err, sizeof err), 0);
    CHECK(ki.mapped);
    uint8_t *k = guest_mem_ptr(&mem, ki.load_gpa, image_len);
    CHECK(k != NULL && image != NULL && memcmp(k, image, image_len) == 0);
    /* the tail of the last mapped page reads zero, like RAM */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t tail = (page - image_len % page) % page;
    for (uint64_t i = 0; i < tail; i++)
        CHECK_EQ(k[image_len + i], 0);
    /* a guest write makes that page private: the file keeps its bytes */
    k[4096 + 3] ^= 0xff;
    size_t again_len = 0;
    uint8_t *again = read_file(path, &again_len);
    CHECK(again != NULL && again_len == image_len && memcmp(again, image, image_len) == 0);
    free(again);
    /* the wipe zeroes the written page and leaves the file's pages alone */
    struct guest_mem_wipe_stats st;
    CHECK_EQ(guest_mem_wipe(&mem, true, &st), 0);
    CHECK_EQ(st.zeroed_bytes, page);
    CHECK_EQ(st.resident_bytes, page);
}

static void test_gzip_image_inflates(void)
{
    size_t gz_len;
    uint8_t *gz = image ? gzip_buffer(image, image_len, &gz_len) : NULL;
    CHECK(gz != NULL);
    if (gz == NULL)
        return;
    map_ram(RAM_SIZE);
    struct kernel_info ki;
    CHECK_EQ(load(gz, gz_len, &ki), 0);
    CHECK_EQ(ki.format, KERNEL_IMAGE_GZ);
    CHECK_EQ(ki.file_bytes, image_len);
    CHECK(memcmp(guest_mem_ptr(&mem, ki.load_gpa, image_len), image, image_len) == 0);

    /* the same through a file descriptor (windowed reads) */
    char path[] = "/tmp/test_loader_gz.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, gz, gz_len) == (ssize_t)gz_len);
    map_ram(RAM_SIZE);
    CHECK_EQ(boot_load_kernel_fd(&mem, fd, &ki, err, sizeof err), 0);
    CHECK_EQ(ki.format, KERNEL_IMAGE_GZ);
    CHECK(memcmp(guest_mem_ptr(&mem, ki.load_gpa, image_len), image, image_len) == 0);

    /* truncated gzip, from the file and from memory */
    CHECK_EQ(ftruncate(fd, (off_t)(gz_len / 2)), 0);
    CHECK_EQ(boot_load_kernel_fd(&mem, fd, &ki, err, sizeof err), -1);
    CHECK(strstr(err, "truncated gzip") != NULL);
    close(fd);
    unlink(path);
    check_refused(gz, gz_len - 10, "truncated gzip");

    /* corrupt deflate data after a valid gzip header */
    uint8_t *bad = malloc(gz_len);
    memcpy(bad, gz, gz_len);
    for (size_t i = 20; i < 4096; i++)
        bad[i] ^= 0x5a;
    check_refused(bad, gz_len, "gzip");
    free(bad);
    free(gz);
}

static void test_gzip_of_non_image_refused(void)
{
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    size_t gz_len;
    uint8_t *gz = gzip_buffer(junk, sizeof junk, &gz_len);
    map_ram(RAM_SIZE);
    check_refused(gz, gz_len, "inflated gzip");
    free(gz);
    gz = gzip_buffer(junk, 10, &gz_len);
    check_refused(gz, gz_len, "too short");
    free(gz);
}

static void test_gzip_bomb_refused(void)
{
    /* a valid Image header claiming 64 KiB, followed by 8 MiB of zeros: inflation must stop */
    size_t len = 8u << 20;
    uint8_t *big = calloc(1, len);
    memcpy(big, image, 64);
    uint64_t small = 64 * 1024;
    memcpy(big + 16, &small, 8);
    memset(big + 4, 0, 4); /* no entry branch to check */
    size_t gz_len;
    uint8_t *gz = gzip_buffer(big, len, &gz_len);
    map_ram(RAM_SIZE);
    check_refused(gz, gz_len, "larger than its header's image_size");
    free(gz);
    free(big);
}

static void test_truncated_image_refused(void)
{
    map_ram(RAM_SIZE);
    check_refused(image, 300000, "truncated Image");
    check_refused(image, 0, "empty file");
}

static void test_bad_magic_refused(void)
{
    uint8_t *copy = malloc(image_len);
    memcpy(copy, image, image_len);
    memcpy(copy + 0x38, "XXXX", 4);
    map_ram(RAM_SIZE);
    check_refused(copy, image_len, "corrupt magic");
    free(copy);
}

static void test_huge_image_size_refused(void)
{
    uint8_t *copy = malloc(image_len);
    memcpy(copy, image, image_len);
    uint64_t huge = 0x4000000000000000ULL;
    memcpy(copy + 16, &huge, 8);
    map_ram(RAM_SIZE);
    check_refused(copy, image_len, "image_size");
    /* image_size smaller than the file: a corrupt header */
    uint64_t tiny = 4096;
    memcpy(copy + 16, &tiny, 8);
    check_refused(copy, image_len, "larger than its header's image_size");
    /* text_offset not page aligned / beyond 2 MiB */
    uint64_t size = le64_at(image + 16), odd = 0x80001, far = 4ULL << 20;
    memcpy(copy + 16, &size, 8);
    memcpy(copy + 8, &odd, 8);
    check_refused(copy, image_len, "text_offset");
    memcpy(copy + 8, &far, 8);
    check_refused(copy, image_len, "text_offset");
    free(copy);
}

static void test_kernel_bigger_than_ram_refused(void)
{
    map_ram(4ULL << 20); /* 4 MiB: the 5 MiB Image cannot fit */
    check_refused(image, image_len, "guest RAM is 4 MiB");
    map_ram(RAM_SIZE);
}

static void test_garbage_refused(void)
{
    map_ram(RAM_SIZE);
    static const char text[] = "#!/bin/sh\necho this is a script, not a kernel\n";
    check_refused((const uint8_t *)text, sizeof text - 1, "text file");
    static const uint8_t elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
    check_refused(elf, sizeof elf, "ELF");
    static const uint8_t zeros[4096];
    check_refused(zeros, sizeof zeros, "all zero");
    static const uint8_t xz[16] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
    check_refused(xz, sizeof xz, "xz");
    /* a gzip magic followed by noise */
    uint8_t noise[1024];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)(i * 131 + 17);
    noise[0] = 0x1f;
    noise[1] = 0x8b;
    check_refused(noise, sizeof noise, "gzip");
    /* the Image magic with a garbage header */
    memset(noise, 0xa5, sizeof noise);
    memcpy(noise + 0x38, "ARMd", 4);
    check_refused(noise, sizeof noise, "text_offset");
}

static void test_raw_binary_loads_at_0x80000(void)
{
    map_ram(RAM_SIZE);
    static const uint32_t code[] = { 0xd2800840, 0xd2a20001, 0xf9000020, 0x14000000 };
    struct kernel_info ki;
    CHECK_EQ(load((const uint8_t *)code, sizeof code, &ki), 0);
    CHECK_EQ(ki.format, KERNEL_RAW);
    CHECK_EQ(ki.load_gpa, DRAM_BASE + RAW_LOAD_OFFSET);
    CHECK(memcmp(guest_mem_ptr(&mem, ki.load_gpa, sizeof code), code, sizeof code) == 0);
    CHECK(ki.reserved_end >= ki.load_gpa + sizeof code + (1u << 20)); /* room for .bss/stack */
    /* a raw binary larger than RAM */
    map_ram(16ULL << 20);
    size_t len = 17u << 20;
    uint8_t *big = malloc(len);
    memset(big, 0x91, len);
    check_refused(big, len, "does not fit");
    free(big);
}

static void test_unmapped_ram_refused(void)
{
    struct guest_mem none = { 0 };
    struct kernel_info ki;
    CHECK_EQ(boot_load_kernel_buffer(&none, image, image_len, &ki, err, sizeof err), -1);
    CHECK(strstr(err, "not mapped") != NULL);
}

static void test_initrd_and_dtb_placement(void)
{
    map_ram(RAM_SIZE);
    struct kernel_info ki;
    CHECK_EQ(load(image, image_len, &ki), 0);
    uint64_t initrd = boot_initrd_gpa(&ki);
    CHECK(initrd >= ki.reserved_end && initrd % BOOT_ALIGN == 0 && initrd - ki.reserved_end < BOOT_ALIGN);

    char path[] = "/tmp/test_loader_initrd.XXXXXX";
    int fd = mkstemp(path);
    uint8_t data[10000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data);
    close(fd);
    uint64_t size = 0;
    CHECK_EQ(boot_load_initrd_file(&mem, path, initrd, &size, err, sizeof err), 0);
    CHECK_EQ(size, sizeof data);
    CHECK(memcmp(guest_mem_ptr(&mem, initrd, size), data, size) == 0);
    const uint8_t *after = guest_mem_ptr(&mem, initrd + size, 12288 - sizeof data);
    for (size_t i = 0; after != NULL && i < 12288 - sizeof data; i++)
        CHECK_EQ(after[i], 0); /* the rest of the last page, as RAM */
    /* an initrd that would run past the end of RAM */
    CHECK_EQ(boot_load_initrd_file(&mem, path, DRAM_BASE + RAM_SIZE - 100, &size, err, sizeof err), -1);
    CHECK(strstr(err, "does not fit") != NULL);
    CHECK_EQ(boot_load_initrd_file(&mem, "/nonexistent", initrd, &size, err, sizeof err), -1);
    unlink(path);

    uint64_t dtb = boot_dtb_gpa(initrd + sizeof data);
    CHECK(dtb > initrd + sizeof data && dtb % BOOT_ALIGN == 0);
    static const uint8_t blob[64] = { 0xd0, 0x0d, 0xfe, 0xed };
    CHECK_EQ(boot_place_dtb(&mem, dtb, blob, sizeof blob, err, sizeof err), 0);
    CHECK(memcmp(guest_mem_ptr(&mem, dtb, sizeof blob), blob, sizeof blob) == 0);
    CHECK_EQ(boot_place_dtb(&mem, DRAM_BASE + RAM_SIZE - 32, blob, sizeof blob, err, sizeof err), -1);
    CHECK_EQ(boot_place_dtb(&mem, dtb, blob, DTB_MAX_SIZE + 1, err, sizeof err), -1);
}

static void test_ipa_bits(void)
{
    CHECK_EQ(layout_ipa_bits(16ULL << 20), 32);         /* 2 GiB + 16 MiB */
    CHECK_EQ(layout_ipa_bits(2ULL << 30), 32);          /* ends exactly at 4 GiB */
    CHECK_EQ(layout_ipa_bits((2ULL << 30) + 4096), 33);
    CHECK_EQ(layout_ipa_bits(4ULL << 30), 33);          /* ends at 6 GiB */
    CHECK_EQ(layout_ipa_bits((1ULL << 40) - (2ULL << 30)), 40);
    CHECK_EQ(layout_ipa_bits(1ULL << 40), 41);          /* 1 TiB needs more than 40 bits */
}

int main(void)
{
    const char *path = getenv("SILO_GUEST_IMAGE") ? getenv("SILO_GUEST_IMAGE") : "build/guest/Image";
    image = read_file(path, &image_len);
    if (image == NULL) {
        printf("not ok - test_loader: cannot read the guest kernel %s (run: make kernel)\n", path);
        return 1;
    }
    static const struct unit_test tests[] = {
        { "an uncompressed Image file is mapped copy-on-write; the wipe skips its unwritten pages", test_file_image_mapped_copy_on_write },
        { "loads the real guest Image at DRAM + text_offset", test_real_image_loads },
        { "loads the real Image from a file", test_real_image_from_file },
        { "inflates Image.gz (memory and file) and refuses truncated/corrupt gzip", test_gzip_image_inflates },
        { "refuses gzip data that is not an Image", test_gzip_of_non_image_refused },
        { "stops a gzip bomb at the header's image_size", test_gzip_bomb_refused },
        { "refuses a truncated Image", test_truncated_image_refused },
        { "refuses an Image with a corrupt magic", test_bad_magic_refused },
        { "refuses huge/short image_size and bad text_offset", test_huge_image_size_refused },
        { "refuses a kernel bigger than RAM", test_kernel_bigger_than_ram_refused },
        { "refuses garbage: text, ELF, zeros, xz, noise", test_garbage_refused },
        { "loads a raw binary at RAM + 0x80000", test_raw_binary_loads_at_0x80000 },
        { "refuses to load into unmapped RAM", test_unmapped_ram_refused },
        { "places the initrd and the DTB above the kernel, inside RAM", test_initrd_and_dtb_placement },
        { "IPA bits needed for a RAM size at 0x80000000", test_ipa_bits },
    };
    int r = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    guest_mem_wipe(&mem, false, NULL);
    free(image);
    return r;
}
