/* devices/rtc_pl031.c — the PL031 RTC model (see rtc_pl031.h). */
#include "devices/rtc_pl031.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/error_message.h"
#include "boot/devtree.h"
#include "boot/layout.h"

static const uint8_t pl031_ids[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 }; /* 0xfe0..0xffc */

static int64_t host_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void rtc_pl031_init(struct rtc_pl031 *rtc)
{
    memset(rtc, 0, sizeof *rtc);
    pthread_mutex_init(&rtc->lock, NULL);
    rtc->now = host_seconds;
    rtc->cr = 1; /* counter running */
    rtc->irq.fd = -1;
    rtc->irq.spi = RTC_SPI;
    rtc->timer_fd = -1;
}

/* Arms the match timer for the next time the 32-bit counter equals MR (lock held). */
static void rearm(struct rtc_pl031 *rtc)
{
    if (rtc->timer_fd < 0)
        return;
    int64_t now = rtc->now();
    uint32_t counter = (uint32_t)(now + rtc->offset);
    uint32_t ahead = rtc->mr - counter; /* seconds until the counter reaches MR; 0: it is there now */
    struct itimerspec its = { 0 };
    if (ahead != 0)
        its.it_value.tv_sec = (time_t)(now + (int64_t)ahead);
    timerfd_settime(rtc->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void rtc_pl031_match(struct rtc_pl031 *rtc)
{
    pthread_mutex_lock(&rtc->lock);
    rtc->ris = 1;
    if (rtc->imsc)
        irq_line_raise(&rtc->irq);
    pthread_mutex_unlock(&rtc->lock);
}

void rtc_pl031_destroy(struct rtc_pl031 *rtc)
{
    pthread_mutex_destroy(&rtc->lock);
}

static uint32_t read_reg(struct rtc_pl031 *rtc, uint64_t offset)
{
    if (offset >= 0xfe0 && offset <= 0xffc)
        return pl031_ids[(offset - 0xfe0) / 4];
    switch (offset) {
    case PL031_DR:
    case PL031_LR:
        return (uint32_t)(rtc->now() + rtc->offset);
    case PL031_MR:
        return rtc->mr;
    case PL031_CR:
        return rtc->cr;
    case PL031_IMSC:
        return rtc->imsc;
    case PL031_RIS:
        return rtc->ris;
    case PL031_MIS:
        return rtc->ris & rtc->imsc;
    default:
        return 0;
    }
}

void rtc_pl031_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
    struct rtc_pl031 *rtc = opaque;
    memset(data, 0, len);
    if (len != 4 || offset % 4 != 0)
        return; /* the part only answers aligned 32-bit accesses */
    pthread_mutex_lock(&rtc->lock);
    uint32_t v = read_reg(rtc, offset);
    pthread_mutex_unlock(&rtc->lock);
    memcpy(data, &v, 4);
}

void rtc_pl031_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
    struct rtc_pl031 *rtc = opaque;
    uint32_t v;
    if (len != 4 || offset % 4 != 0)
        return;
    memcpy(&v, data, 4);
    pthread_mutex_lock(&rtc->lock);
    switch (offset) {
    case PL031_LR:
        rtc->offset = (int64_t)v - rtc->now();
        rearm(rtc);
        break;
    case PL031_MR:
        rtc->mr = v;
        rearm(rtc);
        break;
    case PL031_CR:
        rtc->cr = 1; /* writing 0 has no effect: the counter cannot be stopped */
        break;
    case PL031_IMSC:
        if ((v & 1) && !rtc->imsc && rtc->ris)
            irq_line_raise(&rtc->irq); /* unmasking a pending match */
        rtc->imsc = v & 1;
        break;
    case PL031_ICR:
        if (v & 1)
            rtc->ris = 0;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&rtc->lock);
}

/* --- as a platform device (devices/platform_device_list.h) --- */

