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
 * lifetime, busy or not. silod calls sessions_reap() once a second.
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
    void *launcher_data;
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
};

struct sessions_config {
    unsigned max_sessions;
    unsigned max_guest_mib;
    int64_t (*now_ms)(void *ctx);   /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
    struct session_launcher launcher;
};

enum session_state { SESSION_STARTING, SESSION_ACTIVE, SESSION_IDLE };

struct sessions;
struct session;   /* a held reference; give it back with sessions_release() */

struct sessions *sessions_new(const struct sessions_config *cfg);
/* Stops every VM and frees the table. */
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
 * same id is a ConflictException. */
struct session *sessions_acquire(struct sessions *t, const struct session_acquire *req,
                                 const char **err_type, char *msg, size_t msg_len);
/* Ends one request: the session's idle clock starts when its last request ends. */
void sessions_release(struct sessions *t, struct session *s);
const struct session_vm *session_vm(const struct session *s);
int session_version(const struct session *s);

/* What the agent's /ping said: busy (HealthyBusy) and its time_of_last_update (0 if absent). */
void sessions_report_ping(struct sessions *t, const char *session_id, bool busy, int64_t time_of_last_update);

/* Ends one session now (StopRuntimeSession); false when unknown or, with runtime_id non-NULL,
 * of another runtime. In-flight streams see their VM go away and end. */
bool sessions_stop(struct sessions *t, const char *runtime_id, const char *session_id);
/* The agent of a held session could not be reached: if its VMM is no longer running, the
 * session ends now (a later request with the same id gets a fresh microVM). Returns true when
 * the VM is still alive. */
bool sessions_check_vm(struct sessions *t, struct session *s);
/* Ends every session of a runtime (the runtime was deleted). Returns how many. */
unsigned sessions_stop_runtime(struct sessions *t, const char *runtime_id);
/* Ends sessions past their idle timeout or max lifetime, and those whose VMM died. Returns
 * how many. */
unsigned sessions_reap(struct sessions *t);

unsigned sessions_count(struct sessions *t);
/* How many sessions are in each state (indexed by enum session_state). */
void sessions_count_by_state(struct sessions *t, unsigned out[3]);
/* State of a session, or -1 when there is none. */
int sessions_state(struct sessions *t, const char *session_id);

#endif
