/* tests/e2e/progs/blk_guest_init.c — blk-guest-init: PID 1 of the e2e test root filesystem
 * (an ext4 image built by tests/e2e/progs/make-test-rootfs.sh, booted from virtio-blk). It reports
 * on the console what the device tests check, selected by `silo.test=` on the command line:
 *
 *   session    is / read-write? is /session.txt (left by an earlier session) there? write it,
 *              fsync, read it back; write and verify a 4 MiB file; print /etc/silo-base.txt
 *   ro         try to write on a read-only root: must fail
 *   rng        read /dev/hwrng, print how many bytes and distinct values came back
 *   readbench  read the whole of /dev/vda (or silo.dev=), silo.passes= times, and print MB/s
 *   vsock      start the guest side of the vsock tests (vsock-tool servers on 1234 echo,
 *              5000 sink, 5001 source; then connect out to CID 2 port 7000 and 7001) and stay up
 *   rtc        the PL031 alarm: set /sys/class/rtc/rtc0/wakealarm 2 s ahead, wait, and report
 *              whether the alarm interrupt arrived (/proc/interrupts, the wakealarm cleared)
 *   snapshot   the guest of tests/e2e/snapshot.sh: write /before-snapshot.txt, start the same
 *              servers plus the probe on vsock port 1240, say "snapshot: ready" and stay up.
 *              The probe reads one line; `seed=<64 hex> time=<sec>.<nsec>` first reseeds the
 *              kernel CRNG (RNDADDENTROPY + RNDRESEEDCRNG) and sets the wall clock, as agentd
 *              does after a restore; then it answers one line: 16 bytes of /dev/urandom, the
 *              wall and monotonic clocks, /before-snapshot.txt, and a 1 MiB disk write/read check
 * then powers off (except vsock, which the host ends). Every line starts `blk-guest-init:`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char cmdline[4096];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("blk-guest-init: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static const char *param(const char *name, const char *dflt)
{
    static char value[256];
    size_t len = strlen(name);
    for (char *p = cmdline; (p = strstr(p, name)) != NULL; p++) {
        if ((p == cmdline || p[-1] == ' ') && p[len] == '=') {
            size_t n = strcspn(p + len + 1, " \n");
            if (n >= sizeof value)
                n = sizeof value - 1;
            memcpy(value, p + len + 1, n);
            value[n] = '\0';
            return value;
        }
    }
    return dflt;
}

static void setup(void)
{
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL); /* EBUSY if the kernel did it: fine */
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    fd = open("/proc/cmdline", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
        cmdline[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    setenv("PATH", "/bin:/sbin", 1);
}

static int read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return (int)n;
}

static bool root_read_only(void)
{
    struct statvfs s;
    return statvfs("/", &s) == 0 && (s.f_flag & ST_RDONLY);
}

static void mode_session(void)
{
    char buf[256];
    say("root is %s", root_read_only() ? "read-only" : "read-write");
    if (read_file("/etc/silo-base.txt", buf, sizeof buf) >= 0)
        say("base file: %s", buf);
    if (read_file("/session.txt", buf, sizeof buf) >= 0)
        say("session file PRESENT from an earlier session: %s", buf);
    else
        say("session file absent (fresh layer)");
    uint32_t token;
    getrandom(&token, sizeof token, 0);
    char line[64];
    int n = snprintf(line, sizeof line, "session token %08x\n", token);
    int fd = open("/session.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        say("session write FAILED: %s", strerror(errno));
        return;
    }
    close(fd);
    line[n - 1] = '\0';
    if (read_file("/session.txt", buf, sizeof buf) >= 0 && strcmp(buf, line) == 0)
        say("session file written and read back: %s", buf);
    else
        say("session file read back WRONG");
    /* a bigger file through the page cache and back from the disk */
    static uint8_t block[65536];
    fd = open("/big.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < 64 && fd >= 0; i++) {
        for (size_t j = 0; j < sizeof block; j++)
            block[j] = (uint8_t)(i * 31 + j * 7 + (j >> 8));
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
            break;
    }
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (ok) {
        int dfd = open("/proc/sys/vm/drop_caches", O_WRONLY);
        if (dfd >= 0) {
            sync();
            ok = write(dfd, "3\n", 2) == 2;
            close(dfd);
        }
        lseek(fd, 0, SEEK_SET);
        for (int i = 0; i < 64 && ok; i++) {
            ok = read(fd, block, sizeof block) == (ssize_t)sizeof block;
            for (size_t j = 0; j < sizeof block && ok; j++)
                ok = block[j] == (uint8_t)(i * 31 + j * 7 + (j >> 8));
        }
    }
    if (fd >= 0)
        close(fd);
    say("4 MiB file written, dropped from cache, read back: %s", ok ? "ok" : "MISMATCH");
    sync();
}

