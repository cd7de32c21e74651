/* tests/fuzz/fuzz_uart.c — libFuzzer target for devices/uart_8250.c: the guest's register
 * accesses (any offset, size, value, in any order) interleaved with host input. The model must
 * never crash, and its FIFO never exceeds its size. Input: 3-byte records (op, offset, value). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "devices/uart_8250.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int null_fd = -1;
    if (null_fd < 0)
        null_fd = open("/dev/null", O_WRONLY);
    struct uart_8250 uart;
    uart_8250_init(&uart, (struct irq_line){ .fd = -1, .spi = 1 }, null_fd);
    for (size_t i = 0; i + 3 <= size; i += 3) {
        uint8_t op = data[i], off = data[i + 1], val = data[i + 2];
        uint32_t len = 1u << (op >> 6); /* 1, 2, 4, 8 */
        uint64_t buf = val;
        switch (op & 3) {
        case 0:
            uart_8250_mmio_write(&uart, off, &buf, len);
            break;
        case 1:
            uart_8250_mmio_read(&uart, off, &buf, len);
            break;
        default:
            uart_8250_feed(&uart, &data[i + 2], 1);
            break;
        }
        if (uart.fifo_len > UART_FIFO_SIZE || uart.fifo_head >= UART_FIFO_SIZE)
            abort();
    }
    uart_8250_destroy(&uart);
    return 0;
}
