/* guest/agentd/control_proto.h — the agentd control protocol (guest vsock port 1024):
 * one encoder/decoder shared by agentd (in the guest) and silod (on the host).
 *
 * Plain C17, no dependencies, no allocation: silod compiles control_proto.c as is.
 * The wire format is documented in guest/agentd/README.md; in short, every message is one line
 * of printable ASCII ending in "\n", at most CP_MAX_LINE bytes including the newline:
 *
 *   request:  VERB                       (READY | HEALTH | USAGE | STATUS | WAIT | SHUTDOWN)
 *             RESTORED seed=<64 hex> time=<sec>.<9 digits>   (arguments, one line)
 *             EXEC bytes=<n> timeout_ms=<ms>  followed by n raw bytes: the command
 *   response: OK VERB key=value ...      or   ERR VERB reason-word
 *   EXEC's stream, after its "OK EXEC pid=N" (frame heads, one line each):
 *             STDOUT bytes=<n> / STDERR bytes=<n>   followed by n raw bytes of output
 *             EXIT code=<c> signal=<s> timed_out=<0|1>   the last frame; agentd then closes
 *
 * Decoders accept exactly what the encoders produce (plus an optional "\r" before "\n") and
 * reject anything else with -1: unknown verbs or keys, a missing key, a number out of range,
 * control characters, overlong lines. Unknown keys are rejected rather than skipped so that a
 * version mismatch between silod and agentd shows up at once.
 */
#ifndef SILO_GUEST_AGENTD_CONTROL_PROTO_H
#define SILO_GUEST_AGENTD_CONTROL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_MAX_LINE 256        /* bytes in one message, "\n" included */
#define CP_PORT 1024           /* the guest vsock port agentd listens on */

enum cp_verb {
    CP_READY = 1,   /* which of the agent's ports (8080, 8000, 9000) accept connections now */
    CP_HEALTH,      /* the agent's GET /ping answer on 8080 */
    CP_USAGE,       /* guest CPU time and memory */
    CP_STATUS,      /* the agent process: starting, running, exited */
    CP_WAIT,        /* like STATUS, but answered only once the agent process has ended */
    CP_SHUTDOWN,    /* stop the agent (SIGTERM, then SIGKILL) and power the VM off */
    CP_RESTORED,    /* the VM was just restored from a snapshot: fresh entropy and the wall clock */
    CP_EXEC,        /* run a shell command in the guest, its output streamed (cp_exec_*) */
};

/* EXEC (InvokeAgentRuntimeCommand): `EXEC bytes=N timeout_ms=T\n` and then exactly N bytes, the
 * command for `/bin/sh -c` (no NUL byte). agentd answers `OK EXEC pid=P` (or `ERR EXEC reason`)
 * and then streams frames: STDOUT/STDERR heads each followed by their bytes, and one EXIT; the
 * connection then closes. The host closing the connection (or sending anything) ends the
 * command. Bounds both sides enforce: */
#define CP_EXEC_MAX_COMMAND (256 * 1024)       /* command bytes (65536 characters of UTF-8) */
#define CP_EXEC_MAX_TIMEOUT_MS 3600000         /* one hour, the API's maximum */
#define CP_EXEC_MAX_CHUNK (64 * 1024)          /* bytes after one STDOUT/STDERR head */

struct cp_exec_request {
    uint32_t bytes;        /* 1 .. CP_EXEC_MAX_COMMAND */
    int64_t timeout_ms;    /* 1 .. CP_EXEC_MAX_TIMEOUT_MS */
};

enum cp_exec_frame_kind {
    CP_EXEC_STDOUT = 1,
    CP_EXEC_STDERR,
    CP_EXEC_EXIT,
};

struct cp_exec_frame {
    enum cp_exec_frame_kind kind;
    uint32_t bytes;        /* STDOUT/STDERR: 1 .. CP_EXEC_MAX_CHUNK bytes follow the head */
    int32_t code;          /* EXIT: the exit status (0..255), 0 when killed by a signal */
    int32_t signal;        /* EXIT: the signal that ended the shell, else 0 */
    bool timed_out;        /* EXIT: the timeout ended it (its process group got SIGKILL) */
};

/* RESTORED's arguments: 32 bytes from the host's CSPRNG and the host's CLOCK_REALTIME. Every
 * microVM restored from one template starts with the template's kernel CRNG state; agentd mixes
 * the seed in (RNDADDENTROPY, credited) and forces a reseed (RNDRESEEDCRNG), then sets the
 * clock, before the host sends the agent anything (docs/snapshots.md). */
