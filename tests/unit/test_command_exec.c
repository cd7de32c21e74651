/* tests/unit/test_command_exec.c — agentd's EXEC (guest/agentd/command_exec.c) over a socket
 * pair, the host side played here through the one codec: real `/bin/sh -c` commands, their
 * streams and exit status, the timeout ending the whole process group, the host's going away
 * ending it too, and malformed requests refused. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "guest/agentd/command_exec.h"
#include "tests/unit/check.h"


struct served {
    int fd;
    struct cp_exec_request req;
    char pending[64];
    size_t pending_len;
};

static void *serve(void *arg)
{
    struct served *s = arg;
    char cwd[512];
    struct command_identity id = { environ, getcwd(cwd, sizeof cwd) ? cwd : "/", getuid(), getgid(), "/bin/sh" };
    command_exec_serve(s->fd, &s->req, s->pending, s->pending_len, &id);
    close(s->fd);
    return NULL;
}

/* What the host saw: the answer line, stdout, stderr and the EXIT frame. */
struct result {
    char answer[CP_MAX_LINE + 1];
    char out[4096], err[4096];
    size_t out_len, err_len;
    bool exited;
    struct cp_exec_frame exit;
    int64_t ms;
};

static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (read(fd, buf + n, 1) != 1)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (int)n;
}

/* Runs `command` with timeout_ms; the first `split` bytes of it travel with the request line. */
static void run(const char *command, int64_t timeout_ms, size_t split, struct result *res)
{
    int sv[2];
    memset(res, 0, sizeof *res);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct served s = { .fd = sv[1], .req = { (uint32_t)strlen(command), timeout_ms } };
    s.pending_len = split;
    memcpy(s.pending, command, split);
    int64_t t0 = mono_ms();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, serve, &s), 0);
    CHECK(write(sv[0], command + split, strlen(command) - split) == (ssize_t)(strlen(command) - split));
    int n = read_line(sv[0], res->answer, sizeof res->answer);
    struct cp_response r;
    if (n > 0 && cp_decode_response(res->answer, (size_t)n, &r) == 0 && r.ok && r.verb == CP_EXEC) {
        char head[CP_MAX_LINE + 1];
        struct cp_exec_frame f;
        while ((n = read_line(sv[0], head, sizeof head)) > 0 && cp_decode_exec_frame(head, (size_t)n, &f) == 0) {
            if (f.kind == CP_EXEC_EXIT) {
                res->exited = true;
                res->exit = f;
                break;
            }
            char *dst = f.kind == CP_EXEC_STDOUT ? res->out : res->err;
            size_t *len = f.kind == CP_EXEC_STDOUT ? &res->out_len : &res->err_len;
            char chunk[CP_EXEC_MAX_CHUNK];
            size_t got = 0;
            while (got < f.bytes) {
                ssize_t k = read(sv[0], chunk + got, f.bytes - got);
                CHECK(k > 0);
                if (k <= 0)
                    break;
                got += (size_t)k;
            }
            size_t keep = got < sizeof res->out - 1 - *len ? got : sizeof res->out - 1 - *len;
            memcpy(dst + *len, chunk, keep);
            *len += keep;
        }
    }
    res->ms = mono_ms() - t0;
    pthread_join(t, NULL);
    close(sv[0]);
}

static void test_streams_and_status(void)
{
    struct result r;
    run("echo hi; echo err >&2; exit 3", 5000, 0, &r);
    CHECK(strcmp(r.answer, "OK EXEC pid=") > 0 && strncmp(r.answer, "OK EXEC pid=", 12) == 0);
    CHECK(r.exited && r.exit.code == 3 && r.exit.signal == 0 && !r.exit.timed_out);
    CHECK(r.out_len == 3 && memcmp(r.out, "hi\n", 3) == 0);
    CHECK(r.err_len == 4 && memcmp(r.err, "err\n", 4) == 0);

    /* the command partly in the request's read, the rest after; stdin is /dev/null */
    run("cat; printf '%s' \"$HOME\" | wc -c >/dev/null; echo done", 5000, 10, &r);
    CHECK(r.exited && r.exit.code == 0 && r.out_len == 5 && memcmp(r.out, "done\n", 5) == 0);

    /* killed by a signal: reported as such */
    run("kill -TERM $$", 5000, 0, &r);
    CHECK(r.exited && r.exit.signal == SIGTERM && r.exit.code == 0 && !r.exit.timed_out);

    /* more output than one frame: every byte arrives, in order */
    run("i=0; while [ $i -lt 400 ]; do echo 0123456789; i=$((i+1)); done | head -c 4000; exit 0", 5000, 0, &r);
    CHECK(r.exited && r.exit.code == 0 && r.out_len == 4000);
    CHECK(memcmp(r.out, "0123456789\n0123", 15) == 0);
}

