/* guest/agentd/command_exec.c — one EXEC on a control connection: the command read, `/bin/sh
 * -c` spawned as the agent, its stdout and stderr streamed as frames, the timeout and the
 * host's going away enforced on the whole process group, the exit status reported (see
 * command_exec.h and guest/agentd/README.md). Everything the host sends is bounded by the
 * codec (control_proto.c) and by the byte count it announced. */
#include "guest/agentd/command_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mono_time.h"

static atomic_int running;

/* --- the connection, always with a deadline ------------------------------------------------ */

static int wait_fd(int fd, short events, int64_t deadline)
{
    int64_t left = deadline - mono_ms();
    if (left <= 0)
        return 0;
    struct pollfd p = { .fd = fd, .events = events };
    int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
    return n < 0 && errno == EINTR ? 1 : n;   /* 1: go round and try */
}

/* All n bytes, or false (the host is gone, or did not read them before the deadline). */
static bool send_until(int fd, const void *data, size_t n, int64_t deadline)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (mono_ms() >= deadline)
                return false;
            wait_fd(fd, POLLOUT, deadline);
        } else {
            return false;
        }
    }
    return true;
}

static bool recv_until(int fd, char *buf, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = recv(fd, buf, n, MSG_DONTWAIT);
        if (k > 0) {
            buf += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (mono_ms() >= deadline)
                return false;
            wait_fd(fd, POLLIN, deadline);
        } else {
            return false;
        }
    }
    return true;
}

static void answer_error(int fd, const char *reason)
{
    struct cp_response r;
    char line[CP_MAX_LINE + 1];
    cp_set_error(&r, CP_EXEC, reason);
    if (cp_encode_response(&r, line, sizeof line) > 0)
        send_until(fd, line, strlen(line), mono_ms() + 2000);
}

/* --- the command ------------------------------------------------------------------------- */

/* The child: only async-signal-safe calls between fork and exec. An exec failure's errno goes
 * back on errfd (close-on-exec: nothing arrives when the exec works). */
static void child(const struct command_identity *id, const char *command, int out, int err, int errfd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);             /* agentd ignores it; `yes | head` must not */
    setsid();                             /* a process group of its own, to end as a whole */
    int e = 0, in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        e = errno;
    else if (chdir(id->workdir) < 0)
        e = errno;
    else if ((id->uid != getuid() || id->gid != getgid()) &&
             (setgroups(0, NULL) < 0 || setgid(id->gid) < 0 || setuid(id->uid) < 0))
        e = errno;
    if (e == 0) {
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)command, NULL };
        execve(id->shell, argv, id->envp);
        e = errno;
    }
    if (write(errfd, &e, sizeof e) < 0)
        _exit(127);
    _exit(127);
}

static pid_t spawn(const struct command_identity *id, const char *command, int *out_r, int *err_r, int *exec_errno)
{
    int out[2] = { -1, -1 }, err[2] = { -1, -1 }, ex[2] = { -1, -1 };
    pid_t pid = -1;
    *exec_errno = 0;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
        *exec_errno = errno;
        goto fail;
    }
    pid = fork();
    if (pid < 0) {
        *exec_errno = errno;
        goto fail;
    }
    if (pid == 0)
        child(id, command, out[1], err[1], ex[1]);
    close(out[1]);
    close(err[1]);
    close(ex[1]);
    int e = 0;
    ssize_t n;
    do
        n = read(ex[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(ex[0]);
    if (n == (ssize_t)sizeof e) {
        *exec_errno = e;
        waitpid(pid, NULL, 0);
        close(out[0]);
        close(err[0]);
        return -1;
    }
    *out_r = out[0];
    *err_r = err[0];
    return pid;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
        if (ex[i] >= 0) close(ex[i]);
    }
    return -1;
}

struct run {
    int sock;
    int pipe[2];           /* stdout, stderr read ends; -1 once at EOF */
    pid_t pid;
    bool exited;           /* the shell has been reaped: status */
    int status;
    bool timed_out;
    bool host_gone;
    char buf[COMMAND_EXEC_CHUNK];
};

static void end_group(struct run *r)
{
    kill(-r->pid, SIGKILL);
    if (!r->exited) {
        kill(r->pid, SIGKILL);
        while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
            ;
        r->exited = true;
    }
}

/* One read from pipe i, sent as a frame. False when the host could not take it in time. */
static bool forward(struct run *r, int i, int64_t send_deadline)
{
    ssize_t n = read(r->pipe[i], r->buf, sizeof r->buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        close(r->pipe[i]);
        r->pipe[i] = -1;
        return true;
    }
    struct cp_exec_frame f = { .kind = i == 0 ? CP_EXEC_STDOUT : CP_EXEC_STDERR, .bytes = (uint32_t)n };
    char head[CP_MAX_LINE + 1];
    int hl = cp_encode_exec_frame(&f, head, sizeof head);
    return hl > 0 && send_until(r->sock, head, (size_t)hl, send_deadline) &&
           send_until(r->sock, r->buf, (size_t)n, send_deadline);
}

