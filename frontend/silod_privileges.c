/* frontend/silod_privileges.c — a root silod narrows its capabilities to the ones it and its
 * children need (the list and why each is kept: silod_privileges.h). */
#include "frontend/silod_privileges.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const int kept_capabilities[] = {
    CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_MKNOD,     CAP_SETUID,          CAP_SETGID, CAP_SETPCAP,
    CAP_SYS_RESOURCE, CAP_CHOWN,   CAP_FOWNER,    CAP_FSETID,          CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_KILL, CAP_IPC_LOCK,  CAP_NET_BIND_SERVICE,
};

uint64_t silod_kept_capabilities(void)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < sizeof kept_capabilities / sizeof kept_capabilities[0]; i++)
        mask |= 1ull << kept_capabilities[i];
    return mask;
}

int silod_narrow_capabilities(unsigned *kept, char *err, size_t err_len)
{
    if (kept)
        *kept = 0;
    if (geteuid() != 0)
        return 0;
    /* capabilities belong to each thread: narrowing one of several would leave the others whole */
    char status[4096];
    FILE *f = fopen("/proc/self/status", "re");
    size_t n = f ? fread(status, 1, sizeof status - 1, f) : 0;
    if (f)
        fclose(f);
    status[n] = '\0';
    const char *threads = strstr(status, "\nThreads:");
    if (threads && strtol(threads + 9, NULL, 10) > 1) {
        snprintf(err, err_len, "the capabilities must be narrowed before any thread is started (%ld threads)",
                 strtol(threads + 9, NULL, 10));
        return -1;
    }
    uint64_t mask = silod_kept_capabilities();
    /* the bounding set first (it needs CAP_SETPCAP, which stays), so no program silod starts
     * can gain the others back through exec */
    for (int cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (!(mask >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            snprintf(err, err_len, "cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
            return -1;
        }
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &hdr, data) != 0) {
        snprintf(err, err_len, "capget: %s", strerror(errno));
        return -1;
    }
    unsigned left = 0;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        uint32_t word = (uint32_t)(mask >> (32 * i));
        data[i].permitted &= word;
        data[i].effective &= word;
        data[i].inheritable &= word;
        left += (unsigned)__builtin_popcount(data[i].permitted);
    }
    if (syscall(SYS_capset, &hdr, data) != 0) {
        snprintf(err, err_len, "cannot narrow the capability sets: %s", strerror(errno));
        return -1;
    }
    if (kept)
        *kept = left;
    return 0;
}
