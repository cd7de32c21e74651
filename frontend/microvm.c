/* frontend/microvm.c — the guest channel (see microvm.h): the VMM's command line, the spawn
 * policy, the vsock client, readiness and agentd's control protocol. */
#include "frontend/microvm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/mono_time.h"
#include "base/fd_io.h"
#include "guest/agentd/control_proto.h"

_Static_assert(CP_PORT == GUEST_PORT_CONTROL, "agentd's control port is guest_ports.h's");

/* ---------------------------------------------------------------- the command line */

/* The argument strings that are made, not given, live in one caller buffer. */
struct arg_buf {
    char *buf;
    size_t len, used;
};

__attribute__((format(printf, 2, 3)))
static const char *arg_printf(struct arg_buf *b, const char *fmt, ...)
{
    if (b->used >= b->len)
        return NULL;
    char *s = b->buf + b->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, b->len - b->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->len - b->used)
        return NULL;
    b->used += (size_t)n + 1;
    return s;
}

int microvm_argv(const struct microvm_params *p, const char **argv, size_t cap, char *buf, size_t buf_len)
{
    if (p->restore_dir && *p->restore_dir) {
        if (!p->vmm_path || !p->vsock_path || cap < 8)
            return -1;
        size_t a = 0;
        argv[a++] = p->vmm_path;
        argv[a++] = "--restore"; argv[a++] = p->restore_dir;
        argv[a++] = "--vsock-uds"; argv[a++] = p->vsock_path;
        if (p->verify_wipe)
            argv[a++] = "--verify-wipe";
        if (p->wipe_keeper)
            argv[a++] = "--wipe-keeper";
        argv[a] = NULL;
        return (int)a;
    }
    if (!p->vmm_path || !p->kernel || !p->disk || !p->vsock_path)
        return -1;
    struct arg_buf b = { buf, buf_len, 0 };
    unsigned mib = p->shape.guest_mib ? p->shape.guest_mib : MICROVM_DEFAULT_GUEST_MIB;
    unsigned cpus = p->shape.cpus ? p->shape.cpus : MICROVM_DEFAULT_CPUS;
    const char *args[MICROVM_ARGV_MAX];
    size_t a = 0;
    args[a++] = p->vmm_path;
    args[a++] = "--kernel"; args[a++] = p->kernel;
    if (p->initrd && *p->initrd) {
        args[a++] = "--initrd"; args[a++] = p->initrd;
    }
    args[a++] = "--cmdline"; args[a++] = p->cmdline && *p->cmdline ? p->cmdline : MICROVM_AGENT_CMDLINE;
    args[a++] = "--mem"; args[a++] = arg_printf(&b, "%uM", mib);
    args[a++] = "--cpus"; args[a++] = arg_printf(&b, "%u", cpus);
    args[a++] = "--disk"; args[a++] = arg_printf(&b, "%s,cow", p->disk);
    args[a++] = "--vsock-cid"; args[a++] = arg_printf(&b, "%d", MICROVM_GUEST_CID);
    args[a++] = "--vsock-uds"; args[a++] = p->vsock_path;
    if (p->verify_wipe)
        args[a++] = "--verify-wipe";
    if (p->wipe_keeper)
        args[a++] = "--wipe-keeper";
    if (p->snapshot_to && *p->snapshot_to) {
        args[a++] = "--snapshot-to"; args[a++] = p->snapshot_to;
    }
    if (a + 1 > cap)
        return -1;
    for (size_t i = 0; i < a; i++)
        if (!(argv[i] = args[i]))
            return -1;
    argv[a] = NULL;
    return (int)a;
}

/* ---------------------------------------------------------------- the spawn policy */

