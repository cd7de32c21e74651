/* vmm/snapshot.c — snapshot directories: taking one, and restoring from one (see snapshot.h). */
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error_message.h"
#include "base/mono_time.h"
#include "devices/platform_devices.h"
#include "devices/virtio/virtio_devices.h"
#include "vmm/vm_state.h"

#define STATE_FILE "state"
#define STATE_TMP "state.tmp"
#define MEMORY_FILE "memory"

/* ---------------------------------------------------------------- the machine record */

static void save_machine(struct state_writer *w, const struct vm *vm, const struct vmm_config *cfg)
{
    state_put_u64(w, vm->mem.size);
    state_put_u32(w, vm->vcpu_count);
    state_put_u32(w, (uint32_t)vm->gic_version);
    state_put_u32(w, vm->ipa_bits);
    state_put_u32(w, cfg->disk_count);
    for (uint32_t i = 0; i < cfg->disk_count; i++) {
        char abs[PATH_MAX];
        /* absolute, so a restore started from another directory finds it */
        state_put_str(w, realpath(cfg->disks[i].path, abs) != NULL ? abs : cfg->disks[i].path);
        state_put_u8(w, cfg->disks[i].read_only);
        state_put_u8(w, cfg->disks[i].cow);
    }
    state_put_u32(w, cfg->vsock_cid);
    state_put_u8(w, cfg->rng);
    state_put_str(w, cfg->cmdline != NULL ? cfg->cmdline : "");
    state_put_u32(w, vm->cpu_features); /* the vCPUs must be created alike */
}

static int load_machine(struct snapshot_restore *s, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    struct state_reader r;
    state_reader_init(&r, data, len);
    struct vmm_config *c = &s->cfg;
    c->mem_bytes = state_get_u64(&r);
    c->cpus = state_get_u32(&r);
    s->gic_version = state_get_u32(&r);
    (void)state_get_u32(&r); /* IPA bits: vm_open sizes them from the memory again */
    c->disk_count = state_get_u32(&r);
    if (!state_reader_ok(&r, false) || c->disk_count > VMM_MAX_DISKS || c->cpus == 0 || c->cpus > 64 ||
        c->mem_bytes < (16ULL << 20) || c->mem_bytes > (1ULL << 40) || c->mem_bytes % (64u << 10) != 0)
        return error_message(err, errlen, "the snapshot's machine record is malformed");
    for (uint32_t i = 0; i < c->disk_count; i++) {
        state_get_str(&r, s->disk_paths[i], sizeof s->disk_paths[i]);
        uint8_t ro = state_get_u8(&r), cow = state_get_u8(&r);
        if (ro > 1 || cow > 1 || s->disk_paths[i][0] == '\0')
            r.failed = true;
        c->disks[i] = (struct vmm_disk){ .path = s->disk_paths[i], .read_only = ro, .cow = cow };
    }
    c->vsock_cid = state_get_u32(&r);
    uint8_t rng = state_get_u8(&r);
    state_get_str(&r, s->cmdline, sizeof s->cmdline);
    uint32_t features = state_get_u32(&r);
    if (!state_reader_ok(&r, true) || rng > 1 || (c->vsock_cid != 0 && c->vsock_cid < 3) ||
        (features & ~(VMM_CPU_SVE | VMM_CPU_PAUTH | VMM_CPU_PMU)) != 0)
        return error_message(err, errlen, "the snapshot's machine record is malformed");
    c->rng = rng;
    c->cmdline = s->cmdline;
    c->cpu_features = features & (VMM_CPU_SVE | VMM_CPU_PAUTH);
    c->cpu_features_auto = false; /* exactly these, or the restore is refused */
    c->pmu = (features & VMM_CPU_PMU) != 0;
    if (s->gic_version != 3)
        return error_message(err, errlen, "the snapshot's machine has a GICv%u; only vGICv3 snapshots exist",
                             s->gic_version);
    return 0;
}

/* ---------------------------------------------------------------- taking a snapshot */

static void remove_snapshot(int dir_fd, const char *dir)
{
    static const char *const names[] = { STATE_FILE, STATE_TMP, MEMORY_FILE };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlinkat(dir_fd, names[i], 0);
    for (uint32_t i = 0; i < VMM_MAX_DISKS; i++) {
        char name[32];
        snprintf(name, sizeof name, "disk%u.layer", i);
        unlinkat(dir_fd, name, 0);
    }
    close(dir_fd);
    rmdir(dir);
}

static int write_all_at(int fd, const uint8_t *p, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        done += (size_t)n;
    }
    return 0;
}

/* Appends one section and frees its payload: 0, or -1 when memory ran out. */
static int add_section(struct state_writer *file, uint32_t type, uint32_t index, struct state_writer *payload)
{
    snapshot_file_add(file, type, index, payload);
    state_writer_free(payload);
    return state_writer_ok(file) ? 0 : -1;
}

