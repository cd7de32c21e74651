/* guest/agentd/kernel_cmdline.c — reads agentd's keys from the kernel command line (see
 * kernel_cmdline.h). */
#include "guest/agentd/kernel_cmdline.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/small_file.h"

void kernel_cmdline_read(const char *path, char *buf, size_t cap)
{
    (void)small_file_read(path, buf, cap);   /* "" when it cannot be read */
}

bool kernel_cmdline_value(const char *cmdline, const char *key, char *value, size_t cap)
{
    size_t key_len = strlen(key);
    bool found = false;
    const char *p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        size_t word = strcspn(p, " \n\t");
        if (word > key_len && p[key_len] == '=' && strncmp(p, key, key_len) == 0) {
            size_t n = word - key_len - 1;
            found = n < cap;
            if (found) {
                memcpy(value, p + key_len + 1, n);
                value[n] = '\0';
            }
        }
        p += word;
    }
    return found;
}

bool kernel_cmdline_region_valid(const char *region)
{
    size_t n = strlen(region);
    return n >= 1 && n <= 32 && strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

size_t kernel_cmdline_ports(const char *list, uint16_t *ports, size_t max)
{
    size_t count = 0;
    const char *p = list;
    while (*p && count < max) {
        size_t n = strcspn(p, ",");
        unsigned v = 0;
        bool ok = n >= 1 && n <= 5;
        for (size_t i = 0; ok && i < n; i++) {
            ok = p[i] >= '0' && p[i] <= '9';
            v = v * 10 + (unsigned)(p[i] - '0');
        }
        ok = ok && v >= 1 && v <= 65535;
        for (size_t i = 0; ok && i < count; i++)
            ok = ports[i] != v;
        if (ok)
            ports[count++] = (uint16_t)v;
        p += n + (p[n] == ',');
    }
    return count;
}