/* In the child, between fork and exec: only async-signal-safe calls (the parent has threads). */
static void exec_child(pid_t parent, const char *const *argv, const char *const *envp, int stdout_fd, int stderr_fd,
                       int max_fd)
{
    setpgid(0, 0);                          /* a process group of its own */
    /* SIGTERM, not SIGKILL: a VMM whose parent died ends its VM the normal way, wiping the
     * guest memory before it exits (silo-vmm takes SIGTERM at any point of its life) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)                /* the parent died before prctl */
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigaction(SIGTERM, &dfl, NULL);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull < 0)
        _exit(127);
    if (dup2(devnull, 0) < 0 ||
        (stdout_fd != MICROVM_FD_INHERIT && dup2(stdout_fd == MICROVM_FD_NULL ? devnull : stdout_fd, 1) < 0) ||
        (stderr_fd != MICROVM_FD_INHERIT && dup2(stderr_fd == MICROVM_FD_NULL ? devnull : stderr_fd, 2) < 0))
        _exit(127);
    /* no inherited descriptors, also past 1024 (silod raises its descriptor limit) */
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
        for (int fd = 3; fd < max_fd; fd++)
            close(fd);
    if (envp)
        execve(argv[0], (char *const *)argv, (char *const *)envp);
    else
        execv(argv[0], (char *const *)argv);
    _exit(127);
}

static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawn_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t spawner_once = PTHREAD_ONCE_INIT;
static bool spawner_running;
static struct spawn_request {
    const char *const *argv;
    const char *const *envp;
    int stdout_fd, stderr_fd;
    pid_t pid;
    int error;
} *pending, *done;

static pid_t fork_child(const char *const *argv, const char *const *envp, int stdout_fd, int stderr_fd, int *error)
{
    struct rlimit rl;
    int max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1u << 20)
                     ? (int)rl.rlim_cur : 1 << 20;
    if (max_fd < 1024)
        max_fd = 1024;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        exec_child(parent, argv, envp, stdout_fd, stderr_fd, max_fd);
    *error = pid < 0 ? errno : 0;
    if (pid > 0)
        setpgid(pid, pid);                  /* also here: the group exists before any kill */
    return pid;
}

static void *spawner(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&spawn_lock);
    for (;;) {
        while (!pending)
            pthread_cond_wait(&spawn_cond, &spawn_lock);
        struct spawn_request *r = pending;
        r->pid = fork_child(r->argv, r->envp, r->stdout_fd, r->stderr_fd, &r->error);
        pending = NULL;
        done = r;
        pthread_cond_broadcast(&spawn_cond);
    }
    return NULL;
}

static void start_spawner(void)
{
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    /* the spawner takes no signals of the process (its children get an empty mask anyway) */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&t, NULL, spawner, NULL) == 0) {
        pthread_detach(t);
        spawner_running = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

pid_t microvm_spawn_argv(const char *const *argv, int stdout_fd, int stderr_fd)
{
    return microvm_spawn_argv_env(argv, NULL, stdout_fd, stderr_fd);
}

pid_t microvm_spawn_argv_env(const char *const *argv, const char *const *envp, int stdout_fd, int stderr_fd)
{
    pthread_once(&spawner_once, start_spawner);
    struct spawn_request r = { argv, envp, stdout_fd, stderr_fd, -1, 0 };
    if (!spawner_running) {
        errno = EAGAIN;
        return -1;
    }
    pthread_mutex_lock(&spawn_lock);
    while (pending || done)
        pthread_cond_wait(&spawn_cond, &spawn_lock);
    pending = &r;
    pthread_cond_broadcast(&spawn_cond);
    while (done != &r)
        pthread_cond_wait(&spawn_cond, &spawn_lock);
    done = NULL;
    pthread_cond_broadcast(&spawn_cond);
    pthread_mutex_unlock(&spawn_lock);
    errno = r.error;
    return r.pid;
}

pid_t microvm_spawn(const struct microvm_params *p, char *err, size_t err_len)
{
    const char *argv[MICROVM_ARGV_MAX];
    char buf[8192];
    if (microvm_argv(p, argv, MICROVM_ARGV_MAX, buf, sizeof buf) < 0) {
        snprintf(err, err_len, "the VMM's command line is incomplete or too long");
        return -1;
    }
    pid_t pid = microvm_spawn_argv(argv, p->stdout_fd, p->stderr_fd);
    if (pid < 0)
        snprintf(err, err_len, "fork: %s", strerror(errno));
    return pid;
}

int microvm_stop(pid_t pid)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM); /* a VMM already dead (a zombie) keeps the status it died with */
    int64_t deadline = mono_ms() + MICROVM_STOP_GRACE_MS;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 || (r < 0 && errno == EINTR)) {
        if (mono_ms() > deadline) {
            kill(pid, SIGKILL);
            while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
            }
            break;
        }
        usleep(5000);
    }
    return r == pid ? status : -1;
}

