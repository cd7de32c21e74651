/* frontend/control_plane_endpoints.c — the runtime endpoint resource:
 * CreateAgentRuntimeEndpoint, GetAgentRuntimeEndpoint, UpdateAgentRuntimeEndpoint (liveVersion
 * moves only to a READY version), DeleteAgentRuntimeEndpoint and ListAgentRuntimeEndpoints.
 * DEFAULT is made with its runtime, follows the latest version and is deleted with it. */
#include "frontend/control_plane_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"
#include "frontend/control_plane_validate.h"

#define ENDPOINT_COLUMNS "runtime_id, name, id, live_version, target_version, description, status," \
                         " failure_reason, created_at, last_updated_at"

static json_object *endpoint_json(struct control_plane *cp, sqlite3_stmt *st, const char *runtime_arn)
{
    /* columns: ENDPOINT_COLUMNS */
    char arn[600], vs[16];
    cpl_endpoint_arn(cp, cpl_col_text(st, 0), cpl_col_text(st, 1), arn, sizeof arn);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(cpl_col_text(st, 1)));
    json_object_object_add(o, "id", json_object_new_string(cpl_col_text(st, 2)));
    json_object_object_add(o, "agentRuntimeEndpointArn", json_object_new_string(arn));
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(runtime_arn));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
        snprintf(vs, sizeof vs, "%d", sqlite3_column_int(st, 3));
        json_object_object_add(o, "liveVersion", json_object_new_string(vs));
    }
    snprintf(vs, sizeof vs, "%d", sqlite3_column_int(st, 4));
    json_object_object_add(o, "targetVersion", json_object_new_string(vs));
    if (cpl_col_text(st, 5))
        json_object_object_add(o, "description", json_object_new_string(cpl_col_text(st, 5)));
    json_object_object_add(o, "status", json_object_new_string(cpl_col_text(st, 6)));
    if (cpl_col_text(st, 7))
        json_object_object_add(o, "failureReason", json_object_new_string(cpl_col_text(st, 7)));
    json_object_object_add(o, "createdAt", cpl_timestamp(sqlite3_column_int64(st, 8)));
    json_object_object_add(o, "lastUpdatedAt", cpl_timestamp(sqlite3_column_int64(st, 9)));
    return o;
}

static json_object *load_endpoint_json(struct control_plane *cp, const struct runtime_row *r, const char *name)
{
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT " ENDPOINT_COLUMNS
                                                " FROM endpoints WHERE runtime_id = ? AND name = ?");
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    json_object *o = sqlite3_step(st) == SQLITE_ROW ? endpoint_json(cp, st, r->arn) : NULL;
    sqlite3_finalize(st);
    return o;
}

/* Whether endpoint name of runtime id exists (r is loaded); else NotFound in out. */
static bool endpoint_exists(struct cpl_call *call, const char *name, struct runtime_row *r)
{
    json_object *existing = NULL;
    if (!cpl_load_runtime(call->cp, call->id, r) || !(existing = load_endpoint_json(call->cp, r, name))) {
        cpl_set_error(call->out, AWS_NOT_FOUND, "endpoint %s of agent runtime %s not found", name, call->id);
        return false;
    }
    json_object_put(existing);
    return true;
}

/* Reads agentRuntimeVersion from the body (default: latest) and checks it can be served. */
static bool endpoint_target(struct control_plane *cp, const struct runtime_row *r, json_object *req,
                            int *version, char status_if_pending[32], bool creating, bool *ready,
                            struct control_plane_response *out)
{
    json_object *v;
    *version = r->latest_version;
    if (json_object_object_get_ex(req, "agentRuntimeVersion", &v) &&
        !cpl_parse_version(json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "", version)) {
        cpl_set_error(out, AWS_VALIDATION, "agentRuntimeVersion must match ^([1-9][0-9]{0,4})$");
        return false;
    }
    struct version_row vr;
    if (!cpl_load_version(cp, r->id, *version, &vr)) {
        cpl_set_error(out, AWS_NOT_FOUND, "version %d of agent runtime %s not found", *version, r->id);
        return false;
    }
    free(vr.config);
    if (strstr(vr.status, "FAILED")) {
        cpl_set_error(out, AWS_VALIDATION, "version %d failed to build and cannot be served", *version);
        return false;
    }
    *ready = strcmp(vr.status, "READY") == 0;
    snprintf(status_if_pending, 32, "%s", *ready ? "READY" : creating ? "CREATING" : "UPDATING");
    return true;
}

/* The body of a create or update: a JSON object with a clientToken and description that
 * pass; false with a ValidationException in out. */
static bool endpoint_body(struct cpl_call *call, struct cpl_token *token, const char **desc)
{
    json_object *d;
    *desc = NULL;
    if (!call->req || !json_object_is_type(call->req, json_type_object)) {
        cpl_set_error(call->out, AWS_VALIDATION, "request body must be a JSON object");
        return false;
    }
    if (!cpl_client_token(call, false, token))
        return false;
    if (!json_object_object_get_ex(call->req, "description", &d))
        return true;
    if (!json_object_is_type(d, json_type_string) || json_object_get_string_len(d) > 256) {
        cpl_set_error(call->out, AWS_VALIDATION, "description must be a string of at most 256 characters");
        return false;
    }
    *desc = json_object_get_string(d);
    return true;
}

