/* frontend/store.h — silod's SQLite database: opening it durably, schema migrations, and
 * transactions.
 *
 * The database runs in WAL mode with synchronous=FULL and foreign keys on, so a committed
 * transaction survives a crash or power loss and a crash mid-transaction leaves nothing of it
 * behind. Every control-plane change is one store_begin()…store_commit() (BEGIN IMMEDIATE), so
 * no version or endpoint is ever half-written. The schema is versioned with PRAGMA
 * user_version: store_open applies each missing migration in its own transaction, in order.
 *
 * Tables (see the migrations in store.c): runtimes, versions (immutable configuration; only
 * status and failure_reason change), endpoints (live and target version), idempotency
 * (clientToken → the first answer), usage_records (one per ended session; usage.h). */
#ifndef SILO_FRONTEND_STORE_H
#define SILO_FRONTEND_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

struct store {
    sqlite3 *db;
};

/* Opens (creating if needed) and migrates path (":memory:" for tests). On error returns false
 * and writes a one-line reason to err. */
/* Runs sql (one or more statements) on db; false with `sqlite: <why>` in err (if not NULL).
 * Shared by every module that keeps tables in silod's database (token_vault.c,
 * identity_store.c). */
bool store_exec_sql(sqlite3 *db, const char *sql, char *err, size_t err_len);
bool store_open(struct store *s, const char *path, char *err, size_t err_len);
void store_close(struct store *s);
int store_schema_version(struct store *s);

bool store_begin(struct store *s);
bool store_commit(struct store *s);
void store_rollback(struct store *s);

/* Prepares sql, or returns NULL (the error is logged to stderr once). */
sqlite3_stmt *store_prepare(struct store *s, const char *sql);

#endif