/* The process is gone: no such pid, or a zombie waiting for whoever adopted it to reap it. */
static bool gone(int pid)
{
    if (pid <= 0)
        return false;
    for (int i = 0; i < 50; i++) {
        char path[64], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return true;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        const char *paren = strrchr(stat, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'Z')
            return true;
        usleep(20 * 1000);
    }
    return false;
}

static void test_timeout(void)
{
    struct result r;
    char pidfile[64];
    snprintf(pidfile, sizeof pidfile, "/tmp/silo-cmd-test-%d", (int)getpid());
    char cmd[256];
    /* the background sleep is in the shell's process group: the timeout ends it too */
    snprintf(cmd, sizeof cmd, "sleep 60 & echo $! > %s; echo started; sleep 60", pidfile);
    run(cmd, 500, 0, &r);
    CHECK(r.exited && r.exit.timed_out && r.exit.signal == SIGKILL);
    CHECK(r.ms >= 450 && r.ms < 5000);
    CHECK(r.out_len == 8 && memcmp(r.out, "started\n", 8) == 0);
    FILE *f = fopen(pidfile, "r");
    int bg = 0;
    CHECK(f && fscanf(f, "%d", &bg) == 1 && bg > 0);
    if (f)
        fclose(f);
    unlink(pidfile);
    CHECK(gone(bg));

    /* what the shell leaves running after it exits is ended too, once its output drained */
    snprintf(cmd, sizeof cmd, "sleep 60 >/dev/null 2>&1 & echo $! > %s; exit 0", pidfile);
    run(cmd, 5000, 0, &r);
    CHECK(r.exited && r.exit.code == 0 && !r.exit.timed_out && r.ms < 2000);
    f = fopen(pidfile, "r");
    bg = 0;
    CHECK(f && fscanf(f, "%d", &bg) == 1 && bg > 0);
    if (f)
        fclose(f);
    unlink(pidfile);
    CHECK(gone(bg));
}

/* The host goes away mid-command: the command's group is ended, no EXIT is owed. */
static void test_host_gone(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    const char *cmd = "echo $$; sleep 60";
    struct served s = { .fd = sv[1], .req = { (uint32_t)strlen(cmd), 60000 } };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, serve, &s), 0);
    CHECK(write(sv[0], cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
    char line[CP_MAX_LINE + 1], pid[32] = "";
    CHECK(read_line(sv[0], line, sizeof line) > 0 && strncmp(line, "OK EXEC pid=", 12) == 0);
    CHECK(read_line(sv[0], line, sizeof line) > 0 && strcmp(line, "STDOUT bytes=") > 0);
    CHECK(read_line(sv[0], pid, sizeof pid) > 0);
    int64_t t0 = mono_ms();
    close(sv[0]);
    pthread_join(t, NULL);
    CHECK(mono_ms() - t0 < 2000);
    int p = atoi(pid);
    CHECK(gone(p));
}

static void expect_refusal(const char *command, uint32_t announced, const char *pending, size_t pending_len,
                           const char *want)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct served s = { .fd = sv[1], .req = { announced, 1000 }, .pending_len = pending_len };
    memcpy(s.pending, pending, pending_len);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, serve, &s), 0);
    if (command)
        CHECK(write(sv[0], command, strlen(command) + 1) == (ssize_t)strlen(command) + 1);   /* with its NUL */
    char line[CP_MAX_LINE + 1];
    struct cp_response r;
    int n = read_line(sv[0], line, sizeof line);
    CHECK(n > 0 && cp_decode_response(line, (size_t)n, &r) == 0 && !r.ok && r.verb == CP_EXEC);
    CHECK(strcmp(r.error, want) == 0);
    if (strcmp(r.error, want) != 0)
        fprintf(stderr, "got %s, want %s\n", r.error, want);
    pthread_join(t, NULL);
    close(sv[0]);
}

static void test_refusals(void)
{
    expect_refusal("echo", 5, "", 0, "nul-byte-in-command");           /* "echo\0" */
    expect_refusal(NULL, 2, "abc", 3, "more-bytes-than-announced");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    static const struct unit_test tests[] = {
        { "stdout, stderr and the exit status of /bin/sh -c, in frames", test_streams_and_status },
        { "the timeout SIGKILLs the whole process group; leftovers end with the shell", test_timeout },
        { "the host closing the connection ends the command at once", test_host_gone },
        { "a NUL byte in the command, or more bytes than announced, is refused", test_refusals },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
