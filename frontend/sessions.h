/* frontend/sessions.h — the session table: runtimeSessionId → one microVM.
 *
 * A session is STARTING (its VM is being launched), ACTIVE (requests in flight) or IDLE; when
 * it ends it is removed and its VM stopped (the VMM wipes guest memory). The table never
 * shares a VM between two session ids, and concurrent first requests for one new id start
 * exactly one VM (later arrivals wait for the first launch). Host limits: at most
 * max_sessions sessions (ThrottlingException beyond) and at most max_guest_mib of guest memory
 * (ServiceQuotaExceededException beyond), checked before launching.
 *
 * Timers run on a pluggable clock (tests advance it): sessions_reap() ends sessions idle longer
 * than their idle timeout — unless the agent reported HealthyBusy, or its /ping
 * time_of_last_update advanced, which counts as activity — and sessions older than their max
 * lifetime, busy or not. silod calls sessions_reap() once a second; the victims of one pass
 * are stopped in parallel, and never with the table lock held, so requests to other sessions
 * go on while a VM stops.
 *
 * Health (ping_poller.c reports what the agent's /ping said): Unhealthy ends the session at
 * once; SESSION_PING_FAILURES consecutive failed pings end it too, while its VMM runs and no
 * request is in flight (a single-threaded agent busy with a request may not answer /ping).
 *
 * Metering: every session that ends — for whatever reason — produces exactly one
 * session_usage record, handed to cfg.on_end after its VM has stopped. The vCPU time and
 * peak memory come from the launcher's usage() callback, read just before stop(); when the
 * VMM is already gone the last sample taken by sessions_sample_usage() stands in.
 *
 * Drain (SIGTERM): after sessions_begin_drain() a request that would start a new session is
 * refused (ServiceUnavailableException); requests to existing sessions go on.
 * sessions_in_flight() tells when they are done; sessions_end_all() then ends the rest.
 *
 * Upstream keep-alive: each session owns a small pool of idle connections to its agent, per
 * guest port (session_conn_take / session_conn_give below). A pooled connection is used by one
 * request at a time, never by another session, and closed when the session ends.
 *
 * The VM itself comes from a session_launcher: silod uses vmm_launcher.c (fork/exec
 * silo-vmm); unit tests use a test double.
 */
#ifndef SILO_FRONTEND_SESSIONS_H
#define SILO_FRONTEND_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SESSION_ID_MIN 33
#define SESSION_ID_MAX 256

struct session_vm {
    pid_t pid;                /* the VMM process, or 0 */
    char vsock_path[108];     /* its vsock Unix socket */
    bool no_ping;             /* the agent has no /ping contract (MCP, A2A): not polled */
    void *launcher_data;
    unsigned jail_uid;        /* the VMM's jail uid (vmm_jail.h), or 0: not jailed */
    int wait_status;          /* set by the launcher's stop(): the VMM's wait status, or -1 */
};

/* What a VM used, as the launcher measured it. */
struct vm_usage {
    uint64_t vcpu_ms;         /* CPU time of the VMM's vCPU threads: the guest's active time */
    uint64_t mem_peak_kib;    /* the VMM's peak resident memory (VmHWM) */
    unsigned vcpu_threads;    /* how many vCPU threads were found (0: nothing measured) */
    uint64_t egress_out;      /* egress bytes guest → world (guest_channels.c) */
    uint64_t egress_in;       /* egress bytes world → guest */
    bool from_cgroup;         /* vcpu_ms and mem_peak_kib come from the VMM's cgroup (jailed):
                                 its whole CPU time and memory.peak; measured even when the
                                 VMM is gone */
    uint64_t oom_kills;       /* the cgroup's memory.events oom_kill: the VMM hit its limit */
};

/* Why a session ended (the usage record's end_reason; see session_end_reason_name). */
enum session_end_reason {
    SESSION_END_STOPPED,          /* StopRuntimeSession */
    SESSION_END_IDLE,
    SESSION_END_MAX_LIFETIME,
    SESSION_END_UNHEALTHY,        /* /ping said Unhealthy or failed SESSION_PING_FAILURES times */
    SESSION_END_VMM_EXITED,
    SESSION_END_RUNTIME_DELETED,
    SESSION_END_SHUTDOWN,         /* silod stopped (SIGTERM) */
    SESSION_END_START_FAILED,
    SESSION_END_AGENT_EXITED,     /* the agent process ended (agentd said so after a failure) */
    SESSION_END_MEMORY_LIMIT,     /* the VMM died and its cgroup's OOM killer had killed in it
                                     (jail.cgroup_parent; a VMM death with oom_kill > 0) */
};
#define SESSION_END_REASONS 10
/* "stopped", "idle", "max_lifetime", "unhealthy", "vmm_exited", "runtime_deleted", "shutdown",
 * "start_failed", "agent_exited", "memory_limit". */
