/* guest/init/init.c — silo-init, PID 1 of every agent microVM (installed as /silo/init by the
 * image builder).
 *
 * Kernel command line silo-vmm / silod pass (the image is attached with `--disk IMG,cow`):
 *     console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet
 * The root is mounted read-write by the kernel: silo-vmm's copy-on-write disk keeps every write
 * in a private layer that dies with the VM, so the shared image file never changes and no
 * overlayfs or second scratch disk is needed. Optional: silo.hostname=NAME (default "localhost"),
 * silo.debug (more console lines).
 *
 * In order, with no shell anywhere: mount /proc, /sys, /dev (devtmpfs, if the kernel did not),
 * /dev/pts, /dev/shm, /tmp and /run; console on fds 0-2; loopback up (SIOCSIFFLAGS; the kernel
 * gives lo 127.0.0.1 by itself); hostname; the wall clock is already set from the PL031 RTC by
 * the kernel (RTC_HCTOSYS); write the boot-complete marker (byte 123 at the address of the
 * device tree node `silo-boot-marker@...`, only when that node exists: silo-vmm has it, QEMU
 * does not); start /silo/agentd; then reap every orphan. When agentd exits (the agent ended,
 * or the host asked for SHUTDOWN), or on SIGUSR2/SIGTERM/SIGPWR, everything left gets SIGTERM,
 * then SIGKILL, and the VM powers off with reboot(RB_POWER_OFF). PID 1 never exits.
 */
#include "guest/init/boot_marker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENTD_PATH "/silo/agentd"

static bool debug;

static double uptime_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define SAY(...) (printf("silo-init: " __VA_ARGS__), putchar('\n'))

static void mount_one(const char *src, const char *dir, const char *type, unsigned long flags, const char *data)
{
    mkdir(dir, 0755);
    if (mount(src, dir, type, flags, data) < 0 && errno != EBUSY)
        SAY("mount %s on %s: %s", type, dir, strerror(errno));
}

static void console_setup(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void mount_all(void)
{
    const unsigned long nodev = MS_NOSUID | MS_NODEV, noexec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    console_setup();
    mount_one("proc", "/proc", "proc", noexec, NULL);
    mount_one("sysfs", "/sys", "sysfs", noexec, NULL);
    mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
    mount_one("tmpfs", "/dev/shm", "tmpfs", nodev, "mode=1777");
    mount_one("tmpfs", "/tmp", "tmpfs", nodev, "mode=1777");
    mount_one("tmpfs", "/run", "tmpfs", nodev, "mode=0755");
}

static void cmdline_options(char *hostname, size_t cap)
{
    char buf[4096];
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    snprintf(hostname, cap, "localhost");
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (char *save = NULL, *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
        if (strncmp(w, "silo.hostname=", 14) == 0 && w[14] != '\0' && strlen(w + 14) < cap)
            snprintf(hostname, cap, "%s", w + 14);
        else if (strcmp(w, "silo.debug") == 0)
            debug = true;
    }
}

static void loopback_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        SAY("loopback: socket: %s", strerror(errno));
        return;
    }
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        SAY("loopback: SIOCGIFFLAGS: %s", strerror(errno));
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            SAY("loopback: SIOCSIFFLAGS: %s", strerror(errno));
    }
    close(fd);
}

static void write_boot_marker(void)
{
    char err[200];
    if (guest_write_boot_marker(err, sizeof err) < 0)
        SAY("%s", err);
}

static pid_t start_agentd(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char *argv[] = { (char *)"agentd", NULL };
        char *envp[] = { (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         (char *)"HOME=/root", NULL };
        execve(AGENTD_PATH, argv, envp);
        printf("silo-init: cannot run %s: %s\n", AGENTD_PATH, strerror(errno));
        _exit(127);
    }
    if (pid < 0)
        SAY("fork: %s", strerror(errno));
    return pid;
}

static void reap(pid_t watched, bool *watched_ended, int *status_out)
{
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        if (p == watched) {
            *watched_ended = true;
            *status_out = status;
        }
    }
}

static void power_off(void)
{
    SAY("powering off at %.3fs", uptime_s());
    kill(-1, SIGTERM);
    for (int i = 0; i < 50; i++) {     /* up to 500 ms for everything left to go */
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        if (kill(-1, 0) < 0 && errno == ESRCH)
            break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(-1, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

int main(void)
{
    if (getpid() != 1) {
        fprintf(stderr, "silo-init: must run as PID 1 (it powers the machine off)\n");
        return 1;
    }
    sigset_t mask;
    sigfillset(&mask);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    double started = uptime_s(); /* the kernel's part of the boot ends here */
    mount_all();
    double mounted = uptime_s();
    char hostname[65];
    cmdline_options(hostname, sizeof hostname);
    if (sethostname(hostname, strlen(hostname)) < 0)
        SAY("sethostname: %s", strerror(errno));
    loopback_up();
    struct rlimit nofile = { 65536, 65536 };
    setrlimit(RLIMIT_NOFILE, &nofile);
    if (time(NULL) < 1000000000)
        SAY("warning: the clock reads %lld; no RTC?", (long long)time(NULL));

    pid_t agentd = start_agentd();
    write_boot_marker();
    SAY("up at %.3fs, agentd pid %d (init started at %.3fs; mounts took %.3fs)", uptime_s(), (int)agentd, started,
        mounted - started);
    if (agentd < 0)
        power_off();

    for (;;) {
        siginfo_t si;
        struct timespec ts = { 60, 0 };
        int sig = sigtimedwait(&mask, &si, &ts);
        bool ended = false;
        int status = 0;
        reap(agentd, &ended, &status);
        if (ended) {
            if (WIFEXITED(status))
                SAY("agentd exited with status %d", WEXITSTATUS(status));
            else
                SAY("agentd killed by signal %d", WTERMSIG(status));
            power_off();
        }
        if (sig == SIGUSR2 || sig == SIGTERM || sig == SIGPWR || sig == SIGUSR1) {
            SAY("signal %d: shutting down", sig);
            power_off();
        }
        if (debug && sig > 0 && sig != SIGCHLD)
            SAY("ignored signal %d", sig);
    }
}
