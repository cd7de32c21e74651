/* tests/unit/test_boot_marker.c — devices/boot_marker.c: only the byte 123 at offset 0 counts,
 * once, and the line on the log fd carries the elapsed time. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/boot_marker.h"
#include "tests/unit/check.h"

static void test_marker(void)
{
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
    struct boot_marker m;
    uint64_t start = boot_marker_now_ns() - 2500000; /* "exec" 2.5 ms ago */
    boot_marker_init(&m, start, p[1]);
    CHECK_EQ(boot_marker_elapsed_us(&m), -1);
    uint8_t v = 122;
    boot_marker_mmio_write(&m, 0, &v, 1);
    v = 123;
    boot_marker_mmio_write(&m, 1, &v, 1); /* wrong offset */
    CHECK_EQ(boot_marker_elapsed_us(&m), -1);
    boot_marker_mmio_write(&m, 0, &v, 1);
    int64_t us = boot_marker_elapsed_us(&m);
    CHECK(us >= 2500 && us < 10000000);
    char line[128] = { 0 };
    CHECK(read(p[0], line, sizeof line - 1) > 0);
    CHECK(strncmp(line, "silo-vmm: boot-complete marker at ", 34) == 0);
    CHECK(strtoll(line + 34, NULL, 10) == us);
    boot_marker_mmio_write(&m, 0, &v, 1); /* only the first counts */
    CHECK_EQ(boot_marker_elapsed_us(&m), us);
    CHECK_EQ(read(p[0], line, sizeof line), -1);
    uint32_t word = 123; /* a 32-bit store of 123 also counts (low byte first) */
    struct boot_marker m2;
    boot_marker_init(&m2, boot_marker_now_ns(), -1);
    boot_marker_mmio_write(&m2, 0, &word, 4);
    CHECK(boot_marker_elapsed_us(&m2) >= 0);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "byte 123 at offset 0 records the time once and logs it", test_marker },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
