/* frontend/control_plane_runtimes.c — the agent runtime resource: CreateAgentRuntime,
 * GetAgentRuntime, UpdateAgentRuntime (a new immutable version each time), DeleteAgentRuntime
 * (the whole runtime, or one unused version) and ListAgentRuntimes (see control_plane.h for
 * the semantics, control_plane_internal.h for the shared pieces). */
#include "frontend/control_plane_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"
#include "frontend/control_plane_validate.h"

/* ---------------------------------------------------------------- CreateAgentRuntime */

struct create_runtime {
    json_object *cfg;             /* the validated, normalised version configuration */
    json_object *tags;            /* NULL: none */
    const char *name;
    char id[160];
};

static enum cpl_apply_result apply_create_runtime(struct cpl_call *call, void *ctx)
{
    struct create_runtime *c = ctx;
    struct control_plane *cp = call->cp;
    char suffix[11], arn[400], ep_id[160];
    cpl_random_suffix(suffix);
    snprintf(c->id, sizeof c->id, "%s-%s", c->name, suffix);
    cpl_random_suffix(suffix);
    snprintf(ep_id, sizeof ep_id, "DEFAULT-%s", suffix);
    cpl_runtime_arn(cp, c->id, arn, sizeof arn);
    int64_t now = cpl_now_ms(cp);
    const char *config = json_object_to_json_string_ext(c->cfg, JSON_C_TO_STRING_PLAIN);

    sqlite3_stmt *dup = store_prepare(cp->store, "SELECT 1 FROM runtimes WHERE name = ?");
    bool exists = false;
    if (dup) {
        sqlite3_bind_text(dup, 1, c->name, -1, SQLITE_TRANSIENT);
        exists = sqlite3_step(dup) == SQLITE_ROW;
        sqlite3_finalize(dup);
    }
    if (exists) {
        cpl_set_error(call->out, AWS_CONFLICT, "an agent runtime named %s already exists", c->name);
        return CPL_REFUSED;
    }
    bool ok = cpl_exec_bound(cp, "INSERT INTO runtimes (id, name, arn, latest_version, status, created_at,"
                                " last_updated_at) VALUES (?, ?, ?, 1, 'CREATING', ?, ?)",
                            "sssII", c->id, c->name, arn, now, now) &&
              cpl_insert_version(cp, c->id, 1, config, "CREATING", now) &&
              cpl_exec_bound(cp, "INSERT INTO endpoints (runtime_id, name, id, target_version, status,"
                                " created_at, last_updated_at) VALUES (?, 'DEFAULT', ?, 1, 'CREATING', ?, ?)",
                            "ssII", c->id, ep_id, now, now) &&
              (!c->tags || cpl_tags_store(cp, arn, c->tags)) && cpl_workload_identity_create(cp, c->id, now);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(arn));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(c->id));
    json_object_object_add(o, "agentRuntimeVersion", json_object_new_string("1"));
    json_object_object_add(o, "createdAt", cpl_timestamp(now));
    json_object_object_add(o, "status", json_object_new_string("CREATING"));
    json_object_object_add(o, "workloadIdentityDetails", cpl_workload_identity(cp, c->id));
    control_plane_answer_json(call->out, 202, o);
    return ok ? CPL_APPLIED : CPL_STORE_FAILED;
}