static int save_state(struct state_writer *file, int dir_fd, const struct vm *vm, const struct vmm_config *cfg,
                      char *err, size_t errlen)
{
    struct state_writer p;
    snapshot_file_begin(file);
    state_writer_init(&p);
    save_machine(&p, vm, cfg);
    if (add_section(file, SNAP_MACHINE, 0, &p) != 0)
        return error_message(err, errlen, "out of memory");
    for (uint32_t i = 0; i < vm->vcpu_count; i++) {
        state_writer_init(&p);
        if (vm_state_save_vcpu(&vm->vcpus[i], &p, err, errlen) != 0) {
            state_writer_free(&p);
            return -1;
        }
        if (add_section(file, SNAP_VCPU, i, &p) != 0)
            return error_message(err, errlen, "out of memory");
    }
    state_writer_init(&p);
    if (vm_state_save_gic(vm, &p, err, errlen) != 0) {
        state_writer_free(&p);
        return -1;
    }
    if (add_section(file, SNAP_GIC, 0, &p) != 0)
        return error_message(err, errlen, "out of memory");
    for (size_t i = 0; i < platform_devices_count(); i++) {
        state_writer_init(&p);
        if (platform_devices_save(i, &p, err, errlen) != 0) {
            state_writer_free(&p);
            return -1;
        }
        if (add_section(file, SNAP_PLATFORM, (uint32_t)i, &p) != 0)
            return error_message(err, errlen, "out of memory");
    }
    for (uint32_t i = 0; i < virtio_devices_count(); i++) {
        state_writer_init(&p);
        if (virtio_devices_save(i, &p, dir_fd, err, errlen) != 0) {
            state_writer_free(&p);
            return -1;
        }
        if (add_section(file, SNAP_VIRTIO, i, &p) != 0)
            return error_message(err, errlen, "out of memory");
    }
    uint8_t id[SNAPSHOT_BUILD_ID_MAX];
    size_t id_len = snapshot_build_id(id);
    if (!snapshot_file_finish(file, id, id_len))
        return error_message(err, errlen, "the state does not fit a snapshot file");
    return 0;
}

