/* tests/unit/test_guest_mem.c — base/guest_mem.c: mapping, bounds-checked translation, the
 * resident-page walk, the wipe with its zero check, and a large guest that touched little
 * being wiped fast (cost follows touched memory, not guest size). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "base/guest_mem.h"

#define BASE 0x80000000ULL

static uint64_t page(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

static void test_map_rejects_bad_sizes(void)
{
    struct guest_mem m = { 0 };
    CHECK_EQ(guest_mem_map(&m, BASE, 0), -EINVAL);
    CHECK_EQ(guest_mem_map(&m, BASE, page() + 1), -EINVAL);
    CHECK_EQ(guest_mem_map(&m, BASE + 1, page()), -EINVAL);
    CHECK_EQ(guest_mem_map(&m, ~0ULL - page() + 1, 2 * page()), -EINVAL); /* gpa range overflows */
    CHECK(m.hva == NULL);
}

static void test_translation_bounds(void)
{
    struct guest_mem m = { 0 };
    uint64_t size = 16 * page();
    CHECK_EQ(guest_mem_map(&m, BASE, size), 0);
    CHECK(guest_mem_ptr(&m, BASE, size) == m.hva);
    CHECK(guest_mem_ptr(&m, BASE + 5, 10) == m.hva + 5);
    CHECK(guest_mem_ptr(&m, BASE + size, 0) == m.hva + size); /* empty range at the end */
    CHECK(guest_mem_ptr(&m, BASE + size, 1) == NULL);
    CHECK(guest_mem_ptr(&m, BASE - 1, 1) == NULL);
    CHECK(guest_mem_ptr(&m, BASE + size - 4, 8) == NULL); /* straddles the end */
    CHECK(guest_mem_ptr(&m, BASE + 8, ~0ULL) == NULL);    /* length overflows */
    CHECK(guest_mem_ptr(&m, ~0ULL, 2) == NULL);
    CHECK(!guest_mem_contains(&m, 0, 1));
    CHECK(guest_mem_contains(&m, BASE, size));
    CHECK(!guest_mem_contains(&m, BASE, size + 1));
    CHECK_EQ(guest_mem_wipe(&m, false, NULL), 0);
    CHECK(guest_mem_ptr(&m, BASE, 1) == NULL); /* nothing after the wipe */
}

static void test_resident_walk_counts_touched_pages(void)
{
    struct guest_mem m = { 0 };
    uint64_t pg = page(), size = 4096 * pg;
    CHECK_EQ(guest_mem_map(&m, BASE, size), 0);
    madvise(m.hva, size, MADV_NOHUGEPAGE); /* count exact pages even where THP is on */
    CHECK_EQ(guest_mem_resident_bytes(&m), 0);
    m.hva[0] = 1;
    m.hva[5 * pg] = 2; /* a run of three: 5, 6, 7 */
    m.hva[6 * pg + 17] = 3;
    m.hva[8 * pg - 1] = 4;
    m.hva[size - 1] = 5; /* the last page */
    CHECK_EQ(guest_mem_resident_bytes(&m), 5 * pg);
    CHECK(!guest_mem_resident_pages_zero(&m));
    struct guest_mem_wipe_stats st;
    CHECK_EQ(guest_mem_wipe(&m, true, &st), 0);
    CHECK_EQ(st.resident_bytes, 5 * pg);
    CHECK(m.hva == NULL);
}

static void test_zero_check_finds_a_single_byte(void)
{
    struct guest_mem m = { 0 };
    uint64_t pg = page();
    CHECK_EQ(guest_mem_map(&m, BASE, 64 * pg), 0);
    memset(m.hva, 0, 3 * pg); /* resident, all zero */
    CHECK(guest_mem_resident_pages_zero(&m));
    m.hva[2 * pg + pg - 1] = 0x80; /* the very last byte of a resident run */
    CHECK(!guest_mem_resident_pages_zero(&m));
    m.hva[2 * pg + pg - 1] = 0;
    CHECK(guest_mem_resident_pages_zero(&m));
    struct guest_mem none = { 0 };
    CHECK(guest_mem_resident_pages_zero(&none));
    CHECK_EQ(guest_mem_wipe(&m, true, NULL), 0);
}

