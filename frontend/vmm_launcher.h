/* frontend/vmm_launcher.h — silod's session launcher: one microVM per session, through the
 * guest channel (frontend/microvm.h, which owns the VMM's command line, the spawn policy, the
 * vsock client, readiness and agentd's control protocol).
 *
 * start: the session's vsock socket is DIR/s<silod pid>-<n>.sock; the per-VM extras (vm_open)
 * are opened; with snapshots on and the version's template there (ROOTFS_DIR/<runtime_id>-
 * v<version>.snap, taken with the session's shape), the VMM restores it and agentd gets RESTORED
 * (fresh entropy, the wall clock) before anything else; otherwise, or when that fails (logged
 * with its reason), the VMM boots ROOTFS_DIR/<runtime_id>-v<version>.ext4 copy-on-write with the
 * session's guest_mib and cfg->cpus. Then start waits (up to ready_timeout_ms) until the agent
 * is ready by its version's protocol (protocolConfiguration.serverProtocol; microvm.h). Each
 * start logs one line: restored or booted, and in how many ms.
 * stop: the extras are closed, the VMM stopped (SIGTERM, SIGKILL after 15 s, reaped), the
 * socket removed.
 *
 * usage (metering): silo-vmm names its vCPU threads "vcpuN"; with KVM an idle vCPU sleeps in
 * the kernel (WFI), so the CPU time (utime+stime) of those threads is the guest's active
 * vCPU time. It is read from /proc/PID/task/TID/stat — parsed as untrusted text, fields after
 * the LAST ')' — and the VMM's peak memory from VmHWM in /proc/PID/status. A jailed VMM with a
 * cgroup (jail.cgroup_parent) is measured by its cgroup instead: cpu.stat usage_usec (all of the
 * VMM's CPU time) and memory.peak, readable also after the VMM died, and memory.events oom_kill,
 * which turns a VMM death into the session end reason memory_limit (sessions.h).
 *
 * jail (vmm_jail.h): the session's slot (uid, jail root, run directory, cgroup) is taken before
 * the VMM starts, its vsock socket is RUN_DIR/vm.sock (the guest → host sockets beside it, given
 * to the slot's uid), and the slot is cleaned and given back after the VMM has been reaped. */
#ifndef SILO_FRONTEND_VMM_LAUNCHER_H
#define SILO_FRONTEND_VMM_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frontend/microvm.h"
#include "frontend/sessions.h"
#include "frontend/vmm_jail.h"

struct vmm_launcher_config {
    const char *vmm_path;       /* silo-vmm (or, in x86 tests only, tests/frontend/fake_vmm) */
    const char *kernel;
    const char *initrd;         /* may be NULL */
    const char *rootfs_dir;     /* images: ROOTFS_DIR/<runtime_id>-v<version>.ext4 */
    const char *socket_dir;     /* where per-session vsock sockets live */
    unsigned cpus;              /* 0: MICROVM_DEFAULT_CPUS (the guest RAM is each session's guest_mib) */
    int ready_timeout_ms;       /* 0: MICROVM_DEFAULT_READY_TIMEOUT_MS */
    const char *cmdline;        /* guest kernel command line; NULL: MICROVM_AGENT_CMDLINE */
    bool verify_wipe;           /* debug (`vmm.verify_wipe`): pass --verify-wipe, so every VMM
                                   proves on stderr that it wiped the guest memory */
    /* Per-VM extras (silod: the guest → host sockets, guest_channels.h), all NULL in tests:
     * open() runs before the VMM starts (its result is kept in session_vm.launcher_data; NULL
     * with err set fails the start), close() after the session ends (before the VMM is
     * stopped, so the guest's outside connections end with the session), counters() adds the
     * VM's egress bytes to its usage. */
    void *(*vm_open)(void *ctx, const struct session_spec *spec, const char *vsock_path, char *err, size_t err_len);
    void (*vm_close)(void *ctx, void *data);
    void (*vm_counters)(void *ctx, void *data, struct vm_usage *out);
    void *vm_ctx;
    bool snapshots;             /* `vmm.snapshots`: the boot check takes each version's template
                                   (ROOTFS_DIR/<runtime_id>-v<version>.snap) and sessions restore
                                   it (docs/snapshots.md); false: every session boots cold */
    struct vmm_jail *jail;      /* `jail` (vmm_jail.h): each VMM under silo-jail with a uid of its
                                   own, its vsock socket in the slot's run directory; NULL: the
                                   VMM runs as silod's plain child */
    bool wipe_keeper;           /* `vmm.wipe_keeper`: every session's VMM (boot or restore) gets
                                   --wipe-keeper, so its guest RAM is wiped even if it is
                                   SIGKILLed; the boot check's template VM does not (it holds no
                                   session) */
};

/* A session_launcher over this config (the config must outlive it). */
struct session_launcher vmm_launcher(const struct vmm_launcher_config *cfg);

/* Parses one /proc/PID/task/TID/stat text (len bytes, not necessarily NUL-terminated): the
 * thread name (truncated to comm_len-1) and utime+stime in clock ticks. false on anything
 * malformed or truncated. */
bool vmm_parse_task_stat(const char *text, size_t len, char *comm, size_t comm_len, uint64_t *ticks);
/* true for "vcpu0".."vcpu9999". */
bool vmm_is_vcpu_thread_name(const char *comm);
/* The vCPU time and peak memory of VMM process pid (see above; for a silo-jail pid, of the VMM
 * it runs in its PID namespace); false when nothing could be
 * read (the process is gone or a zombie: its vCPU threads have exited). */
bool vmm_measure(pid_t pid, struct vm_usage *out);

/* Restart begins clean: removes the per-session sockets a previous silod left in dir (only
 * names this launcher makes, `s<pid>-<n>.sock[_<port>]`, only sockets, only when that silod
 * is no longer running or had our own pid). Returns how many were removed. */
unsigned vmm_clean_socket_dir(const char *dir);
bool vmm_socket_name_ours(const char *name);

#endif
