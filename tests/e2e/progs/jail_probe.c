/* tests/e2e/progs/jail_probe.c — exec'd by tests/e2e/jail.sh under silo-jail in place of
 * silo-vmm: reports, one `probe: NAME VALUE` line each, what the jailed process is and what it
 * can reach (ids, capability sets, visible files and processes, signals, ptrace, the network,
 * another session's Unix socket, rlimits, /dev/kvm). It judges nothing: jail.sh compares the
 * values with what was asked. Outcomes of calls are `ok` or the errno name (e.g. EPERM).
 *
 *   jail-probe --host-pid PID --tcp-port PORT --unix-socket PATH [--path PATH]... [--rw-dir DIR]
 *              [--control]
 * --rw-dir: a writable directory to try what Landlock refuses there (symlink, FIFO) and allows
 * --control: the control run outside the jail, as root: skip everything that would succeed there
 *   and change the host (PTRACE_ATTACH of host processes; the escapes: mount over /proc, chroot,
 *   a file in /), which earlier left the dev host without its /proc for the tests after this one.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errno_name(int e)
{
    switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EROFS: return "EROFS";
    case ENETUNREACH: return "ENETUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    default: return "other";
    }
}

static void report(const char *name, const char *value)
{
    printf("probe: %s %s\n", name, value);
}

static void report_call(const char *name, int rc)
{
    report(name, errno_name(rc == 0 ? 0 : errno));
}

static void ids(void)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    char buf[96];
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    snprintf(buf, sizeof buf, "%u,%u,%u", (unsigned)ru, (unsigned)eu, (unsigned)su);
    report("uids", buf);
    snprintf(buf, sizeof buf, "%u,%u,%u", (unsigned)rg, (unsigned)eg, (unsigned)sg);
    report("gids", buf);
    snprintf(buf, sizeof buf, "%d", getgroups(0, NULL));
    report("groups", buf);
}

/* CapEff, CapPrm, CapBnd, CapInh, CapAmb, NoNewPrivs, Seccomp from /proc/self/status */
static void status_fields(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL) {
        report("status", errno_name(errno));
        return;
    }
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Cap", 3) != 0 && strncmp(line, "NoNewPrivs:", 11) != 0)
            continue;
        char key[32], val[64];
        if (sscanf(line, "%31[^:]:%63s", key, val) == 2)
            report(key, val);
    }
    fclose(f);
}

static void paths(int argc, char *argv[])
{
    static const char *const fixed[] = { "/etc/shadow", "/etc/passwd", "/root", "/silo", "/tmp", "/sys", "/home",
                                         "/bin/busybox", "/dev/kvm", "/dev/null" };
    char name[4200];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        snprintf(name, sizeof name, "path:%s", fixed[i]);
        report(name, access(fixed[i], F_OK) == 0 ? "present" : errno_name(errno));
    }
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--path") == 0) {
            snprintf(name, sizeof name, "path:%s", argv[i + 1]);
            report(name, access(argv[i + 1], F_OK) == 0 ? "present" : errno_name(errno));
        }
}

