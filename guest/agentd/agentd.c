/* guest/agentd/agentd.c — the guest agent daemon, started by silo-init (see README.md).
 *
 * It starts the agent with the image config's Entrypoint/Cmd, Env, WorkingDir and User, bridges
 * vsock ports 8080, 8000 and 9000 to 127.0.0.1 on the same ports, and answers the control
 * protocol (control_proto.h) on vsock port 1024. It also serves the agent's way out (egress
 * proxy, DNS stub, transparent egress, credentials, silod's API: guest_services.h) and adds the
 * matching variables to the agent's environment (guest_env.h). It never restarts the agent:
 * when the agent ends, agentd reports it (console line, STATUS/WAIT answers), lingers briefly
 * so the host can ask, then exits with the agent's status; init then powers the VM off.
 *
 *   agentd [--config /silo/config.json] [--linger-ms 500] [--grace-ms 2000]
 *          [--tcp-offset N]     listen on TCP 127.0.0.1:(port+N) instead of vsock, and reach host
 *                               port P at TCP 127.0.0.1:(P+N) (host tests)
 *          [--cmdline PATH]     the kernel command line to read silo.* keys from (/proc/cmdline)
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>   /* after sys/socket.h, which it needs */
#include <linux/random.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/eventfd_util.h"
#include "base/mono_time.h"
#include "guest/agentd/agent_config.h"
#include "guest/agentd/bridge.h"
#include "guest/agentd/command_exec.h"
#include "guest/agentd/control_proto.h"
#include "guest/agentd/guest_env.h"
#include "guest/agentd/guest_services.h"
#include "guest/agentd/probe.h"

#define LOG(...) (fprintf(stderr, "silo-agentd: " __VA_ARGS__), fputc('\n', stderr))
#define MAX_CONTROL_THREADS 16

static const int bridged_ports[] = { 8080, 8000, 9000 };
static const unsigned port_bits[] = { CP_PORT_HTTP, CP_PORT_MCP, CP_PORT_A2A };

struct listener {
    struct watch watch;
    int fd;
    int port;
};

/* The agent process, shared with the control threads. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t ended;
    enum cp_agent_state state;
    pid_t pid;
    int code, signal;
} agent = { .lock = PTHREAD_MUTEX_INITIALIZER, .ended = PTHREAD_COND_INITIALIZER };

static int wake_fd = -1;               /* eventfd: a control thread asks for shutdown */
static atomic_int control_threads;
static atomic_int waiters;             /* WAIT requests not yet answered: agentd stays for them */
static int64_t grace_ms = 2000;
static struct command_identity command_id;   /* EXEC runs as the agent; set before any control thread */
static bool command_id_ok;

static double uptime_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listen_on(int port, int tcp_offset)
{
    int fd;
    if (tcp_offset >= 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(port + tcp_offset)),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            fd = -1;
        }
    } else {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_port = (unsigned)port, .svm_cid = VMADDR_CID_ANY };
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0 && listen(fd, 128) < 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        LOG("cannot listen on %s port %d: %s", tcp_offset >= 0 ? "tcp" : "vsock", port, strerror(errno));
    return fd;
}

/* --- the agent process ------------------------------------------------------------------- */

