/* tests/unit/test_uart.c — devices/uart_8250.c: the register behaviour Linux's 8250 driver and
 * earlycon rely on, output to a pipe, input through the FIFO, and interrupt edges on an eventfd. */
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/uart_8250.h"
#include "tests/unit/check.h"

static struct uart_8250 uart;
static int out_pipe[2];
static int irq_fd;

static void setup(void)
{
    CHECK_EQ(pipe2(out_pipe, O_NONBLOCK), 0);
    irq_fd = eventfd(0, EFD_NONBLOCK);
    uart_8250_init(&uart, (struct irq_line){ .fd = irq_fd, .spi = 1 }, out_pipe[1]);
}

static void teardown(void)
{
    uart_8250_destroy(&uart);
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(irq_fd);
}

static uint8_t rd(uint64_t reg)
{
    uint8_t v = 0xee;
    uart_8250_mmio_read(&uart, reg, &v, 1);
    return v;
}

static void wr(uint64_t reg, uint8_t v)
{
    uart_8250_mmio_write(&uart, reg, &v, 1);
}

/* Edges raised since the last call. */
static uint64_t edges(void)
{
    uint64_t n = 0;
    if (read(irq_fd, &n, sizeof n) != (ssize_t)sizeof n)
        return 0;
    return n;
}

static void test_transmit_and_lsr(void)
{
    setup();
    CHECK_EQ(rd(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    const char *msg = "hello\n";
    for (const char *p = msg; *p; p++)
        wr(UART_THR, (uint8_t)*p);
    char got[16] = { 0 };
    CHECK_EQ(read(out_pipe[0], got, sizeof got), 6);
    CHECK(strcmp(got, msg) == 0);
    CHECK_EQ(uart.tx_bytes, 6);
    CHECK_EQ(edges(), 0); /* no interrupt enabled, none raised */
    teardown();
}

static void test_divisor_latch_and_scratch(void)
{
    setup();
    wr(UART_LCR, UART_LCR_DLAB | 0x03);
    wr(UART_DLL, 0x01);
    wr(UART_DLM, 0x02);
    CHECK_EQ(rd(UART_DLL), 0x01);
    CHECK_EQ(rd(UART_DLM), 0x02);
    char c;
    CHECK_EQ(read(out_pipe[0], &c, 1), -1); /* DLL writes are not transmitted */
    wr(UART_LCR, 0x03);
    CHECK_EQ(rd(UART_LCR), 0x03);
    CHECK_EQ(rd(UART_IER), 0); /* DLM was not IER */
    wr(UART_SCR, 0x5a);
    CHECK_EQ(rd(UART_SCR), 0x5a);
    wr(UART_MCR, 0x0b);
    CHECK_EQ(rd(UART_MCR), 0x0b);
    CHECK_EQ(rd(UART_MSR) & (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
    CHECK_EQ(rd(8), 0); /* beyond the 8 registers */
    teardown();
}

static void test_thre_interrupt(void)
{
    setup();
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_NO_INT);
    wr(UART_IER, UART_IER_THRI); /* enabling ETBEI with an empty THR raises THRE */
    CHECK_EQ(edges(), 1);
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_THRI);
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_NO_INT); /* reading IIR acknowledged it */
    /* the 8250 driver's THRE test: IER=0, IER=THRI, IIR must show THRI again */
    wr(UART_IER, 0);
    wr(UART_IER, UART_IER_THRI);
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_THRI);
    edges();
    wr(UART_THR, 'x'); /* each transmitted byte empties THR again: a new edge */
    CHECK_EQ(edges(), 1);
    wr(UART_THR, 'y');
    CHECK_EQ(edges(), 1);
    wr(UART_IER, 0);
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_NO_INT);
    wr(UART_FCR, UART_FCR_ENABLE);
    CHECK_EQ(rd(UART_IIR) & UART_IIR_FIFO_BITS, UART_IIR_FIFO_BITS);
    teardown();
}

static void drained(void *opaque)
{
    (*(int *)opaque)++;
}

static void test_receive_fifo(void)
{
    setup();
    int drained_calls = 0;
    uart.rx_ready = drained;
    uart.rx_opaque = &drained_calls;
    wr(UART_IER, UART_IER_RDI);
    CHECK_EQ(edges(), 0);
    CHECK_EQ(uart_8250_feed(&uart, (const uint8_t *)"ab", 2), 2);
    CHECK_EQ(edges(), 1);
    CHECK(rd(UART_LSR) & UART_LSR_DR);
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_RDI);
    CHECK_EQ(uart_8250_feed(&uart, (const uint8_t *)"c", 1), 1);
    CHECK_EQ(edges(), 0); /* still pending from before: no new edge */
    CHECK_EQ(rd(UART_RBR), 'a');
    CHECK_EQ(rd(UART_RBR), 'b');
    CHECK_EQ(rd(UART_RBR), 'c');
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(rd(UART_IIR) & 0x0f, UART_IIR_NO_INT);
    CHECK_EQ(rd(UART_RBR), 0); /* empty */

    uint8_t many[100];
    for (int i = 0; i < 100; i++)
        many[i] = (uint8_t)i;
    CHECK_EQ(uart_8250_feed(&uart, many, 100), UART_FIFO_SIZE); /* FIFO full: the rest waits */
    CHECK_EQ(drained_calls, 0);
    for (int i = 0; i < UART_FIFO_SIZE; i++)
        CHECK_EQ(rd(UART_RBR), i);
    CHECK_EQ(drained_calls, 1); /* told the owner it can feed again */
    uart_8250_feed(&uart, (const uint8_t *)"z", 1);
    wr(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RCVR);
    CHECK_EQ(rd(UART_LSR) & UART_LSR_DR, 0);
    teardown();
}

static void test_loopback(void)
{
    setup();
    wr(UART_MCR, UART_MCR_LOOP | 0x03);
    wr(UART_THR, 'L');
    char c;
    CHECK_EQ(read(out_pipe[0], &c, 1), -1); /* nothing leaves in loopback */
    CHECK(rd(UART_LSR) & UART_LSR_DR);
    CHECK_EQ(rd(UART_RBR), 'L');
    CHECK_EQ(rd(UART_MSR) & (UART_MSR_CTS | UART_MSR_DSR), UART_MSR_CTS | UART_MSR_DSR);
    CHECK_EQ(rd(UART_MSR) & UART_MSR_DCD, 0); /* OUT2 off */
    teardown();
}

static void test_no_output_fd(void)
{
    uart_8250_init(&uart, (struct irq_line){ .fd = -1, .spi = 1 }, -1);
    wr(UART_IER, UART_IER_THRI);
    wr(UART_THR, 'q'); /* neither output nor interrupt line: must not crash */
    CHECK_EQ(uart.tx_bytes, 1);
    uart_8250_destroy(&uart);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "THR bytes reach the output; LSR shows THRE|TEMT", test_transmit_and_lsr },
        { "divisor latch, LCR, MCR, MSR, scratch", test_divisor_latch_and_scratch },
        { "THRE interrupt: raised on enable and after each byte, cleared by IIR", test_thre_interrupt },
        { "receive FIFO: DR, RDI edge, order, full FIFO back-pressure, clear", test_receive_fifo },
        { "loopback sends THR to RBR, not to the output", test_loopback },
        { "no output fd and no interrupt line are harmless", test_no_output_fd },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