static void mode_ro(void)
{
    say("root is %s", root_read_only() ? "read-only" : "read-write");
    int fd = open("/session.txt", O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        say("write refused: %s", strerror(errno));
    else
        say("write ALLOWED on a read-only disk");
    /* the block device itself refuses writes too */
    fd = open(param("silo.dev", "/dev/vda"), O_WRONLY);
    if (fd >= 0) {
        char zero[512] = { 0 };
        ssize_t n = pwrite(fd, zero, sizeof zero, 0);
        int fs = n == (ssize_t)sizeof zero ? fsync(fd) : -1;
        say("raw device write %s", n < 0 || fs != 0 ? "refused" : "ALLOWED");
        close(fd);
    } else {
        say("raw device write refused (open: %s)", strerror(errno));
    }
}

static void mode_rng(void)
{
    char cur[128] = "?";
    read_file("/sys/class/misc/hw_random/rng_current", cur, sizeof cur);
    int fd = open("/dev/hwrng", O_RDONLY);
    if (fd < 0) {
        say("hwrng: cannot open /dev/hwrng: %s (rng_current=%s)", strerror(errno), cur);
        return;
    }
    uint8_t buf[256];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int seen[256] = { 0 }, distinct = 0;
    for (size_t i = 0; i < got; i++)
        distinct += !seen[buf[i]]++;
    say("hwrng: rng_current=%s read %zu bytes, %d distinct values", cur, got, distinct);
}

/* Reads the whole device silo.passes times (default 1), dropping the page cache in between:
 * the first pass also measures the host faulting in fresh guest pages, later passes reuse them. */
static void mode_readbench(void)
{
    const char *dev = param("silo.dev", "/dev/vda");
    int passes = atoi(param("silo.passes", "1"));
    static uint8_t buf[1 << 20];
    for (int pass = 1; pass <= passes; pass++) {
        int dfd = open("/proc/sys/vm/drop_caches", O_WRONLY);
        if (dfd >= 0) {
            ssize_t w = write(dfd, "3\n", 2);
            (void)w;
            close(dfd);
        }
        int fd = open(dev, O_RDONLY);
        if (fd < 0) {
            say("readbench: cannot open %s: %s", dev, strerror(errno));
            return;
        }
        struct timespec a, b;
        uint64_t total = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            total += (uint64_t)n;
        clock_gettime(CLOCK_MONOTONIC, &b);
        close(fd);
        double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        say("readbench: pass=%d dev=%s bytes=%llu seconds=%.3f MBps=%.1f", pass, dev, (unsigned long long)total, dt,
            total / 1e6 / (dt > 0 ? dt : 1e-9));
    }
    /* the block layer's view: read requests, merges, sectors, ms spent */
    char stat[256], path[128];
    const char *base = strrchr(dev, '/');
    snprintf(path, sizeof path, "/sys/block/%s/stat", base != NULL ? base + 1 : dev);
    if (read_file(path, stat, sizeof stat) >= 0)
        say("readbench: %s stat: %s", path, stat);
}

static pid_t spawn(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        say("cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static void mode_vsock(void)
{
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%s", param("silo.bytes", "104857600"));
    const char *echo[] = { "/bin/vsock-tool", "serve", "vsock:1234", "echo", NULL };
    const char *sink[] = { "/bin/vsock-tool", "serve", "vsock:5000", "sink", NULL };
    const char *source[] = { "/bin/vsock-tool", "serve", "vsock:5001", "source", bytes, NULL };
    spawn(echo);
    spawn(sink);
    spawn(source);
    say("vsock servers started (echo 1234, sink 5000, source 5001)");
    pid_t out = fork();
    if (out == 0) {
        const char *send[] = { "/bin/vsock-tool", "--retry-ms", "600000", "send", "vsock:2:7000", bytes, NULL };
        const char *refused[] = { "/bin/vsock-tool", "refused", "vsock:2:7001", NULL };
        int st;
        pid_t p = spawn(send);
        waitpid(p, &st, 0);
        p = spawn(refused);
        waitpid(p, &st, 0);
        say("guest-initiated tests done");
        _exit(0);
    }
    for (;;) {
        if (wait(NULL) < 0 && errno == ECHILD)
            pause();
    }
}

#include <linux/random.h>
#include <linux/vm_sockets.h>

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* `seed=<64 hex> time=<sec>.<nsec>`: what agentd does on RESTORED, for this test guest. */
static const char *reseed(const char *line)
{
    union { /* struct rand_pool_info ends in the seed's words */
        struct rand_pool_info info;
        uint32_t words[sizeof(struct rand_pool_info) / 4 + 8];
    } pool;
    const char *p = strstr(line, "seed=");
    const char *t = strstr(line, "time=");
    if (p == NULL || t == NULL)
        return "not reseeded";
    p += 5;
    for (int i = 0; i < 32; i++) {
        int hi = hex_value(p[2 * i]), lo = hex_value(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return "bad seed";
        ((uint8_t *)&pool.words[sizeof(struct rand_pool_info) / 4])[i] = (uint8_t)(hi << 4 | lo);
    }
    pool.info.entropy_count = 256;
    pool.info.buf_size = 32;
    int fd = open("/dev/urandom", O_RDWR);
    if (fd < 0 || ioctl(fd, RNDADDENTROPY, &pool) != 0 || ioctl(fd, RNDRESEEDCRNG) != 0) {
        if (fd >= 0)
            close(fd);
        return "reseed failed";
    }
    close(fd);
    struct timespec ts = { 0, 0 };
    if (sscanf(t + 5, "%lld.%ld", (long long *)&ts.tv_sec, &ts.tv_nsec) < 1 || clock_settime(CLOCK_REALTIME, &ts) != 0)
        return "clock not set";
    return "reseeded";
}

/* 1 MiB written, synced and read back under a fresh name: the restored disk layer is writable. */
static const char *disk_check(unsigned n)
{
    static uint8_t a[1 << 20], b[1 << 20];
    char path[64];
    snprintf(path, sizeof path, "/probe-%u.bin", n);
    if (getrandom(a, sizeof a, 0) != (ssize_t)sizeof a)
        return "getrandom";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, a, sizeof a) != (ssize_t)sizeof a || fsync(fd) != 0 ||
        pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b || memcmp(a, b, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return "fail";
    }
    close(fd);
    unlink(path);
    return "ok";
}

static void serve_probe(void)
{
    int ls = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 1240 };
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0) {
        say("probe: cannot listen on vsock 1240: %s", strerror(errno));
        _exit(1);
    }
    for (unsigned n = 0;; n++) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        char line[512];
        size_t len = 0;
        while (len < sizeof line - 1) {
            ssize_t r = read(c, line + len, 1);
            if (r <= 0 || line[len] == '\n')
                break;
            len++;
        }
        line[len] = '\0';
        const char *seeded = reseed(line);
        uint8_t rnd[16];
        char hex[33] = "";
        int fd = open("/dev/urandom", O_RDONLY);
        if (fd >= 0 && read(fd, rnd, sizeof rnd) == (ssize_t)sizeof rnd)
            for (int i = 0; i < 16; i++)
                snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        if (fd >= 0)
            close(fd);
        struct timespec wall, mono;
        clock_gettime(CLOCK_REALTIME, &wall);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        char before[128] = "missing";
        if (read_file("/before-snapshot.txt", before, sizeof before) < 0)
            strcpy(before, "missing");
        before[strcspn(before, "\n")] = '\0';
        char answer[512];
        int alen = snprintf(answer, sizeof answer, "probe: %s urandom=%s realtime=%lld monotonic_ms=%lld before=%s disk=%s\n",
                            seeded, hex, (long long)wall.tv_sec,
                            (long long)mono.tv_sec * 1000 + mono.tv_nsec / 1000000, before, disk_check(n));
        if (write(c, answer, (size_t)alen) != alen)
            say("probe: answer not written");
        close(c);
    }
}