static pid_t start_agent(const struct agent_config *cfg, int *exec_errno)
{
    uid_t uid;
    gid_t gid;
    char err[256];
    int pipefd[2];

    *exec_errno = 0;
    if (agent_user_resolve(cfg->user, "/", &uid, &gid, err, sizeof err) < 0) {
        LOG("%s", err);
        *exec_errno = EINVAL;
        return -1;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        *exec_errno = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        int e = 0;
        if (chdir(cfg->workdir) < 0)
            e = errno;
        else if (uid != 0 || gid != 0) {
            if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
                e = errno;
        }
        if (e == 0) {
            environ = cfg->envp;       /* execvp searches the image's PATH */
            execvp(cfg->argv[0], cfg->argv);
            e = errno;
        }
        if (write(pipefd[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(pipefd[1]);
    int e = 0;
    ssize_t n;
    do
        n = read(pipefd[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof e) {
        *exec_errno = e;
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void set_agent_state(enum cp_agent_state state, int code, int sig)
{
    pthread_mutex_lock(&agent.lock);
    agent.state = state;
    agent.code = code;
    agent.signal = sig;
    if (state == CP_AGENT_EXITED || state == CP_AGENT_KILLED || state == CP_AGENT_FAILED)
        pthread_cond_broadcast(&agent.ended);
    pthread_mutex_unlock(&agent.lock);
}

static bool agent_alive(void)
{
    pthread_mutex_lock(&agent.lock);
    bool alive = agent.state == CP_AGENT_STARTING || agent.state == CP_AGENT_RUNNING;
    pthread_mutex_unlock(&agent.lock);
    return alive;
}

static unsigned ports_accepting(int timeout_ms)
{
    unsigned ports = 0;
    for (size_t i = 0; i < sizeof bridged_ports / sizeof bridged_ports[0]; i++)
        if (probe_port_accepts(bridged_ports[i], timeout_ms))
            ports |= port_bits[i];
    return ports;
}

/* --- control connections (one thread each, blocking, bounded in number) ----------------- */

static void fill_agent(struct cp_response *r, enum cp_verb verb)
{
    r->verb = verb;
    r->ok = true;
    r->u.agent.state = agent.state;
    r->u.agent.pid = agent.pid > 0 ? agent.pid : 0;
    r->u.agent.code = agent.code;
    r->u.agent.signal = agent.signal;
}

static void answer(enum cp_verb verb, struct cp_response *r)
{
    memset(r, 0, sizeof *r);
    switch (verb) {
    case CP_READY:
        r->verb = CP_READY;
        r->ok = true;
        r->u.ready.ports = ports_accepting(200);
        break;
    case CP_HEALTH:
        probe_ping(8080, 2000, r);
        break;
    case CP_USAGE:
        if (probe_usage(r) < 0)
            cp_set_error(r, CP_USAGE, "cannot-read-proc");
        break;
    case CP_STATUS:
        pthread_mutex_lock(&agent.lock);
        fill_agent(r, CP_STATUS);
        pthread_mutex_unlock(&agent.lock);
        break;
    case CP_WAIT:
        atomic_fetch_add(&waiters, 1);   /* released by control_thread once the answer is sent */
        pthread_mutex_lock(&agent.lock);
        while (agent.state == CP_AGENT_STARTING || agent.state == CP_AGENT_RUNNING)
            pthread_cond_wait(&agent.ended, &agent.lock);
        fill_agent(r, CP_WAIT);
        pthread_mutex_unlock(&agent.lock);
        break;
    case CP_SHUTDOWN: {
        r->verb = CP_SHUTDOWN;
        r->ok = true;
        r->u.shutdown.grace_ms = grace_ms;
        uint64_t one = 1;
        if (write(wake_fd, &one, sizeof one) != (ssize_t)sizeof one)
            cp_set_error(r, CP_SHUTDOWN, "cannot-signal-main-loop");
        break;
    }
    case CP_RESTORED: /* only with its arguments (answer_restored) */
        cp_set_error(r, CP_RESTORED, "needs-seed-and-time");
        break;
    case CP_EXEC: /* only with its arguments (command_exec_serve) */
        cp_set_error(r, CP_EXEC, "needs-bytes-and-timeout");
        break;
    }
}

#define VM_ID_FILE "/run/silo/vm-id"

/* This microVM's identity for the agent, /run/silo/vm-id: a random UUID made at boot and made
 * again after a restore (each microVM restored from one template is a machine of its own; the
 * kernel's boot_id is the template's). Written only inside a guest (agentd started by init). */
static void write_vm_id(void)
{
    uint8_t b[16];
    if (getppid() != 1 || getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 1 */
    char text[40];
    int n = snprintf(text, sizeof text,
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n", b[0], b[1], b[2], b[3],
                     b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    mkdir("/run/silo", 0755);
    int fd = open(VM_ID_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (fd < 0)
        return;
    bool ok = write(fd, text, (size_t)n) == n;
    if (close(fd) == 0 && ok)
        rename(VM_ID_FILE ".tmp", VM_ID_FILE);
}

/* RESTORED: the kernel CRNG gets the host's seed (credited) and is reseeded at once, so no two
 * microVMs restored from one template share random output; then the wall clock is the host's. */
static void answer_restored(const struct cp_restored *a, struct cp_response *r)
{
    union { /* struct rand_pool_info ends in the seed's words */
        struct rand_pool_info info;
        uint32_t words[sizeof(struct rand_pool_info) / 4 + CP_SEED_BYTES / 4];
    } pool;
    memset(r, 0, sizeof *r);
    pool.info.entropy_count = CP_SEED_BYTES * 8;
    pool.info.buf_size = CP_SEED_BYTES;
    memcpy(&pool.words[sizeof(struct rand_pool_info) / 4], a->seed, CP_SEED_BYTES);
    int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
    bool seeded = fd >= 0 && ioctl(fd, RNDADDENTROPY, &pool) == 0 && ioctl(fd, RNDRESEEDCRNG) == 0;
    if (fd >= 0)
        close(fd);
    explicit_bzero(&pool, sizeof pool);
    struct timespec ts = { .tv_sec = (time_t)a->sec, .tv_nsec = a->nsec };
    if (!seeded)
        cp_set_error(r, CP_RESTORED, "cannot-reseed-crng");
    else if (clock_settime(CLOCK_REALTIME, &ts) != 0)
        cp_set_error(r, CP_RESTORED, "cannot-set-clock");
    else {
        r->verb = CP_RESTORED;
        r->ok = true;
        write_vm_id(); /* from the reseeded CRNG */
        fprintf(stderr, "silo-agentd: restored from a snapshot: CRNG reseeded, clock set, new vm-id\n");
    }
}

static void *control_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[CP_MAX_LINE + 1], out[CP_MAX_LINE + 1];
    size_t used = 0;

    for (;;) {
        ssize_t n = recv(fd, line + used, sizeof line - used, 0);
        if (n <= 0)
            break;
        used += (size_t)n;
        char *nl;
        while ((nl = memchr(line, '\n', used)) != NULL) {
            size_t len = (size_t)(nl - line) + 1;
            enum cp_verb verb = 0;
            struct cp_response r = { 0 };
            struct cp_restored restored;
            struct cp_exec_request exec;
            if (cp_decode_exec(line, len, &exec) == 0) {
                /* the connection is the command's now; it closes when the command has ended */
                if (command_id_ok)
                    command_exec_serve(fd, &exec, line + len, used - len, &command_id);
                else if (send(fd, "ERR EXEC agent-user-unknown\n", 28, MSG_NOSIGNAL) < 0) {}
                goto done;
            }
            if (cp_decode_restored(line, len, &restored) == 0) {
                verb = CP_RESTORED;
                answer_restored(&restored, &r);
                explicit_bzero(&restored, sizeof restored);
                if (cp_encode_response(&r, out, sizeof out) < 0)
                    snprintf(out, sizeof out, "ERR RESTORED cannot-encode\n");
            } else if (cp_decode_request(line, len, &verb) < 0) {
                /* the verb is unknown, so the answer names STATUS; the reason says why */
                snprintf(out, sizeof out, "ERR STATUS bad-request\n");
            } else {
                answer(verb, &r);
                if (cp_encode_response(&r, out, sizeof out) < 0)
                    snprintf(out, sizeof out, "ERR %s cannot-encode\n", cp_verb_name(verb));
            }
            ssize_t sent = send(fd, out, strlen(out), MSG_NOSIGNAL);
            if (verb == CP_WAIT)
                atomic_fetch_sub(&waiters, 1);
            if (sent < 0)
                goto done;
            memmove(line, line + len, used - len);
            used -= len;
        }
        if (used == sizeof line) {        /* a line longer than the protocol allows */
            static const char too_long[] = "ERR STATUS line-too-long\n";
            if (send(fd, too_long, sizeof too_long - 1, MSG_NOSIGNAL) < 0) {}
            break;
        }
    }
done:
    close(fd);
    atomic_fetch_sub(&control_threads, 1);
    return NULL;
}

static void accept_control(int lfd)
{
    int fd;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        if (atomic_fetch_add(&control_threads, 1) >= MAX_CONTROL_THREADS) {
            static const char busy[] = "ERR STATUS too-many-control-connections\n";
            if (send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {}
            close(fd);
            atomic_fetch_sub(&control_threads, 1);
            continue;
        }
        struct timeval tv = { .tv_sec = 3600 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&t, &attr, control_thread, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&control_threads, 1);
        }
        pthread_attr_destroy(&attr);
    }
}

/* --- main loop ---------------------------------------------------------------------------- */

static void usage_exit(void)
{
    fprintf(stderr, "usage: agentd [--config PATH] [--linger-ms N] [--grace-ms N] [--tcp-offset N] [--cmdline PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *config_path = "/silo/config.json";
    const char *cmdline_path = "/proc/cmdline";
    int64_t linger_ms = 500;
    int tcp_offset = -1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--config") == 0 && v) config_path = v, i++;
        else if (strcmp(argv[i], "--linger-ms") == 0 && v) linger_ms = atoll(v), i++;
        else if (strcmp(argv[i], "--grace-ms") == 0 && v) grace_ms = atoll(v), i++;
        else if (strcmp(argv[i], "--tcp-offset") == 0 && v) tcp_offset = atoi(v), i++;
        else if (strcmp(argv[i], "--cmdline") == 0 && v) cmdline_path = v, i++;
        else usage_exit();
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    int64_t t_start = mono_ms();
    write_vm_id();

    struct agent_config cfg;
    char err[512];
    if (agent_config_load(config_path, &cfg, err, sizeof err) < 0) {
        LOG("%s; nothing to run", err);
        return 126;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* after the signal mask: the service threads inherit it, so signals reach the signalfd */
    int64_t t_config = mono_ms();
    struct guest_services services;
    guest_services_start(tcp_offset, cmdline_path, &services);
    int64_t t_services = mono_ms();
    if (guest_env_add(&cfg.envp, services.token, services.region) < 0)
        LOG("out of memory adding the egress and credentials variables to the agent's environment");
    command_id = (struct command_identity){ cfg.envp, cfg.workdir, 0, 0, "/bin/sh" };
    command_id_ok = agent_user_resolve(cfg.user, "/", &command_id.uid, &command_id.gid, err, sizeof err) == 0;

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || sfd < 0 || wake_fd < 0) {
        LOG("epoll/signalfd/eventfd: %s", strerror(errno));
        return 1;
    }
    static struct watch signal_watch = { WATCH_SIGNAL }, wake_watch = { WATCH_WAKE };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &signal_watch };
    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
    ev.data.ptr = &wake_watch;
    epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev);

    static struct listener listeners[4];
    int nl = 0;
    for (size_t i = 0; i < 3; i++) {
        int fd = listen_on(bridged_ports[i], tcp_offset);
        if (fd < 0)
            continue;
        listeners[nl] = (struct listener){ { WATCH_LISTENER }, fd, bridged_ports[i] };
        ev.data.ptr = &listeners[nl++].watch;
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    int cfd = listen_on(CP_PORT, tcp_offset);
    if (cfd >= 0) {
        listeners[nl] = (struct listener){ { WATCH_CONTROL }, cfd, CP_PORT };
        ev.data.ptr = &listeners[nl++].watch;
        epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev);
    }
    if (nl < 4)
        LOG("warning: only %d of 4 listeners are up", nl);

    int64_t started = mono_ms();
    int exec_errno;
    pid_t pid = start_agent(&cfg, &exec_errno);
    pthread_mutex_lock(&agent.lock);
    agent.pid = pid > 0 ? pid : 0;
    agent.state = pid > 0 ? CP_AGENT_STARTING : CP_AGENT_FAILED;
    agent.code = pid > 0 ? 0 : exec_errno;
    pthread_mutex_unlock(&agent.lock);
    if (pid < 0) {
        LOG("cannot start the agent %s: %s", cfg.argv[0], strerror(exec_errno));
        pthread_cond_broadcast(&agent.ended);
    } else {
        LOG("agent started: pid %d, %s (workdir %s, user \"%s\"; agentd set-up: vm id and config %lld ms, "
            "services %lld ms, listeners and start %lld ms) at %.3fs",
            (int)pid, cfg.argv[0], cfg.workdir, cfg.user, (long long)(t_config - t_start),
            (long long)(t_services - t_config), (long long)(mono_ms() - t_services), uptime_s());
    }

    int64_t exit_at = pid < 0 ? mono_ms() + linger_ms : -1;  /* when agentd itself exits */
    int64_t kill_at = -1;                                    /* SIGKILL deadline after SIGTERM */
    int exit_status = pid < 0 ? 127 : 0;
    bool ready = false;
    int64_t next_ready_probe = mono_ms();

    for (;;) {
        int64_t now = mono_ms();
        bool alive = agent_alive();
        /* leave once the linger time is over and every WAIT got its answer (at most 2 s more) */
        if (exit_at >= 0 && now >= exit_at && (atomic_load(&waiters) == 0 || now >= exit_at + 2000))
            break;
        if (kill_at >= 0 && now >= kill_at && alive) {
            LOG("agent ignored SIGTERM for %lld ms: SIGKILL", (long long)grace_ms);
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            kill_at = -1;
        }
        if (alive && !ready && now >= next_ready_probe) {
            unsigned ports = ports_accepting(5);
            if (ports != 0) {
                ready = true;
                set_agent_state(CP_AGENT_RUNNING, 0, 0);
                LOG("agent ready: port %d accepts, %lld ms after start, %.3fs after boot",
                    ports & CP_PORT_HTTP ? 8080 : ports & CP_PORT_MCP ? 8000 : 9000,
                    (long long)(mono_ms() - started), uptime_s());
            }
            next_ready_probe = now + 10;
        }
        int timeout = bridge_timers(epfd, now, alive);
        int64_t deadlines[] = { exit_at >= 0 && now >= exit_at ? now + 10 : exit_at, kill_at,
                                alive && !ready ? next_ready_probe : -1 };
        for (size_t i = 0; i < 3; i++) {
            if (deadlines[i] < 0)
                continue;
            int64_t w = deadlines[i] - now;
            if (w < 0)
                w = 0;
            if (timeout < 0 || w < timeout)
                timeout = (int)w;
        }

        struct epoll_event events[64];
        int n = epoll_wait(epfd, events, 64, timeout);
        if (n < 0 && errno != EINTR) {
            LOG("epoll_wait: %s", strerror(errno));
            return 1;
        }
        now = mono_ms();
        for (int i = 0; i < n; i++) {
            struct watch *w = events[i].data.ptr;
            if (w->kind == WATCH_BRIDGE) {
                bridge_event(epfd, (struct bridge_side *)w, events[i].events, now);
            } else if (w->kind == WATCH_LISTENER) {
                struct listener *l = (struct listener *)w;
                int fd;
                while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
                    if (!bridge_open(epfd, fd, l->port, now))
                        LOG("port %d: %d connections already open, refused one", l->port, BRIDGE_MAX);
            } else if (w->kind == WATCH_CONTROL) {
                accept_control(((struct listener *)w)->fd);
            } else if (w->kind == WATCH_WAKE) {
                if (eventfd_drain(wake_fd) > 0 && kill_at < 0 && exit_at < 0) {
                    LOG("shutdown requested: SIGTERM to the agent, %lld ms grace", (long long)grace_ms);
                    if (agent_alive()) {
                        kill(-pid, SIGTERM);
                        kill(pid, SIGTERM);
                        kill_at = now + grace_ms;
                    } else {
                        exit_at = now;
                    }
                }
            } else if (w->kind == WATCH_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        eventfd_signal(wake_fd);
                }
                int status;
                pid_t p;
                /* the agent only: EXEC's threads reap their own shells */
                while (pid > 0 && (p = waitpid(pid, &status, WNOHANG)) > 0) {
                    if (WIFEXITED(status)) {
                        exit_status = WEXITSTATUS(status);
                        set_agent_state(CP_AGENT_EXITED, exit_status, 0);
                        LOG("agent exited with status %d after %lld ms (not restarted)", exit_status,
                            (long long)(now - started));
                    } else {
                        exit_status = 128 + WTERMSIG(status);
                        set_agent_state(CP_AGENT_KILLED, 0, WTERMSIG(status));
                        LOG("agent killed by signal %d (%s) after %lld ms (not restarted)", WTERMSIG(status),
                            strsignal(WTERMSIG(status)), (long long)(now - started));
                    }
                    kill(-pid, SIGKILL);   /* whatever it left behind in its session */
                    exit_at = now + (kill_at >= 0 ? 0 : linger_ms);
                    kill_at = -1;
                }
            }
        }
    }
    LOG("exiting with status %d", exit_status);
    agent_config_free(&cfg);
    return exit_status;
}