const char *session_end_reason_name(enum session_end_reason r);

/* One usage record: written once per session, when it has ended and its VM stopped. */
struct session_usage {
    const char *session_id;
    const char *runtime_id;
    int version;
    int64_t started_unix_ms, ended_unix_ms;   /* wall-clock (CLOCK_REALTIME) */
    int64_t wall_ms;                          /* on the table's clock */
    uint64_t vcpu_ms;
    uint64_t mem_peak_kib;
    unsigned guest_mib;                       /* configured guest memory */
    bool measured;            /* vcpu_ms/mem_peak_kib read from the VMM just before it stopped
                               * (false: the last sample, or 0 when there was none) */
    enum session_end_reason reason;
    uint64_t egress_out, egress_in;           /* egress bytes of the session (0 without egress) */
};

struct session_spec {
    const char *session_id;
    const char *runtime_id;
    int version;
    const char *config_json;  /* the version's configuration */
    unsigned guest_mib;
};

struct session_launcher {
    /* Boots a VM for the session and waits until its agent is ready; 0 on success, else -1
     * with a one-line reason in err. Called without the table lock. */
    int (*start)(void *ctx, const struct session_spec *spec, struct session_vm *vm, char *err, size_t err_len);
    /* Stops the VM (the VMM wipes guest memory) and reaps the process. */
    void (*stop)(void *ctx, struct session_vm *vm);
    /* true while the VMM process runs (it is not reaped here); NULL: always true. */
    bool (*alive)(void *ctx, const struct session_vm *vm);
    void *ctx;
    /* Measures the running VM (called without the table lock, just before stop(), and by
     * sessions_sample_usage()); false when nothing could be read. NULL: nothing to measure. */
    bool (*usage)(void *ctx, const struct session_vm *vm, struct vm_usage *out);
};

struct sessions_config {
    unsigned max_sessions;
    unsigned max_guest_mib;
    int64_t (*now_ms)(void *ctx);   /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
    struct session_launcher launcher;
    /* Called once per ended session, after its VM stopped, without the table lock (from
     * whichever thread ended it). NULL: no records. */
    void (*on_end)(void *ctx, const struct session_usage *u);
    void *on_end_ctx;
};

enum session_state { SESSION_STARTING, SESSION_ACTIVE, SESSION_IDLE };

struct sessions;
struct session;   /* a held reference; give it back with sessions_release() */

struct sessions *sessions_new(const struct sessions_config *cfg);
/* Ends every session (reason shutdown), stops every VM and frees the table. */
void sessions_free(struct sessions *t);

/* true when id is an acceptable runtimeSessionId (33–256 printable ASCII, no spaces). */
bool session_id_valid(const char *id);
/* Writes a fresh 36-character UUIDv4 (plus NUL) into out[37]. Ids shorter than 33 are padded
 * by the caller's rules; a UUID is already long enough. */
void session_id_generate(char out[37]);

struct session_acquire {
    const char *session_id;
    const char *runtime_id;
    int version;              /* used only when the session is new */
    const char *config_json;
    unsigned guest_mib;
    int idle_timeout_s;
    int max_lifetime_s;
};

/* Finds or starts the session and marks one request in flight. Returns NULL on failure with
 * an AWS error type in *err_type and a message in msg. A session of another runtime with the
 * same id is a ConflictException; a new session while draining is ServiceUnavailableException. */
struct session *sessions_acquire(struct sessions *t, const struct session_acquire *req,
                                 const char **err_type, char *msg, size_t msg_len);
/* Ends one request: the session's idle clock starts when its last request ends. */
void sessions_release(struct sessions *t, struct session *s);
const struct session_vm *session_vm(const struct session *s);
int session_version(const struct session *s);
const char *session_id_of(const struct session *s);

/* ---- idle upstream connections (keep-alive to the agent), owned by the session
 *
 * Only guest ports SESSION_CONN_PORT_HTTP, _MCP and _A2A are pooled. A session keeps
 * at most SESSION_CONN_IDLE_MAX idle connections per port; one idle for SESSION_CONN_MAX_IDLE_MS
 * or longer (on the table's clock) is closed rather than handed out (and sessions_reap closes
 * it), since agents close idle keep-alive connections after a few seconds (uvicorn, node: 5 s)
 * and a request written into one that is closing at that very moment would fail. Every idle connection is closed when the
 * session ends, for any reason, as it is removed from the table (before its VM stops). */
