/* frontend/control_plane.h — the AgentCore control plane for runtimes, immutable versions and
 * endpoints (reference §2.2–§2.7), independent of the HTTP server so it can be unit-tested.
 *
 * Semantics:
 *   - CreateAgentRuntime makes version 1 and the DEFAULT endpoint; every UpdateAgentRuntime
 *     makes a new immutable version (its configuration is never changed afterwards).
 *   - DEFAULT follows the latest version; other endpoints stay pinned to the version they name
 *     until updated (rollback = point an endpoint at an older READY version).
 *   - A version starts CREATING (version 1) or UPDATING and becomes READY only when the
 *     version builder reports that its image was built and verified bootable; a failed build
 *     gives CREATE_FAILED / UPDATE_FAILED with failureReason. Endpoints targeting the version
 *     follow: their liveVersion moves only to a READY version, so running traffic is never
 *     switched to a broken one.
 *   - clientToken makes Create/Update/Delete idempotent: a repeat with the same parameters gets
 *     the first answer; the same token with other parameters is a ConflictException.
 *   - List operations page with maxResults (1–100, default 10) and an opaque nextToken.
 *
 * The version builder is an asynchronous job interface: submit() is called after the version
 * is committed, and whoever runs the job later calls control_plane_version_built(), from any
 * thread. silod wires it to a configured command (frontend/image_builder.c); unit tests use a test
 * double. All entry points are thread-safe.
 */
#ifndef SILO_FRONTEND_CONTROL_PLANE_H
#define SILO_FRONTEND_CONTROL_PLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/store.h"

struct version_builder {
    /* Start building runtime_id's version (config is the version's JSON configuration).
     * Must not block; must lead to exactly one control_plane_version_built() call. */
    void (*submit)(void *ctx, const char *runtime_id, int version, const char *config_json);
    void *ctx;
    /* Optional: the version (0: every version of the runtime) was deleted: remove what was
     * built for it (its image and template). Called after the deletion is committed. */
    void (*remove)(void *ctx, const char *runtime_id, int version);
};

struct control_plane_config {
    const char *region;        /* for ARNs, e.g. "us-east-1" */
    const char *account_id;    /* 12 digits, for ARNs */
    struct version_builder builder;
    /* Called (outside any lock) after a runtime was deleted, to end its sessions. */
    void (*runtime_deleted)(void *ctx, const char *runtime_id);
    void *runtime_deleted_ctx;
    /* Clock in milliseconds since the epoch; NULL for the real clock. */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
};

struct control_plane_response {
    unsigned status;
    const char *error_type;    /* NULL on success; else an AWS error type (aws_error.h) */
    char *body;                /* JSON, malloc'd */
};

/* Fills out with a restJson1 error of type (aws_error.h) and message / a JSON answer (takes o);
 * for every silod API that answers with a control_plane_response (the identity API too). */
void control_plane_answer_error(struct control_plane_response *out, const char *type, const char *message);
struct json_object;
void control_plane_answer_json(struct control_plane_response *out, unsigned status, struct json_object *o);

struct control_plane;

struct control_plane *control_plane_new(struct store *store, const struct control_plane_config *cfg);
void control_plane_free(struct control_plane *cp);

/* True when method+path is a control-plane operation (PUT/POST /runtimes/, …/versions/, …). */
bool control_plane_owns(const char *method, const char *raw_path);

/* Handles one request. raw_path is the path as on the wire (percent-encoded); query is the raw
 * query string or NULL. out->body must be freed by the caller. */
void control_plane_handle(struct control_plane *cp, const char *method, const char *raw_path,
                          const char *query, const char *body, size_t body_len,
                          struct control_plane_response *out);

/* Hands every version still CREATING or UPDATING to the builder again: silod stopped or crashed
 * while they were being built, and a build is repeatable (the image builder is content-addressed).
 * silod calls it once at start, after its builder is ready. Returns how many were resubmitted. */
unsigned control_plane_resume_builds(struct control_plane *cp);

/* Reports the end of a version build. */
void control_plane_version_built(struct control_plane *cp, const char *runtime_id, int version,
                                 bool ok, const char *failure_reason);

/* What the data plane needs to start a session. */
struct resolved_runtime {
    char runtime_id[160];
    char endpoint_name[64];
    int version;
    char *config_json;         /* the version's configuration; malloc'd */
};

/* Resolves an invoke target (a runtime ARN or a bare id) and qualifier (endpoint name, NULL →
 * DEFAULT) to the endpoint's live version. Returns NULL on success, else an AWS error type with
 * a message in msg. */
const char *control_plane_resolve(struct control_plane *cp, const char *arn_or_id,
                                  const char *qualifier, struct resolved_runtime *out,
                                  char *msg, size_t msg_len);

/* Extracts the runtime id from a runtime ARN; a bare id is returned as is. Writes at most
 * out_len bytes; returns false when the text is neither. */
bool control_plane_runtime_id_from_arn(const char *arn_or_id, char *out, size_t out_len);

#endif