bool microvm_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    siginfo_t si = { 0 };
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false;
    return si.si_pid == 0;
}

/* ---------------------------------------------------------------- the vsock client */

int microvm_read_line(int fd, char *buf, size_t len, int64_t deadline_ms)
{
    return fd_read_line(fd, buf, len, deadline_ms, 0) >= 0 ? 0 : -1;
}

int microvm_connect(const char *vsock_path, unsigned port, int timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(vsock_path) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, vsock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int64_t deadline = mono_ms() + timeout_ms;
    char line[64];
    int n = snprintf(line, sizeof line, "CONNECT %u\n", port);
    int e = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || !fd_write_all(fd, line, (size_t)n)) {
        e = errno;
    } else {
        int got = fd_read_line(fd, line, sizeof line, deadline, 0);
        if (got == -2)
            e = ETIMEDOUT;                   /* the guest did not answer the VMM's REQUEST */
        else if (got < 0 || strncmp(line, "OK ", 3) != 0)
            e = ECONNREFUSED;                /* the VMM closed without OK: the guest refused (RST) */
    }
    if (e != 0) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------- agentd's control protocol */

/* One request on a new control connection; the connection (for WAIT: the answer comes later)
 * or -1. */
static int control_send(const char *vsock_path, enum cp_verb verb, int timeout_ms)
{
    char req[32];
    int len = cp_encode_request(verb, req, sizeof req);
    int fd = len > 0 ? microvm_connect(vsock_path, GUEST_PORT_CONTROL, timeout_ms) : -1;
    if (fd >= 0 && !fd_write_all(fd, req, (size_t)len)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* One request and its decoded OK answer: 0, else -1. */
static int control(const char *vsock_path, enum cp_verb verb, struct cp_response *resp, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = control_send(vsock_path, verb, timeout_ms);
    if (fd < 0)
        return -1;
    char line[CP_MAX_LINE + 1];
    int rc = microvm_read_line(fd, line, sizeof line, deadline) == 0 &&
             cp_decode_response(line, strlen(line), resp) == 0 && resp->ok && resp->verb == verb ? 0 : -1;
    close(fd);
    return rc;
}

int microvm_restored(pid_t pid, const char *vsock_path, int timeout_ms, char *err, size_t err_len)
{
    struct cp_restored a;
    struct timespec now;
    char req[CP_MAX_LINE + 1], line[CP_MAX_LINE + 1];
    if (getrandom(a.seed, sizeof a.seed, 0) != (ssize_t)sizeof a.seed) {
        snprintf(err, err_len, "getrandom: %s", strerror(errno));
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    a.sec = now.tv_sec;
    a.nsec = (int32_t)now.tv_nsec;
    int len = cp_encode_restored(&a, req, sizeof req);
    explicit_bzero(&a, sizeof a);
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = -1;
    /* the VMM creates its socket while it restores: retry until then, unless it exited */
    while (len > 0 && (fd = microvm_connect(vsock_path, GUEST_PORT_CONTROL, timeout_ms)) < 0 &&
           mono_ms() < deadline && microvm_alive(pid))
        usleep(5000);
    if (fd < 0) {
        explicit_bzero(req, sizeof req);
        snprintf(err, err_len, microvm_alive(pid) ? "agentd's control port cannot be reached"
                                                  : "the VMM exited (the snapshot was refused; its stderr says why)");
        return -1;
    }
    bool sent = fd_write_all(fd, req, (size_t)len);
    explicit_bzero(req, sizeof req);
    struct cp_response r;
    int rc = sent && microvm_read_line(fd, line, sizeof line, deadline) == 0 &&
                     cp_decode_response(line, strlen(line), &r) == 0 && r.verb == CP_RESTORED
                 ? 0 : -1;
    close(fd);
    if (rc != 0)
        snprintf(err, err_len, "agentd did not answer RESTORED (an image older than snapshots?)");
    else if (!r.ok) {
        snprintf(err, err_len, "agentd refused RESTORED: %s", r.error);
        rc = -1;
    }
    return rc;
}

/* 1 running or starting, 0 ended (why set), -1 not an agent answer */
static int agent_state(const struct cp_response *r, char *why, size_t why_len)
{
    if (!r->ok || (r->verb != CP_STATUS && r->verb != CP_WAIT))
        return -1;
    switch (r->u.agent.state) {
    case CP_AGENT_STARTING:
    case CP_AGENT_RUNNING:
        return 1;
    case CP_AGENT_EXITED:
        snprintf(why, why_len, "the agent exited with status %d", (int)r->u.agent.code);
        return 0;
    case CP_AGENT_KILLED:
        snprintf(why, why_len, "the agent was killed by signal %d (%s)", (int)r->u.agent.signal,
                 strsignal(r->u.agent.signal));
        return 0;
    case CP_AGENT_FAILED:
        snprintf(why, why_len, "the agent could not be started: %s", strerror(r->u.agent.code));
        return 0;
    }
    return -1;
}

int microvm_agent_state_line(const char *line, char *why, size_t why_len)
{
    struct cp_response r;
    if (cp_decode_response(line, strlen(line), &r) != 0)
        return -1;
    return agent_state(&r, why, why_len);
}

bool microvm_agent_running(const char *vsock_path, int timeout_ms)
{
    struct cp_response r;
    char why[128];
    return control(vsock_path, CP_STATUS, &r, timeout_ms) == 0 && agent_state(&r, why, sizeof why) == 1;
}

/* ---------------------------------------------------------------- readiness */

enum microvm_protocol microvm_protocol_named(const char *server_protocol)
{
    if (server_protocol && strcmp(server_protocol, "MCP") == 0)
        return MICROVM_MCP;
    if (server_protocol && strcmp(server_protocol, "A2A") == 0)
        return MICROVM_A2A;
    return MICROVM_HTTP;
}

enum microvm_protocol microvm_protocol_of(const char *config_json)
{
    json_object *cfg = config_json ? json_tokener_parse(config_json) : NULL, *pc, *sp;
    enum microvm_protocol p = MICROVM_HTTP;
    if (cfg && json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
        json_object_object_get_ex(pc, "serverProtocol", &sp) && json_object_is_type(sp, json_type_string))
        p = microvm_protocol_named(json_object_get_string(sp));
    json_object_put(cfg);
    return p;
}

static const struct microvm_contract contracts[] = {
    [MICROVM_HTTP] = { "HTTP", GUEST_PORT_HTTP, "/invocations", "/ping", false, "*/*", true },
    [MICROVM_MCP] = { "MCP", GUEST_PORT_MCP, "/mcp", "/mcp", true, "application/json, text/event-stream", false },
    [MICROVM_A2A] = { "A2A", GUEST_PORT_A2A, "/", MICROVM_A2A_CARD_PATH, false, "application/json", false },
};

const struct microvm_contract *microvm_contract(enum microvm_protocol p)
{
    return (unsigned)p < sizeof contracts / sizeof contracts[0] ? &contracts[p] : &contracts[MICROVM_HTTP];
}

const char *microvm_protocol_name(enum microvm_protocol p) { return microvm_contract(p)->name; }

/* GET `path` on guest `port`: the HTTP status, 0 for a connection without an answer, -1 when
 * the port cannot be reached. */
static int http_status(const char *vsock_path, unsigned port, const char *path, const char *accept,
                       int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = microvm_connect(vsock_path, port, timeout_ms);
    if (fd < 0)
        return -1;
    char req[256], line[256];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: agent\r\nAccept: %s\r\nConnection: close\r\n\r\n",
                       path, accept);
    int status = 0;
    if (!fd_write_all(fd, req, (size_t)len) || microvm_read_line(fd, line, sizeof line, deadline) != 0 ||
        sscanf(line, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    close(fd);
    return status;
}

/* One readiness probe by the protocol's contract; false with `state` saying what was seen. */
static bool probe(const char *vsock_path, enum microvm_protocol protocol, int timeout_ms, char *state, size_t len)
{
    const struct microvm_contract *k = microvm_contract(protocol);
    int s = http_status(vsock_path, k->port, k->ready_path, k->ready_accept, timeout_ms);
    if (k->ready_any_answer ? s >= 100 : s == 200)
        return true;
    if (s > 0)
        snprintf(state, len, "the agent answers GET %s with %d", k->ready_path, s);
    else
        snprintf(state, len, "the agent does not answer GET %s on port %u", k->ready_path, k->port);
    return false;
}

enum microvm_ready microvm_wait_ready(pid_t *pid, const char *vsock_path, const struct microvm_wait *w,
                                      int *exit_status, char *why, size_t why_len)
{
    char state[256];
    snprintf(state, sizeof state, "agentd never answered on vsock port %d: the guest did not finish booting",
             GUEST_PORT_CONTROL);
    int wait_fd = -1;          /* an open WAIT: agentd answers it when the agent ends */
    enum microvm_ready result = MICROVM_TIMED_OUT;
    int interval_ms = w->interval_ms > 0 ? w->interval_ms : 20;
    for (;;) {
        if (w->cancelled && *w->cancelled) {
            result = MICROVM_CANCELLED;
            snprintf(state, sizeof state, "cancelled");
            break;
        }
        if (mono_ms() >= w->deadline_ms)
            break;
        if (wait_fd >= 0) {
            struct pollfd p = { wait_fd, POLLIN, 0 };
            if (poll(&p, 1, 0) > 0) {
                char line[CP_MAX_LINE + 1];
                if (microvm_read_line(wait_fd, line, sizeof line, mono_ms() + 2000) == 0 &&
                    microvm_agent_state_line(line, state, sizeof state) == 0) {
                    result = MICROVM_AGENT_ENDED;
                    break;
                }
                close(wait_fd);         /* agentd went away without an answer: ask again */
                wait_fd = -1;
            }
        }
        int status;
        if (*pid > 0 && waitpid(*pid, &status, WNOHANG) == *pid) {
            *pid = 0;
            if (exit_status)
                *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            result = MICROVM_VMM_EXITED;
            break;
        }
        if (w->watch_agent && wait_fd < 0) {
            int left = (int)(w->deadline_ms - mono_ms());
            wait_fd = control_send(vsock_path, CP_WAIT, left < 2000 ? (left > 0 ? left : 1) : 2000);
            if (wait_fd >= 0)
                snprintf(state, sizeof state, "agentd is up, the agent is not ready");
        }
        if (!w->watch_agent || wait_fd >= 0) {
            int left = (int)(w->deadline_ms - mono_ms());
            if (probe(vsock_path, w->protocol, left < 3000 ? (left > 0 ? left : 1) : 3000, state, sizeof state)) {
                result = MICROVM_READY;
                break;
            }
        }
        usleep((useconds_t)interval_ms * 1000);
    }
    if (wait_fd >= 0)
        close(wait_fd);
    if (result != MICROVM_READY)
        snprintf(why, why_len, "%s", state);
    return result;
}
