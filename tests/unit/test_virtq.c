/* tests/unit/test_virtq.c — the split-virtqueue walker against hand-built rings in a simulated
 * guest RAM: well-formed chains first, then everything a hostile driver can do to them. */
#include <errno.h>
#include <string.h>

#include "devices/virtio/virtq.h"
#include "tests/unit/check.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (1ULL << 20)
#define QSIZE 8

static struct guest_mem mem;
static struct virtq q;
static uint64_t desc_gpa, avail_gpa, used_gpa;
static uint16_t avail_idx;

static struct virtq_desc *desc(uint64_t table, uint16_t i)
{
    return guest_mem_ptr(&mem, table + 16ULL * i, 16);
}

static uint16_t *avail(void)
{
    return guest_mem_ptr(&mem, avail_gpa, 6 + 2 * QSIZE);
}

static uint8_t *used(void)
{
    return guest_mem_ptr(&mem, used_gpa, 6 + 8 * QSIZE);
}

static void set_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    *desc(table, i) = (struct virtq_desc){ addr, len, flags, next };
}

static void publish(uint16_t head)
{
    avail()[2 + avail_idx % QSIZE] = head;
    avail_idx++;
    avail()[1] = avail_idx;
}

static void setup(bool event_idx, bool indirect)
{
    if (mem.hva == NULL)
        CHECK_EQ(guest_mem_map(&mem, RAM_BASE, RAM_SIZE), 0);
    memset(mem.hva, 0, RAM_SIZE);
    desc_gpa = RAM_BASE;
    avail_gpa = RAM_BASE + 0x1000;
    used_gpa = RAM_BASE + 0x2000;
    avail_idx = 0;
    virtq_reset(&q, QSIZE);
    q.desc_gpa = desc_gpa;
    q.avail_gpa = avail_gpa;
    q.used_gpa = used_gpa;
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, event_idx, indirect), 0);
}

static void test_simple_chain(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
    set_desc(desc_gpa, 1, RAM_BASE + 0x11000, 100, VIRTQ_DESC_F_NEXT, 2);
    set_desc(desc_gpa, 2, RAM_BASE + 0x12000, 1, VIRTQ_DESC_F_WRITE, 0);
    publish(0);
    CHECK_EQ(virtq_pending(&q), 1);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    CHECK_EQ(c.head, 0);
    CHECK_EQ(c.readable, 2);
    CHECK_EQ(c.writable, 1);
    CHECK_EQ(c.read_bytes, 116);
    CHECK_EQ(c.write_bytes, 1);
    CHECK(c.iov[1].iov_base == mem.hva + 0x11000);
    CHECK_EQ(virtq_pop(&q, &c), 0);
    virtq_push(&q, c.head, 1);
    CHECK_EQ(*(uint16_t *)(used() + 2), 1);
    CHECK_EQ(*(uint32_t *)(used() + 8), 1);
}

