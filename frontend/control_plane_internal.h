/* frontend/control_plane_internal.h — what the control plane's files share, never included
 * outside them (the public interface is control_plane.h). The files:
 *
 *   control_plane.c             lifecycle, control_plane_handle (body, lock, route, builds after
 *                               the lock), resolving an invoke target, runtime ARNs
 *   control_plane_routes.c      the ONE route table {method, path pattern, handler}
 *   control_plane_idempotent.c  the ONE clientToken envelope every write goes through
 *   control_plane_common.c      answers, ARNs, timestamps, paging
 *   control_plane_rows.c        reading and writing rows of runtimes and versions
 *   control_plane_runtimes.c    Create/Get/Update/Delete/ListAgentRuntimes
 *   control_plane_versions.c    ListAgentRuntimeVersions and the version-build state machine
 *   control_plane_endpoints.c   Create/Get/Update/Delete/ListAgentRuntimeEndpoints
 *   control_plane_tags.c        TagResource, UntagResource, ListTagsForResource
 *   control_plane_validate.c    request validation (its own header)
 *
 * Every handler runs with cp->lock held and answers into call->out. */
#ifndef SILO_FRONTEND_CONTROL_PLANE_INTERNAL_H
#define SILO_FRONTEND_CONTROL_PLANE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "frontend/control_plane.h"

#define CPL_MAX_VERSIONS 1000
#define CPL_MAX_ENDPOINTS 10

struct control_plane {
    struct store *store;
    struct control_plane_config cfg;
    pthread_mutex_t lock;
    sqlite3_stmt *resolve_stmt;   /* control_plane_resolve's query, prepared once (under lock) */
};

/* A version to hand to the builder once the transaction has committed and the lock is free. */
struct pending_build {
    char runtime_id[256];
    int version;                  /* 0: nothing to build */
    char *config;                 /* malloc'd */
};

/* One control-plane request as a handler sees it. */
struct cpl_call {
    struct control_plane *cp;
    const char *method;
    const char *id;               /* the path's {id}, decoded and well-formed (NULL: none) */
    const char *name;             /* the path's {name}: an endpoint name (NULL: none) */
    const char *arn;              /* the path's {arn}: a tagged resource (NULL: none) */
    const char *query;            /* the raw query string (NULL: none); every part decodes */
    json_object *req;             /* the body, a JSON object (NULL: no body) */
    struct control_plane_response *out;
    struct pending_build build;   /* set by writes that made a new version */
    bool runtime_deleted;         /* the whole runtime {id} was deleted: end its sessions */
};

typedef void cpl_handler(struct cpl_call *call);

/* ---- control_plane_routes.c */

enum cpl_route_match { CPL_ROUTE_NONE, CPL_ROUTE_OTHER_METHOD, CPL_ROUTE_FOUND };

/* Decoded path parameters of a matched route. */
struct cpl_route_params {
    char id[256], name[256], arn[256];
    bool has_id, has_name, has_arn;
};

/* Matches method + raw_path against the route table: CPL_ROUTE_FOUND with *handler and params
 * set, CPL_ROUTE_OTHER_METHOD when the path is a control-plane resource but not with this
 * method (params set), else CPL_ROUTE_NONE. */
enum cpl_route_match cpl_route_find(const char *method, const char *raw_path, cpl_handler **handler,
                                  struct cpl_route_params *params);

/* ---- control_plane_idempotent.c: clientToken makes a write idempotent */

struct cpl_token {
    char value[300];
    bool present;
};

/* Reads clientToken from the body (or, with from_query, from the query, as the deletes send
 * it) and checks its pattern; false with a ValidationException in call->out. */
bool cpl_client_token(struct cpl_call *call, bool from_query, struct cpl_token *token);

enum cpl_apply_result {
    CPL_APPLIED,        /* done: call->out holds the answer; record it and commit */
    CPL_REFUSED,        /* call->out holds an error; roll back, record nothing */
    CPL_STORE_FAILED,   /* a statement failed; roll back, answer InternalServerException */
};

enum cpl_write_result { CPL_WRITE_DONE, CPL_WRITE_REPLAYED, CPL_WRITE_FAILED };

/* One idempotent write: in one transaction, replays the first answer given to (op, token)
 * when the request means the same (the hash of `meaning` without clientToken; a different
 * meaning is ConflictException), else runs apply(call, ctx), records its answer under the
 * token and commits. fail_msg is the InternalServerException message when the write could not
 * be stored. Returns CPL_WRITE_DONE only when apply's answer was committed. */
