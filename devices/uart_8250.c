/* devices/uart_8250.c — the 16550A UART model (see uart_8250.h). */
#include "devices/uart_8250.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/error_message.h"
#include "base/mono_time.h"
#include "boot/devtree.h"
#include "boot/layout.h"

void uart_8250_init(struct uart_8250 *uart, struct irq_line irq, int out_fd)
{
    memset(uart, 0, sizeof *uart);
    pthread_mutex_init(&uart->lock, NULL);
    uart->irq = irq;
    uart->out_fd = out_fd;
    uart->lcr = 0x03; /* 8N1 */
    uart->mcr = 0x08; /* OUT2 */
    uart->dll = 0x0c; /* 9600 baud at 1.8432 MHz */
}

void uart_8250_destroy(struct uart_8250 *uart)
{
    pthread_mutex_destroy(&uart->lock);
}

void uart_8250_save(struct uart_8250 *uart, struct state_writer *w)
{
    pthread_mutex_lock(&uart->lock);
    uint8_t regs[] = { uart->ier, uart->lcr, uart->mcr, uart->scr, uart->fcr, uart->dll, uart->dlm,
                       uart->thri_pending, uart->irq_asserted };
    state_put_bytes(w, regs, sizeof regs);
    state_put_u32(w, uart->fifo_len);
    for (unsigned i = 0; i < uart->fifo_len; i++)
        state_put_u8(w, uart->fifo[(uart->fifo_head + i) % UART_FIFO_SIZE]);
    pthread_mutex_unlock(&uart->lock);
}

int uart_8250_restore(struct uart_8250 *uart, struct state_reader *r, char *err, size_t errlen)
{
    uint8_t regs[9];
    state_get_bytes(r, regs, sizeof regs);
    uint32_t fifo_len = state_get_u32(r);
    if (!state_reader_ok(r, false) || fifo_len > UART_FIFO_SIZE || regs[7] > 1 || regs[8] > 1 ||
        state_reader_left(r) != fifo_len)
        return error_message(err, errlen, "uart: the snapshot's state is malformed");
    pthread_mutex_lock(&uart->lock);
    uart->ier = regs[0] & 0x0f;
    uart->lcr = regs[1];
    uart->mcr = regs[2] & 0x1f;
    uart->scr = regs[3];
    uart->fcr = regs[4];
    uart->dll = regs[5];
    uart->dlm = regs[6];
    uart->thri_pending = regs[7];
    uart->irq_asserted = regs[8];
    uart->fifo_head = 0;
    uart->fifo_len = fifo_len;
    state_get_bytes(r, uart->fifo, fifo_len);
    pthread_mutex_unlock(&uart->lock);
    return 0;
}

/* The IIR value for the current state: the highest-priority pending source. */
static uint8_t current_iir(const struct uart_8250 *uart)
{
    uint8_t fifo_bits = (uart->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO_BITS : 0;
    if ((uart->ier & UART_IER_RDI) && uart->fifo_len > 0)
        return UART_IIR_RDI | fifo_bits;
    if ((uart->ier & UART_IER_THRI) && uart->thri_pending)
        return UART_IIR_THRI | fifo_bits;
    return UART_IIR_NO_INT | fifo_bits;
}

/* Raises an edge when an interrupt condition appears. Called with the lock held. */
static void update_irq(struct uart_8250 *uart)
{
    bool asserted = !(current_iir(uart) & UART_IIR_NO_INT);
    if (asserted && !uart->irq_asserted)
        irq_line_raise(&uart->irq);
    uart->irq_asserted = asserted;
}

static void fifo_push(struct uart_8250 *uart, uint8_t byte)
{
    if (uart->fifo_len == UART_FIFO_SIZE)
        return; /* overrun: the byte is lost, as on the real part */
    uart->fifo[(uart->fifo_head + uart->fifo_len) % UART_FIFO_SIZE] = byte;
    uart->fifo_len++;
}

static void transmit(struct uart_8250 *uart, uint8_t byte)
{
    if (uart->mcr & UART_MCR_LOOP) {
        fifo_push(uart, byte);
        return;
    }
    if (uart->tx_bytes++ == 0)
        uart->first_tx_ns = mono_ns();
    if (uart->out_fd < 0)
        return;
    /* One attempt: a broken console never stops the guest, and EINTR means the VMM is
     * stopping this vCPU (vm_stop's kick), so the byte is dropped rather than retried. */
    ssize_t n = write(uart->out_fd, &byte, 1);
    (void)n;
}

static uint8_t read_reg(struct uart_8250 *uart, uint64_t reg, bool *drained)
{
    bool dlab = uart->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_RBR: {
        if (dlab)
            return uart->dll;
        if (uart->fifo_len == 0)
            return 0;
        uint8_t byte = uart->fifo[uart->fifo_head];
        uart->fifo_head = (uart->fifo_head + 1) % UART_FIFO_SIZE;
        uart->fifo_len--;
        if (uart->fifo_len == 0 && uart->rx_blocked) {
            uart->rx_blocked = false;
            *drained = true;
        }
        return byte;
    }
    case UART_IER:
        return dlab ? uart->dlm : uart->ier;
    case UART_IIR: {
        uint8_t iir = current_iir(uart);
        if ((iir & 0x0f) == UART_IIR_THRI)
            uart->thri_pending = false; /* reading IIR acknowledges THRE */
        return iir;
    }
    case UART_LCR:
        return uart->lcr;
    case UART_MCR:
        return uart->mcr;
    case UART_LSR:
        return UART_LSR_THRE | UART_LSR_TEMT | (uart->fifo_len > 0 ? UART_LSR_DR : 0);
    case UART_MSR:
        if (uart->mcr & UART_MCR_LOOP) /* loopback: DTR->DSR, RTS->CTS, OUT2->DCD */
            return (uint8_t)(((uart->mcr & 0x01) ? UART_MSR_DSR : 0) | ((uart->mcr & 0x02) ? UART_MSR_CTS : 0) |
                             ((uart->mcr & 0x08) ? UART_MSR_DCD : 0));
        return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    case UART_SCR:
        return uart->scr;
    default:
        return 0;
    }
}

