/* tests/unit/test_usage.c — metering: the /proc/PID/task/TID/stat parser on crafted lines
 * (thread names with ") (" and spaces, truncated and hostile lines), measuring a live process's
 * "vcpuN" threads, usage records into a temporary SQLite database (migration 1 → 2, columns,
 * reopening), the logfmt line, and the metrics counters. */
#include "frontend/usage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frontend/metrics.h"
#include "frontend/store.h"
#include "frontend/vmm_launcher.h"
#include "tests/unit/check.h"

static bool parse(const char *line, char *comm, size_t comm_len, uint64_t *ticks)
{
    return vmm_parse_task_stat(line, strlen(line), comm, comm_len, ticks);
}

#define TAIL " 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n"

static void test_stat_parser(void)
{
    char comm[64];
    uint64_t t = 0;
    /* fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    CHECK(parse("4242 (vcpu0) R 1 1 1 0 -1 4194368 10 0 0 0 150 25" TAIL, comm, sizeof comm, &t));
    CHECK(strcmp(comm, "vcpu0") == 0);
    CHECK_EQ(t, 175);
    /* a name with ") (" and spaces: the fields start after the LAST ')' */
    CHECK(parse("77 (evil) (S 1 2 3 4 5) S 1 1 1 0 -1 0 0 0 0 0 7 8" TAIL, comm, sizeof comm, &t));
    CHECK(strcmp(comm, "evil) (S 1 2 3 4 5") == 0);
    CHECK_EQ(t, 15);
    /* a name pretending to be a vCPU's fields is still just a name */
    CHECK(parse("78 (x) R 1 1 1 0 -1 0 0 0 0 0 999999 999999) S 1 1 1 0 -1 0 0 0 0 0 1 2" TAIL, comm,
                sizeof comm, &t));
    CHECK_EQ(t, 3);
    /* a long name is truncated to the buffer */
    CHECK(parse("79 (vcpu12345678) R 1 1 1 0 -1 0 0 0 0 0 1 1" TAIL, comm, 6, &t));
    CHECK(strcmp(comm, "vcpu1") == 0);
    /* truncated lines: no utime/stime, or cut in the middle */
    CHECK(!parse("4242 (vcpu0) R 1 1 1 0 -1 4194368 10 0 0 0 150", comm, sizeof comm, &t));
    CHECK(!parse("4242 (vcpu0) R 1 1 1 0", comm, sizeof comm, &t));
    CHECK(!parse("4242 (vcpu0)", comm, sizeof comm, &t));
    CHECK(!parse("4242 (vcpu0", comm, sizeof comm, &t));
    CHECK(!parse("", comm, sizeof comm, &t));
    CHECK(!parse(")(", comm, sizeof comm, &t));
    /* garbage where numbers belong, negative or overlong times */
    CHECK(!parse("1 (a) R 1 1 1 0 -1 0 0 0 0 0 1x 2" TAIL, comm, sizeof comm, &t));
    CHECK(!parse("1 (a) R 1 1 1 0 -1 0 0 0 0 0 -1 2" TAIL, comm, sizeof comm, &t));
    CHECK(!parse("1 (a) R 1 1 1 0 -1 0 0 0 0 0 99999999999999999999999 2" TAIL, comm, sizeof comm, &t));
    CHECK(!parse("1 (a) R 1 1 1 0 -1 0 0 0 0 0 1\n2" TAIL, comm, sizeof comm, &t));
    /* not NUL-terminated: the length bounds the parse */
    static const char cut[] = "5 (vcpu1) R 1 1 1 0 -1 0 0 0 0 0 3 4 0 0";
    CHECK(vmm_parse_task_stat(cut, sizeof cut - 1, comm, sizeof comm, &t) && t == 7);
    CHECK(!vmm_parse_task_stat(cut, 30, comm, sizeof comm, &t));
    /* which threads are vCPUs */
    CHECK(vmm_is_vcpu_thread_name("vcpu0"));
    CHECK(vmm_is_vcpu_thread_name("vcpu127"));
    CHECK(!vmm_is_vcpu_thread_name("vcpu"));
    CHECK(!vmm_is_vcpu_thread_name("vcpu0 "));
    CHECK(!vmm_is_vcpu_thread_name("vcpux"));
    CHECK(!vmm_is_vcpu_thread_name("silo-vmm"));
}