void cpl_create_runtime(struct cpl_call *call)
{
    char msg[512];
    struct cpl_token token;
    if (!cpl_client_token(call, false, &token))
        return;
    struct create_runtime c = { .cfg = cp_validate_runtime_request(call->req, false, msg, sizeof msg) };
    if (!c.cfg) {
        cpl_set_error(call->out, AWS_VALIDATION, "%s", msg);
        return;
    }
    c.tags = json_object_object_get(call->req, "tags");
    if (c.tags && !cpl_tags_valid(c.tags, msg, sizeof msg)) {
        json_object_put(c.cfg);
        cpl_set_error(call->out, AWS_VALIDATION, "%s", msg);
        return;
    }
    c.name = json_object_get_string(json_object_object_get(call->req, "agentRuntimeName"));
    if (cpl_idempotent_write(call, "CreateAgentRuntime", &token, call->req, apply_create_runtime, &c,
                            "could not store the agent runtime") == CPL_WRITE_DONE) {
        snprintf(call->build.runtime_id, sizeof call->build.runtime_id, "%s", c.id);
        call->build.version = 1;
        call->build.config = strdup(json_object_to_json_string_ext(c.cfg, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(c.cfg);
}

/* ---------------------------------------------------------------- UpdateAgentRuntime */

struct update_runtime {
    json_object *cfg;
    int version;                  /* the new version */
};

static enum cpl_apply_result apply_update_runtime(struct cpl_call *call, void *ctx)
{
    struct update_runtime *u = ctx;
    struct control_plane *cp = call->cp;
    const char *id = call->id;
    struct runtime_row r;
    if (!cpl_runtime_found(call, &r))
        return CPL_REFUSED;
    if (r.latest_version >= CPL_MAX_VERSIONS) {
        cpl_set_error(call->out, AWS_QUOTA, "agent runtime %s has reached %d versions", id, CPL_MAX_VERSIONS);
        return CPL_REFUSED;
    }
    int v = u->version = r.latest_version + 1;
    int64_t now = cpl_now_ms(cp);
    const char *config = json_object_to_json_string_ext(u->cfg, JSON_C_TO_STRING_PLAIN);
    /* DEFAULT follows the latest version: it targets v and is UPDATING until v is READY */
    bool ok = cpl_insert_version(cp, id, v, config, "UPDATING", now) &&
              cpl_exec_bound(cp, "UPDATE runtimes SET latest_version = ?, status = 'UPDATING',"
                                " failure_reason = NULL, last_updated_at = ? WHERE id = ?",
                            "iIs", v, now, id) &&
              cpl_exec_bound(cp, "UPDATE endpoints SET target_version = ?, status = 'UPDATING',"
                                " failure_reason = NULL, last_updated_at = ? WHERE runtime_id = ? AND name = 'DEFAULT'",
                            "iIs", v, now, id);
    char vs[16];
    snprintf(vs, sizeof vs, "%d", v);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(r.arn));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "agentRuntimeVersion", json_object_new_string(vs));
    json_object_object_add(o, "createdAt", cpl_timestamp(r.created_at));
    json_object_object_add(o, "lastUpdatedAt", cpl_timestamp(now));
    json_object_object_add(o, "status", json_object_new_string("UPDATING"));
    json_object_object_add(o, "workloadIdentityDetails", cpl_workload_identity(cp, id));
    control_plane_answer_json(call->out, 202, o);
    return ok ? CPL_APPLIED : CPL_STORE_FAILED;
}

void cpl_update_runtime(struct cpl_call *call)
{
    char msg[512], op[640];
    struct cpl_token token;
    if (!cpl_client_token(call, false, &token))
        return;
    struct update_runtime u = { .cfg = cp_validate_runtime_request(call->req, true, msg, sizeof msg) };
    if (!u.cfg) {
        cpl_set_error(call->out, AWS_VALIDATION, "%s", msg);
        return;
    }
    snprintf(op, sizeof op, "UpdateAgentRuntime/%s", call->id);
    if (cpl_idempotent_write(call, op, &token, call->req, apply_update_runtime, &u,
                            "could not store the new version") == CPL_WRITE_DONE) {
        snprintf(call->build.runtime_id, sizeof call->build.runtime_id, "%s", call->id);
        call->build.version = u.version;
        call->build.config = strdup(json_object_to_json_string_ext(u.cfg, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(u.cfg);
}

/* ---------------------------------------------------------------- GetAgentRuntime */

void cpl_get_runtime(struct cpl_call *call)
{
    struct control_plane *cp = call->cp;
    const char *id = call->id;
    struct runtime_row r;
    if (!cpl_runtime_found(call, &r))
        return;
    int version = r.latest_version;
    char vq[32];
    if (cpl_query_param(call->query, "version", vq, sizeof vq) && !cpl_parse_version(vq, &version)) {
        cpl_set_error(call->out, AWS_VALIDATION, "version must match ^([1-9][0-9]{0,4})$");
        return;
    }
    struct version_row v;
    if (!cpl_load_version(cp, id, version, &v)) {
        cpl_set_error(call->out, AWS_NOT_FOUND, "version %d of agent runtime %s not found", version, id);
        return;
    }
    json_object *o = json_tokener_parse(v.config);
    if (!o)
        o = json_object_new_object();
    char vs[16];
    snprintf(vs, sizeof vs, "%d", version);
    json_object_object_add(o, "agentRuntimeArn", json_object_new_string(r.arn));
    json_object_object_add(o, "agentRuntimeName", json_object_new_string(r.name));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    json_object_object_add(o, "agentRuntimeVersion", json_object_new_string(vs));
    json_object_object_add(o, "createdAt", cpl_timestamp(v.created_at));
    json_object_object_add(o, "lastUpdatedAt", cpl_timestamp(v.last_updated_at));
    json_object_object_add(o, "status", json_object_new_string(v.status));
    if (v.failure_reason[0])
        json_object_object_add(o, "failureReason", json_object_new_string(v.failure_reason));
    json_object_object_add(o, "workloadIdentityDetails", cpl_workload_identity(cp, id));
    free(v.config);
    control_plane_answer_json(call->out, 200, o);
}

/* ---------------------------------------------------------------- DeleteAgentRuntime */

struct delete_runtime {
    bool one_version;             /* ?version=N: only that version */
    int version;
    const char *vq;               /* its text, echoed */
};

static enum cpl_apply_result apply_delete_runtime(struct cpl_call *call, void *ctx)
{
    struct delete_runtime *d = ctx;
    struct control_plane *cp = call->cp;
    const char *id = call->id;
    struct runtime_row r;
    if (!cpl_runtime_found(call, &r))
        return CPL_REFUSED;
    bool ok;
    if (d->one_version) {
        sqlite3_stmt *st = store_prepare(cp->store,
            "SELECT (SELECT COUNT(*) FROM versions WHERE runtime_id = ?1 AND version = ?2),"
            " (SELECT COUNT(*) FROM endpoints WHERE runtime_id = ?1 AND (live_version = ?2 OR target_version = ?2))");
        int exists = 0, used = 1;
        if (st) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 2, d->version);
            if (sqlite3_step(st) == SQLITE_ROW) {
                exists = sqlite3_column_int(st, 0);
                used = sqlite3_column_int(st, 1);
            }
            sqlite3_finalize(st);
        }
        if (!exists) {
            cpl_set_error(call->out, AWS_NOT_FOUND, "version %d of agent runtime %s not found", d->version, id);
            return CPL_REFUSED;
        }
        if (used || d->version == r.latest_version) {
            cpl_set_error(call->out, AWS_CONFLICT, "version %d is the latest or is used by an endpoint", d->version);
            return CPL_REFUSED;
        }
        ok = cpl_exec_bound(cp, "DELETE FROM versions WHERE runtime_id = ? AND version = ?", "si", id, d->version);
    } else {
        ok = cpl_exec_bound(cp, "DELETE FROM endpoints WHERE runtime_id = ?", "s", id) &&
             cpl_exec_bound(cp, "DELETE FROM versions WHERE runtime_id = ?", "s", id) &&
             cpl_exec_bound(cp, "DELETE FROM runtimes WHERE id = ?", "s", id) && cpl_tags_forget(cp, r.arn) &&
             cpl_workload_identity_delete(cp, id);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("DELETING"));
    json_object_object_add(o, "agentRuntimeId", json_object_new_string(id));
    if (d->one_version)
        json_object_object_add(o, "agentRuntimeVersion", json_object_new_string(d->vq));
    control_plane_answer_json(call->out, 202, o);
    return ok ? CPL_APPLIED : CPL_STORE_FAILED;
}

void cpl_delete_runtime(struct cpl_call *call)
{
    char vq[32], op[640];
    struct cpl_token token;
    if (!cpl_client_token(call, true, &token))
        return;
    struct delete_runtime d = { .one_version = cpl_query_param(call->query, "version", vq, sizeof vq), .vq = vq };
    if (d.one_version && !cpl_parse_version(vq, &d.version)) {
        cpl_set_error(call->out, AWS_VALIDATION, "version must match ^([1-9][0-9]{0,4})$");
        return;
    }
    json_object *meaning = json_object_new_string(d.one_version ? vq : "");
    snprintf(op, sizeof op, "DeleteAgentRuntime/%s", call->id);
    if (cpl_idempotent_write(call, op, &token, meaning, apply_delete_runtime, &d,
                            "could not delete the agent runtime") == CPL_WRITE_DONE) {
        call->runtime_deleted = !d.one_version;
        if (call->cp->cfg.builder.remove)   /* its images and templates go with it */
            call->cp->cfg.builder.remove(call->cp->cfg.builder.ctx, call->id, d.one_version ? d.version : 0);
    }
    json_object_put(meaning);
}

/* ---------------------------------------------------------------- ListAgentRuntimes */

void cpl_list_summaries(sqlite3_stmt *st, const struct cpl_page *pg, struct control_plane_response *out)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    int n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg->limit) {
            more = true;
            break;
        }
        json_object *cfg = json_tokener_parse(cpl_col_text(st, 4));
        json_object *d = NULL;
        const char *desc = cfg && json_object_object_get_ex(cfg, "description", &d) ? json_object_get_string(d) : "";
        char vs[16];
        snprintf(vs, sizeof vs, "%d", sqlite3_column_int(st, 3));
        json_object *it = json_object_new_object();
        json_object_object_add(it, "agentRuntimeArn", json_object_new_string(cpl_col_text(st, 2)));
        json_object_object_add(it, "agentRuntimeId", json_object_new_string(cpl_col_text(st, 0)));
        json_object_object_add(it, "agentRuntimeVersion", json_object_new_string(vs));
        json_object_object_add(it, "agentRuntimeName", json_object_new_string(cpl_col_text(st, 1)));
        json_object_object_add(it, "description", json_object_new_string(desc));
        json_object_object_add(it, "lastUpdatedAt", cpl_timestamp(sqlite3_column_int64(st, 6)));
        json_object_object_add(it, "status", json_object_new_string(cpl_col_text(st, 5)));
        json_object_array_add(arr, it);
        json_object_put(cfg);
        n++;
    }
    json_object_object_add(o, "agentRuntimes", arr);
    cpl_add_next_token(o, pg, n, more);
    control_plane_answer_json(out, 200, o);
}

void cpl_list_runtimes(struct cpl_call *call)
{
    struct cpl_page pg;
    if (!cpl_parse_paging(call->query, &pg, call->out))
        return;
    sqlite3_stmt *st = store_prepare(call->cp->store,
        "SELECT r.id, r.name, r.arn, r.latest_version, v.config, r.status, r.last_updated_at"
        " FROM runtimes r JOIN versions v ON v.runtime_id = r.id AND v.version = r.latest_version"
        " ORDER BY r.created_at, r.id LIMIT ? OFFSET ?");
    if (!st) {
        cpl_set_error(call->out, AWS_INTERNAL, "database error");
        return;
    }
    sqlite3_bind_int(st, 1, pg.limit + 1);
    sqlite3_bind_int64(st, 2, pg.offset);
    cpl_list_summaries(st, &pg, call->out);
    sqlite3_finalize(st);
}
