/* guest/tiny-init/init.c — the tiny PID 1 used to measure and test bare guest boots.
 *
 * It is the only program in build/guest/tiny-initrd.cpio. It mounts devtmpfs and sysfs, prints
 * `silo-tiny-init: reached` on the console, writes the boot-complete marker byte (123) when the
 * device tree has a `silo-boot-marker` node (our VMM; QEMU has none), then acts on the kernel
 * command line:
 *   silo.tiny=poweroff (default)  power off at once
 *   silo.tiny=reboot              reboot (PSCI SYSTEM_RESET)
 *   silo.tiny=hang                stay up, idle, until killed from outside
 *   silo.tiny=touch:<MiB>         write <MiB> of memory, print a checksum, then power off
 *   silo.tiny=cpus                print the number of online CPUs, then power off
 *   silo.tiny=machine             print what the machine offers: SVE (vector length), pointer
 *                                 authentication, a PMU that counts (perf_event_open), the GIC
 *   silo.tiny=dmesg               print the kernel log (timestamped) and init's uptime: the
 *                                 guest's side of a cold boot
 * The same binary boots under silo-vmm and under QEMU, so their figures compare like for like.
 */
#include "guest/init/boot_marker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/hwcap.h>
#include <linux/perf_event.h>
#include <sys/auxv.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void console_setup(void)
{
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    setvbuf(stdout, NULL, _IONBF, 0);
}

static void write_boot_marker(void)
{
    char err[200];
    if (guest_write_boot_marker(err, sizeof err) < 0)
        printf("silo-tiny-init: %s\n", err);
}

/* Returns the value of silo.tiny= from /proc/cmdline (static buffer), "poweroff" if absent. */
static const char *tiny_mode(void)
{
    static char cmdline[4096];
    mkdir("/proc", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    int fd = open("/proc/cmdline", O_RDONLY);
    if (fd < 0)
        return "poweroff";
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    if (n <= 0)
        return "poweroff";
    cmdline[n] = '\0';
    char *p = strstr(cmdline, "silo.tiny=");
    if (p == NULL)
        return "poweroff";
    p += strlen("silo.tiny=");
    p[strcspn(p, " \n")] = '\0';
    return p;
}

static void touch_memory(unsigned long mib)
{
    size_t len = mib << 20;
    uint8_t *buf = malloc(len);
    uint64_t sum = 0;
    if (buf == NULL) {
        printf("silo-tiny-init: cannot allocate %lu MiB\n", mib);
        return;
    }
    for (size_t i = 0; i < len; i += 4096)
        buf[i] = (uint8_t)(i >> 12);
    for (size_t i = 0; i < len; i += 4096)
        sum += buf[i];
    printf("silo-tiny-init: touched %lu MiB, sum %llu\n", mib, (unsigned long long)sum);
}

/* silo.tiny=fill:N: N MiB written with a known pattern (every byte), then idle until killed —
 * guest memory full of data, for the wipe tests (tests/e2e/wipe_keeper.sh). */
static void fill_memory_and_wait(unsigned long mib)
{
    size_t len = mib << 20;
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        printf("silo-tiny-init: cannot allocate %lu MiB\n", mib);
        return;
    }
    memset(buf, 0xa5, len);
    printf("silo-tiny-init: filled %lu MiB with 0xa5\n", mib);
    fflush(stdout);
    for (;;)
        pause();
}

/* One line per feature, the same words under every VMM so the tests compare them. */
static void print_machine(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & HWCAP_SVE)
        printf("silo-tiny-init: sve vl=%d bytes\n", prctl(PR_SVE_GET_VL) & PR_SVE_VL_LEN_MASK);
    else
        printf("silo-tiny-init: sve none\n");
    printf("silo-tiny-init: pauth %s%s\n", (hw & HWCAP_PACA) ? "address " : "", (hw & HWCAP_PACG) ? "generic" : "");
    struct perf_event_attr attr = {
        .type = PERF_TYPE_HARDWARE,
        .size = sizeof attr,
        .config = PERF_COUNT_HW_CPU_CYCLES,
        .disabled = 1,
        .exclude_hv = 1,
    };
    int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    if (fd < 0) {
        printf("silo-tiny-init: pmu none (%s)\n", strerror(errno));
    } else {
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        volatile unsigned long spin = 0;
        for (unsigned long i = 0; i < 2000000; i++)
            spin = spin + i;
        if (spin == 1) /* never: only there so the loop's work is used */
            printf("silo-tiny-init: spin\n");
        ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
        unsigned long long cycles = 0;
        if (read(fd, &cycles, sizeof cycles) != (ssize_t)sizeof cycles)
            cycles = 0;
        printf("silo-tiny-init: pmu cycles=%llu\n", cycles);
        close(fd);
    }
    char line[256];
    FILE *f = fopen("/proc/interrupts", "r");
    const char *gic = "unknown";
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "GICv3") != NULL) {
            gic = "gicv3";
            break;
        }
        if (strstr(line, "GIC-0") != NULL || strstr(line, "GICv2") != NULL) {
            gic = "gicv2";
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    printf("silo-tiny-init: gic %s\n", gic);
}

/* The kernel log, each line prefixed, and how long the kernel ran before init (its uptime). */
static void print_dmesg(void)
{
    char uptime[64] = "?";
    int fd = open("/proc/uptime", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, uptime, sizeof uptime - 1);
        uptime[n > 0 ? n : 0] = '\0';
        uptime[strcspn(uptime, " \n")] = '\0';
        close(fd);
    }
    int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
    char *buf = size > 0 ? malloc((size_t)size + 1) : NULL;
    int n = buf != NULL ? klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size) : -1;
    for (char *line = buf; n > 0 && line < buf + n;) {
        char *end = memchr(line, '\n', (size_t)(buf + n - line));
        if (end == NULL)
            end = buf + n;
        printf("silo-tiny-init: dmesg: %.*s\n", (int)(end - line), line);
        line = end + 1;
    }
    free(buf);
    printf("silo-tiny-init: uptime at init %s s\n", uptime);
}

int main(void)
{
    console_setup();
    mkdir("/sys", 0755);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    printf("silo-tiny-init: reached\n");
    write_boot_marker();

    const char *mode = tiny_mode();
    if (strcmp(mode, "reboot") == 0) {
        reboot(RB_AUTOBOOT);
    } else if (strcmp(mode, "hang") == 0) {
        for (;;)
            pause();
    } else if (strncmp(mode, "touch:", 6) == 0) {
        touch_memory(strtoul(mode + 6, NULL, 10));
    } else if (strncmp(mode, "fill:", 5) == 0) {
        fill_memory_and_wait(strtoul(mode + 5, NULL, 10));
    } else if (strcmp(mode, "cpus") == 0) {
        printf("silo-tiny-init: cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    } else if (strcmp(mode, "machine") == 0) {
        print_machine();
    } else if (strcmp(mode, "dmesg") == 0) {
        print_dmesg();
    }
    printf("silo-tiny-init: powering off\n");
    reboot(RB_POWER_OFF);
    return 0;
}