/* Streams until the shell has exited and its output drained, the timeout, or the host leaves. */
static void stream(struct run *r, int64_t deadline)
{
    int64_t linger_until = -1;
    for (;;) {
        int64_t now = mono_ms();
        if (!r->exited) {
            pid_t w = waitpid(r->pid, &r->status, WNOHANG);
            if (w == r->pid) {
                r->exited = true;
                linger_until = now + COMMAND_EXEC_LINGER_MS;
            }
        }
        if (r->exited && ((r->pipe[0] < 0 && r->pipe[1] < 0) || now >= linger_until))
            return;
        if (!r->exited && now >= deadline) {
            r->timed_out = true;
            return;
        }
        struct pollfd p[3] = { { r->pipe[0], POLLIN, 0 }, { r->pipe[1], POLLIN, 0 },
                               { r->sock, POLLIN | POLLRDHUP, 0 } };
        int64_t until = r->exited ? linger_until : deadline;
        int wait = (int)(until - now > 50 ? 50 : until - now);   /* the shell's exit is polled */
        int n = poll(p, 3, wait < 0 ? 0 : wait);
        if (n < 0 && errno != EINTR)
            return;
        if (n <= 0)
            continue;
        if (p[2].revents) {
            r->host_gone = true;
            return;
        }
        for (int i = 0; i < 2; i++)
            if (p[i].revents && !forward(r, i, r->exited ? mono_ms() + 10000 : deadline)) {
                /* the host stopped reading: past the deadline that is the timeout, else it left */
                if (mono_ms() >= deadline)
                    r->timed_out = true;
                else
                    r->host_gone = true;
                return;
            }
    }
}

/* After the group was ended: whatever output is already in the pipes, without waiting. */
static void drain(struct run *r)
{
    for (int i = 0; i < 2; i++) {
        if (r->pipe[i] < 0)
            continue;
        fcntl(r->pipe[i], F_SETFL, O_NONBLOCK);
        for (int rounds = 0; r->pipe[i] >= 0 && rounds < 64; rounds++) {
            struct pollfd p = { r->pipe[i], POLLIN, 0 };
            if (poll(&p, 1, 0) <= 0 || !forward(r, i, mono_ms() + 5000))
                break;
        }
    }
}

void command_exec_serve(int fd, const struct cp_exec_request *req, const char *pending, size_t pending_len,
                        const struct command_identity *id)
{
    if (pending_len > req->bytes) {
        answer_error(fd, "more-bytes-than-announced");
        return;
    }
    if (atomic_fetch_add(&running, 1) >= COMMAND_EXEC_MAX) {
        atomic_fetch_sub(&running, 1);
        answer_error(fd, "too-many-commands");
        return;
    }
    char *command = malloc((size_t)req->bytes + 1);
    struct run *r = calloc(1, sizeof *r);
    if (!command || !r) {
        answer_error(fd, "out-of-memory");
        goto out;
    }
    memcpy(command, pending, pending_len);
    if (!recv_until(fd, command + pending_len, req->bytes - pending_len, mono_ms() + COMMAND_EXEC_READ_MS)) {
        answer_error(fd, "command-bytes-missing");
        goto out;
    }
    command[req->bytes] = '\0';
    if (memchr(command, '\0', req->bytes) != NULL) {
        answer_error(fd, "nul-byte-in-command");
        goto out;
    }
    int exec_errno;
    int64_t deadline = mono_ms() + req->timeout_ms;
    r->sock = fd;
    r->pid = spawn(id, command, &r->pipe[0], &r->pipe[1], &exec_errno);
    if (r->pid < 0) {
        char reason[64];
        snprintf(reason, sizeof reason, "cannot-run-shell:errno-%d", exec_errno);
        answer_error(fd, reason);
        goto out;
    }
    struct cp_response ok = { .verb = CP_EXEC, .ok = true, .u.exec.pid = r->pid };
    char line[CP_MAX_LINE + 1];
    if (cp_encode_response(&ok, line, sizeof line) < 0 || !send_until(fd, line, strlen(line), deadline))
        r->host_gone = true;
    else
        stream(r, deadline);
    end_group(r);               /* the timeout, the host gone, or what the shell left behind */
    if (!r->host_gone) {
        drain(r);
        struct cp_exec_frame f = { .kind = CP_EXEC_EXIT, .timed_out = r->timed_out };
        if (WIFEXITED(r->status))
            f.code = WEXITSTATUS(r->status);
        else if (WIFSIGNALED(r->status))
            f.signal = WTERMSIG(r->status);
        int n = cp_encode_exec_frame(&f, line, sizeof line);
        if (n > 0)
            send_until(fd, line, (size_t)n, mono_ms() + 5000);
    }
    for (int i = 0; i < 2; i++)
        if (r->pipe[i] >= 0)
            close(r->pipe[i]);
out:
    free(command);
    free(r);
    atomic_fetch_sub(&running, 1);
}
