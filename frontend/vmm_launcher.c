/* frontend/vmm_launcher.c — fork/exec of silo-vmm per session and the vsock CONNECT
 * handshake (see vmm_launcher.h). */
#include "frontend/vmm_launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vsock_read_line(int fd, char *buf, size_t len, int64_t deadline)
{
    size_t n = 0;
    while (n + 1 < len) {
        int left = (int)(deadline - mono_ms());
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

int vsock_connect(const char *uds_path, unsigned port, int timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(uds_path) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, uds_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int64_t deadline = mono_ms() + timeout_ms;
    char line[64];
    int n = snprintf(line, sizeof line, "CONNECT %u\n", port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, line, (size_t)n) != n ||
        vsock_read_line(fd, line, sizeof line, deadline) != 0 || strncmp(line, "OK ", 3) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool vsock_agent_running(const char *uds_path, int timeout_ms)
{
    int fd = vsock_connect(uds_path, 1024, timeout_ms);
    if (fd < 0)
        return false;
    static const char status[] = "STATUS\n";
    char line[256];
    bool running = write(fd, status, sizeof status - 1) == (ssize_t)(sizeof status - 1) &&
                   vsock_read_line(fd, line, sizeof line, mono_ms() + timeout_ms) == 0 &&
                   (strncmp(line, "OK STATUS state=running ", 24) == 0 ||
                    strncmp(line, "OK STATUS state=starting ", 25) == 0);
    close(fd);
    return running;
}

/* Readiness: an HTTP-protocol agent answers `GET /ping` on guest port 8080 with 200; an MCP
 * server (which has no /ping) answers anything HTTP to `GET /mcp` on port 8000. */
static bool agent_ready(const char *uds, bool mcp, int64_t deadline)
{
    int fd = vsock_connect(uds, mcp ? 8000 : 8080, (int)(deadline - mono_ms()));
    if (fd < 0)
        return false;
    static const char ping[] = "GET /ping HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";
    static const char mcp_get[] = "GET /mcp HTTP/1.1\r\nHost: agent\r\nAccept: text/event-stream\r\n"
                                  "Connection: close\r\n\r\n";
    const char *req = mcp ? mcp_get : ping;
    size_t len = mcp ? sizeof mcp_get - 1 : sizeof ping - 1;
    char line[128];
    int status = 0;
    bool ok = write(fd, req, len) == (ssize_t)len && vsock_read_line(fd, line, sizeof line, deadline) == 0 &&
              sscanf(line, "HTTP/1.%*d %d", &status) == 1 && (mcp ? status >= 100 : status == 200);
    close(fd);
    return ok;
}

static bool is_mcp(const char *config_json)
{
    json_object *cfg = config_json ? json_tokener_parse(config_json) : NULL, *pc, *sp;
    bool mcp = cfg && json_object_object_get_ex(cfg, "protocolConfiguration", &pc) &&
               json_object_object_get_ex(pc, "serverProtocol", &sp) &&
               strcmp(json_object_get_string(sp), "MCP") == 0;
    json_object_put(cfg);
    return mcp;
}

/* PR_SET_PDEATHSIG fires when the *thread* that forked exits, and silod's connection threads
 * come and go; so every VMM is forked by one spawner thread that lives as long as silod. */
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawn_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t spawner_once = PTHREAD_ONCE_INIT;
static const char *spawn_path;
static const char *const *spawn_argv;
static pid_t spawn_result;
static bool spawn_pending, spawn_done;

static pid_t fork_vmm(const char *path, const char *const *argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* SIGTERM, not SIGKILL: a VMM whose silod died ends its VM the normal way, wiping the
         * guest memory before it exits (silo-vmm takes SIGTERM at any point of its life) */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        for (int fd = 3; fd < 1024; fd++)   /* no inherited descriptors */
            if (fd != devnull)
                close(fd);
        if (devnull > 2)
            close(devnull);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void *spawner(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&spawn_lock);
    for (;;) {
        while (!spawn_pending)
            pthread_cond_wait(&spawn_cond, &spawn_lock);
        spawn_result = fork_vmm(spawn_path, spawn_argv);
        spawn_pending = false;
        spawn_done = true;
        pthread_cond_broadcast(&spawn_cond);
    }
    return NULL;
}

static void start_spawner(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, spawner, NULL) == 0)
        pthread_detach(t);
}

static pid_t spawn(const char *path, const char *const *argv)
{
    pthread_once(&spawner_once, start_spawner);
    pthread_mutex_lock(&spawn_lock);
    while (spawn_pending || spawn_done)
        pthread_cond_wait(&spawn_cond, &spawn_lock);
    spawn_path = path;
    spawn_argv = argv;
    spawn_pending = true;
    pthread_cond_broadcast(&spawn_cond);
    while (!spawn_done)
        pthread_cond_wait(&spawn_cond, &spawn_lock);
    pid_t pid = spawn_result;
    spawn_done = false;
    pthread_cond_broadcast(&spawn_cond);
    pthread_mutex_unlock(&spawn_lock);
    return pid;
}

static void close_extras(const struct vmm_launcher_config *cfg, struct session_vm *vm)
{
    if (cfg && cfg->vm_close && vm->launcher_data)
        cfg->vm_close(cfg->vm_ctx, vm->launcher_data);
    vm->launcher_data = NULL;
}

static void stop_vm(void *ctx, struct session_vm *vm)
{
    close_extras(ctx, vm);
    if (vm->pid > 0) {
        kill(vm->pid, SIGTERM);
        int64_t deadline = mono_ms() + 15000;
        int status;
        while (waitpid(vm->pid, &status, WNOHANG) == 0) {
            if (mono_ms() > deadline) {
                kill(vm->pid, SIGKILL);
                waitpid(vm->pid, &status, 0);
                break;
            }
            usleep(5000);
        }
        vm->pid = 0;
    }
    if (vm->vsock_path[0])
        unlink(vm->vsock_path);
}

static int start_vm(void *ctx, const struct session_spec *spec, struct session_vm *vm, char *err,
                    size_t err_len)
{
    const struct vmm_launcher_config *cfg = ctx;
    static unsigned counter;
    int len = snprintf(vm->vsock_path, sizeof vm->vsock_path, "%s/s%d-%u.sock", cfg->socket_dir,
                       (int)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    if (len < 0 || (size_t)len >= sizeof vm->vsock_path) {
        snprintf(err, err_len, "socket directory path too long");
        return -1;
    }
    char rootfs[4096], mem[32], cpus[16];
    snprintf(rootfs, sizeof rootfs, "%s/%s-v%d.ext4,cow", cfg->rootfs_dir, spec->runtime_id, spec->version);
    snprintf(mem, sizeof mem, "%uM", spec->guest_mib);
    snprintf(cpus, sizeof cpus, "%u", cfg->cpus ? cfg->cpus : 2);
    const char *argv[20];
    int a = 0;
    argv[a++] = cfg->vmm_path;
    argv[a++] = "--kernel"; argv[a++] = cfg->kernel;
    if (cfg->initrd) {
        argv[a++] = "--initrd"; argv[a++] = cfg->initrd;
    }
    argv[a++] = "--cmdline"; argv[a++] = cfg->cmdline ? cfg->cmdline : VMM_AGENT_CMDLINE;
    argv[a++] = "--mem"; argv[a++] = mem;
    argv[a++] = "--cpus"; argv[a++] = cpus;
    argv[a++] = "--disk"; argv[a++] = rootfs;
    argv[a++] = "--vsock-cid"; argv[a++] = "3";
    argv[a++] = "--vsock-uds"; argv[a++] = vm->vsock_path;
    if (cfg->verify_wipe)
        argv[a++] = "--verify-wipe";
    argv[a] = NULL;
    unlink(vm->vsock_path);
    vm->launcher_data = NULL;
    if (cfg->vm_open && !(vm->launcher_data = cfg->vm_open(cfg->vm_ctx, spec, vm->vsock_path, err, err_len)))
        return -1;
    pid_t pid = spawn(cfg->vmm_path, argv);
    if (pid < 0) {
        snprintf(err, err_len, "fork: %s", strerror(errno));
        close_extras(cfg, vm);
        return -1;
    }
    vm->pid = pid;
    int64_t deadline = mono_ms() + (cfg->ready_timeout_ms ? cfg->ready_timeout_ms : 30000);
    bool mcp = is_mcp(spec->config_json);
    vm->no_ping = mcp;
    while (mono_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            vm->pid = 0;
            snprintf(err, err_len, "the VMM exited before the agent was ready (status %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            close_extras(cfg, vm);
            unlink(vm->vsock_path);
            return -1;
        }
        if (agent_ready(vm->vsock_path, mcp, deadline))
            return 0;
        usleep(20000);
    }
    snprintf(err, err_len, "the agent did not answer /ping in time");
    stop_vm((void *)cfg, vm);
    return -1;
}

/* Without reaping (stop_vm reaps): WNOWAIT leaves a dead VMM's status in place. */
static bool vm_alive(void *ctx, const struct session_vm *vm)
{
    (void)ctx;
    if (vm->pid <= 0)
        return false;
    siginfo_t si = { 0 };
    if (waitid(P_PID, (id_t)vm->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false;
    return si.si_pid == 0;
}

/* ---------------------------------------------------------------- metering from /proc */

bool vmm_parse_task_stat(const char *text, size_t len, char *comm, size_t comm_len, uint64_t *ticks)
{
    /* "PID (COMM) STATE PPID ...": COMM may hold anything, ')' and spaces included, so the
     * fields start after the LAST ')'. utime and stime are fields 14 and 15. */
    const char *open = memchr(text, '(', len), *close = NULL;
    for (const char *p = text + len; p > text; p--)
        if (p[-1] == ')') {
            close = p - 1;
            break;
        }
    if (!open || !close || close < open)
        return false;
    size_t n = (size_t)(close - open - 1);
    if (comm_len) {
        size_t c = n < comm_len - 1 ? n : comm_len - 1;
        memcpy(comm, open + 1, c);
        comm[c] = '\0';
    }
    const char *p = close + 1, *end = text + len;
    uint64_t utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p == '\n')
            return false;
        uint64_t v = 0;
        bool digits = false;
        const char *start = p;
        while (p < end && *p != ' ' && *p != '\n') {
            if (*p >= '0' && *p <= '9' && v <= (UINT64_MAX - 9) / 10) {
                v = v * 10 + (uint64_t)(*p - '0');
                digits = true;
            } else if (!(field == 3 && p == start) && !(*p == '-' && p == start)) {
                return false;       /* only the state (field 3) and signed fields are not digits */
            }
            p++;
        }
        if (field == 14 || field == 15) {
            if (!digits || *start == '-')
                return false;
            if (field == 14)
                utime = v;
            else
                stime = v;
        }
    }
    *ticks = utime + stime;
    return true;
}

bool vmm_is_vcpu_thread_name(const char *comm)
{
    if (strncmp(comm, "vcpu", 4) != 0 || !comm[4])
        return false;
    for (const char *p = comm + 4; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return strlen(comm + 4) <= 4;
}

/* Reads at most max-1 bytes of a small /proc file. */
static ssize_t read_small(const char *path, char *buf, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < max && (r = read(fd, buf + n, max - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

bool vmm_measure(pid_t pid, struct vm_usage *out)
{
    memset(out, 0, sizeof *out);
    if (pid <= 0)
        return false;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ticks = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *endp;
        long tid = strtol(e->d_name, &endp, 10);
        if (*endp || tid <= 0)
            continue;
        char tpath[96];
        snprintf(tpath, sizeof tpath, "/proc/%d/task/%ld/stat", (int)pid, tid);
        ssize_t n = read_small(tpath, buf, sizeof buf);
        char comm[64];
        uint64_t t;
        if (n > 0 && vmm_parse_task_stat(buf, (size_t)n, comm, sizeof comm, &t) &&
            vmm_is_vcpu_thread_name(comm)) {
            ticks += t;
            out->vcpu_threads++;
        }
    }
    closedir(d);
    out->vcpu_ms = hz > 0 ? ticks * 1000 / (uint64_t)hz : 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    ssize_t n = read_small(path, buf, sizeof buf);
    const char *hwm = n > 0 ? strstr(buf, "\nVmHWM:") : NULL;
    if (hwm) {
        unsigned long long kib = strtoull(hwm + 7, NULL, 10);
        out->mem_peak_kib = kib;
    }
    return out->vcpu_threads > 0 || out->mem_peak_kib > 0;
}

static bool vm_usage(void *ctx, const struct session_vm *vm, struct vm_usage *out)
{
    const struct vmm_launcher_config *cfg = ctx;
    bool measured = vmm_measure(vm->pid, out);
    if (cfg && cfg->vm_counters && vm->launcher_data)
        cfg->vm_counters(cfg->vm_ctx, vm->launcher_data, out);
    return measured;
}

/* ---------------------------------------------------------------- stale sockets */

bool vmm_socket_name_ours(const char *name)
{
    /* s<pid>-<n>.sock, or a guest→host port socket s<pid>-<n>.sock_<port> */
    const char *p = name;
    if (*p++ != 's' || !(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p++ != '-' || !(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (strncmp(p, ".sock", 5) != 0)
        return false;
    p += 5;
    if (!*p)
        return true;
    if (*p++ != '_' || !*p)
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return !*p;
}

unsigned vmm_clean_socket_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!vmm_socket_name_ours(e->d_name))
            continue;
        /* the silod that made it: gone, or a previous life of our own pid */
        pid_t owner = (pid_t)strtol(e->d_name + 1, NULL, 10);
        if (owner != getpid() && (kill(owner, 0) == 0 || errno != ESRCH))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

struct session_launcher vmm_launcher(const struct vmm_launcher_config *cfg)
{
    return (struct session_launcher){ .start = start_vm, .stop = stop_vm, .alive = vm_alive,
                                      .ctx = (void *)cfg, .usage = vm_usage };
}