/* ---------------------------------------------------------------- CreateAgentRuntimeEndpoint */

struct endpoint_write {
    const char *name;
    const char *desc;
    json_object *tags;            /* NULL: none */
};

static enum cpl_apply_result apply_create_endpoint(struct cpl_call *call, void *ctx)
{
    struct endpoint_write *w = ctx;
    struct control_plane *cp = call->cp;
    const char *id = call->id, *name = w->name;
    struct runtime_row r;
    int version;
    char status[32];
    bool ready;
    if (!cpl_runtime_found(call, &r))
        return CPL_REFUSED;
    if (!endpoint_target(cp, &r, call->req, &version, status, true, &ready, call->out))
        return CPL_REFUSED;
    json_object *existing = load_endpoint_json(cp, &r, name);
    if (existing) {
        json_object_put(existing);
        cpl_set_error(call->out, AWS_CONFLICT, "endpoint %s already exists", name);
        return CPL_REFUSED;
    }
    sqlite3_stmt *cnt = store_prepare(cp->store, "SELECT COUNT(*) FROM endpoints WHERE runtime_id = ?");
    int count = CPL_MAX_ENDPOINTS;
    if (cnt) {
        sqlite3_bind_text(cnt, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(cnt) == SQLITE_ROW)
            count = sqlite3_column_int(cnt, 0);
        sqlite3_finalize(cnt);
    }
    if (count >= CPL_MAX_ENDPOINTS) {
        cpl_set_error(call->out, AWS_QUOTA, "agent runtime %s already has %d endpoints", id, CPL_MAX_ENDPOINTS);
        return CPL_REFUSED;
    }
    char suffix[11], ep_id[160], arn[600], vs[16];
    cpl_random_suffix(suffix);
    snprintf(ep_id, sizeof ep_id, "%s-%s", name, suffix);
    int64_t now = cpl_now_ms(cp);
    bool ok = cpl_exec_bound(cp, "INSERT INTO endpoints (runtime_id, name, id, live_version, target_version,"
                                " description, status, created_at, last_updated_at)"
                                " VALUES (?, ?, ?, CASE WHEN ? = 1 THEN ? ELSE NULL END, ?, ?, ?, ?, ?)",
                            "sssiiissII", id, name, ep_id, ready ? 1 : 0, version, version, w->desc, status,
                            now, now);
    cpl_endpoint_arn(cp, id, name, arn, sizeof arn);
    ok = ok && (!w->tags || cpl_tags_store(cp, arn, w->tags));
    snprintf(vs, sizeof vs, "%d", version);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "targetVersion", json_object_new_string(vs));
    json_object_object_add(o, "agentRuntimeEndpointArn", json_object_new_string(arn));
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(r.arn));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "endpointName", json_object_new_string(name));
    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "createdAt", cpl_timestamp(now));
    control_plane_answer_json(call->out, 202, o);
    return ok ? CPL_APPLIED : CPL_STORE_FAILED;
}

void cpl_create_endpoint(struct cpl_call *call)
{
    char op[640];
    struct cpl_token token;
    struct endpoint_write w = { 0 };
    if (!endpoint_body(call, &token, &w.desc))
        return;
    json_object *nm = json_object_object_get(call->req, "name");
    if (!cp_valid_json_name(nm, 47)) {
        cpl_set_error(call->out, AWS_VALIDATION, "name must match ^[a-zA-Z][a-zA-Z0-9_]{0,47}$");
        return;
    }
    w.name = json_object_get_string(nm);
    char msg[256];
    w.tags = json_object_object_get(call->req, "tags");
    if (w.tags && !cpl_tags_valid(w.tags, msg, sizeof msg)) {
        cpl_set_error(call->out, AWS_VALIDATION, "%s", msg);
        return;
    }
    snprintf(op, sizeof op, "CreateAgentRuntimeEndpoint/%s", call->id);
    cpl_idempotent_write(call, op, &token, call->req, apply_create_endpoint, &w, "could not store the endpoint");
}

/* ---------------------------------------------------------------- UpdateAgentRuntimeEndpoint */