static void test_wipe_zeroes_before_unmap(void)
{
    struct guest_mem m = { 0 };
    uint64_t pg = page(), size = 256 * pg;
    CHECK_EQ(guest_mem_map(&m, BASE, size), 0);
    for (uint64_t off = 0; off < size; off += 3 * pg)
        memset(m.hva + off, 0xa5, pg);
    /* private memory has no second view to look through after munmap: the wipe's own verify
     * pass (proved to catch a single byte above) is what shows every page read zero */
    struct guest_mem_wipe_stats st;
    CHECK_EQ(guest_mem_wipe(&m, true, &st), 0);
    CHECK(st.resident_bytes >= 86 * pg);
    CHECK(m.hva == NULL);
    CHECK_EQ(guest_mem_wipe(&m, true, &st), 0); /* twice is harmless */
    CHECK_EQ(st.resident_bytes, 0);
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_large_guest_touching_little_wipes_fast(void)
{
    struct guest_mem m = { 0 };
    uint64_t pg = page(), size = 4ULL << 30; /* 4 GiB, MAP_NORESERVE */
    CHECK_EQ(guest_mem_map(&m, BASE, size), 0);
    if (m.hva == NULL)
        return;
    madvise(m.hva, size, MADV_NOHUGEPAGE);
    for (int i = 0; i < 64; i++)
        m.hva[(uint64_t)i * (size / 64)] = (uint8_t)(i + 1);
    long faults0 = minor_faults();
    uint64_t t0 = now_ns();
    struct guest_mem_wipe_stats st;
    CHECK_EQ(guest_mem_wipe(&m, true, &st), 0);
    uint64_t elapsed = now_ns() - t0;
    long faults = minor_faults() - faults0;
    CHECK_EQ(st.resident_bytes, 64 * pg);
    CHECK(faults < 1000);          /* zeroing the whole 4 GiB would fault in ~1M pages */
    CHECK(elapsed < 500000000ULL); /* well under 0.5 s, even under ASan */
    if (elapsed >= 500000000ULL || faults >= 1000)
        fprintf(stderr, "    4 GiB wipe took %llu us with %ld faults\n", (unsigned long long)(elapsed / 1000), faults);
}

static void test_wipe_skips_pages_only_read(void)
{
    struct guest_mem m = { 0 };
    uint64_t pg = page(), size = 512 * pg;
    CHECK_EQ(guest_mem_map(&m, BASE, size), 0);
    madvise(m.hva, size, MADV_NOHUGEPAGE);
    volatile uint8_t sink = 0;
    for (uint64_t i = 256; i < 512; i++)
        sink += m.hva[i * pg]; /* read only: the shared zero page, resident but empty */
    (void)sink;
    m.hva[20 * pg + 5] = 1;
    m.hva[21 * pg + pg - 1] = 2;
    memset(m.hva + 30 * pg, 0, pg); /* written, but holds nothing */
    struct guest_mem_wipe_stats st;
    long faults0 = minor_faults();
    CHECK_EQ(guest_mem_wipe(&m, true, &st), 0);
    CHECK(minor_faults() - faults0 < 128); /* clearing the 256 pages only read would copy each */
    CHECK(st.resident_bytes >= 3 * pg);
    CHECK_EQ(st.zeroed_bytes, 2 * pg);
}

static void test_huge_pages_aligned_and_wipe_follows_touched_memory(void)
{
    /* The same two touched bytes in a 1 GiB and a 4 GiB guest: the mapping is 2 MiB-aligned
     * (huge pages where the host allows them) and the wipe covers the same bytes in both. */
    uint64_t wiped[2] = { 0, 0 };
    const uint64_t sizes[2] = { 1ULL << 30, 4ULL << 30 };
    for (int k = 0; k < 2; k++) {
        struct guest_mem m = { 0 };
        CHECK_EQ(guest_mem_map(&m, BASE, sizes[k]), 0);
        if (m.hva == NULL)
            return;
        CHECK_EQ((uint64_t)(uintptr_t)m.hva % GUEST_MEM_HUGE_PAGE, 0);
        m.hva[12345] = 1;
        m.hva[sizes[k] / 2 + 7] = 2;
        struct guest_mem_wipe_stats st;
        CHECK_EQ(guest_mem_wipe(&m, true, &st), 0);
        CHECK(st.resident_bytes <= 2 * GUEST_MEM_HUGE_PAGE);
        CHECK_EQ(st.zeroed_bytes, 2 * page());
        wiped[k] = st.resident_bytes;
    }
    CHECK_EQ(wiped[0], wiped[1]);
}

static void test_placed_file_written_whole_to_a_snapshot(void)
{
    struct guest_mem m = { 0 };
    uint64_t pg = page();
    CHECK_EQ(guest_mem_map(&m, BASE, 64 * pg), 0);
    char path[] = "/tmp/test_guest_mem_place.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    static uint8_t data[3 * 4096 + 100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data);
    CHECK_EQ(guest_mem_place_file(&m, BASE + 8 * pg, fd, sizeof data), 0);
    CHECK_EQ(guest_mem_place_file(&m, BASE + 8 * pg + 1, fd, sizeof data), -EINVAL); /* unaligned */
    CHECK_EQ(guest_mem_place_file(&m, BASE + 63 * pg, fd, sizeof data), -EINVAL);     /* past the end */
    /* the guest wrote one page elsewhere; the page cache may drop the file's pages meanwhile */
    m.hva[40 * pg] = 9;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char out_path[] = "/tmp/test_guest_mem_out.XXXXXX";
    int out = mkstemp(out_path);
    unlink(out_path);
    uint64_t written = 0;
    CHECK_EQ(guest_mem_write_file(&m, out, &written), 0);
    CHECK_EQ(written, 5 * pg); /* the file's 4 pages once, and the written page */
    static uint8_t back[sizeof data];
    CHECK(pread(out, back, sizeof back, (off_t)(8 * pg)) == (ssize_t)sizeof back);
    CHECK(memcmp(back, data, sizeof data) == 0);
    uint8_t b = 0;
    CHECK(pread(out, &b, 1, (off_t)(40 * pg)) == 1 && b == 9);
    close(out);
    close(fd);
    CHECK_EQ(guest_mem_wipe(&m, true, NULL), 0);
    CHECK_EQ(m.placed_len, 0);
}

static void test_wipe_of_unmapped_is_noop(void)
{
    struct guest_mem m = { 0 };
    struct guest_mem_wipe_stats st = { 1, 1, 1, 1 };
    CHECK_EQ(guest_mem_wipe(&m, true, &st), 0);
    CHECK_EQ(st.resident_bytes, 0);
    CHECK_EQ(guest_mem_resident_bytes(&m), 0);
}

/* --wipe-keeper's RAM: a sealed memfd, mapped shared and 2 MiB-aligned; a file cannot be placed
 * over it (the loader copies instead); the wipe follows the memfd's data and verifies. */
static void test_copy_file_needs_memfd(void)
{
    struct guest_mem mem = { 0 };
    CHECK_EQ(guest_mem_map(&mem, 0x80000000ULL, 4ULL << 20), 0);
    int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(guest_mem_copy_file(&mem, 0x80000000ULL, f, 4096), -ENOTSUP);
    close(f);
    guest_mem_wipe(&mem, false, NULL);
}

/* --restore --wipe-keeper: a sparse snapshot memory file is copied into memfd RAM range by
 * range; its data lands at the same offsets, its holes stay holes (read zero, hold no page). */
static void test_fill_memfd_from_sparse_file(void)
{
    const uint64_t size = 8ULL << 20, page = (uint64_t)sysconf(_SC_PAGESIZE);
    char path[] = "/tmp/silo-test-memXXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    unlink(path);
    CHECK_EQ(ftruncate(f, (off_t)size), 0);
    uint8_t a[4096], b[4096];
    memset(a, 0x5a, sizeof a);
    memset(b, 0xc3, sizeof b);
    CHECK(pwrite(f, a, sizeof a, (off_t)(3 * page)) == (ssize_t)sizeof a);
    CHECK(pwrite(f, b, sizeof b, (off_t)(size - page)) == (ssize_t)sizeof b); /* the last page */
    struct guest_mem anon = { 0 };
    CHECK_EQ(guest_mem_map(&anon, 0x80000000ULL, size), 0);
    uint64_t copied = 1;
    CHECK_EQ(guest_mem_fill_from_file(&anon, f, &copied), -ENOTSUP); /* only memfd RAM */
    CHECK_EQ(copied, 0);
    guest_mem_wipe(&anon, false, NULL);

    struct guest_mem mem = { 0 };
    CHECK_EQ(guest_mem_map_memfd(&mem, 0x80000000ULL, size), 0);
    CHECK_EQ(guest_mem_fill_from_file(&mem, f, &copied), 0);
    CHECK(copied >= 2 * page && copied < size); /* the data ranges, not the whole file */
    CHECK(memcmp(mem.hva + 3 * page, a, sizeof a) == 0);
    CHECK(memcmp(mem.hva + size - page, b, sizeof b) == 0);
    /* the middle of the memfd is still a hole: nothing was allocated there (looked at before
     * any read through the mapping, since a read fault on shmem allocates the page) */
    off_t data = lseek(mem.memfd, (off_t)(4 * page), SEEK_DATA);
    CHECK(data >= (off_t)(4 * page) && (uint64_t)data >= size - (2ULL << 20));
    CHECK(mem.hva[0] == 0 && mem.hva[size / 2] == 0);
    /* a file of another size is refused */
    CHECK_EQ(ftruncate(f, (off_t)size / 2), 0);
    CHECK_EQ(guest_mem_fill_from_file(&mem, f, NULL), -EINVAL);
    close(f);
    struct guest_mem_wipe_stats st;
    CHECK_EQ(guest_mem_wipe(&mem, true, &st), 0);
    CHECK(st.zeroed_bytes >= 2 * page);
}

static void test_memfd_guest_ram(void)
{
    struct guest_mem mem = { 0 };
    const uint64_t size = 8ULL << 20, page = (uint64_t)sysconf(_SC_PAGESIZE);
    CHECK_EQ(guest_mem_map_memfd(&mem, 0x80000000ULL, size), 0);
    CHECK(mem.in_memfd && mem.memfd >= 0);
    CHECK_EQ((uint64_t)(uintptr_t)mem.hva % GUEST_MEM_HUGE_PAGE, 0);
    CHECK(ftruncate(mem.memfd, (off_t)size * 2) != 0); /* sealed: neither grows */
    CHECK(ftruncate(mem.memfd, (off_t)size / 2) != 0); /* nor shrinks */
    int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK_EQ(guest_mem_place_file(&mem, 0x80000000ULL, f, page), -ENOTSUP);
    /* a file copied in by the kernel lands at its guest address, byte for byte */
    uint8_t want[3 * 4096 + 100];
    CHECK(pread(f, want, sizeof want, 0) == (ssize_t)sizeof want);
    CHECK_EQ(guest_mem_copy_file(&mem, 0x80000000ULL + 16 * page, f, sizeof want), 0);
    CHECK(memcmp(mem.hva + 16 * page, want, sizeof want) == 0);
    CHECK_EQ(guest_mem_copy_file(&mem, 0x80000000ULL + size - page, f, sizeof want), -EINVAL);
    close(f);
    memset(mem.hva + 16 * page, 0, 4 * page);
    memset(mem.hva + 3 * page, 0xab, 5 * page);
    uint8_t *g = guest_mem_ptr(&mem, 0x80000000ULL + 4 * page, 1);
    CHECK(g != NULL && *g == 0xab);
    CHECK(!guest_mem_resident_pages_zero(&mem));
    struct guest_mem_wipe_stats st;
    CHECK_EQ(guest_mem_clear(&mem, true, &st), 0);
    CHECK_EQ(st.zeroed_bytes, 5 * page);
    CHECK(st.resident_bytes >= 5 * page && st.resident_bytes < size);
    CHECK(guest_mem_resident_pages_zero(&mem));
    int fd = mem.memfd;
    guest_mem_unmap(&mem, &st);
    CHECK(mem.hva == NULL && !mem.in_memfd);
    CHECK(fcntl(fd, F_GETFD) < 0); /* the VMM's descriptor is closed with the mapping */
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "map rejects zero, unaligned and overflowing ranges", test_map_rejects_bad_sizes },
        { "translation refuses everything outside RAM, overflow included", test_translation_bounds },
        { "resident-page walk counts exactly the touched pages", test_resident_walk_counts_touched_pages },
        { "zero check finds a single non-zero byte", test_zero_check_finds_a_single_byte },
        { "wipe zeroes, verifies and unmaps; twice is harmless", test_wipe_zeroes_before_unmap },
        { "a 4 GiB guest that touched 64 pages wipes fast without faulting in", test_large_guest_touching_little_wipes_fast },
        { "the wipe reads pages only read by the guest and clears only pages holding data", test_wipe_skips_pages_only_read },
        { "huge-page mapping is 2 MiB-aligned; 1 GiB and 4 GiB guests wipe the same", test_huge_pages_aligned_and_wipe_follows_touched_memory },
        { "a placed file is written whole into a snapshot's memory, cached or not", test_placed_file_written_whole_to_a_snapshot },
        { "wipe of an unmapped guest is a no-op", test_wipe_of_unmapped_is_noop },
        { "copying a file in by the kernel is for memfd RAM only", test_copy_file_needs_memfd },
        { "memfd guest RAM: sealed, aligned, no placed file, wipe follows its data", test_memfd_guest_ram },
        { "a sparse snapshot memory file fills memfd RAM range by range, holes stay holes", test_fill_memfd_from_sparse_file },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