int snapshot_save(const char *dir, const struct vm *vm, const struct vmm_config *cfg, struct snapshot_save_stats *st,
                  char *err, size_t errlen)
{
    uint64_t t0 = mono_ns();
    memset(st, 0, sizeof *st);
    if (vm->mem.file_backed)
        return error_message(err, errlen, "a restored VM cannot be snapshotted again");
    if (mkdir(dir, 0700) != 0)
        return error_message(err, errlen, "cannot create the snapshot directory '%s': %s", dir, strerror(errno));
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        int e = errno;
        rmdir(dir);
        return error_message(err, errlen, "cannot open '%s': %s", dir, strerror(e));
    }
    struct state_writer file;
    state_writer_init(&file);
    int rc = save_state(&file, dir_fd, vm, cfg, err, errlen);
    if (rc == 0) {
        int fd = openat(dir_fd, MEMORY_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int e = fd < 0 ? -errno : guest_mem_write_file(&vm->mem, fd, &st->memory_bytes);
        if (e == 0 && fdatasync(fd) != 0)
            e = -errno;
        if (fd >= 0 && close(fd) != 0 && e == 0)
            e = -errno;
        if (e != 0)
            rc = error_message(err, errlen, "writing the guest memory: %s", strerror(-e));
    }
    if (rc == 0) {
        int fd = openat(dir_fd, STATE_TMP, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int e = fd < 0 ? -errno : write_all_at(fd, file.data, file.len);
        if (e == 0 && fdatasync(fd) != 0)
            e = -errno;
        if (fd >= 0 && close(fd) != 0 && e == 0)
            e = -errno;
        if (e == 0 && renameat(dir_fd, STATE_TMP, dir_fd, STATE_FILE) != 0)
            e = -errno;
        if (e == 0 && fsync(dir_fd) != 0)
            e = -errno;
        if (e != 0)
            rc = error_message(err, errlen, "writing the state file: %s", strerror(-e));
        st->state_bytes = file.len;
    }
    state_writer_free(&file);
    if (rc != 0) {
        remove_snapshot(dir_fd, dir);
        return -1;
    }
    close(dir_fd);
    st->elapsed_ns = mono_ns() - t0;
    return 0;
}

/* ---------------------------------------------------------------- restoring */

static int read_state(int dir_fd, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    int fd = openat(dir_fd, STATE_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_message(err, errlen, "no state file: %s%s", strerror(errno),
                             errno == ENOENT ? " (not a snapshot, or an unfinished one)" : "");
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < SNAPSHOT_HEADER_SIZE ||
        (uint64_t)st.st_size > SNAPSHOT_MAX_STATE_BYTES) {
        close(fd);
        return error_message(err, errlen, "the state file is not a snapshot's (size %lld)", (long long)st.st_size);
    }
    uint8_t *buf = malloc((size_t)st.st_size);
    size_t got = 0;
    while (buf != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != (size_t)st.st_size) {
        free(buf);
        return error_message(err, errlen, "cannot read the state file");
    }
    *out = buf;
    *len = got;
    return 0;
}

int snapshot_open(struct snapshot_restore *s, const struct vmm_config *cli, char *err, size_t errlen)
{
    char why[300];
    memset(s, 0, sizeof *s);
    s->mem_fd = -1;
    s->dir_fd = open(cli->restore_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0)
        return error_message(err, errlen, "--restore %s: %s", cli->restore_dir, strerror(errno));
    uint8_t id[SNAPSHOT_BUILD_ID_MAX];
    size_t id_len = snapshot_build_id(id);
    const struct snapshot_section *m;
    if (read_state(s->dir_fd, &s->state, &s->state_len, why, sizeof why) != 0 ||
        snapshot_file_parse(s->state, s->state_len, id, id_len, &s->view, why, sizeof why) != 0)
        return error_message(err, errlen, "--restore %s: %s", cli->restore_dir, why);
    if ((m = snapshot_find(&s->view, SNAP_MACHINE, 0)) == NULL ||
        load_machine(s, m->data, (size_t)m->len, why, sizeof why) != 0) {
        if (m == NULL)
            snprintf(why, sizeof why, "the snapshot has no machine record");
        return error_message(err, errlen, "--restore %s: %s", cli->restore_dir, why);
    }
    for (uint32_t i = 0; i < s->cfg.cpus; i++)
        if (snapshot_find(&s->view, SNAP_VCPU, i) == NULL)
            return error_message(err, errlen, "--restore %s: vCPU %u's record is missing", cli->restore_dir, i);
    if (s->cfg.vsock_cid != 0 && cli->vsock_uds == NULL)
        return error_message(err, errlen, "--restore %s: the snapshot has a vsock device: give --vsock-uds PATH",
                             cli->restore_dir);
    s->cfg.vsock_uds = s->cfg.vsock_cid != 0 ? cli->vsock_uds : NULL;
    s->cfg.console = cli->console;
    s->cfg.verify_wipe = cli->verify_wipe;
    s->cfg.wipe_keeper = cli->wipe_keeper;
    s->cfg.mlock = cli->mlock;
    s->cfg.restore_dir = cli->restore_dir;
    s->mem_fd = openat(s->dir_fd, MEMORY_FILE, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (s->mem_fd < 0 || fstat(s->mem_fd, &st) != 0)
        return error_message(err, errlen, "--restore %s: guest memory file: %s", cli->restore_dir, strerror(errno));
    if ((uint64_t)st.st_size != s->cfg.mem_bytes)
        return error_message(err, errlen, "--restore %s: the guest memory file holds %lld bytes, not %llu",
                             cli->restore_dir, (long long)st.st_size, (unsigned long long)s->cfg.mem_bytes);
    return 0;
}

int snapshot_restore_vcpus(struct snapshot_restore *s, const struct vm *vm, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < vm->vcpu_count; i++) {
        const struct snapshot_section *sec = snapshot_find(&s->view, SNAP_VCPU, i);
        if (sec == NULL)
            return error_message(err, errlen, "vCPU %u's record is missing", i);
        if (vm_state_restore_vcpu(&vm->vcpus[i], sec->data, (size_t)sec->len, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int snapshot_restore_gic(struct snapshot_restore *s, const struct vm *vm, char *err, size_t errlen)
{
    const struct snapshot_section *sec = snapshot_find(&s->view, SNAP_GIC, 0);
    if (sec == NULL)
        return error_message(err, errlen, "the snapshot has no vGIC record");
    return vm_state_restore_gic(vm, sec->data, (size_t)sec->len, err, errlen);
}

int snapshot_restore_devices(struct snapshot_restore *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < platform_devices_count(); i++) {
        const struct snapshot_section *sec = snapshot_find(&s->view, SNAP_PLATFORM, (uint32_t)i);
        if (sec == NULL)
            return error_message(err, errlen, "platform device %zu's record is missing", i);
        if (platform_devices_restore(i, sec->data, (size_t)sec->len, err, errlen) != 0)
            return -1;
    }
    uint32_t virtio = 0;
    for (uint32_t i = 0; i < s->view.count; i++)
        virtio += s->view.sections[i].type == SNAP_VIRTIO;
    if (virtio != virtio_devices_count())
        return error_message(err, errlen, "the snapshot has %u virtio devices; this VM was built with %u", virtio,
                             virtio_devices_count());
    for (uint32_t i = 0; i < virtio; i++) {
        const struct snapshot_section *sec = snapshot_find(&s->view, SNAP_VIRTIO, i);
        if (sec == NULL)
            return error_message(err, errlen, "virtio slot %u's record is missing", i);
        if (virtio_devices_restore(i, sec->data, (size_t)sec->len, s->dir_fd, err, errlen) != 0)
            return -1;
    }
    return 0;
}

void snapshot_close(struct snapshot_restore *s)
{
    if (s->mem_fd >= 0)
        close(s->mem_fd);
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    s->mem_fd = s->dir_fd = -1;
    free(s->state);
    s->state = NULL;
    s->state_len = 0;
    s->view.count = 0;
}