/* The numeric entries of /proc, as one comma-separated list, and our own pid */
static void processes(void)
{
    char list[4096] = "";
    size_t used = 0;
    DIR *d = opendir("/proc");
    if (d == NULL) {
        report("proc", errno_name(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && used + strlen(e->d_name) + 2 < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? "," : "", e->d_name);
    closedir(d);
    report("proc-pids", list);
    char self[24];
    snprintf(self, sizeof self, "%ld", (long)getpid());
    report("self-pid", self);
}

/* PTRACE_ATTACH; should it succeed (it must not in the jail), detach at once and let the
 * tracee go on, so that a probe run outside the jail never leaves a process stopped */
static int try_attach(pid_t pid)
{
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) == -1)
        return -1;
    waitpid(pid, NULL, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    kill(pid, SIGCONT);
    return 0;
}

static void signals_and_ptrace(pid_t host_pid, bool attach)
{
    report_call("kill-1", kill(1, 0));
    report_call("kill-host", kill(host_pid, 0));
    if (!attach)
        return;
    report_call("ptrace-host", try_attach(host_pid));
    report_call("ptrace-1", try_attach(1));
}

static void network(int tcp_port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        report("tcp-socket", errno_name(errno));
        return;
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    report_call("tcp-connect", connect(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    FILE *f = fopen("/proc/self/net/dev", "re");
    int ifaces = -2; /* two header lines */
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        ifaces++;
    if (f != NULL)
        fclose(f);
    snprintf(line, sizeof line, "%d", f == NULL ? -1 : ifaces);
    report("net-interfaces", line);
}

static void unix_socket(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    report_call("unix-connect", connect(s, (struct sockaddr *)&a, sizeof a));
    close(s);
}

static void limits(void)
{
    static const struct { int res; const char *name; } all[] = {
        { RLIMIT_NOFILE, "rlimit-nofile" }, { RLIMIT_AS, "rlimit-as" }, { RLIMIT_NPROC, "rlimit-nproc" },
        { RLIMIT_CORE, "rlimit-core" },     { RLIMIT_MEMLOCK, "rlimit-memlock" },
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        struct rlimit rl;
        char buf[64];
        getrlimit(all[i].res, &rl);
        snprintf(buf, sizeof buf, "%llu,%llu", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
        report(all[i].name, buf);
    }
}

static void escapes(void)
{
    report_call("setuid-0", setuid(0));
    report_call("mount-tmpfs", mount("tmpfs", "/proc", "tmpfs", 0, NULL));
    report_call("chroot", chroot("/"));
    int fd = open("/escape-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    report("write-root", errno_name(fd >= 0 ? 0 : errno));
    if (fd >= 0)
        close(fd);
    char host[64] = "";
    gethostname(host, sizeof host);
    report("hostname", host);
}

/* Landlock (vmm/jail/jail_landlock.h): the kernel's ABI, and in the writable directory `dir`
 * what the mounts allow but Landlock refuses (a symlink, a FIFO) beside what it allows (a
 * regular file, created and removed). */
static void landlock(const char *dir)
{
    char buf[24], path[512];
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    snprintf(buf, sizeof buf, "%ld", abi < 0 ? 0L : abi);
    report("landlock-abi", buf);
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/probe-file", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    report("rw-dir-file", errno_name(fd >= 0 ? 0 : errno));
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/probe-link", dir);
    int r = symlink("/proc/1/root", path);
    report("rw-dir-symlink", errno_name(r == 0 ? 0 : errno));
    if (r == 0)
        unlink(path);
    snprintf(path, sizeof path, "%s/probe-fifo", dir);
    r = mkfifo(path, 0600);
    report("rw-dir-fifo", errno_name(r == 0 ? 0 : errno));
    if (r == 0)
        unlink(path);
}

static void kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        report("kvm-open", errno_name(errno));
        return;
    }
    report("kvm-open", "ok");
    char buf[16];
    snprintf(buf, sizeof buf, "%d", ioctl(fd, KVM_GET_API_VERSION, 0));
    report("kvm-api", buf);
    close(fd);
}

int main(int argc, char *argv[])
{
    pid_t host_pid = 1;
    int tcp_port = 1;
    const char *sock = "/nonexistent";
    bool control = false;
    const char *rw_dir = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--control") == 0)
            control = true;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--host-pid") == 0)
            host_pid = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--tcp-port") == 0)
            tcp_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--unix-socket") == 0)
            sock = argv[i + 1];
        else if (strcmp(argv[i], "--rw-dir") == 0)
            rw_dir = argv[i + 1];
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    ids();
    status_fields();
    paths(argc, argv);
    processes();
    signals_and_ptrace(host_pid, !control);
    network(tcp_port);
    unix_socket(sock);
    limits();
    if (!control)
        escapes();
    kvm();
    landlock(rw_dir);
    int fds = 0;
    for (int fd = 3; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            fds++;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", fds);
    report("open-fds-above-2", buf);
    report("done", "1");
    return 0;
}
