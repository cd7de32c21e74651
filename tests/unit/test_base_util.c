/* tests/unit/test_base_util.c — the header-only shared helpers of base/: the monotonic clock
 * (mono_time.h), eventfd wake/drain (eventfd_util.h), bounded small-file reads (small_file.h)
 * and descriptor line/whole-buffer I/O (fd_io.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/eventfd_util.h"
#include "base/fd_io.h"
#include "base/mono_time.h"
#include "base/small_file.h"
#include "tests/unit/check.h"

static void test_mono_time(void)
{
    uint64_t a = mono_ns();
    int64_t ms = mono_ms();
    double f = mono_ms_f();
    struct timespec nap = { 0, 20 * 1000 * 1000 };
    nanosleep(&nap, NULL);
    uint64_t b = mono_ns();
    CHECK(b >= a + 20 * 1000 * 1000);
    CHECK(mono_ms() >= ms + 20);
    CHECK(mono_ms_f() >= f + 19.9);
    /* the three read the same clock */
    CHECK(llabs(mono_ms() - (int64_t)(mono_ns() / 1000000)) <= 1);
    CHECK(ms > 0 && f > 0);
}

static void test_eventfd(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(eventfd_drain(fd), 0);        /* nothing pending: 0 at once, no blocking */
    eventfd_signal(fd);
    eventfd_signal(fd);
    eventfd_signal(fd);
    CHECK_EQ(eventfd_drain(fd), 3);        /* the counter, and back to zero */
    CHECK_EQ(eventfd_drain(fd), 0);
    close(fd);
    CHECK_EQ(eventfd_drain(-1), 0);        /* errors read as nothing pending */
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_small_file_read(void)
{
    char dir[] = "/tmp/silo-base-util-XXXXXX", path[64], buf[8];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/f", dir);
    write_file(path, "hello world");
    CHECK_EQ(small_file_read(path, buf, sizeof buf), 7);      /* at most cap-1 bytes */
    CHECK(strcmp(buf, "hello w") == 0);
    char big[64];
    CHECK_EQ(small_file_read(path, big, sizeof big), 11);
    CHECK(strcmp(big, "hello world") == 0);
    CHECK_EQ(small_file_read("/proc/self/stat", big, sizeof big), 63);   /* /proc: st_size 0 */
    CHECK_EQ(small_file_read("/nonexistent/x", big, sizeof big), -1);
    CHECK(big[0] == '\0');
    CHECK_EQ(small_file_read(dir, big, sizeof big), -1);     /* a directory cannot be read */
    CHECK_EQ(small_file_read(path, big, 0), -1);
    unlink(path);
    rmdir(dir);
}

static void test_small_file_load(void)
{
    char dir[] = "/tmp/silo-base-util-XXXXXX", path[64], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_file(path, "{\"a\": 1}");
    size_t len = 0;
    char *text = small_file_load(path, 8, &len, err, sizeof err);
    CHECK(text != NULL && len == 8 && strcmp(text, "{\"a\": 1}") == 0);
    free(text);
    /* one byte over the limit, a directory, a device, a missing file: refused with a reason */
    CHECK(small_file_load(path, 7, &len, err, sizeof err) == NULL);
    CHECK(strstr(err, "config.json: not a regular file of at most 7 bytes") != NULL);
    CHECK(small_file_load(dir, 1024, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a regular file") != NULL);
    CHECK(small_file_load("/dev/zero", 1024, NULL, err, sizeof err) == NULL);   /* never spins */
    CHECK(strstr(err, "/dev/zero: not a regular file") != NULL);
    CHECK(small_file_load("/nonexistent/x", 1024, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "No such file") != NULL);
    /* empty file: "" */
    write_file(path, "");
    text = small_file_load(path, 8, &len, err, sizeof err);
    CHECK(text != NULL && len == 0 && text[0] == '\0');
    free(text);
    unlink(path);
    rmdir(dir);
}

/* One line at a time, nothing after it consumed; timeouts, refusals and limits. */
static void test_fd_read_line(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char buf[16];
    CHECK(fd_write_all(sv[0], "OK 42\r\nnext\n", 13));
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 1000, FD_LINE_STRIP_CR) == 5);
    CHECK(strcmp(buf, "OK 42") == 0);
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 1000, FD_LINE_TEXT) == 4);
    CHECK(strcmp(buf, "next") == 0);
    /* nothing there: -2 at the deadline, not before */
    int64_t t0 = mono_ms();
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 150, 0) == -2);
    CHECK(mono_ms() - t0 >= 140);
    /* a control character ends a text line; without FD_LINE_TEXT it is kept */
    CHECK(fd_write_all(sv[0], "a\x01" "b\n", 4));
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 1000, FD_LINE_TEXT) == -1);
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 1000, 0) == 1);   /* "b" after the refusal */
    /* a line that does not fit in cap - 1 bytes */
    CHECK(fd_write_all(sv[0], "0123456789abcdefXYZ\n", 20));
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 1000, 0) == -1);
    /* EOF */
    close(sv[0]);
    char rest[32];
    CHECK(read(sv[1], rest, sizeof rest) >= 0);
    CHECK(fd_read_line(sv[1], buf, sizeof buf, mono_ms() + 1000, 0) == -1);
    close(sv[1]);
}

/* Whole buffers to a pipe (not a socket) and a refusal, not a SIGPIPE, on a closed peer. */
static void test_fd_write_all(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(fd_write_all(p[1], "hello", 5));
    char buf[8] = "";
    CHECK(read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    close(p[0]);
    close(p[1]);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    CHECK(!fd_write_all(sv[0], "x", 1));      /* EPIPE; a SIGPIPE would have killed the test */
    close(sv[0]);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "mono_ns / mono_ms / mono_ms_f: one monotonic clock", test_mono_time },
        { "eventfd_signal / eventfd_drain: counter read back to zero, never blocks when empty", test_eventfd },
        { "small_file_read: bounded, NUL-terminated, /proc files, refusals", test_small_file_read },
        { "small_file_load: regular files up to a limit, everything else refused with a reason", test_small_file_load },
        { "fd_read_line: one line, nothing after it consumed; timeout, control characters, length, EOF", test_fd_read_line },
        { "fd_write_all: pipes and sockets; a closed peer is an error, never SIGPIPE", test_fd_write_all },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
