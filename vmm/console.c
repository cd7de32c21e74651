/* vmm/console.c — the guest serial console's host side (see console.h). */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/eventfd_util.h"

int console_open(struct console *c, const char *spec, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->out_fd = c->in_fd = c->resume_fd = -1;
    if (strcmp(spec, "none") == 0)
        return 0;
    if (strcmp(spec, "stdio") == 0) {
        c->out_fd = STDOUT_FILENO;
        c->in_fd = STDIN_FILENO;
        return 0;
    }
    c->out_fd = open(spec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (c->out_fd < 0) {
        snprintf(err, errlen, "--console: cannot open '%s': %s", spec, strerror(errno));
        return -1;
    }
    c->close_out = true;
    return 0;
}

/* Offers the pending input to the UART; true when all of it was taken. */
static bool flush_pending(struct console *c)
{
    unsigned left = c->pending_len - c->pending_off;
    unsigned took = uart_8250_feed(c->uart, c->pending + c->pending_off, left);
    c->pending_off += took;
    if (c->pending_off < c->pending_len)
        return false;
    c->pending_off = c->pending_len = 0;
    return true;
}

static void on_input(void *opaque, int fd, uint32_t events)
{
    struct console *c = opaque;
    (void)events;
    ssize_t n = read(fd, c->pending, sizeof c->pending);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        event_loop_remove(c->loop, fd); /* end of input */
        c->in_watched = false;
        return;
    }
    if (n < 0)
        return;
    c->pending_off = 0;
    c->pending_len = (unsigned)n;
    if (!flush_pending(c))
        event_loop_modify(c->loop, fd, 0); /* pause until the guest drains the FIFO */
}

static void on_resume(void *opaque, int fd, uint32_t events)
{
    struct console *c = opaque;
    (void)events;
    (void)eventfd_drain(fd);
    if (c->pending_len != 0 && !flush_pending(c))
        return;
    if (c->in_watched)
        event_loop_modify(c->loop, c->in_fd, EPOLLIN);
}

/* Runs on a vCPU thread (the UART's rx_ready): hand over to the loop thread. */
static void uart_drained(void *opaque)
{
    struct console *c = opaque;
    eventfd_signal(c->resume_fd);
}

static void make_raw(struct console *c)
{
    if (!isatty(c->in_fd) || tcgetattr(c->in_fd, &c->saved_tty) != 0)
        return;
    struct termios raw = c->saved_tty;
    raw.c_iflag &= ~(unsigned)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~(unsigned)(ECHO | ECHONL | ICANON | IEXTEN); /* ISIG stays: Ctrl-C ends the VM */
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(c->in_fd, TCSANOW, &raw) == 0)
        c->tty_raw = true;
}

void console_attach_input(struct console *c, struct uart_8250 *uart, struct event_loop *loop)
{
    c->uart = uart;
    c->loop = loop;
    if (c->in_fd < 0)
        return;
    c->resume_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->resume_fd < 0 || event_loop_add(loop, c->resume_fd, EPOLLIN, on_resume, c) != 0)
        return;
    if (event_loop_add(loop, c->in_fd, EPOLLIN, on_input, c) != 0)
        return; /* not pollable: no guest input */
    c->in_watched = true;
    uart->rx_ready = uart_drained;
    uart->rx_opaque = c;
    make_raw(c);
}

void console_close(struct console *c)
{
    if (c->tty_raw)
        tcsetattr(c->in_fd, TCSANOW, &c->saved_tty);
    c->tty_raw = false;
    if (c->close_out && c->out_fd >= 0)
        close(c->out_fd);
    if (c->resume_fd >= 0)
        close(c->resume_fd);
    c->out_fd = c->resume_fd = -1;
}
