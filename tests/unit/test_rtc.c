/* tests/unit/test_rtc.c — devices/rtc_pl031.c: PrimeCell IDs, the counter seeded from host time,
 * loading a new time, and the registers that only store. */
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/event_loop.h"
#include "boot/layout.h"

#include "devices/rtc_pl031.h"
#include "tests/unit/check.h"

static int64_t fake_now = 1700000000;
static int64_t fake_clock(void)
{
    return fake_now;
}

static uint32_t rd(struct rtc_pl031 *rtc, uint64_t off)
{
    uint32_t v = 0xdeadbeef;
    rtc_pl031_mmio_read(rtc, off, &v, 4);
    return v;
}

static void wr(struct rtc_pl031 *rtc, uint64_t off, uint32_t v)
{
    rtc_pl031_mmio_write(rtc, off, &v, 4);
}

static void test_ids(void)
{
    struct rtc_pl031 rtc;
    rtc_pl031_init(&rtc);
    static const uint32_t want[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
    for (int i = 0; i < 8; i++)
        CHECK_EQ(rd(&rtc, 0xfe0 + (uint64_t)i * 4), want[i]);
    rtc_pl031_destroy(&rtc);
}

static void test_counter_follows_host_time(void)
{
    struct rtc_pl031 rtc;
    rtc_pl031_init(&rtc);
    int64_t host = (int64_t)time(NULL);
    int64_t dr = rd(&rtc, PL031_DR);
    CHECK(dr >= host - 1 && dr <= host + 2); /* the real clock, unfaked */
    rtc.now = fake_clock;
    CHECK_EQ(rd(&rtc, PL031_DR), 1700000000u);
    fake_now += 5;
    CHECK_EQ(rd(&rtc, PL031_DR), 1700000005u);
    wr(&rtc, PL031_LR, 1000); /* the guest sets the time */
    CHECK_EQ(rd(&rtc, PL031_DR), 1000);
    fake_now += 7;
    CHECK_EQ(rd(&rtc, PL031_DR), 1007);
    CHECK_EQ(rd(&rtc, PL031_CR), 1);
    wr(&rtc, PL031_CR, 0);
    CHECK_EQ(rd(&rtc, PL031_CR), 1); /* cannot be stopped */
    rtc_pl031_destroy(&rtc);
}

static void test_store_only_registers_and_bad_accesses(void)
{
    struct rtc_pl031 rtc;
    rtc_pl031_init(&rtc);
    wr(&rtc, PL031_MR, 0x1234);
    CHECK_EQ(rd(&rtc, PL031_MR), 0x1234);
    wr(&rtc, PL031_IMSC, 3);
    CHECK_EQ(rd(&rtc, PL031_IMSC), 1);
    CHECK_EQ(rd(&rtc, PL031_RIS), 0);
    CHECK_EQ(rd(&rtc, PL031_MIS), 0);
    uint8_t b = 0xff;
    rtc_pl031_mmio_read(&rtc, PL031_DR, &b, 1); /* not a 32-bit access: reads zero */
    CHECK_EQ(b, 0);
    uint32_t v = 0xffffffff;
    rtc_pl031_mmio_read(&rtc, 2, &v, 4); /* unaligned */
    CHECK_EQ(v, 0);
    rtc_pl031_mmio_write(&rtc, PL031_MR, &b, 1); /* ignored */
    CHECK_EQ(rd(&rtc, PL031_MR), 0x1234);
    CHECK_EQ(rd(&rtc, 0x800), 0);
    rtc_pl031_destroy(&rtc);
}

/* The match interrupt: RIS when the counter reaches MR, MIS and the edge only when unmasked,
 * unmasking a pending match raises it, ICR clears it. */
static void test_match_interrupt(void)
{
    struct rtc_pl031 rtc;
    rtc_pl031_init(&rtc);
    rtc.irq.fd = eventfd(0, EFD_NONBLOCK);
    uint64_t n;
    wr(&rtc, PL031_MR, 1234);
    rtc_pl031_match(&rtc); /* masked: raw status only */
    CHECK_EQ(rd(&rtc, PL031_RIS), 1);
    CHECK_EQ(rd(&rtc, PL031_MIS), 0);
    CHECK(read(rtc.irq.fd, &n, sizeof n) < 0);
    wr(&rtc, PL031_IMSC, 1); /* unmasking the pending match raises it */
    CHECK_EQ(rd(&rtc, PL031_MIS), 1);
    CHECK(read(rtc.irq.fd, &n, sizeof n) == (ssize_t)sizeof n && n == 1);
    wr(&rtc, PL031_ICR, 1);
    CHECK_EQ(rd(&rtc, PL031_RIS), 0);
    CHECK_EQ(rd(&rtc, PL031_MIS), 0);
    rtc_pl031_match(&rtc); /* unmasked: the edge at once */
    CHECK(read(rtc.irq.fd, &n, sizeof n) == (ssize_t)sizeof n && n == 1);
    close(rtc.irq.fd);
    rtc_pl031_destroy(&rtc);
}

static int recorded_spi = -1, recorded_fd = -1;
static int record_irqfd(void *vm, uint32_t spi, int fd)
{
    (void)vm;
    recorded_spi = (int)spi;
    recorded_fd = fd;
    return 0;
}

/* The platform device's real timer: MR one second ahead fires within ~2 s on the loop. */
static void test_alarm_fires_on_the_loop(void)
{
    struct event_loop *loop = event_loop_create();
    struct vm_services vm = { .loop = loop, .add_irqfd = record_irqfd };
    struct platform_services ps = { .vm = &vm, .console_out_fd = -1 };
    char err[200];
    struct rtc_pl031 *rtc = rtc_pl031_platform.create(&ps, err, sizeof err);
    CHECK(rtc != NULL && recorded_spi == RTC_SPI && recorded_fd >= 0);
    if (rtc == NULL) {
        event_loop_destroy(loop);
        return;
    }
    wr(rtc, PL031_IMSC, 1);
    wr(rtc, PL031_MR, rd(rtc, PL031_DR) + 1);
    uint64_t n = 0;
    for (int i = 0; i < 30 && read(recorded_fd, &n, sizeof n) != (ssize_t)sizeof n; i++)
        event_loop_run_once(loop, 100);
    CHECK_EQ(n, 1);
    CHECK_EQ(rd(rtc, PL031_RIS), 1);
    rtc_pl031_platform.destroy(rtc);
    event_loop_destroy(loop);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "PrimeCell peripheral and cell IDs", test_ids },
        { "counter starts at host time and follows loads", test_counter_follows_host_time },
        { "match/mask registers store; bad accesses are harmless", test_store_only_registers_and_bad_accesses },
        { "match interrupt: RIS, MIS, masking, ICR", test_match_interrupt },
        { "the alarm fires on the I/O loop when the counter reaches MR", test_alarm_fires_on_the_loop },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
