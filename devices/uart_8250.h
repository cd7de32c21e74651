/* devices/uart_8250.h — a 16550A UART on the MMIO bus, enough for Linux's 8250 driver and
 * earlycon (`earlycon=uart,mmio,0x01000000`).
 *
 * Registers (byte stride, offsets 0..7): RBR/THR (DLL when LCR.DLAB), IER (DLM when DLAB),
 * IIR/FCR, LCR, MCR, LSR, MSR, SCR. Transmission is instant: a THR write goes straight to the
 * output fd, so LSR always shows THRE|TEMT. Received bytes (from the input fd, fed by the I/O
 * thread) wait in a 64-byte FIFO. MCR loopback sends THR bytes back to the FIFO.
 *
 * Interrupts are edges on an irq_line (an irqfd-bound SPI): an edge is raised whenever an
 * interrupt condition appears — received data with IER.ERBFI, or the transmitter becoming
 * empty with IER.ETBEI (after every THR write, and when ETBEI is switched on with THR empty,
 * as the real part does). Reading IIR while it reports THRE clears that condition.
 *
 * Thread safety: MMIO handlers (vCPU threads) and uart_8250_feed (I/O thread) take the
 * device's mutex.
 */
#ifndef SILO_DEVICES_UART_8250_H
#define SILO_DEVICES_UART_8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/platform_device_type.h"

#define UART_FIFO_SIZE 64

/* Register offsets */
enum {
    UART_RBR = 0, UART_THR = 0, UART_DLL = 0,
    UART_IER = 1, UART_DLM = 1,
    UART_IIR = 2, UART_FCR = 2,
    UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
/* Bits */
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO_BITS 0xc0
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RCVR 0x02
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_DCD 0x80

struct uart_8250 {
    pthread_mutex_t lock;
    struct irq_line irq;
    int out_fd; /* -1: output discarded */

    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    bool thri_pending; /* transmitter-empty interrupt condition */
    bool irq_asserted; /* the last computed interrupt state, for edge detection */

    uint8_t fifo[UART_FIFO_SIZE];
    unsigned fifo_head, fifo_len;

    /* Called (without the lock) when the guest drained the FIFO, so the owner can resume reading
     * input it paused because the FIFO was full. NULL: none. */
    void (*rx_ready)(void *opaque);
    void *rx_opaque;
    bool rx_blocked;

    uint64_t tx_bytes;
    uint64_t first_tx_ns; /* CLOCK_MONOTONIC of the guest's first byte out (0: none yet), for --timings */
};

void uart_8250_init(struct uart_8250 *uart, struct irq_line irq, int out_fd);
void uart_8250_destroy(struct uart_8250 *uart);

/* Snapshot: registers and the receive FIFO (the platform save/restore hooks). */
void uart_8250_save(struct uart_8250 *uart, struct state_writer *w);
int uart_8250_restore(struct uart_8250 *uart, struct state_reader *r, char *err, size_t errlen);

/* MMIO handlers (struct mmio_region's read/write, opaque = the uart). */
void uart_8250_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len);
void uart_8250_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len);

/* Queues received bytes; returns how many fit (the rest must be offered again later, after
 * rx_ready is called). */
unsigned uart_8250_feed(struct uart_8250 *uart, const uint8_t *bytes, unsigned len);

/* The UART as a platform device: the console, at UART_MMIO_BASE with UART_SPI; its state is a
 * struct uart_8250 (platform_device_state). */
extern const struct platform_device_type uart_8250_platform;

#endif
