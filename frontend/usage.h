/* frontend/usage.h — metering records: one per ended session (sessions.h, struct
 * session_usage), written to the SQLite table usage_records (store.c, migration 1 → 2) through
 * its own database connection (so a record never lands inside a control-plane transaction),
 * logged as one logfmt line
 *   silod: usage session=… runtime=… version=N reason=R wall_ms=N vcpu_ms=N vcpu_measured=0|1
 *          mem_peak_kib=N guest_mib=N
 * and added to the metrics counters (metrics.h). Thread-safe: sessions end on any thread. */
#ifndef SILO_FRONTEND_USAGE_H
#define SILO_FRONTEND_USAGE_H

#include <stddef.h>

#include "frontend/sessions.h"

struct usage_log;

/* Opens (and migrates) the database at path for records; NULL with a reason in err. */
struct usage_log *usage_log_open(const char *path, char *err, size_t err_len);
void usage_log_close(struct usage_log *u);

/* Writes one record (the shape of sessions_config.on_end; ctx is the usage_log, or NULL for the
 * log line and metrics only). A failed insert is logged, never fatal. */
void usage_log_record(void *ctx, const struct session_usage *rec);

#endif
