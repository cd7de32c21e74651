/* tests/unit/test_mmio_bus.c — base/mmio_bus.c: region checks and address dispatch. */
#include <errno.h>
#include <string.h>

#include "tests/unit/check.h"
#include "base/mmio_bus.h"

struct recorder {
    uint64_t offset;
    uint32_t len;
    uint8_t data[8];
    int reads, writes;
};

static void rec_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
    struct recorder *r = opaque;
    r->reads++;
    r->offset = offset;
    r->len = len;
    memset(data, 0xab, len);
}

static void rec_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
    struct recorder *r = opaque;
    r->writes++;
    r->offset = offset;
    r->len = len;
    memcpy(r->data, data, len);
}

static struct mmio_bus bus;

static int add(uint64_t base, uint64_t size, struct recorder *r)
{
    struct mmio_region reg = { "t", base, size, rec_read, rec_write, r };
    return mmio_bus_add(&bus, &reg);
}

static void test_add_checks(void)
{
    memset(&bus, 0, sizeof bus);
    struct recorder r = { 0 };
    CHECK_EQ(add(0x1000, 0x1000, &r), 0);
    CHECK_EQ(add(0x1000, 0, &r), -EINVAL);
    CHECK_EQ(add(~0ULL - 0x10, 0x100, &r), -EINVAL); /* wraps */
    CHECK_EQ(add(0x1800, 0x1000, &r), -EEXIST);      /* overlaps the end */
    CHECK_EQ(add(0x0800, 0x1000, &r), -EEXIST);      /* overlaps the start */
    CHECK_EQ(add(0x1100, 0x10, &r), -EEXIST);        /* inside */
    CHECK_EQ(add(0x0000, 0x10000, &r), -EEXIST);     /* around */
    CHECK_EQ(add(0x2000, 0x1000, &r), 0);            /* adjacent is fine */
    CHECK_EQ(add(0x0000, 0x1000, &r), 0);
    for (uint64_t i = bus.count; i < MMIO_BUS_MAX_REGIONS; i++)
        CHECK_EQ(add(0x100000 + i * 0x1000, 0x1000, &r), 0);
    CHECK_EQ(add(0x900000, 0x1000, &r), -ENOSPC);
}

static void test_dispatch(void)
{
    memset(&bus, 0, sizeof bus);
    struct recorder a = { 0 }, b = { 0 };
    CHECK_EQ(add(0x01000000, 0x1000, &a), 0);
    CHECK_EQ(add(0x03000000, 0x1000, &b), 0);
    uint32_t v = 0x11223344;
    CHECK(mmio_bus_write(&bus, 0x03000050, &v, 4));
    CHECK_EQ(b.writes, 1);
    CHECK_EQ(b.offset, 0x50);
    CHECK_EQ(b.len, 4);
    CHECK(memcmp(b.data, &v, 4) == 0);
    CHECK_EQ(a.writes, 0);
    uint8_t byte = 0;
    CHECK(mmio_bus_read(&bus, 0x01000005, &byte, 1));
    CHECK_EQ(a.reads, 1);
    CHECK_EQ(a.offset, 5);
    CHECK_EQ(byte, 0xab);
    uint64_t q = 0;
    CHECK(mmio_bus_read(&bus, 0x01000ff8, &q, 8)); /* last 8 bytes of the region */
    CHECK(!mmio_bus_read(&bus, 0x01000ffc, &q, 8)); /* straddles the end */
    CHECK_EQ(q, 0);                                  /* uncovered reads are zero-filled */
    q = ~0ULL;
    CHECK(!mmio_bus_read(&bus, 0x02000000, &q, 8));
    CHECK_EQ(q, 0);
    CHECK(!mmio_bus_write(&bus, 0x02000000, &v, 4));
    CHECK(!mmio_bus_write(&bus, ~0ULL, &v, 4));
}

static void test_null_handlers(void)
{
    memset(&bus, 0, sizeof bus);
    struct mmio_region reg = { "wo", 0x40000000, 0x1000, NULL, NULL, NULL };
    CHECK_EQ(mmio_bus_add(&bus, &reg), 0);
    uint32_t v = 0xffffffff;
    CHECK(mmio_bus_read(&bus, 0x40000000, &v, 4));
    CHECK_EQ(v, 0);
    CHECK(mmio_bus_write(&bus, 0x40000000, &v, 4));
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "add refuses empty, wrapping, overlapping regions and a full bus", test_add_checks },
        { "accesses reach the right device with region-relative offsets", test_dispatch },
        { "regions without handlers read zero and ignore writes", test_null_handlers },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
