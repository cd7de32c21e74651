/* frontend/store.c — SQLite open, durability settings, migrations (see store.h). */
#include "frontend/store.h"

#include <stdio.h>
#include <string.h>

/* Migration N brings the schema from user_version N to N+1. Never edit a released entry; add
 * a new one. */
static const char *const migrations[] = {
    /* 0 → 1: runtimes, versions, endpoints, idempotency */
    "CREATE TABLE runtimes ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  arn TEXT NOT NULL UNIQUE,"
    "  latest_version INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  failure_reason TEXT,"
    "  created_at INTEGER NOT NULL,"          /* milliseconds since the epoch */
    "  last_updated_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE versions ("
    "  runtime_id TEXT NOT NULL REFERENCES runtimes(id) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL,"
    "  config TEXT NOT NULL,"                 /* the version's request, as JSON; immutable */
    "  status TEXT NOT NULL,"
    "  failure_reason TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  last_updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (runtime_id, version)"
    ");"
    "CREATE TABLE endpoints ("
    "  runtime_id TEXT NOT NULL REFERENCES runtimes(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  id TEXT NOT NULL UNIQUE,"
    "  live_version INTEGER,"
    "  target_version INTEGER NOT NULL,"
    "  description TEXT,"
    "  status TEXT NOT NULL,"
    "  failure_reason TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  last_updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (runtime_id, name),"
    "  FOREIGN KEY (runtime_id, target_version) REFERENCES versions(runtime_id, version),"
    "  FOREIGN KEY (runtime_id, live_version) REFERENCES versions(runtime_id, version)"
    ");"
    "CREATE TABLE idempotency ("
    "  operation TEXT NOT NULL,"
    "  client_token TEXT NOT NULL,"
    "  request_hash TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  response TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (operation, client_token)"
    ");",
    /* 1 → 2: usage_records, one row per ended session (usage.c); no foreign key, so records
     * outlive a deleted runtime */
    "CREATE TABLE usage_records ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  session_id TEXT NOT NULL,"
    "  runtime_id TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"          /* milliseconds since the epoch */
    "  ended_at INTEGER NOT NULL,"
    "  wall_ms INTEGER NOT NULL,"
    "  vcpu_ms INTEGER NOT NULL,"             /* CPU time of the vCPU threads: active guest time */
    "  vcpu_measured INTEGER NOT NULL,"       /* 1: read just before the VMM stopped */
    "  mem_peak_kib INTEGER NOT NULL,"        /* the VMM's VmHWM */
    "  guest_mib INTEGER NOT NULL,"           /* configured guest memory */
    "  end_reason TEXT NOT NULL"
    ");"
    "CREATE INDEX usage_records_by_runtime ON usage_records (runtime_id, ended_at);",
    /* 2 → 3: egress bytes per session (egress_relay.c), guest → world and world → guest */
    "ALTER TABLE usage_records ADD COLUMN egress_out INTEGER NOT NULL DEFAULT 0; ALTER TABLE usage_records ADD COLUMN egress_in INTEGER NOT NULL DEFAULT 0;",
};

bool store_exec_sql(sqlite3 *db, const char *sql, char *err, size_t err_len)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return true;
    if (err)
        snprintf(err, err_len, "sqlite: %s", msg ? msg : "error");
    sqlite3_free(msg);
    return false;
}

static bool exec(struct store *s, const char *sql, char *err, size_t err_len)
{
    return store_exec_sql(s->db, sql, err, err_len);
}

int store_schema_version(struct store *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

bool store_open(struct store *s, const char *path, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open database %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return false;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (!exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err,
              err_len)) {
        store_close(s);
        return false;
    }
    int have = store_schema_version(s);
    int want = (int)(sizeof migrations / sizeof migrations[0]);
    if (have < 0 || have > want) {
        snprintf(err, err_len, "database %s has schema version %d; this silod knows up to %d",
                 path, have, want);
        store_close(s);
        return false;
    }
    for (int v = have; v < want; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", v + 1);
        if (!exec(s, "BEGIN IMMEDIATE", err, err_len) || !exec(s, migrations[v], err, err_len) ||
            !exec(s, bump, err, err_len) || !exec(s, "COMMIT", err, err_len)) {
            exec(s, "ROLLBACK", NULL, 0);
            store_close(s);
            return false;
        }
    }
    return true;
}

void store_close(struct store *s)
{
    if (s->db)
        sqlite3_close_v2(s->db);
    s->db = NULL;
}

bool store_begin(struct store *s) { return exec(s, "BEGIN IMMEDIATE", NULL, 0); }
bool store_commit(struct store *s) { return exec(s, "COMMIT", NULL, 0); }
void store_rollback(struct store *s) { exec(s, "ROLLBACK", NULL, 0); }

sqlite3_stmt *store_prepare(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "silod: sqlite prepare failed: %s\n", sqlite3_errmsg(s->db));
        return NULL;
    }
    return st;
}
