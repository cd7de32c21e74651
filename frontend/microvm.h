/* frontend/microvm.h — the guest channel: everything silod (a session's microVM) and the image
 * builder's boot check (builder/silod_build_image.c) do with a microVM, in one place.
 *
 * - The VMM's command line (docs/ARCHITECTURE.md, "Interfaces" 1), built once here:
 *       VMM --kernel K [--initrd I] --cmdline C --mem <guest_mib>M --cpus N
 *           --disk IMAGE,cow --vsock-cid 3 --vsock-uds PATH [--verify-wipe]
 *   (cow: the guest mounts its root read-write, every write stays private to the VM and dies
 *   with it; guest/agentd/README.md).
 * - The spawn policy, the same for every microVM: the VMM runs in a process group of its own
 *   (a signal meant for its parent's group — a terminal's Ctrl-C, the image builder's timeout
 *   kill — does not reach it; its parent stops it the normal way), with PR_SET_PDEATHSIG
 *   SIGTERM (when its parent dies, even by SIGKILL, the VMM ends its VM the normal way, wiping
 *   the guest memory, and exits), with stdin from /dev/null, no other inherited descriptor, an
 *   empty signal mask and SIGTERM at its default. PR_SET_PDEATHSIG fires when the *thread* that
 *   forked exits, so every VMM is forked by one spawner thread that lives as long as the process.
 * - The vsock client (Interfaces 2): connect to the VMM's Unix socket, send `CONNECT <port>\n`,
 *   expect `OK <hostport>\n` (Firecracker's convention).
 * - The protocol contracts (microvm_contract): per serverProtocol, the guest port, the path
 *   invocations go to, how readiness is probed and whether /ping is polled — the one place a
 *   protocol's facts live (silod's invoke proxy, its ping poller, the image builder's boot check).
 * - Readiness: until the deadline, the agent is probed by its protocol's contract — HTTP/AGUI:
 *   `GET /ping` on GUEST_PORT_HTTP answers 200; MCP: `GET /mcp` on GUEST_PORT_MCP answers at
 *   all; A2A: `GET /.well-known/agent-card.json` on GUEST_PORT_A2A answers 200 (the card is the
 *   one GET the A2A contract requires; /ping on 9000 is only the Python SDK's) — while the VMM
 *   is watched for its exit and, optionally, an agentd `WAIT` is held open to learn at once of
 *   an agent that exits.
 * - agentd's control protocol (GUEST_PORT_CONTROL), spoken only through its one codec,
 *   guest/agentd/control_proto.h.
 * - Stopping: SIGTERM (the VMM wipes guest memory and exits), SIGKILL after
 *   MICROVM_STOP_GRACE_MS, reaped.
 *
 * The port numbers are guest/agentd/guest_ports.h's. */
#ifndef SILO_FRONTEND_MICROVM_H
#define SILO_FRONTEND_MICROVM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest/agentd/guest_ports.h"

/* How an agent image boots (guest/agentd/README.md). */
#define MICROVM_AGENT_CMDLINE "console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
/* The guest's vsock context id (the host is 2). */
#define MICROVM_GUEST_CID 3

/* The VM shape, owned here: silod's config (`vmm.guest_mib`, `vmm.cpus`) defaults to these, and
 * sessions and boot checks alike boot with what the config says. */
#define MICROVM_DEFAULT_GUEST_MIB 512u
#define MICROVM_DEFAULT_CPUS 2u
#define MICROVM_MIN_GUEST_MIB 16u           /* silo-vmm's VMM_MIN_MEM */
#define MICROVM_MAX_GUEST_MIB (1u << 20)    /* 1 TiB, silo-vmm's VMM_MAX_MEM */
#define MICROVM_MAX_CPUS 64u                /* silo-vmm's VMM_MAX_CPUS */
#define MICROVM_DEFAULT_READY_TIMEOUT_MS 30000
#define MICROVM_STOP_GRACE_MS 15000

struct microvm_shape {
    unsigned guest_mib;
    unsigned cpus;
};

/* Descriptor choices for microvm_params.stdout_fd / stderr_fd. */
#define MICROVM_FD_INHERIT (-1)
#define MICROVM_FD_NULL (-2)

struct microvm_params {
    const char *vmm_path;       /* silo-vmm (in x86 tests only: a stand-in) */
    const char *kernel;
    const char *initrd;         /* NULL or "": none */
    const char *cmdline;        /* NULL: MICROVM_AGENT_CMDLINE */
    struct microvm_shape shape; /* 0s: the defaults above */
    const char *disk;           /* the agent image, booted copy-on-write */
    const char *vsock_path;     /* the VMM's vsock Unix socket */
    bool verify_wipe;           /* --verify-wipe (debug: the VMM proves its wipe on stderr) */
    bool wipe_keeper;           /* --wipe-keeper: guest RAM in a memfd a keeper process holds, so
                                   it is wiped even after a SIGKILL (vmm/keeper.h) */
    const char *snapshot_to;    /* boot, and on SIGUSR2 write a snapshot there (--snapshot-to) */
    const char *restore_dir;    /* restore this snapshot instead of booting: the argv is then
                                   VMM --restore DIR --vsock-uds PATH [--verify-wipe]
                                   [--wipe-keeper]; kernel,
                                   disk, shape and command line come from the snapshot */
    int stdout_fd, stderr_fd;   /* a descriptor, MICROVM_FD_INHERIT or MICROVM_FD_NULL */
};

/* The VMM's argv (NULL-terminated) into argv[cap], its strings in buf[buf_len]; the number of
 * arguments, or -1 when something does not fit. */
#define MICROVM_ARGV_MAX 24
int microvm_argv(const struct microvm_params *p, const char **argv, size_t cap, char *buf, size_t buf_len);

