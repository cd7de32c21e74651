/* vmm/kvm_stats.c — reading a vCPU's KVM binary statistics by name (see kvm_stats.h). */
#include "vmm/kvm_stats.h"

#include <linux/kvm.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Where each named counter goes. */
static uint64_t *counter_for(struct kvm_exit_counts *c, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } names[] = {
        { "exits", offsetof(struct kvm_exit_counts, exits) },
        { "wfi_exit_stat", offsetof(struct kvm_exit_counts, wfi) },
        { "wfe_exit_stat", offsetof(struct kvm_exit_counts, wfe) },
        { "hvc_exit_stat", offsetof(struct kvm_exit_counts, hvc) },
        { "mmio_exit_kernel", offsetof(struct kvm_exit_counts, mmio_kernel) },
        { "mmio_exit_user", offsetof(struct kvm_exit_counts, mmio_user) },
        { "signal_exits", offsetof(struct kvm_exit_counts, signal) },
        { "halt_wakeup", offsetof(struct kvm_exit_counts, halt_wakeup) },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0)
            return (uint64_t *)((char *)c + names[i].offset);
    return NULL;
}

static int read_exact(int fd, void *buf, size_t len, off_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, offset + (off_t)done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

#define STATS_MAX_DESCRIPTORS 1024
#define STATS_MAX_NAME 256

int kvm_stats_add_from_fd(int fd, struct kvm_exit_counts *sum)
{
    struct kvm_stats_header h;
    if (read_exact(fd, &h, sizeof h, 0) != 0 || h.num_desc == 0 || h.num_desc > STATS_MAX_DESCRIPTORS ||
        h.name_size == 0 || h.name_size > STATS_MAX_NAME)
        return -1;
    size_t desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
    char *descs = malloc(desc_size * h.num_desc);
    if (descs == NULL)
        return -1;
    struct kvm_exit_counts found = *sum;
    int ret = read_exact(fd, descs, desc_size * h.num_desc, (off_t)h.desc_offset);
    for (uint32_t i = 0; ret == 0 && i < h.num_desc; i++) {
        struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * desc_size);
        d->name[h.name_size - 1] = '\0';
        uint64_t *counter = counter_for(&found, d->name);
        if (counter == NULL || d->size != 1) /* a single u64 each; histograms are not ours */
            continue;
        uint64_t value;
        if (read_exact(fd, &value, sizeof value, (off_t)h.data_offset + (off_t)d->offset) != 0) {
            ret = -1;
            break;
        }
        *counter += value;
    }
    free(descs);
    if (ret != 0)
        return -1;
    *sum = found;
    sum->available = true;
    return 0;
}

int kvm_stats_add_vcpu(int vcpu_fd, struct kvm_exit_counts *sum)
{
    int fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
    if (fd < 0)
        return -1;
    int r = kvm_stats_add_from_fd(fd, sum);
    close(fd);
    return r;
}

uint64_t kvm_exit_counts_other(const struct kvm_exit_counts *c)
{
    uint64_t known = c->wfi + c->wfe + c->hvc + c->mmio_kernel + c->mmio_user + c->signal;
    return c->exits > known ? c->exits - known : 0;
}
