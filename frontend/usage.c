/* frontend/usage.c — usage records into SQLite, the log and the metrics (see usage.h). */
#include "frontend/usage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "frontend/metrics.h"
#include "frontend/store.h"

struct usage_log {
    struct store store;
    pthread_mutex_t lock;
    sqlite3_stmt *insert;
};

struct usage_log *usage_log_open(const char *path, char *err, size_t err_len)
{
    struct usage_log *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (!store_open(&u->store, path, err, err_len)) {
        free(u);
        return NULL;
    }
    u->insert = store_prepare(&u->store,
                              "INSERT INTO usage_records (session_id, runtime_id, version, started_at, ended_at,"
                              " wall_ms, vcpu_ms, vcpu_measured, mem_peak_kib, guest_mib, end_reason, egress_out, egress_in)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!u->insert) {
        snprintf(err, err_len, "cannot prepare the usage_records insert");
        store_close(&u->store);
        free(u);
        return NULL;
    }
    pthread_mutex_init(&u->lock, NULL);
    return u;
}

void usage_log_close(struct usage_log *u)
{
    if (!u)
        return;
    sqlite3_finalize(u->insert);
    store_close(&u->store);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

static void insert(struct usage_log *u, const struct session_usage *r)
{
    pthread_mutex_lock(&u->lock);
    sqlite3_stmt *st = u->insert;
    sqlite3_bind_text(st, 1, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->runtime_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->version);
    sqlite3_bind_int64(st, 4, r->started_unix_ms);
    sqlite3_bind_int64(st, 5, r->ended_unix_ms);
    sqlite3_bind_int64(st, 6, r->wall_ms);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)r->vcpu_ms);
    sqlite3_bind_int(st, 8, r->measured);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->mem_peak_kib);
    sqlite3_bind_int64(st, 10, r->guest_mib);
    sqlite3_bind_text(st, 11, session_end_reason_name(r->reason), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)r->egress_out);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)r->egress_in);
    if (sqlite3_step(st) != SQLITE_DONE)
        fprintf(stderr, "silod: usage record for session %s not stored: %s\n", r->session_id,
                sqlite3_errmsg(u->store.db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&u->lock);
}

void usage_log_record(void *ctx, const struct session_usage *r)
{
    if (ctx)
        insert(ctx, r);
    fprintf(stderr, "silod: usage session=%s runtime=%s version=%d reason=%s wall_ms=%lld vcpu_ms=%llu"
                    " vcpu_measured=%d mem_peak_kib=%llu guest_mib=%u egress_out=%llu egress_in=%llu\n",
            r->session_id, r->runtime_id, r->version, session_end_reason_name(r->reason), (long long)r->wall_ms,
            (unsigned long long)r->vcpu_ms, r->measured ? 1 : 0, (unsigned long long)r->mem_peak_kib,
            r->guest_mib, (unsigned long long)r->egress_out, (unsigned long long)r->egress_in);
    metrics_session_ended(session_end_reason_name(r->reason), r->wall_ms, r->vcpu_ms);
}