static void match_event(void *opaque, int fd, uint32_t events)
{
    (void)events;
    uint64_t expirations;
    if (read(fd, &expirations, sizeof expirations) == (ssize_t)sizeof expirations)
        rtc_pl031_match(opaque);
}

static void rtc_platform_destroy(void *state);

/* The interrupt is an irqfd on RTC_SPI; the match timer joins the I/O loop (before it runs).
 * Without a loop or irqfd hook (unit tests of the registry), the RTC has no alarm. */
static void *rtc_platform_create(const struct platform_services *ps, char *err, size_t errlen)
{
    struct rtc_pl031 *rtc = malloc(sizeof *rtc);
    if (rtc == NULL) {
        error_message(err, errlen, "RTC: out of memory");
        return NULL;
    }
    rtc_pl031_init(rtc);
    const struct vm_services *vm = ps->vm;
    if (vm == NULL || vm->add_irqfd == NULL || vm->loop == NULL)
        return rtc;
    rtc->irq.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rtc->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
    int rc = rtc->irq.fd < 0 || rtc->timer_fd < 0 ? -errno : vm->add_irqfd(vm->vm, RTC_SPI, rtc->irq.fd);
    if (rc == 0)
        rc = event_loop_add(vm->loop, rtc->timer_fd, EPOLLIN, match_event, rtc);
    if (rc != 0) {
        error_message(err, errlen, "RTC alarm (irqfd, timerfd): %s", strerror(-rc));
        rtc_platform_destroy(rtc);
        return NULL;
    }
    return rtc;
}

static void rtc_platform_destroy(void *state)
{
    struct rtc_pl031 *rtc = state;
    if (rtc->timer_fd >= 0)
        close(rtc->timer_fd); /* the loop has stopped: nothing watches it any more */
    if (rtc->irq.fd >= 0)
        close(rtc->irq.fd);
    rtc_pl031_destroy(rtc);
    free(rtc);
}

static void rtc_platform_describe(struct devtree_machine *m)
{
    m->has_rtc = true;
    m->rtc_base = RTC_MMIO_BASE;
    m->rtc_spi = RTC_SPI;
}

/* Snapshot: the guest's offset from the host's wall clock (what it wrote to LR), MR and IMSC.
 * A restored guest reads the host's clock plus the same offset: wall time moves on. */
static void rtc_platform_save(void *state, struct state_writer *w)
{
    struct rtc_pl031 *rtc = state;
    pthread_mutex_lock(&rtc->lock);
    state_put_u64(w, (uint64_t)rtc->offset);
    state_put_u32(w, rtc->mr);
    state_put_u32(w, rtc->imsc);
    state_put_u32(w, rtc->ris);
    pthread_mutex_unlock(&rtc->lock);
}

static int rtc_platform_restore(void *state, struct state_reader *r, char *err, size_t errlen)
{
    struct rtc_pl031 *rtc = state;
    int64_t offset = (int64_t)state_get_u64(r);
    uint32_t mr = state_get_u32(r), imsc = state_get_u32(r), ris = state_get_u32(r);
    if (!state_reader_ok(r, true) || imsc > 1 || ris > 1)
        return error_message(err, errlen, "rtc: the snapshot's state is malformed");
    pthread_mutex_lock(&rtc->lock);
    rtc->offset = offset;
    rtc->mr = mr;
    rtc->imsc = imsc;
    rtc->ris = ris;
    rearm(rtc);
    pthread_mutex_unlock(&rtc->lock);
    return 0;
}

const struct platform_device_type rtc_pl031_platform = {
    .name = "rtc", .base = RTC_MMIO_BASE, .size = RTC_MMIO_SIZE,
    .read = rtc_pl031_mmio_read, .write = rtc_pl031_mmio_write,
    .create = rtc_platform_create, .destroy = rtc_platform_destroy, .describe = rtc_platform_describe,
    .save = rtc_platform_save, .restore = rtc_platform_restore,
};
