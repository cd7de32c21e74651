/* devices/rtc_pl031.h — an ARM PL031 real-time clock on the MMIO bus.
 *
 * The counter (RTCDR) reads host wall-clock seconds plus an offset the guest sets by writing
 * RTCLR, so a fresh guest reads the host's time at boot. The match (alarm) interrupt is wired:
 * when the counter reaches RTCMR, RTCRIS is set and, if RTCIMSC unmasks it, an edge is raised
 * on RTC_SPI (the DT node has `interrupts`); RTCICR clears it, RTCMIS = RIS & IMSC. The match
 * is a CLOCK_REALTIME timerfd on the I/O thread's loop, re-armed whenever MR or LR changes.
 * The PrimeCell ID registers identify the part to Linux's AMBA bus (periph id 0x00041031).
 */
#ifndef SILO_DEVICES_RTC_PL031_H
#define SILO_DEVICES_RTC_PL031_H

#include <pthread.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/platform_device_type.h"

#define PL031_DR 0x00
#define PL031_MR 0x04
#define PL031_LR 0x08
#define PL031_CR 0x0c
#define PL031_IMSC 0x10
#define PL031_RIS 0x14
#define PL031_MIS 0x18
#define PL031_ICR 0x1c

struct rtc_pl031 {
    pthread_mutex_t lock;
    int64_t offset; /* guest seconds minus host seconds */
    uint32_t mr, cr, imsc, ris;
    int64_t (*now)(void); /* host seconds; replaceable by unit tests */
    struct irq_line irq;  /* fd -1: no interrupt wired (unit tests) */
    int timer_fd;         /* the match timer; -1: none (unit tests call rtc_pl031_match) */
};

void rtc_pl031_init(struct rtc_pl031 *rtc);
void rtc_pl031_destroy(struct rtc_pl031 *rtc);
void rtc_pl031_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len);
void rtc_pl031_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len);
/* The counter reached MR (what the match timer does): RIS set, the interrupt raised if unmasked. */
void rtc_pl031_match(struct rtc_pl031 *rtc);

/* The RTC as a platform device, at RTC_MMIO_BASE with its match interrupt on RTC_SPI; its state
 * is a struct rtc_pl031. */
extern const struct platform_device_type rtc_pl031_platform;

#endif
