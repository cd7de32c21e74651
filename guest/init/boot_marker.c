/* guest/init/boot_marker.c — finds the marker node in the device tree and writes the byte
 * (see boot_marker.h). */
#include "guest/init/boot_marker.h"
#include "base/error_message.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DT_BASE "/sys/firmware/devicetree/base"

/* The physical address in the node's `reg` (two cells, big-endian), 0 when there is no node. */
static uint64_t boot_marker_address(void)
{
    DIR *dir = opendir(DT_BASE);
    struct dirent *e;
    uint64_t addr = 0;
    if (dir == NULL)
        return 0;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "silo-boot-marker@", 17) != 0)
            continue;
        char path[512];
        unsigned char reg[16];
        snprintf(path, sizeof path, DT_BASE "/%s/reg", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, reg, sizeof reg) >= 8)
            for (int i = 0; i < 8; i++)
                addr = addr << 8 | reg[i];
        if (fd >= 0)
            close(fd);
        break;
    }
    closedir(dir);
    return addr;
}

int guest_write_boot_marker(char *err, size_t errlen)
{
    uint64_t addr = boot_marker_address();
    if (addr == 0)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "boot marker: /dev/mem: %s", strerror(errno));
    uint64_t base = addr & ~(uint64_t)(page - 1);
    volatile uint8_t *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
    int saved = errno;
    close(fd);
    if (p == MAP_FAILED)
        return error_message(err, errlen, "boot marker: mmap 0x%llx: %s", (unsigned long long)base, strerror(saved));
    p[addr - base] = BOOT_MARKER_VALUE;
    munmap((void *)p, (size_t)page);
    return 1;
}