static void test_chain_copy_helpers(void)
{
    struct virtq_chain c;
    setup(false, false);
    memcpy(mem.hva + 0x10000, "hello ", 6);
    memcpy(mem.hva + 0x11000, "world", 5);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 6, VIRTQ_DESC_F_NEXT, 1);
    set_desc(desc_gpa, 1, RAM_BASE + 0x11000, 5, VIRTQ_DESC_F_NEXT, 2);
    set_desc(desc_gpa, 2, RAM_BASE + 0x12000, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    set_desc(desc_gpa, 3, RAM_BASE + 0x13000, 3, VIRTQ_DESC_F_WRITE, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    char buf[16] = { 0 };
    CHECK_EQ(virtq_chain_read(&c, 4, buf, 16), 7);
    CHECK(memcmp(buf, "o world", 7) == 0);
    CHECK_EQ(virtq_chain_write(&c, 2, "abcd", 4), 4);
    CHECK(memcmp(mem.hva + 0x12002, "a", 1) == 0);
    CHECK(memcmp(mem.hva + 0x13000, "bcd", 3) == 0);
}

static void test_indirect(void)
{
    struct virtq_chain c;
    uint64_t table = RAM_BASE + 0x4000;
    setup(false, true);
    set_desc(table, 0, RAM_BASE + 0x10000, 16, VIRTQ_DESC_F_NEXT, 2);
    set_desc(table, 2, RAM_BASE + 0x11000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    set_desc(table, 1, RAM_BASE + 0x12000, 1, VIRTQ_DESC_F_WRITE, 0);
    set_desc(desc_gpa, 5, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    publish(5);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    CHECK_EQ(c.head, 5);
    CHECK_EQ(c.readable, 1);
    CHECK_EQ(c.writable, 2);
    CHECK_EQ(c.write_bytes, 513);
}

static void test_indirect_not_negotiated(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(RAM_BASE + 0x4000, 0, RAM_BASE + 0x10000, 16, 0, 0);
    set_desc(desc_gpa, 0, RAM_BASE + 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_indirect_inside_indirect(void)
{
    struct virtq_chain c;
    uint64_t table = RAM_BASE + 0x4000;
    setup(false, true);
    set_desc(table, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(desc_gpa, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_indirect_bad_tables(void)
{
    struct virtq_chain c;
    uint64_t table = RAM_BASE + 0x4000;
    setup(false, true);
    /* zero length, non-multiple of 16, outside RAM, with NEXT, a loop inside, next out of range */
    set_desc(desc_gpa, 0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(desc_gpa, 1, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(desc_gpa, 2, RAM_BASE + RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(desc_gpa, 3, table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 4);
    set_desc(table, 0, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 1);
    set_desc(table, 1, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 0);
    set_desc(desc_gpa, 4, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc(table + 0x100, 0, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 7);
    set_desc(desc_gpa, 5, table + 0x100, 32, VIRTQ_DESC_F_INDIRECT, 0);
    for (uint16_t h = 0; h < 6; h++)
        publish(h);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
    CHECK_EQ(virtq_pop(&q, &c), 0);
}

static void test_indirect_with_other_descriptors(void)
{
    struct virtq_chain c;
    uint64_t table = RAM_BASE + 0x4000;
    setup(false, true);
    set_desc(table, 0, RAM_BASE + 0x10000, 4, 0, 0);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 1);
    set_desc(desc_gpa, 1, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_loop(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 1);
    set_desc(desc_gpa, 1, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
    setup(false, false);
    set_desc(desc_gpa, 3, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_NEXT, 3); /* self loop */
    publish(3);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_full_length_chain_ok(void)
{
    struct virtq_chain c;
    setup(false, false);
    for (uint16_t i = 0; i < QSIZE; i++)
        set_desc(desc_gpa, i, RAM_BASE + 0x10000, 4, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    CHECK_EQ(c.readable, QSIZE);
}

static void test_out_of_range(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(desc_gpa, 0, RAM_BASE + RAM_SIZE - 4, 8, 0, 0);              /* crosses the end */
    set_desc(desc_gpa, 1, 0x1000, 8, 0, 0);                               /* below RAM */
    set_desc(desc_gpa, 2, UINT64_MAX - 3, 8, 0, 0);                       /* wraps around */
    set_desc(desc_gpa, 3, RAM_BASE, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);  /* huge length */
    set_desc(desc_gpa, 4, RAM_BASE, 4, VIRTQ_DESC_F_NEXT, QSIZE);         /* next out of range */
    for (uint16_t h = 0; h < 5; h++)
        publish(h);
    publish(QSIZE + 3); /* head out of range */
    for (int i = 0; i < 6; i++)
        CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_zero_length_is_legal(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(desc_gpa, 0, RAM_BASE + RAM_SIZE, 0, 0, 0); /* zero bytes right at the end */
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    CHECK_EQ(c.read_bytes, 0);
}

static void test_readable_after_writable(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    set_desc(desc_gpa, 1, RAM_BASE + 0x10000, 4, 0, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_avail_index_jump(void)
{
    struct virtq_chain c;
    setup(false, false);
    avail()[1] = QSIZE + 1; /* more entries than the ring has */
    CHECK_EQ(virtq_pending(&q), -EINVAL);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

static void test_index_wraparound(void)
{
    struct virtq_chain c;
    setup(false, false);
    q.last_avail = 65534;
    q.used_idx = 65534;
    q.signalled_used = 65534;
    avail_idx = 65534;
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 4, 0, 0);
    for (int i = 0; i < 4; i++)
        publish(0);
    CHECK_EQ(avail()[1], 2);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(virtq_pop(&q, &c), 1);
        virtq_push(&q, c.head, 0);
    }
    CHECK_EQ(virtq_pop(&q, &c), 0);
    CHECK_EQ(*(uint16_t *)(used() + 2), 2);
    CHECK(virtq_should_interrupt(&q));
}

static void test_bad_ring_setup(void)
{
    setup(false, false);
    virtq_reset(&q, QSIZE);
    q.size = 6; /* not a power of two */
    q.desc_gpa = desc_gpa;
    q.avail_gpa = avail_gpa;
    q.used_gpa = used_gpa;
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, false, false), -EINVAL);
    q.size = 16; /* above the maximum */
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, false, false), -EINVAL);
    q.size = QSIZE;
    q.desc_gpa = desc_gpa + 8; /* misaligned */
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, false, false), -EINVAL);
    q.desc_gpa = desc_gpa;
    q.used_gpa = RAM_BASE + RAM_SIZE - 8; /* runs past RAM */
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, false, false), -EINVAL);
    q.used_gpa = used_gpa + 2;
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, false, false), -EINVAL);
    q.used_gpa = used_gpa;
    q.size = 0;
    CHECK_EQ(virtq_enable(&q, &mem, QSIZE, false, false), -EINVAL);
    CHECK(!q.ready);
}

static void test_interrupt_suppression(void)
{
    struct virtq_chain c;
    setup(false, false);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 4, 0, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    virtq_push(&q, 0, 0);
    avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
    CHECK(!virtq_should_interrupt(&q));
    CHECK(!virtq_should_interrupt(&q)); /* nothing new */
}

static void test_event_idx(void)
{
    struct virtq_chain c;
    setup(true, false);
    set_desc(desc_gpa, 0, RAM_BASE + 0x10000, 4, 0, 0);
    /* the driver wants an interrupt only once used idx passes 2 (used_event = 2) */
    avail()[2 + QSIZE] = 2;
    for (int i = 0; i < 2; i++) {
        publish(0);
        CHECK_EQ(virtq_pop(&q, &c), 1);
        virtq_push(&q, 0, 0);
        CHECK(!virtq_should_interrupt(&q));
    }
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), 1);
    virtq_push(&q, 0, 0);
    CHECK(virtq_should_interrupt(&q));
    /* avail_event tells the driver where to kick next */
    CHECK(!virtq_enable_kicks(&q));
    CHECK_EQ(*(uint16_t *)(used() + 4 + 8 * QSIZE), 3);
    publish(0);
    CHECK(virtq_enable_kicks(&q));
}

static void test_too_many_segments(void)
{
    struct virtq_chain c;
    uint64_t table = RAM_BASE + 0x8000;
    setup(false, true);
    for (uint16_t i = 0; i < VIRTQ_MAX_SEGS + 1; i++)
        set_desc(table, i, RAM_BASE + 0x10000, 1, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
    set_desc(desc_gpa, 0, table, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
    publish(0);
    CHECK_EQ(virtq_pop(&q, &c), -EINVAL);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "virtq: a direct chain becomes host segments, push writes the used ring", test_simple_chain },
        { "virtq: chain read/write helpers cross segment boundaries", test_chain_copy_helpers },
        { "virtq: indirect table walked in its own next order", test_indirect },
        { "virtq: indirect descriptor without the feature is malformed", test_indirect_not_negotiated },
        { "virtq: indirect inside indirect is malformed", test_indirect_inside_indirect },
        { "virtq: bad indirect tables (0/odd length, outside RAM, NEXT, loop, next range)",
          test_indirect_bad_tables },
        { "virtq: indirect descriptor after another descriptor is malformed", test_indirect_with_other_descriptors },
        { "virtq: descriptor loops are caught (bounded by queue size)", test_loop },
        { "virtq: a chain as long as the queue is fine", test_full_length_chain_ok },
        { "virtq: out-of-range, wrapping, huge and next-out-of-range descriptors, bad head", test_out_of_range },
        { "virtq: zero-length descriptor at the end of RAM is legal", test_zero_length_is_legal },
        { "virtq: readable after writable is malformed", test_readable_after_writable },
        { "virtq: available index jumping past the queue size is malformed", test_avail_index_jump },
        { "virtq: 16-bit index wrap-around", test_index_wraparound },
        { "virtq: rings outside RAM, misaligned, bad sizes are refused", test_bad_ring_setup },
        { "virtq: VRING_AVAIL_F_NO_INTERRUPT honoured", test_interrupt_suppression },
        { "virtq: EVENT_IDX used_event / avail_event", test_event_idx },
        { "virtq: more than VIRTQ_MAX_SEGS segments is malformed", test_too_many_segments },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