#define SESSION_CONN_PORT_HTTP 8080u
#define SESSION_CONN_PORT_MCP 8000u
#define SESSION_CONN_PORT_A2A 9000u
#define SESSION_CONN_IDLE_MAX 8
#define SESSION_CONN_MAX_IDLE_MS 4000
/* Takes an idle connection to guest port `port` of a held session, most recently given first;
 * the caller owns it from now on (uses it for one request, then gives it back or closes it).
 * Returns -1 when there is none (or the session has ended). The fd is not checked here: the
 * caller polls it (a readable or hung-up idle connection is one the agent closed). */
int session_conn_take(struct sessions *t, struct session *s, unsigned port);
/* Gives a connection the caller owns back to the session's pool after an answer that ended
 * cleanly; the pool owns it from now on. It is closed at once instead when the session has
 * ended, the port is not pooled, or the pool for the port is full. fd < 0 is ignored. */
void session_conn_give(struct sessions *t, struct session *s, unsigned port, int fd);
/* How many idle connections a held session has for port (tests, metrics). */
unsigned session_conn_idle(struct sessions *t, struct session *s, unsigned port);

/* What the agent's /ping said: busy (HealthyBusy) and its time_of_last_update (0 if absent). */
void sessions_report_ping(struct sessions *t, const char *session_id, bool busy, int64_t time_of_last_update);

/* ---- references to every session, for work done without the table lock (health polls) */
struct session_snapshot {
    struct session **refs;    /* each a held reference (not a request in flight) */
    size_t count;
};
/* Takes a reference to every session that is not STARTING. An ended session stays valid
 * (session_vm, session_id_of) until the snapshot is released. */
void sessions_snapshot(struct sessions *t, struct session_snapshot *out);
void sessions_snapshot_release(struct sessions *t, struct session_snapshot *snap);

enum ping_result { PING_HEALTHY, PING_HEALTHY_BUSY, PING_UNHEALTHY, PING_FAILED };
#define SESSION_PING_FAILURES 3
/* What the agent of a held session said to /ping (time_of_last_update: 0 if absent; it
 * advancing counts as activity). Unhealthy ends the session; so does the
 * SESSION_PING_FAILURES-th consecutive PING_FAILED while its VMM runs and no request is in
 * flight. Returns true when this report ended the session. Ignored for an ended session. */
bool sessions_ping_result(struct sessions *t, struct session *s, enum ping_result r,
                          int64_t time_of_last_update);
/* Measures a held session's VM now (launcher usage(), without the lock) and keeps it as the
 * fallback for a VMM that is gone by the time the session ends. */
void sessions_sample_usage(struct sessions *t, struct session *s);

/* Ends one session now (StopRuntimeSession: reason SESSION_END_STOPPED); false when unknown or,
 * with runtime_id non-NULL, of another runtime. In-flight streams see their VM go away and end. */
bool sessions_stop(struct sessions *t, const char *runtime_id, const char *session_id,
                   enum session_end_reason reason);
/* The agent of a held session could not be reached: if its VMM is no longer running, the
 * session ends now (a later request with the same id gets a fresh microVM). Returns true when
 * the VM is still alive. */
bool sessions_check_vm(struct sessions *t, struct session *s);
/* Ends every session of a runtime (the runtime was deleted). Returns how many. */
unsigned sessions_stop_runtime(struct sessions *t, const char *runtime_id);
/* Ends sessions past their idle timeout or max lifetime, and those whose VMM died. Returns
 * how many. */
unsigned sessions_reap(struct sessions *t);

/* Refuse new sessions from now on (ServiceUnavailableException); existing ones go on. */
void sessions_begin_drain(struct sessions *t);
/* Requests in flight: those holding a session plus those waiting for a VM to start. */
unsigned sessions_in_flight(struct sessions *t);
/* Ends every session with the given reason (VMs stopped in parallel; sessions still STARTING
 * are ended by their starter once the launch returns). Returns how many were ended. */
unsigned sessions_end_all(struct sessions *t, enum session_end_reason reason);

/* Guest memory used outside sessions (the image builder's boot-check VMs): counted against
 * max_guest_mib like a session's, so sessions and boot checks together never overcommit the
 * host. true when mib was reserved; false (nothing reserved) when it does not fit or the host is
 * draining. Give it back with sessions_release_guest_mib(). */
bool sessions_reserve_guest_mib(struct sessions *t, unsigned mib);
void sessions_release_guest_mib(struct sessions *t, unsigned mib);
/* Guest memory in use: sessions' plus reservations (tests, metrics). */
unsigned sessions_guest_mib(struct sessions *t);

unsigned sessions_count(struct sessions *t);
/* How many sessions are in each state (indexed by enum session_state). */
void sessions_count_by_state(struct sessions *t, unsigned out[3]);
/* State of a session, or -1 when there is none. */
int sessions_state(struct sessions *t, const char *session_id);

#endif
