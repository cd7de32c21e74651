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
 * The same binary boots under silo-vmm and under QEMU, so their figures compare like for like.
 */
#include "guest/init/boot_marker.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
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
    } else if (strcmp(mode, "cpus") == 0) {
        printf("silo-tiny-init: cpus %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    }
    printf("silo-tiny-init: powering off\n");
    reboot(RB_POWER_OFF);
    return 0;
}