static void write_reg(struct uart_8250 *uart, uint64_t reg, uint8_t value)
{
    bool dlab = uart->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_THR:
        if (dlab) {
            uart->dll = value;
            return;
        }
        uart->thri_pending = false;
        update_irq(uart);
        transmit(uart, value);
        uart->thri_pending = true; /* sent at once: the holding register is empty again */
        return;
    case UART_IER:
        if (dlab) {
            uart->dlm = value;
            return;
        }
        if ((value & UART_IER_THRI) && !(uart->ier & UART_IER_THRI))
            uart->thri_pending = true; /* enabling ETBEI with THR empty raises THRE */
        uart->ier = value & 0x0f;
        return;
    case UART_FCR:
        uart->fcr = value & 0xc9;
        if (value & UART_FCR_CLEAR_RCVR)
            uart->fifo_len = 0;
        return;
    case UART_LCR:
        uart->lcr = value;
        return;
    case UART_MCR:
        uart->mcr = value & 0x1f;
        return;
    case UART_SCR:
        uart->scr = value;
        return;
    default:
        return; /* LSR and MSR are read-only */
    }
}

void uart_8250_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
    struct uart_8250 *uart = opaque;
    bool drained = false;
    memset(data, 0, len);
    if (offset > UART_SCR || len == 0)
        return;
    pthread_mutex_lock(&uart->lock);
    ((uint8_t *)data)[0] = read_reg(uart, offset, &drained);
    update_irq(uart);
    pthread_mutex_unlock(&uart->lock);
    if (drained && uart->rx_ready != NULL)
        uart->rx_ready(uart->rx_opaque);
}

void uart_8250_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
    struct uart_8250 *uart = opaque;
    if (offset > UART_SCR || len == 0)
        return;
    pthread_mutex_lock(&uart->lock);
    write_reg(uart, offset, ((const uint8_t *)data)[0]);
    update_irq(uart);
    pthread_mutex_unlock(&uart->lock);
}

unsigned uart_8250_feed(struct uart_8250 *uart, const uint8_t *bytes, unsigned len)
{
    unsigned taken = 0;
    pthread_mutex_lock(&uart->lock);
    while (taken < len && uart->fifo_len < UART_FIFO_SIZE)
        fifo_push(uart, bytes[taken++]);
    if (taken < len)
        uart->rx_blocked = true;
    update_irq(uart);
    pthread_mutex_unlock(&uart->lock);
    return taken;
}

/* --- as a platform device (devices/platform_device_list.h) --- */

/* The console UART at UART_MMIO_BASE; its interrupt is an eventfd bound to UART_SPI. */
static void *uart_platform_create(const struct platform_services *ps, char *err, size_t errlen)
{
    struct uart_8250 *uart = calloc(1, sizeof *uart);
    if (uart == NULL) {
        error_message(err, errlen, "UART: out of memory");
        return NULL;
    }
    struct irq_line irq = { .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), .spi = UART_SPI };
    int rc = irq.fd < 0 ? -errno : ps->vm->add_irqfd(ps->vm->vm, UART_SPI, irq.fd);
    if (rc != 0) {
        error_message(err, errlen, "UART interrupt (irqfd): %s", strerror(-rc));
        if (irq.fd >= 0)
            close(irq.fd);
        free(uart);
        return NULL;
    }
    uart_8250_init(uart, irq, ps->console_out_fd);
    return uart;
}

static void uart_platform_destroy(void *state)
{
    struct uart_8250 *uart = state;
    if (uart->irq.fd >= 0)
        close(uart->irq.fd);
    uart_8250_destroy(uart);
    free(uart);
}

static void uart_platform_describe(struct devtree_machine *m)
{
    m->has_uart = true;
    m->uart = (struct devtree_mmio_dev){ .base = UART_MMIO_BASE, .size = UART_MMIO_SIZE, .spi = UART_SPI };
}

static void uart_platform_save(void *state, struct state_writer *w)
{
    uart_8250_save(state, w);
}

static int uart_platform_restore(void *state, struct state_reader *r, char *err, size_t errlen)
{
    return uart_8250_restore(state, r, err, errlen);
}

const struct platform_device_type uart_8250_platform = {
    .name = "uart", .base = UART_MMIO_BASE, .size = UART_MMIO_SIZE,
    .read = uart_8250_mmio_read, .write = uart_8250_mmio_write,
    .create = uart_platform_create, .destroy = uart_platform_destroy, .describe = uart_platform_describe,
    .save = uart_platform_save, .restore = uart_platform_restore,
};