/* Starts the VMM under the spawn policy; its pid, or -1 with err set. */
pid_t microvm_spawn(const struct microvm_params *p, char *err, size_t err_len);

/* Forks and execs argv[0] under the spawn policy (what microvm_spawn does with the VMM's argv);
 * exposed for tests, which run a stand-in in place of silo-vmm. */
pid_t microvm_spawn_argv(const char *const *argv, int stdout_fd, int stderr_fd);
/* The same with the environment envp (NULL: silod's own) — the jailed VMM gets only what
 * vmm_jail.h names, none of silod's environment. */
pid_t microvm_spawn_argv_env(const char *const *argv, const char *const *envp, int stdout_fd, int stderr_fd);

/* SIGTERM, SIGKILL after MICROVM_STOP_GRACE_MS, reaped. Returns its wait status (waitpid's),
 * or -1 when there was no process (pid <= 0) or it could not be reaped. */
int microvm_stop(pid_t pid);

/* true while pid runs; a dead VMM is left unreaped (WNOWAIT) for microvm_stop. */
bool microvm_alive(pid_t pid);

/* ---- the vsock client ----------------------------------------------------------------- */

/* A stream connected to guest `port` through the VMM's socket, or -1 with errno: the
 * connect(2)/write(2) error on the VMM's socket (ENOENT, ECONNREFUSED: no VMM there),
 * ECONNREFUSED when the VMM closed without "OK" (the guest refused: nothing listens, or its
 * backlog is full), ETIMEDOUT when the guest did not answer within timeout_ms. */
int microvm_connect(const char *vsock_path, unsigned port, int timeout_ms);

/* Reads one '\n'-terminated line (at most len-1 bytes, the '\n' replaced by NUL) from fd, byte
 * by byte so nothing after it is consumed, until deadline (CLOCK_MONOTONIC ms); 0 or -1. */
int microvm_read_line(int fd, char *buf, size_t len, int64_t deadline_ms);

/* ---- agentd's control protocol (through control_proto's codec) ------------------------ */

/* Asks agentd (`STATUS`) whether the agent process is starting or running; false when it has
 * exited, was killed, could not start, or agentd cannot be reached (the guest is going down). */
bool microvm_agent_running(const char *vsock_path, int timeout_ms);

/* After a restore, before anything else reaches the guest: sends agentd RESTORED with 32 bytes
 * of getrandom() and the host's CLOCK_REALTIME, and checks its `OK RESTORED`; retries the
 * connection while the VMM `pid` (restoring) has not made its socket yet. 0, or -1 with one
 * line in err. */
int microvm_restored(pid_t pid, const char *vsock_path, int timeout_ms, char *err, size_t err_len);

/* Decodes one agentd answer to STATUS or WAIT: 1 when it says the agent is starting or running,
 * 0 when it has ended (why says how: "the agent exited with status 3", ...), -1 when the line is
 * not such an answer. Pure; exposed for tests. */
int microvm_agent_state_line(const char *line, char *why, size_t why_len);

/* ---- readiness -------------------------------------------------------------------------- */

enum microvm_protocol { MICROVM_HTTP, MICROVM_MCP, MICROVM_A2A };

/* What AgentCore's container contract says for one protocol (agentcore-api.md §3.1). */
struct microvm_contract {
    const char *name;          /* "HTTP", "MCP", "A2A" */
    unsigned port;             /* the guest port the agent listens on (guest_ports.h) */
    const char *invoke_path;   /* where InvokeAgentRuntime's body goes: /invocations, /mcp, / */
    const char *ready_path;    /* readiness: GET this path on port ... */
    bool ready_any_answer;     /* ... any HTTP answer means ready (MCP); else only 200 */
    const char *ready_accept;  /* the probe's Accept header */
    bool pinged;               /* GET /ping on port is polled for health (HTTP only) */
};
/* The contract of p (never NULL). */
const struct microvm_contract *microvm_contract(enum microvm_protocol p);
/* The A2A agent card's path on GUEST_PORT_A2A (GetAgentCard, A2A readiness). */
#define MICROVM_A2A_CARD_PATH "/.well-known/agent-card.json"

/* A version's protocolConfiguration.serverProtocol: "MCP", "A2A"; anything else (HTTP, AGUI,
 * absent) is HTTP. */
enum microvm_protocol microvm_protocol_named(const char *server_protocol);
/* The same from a version's configuration JSON (NULL or unparsable: HTTP). */
enum microvm_protocol microvm_protocol_of(const char *config_json);
const char *microvm_protocol_name(enum microvm_protocol p);

struct microvm_wait {
    enum microvm_protocol protocol;
    int64_t deadline_ms;                    /* mono_ms() of base/mono_time.h */
    bool watch_agent;                       /* hold an agentd WAIT open, and probe only once
                                               agentd answers (the image builder's boot check) */
    int interval_ms;                        /* between probes; 0: 20 ms */
    const volatile sig_atomic_t *cancelled; /* may be NULL; non-zero ends the wait */
};

enum microvm_ready {
    MICROVM_READY,
    MICROVM_VMM_EXITED,     /* *pid reaped and set to 0; *exit_status: code, or 128 + signal */
    MICROVM_AGENT_ENDED,    /* why: "the agent exited with status N" (watch_agent only) */
    MICROVM_TIMED_OUT,      /* why: what was seen last, e.g. "the agent answers GET /ping with 503" */
    MICROVM_CANCELLED,
};

/* Waits until the agent behind vsock_path is ready, the VMM *pid exits, the agent ends, the
 * deadline passes or *cancelled is set. why (for every result but READY) is one line. */
enum microvm_ready microvm_wait_ready(pid_t *pid, const char *vsock_path, const struct microvm_wait *w,
                                      int *exit_status, char *why, size_t why_len);

#endif