#define CP_SEED_BYTES 32
struct cp_restored {
    uint8_t seed[CP_SEED_BYTES];
    int64_t sec;   /* >= 0 */
    int32_t nsec;  /* 0 .. 999999999 */
};

/* bits of cp_response.ready.ports */
#define CP_PORT_HTTP 0x1u      /* 8080 */
#define CP_PORT_MCP  0x2u      /* 8000 */
#define CP_PORT_A2A  0x4u      /* 9000 */

enum cp_health {
    CP_HEALTH_HEALTHY = 1,     /* {"status":"Healthy"} */
    CP_HEALTH_BUSY,            /* {"status":"HealthyBusy"} */
    CP_HEALTH_UNHEALTHY,       /* /ping answered, but not 200 with one of the two statuses */
    CP_HEALTH_UNREACHABLE,     /* nothing accepts on 8080, or no answer in time */
};

enum cp_agent_state {
    CP_AGENT_STARTING = 1,     /* started, none of its ports accept yet */
    CP_AGENT_RUNNING,          /* started and at least one port accepts */
    CP_AGENT_EXITED,           /* exited on its own: code */
    CP_AGENT_KILLED,           /* ended by a signal: signal */
    CP_AGENT_FAILED,           /* could not be started at all (exec failed): code = errno */
};

struct cp_response {
    enum cp_verb verb;
    bool ok;                   /* false: "ERR VERB reason"; only `error` is meaningful */
    union {
        struct { unsigned ports; } ready;
        struct {
            enum cp_health status;
            int64_t time_of_last_update;   /* Unix seconds from /ping, -1 when absent */
            int http_status;               /* 0 when there was no HTTP answer */
        } health;
        struct {
            uint64_t cpu_ms;               /* non-idle guest CPU time since boot, all CPUs */
            uint64_t mem_total_kib;
            uint64_t mem_used_kib;         /* MemTotal - MemAvailable */
            uint64_t uptime_ms;
        } usage;
        struct {
            enum cp_agent_state state;
            int32_t pid;
            int32_t code;                  /* exit code, or errno for FAILED, else 0 */
            int32_t signal;                /* for KILLED, else 0 */
        } agent;                           /* STATUS, WAIT */
        struct { int64_t grace_ms; } shutdown;
        struct { int32_t pid; } exec;      /* EXEC: the shell's pid in the guest */
    } u;
    char error[64];                        /* [A-Za-z0-9_.:/-]+ when !ok */
};

/* Names on the wire ("READY", "Healthy", "exited", ...); NULL for values out of range. */
const char *cp_verb_name(enum cp_verb verb);
const char *cp_health_name(enum cp_health health);
const char *cp_agent_state_name(enum cp_agent_state state);

/* Encoders write one line with its "\n" and a terminating NUL into buf; they return the
 * line's length without the NUL, or -1 when it does not fit or a value is invalid.
 * cp_encode_request does the bare verbs (not RESTORED: cp_encode_restored). */
int cp_encode_request(enum cp_verb verb, char *buf, size_t cap);
int cp_encode_restored(const struct cp_restored *args, char *buf, size_t cap);
int cp_encode_response(const struct cp_response *resp, char *buf, size_t cap);

/* Decoders take one line (with or without its "\n"); 0 on success, -1 when malformed.
 * cp_decode_request takes the bare verbs; a RESTORED line is decoded by cp_decode_restored
 * (exactly 64 lower-case hex digits, seconds >= 0, exactly 9 digits of nanoseconds). */
int cp_decode_request(const char *line, size_t len, enum cp_verb *verb);
int cp_decode_restored(const char *line, size_t len, struct cp_restored *args);
int cp_decode_response(const char *line, size_t len, struct cp_response *resp);

/* EXEC: the request line (its command bytes follow it on the wire, not in the line) and the
 * stream's frame heads. Same conventions as above: encoders return the line's length or -1,
 * decoders 0 or -1; a decoder refuses any value out of the bounds above. */
int cp_encode_exec(const struct cp_exec_request *req, char *buf, size_t cap);
int cp_decode_exec(const char *line, size_t len, struct cp_exec_request *req);
int cp_encode_exec_frame(const struct cp_exec_frame *f, char *buf, size_t cap);
int cp_decode_exec_frame(const char *line, size_t len, struct cp_exec_frame *f);

/* Helper for ERR responses: copies `reason` into resp->error, replacing characters outside
 * the allowed set with '_' (truncating to fit). */
void cp_set_error(struct cp_response *resp, enum cp_verb verb, const char *reason);

#endif
