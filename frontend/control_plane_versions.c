/* frontend/control_plane_versions.c — the immutable version resource: ListAgentRuntimeVersions,
 * and the build state machine behind every version (CREATING/UPDATING → READY or
 * CREATE_FAILED/UPDATE_FAILED, endpoints following), driven by control_plane_version_built()
 * and resumed by control_plane_resume_builds() (see control_plane.h). */
#include "frontend/control_plane_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"

void cpl_list_versions(struct cpl_call *call)
{
    struct cpl_page pg;
    struct runtime_row r;
    if (!cpl_parse_paging(call->query, &pg, call->out))
        return;
    if (!cpl_runtime_found(call, &r))
        return;
    sqlite3_stmt *st = store_prepare(call->cp->store,
        "SELECT r.id, r.name, r.arn, v.version, v.config, v.status, v.last_updated_at"
        " FROM versions v JOIN runtimes r ON r.id = v.runtime_id WHERE r.id = ?"
        " ORDER BY v.version DESC LIMIT ? OFFSET ?");
    if (!st) {
        cpl_set_error(call->out, AWS_INTERNAL, "database error");
        return;
    }
    sqlite3_bind_text(st, 1, call->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, pg.limit + 1);
    sqlite3_bind_int64(st, 3, pg.offset);
    cpl_list_summaries(st, &pg, call->out);
    sqlite3_finalize(st);
}

void control_plane_version_built(struct control_plane *cp, const char *runtime_id, int version,
                                 bool ok, const char *failure_reason)
{
    pthread_mutex_lock(&cp->lock);
    int64_t now = cpl_now_ms(cp);
    struct runtime_row r;
    if (!store_begin(cp->store)) {
        pthread_mutex_unlock(&cp->lock);
        return;
    }
    if (!cpl_load_runtime(cp, runtime_id, &r)) {      /* deleted while building */
        store_rollback(cp->store);
        pthread_mutex_unlock(&cp->lock);
        return;
    }
    const char *failed = version == 1 ? "CREATE_FAILED" : "UPDATE_FAILED";
    const char *reason = ok ? NULL : (failure_reason ? failure_reason : "image build failed");
    bool done =
        cpl_exec_bound(cp, "UPDATE versions SET status = ?, failure_reason = ?, last_updated_at = ?"
                          " WHERE runtime_id = ? AND version = ? AND status IN ('CREATING', 'UPDATING')",
                      "ssIsi", ok ? "READY" : failed, reason, now, runtime_id, version) &&
        (version != r.latest_version ||
         cpl_exec_bound(cp, "UPDATE runtimes SET status = ?, failure_reason = ?, last_updated_at = ? WHERE id = ?",
                       "ssIs", ok ? "READY" : failed, reason, now, runtime_id)) &&
        (ok ? cpl_exec_bound(cp, "UPDATE endpoints SET live_version = target_version, status = 'READY',"
                                " failure_reason = NULL, last_updated_at = ? WHERE runtime_id = ? AND target_version = ?",
                            "Isi", now, runtime_id, version)
            : cpl_exec_bound(cp, "UPDATE endpoints SET status = CASE WHEN live_version IS NULL THEN 'CREATE_FAILED'"
                                " ELSE 'UPDATE_FAILED' END, failure_reason = ?, last_updated_at = ?"
                                " WHERE runtime_id = ? AND target_version = ?",
                            "sIsi", reason, now, runtime_id, version));
    if (done)
        store_commit(cp->store);
    else
        store_rollback(cp->store);
    pthread_mutex_unlock(&cp->lock);
}

unsigned control_plane_resume_builds(struct control_plane *cp)
{
    struct pending_build *jobs = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&cp->lock);
    sqlite3_stmt *st = store_prepare(cp->store, "SELECT runtime_id, version, config FROM versions"
                                                " WHERE status IN ('CREATING', 'UPDATING') ORDER BY created_at");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            jobs = realloc(jobs, cap * sizeof *jobs);
            if (!jobs)
                abort();
        }
        snprintf(jobs[n].runtime_id, sizeof jobs[n].runtime_id, "%s", (const char *)sqlite3_column_text(st, 0));
        jobs[n].version = sqlite3_column_int(st, 1);
        jobs[n].config = strdup((const char *)sqlite3_column_text(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cp->lock);
    for (size_t i = 0; i < n; i++) {      /* outside the lock: a builder may report at once */
        if (cp->cfg.builder.submit)
            cp->cfg.builder.submit(cp->cfg.builder.ctx, jobs[i].runtime_id, jobs[i].version, jobs[i].config);
        free(jobs[i].config);
    }
    free(jobs);
    return (unsigned)n;
}