/* The count of the RTC's line in /proc/interrupts (-1: no such line). */
static long rtc_interrupts(void)
{
    static char text[16384];
    int fd = open("/proc/interrupts", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strstr(line, "rtc") == NULL && strstr(line, "pl031") == NULL)
            continue;
        char *p = strchr(line, ':');
        long total = 0;
        for (p = p ? p + 1 : line; *p == ' ' || (*p >= '0' && *p <= '9');) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            total += v;
            p = end;
        }
        return total;
    }
    return -1;
}

static void mode_rtc(void)
{
    long before = rtc_interrupts();
    int fd = open("/sys/class/rtc/rtc0/wakealarm", O_WRONLY);
    if (fd < 0 || write(fd, "+2", 2) != 2) {
        say("rtc: cannot set the wake alarm: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    close(fd);
    char alarm[64] = "";
    read_file("/sys/class/rtc/rtc0/wakealarm", alarm, sizeof alarm);
    alarm[strcspn(alarm, "\n")] = '\0';
    say("rtc: alarm set for %s (interrupts before: %ld)", alarm, before);
    sleep(4);
    long after = rtc_interrupts();
    char now[64] = "";
    read_file("/sys/class/rtc/rtc0/wakealarm", now, sizeof now);
    now[strcspn(now, "\n")] = '\0';
    say("rtc: interrupts before %ld after %ld; wakealarm now '%s'", before, after, now);
    if (after > before && before >= 0 && now[0] == '\0')
        say("rtc: alarm interrupt ok");
}

static void mode_snapshot(void)
{
    uint8_t id[8];
    char text[64];
    if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id)
        memset(id, 0, sizeof id);
    snprintf(text, sizeof text, "boot-%02x%02x%02x%02x%02x%02x%02x%02x\n", id[0], id[1], id[2], id[3], id[4], id[5],
             id[6], id[7]);
    int fd = open("/before-snapshot.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) != 0)
        say("snapshot: cannot write /before-snapshot.txt: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    const char *echo[] = { "/bin/vsock-tool", "serve", "vsock:1234", "echo", NULL };
    const char *sink[] = { "/bin/vsock-tool", "serve", "vsock:5000", "sink", NULL };
    const char *source[] = { "/bin/vsock-tool", "serve", "vsock:5001", "source", "104857600", NULL };
    spawn(echo);
    spawn(sink);
    spawn(source);
    if (fork() == 0) {
        serve_probe();
        _exit(0);
    }
    text[strcspn(text, "\n")] = '\0';
    say("snapshot: ready (echo 1234, sink 5000, source 5001, probe 1240; %s)", text);
    for (;;) {
        if (wait(NULL) < 0 && errno == ECHILD)
            pause();
    }
}

int main(void)
{
    setup();
    const char *mode = param("silo.test", "session");
    char m[64];
    snprintf(m, sizeof m, "%s", mode);
    say("mode %s", m);
    if (strcmp(m, "session") == 0)
        mode_session();
    else if (strcmp(m, "ro") == 0)
        mode_ro();
    else if (strcmp(m, "rng") == 0)
        mode_rng();
    else if (strcmp(m, "readbench") == 0)
        mode_readbench();
    else if (strcmp(m, "vsock") == 0)
        mode_vsock();
    else if (strcmp(m, "snapshot") == 0)
        mode_snapshot();
    else if (strcmp(m, "rtc") == 0)
        mode_rtc();
    else
        say("unknown mode");
    say("done, powering off");
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