enum cpl_write_result cpl_idempotent_write(struct cpl_call *call, const char *op, const struct cpl_token *token,
                                         json_object *meaning,
                                         enum cpl_apply_result (*apply)(struct cpl_call *call, void *ctx),
                                         void *ctx, const char *fail_msg);

/* ---- control_plane_common.c */

int64_t cpl_now_ms(struct control_plane *cp);
json_object *cpl_timestamp(int64_t ms);       /* ISO 8601 with milliseconds, UTC */
void cpl_set_error(struct control_plane_response *out, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cpl_random_suffix(char out[11]);         /* 10 random [A-Za-z0-9] */
void cpl_runtime_arn(struct control_plane *cp, const char *id, char *out, size_t len);
void cpl_endpoint_arn(struct control_plane *cp, const char *id, const char *name, char *out, size_t len);
json_object *cpl_workload_identity(struct control_plane *cp, const char *name);
/* The runtime's workload identity row (identity_store.h), in the caller's transaction. */
bool cpl_workload_identity_create(struct control_plane *cp, const char *runtime_id, int64_t now_ms);
bool cpl_workload_identity_delete(struct control_plane *cp, const char *runtime_id);
/* A query parameter's decoded value (the query was checked to decode as a whole). */
bool cpl_query_param(const char *query, const char *name, char *out, size_t len);
/* A version number as the API spells it: ^([1-9][0-9]{0,4})$ */
bool cpl_parse_version(const char *s, int *version);

struct cpl_page {
    int limit;
    int64_t offset;
};
/* maxResults (1-100, default 10) and nextToken; false with a ValidationException in out. */
bool cpl_parse_paging(const char *query, struct cpl_page *pg, struct control_plane_response *out);
void cpl_add_next_token(json_object *o, const struct cpl_page *pg, int returned, bool more);

/* ---- control_plane_rows.c */

const char *cpl_col_text(sqlite3_stmt *st, int i);      /* NULL for SQL NULL */

struct runtime_row {
    char id[160];
    char name[64];
    char arn[400];
    int latest_version;
    char status[32];
    char failure_reason[512];
    int64_t created_at, last_updated_at;
};
bool cpl_load_runtime(struct control_plane *cp, const char *id, struct runtime_row *r);
/* cpl_load_runtime of call->id; false with ResourceNotFoundException in call->out. */
bool cpl_runtime_found(struct cpl_call *call, struct runtime_row *r);

struct version_row {
    int version;
    char status[32];
    char failure_reason[512];
    char *config;                /* malloc'd */
    int64_t created_at, last_updated_at;
};
bool cpl_load_version(struct control_plane *cp, const char *id, int version, struct version_row *v);
bool cpl_insert_version(struct control_plane *cp, const char *id, int version, const char *config,
                       const char *status, int64_t now);
/* Runs sql with its parameters bound from the varargs as fmt says: 's' text (NULL: SQL NULL),
 * 'i' int, 'I' int64. True when the statement completed. */
bool cpl_exec_bound(struct control_plane *cp, const char *sql, const char *fmt, ...);

/* ---- the resources' handlers */

cpl_handler cpl_create_runtime, cpl_list_runtimes, cpl_get_runtime, cpl_update_runtime, cpl_delete_runtime;
cpl_handler cpl_list_versions;
cpl_handler cpl_create_endpoint, cpl_list_endpoints, cpl_get_endpoint, cpl_update_endpoint, cpl_delete_endpoint;
cpl_handler cpl_tag_resource, cpl_untag_resource, cpl_list_tags;

/* Summaries of runtimes or versions (control_plane_runtimes.c), for both List operations: st's
 * columns are id, name, arn, version, config, status, last_updated_at. */
void cpl_list_summaries(sqlite3_stmt *st, const struct cpl_page *pg, struct control_plane_response *out);

/* tags (control_plane_tags.c): checks a `tags` map, and stores it for arn */
bool cpl_tags_valid(json_object *tags, char *msg, size_t len);
bool cpl_tags_store(struct control_plane *cp, const char *arn, json_object *tags);
/* drops the tags of the resource arn and of its endpoints (arn/runtime-endpoint/...) */
bool cpl_tags_forget(struct control_plane *cp, const char *arn);

#endif
