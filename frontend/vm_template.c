/* frontend/vm_template.c — a version's template directory (see vm_template.h). */
#include "frontend/vm_template.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/small_file.h"

#define PATH_CAP 4400

bool vm_template_paths(const char *image, char *dir, size_t dir_len, char *tmp, size_t tmp_len)
{
    size_t n = strlen(image);
    if (n < 6 || strcmp(image + n - 5, ".ext4") != 0)
        return false;
    if ((size_t)snprintf(dir, dir_len, "%.*s.snap", (int)(n - 5), image) >= dir_len)
        return false;
    return tmp == NULL || (size_t)snprintf(tmp, tmp_len, "%.*s.snap.tmp", (int)(n - 5), image) < tmp_len;
}

int vm_template_write_shape(const char *dir, unsigned guest_mib, unsigned cpus)
{
    char path[PATH_CAP], line[64];
    snprintf(path, sizeof path, "%s/shape", dir);
    int n = snprintf(line, sizeof line, "%u %u\n", guest_mib, cpus);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, line, (size_t)n) == n;
    return close(fd) == 0 && ok ? 0 : -1;
}

bool vm_template_usable(const char *dir, unsigned guest_mib, unsigned cpus, char *why, size_t why_len)
{
    char path[PATH_CAP], text[64];
    struct stat st;
    snprintf(path, sizeof path, "%s/state", dir);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "the version has no template");
        return false;
    }
    snprintf(path, sizeof path, "%s/shape", dir);
    ssize_t n = small_file_read(path, text, sizeof text - 1);
    unsigned mib = 0, n_cpus = 0;
    char extra;
    if (n <= 0 || (text[n] = '\0', sscanf(text, "%u %u %c", &mib, &n_cpus, &extra) != 2)) {
        snprintf(why, why_len, "the template's shape file is missing or malformed");
        return false;
    }
    if (mib != guest_mib || n_cpus != cpus) {
        snprintf(why, why_len, "the template has %u MiB and %u vCPUs, the session %u MiB and %u vCPUs", mib, n_cpus,
                 guest_mib, cpus);
        return false;
    }
    return true;
}

static void remove_snapshot_files(const char *dir)
{
    static const char *const names[] = { "state", "state.tmp", "memory", "shape", "disk0.layer", "disk1.layer",
                                         "disk2.layer", "disk3.layer", "disk4.layer", "disk5.layer",
                                         "disk6.layer", "disk7.layer" };
    char path[PATH_CAP + 64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

void vm_template_remove(const char *dir)
{
    char inner[PATH_CAP];
    if (strlen(dir) + sizeof VM_TEMPLATE_JAILED_ENTRY + 1 <= sizeof inner) {
        snprintf(inner, sizeof inner, "%s/%s", dir, VM_TEMPLATE_JAILED_ENTRY);
        remove_snapshot_files(inner);
    }
    remove_snapshot_files(dir);
}
