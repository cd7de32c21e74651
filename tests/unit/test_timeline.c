/* tests/unit/test_timeline.c — vmm/kvm_stats.c (a vCPU's binary statistics, from files laid out
 * as KVM lays them out, hostile ones included) and vmm/timeline.c (events in time order, steps,
 * the counts lines). */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/kvm_stats.h"
#include "vmm/timeline.h"

#define NAME_SIZE 48

struct stat_row {
    const char *name;
    uint16_t size;
    uint64_t value;
};

/* Writes a statistics file: header, descriptors, data, as KVM_GET_STATS_FD presents it. */
static int stats_file(const struct stat_row *rows, uint32_t n, uint32_t claimed_desc, uint32_t data_offset_shift)
{
    char path[] = "/tmp/test_timeline.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    size_t desc_size = sizeof(struct kvm_stats_desc) + NAME_SIZE;
    struct kvm_stats_header h = {
        .name_size = NAME_SIZE,
        .num_desc = claimed_desc,
        .id_offset = sizeof h,
        .desc_offset = sizeof h + 64,
        .data_offset = (uint32_t)(sizeof h + 64 + desc_size * n) + data_offset_shift,
    };
    CHECK(pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    uint64_t data_off = 0;
    for (uint32_t i = 0; i < n; i++) {
        char buf[sizeof(struct kvm_stats_desc) + NAME_SIZE];
        memset(buf, 0, sizeof buf);
        struct kvm_stats_desc *d = (struct kvm_stats_desc *)buf;
        d->size = rows[i].size;
        d->offset = (uint32_t)data_off;
        snprintf(d->name, NAME_SIZE, "%s", rows[i].name);
        CHECK(pwrite(fd, buf, desc_size, (off_t)(h.desc_offset + i * desc_size)) == (ssize_t)desc_size);
        for (uint16_t k = 0; k < rows[i].size; k++) {
            uint64_t v = rows[i].value + k;
            CHECK(pwrite(fd, &v, sizeof v, (off_t)(sizeof h + 64 + desc_size * n + data_off)) ==
                  (ssize_t)sizeof v);
            data_off += sizeof v;
        }
    }
    return fd;
}

static const struct stat_row rows[] = {
    { "halt_poll_success_ns", 1, 7 },
    { "halt_wakeup", 1, 4 },
    { "halt_poll_success_hist", 32, 1 }, /* a histogram: not ours */
    { "exits", 1, 1000 },
    { "wfi_exit_stat", 1, 100 },
    { "wfe_exit_stat", 1, 2 },
    { "hvc_exit_stat", 1, 30 },
    { "mmio_exit_user", 1, 180 },
    { "mmio_exit_kernel", 1, 200 },
    { "signal_exits", 1, 3 },
};

static void test_stats_read_by_name(void)
{
    uint32_t n = sizeof rows / sizeof rows[0];
    int fd = stats_file(rows, n, n, 0);
    struct kvm_exit_counts c = { 0 };
    CHECK_EQ(kvm_stats_add_from_fd(fd, &c), 0);
    CHECK(c.available);
    CHECK_EQ(c.exits, 1000);
    CHECK_EQ(c.wfi, 100);
    CHECK_EQ(c.wfe, 2);
    CHECK_EQ(c.hvc, 30);
    CHECK_EQ(c.mmio_user, 180);
    CHECK_EQ(c.mmio_kernel, 200);
    CHECK_EQ(c.signal, 3);
    CHECK_EQ(c.halt_wakeup, 4);
    CHECK_EQ(kvm_exit_counts_other(&c), 1000 - 100 - 2 - 30 - 180 - 200 - 3);
    /* a second vCPU adds up */
    CHECK_EQ(kvm_stats_add_from_fd(fd, &c), 0);
    CHECK_EQ(c.exits, 2000);
    CHECK_EQ(c.wfi, 200);
    close(fd);
}

static void test_stats_hostile_files_refused(void)
{
    uint32_t n = sizeof rows / sizeof rows[0];
    struct kvm_exit_counts c = { 0 };
    int fd = stats_file(rows, n, 100000, 0); /* absurd descriptor count */
    CHECK_EQ(kvm_stats_add_from_fd(fd, &c), -1);
    close(fd);
    fd = stats_file(rows, n, n + 1000, 0); /* more descriptors claimed than the file holds */
    CHECK_EQ(kvm_stats_add_from_fd(fd, &c), -1);
    close(fd);
    fd = stats_file(rows, n, n, 1 << 20); /* data beyond the end */
    CHECK_EQ(kvm_stats_add_from_fd(fd, &c), -1);
    close(fd);
    CHECK(!c.available);
    CHECK_EQ(c.exits, 0); /* untouched by a failed read */
    fd = stats_file(rows, 0, 0, 0);
    CHECK_EQ(kvm_stats_add_from_fd(fd, &c), -1);
    close(fd);
    CHECK_EQ(kvm_stats_add_from_fd(-1, &c), -1);
    CHECK(kvm_stats_add_vcpu(-1, &c) == -1);
    struct kvm_exit_counts odd = { .exits = 5, .wfi = 9 };
    CHECK_EQ(kvm_exit_counts_other(&odd), 0); /* never below zero */
}

static void test_timeline_in_time_order(void)
{
    struct timeline t;
    timeline_start(&t, 1000000000ULL);
    timeline_add_at(&t, "guest: boot-complete marker", 1000000000ULL + 300000000ULL);
    timeline_add_at(&t, "never reached", 0);
    timeline_add_at(&t, "set-up done", 1000000000ULL + 20000000ULL);
    timeline_add_at(&t, "guest: first console output", 1000000000ULL + 250000000ULL);
    CHECK_EQ(t.count, 3);
    struct timeline_counts c = { .mmio_devices = 2, .system_events = 1 };
    c.mmio[0].name = "uart";
    c.mmio[0].accesses = 163;
    c.mmio[1].name = "rtc";
    c.mmio[1].accesses = 0;
    c.kvm.available = true;
    c.kvm.exits = 50;
    c.guest_minor_faults = 7;
    char buf[4096] = "";
    FILE *out = fmemopen(buf, sizeof buf - 1, "w");
    timeline_print(&t, &c, out);
    fclose(out);
    const char *setup = strstr(buf, "set-up done");
    const char *first = strstr(buf, "first console output");
    const char *marker = strstr(buf, "boot-complete marker");
    CHECK(setup != NULL && first != NULL && marker != NULL && setup < first && first < marker);
    CHECK(strstr(buf, "never reached") == NULL);
    CHECK(strstr(buf, "     250.0     230.0         -  guest: first console output") != NULL);
    CHECK(strstr(buf, "exits to silo-vmm: 163 MMIO (uart 163), 1 system event(s)") != NULL);
    CHECK(strstr(buf, "rtc") == NULL); /* devices without exits are left out */
    CHECK(strstr(buf, "exits inside KVM: 50 in all") != NULL);
    CHECK(strstr(buf, "7 minor, 0 major") != NULL);
    if (strstr(buf, "exits to silo-vmm: 163 MMIO (uart 163)") == NULL)
        fprintf(stderr, "%s", buf);
}

static void test_timeline_is_bounded(void)
{
    struct timeline t;
    timeline_start(&t, 1);
    for (int i = 0; i < TIMELINE_MAX_EVENTS + 10; i++)
        timeline_mark(&t, "a step with a long name that goes on and on and on and on and on and on and on and on "
                          "and on and on and on and on and on and on and on and on and on and on and on and on");
    CHECK_EQ(t.count, TIMELINE_MAX_EVENTS);
    CHECK(t.events[0].cpu_ns != UINT64_MAX && t.events[0].wall_ns >= 1);
    CHECK_EQ(strlen(t.events[0].what), TIMELINE_WHAT_MAX - 1);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "KVM binary statistics read by name and summed over vCPUs", test_stats_read_by_name },
        { "hostile statistics files refused, counts untouched", test_stats_hostile_files_refused },
        { "timeline printed in time order with steps and counts", test_timeline_in_time_order },
        { "timeline keeps at most its capacity, names cut to size", test_timeline_is_bounded },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