static enum cpl_apply_result apply_update_endpoint(struct cpl_call *call, void *ctx)
{
    struct endpoint_write *w = ctx;
    struct control_plane *cp = call->cp;
    const char *id = call->id, *name = w->name;
    struct runtime_row r;
    int version;
    char status[32];
    bool ready;
    if (!endpoint_exists(call, name, &r) ||
        !endpoint_target(cp, &r, call->req, &version, status, false, &ready, call->out))
        return CPL_REFUSED;
    int64_t now = cpl_now_ms(cp);
    /* zero downtime: liveVersion moves only when the target is READY */
    bool ok = cpl_exec_bound(cp, "UPDATE endpoints SET target_version = ?, status = ?, failure_reason = NULL,"
                                " description = COALESCE(?, description), last_updated_at = ? WHERE runtime_id = ? AND name = ?",
                            "issIss", version, status, w->desc, now, id, name) &&
              (!ready || cpl_exec_bound(cp, "UPDATE endpoints SET live_version = target_version WHERE runtime_id = ? AND name = ?",
                                       "ss", id, name));
    json_object *o = load_endpoint_json(cp, &r, name);
    if (!o) {
        ok = false;
        o = json_object_new_object();
    }
    json_object_object_del(o, "name");
    json_object_object_del(o, "id");
    json_object_object_del(o, "description");
    json_object_object_del(o, "failureReason");
    control_plane_answer_json(call->out, 202, o);
    return ok ? CPL_APPLIED : CPL_STORE_FAILED;
}

void cpl_update_endpoint(struct cpl_call *call)
{
    char op[640];
    struct cpl_token token;
    struct endpoint_write w = { .name = call->name };
    if (!endpoint_body(call, &token, &w.desc))
        return;
    if (strcmp(call->name, "DEFAULT") == 0) {
        cpl_set_error(call->out, AWS_VALIDATION, "the DEFAULT endpoint always follows the latest version");
        return;
    }
    snprintf(op, sizeof op, "UpdateAgentRuntimeEndpoint/%s/%s", call->id, call->name);
    cpl_idempotent_write(call, op, &token, call->req, apply_update_endpoint, &w, "could not update the endpoint");
}

/* ---------------------------------------------------------------- GetAgentRuntimeEndpoint */

void cpl_get_endpoint(struct cpl_call *call)
{
    struct runtime_row r;
    json_object *o = NULL;
    if (!cpl_load_runtime(call->cp, call->id, &r) || !(o = load_endpoint_json(call->cp, &r, call->name))) {
        cpl_set_error(call->out, AWS_NOT_FOUND, "endpoint %s of agent runtime %s not found", call->name, call->id);
        return;
    }
    control_plane_answer_json(call->out, 200, o);
}

/* ---------------------------------------------------------------- DeleteAgentRuntimeEndpoint */

static enum cpl_apply_result apply_delete_endpoint(struct cpl_call *call, void *ctx)
{
    (void)ctx;
    struct runtime_row r;
    if (!endpoint_exists(call, call->name, &r))
        return CPL_REFUSED;
    char arn[600];
    cpl_endpoint_arn(call->cp, call->id, call->name, arn, sizeof arn);
    bool ok = cpl_exec_bound(call->cp, "DELETE FROM endpoints WHERE runtime_id = ? AND name = ?", "ss",
                            call->id, call->name) && cpl_tags_forget(call->cp, arn);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("DELETING"));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(call->id));
    json_object_object_add(o, "endpointName", json_object_new_string(call->name));
    control_plane_answer_json(call->out, 202, o);
    return ok ? CPL_APPLIED : CPL_STORE_FAILED;
}

void cpl_delete_endpoint(struct cpl_call *call)
{
    char op[640];
    struct cpl_token token;
    if (!cpl_client_token(call, true, &token))
        return;
    if (strcmp(call->name, "DEFAULT") == 0) {
        cpl_set_error(call->out, AWS_VALIDATION, "the DEFAULT endpoint is deleted with its agent runtime");
        return;
    }
    json_object *meaning = json_object_new_string(call->name);
    snprintf(op, sizeof op, "DeleteAgentRuntimeEndpoint/%s/%s", call->id, call->name);
    cpl_idempotent_write(call, op, &token, meaning, apply_delete_endpoint, NULL, "could not delete the endpoint");
    json_object_put(meaning);
}

/* ---------------------------------------------------------------- ListAgentRuntimeEndpoints */

void cpl_list_endpoints(struct cpl_call *call)
{
    struct cpl_page pg;
    struct runtime_row r;
    if (!cpl_parse_paging(call->query, &pg, call->out))
        return;
    if (!cpl_runtime_found(call, &r))
        return;
    sqlite3_stmt *st = store_prepare(call->cp->store, "SELECT " ENDPOINT_COLUMNS " FROM endpoints"
                                                      " WHERE runtime_id = ? ORDER BY created_at, name LIMIT ? OFFSET ?");
    if (!st) {
        cpl_set_error(call->out, AWS_INTERNAL, "database error");
        return;
    }
    sqlite3_bind_text(st, 1, call->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, pg.limit + 1);
    sqlite3_bind_int64(st, 3, pg.offset);
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    int n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = true;
            break;
        }
        json_object_array_add(arr, endpoint_json(call->cp, st, r.arn));
        n++;
    }
    sqlite3_finalize(st);
    json_object_object_add(o, "runtimeEndpoints", arr);
    cpl_add_next_token(o, &pg, n, more);
    control_plane_answer_json(call->out, 200, o);
}
