/* frontend/control_plane_rows.c — reading and writing the rows of runtimes and versions that
 * several operations share (the schema is in store.c; see control_plane_internal.h). */
#include "frontend/control_plane_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/aws_error.h"

const char *cpl_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : NULL;
}

bool cpl_runtime_found(struct cpl_call *call, struct runtime_row *r)
{
    if (cpl_load_runtime(call->cp, call->id, r))
        return true;
    cpl_set_error(call->out, AWS_NOT_FOUND, "agent runtime %s not found", call->id);
    return false;
}

bool cpl_load_runtime(struct control_plane *cp, const char *id, struct runtime_row *r)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "SELECT id, name, arn, latest_version, status, failure_reason, created_at, last_updated_at"
        " FROM runtimes WHERE id = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(r->id, sizeof r->id, "%s", cpl_col_text(st, 0));
        snprintf(r->name, sizeof r->name, "%s", cpl_col_text(st, 1));
        snprintf(r->arn, sizeof r->arn, "%s", cpl_col_text(st, 2));
        r->latest_version = sqlite3_column_int(st, 3);
        snprintf(r->status, sizeof r->status, "%s", cpl_col_text(st, 4));
        snprintf(r->failure_reason, sizeof r->failure_reason, "%s",
                 cpl_col_text(st, 5) ? cpl_col_text(st, 5) : "");
        r->created_at = sqlite3_column_int64(st, 6);
        r->last_updated_at = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    return found;
}

bool cpl_load_version(struct control_plane *cp, const char *id, int version, struct version_row *v)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "SELECT version, status, failure_reason, config, created_at, last_updated_at FROM versions"
        " WHERE runtime_id = ? AND version = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, version);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        v->version = sqlite3_column_int(st, 0);
        snprintf(v->status, sizeof v->status, "%s", cpl_col_text(st, 1));
        snprintf(v->failure_reason, sizeof v->failure_reason, "%s",
                 cpl_col_text(st, 2) ? cpl_col_text(st, 2) : "");
        v->config = strdup(cpl_col_text(st, 3));
        v->created_at = sqlite3_column_int64(st, 4);
        v->last_updated_at = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    return found;
}

bool cpl_insert_version(struct control_plane *cp, const char *id, int version, const char *config,
                       const char *status, int64_t now)
{
    sqlite3_stmt *st = store_prepare(cp->store,
        "INSERT INTO versions (runtime_id, version, config, status, created_at, last_updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, version);
    sqlite3_bind_text(st, 3, config, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, now);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

bool cpl_exec_bound(struct control_plane *cp, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = store_prepare(cp->store, sql);
    if (!st)
        return false;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's') {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i + 1);
        } else if (fmt[i] == 'i') {
            sqlite3_bind_int(st, i + 1, va_arg(ap, int));
        } else {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}
