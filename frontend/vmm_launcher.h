/* frontend/vmm_launcher.h — starts one silo-vmm per session and reaches its guest through the
 * vsock Unix socket (DESIGN.md, "Interfaces" 1 and 2).
 *
 * start: fork/exec `VMM --kernel K [--initrd I] --cmdline C --mem NM --cpus N --disk ROOTFS,cow
 * --vsock-cid 3 --vsock-uds DIR/SESSION.sock` (cow: the guest mounts its root read-write, every
 * write stays private to the VM and dies with it; guest/agentd/README.md) with no inherited descriptors and
 * PR_SET_PDEATHSIG so no VMM outlives silod; then waits (up to ready_timeout_ms) until the
 * agent is ready: `GET /ping` on guest port 8080 answers 200 or, for an MCP runtime (the
 * version's protocolConfiguration.serverProtocol), `GET /mcp` on port 8000 answers at all. stop: SIGTERM (the VMM
 * wipes guest memory and exits), SIGKILL after 15 s, reaped, socket removed.
 *
 * vsock_connect: connect to the socket, send `CONNECT <port>\n`, expect `OK <hostport>\n`;
 * returns a connected stream to the guest port, or -1.
 *
 * usage (metering): silo-vmm names its vCPU threads "vcpuN"; with KVM an idle vCPU sleeps in
 * the kernel (WFI), so the CPU time (utime+stime) of those threads is the guest's active
 * vCPU time. It is read from /proc/PID/task/TID/stat — parsed as untrusted text, fields after
 * the LAST ')' — and the VMM's peak memory from VmHWM in /proc/PID/status. */
#ifndef SILO_FRONTEND_VMM_LAUNCHER_H
#define SILO_FRONTEND_VMM_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frontend/sessions.h"

struct vmm_launcher_config {
    const char *vmm_path;       /* silo-vmm (or, in x86 tests only, tests/frontend/fake_vmm) */
    const char *kernel;
    const char *initrd;         /* may be NULL */
    const char *rootfs_dir;     /* images: ROOTFS_DIR/<runtime_id>-v<version>.ext4 */
    const char *socket_dir;     /* where per-session vsock sockets live */
    unsigned cpus;
    int ready_timeout_ms;
    const char *cmdline;        /* guest kernel command line; NULL: VMM_AGENT_CMDLINE */
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
};

/* How an agent image boots (guest/agentd/README.md). */
#define VMM_AGENT_CMDLINE "console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"

/* A session_launcher over this config (the config must outlive it). */
struct session_launcher vmm_launcher(const struct vmm_launcher_config *cfg);

int vsock_connect(const char *uds_path, unsigned port, int timeout_ms);

/* Reads one '\n'-terminated line (at most len-1 bytes, the '\n' replaced by NUL) from fd, byte
 * by byte so nothing after it is consumed, until deadline (CLOCK_MONOTONIC ms); 0 or -1. */
int vsock_read_line(int fd, char *buf, size_t len, int64_t deadline);

/* Asks agentd (control port 1024, `STATUS`) whether the agent process is still starting or
 * running; false when it has exited, was killed, or agentd cannot be reached (the guest is
 * shutting down). */
bool vsock_agent_running(const char *uds_path, int timeout_ms);

/* Parses one /proc/PID/task/TID/stat text (len bytes, not necessarily NUL-terminated): the
 * thread name (truncated to comm_len-1) and utime+stime in clock ticks. false on anything
 * malformed or truncated. */
bool vmm_parse_task_stat(const char *text, size_t len, char *comm, size_t comm_len, uint64_t *ticks);
/* true for "vcpu0".."vcpu9999". */
bool vmm_is_vcpu_thread_name(const char *comm);
/* The vCPU time and peak memory of VMM process pid (see above); false when nothing could be
 * read (the process is gone or a zombie: its vCPU threads have exited). */
bool vmm_measure(pid_t pid, struct vm_usage *out);

/* Restart begins clean: removes the per-session sockets a previous silod left in dir (only
 * names this launcher makes, `s<pid>-<n>.sock[_<port>]`, only sockets, only when that silod
 * is no longer running or had our own pid). Returns how many were removed. */
unsigned vmm_clean_socket_dir(const char *dir);
bool vmm_socket_name_ours(const char *name);

#endif