static volatile int burn_ms;
static volatile int burned;

static void *vcpu_thread(void *unused)
{
    (void)unused;
    pthread_setname_np(pthread_self(), "vcpu0");
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < burn_ms);
    burned = 1;
    while (burned != 2)
        usleep(1000);      /* stays alive (idle) to be measured */
    return NULL;
}

static void test_measure_live_process(void)
{
    struct vm_usage u;
    CHECK(vmm_measure(getpid(), &u));          /* VmHWM, but no vCPU thread yet */
    CHECK_EQ(u.vcpu_threads, 0);
    CHECK(u.mem_peak_kib > 1000);
    burn_ms = 200;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, vcpu_thread, NULL) == 0);
    while (!burned)
        usleep(1000);
    CHECK(vmm_measure(getpid(), &u));
    CHECK_EQ(u.vcpu_threads, 1);
    CHECK(u.vcpu_ms >= 180 && u.vcpu_ms < 1000);   /* this thread's CPU time, not the process's */
    burned = 2;
    pthread_join(th, NULL);
    CHECK(!vmm_measure(0, &u));
    CHECK(!vmm_measure(999999999, &u));
}

static long long query_int(struct store *st, const char *sql)
{
    sqlite3_stmt *q = store_prepare(st, sql);
    long long v = -1;
    if (q && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void test_records_in_sqlite(void)
{
    char path[] = "/tmp/silo-usage-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    char err[256];
    struct usage_log *log = usage_log_open(path, err, sizeof err);
    CHECK(log != NULL);
    if (!log) {
        printf("#   %s\n", err);
        return;
    }
    struct session_usage a = { "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "rt-0123456789", 2, 1700000000000,
                               1700000065000, 65000, 1234, 204800, 512, true, SESSION_END_IDLE, 5000, 7000000 };
    struct session_usage b = { "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "rt-9876543210", 1, 1700000001000,
                               1700000002000, 1000, 0, 0, 256, false, SESSION_END_START_FAILED, 0, 0 };
    usage_log_record(log, &a);
    usage_log_record(log, &b);
    usage_log_close(log);
    /* a restarted silod reads them back; the schema is at version 3 (egress bytes) */
    struct store st;
    CHECK(store_open(&st, path, err, sizeof err));
    CHECK_EQ(store_schema_version(&st), 3);
    CHECK_EQ(query_int(&st, "SELECT count(*) FROM usage_records"), 2);
    CHECK_EQ(query_int(&st, "SELECT egress_in FROM usage_records WHERE session_id LIKE 'aaaa%'"), 7000000);
    CHECK_EQ(query_int(&st, "SELECT egress_out FROM usage_records WHERE session_id LIKE 'aaaa%'"), 5000);
    sqlite3_stmt *q = store_prepare(&st, "SELECT session_id, runtime_id, version, started_at, ended_at, wall_ms,"
                                         " vcpu_ms, vcpu_measured, mem_peak_kib, guest_mib, end_reason"
                                         " FROM usage_records ORDER BY id");
    CHECK(q && sqlite3_step(q) == SQLITE_ROW);
    if (q) {
        CHECK(strcmp((const char *)sqlite3_column_text(q, 0), a.session_id) == 0);
        CHECK(strcmp((const char *)sqlite3_column_text(q, 1), "rt-0123456789") == 0);
        CHECK_EQ(sqlite3_column_int(q, 2), 2);
        CHECK_EQ(sqlite3_column_int64(q, 3), 1700000000000);
        CHECK_EQ(sqlite3_column_int64(q, 4), 1700000065000);
        CHECK_EQ(sqlite3_column_int64(q, 5), 65000);
        CHECK_EQ(sqlite3_column_int64(q, 6), 1234);
        CHECK_EQ(sqlite3_column_int(q, 7), 1);
        CHECK_EQ(sqlite3_column_int64(q, 8), 204800);
        CHECK_EQ(sqlite3_column_int(q, 9), 512);
        CHECK(strcmp((const char *)sqlite3_column_text(q, 10), "idle") == 0);
        CHECK(sqlite3_step(q) == SQLITE_ROW);
        CHECK(strcmp((const char *)sqlite3_column_text(q, 10), "start_failed") == 0);
        CHECK_EQ(sqlite3_column_int(q, 7), 0);
        CHECK(sqlite3_step(q) == SQLITE_DONE);
    }
    sqlite3_finalize(q);
    store_close(&st);
    /* opening again migrates nothing and keeps the rows */
    log = usage_log_open(path, err, sizeof err);
    CHECK(log != NULL);
    usage_log_close(log);
    CHECK(store_open(&st, path, err, sizeof err));
    CHECK_EQ(query_int(&st, "SELECT count(*) FROM usage_records"), 2);
    store_close(&st);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    unlink(path);
}

/* The value of one metric line ("name{labels} value"), or -1. */
static double metric(struct sessions *t, const char *name)
{
    struct strbuf out = { 0 };
    metrics_render(&out, t);
    double v = -1;
    char key[160];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = out.data ? strstr(out.data, key) : NULL;
    if (at)
        v = strtod(at + strlen(key), NULL);
    strbuf_free(&out);
    return v;
}

static void test_log_line_and_metrics(void)
{
    struct sessions_config cfg = { 1, 1, NULL, NULL, { NULL, NULL, NULL, NULL, NULL }, NULL, NULL };
    struct sessions *t = sessions_new(&cfg);
    double shutdown0 = metric(t, "silod_sessions_ended_total{reason=\"shutdown\"}");
    double idle0 = metric(t, "silod_sessions_ended_total{reason=\"idle\"}");
    double wall0 = metric(t, "silod_session_wall_seconds_total");
    double vcpu0 = metric(t, "silod_session_vcpu_seconds_total");
    CHECK(shutdown0 >= 0 && idle0 >= 0 && wall0 >= 0 && vcpu0 >= 0);
    CHECK(metric(t, "silod_errors_total{type=\"ServiceUnavailableException\"}") == 0);
    /* the log line goes to stderr: capture it through a pipe */
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(p[1], 2);
    struct session_usage u = { "cccccccc-cccc-4ccc-8ccc-cccccccccccc", "rt-0123456789", 4, 1, 2, 90500, 2500,
                               4096, 128, true, SESSION_END_SHUTDOWN, 12, 34 };
    usage_log_record(NULL, &u);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(p[1]);
    char line[512] = "";
    ssize_t n = read(p[0], line, sizeof line - 1);
    close(p[0]);
    line[n > 0 ? n : 0] = '\0';
    CHECK(strcmp(line, "silod: usage session=cccccccc-cccc-4ccc-8ccc-cccccccccccc runtime=rt-0123456789"
                       " version=4 reason=shutdown wall_ms=90500 vcpu_ms=2500 vcpu_measured=1"
                       " mem_peak_kib=4096 guest_mib=128 egress_out=12 egress_in=34\n") == 0);
    CHECK(metric(t, "silod_sessions_ended_total{reason=\"shutdown\"}") == shutdown0 + 1);
    CHECK(metric(t, "silod_sessions_ended_total{reason=\"idle\"}") == idle0);
    CHECK(metric(t, "silod_session_wall_seconds_total") - wall0 > 90.499 &&
          metric(t, "silod_session_wall_seconds_total") - wall0 < 90.501);
    CHECK(metric(t, "silod_session_vcpu_seconds_total") - vcpu0 > 2.499 &&
          metric(t, "silod_session_vcpu_seconds_total") - vcpu0 < 2.501);
    sessions_free(t);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "/proc task stat parser: hostile names, truncated lines", test_stat_parser },
        { "measures a live process's vcpuN threads and VmHWM", test_measure_live_process },
        { "usage records in SQLite (migration, columns, reopen)", test_records_in_sqlite },
        { "usage log line and metrics counters", test_log_line_and_metrics },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
