/* devices/irq.h — an interrupt line from a device model to the guest.
 *
 * Every device interrupt in Silo is an edge-triggered SPI delivered through a KVM irqfd: the
 * VMM creates an eventfd, binds it to the SPI with KVM_IRQFD, and hands the device this line.
 * Raising it is one eventfd write, safe from any thread, and never enters the vCPU thread.
 * Unit tests pass a plain eventfd and read it to see that the interrupt fired.
 */
#ifndef SILO_DEVICES_IRQ_H
#define SILO_DEVICES_IRQ_H

#include <stdint.h>
#include <unistd.h>

struct irq_line {
    int fd;       /* eventfd bound to the SPI (KVM_IRQFD); -1: no interrupt wired */
    uint32_t spi; /* SPI number as written in the device tree (INTID - 32) */
};

static inline void irq_line_raise(const struct irq_line *line)
{
    uint64_t one = 1;
    if (line->fd >= 0) {
        ssize_t n = write(line->fd, &one, sizeof one);
        (void)n; /* EAGAIN means the counter is already pending: the edge is delivered anyway */
    }
}

#endif
