/* vmm/console.h — where the guest's serial console goes: `--console stdio` (output to stdout,
 * input from stdin, a terminal switched to raw mode with Ctrl-C still ending the VM), `none`,
 * or a file that receives the output. Input is read on the I/O thread and fed to the UART; when
 * the UART's FIFO is full, reading pauses until the guest drains it (no unbounded buffering).
 */
#ifndef SILO_VMM_CONSOLE_H
#define SILO_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/uart_8250.h"
#include "base/event_loop.h"

struct console {
    int out_fd;      /* -1: output discarded */
    bool close_out;  /* out_fd is a file we opened */
    int in_fd;       /* -1: no input */
    bool in_watched; /* in_fd is registered with the loop */
    int resume_fd;   /* eventfd: the UART drained its FIFO, read input again */
    bool tty_raw;
    struct termios saved_tty;
    struct uart_8250 *uart;
    struct event_loop *loop;
    uint8_t pending[UART_FIFO_SIZE];
    unsigned pending_off, pending_len;
};

/* Opens the console output per `spec`. Returns 0 or -1 with a reason in err. */
int console_open(struct console *c, const char *spec, char *err, size_t errlen);
/* Starts feeding stdin (for "stdio") to the UART through the loop. Never fatal: a stdin that
 * cannot be polled (a regular file, /dev/null, closed) just gives the guest no input. */
void console_attach_input(struct console *c, struct uart_8250 *uart, struct event_loop *loop);
/* Restores the terminal and closes what it opened. Call after the loop thread has stopped. */
void console_close(struct console *c);

#endif
