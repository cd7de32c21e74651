/* tests/unit/test_sessions.c — the session table with an advancing test clock and a test
 * double launcher (idle timeout, HealthyBusy, time_of_last_update, max lifetime, limits, one
 * VM per id under concurrency, stop, /ping results, one usage record per end reason, drain,
 * snapshots, parallel stops, the idle upstream connection pool), then the real fork/exec
 * launcher, vsock handshake, /ping poller, /proc metering and the test agent's keep-alive
 * against tests/frontend/fake_vmm (a test VMM, not silo-vmm). */
#include "frontend/sessions.h"

#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend/ping_poller.h"
#include "frontend/vmm_launcher.h"
#include "tests/unit/check.h"

static int64_t clock_ms;
static int64_t test_clock(void *ctx) { (void)ctx; return clock_ms; }

/* ------------------------------------------------------------------ test double launcher */
struct test_launcher {
    int starts, stops;
    bool fail_next;
    int start_delay_us;
    int stop_delay_us;
    char dead[64];            /* the session id whose VM the test double reports dead */
    bool dead_by_oom;         /* ... killed by its cgroup's OOM killer: usage() reads the cgroup */
    uint64_t vcpu_ms;         /* what usage() measures (every VM alike) */
    int usage_calls;
    pthread_mutex_t lock;
};

/* ------------------------------------------------------------------ the usage records */
#define MAX_RECORDS 16
struct record {
    char session_id[SESSION_ID_MAX + 1], runtime_id[64];
    struct session_usage u;
};
static struct record records[MAX_RECORDS];
static int record_count;
static pthread_mutex_t records_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_end(void *ctx, const struct session_usage *u)
{
    (void)ctx;
    pthread_mutex_lock(&records_lock);
    if (record_count < MAX_RECORDS) {
        struct record *r = &records[record_count++];
        snprintf(r->session_id, sizeof r->session_id, "%s", u->session_id);
        snprintf(r->runtime_id, sizeof r->runtime_id, "%s", u->runtime_id);
        r->u = *u;
        r->u.session_id = r->session_id;
        r->u.runtime_id = r->runtime_id;
    }
    pthread_mutex_unlock(&records_lock);
}

/* The only record for sid (NULL, and a failed check, when there is not exactly one). */
static const struct session_usage *record_of(const char *sid)
{
    const struct session_usage *found = NULL;
    int n = 0;
    for (int i = 0; i < record_count; i++)
        if (strcmp(records[i].session_id, sid) == 0) {
            found = &records[i].u;
            n++;
        }
    CHECK_EQ(n, 1);
    return n == 1 ? found : NULL;
}

static int test_start(void *ctx, const struct session_spec *spec, struct session_vm *vm, char *err, size_t len)
{
    struct test_launcher *l = ctx;
    usleep((useconds_t)l->start_delay_us);
    pthread_mutex_lock(&l->lock);
    l->starts++;
    bool fail = l->fail_next;
    l->fail_next = false;
    pthread_mutex_unlock(&l->lock);
    if (fail) {
        snprintf(err, len, "test launcher told to fail");
        return -1;
    }
    vm->pid = 0;
    snprintf(vm->vsock_path, sizeof vm->vsock_path, "/test/%s", spec->session_id);
    return 0;
}

static void test_stop(void *ctx, struct session_vm *vm)
{
    (void)vm;
    struct test_launcher *l = ctx;
    usleep((useconds_t)l->stop_delay_us);
    pthread_mutex_lock(&l->lock);
    l->stops++;
    pthread_mutex_unlock(&l->lock);
}

static bool test_alive(void *ctx, const struct session_vm *vm)
{
    struct test_launcher *l = ctx;
    return !l->dead[0] || strcmp(vm->vsock_path + 6, l->dead) != 0;
}

/* A dead VMM cannot be measured (its vCPU threads are gone): usage() fails for it. */
static bool test_usage(void *ctx, const struct session_vm *vm, struct vm_usage *out)
{
    struct test_launcher *l = ctx;
    pthread_mutex_lock(&l->lock);
    l->usage_calls++;
    pthread_mutex_unlock(&l->lock);
    if (!test_alive(ctx, vm)) {
        if (!l->dead_by_oom)
            return false;
        /* a jailed VMM's cgroup outlives it: measured, and it says oom_kill */
        *out = (struct vm_usage){ .vcpu_ms = 99, .mem_peak_kib = 131072, .from_cgroup = true, .oom_kills = 1 };
        return true;
    }
    *out = (struct vm_usage){ .vcpu_ms = l->vcpu_ms, .mem_peak_kib = 123456, .vcpu_threads = 2 };
    return true;
}

static struct test_launcher tl = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct sessions *table(unsigned max_sessions, unsigned max_mib)
{
    tl.starts = tl.stops = tl.usage_calls = 0;
    tl.fail_next = false;
    tl.dead_by_oom = false;
    tl.start_delay_us = tl.stop_delay_us = 0;
    tl.dead[0] = '\0';
    tl.vcpu_ms = 4321;
    clock_ms = 1000000;
    record_count = 0;
    struct sessions_config cfg = { max_sessions, max_mib, test_clock, NULL,
                                   { test_start, test_stop, test_alive, &tl, test_usage }, on_end, NULL };
    return sessions_new(&cfg);
}

#define SID_A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define SID_B "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"

static struct session *acquire(struct sessions *t, const char *sid, const char **err)
{
    struct session_acquire a = { sid, "rt-0123456789", 1, "{}", 512, 900, 3600 };
    char msg[256];
    *err = NULL;
    return sessions_acquire(t, &a, err, msg, sizeof msg);
}

static void test_session_ids(void)
{
    CHECK(session_id_valid(SID_A));
    CHECK(!session_id_valid("short"));
    CHECK(!session_id_valid("0123456789012345678901234567890 1"));   /* space */
    CHECK(session_id_valid("012345678901234567890123456789012"));    /* exactly 33 */
    char big[300];
    memset(big, 'a', 257);
    big[257] = '\0';
    CHECK(!session_id_valid(big));
    char g1[37], g2[37];
    session_id_generate(g1);
    session_id_generate(g2);
    CHECK(strlen(g1) == 36 && session_id_valid(g1) && g1[14] == '4');
    CHECK(strcmp(g1, g2) != 0);
}

static void test_same_id_reuses_vm_two_ids_two_vms(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err);
    struct session *a2 = acquire(t, SID_A, &err);
    struct session *b = acquire(t, SID_B, &err);
    CHECK(a && a2 && b);
    CHECK(a == a2);
    CHECK(a != b);
    CHECK_EQ(tl.starts, 2);
    CHECK(strcmp(session_vm(a)->vsock_path, session_vm(b)->vsock_path) != 0);
    CHECK_EQ(sessions_state(t, SID_A), SESSION_ACTIVE);
    sessions_release(t, a);
    CHECK_EQ(sessions_state(t, SID_A), SESSION_ACTIVE);   /* one request still in flight */
    sessions_release(t, a2);
    CHECK_EQ(sessions_state(t, SID_A), SESSION_IDLE);
    sessions_release(t, b);
    /* the same id under another runtime is refused */
    struct session_acquire other = { SID_A, "other-0123456789", 1, "{}", 512, 900, 3600 };
    char msg[128];
    CHECK(sessions_acquire(t, &other, &err, msg, sizeof msg) == NULL);
    CHECK(err && strcmp(err, "ConflictException") == 0);
    sessions_free(t);
    CHECK_EQ(tl.stops, 2);
}

static void test_idle_timeout_and_busy(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *s = acquire(t, SID_A, &err);
    clock_ms += 2000 * 1000;                  /* a long request is not idle */
    CHECK_EQ(sessions_reap(t), 0);
    sessions_release(t, s);
    clock_ms += 899 * 1000;
    CHECK_EQ(sessions_reap(t), 0);
    clock_ms += 1000;                         /* 900 s idle */
    sessions_report_ping(t, SID_A, true, 0);  /* HealthyBusy keeps it */
    CHECK_EQ(sessions_reap(t), 0);
    sessions_report_ping(t, SID_A, false, 100);
    CHECK_EQ(sessions_reap(t), 1);
    CHECK_EQ(sessions_state(t, SID_A), -1);
    CHECK_EQ(tl.stops, 1);
    /* a later request with the same id gets a fresh VM */
    s = acquire(t, SID_A, &err);
    CHECK(s != NULL);
    CHECK_EQ(tl.starts, 2);
    sessions_release(t, s);
    /* an advancing time_of_last_update counts as activity */
    sessions_report_ping(t, SID_A, false, 5000);
    clock_ms += 800 * 1000;
    sessions_report_ping(t, SID_A, false, 5800);
    clock_ms += 800 * 1000;
    CHECK_EQ(sessions_reap(t), 0);
    clock_ms += 100 * 1000;
    CHECK_EQ(sessions_reap(t), 1);
    sessions_free(t);
}

static void test_max_lifetime(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *s = acquire(t, SID_A, &err);   /* max lifetime 3600 s */
    sessions_report_ping(t, SID_A, true, 0);
    clock_ms += 3599 * 1000;
    CHECK_EQ(sessions_reap(t), 0);
    clock_ms += 1000;
    CHECK_EQ(sessions_reap(t), 1);                 /* even busy, even in flight */
    CHECK_EQ(tl.stops, 1);
    sessions_release(t, s);                        /* the request's reference outlives it */
    CHECK_EQ(sessions_count(t), 0);
    sessions_free(t);
}

static void test_limits(void)
{
    struct sessions *t = table(1, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err);
    CHECK(acquire(t, SID_B, &err) == NULL);
    CHECK(err && strcmp(err, "ThrottlingException") == 0);
    sessions_release(t, a);
    sessions_free(t);
    t = table(10, 1000);                            /* 512 MiB each */
    a = acquire(t, SID_A, &err);
    CHECK(acquire(t, SID_B, &err) == NULL);
    CHECK(err && strcmp(err, "ServiceQuotaExceededException") == 0);
    sessions_release(t, a);
    /* a failed launch is a RuntimeClientError and leaves nothing behind */
    tl.fail_next = true;
    sessions_stop(t, NULL, SID_A, SESSION_END_STOPPED);
    CHECK(acquire(t, SID_B, &err) == NULL);
    CHECK(err && strcmp(err, "RuntimeClientError") == 0);
    CHECK_EQ(sessions_count(t), 0);
    sessions_free(t);
}

static void test_boot_check_reservations_count(void)
{
    struct sessions *t = table(10, 1000);           /* 512 MiB each */
    const char *err;
    CHECK(sessions_reserve_guest_mib(t, 600));     /* a boot check holds 600 */
    CHECK_EQ(sessions_guest_mib(t), 600);
    CHECK(acquire(t, SID_A, &err) == NULL);         /* 600 + 512 > 1000 */
    CHECK(err && strcmp(err, "ServiceQuotaExceededException") == 0);
    CHECK(!sessions_reserve_guest_mib(t, 401));    /* nor another boot check beyond the limit */
    CHECK(!sessions_reserve_guest_mib(t, UINT32_MAX));
    sessions_release_guest_mib(t, 600);
    struct session *a = acquire(t, SID_A, &err);    /* room again */
    CHECK(a != NULL);
    CHECK(!sessions_reserve_guest_mib(t, 489));    /* 512 + 489 > 1000 */
    CHECK(sessions_reserve_guest_mib(t, 488));
    CHECK_EQ(sessions_guest_mib(t), 1000);
    sessions_release_guest_mib(t, 488);
    sessions_release(t, a);
    sessions_stop(t, NULL, SID_A, SESSION_END_STOPPED);
    CHECK_EQ(sessions_guest_mib(t), 0);
    sessions_begin_drain(t);
    CHECK(!sessions_reserve_guest_mib(t, 1));       /* a draining host boots nothing new */
    sessions_free(t);
}

struct racer {
    struct sessions *t;
    struct session *got;
};

static void *race(void *p)
{
    struct racer *r = p;
    const char *err;
    r->got = acquire(r->t, SID_A, &err);
    return NULL;
}

static void test_concurrent_first_requests_start_one_vm(void)
{
    struct sessions *t = table(10, 8192);
    tl.start_delay_us = 50000;
    struct racer r[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        r[i].t = t;
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(tl.starts, 1);
    for (int i = 0; i < 8; i++) {
        CHECK(r[i].got == r[0].got && r[i].got != NULL);
        if (r[i].got)
            sessions_release(t, r[i].got);
    }
    sessions_free(t);
}

static void test_dead_vm_is_reaped(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err), *b = acquire(t, SID_B, &err);
    sessions_release(t, a);
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_B);
    CHECK(!sessions_check_vm(t, b));          /* held: ends now, the holder's reference stays */
    CHECK_EQ(sessions_state(t, SID_B), -1);
    sessions_release(t, b);
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_A);
    CHECK_EQ(sessions_reap(t), 1);            /* idle, not timed out, but its VMM is gone */
    CHECK_EQ(sessions_count(t), 0);
    CHECK_EQ(tl.stops, 2);
    sessions_free(t);
}

static void test_stop_and_runtime_deletion(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err), *b = acquire(t, SID_B, &err);
    sessions_release(t, a);
    sessions_release(t, b);
    CHECK(!sessions_stop(t, "other-0123456789", SID_A, SESSION_END_STOPPED));    /* another runtime's session */
    CHECK_EQ(sessions_count(t), 2);
    CHECK(sessions_stop(t, "rt-0123456789", SID_A, SESSION_END_STOPPED));
    CHECK(!sessions_stop(t, NULL, SID_A, SESSION_END_STOPPED));
    CHECK_EQ(sessions_stop_runtime(t, "rt-0123456789"), 1);
    CHECK_EQ(sessions_count(t), 0);
    CHECK_EQ(tl.stops, 2);
    sessions_free(t);
}

/* ------------------------------------------------------------------ /ping, usage, drain */

#define SID_C "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
#define SID_D "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
#define SID_E "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"

static struct session *ref_of(struct session_snapshot *snap, const char *sid)
{
    for (size_t i = 0; i < snap->count; i++)
        if (strcmp(session_id_of(snap->refs[i]), sid) == 0)
            return snap->refs[i];
    CHECK(!"session in snapshot");
    return NULL;
}

static void test_ping_busy_and_time_of_last_update(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err), *b = acquire(t, SID_B, &err);
    sessions_release(t, a);
    sessions_release(t, b);
    struct session_snapshot snap;
    sessions_snapshot(t, &snap);
    CHECK_EQ(snap.count, 2);
    struct session *ra = ref_of(&snap, SID_A), *rb = ref_of(&snap, SID_B);
    /* A: HealthyBusy keeps it past its idle timeout, for as long as the agent says so */
    CHECK(!sessions_ping_result(t, ra, PING_HEALTHY_BUSY, 0));
    /* B: time_of_last_update moving forward is activity; the first value is not */
    CHECK(!sessions_ping_result(t, rb, PING_HEALTHY, 5000));
    clock_ms += 800 * 1000;
    CHECK(!sessions_ping_result(t, rb, PING_HEALTHY, 5800));    /* activity now */
    clock_ms += 800 * 1000;                                     /* A idle 1600 s, B 800 s */
    CHECK(!sessions_ping_result(t, rb, PING_HEALTHY, 5800));    /* unchanged: no activity */
    CHECK_EQ(sessions_reap(t), 0);
    clock_ms += 100 * 1000;                                     /* B idle 900 s */
    CHECK_EQ(sessions_reap(t), 1);
    CHECK_EQ(sessions_state(t, SID_B), -1);
    CHECK_EQ(sessions_state(t, SID_A), SESSION_IDLE);
    CHECK(!sessions_ping_result(t, ra, PING_HEALTHY, 0));       /* no longer busy */
    CHECK_EQ(sessions_reap(t), 1);
    const struct session_usage *ua = record_of(SID_A), *ub = record_of(SID_B);
    CHECK(ua && ua->reason == SESSION_END_IDLE && ua->wall_ms == 1700 * 1000);
    CHECK(ub && ub->reason == SESSION_END_IDLE && ub->wall_ms == 1700 * 1000);
    sessions_snapshot_release(t, &snap);
    sessions_free(t);
}

static void test_ping_unhealthy_and_failures(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err), *b = acquire(t, SID_B, &err), *c = acquire(t, SID_C, &err);
    sessions_release(t, b);
    sessions_release(t, c);
    struct session_snapshot snap;
    sessions_snapshot(t, &snap);
    struct session *ra = ref_of(&snap, SID_A), *rb = ref_of(&snap, SID_B), *rc = ref_of(&snap, SID_C);
    /* A has a request in flight: failed pings are not counted (a busy single-threaded agent) */
    for (int i = 0; i < 5; i++)
        CHECK(!sessions_ping_result(t, ra, PING_FAILED, 0));
    sessions_release(t, a);
    CHECK(!sessions_ping_result(t, ra, PING_FAILED, 0));
    CHECK(!sessions_ping_result(t, ra, PING_FAILED, 0));
    CHECK(!sessions_ping_result(t, ra, PING_HEALTHY, 0));          /* an answer resets the count */
    CHECK(!sessions_ping_result(t, ra, PING_FAILED, 0));
    CHECK(!sessions_ping_result(t, ra, PING_FAILED, 0));
    CHECK_EQ(sessions_state(t, SID_A), SESSION_IDLE);
    CHECK(sessions_ping_result(t, ra, PING_FAILED, 0));            /* the third in a row */
    CHECK_EQ(sessions_state(t, SID_A), -1);
    CHECK(!sessions_ping_result(t, ra, PING_UNHEALTHY, 0));        /* ended: ignored */
    /* B: Unhealthy ends it at once, even with a request in flight */
    struct session *b2 = acquire(t, SID_B, &err);
    clock_ms += 2500;
    CHECK(sessions_ping_result(t, rb, PING_UNHEALTHY, 0));
    CHECK_EQ(sessions_state(t, SID_B), -1);
    sessions_release(t, b2);
    /* C: its VMM died — failed pings are the reaper's business (vmm_exited), not unhealthy;
     * the last sample stands in for the measurement a dead VMM cannot give */
    tl.vcpu_ms = 777;
    sessions_sample_usage(t, rc);
    tl.vcpu_ms = 4321;
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_C);
    for (int i = 0; i < 4; i++)
        CHECK(!sessions_ping_result(t, rc, PING_FAILED, 0));
    CHECK_EQ(sessions_reap(t), 1);
    const struct session_usage *ua = record_of(SID_A), *ub = record_of(SID_B), *uc = record_of(SID_C);
    CHECK(ua && ua->reason == SESSION_END_UNHEALTHY && ua->measured && ua->vcpu_ms == 4321);
    CHECK(ub && ub->reason == SESSION_END_UNHEALTHY && ub->wall_ms == 2500);
    CHECK(uc && uc->reason == SESSION_END_VMM_EXITED && !uc->measured && uc->vcpu_ms == 777 &&
          uc->mem_peak_kib == 123456);
    CHECK_EQ(tl.stops, 3);
    sessions_snapshot_release(t, &snap);
    sessions_free(t);
    CHECK_EQ(record_count, 3);
}

struct slow_start {
    struct sessions *t;
    const char *sid;
    struct session *got;
    const char *err;
};

static void *slow_acquire(void *p)
{
    struct slow_start *st = p;
    st->got = acquire(st->t, st->sid, &st->err);
    return NULL;
}

static void test_usage_record_per_end_reason(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    int64_t before = (int64_t)time(NULL) * 1000;
    /* stopped */
    struct session *a = acquire(t, SID_A, &err);
    sessions_release(t, a);
    clock_ms += 5000;
    CHECK(sessions_stop(t, "rt-0123456789", SID_A, SESSION_END_STOPPED));
    const struct session_usage *u = record_of(SID_A);
    CHECK(u && u->reason == SESSION_END_STOPPED && strcmp(session_end_reason_name(u->reason), "stopped") == 0);
    if (u) {
        CHECK(strcmp(u->runtime_id, "rt-0123456789") == 0);
        CHECK_EQ(u->version, 1);
        CHECK_EQ(u->wall_ms, 5000);
        CHECK_EQ(u->vcpu_ms, 4321);
        CHECK(u->measured);
        CHECK_EQ(u->mem_peak_kib, 123456);
        CHECK_EQ(u->guest_mib, 512);
        CHECK(u->started_unix_ms >= before - 1000 && u->started_unix_ms <= u->ended_unix_ms &&
              u->ended_unix_ms <= (int64_t)time(NULL) * 1000 + 1000);
    }
    CHECK_EQ(tl.usage_calls, 1);      /* measured once, before the stop */
    /* max_lifetime */
    record_count = 0;
    struct session *b = acquire(t, SID_B, &err);
    clock_ms += 3600 * 1000;
    CHECK_EQ(sessions_reap(t), 1);
    sessions_release(t, b);
    u = record_of(SID_B);
    CHECK(u && u->reason == SESSION_END_MAX_LIFETIME && u->wall_ms == 3600 * 1000);
    /* runtime_deleted */
    record_count = 0;
    sessions_release(t, acquire(t, SID_A, &err));
    sessions_release(t, acquire(t, SID_B, &err));
    CHECK_EQ(sessions_stop_runtime(t, "rt-0123456789"), 2);
    u = record_of(SID_A);
    CHECK(u && u->reason == SESSION_END_RUNTIME_DELETED);
    u = record_of(SID_B);
    CHECK(u && u->reason == SESSION_END_RUNTIME_DELETED);
    /* vmm_exited, noticed by a request */
    record_count = 0;
    a = acquire(t, SID_A, &err);
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_A);
    CHECK(!sessions_check_vm(t, a));
    sessions_release(t, a);
    tl.dead[0] = '\0';
    u = record_of(SID_A);
    CHECK(u && u->reason == SESSION_END_VMM_EXITED && !u->measured && u->vcpu_ms == 0);
    /* memory_limit: a VMM whose cgroup's OOM killer struck, whichever path noticed its death
     * (the reaper or a request: vmm_exited; a failed request: agent_exited); its cgroup's
     * figures are the measurement. A stop asked for stays a stop. */
    record_count = 0;
    tl.dead_by_oom = true;
    a = acquire(t, SID_A, &err);
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_A);
    CHECK(!sessions_check_vm(t, a));
    sessions_release(t, a);
    u = record_of(SID_A);
    CHECK(u && u->reason == SESSION_END_MEMORY_LIMIT && strcmp(session_end_reason_name(u->reason), "memory_limit") == 0 &&
          u->measured && u->vcpu_ms == 99 && u->mem_peak_kib == 131072);
    record_count = 0;
    b = acquire(t, SID_B, &err);
    sessions_release(t, b);
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_B);
    CHECK(sessions_stop(t, NULL, SID_B, SESSION_END_AGENT_EXITED));
    u = record_of(SID_B);
    CHECK(u && u->reason == SESSION_END_MEMORY_LIMIT);
    record_count = 0;
    b = acquire(t, SID_B, &err);
    sessions_release(t, b);
    CHECK(sessions_stop(t, NULL, SID_B, SESSION_END_STOPPED));
    u = record_of(SID_B);
    CHECK(u && u->reason == SESSION_END_STOPPED);
    tl.dead[0] = '\0';
    tl.dead_by_oom = false;
    /* start_failed: a record with nothing measured */
    record_count = 0;
    tl.fail_next = true;
    CHECK(acquire(t, SID_C, &err) == NULL);
    u = record_of(SID_C);
    CHECK(u && u->reason == SESSION_END_START_FAILED && u->vcpu_ms == 0 && !u->measured && u->wall_ms == 0);
    /* stopped while starting: the starter stops the VM and writes the one record */
    record_count = 0;
    int stops = tl.stops;
    tl.start_delay_us = 200000;
    struct slow_start st = { t, SID_D, NULL, NULL };
    pthread_t th;
    pthread_create(&th, NULL, slow_acquire, &st);
    usleep(50000);
    CHECK_EQ(sessions_state(t, SID_D), SESSION_STARTING);
    CHECK(sessions_stop(t, NULL, SID_D, SESSION_END_STOPPED));
    pthread_join(th, NULL);
    tl.start_delay_us = 0;
    CHECK(st.got == NULL);
    u = record_of(SID_D);
    CHECK(u && u->reason == SESSION_END_STOPPED && u->measured);
    CHECK_EQ(tl.stops, stops + 1);
    /* shutdown: sessions_end_all, then sessions_free for what is left */
    record_count = 0;
    sessions_release(t, acquire(t, SID_A, &err));
    b = acquire(t, SID_B, &err);
    CHECK_EQ(sessions_end_all(t, SESSION_END_SHUTDOWN), 2);
    sessions_release(t, b);
    u = record_of(SID_A);
    CHECK(u && u->reason == SESSION_END_SHUTDOWN);
    u = record_of(SID_B);
    CHECK(u && u->reason == SESSION_END_SHUTDOWN);
    record_count = 0;
    sessions_release(t, acquire(t, SID_E, &err));
    sessions_free(t);
    u = record_of(SID_E);
    CHECK(u && u->reason == SESSION_END_SHUTDOWN && strcmp(session_end_reason_name(u->reason), "shutdown") == 0);
}

static void test_drain(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err), *b = acquire(t, SID_B, &err);
    sessions_release(t, b);
    CHECK_EQ(sessions_in_flight(t), 1);
    sessions_begin_drain(t);
    int starts = tl.starts;
    struct session_acquire c = { SID_C, "rt-0123456789", 1, "{}", 512, 900, 3600 };
    char msg[256] = "";
    CHECK(sessions_acquire(t, &c, &err, msg, sizeof msg) == NULL);
    CHECK(err && strcmp(err, "ServiceUnavailableException") == 0);
    CHECK(strstr(msg, "shutting down") != NULL);
    CHECK_EQ(tl.starts, starts);                        /* no VM started for it */
    struct session *b2 = acquire(t, SID_B, &err);       /* existing sessions go on */
    CHECK(b2 != NULL);
    CHECK_EQ(sessions_in_flight(t), 2);
    sessions_release(t, a);
    if (b2)
        sessions_release(t, b2);
    CHECK_EQ(sessions_in_flight(t), 0);
    CHECK_EQ(sessions_end_all(t, SESSION_END_SHUTDOWN), 2);
    CHECK_EQ(sessions_count(t), 0);
    CHECK_EQ(record_count, 2);
    sessions_free(t);
    /* a request waiting for its VM to start is in flight too */
    t = table(10, 8192);
    tl.start_delay_us = 200000;
    struct slow_start st = { t, SID_D, NULL, NULL };
    pthread_t th;
    pthread_create(&th, NULL, slow_acquire, &st);
    usleep(50000);
    CHECK_EQ(sessions_in_flight(t), 1);
    pthread_join(th, NULL);
    CHECK_EQ(sessions_in_flight(t), 1);
    sessions_release(t, st.got);
    CHECK_EQ(sessions_in_flight(t), 0);
    sessions_free(t);
}

static void test_snapshot_references(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    sessions_release(t, acquire(t, SID_A, &err));
    sessions_release(t, acquire(t, SID_B, &err));
    tl.start_delay_us = 200000;
    struct slow_start st = { t, SID_C, NULL, NULL };
    pthread_t th;
    pthread_create(&th, NULL, slow_acquire, &st);
    usleep(50000);
    struct session_snapshot snap;
    sessions_snapshot(t, &snap);
    CHECK_EQ(snap.count, 2);                            /* not the one still starting */
    pthread_join(th, NULL);
    tl.start_delay_us = 0;
    sessions_release(t, st.got);
    /* ended while referenced: the reference stays valid (ASan checks) until released */
    CHECK(sessions_stop(t, NULL, SID_A, SESSION_END_STOPPED));
    CHECK(sessions_stop(t, NULL, SID_B, SESSION_END_STOPPED));
    CHECK_EQ(sessions_count(t), 1);
    for (size_t i = 0; i < snap.count; i++) {
        CHECK(strlen(session_id_of(snap.refs[i])) == 36);
        CHECK(strncmp(session_vm(snap.refs[i])->vsock_path, "/test/", 6) == 0);
        CHECK(!sessions_ping_result(t, snap.refs[i], PING_UNHEALTHY, 0));
    }
    sessions_snapshot_release(t, &snap);
    CHECK(snap.refs == NULL && snap.count == 0);
    CHECK_EQ(record_count, 2);
    sessions_free(t);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *reap_thread(void *p)
{
    sessions_reap(p);
    return NULL;
}

static void test_reaper_stops_victims_in_parallel(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    const char *ids[] = { SID_A, SID_B, SID_C, SID_D };
    for (int i = 0; i < 4; i++)
        sessions_release(t, acquire(t, ids[i], &err));
    clock_ms += 900 * 1000;
    struct session *e = acquire(t, SID_E, &err);          /* in flight: not a victim */
    tl.stop_delay_us = 400000;                             /* each VM takes 0.4 s to stop */
    double t0 = mono_s();
    pthread_t th;
    pthread_create(&th, NULL, reap_thread, t);
    usleep(100000);
    double t1 = mono_s();                                  /* other sessions are not blocked */
    sessions_release(t, e);
    e = acquire(t, SID_E, &err);
    CHECK(e != NULL);
    sessions_release(t, e);
    CHECK_EQ(sessions_state(t, SID_E), SESSION_IDLE);
    CHECK(mono_s() - t1 < 0.2);
    pthread_join(th, NULL);
    double took = mono_s() - t0;
    CHECK(took < 1.2);                                     /* serially: 1.6 s */
    if (took >= 1.2)
        printf("#   reaping 4 victims took %.2f s\n", took);
    CHECK_EQ(tl.stops, 4);
    CHECK_EQ(record_count, 4);
    for (int i = 0; i < 4; i++) {
        const struct session_usage *u = record_of(ids[i]);
        CHECK(u && u->reason == SESSION_END_IDLE);
    }
    tl.stop_delay_us = 0;
    sessions_free(t);
}

/* ------------------------------------------------------------------ idle upstream connections */

/* A connected pair: *ours goes into the pool, the returned end stays with the test, which sees
 * EOF on it once the pool closed *ours. */
static int conn_pair(int *ours)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    *ours = sv[0];
    return sv[1];
}

/* true when the other end of peer has been closed (EOF readable now, without waiting). */
static bool peer_closed(int peer)
{
    struct pollfd p = { .fd = peer, .events = POLLIN };
    char c;
    return poll(&p, 1, 0) == 1 && recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

static void test_conn_pool_take_give_bound(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *a = acquire(t, SID_A, &err), *b = acquire(t, SID_B, &err);
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_HTTP), -1);     /* nothing pooled yet */
    int x, y, px = conn_pair(&x), py = conn_pair(&y);
    session_conn_give(t, a, SESSION_CONN_PORT_HTTP, x);
    session_conn_give(t, a, SESSION_CONN_PORT_HTTP, y);
    CHECK_EQ(session_conn_idle(t, a, SESSION_CONN_PORT_HTTP), 2);
    CHECK_EQ(session_conn_idle(t, a, SESSION_CONN_PORT_MCP), 0);
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_MCP), -1);      /* per port */
    CHECK_EQ(session_conn_take(t, b, SESSION_CONN_PORT_HTTP), -1);     /* never another session's */
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_HTTP), y);      /* most recent first */
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_HTTP), x);
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_HTTP), -1);     /* each handed out once */
    CHECK(!peer_closed(px) && !peer_closed(py));                        /* the taker owns them */
    close(x);
    close(y);
    close(px);
    close(py);

    /* bounded: beyond SESSION_CONN_IDLE_MAX per port, a given connection is closed at once */
    int fds[SESSION_CONN_IDLE_MAX + 3], peers[SESSION_CONN_IDLE_MAX + 3];
    for (int i = 0; i < SESSION_CONN_IDLE_MAX + 3; i++) {
        peers[i] = conn_pair(&fds[i]);
        session_conn_give(t, a, SESSION_CONN_PORT_MCP, fds[i]);
    }
    CHECK_EQ(session_conn_idle(t, a, SESSION_CONN_PORT_MCP), SESSION_CONN_IDLE_MAX);
    for (int i = 0; i < SESSION_CONN_IDLE_MAX + 3; i++)
        CHECK_EQ(peer_closed(peers[i]), i >= SESSION_CONN_IDLE_MAX);
    /* the A2A port is pooled too */
    int a2a_fd, a2a_peer = conn_pair(&a2a_fd);
    session_conn_give(t, a, SESSION_CONN_PORT_A2A, a2a_fd);
    CHECK(!peer_closed(a2a_peer));
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_A2A), a2a_fd);
    close(a2a_fd);
    close(a2a_peer);
    /* a port that is not pooled: closed at once; fd -1 is ignored */
    int z, pz = conn_pair(&z);
    session_conn_give(t, a, 1024, z);
    CHECK(peer_closed(pz));
    CHECK_EQ(session_conn_take(t, a, 1024), -1);
    session_conn_give(t, a, SESSION_CONN_PORT_HTTP, -1);
    CHECK_EQ(session_conn_idle(t, a, SESSION_CONN_PORT_HTTP), 0);

    /* the session ends (StopRuntimeSession) while held: every idle connection closes now, and
     * nothing is pooled or handed out afterwards */
    CHECK(sessions_stop(t, NULL, SID_A, SESSION_END_STOPPED));
    for (int i = 0; i < SESSION_CONN_IDLE_MAX; i++)
        CHECK(peer_closed(peers[i]));
    CHECK_EQ(session_conn_take(t, a, SESSION_CONN_PORT_MCP), -1);
    int w, pw = conn_pair(&w);
    session_conn_give(t, a, SESSION_CONN_PORT_HTTP, w);    /* a stream that finished late */
    CHECK(peer_closed(pw));
    CHECK_EQ(session_conn_idle(t, a, SESSION_CONN_PORT_HTTP), 0);
    for (int i = 0; i < SESSION_CONN_IDLE_MAX + 3; i++)
        close(peers[i]);
    close(pz);
    close(pw);
    sessions_release(t, a);
    sessions_release(t, b);
    sessions_free(t);
}

/* Gives n fresh connections to s's HTTP pool; their peers go into peers[]. */
static void give_n(struct sessions *t, struct session *s, int *peers, int n)
{
    for (int i = 0; i < n; i++) {
        int fd;
        peers[i] = conn_pair(&fd);
        session_conn_give(t, s, SESSION_CONN_PORT_HTTP, fd);
    }
}

static bool all_closed(const int *peers, int n)
{
    bool all = true;
    for (int i = 0; i < n; i++) {
        all = all && peer_closed(peers[i]);
        close(peers[i]);
    }
    return all;
}

static void test_conn_pool_closed_on_every_end(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    int pa[3], pb[3], pc[3], pd[3], pe[3], pf[3];
    /* idle timeout (the reaper) */
    struct session *s = acquire(t, SID_A, &err);
    give_n(t, s, pa, 3);
    sessions_release(t, s);
    clock_ms += 900 * 1000;
    CHECK_EQ(sessions_reap(t), 1);
    CHECK(all_closed(pa, 3));
    /* the runtime deleted */
    s = acquire(t, SID_B, &err);
    give_n(t, s, pb, 3);
    sessions_release(t, s);
    CHECK_EQ(sessions_stop_runtime(t, "rt-0123456789"), 1);
    CHECK(all_closed(pb, 3));
    /* the VMM died (noticed by a request) */
    s = acquire(t, SID_C, &err);
    give_n(t, s, pc, 3);
    snprintf(tl.dead, sizeof tl.dead, "%s", SID_C);
    CHECK(!sessions_check_vm(t, s));
    CHECK(all_closed(pc, 3));
    sessions_release(t, s);
    tl.dead[0] = '\0';
    /* /ping said Unhealthy */
    s = acquire(t, SID_D, &err);
    give_n(t, s, pd, 3);
    CHECK(sessions_ping_result(t, s, PING_UNHEALTHY, 0));
    CHECK(all_closed(pd, 3));
    sessions_release(t, s);
    /* connections idle too long are closed, not handed out, and the reaper closes them */
    s = acquire(t, SID_E, &err);
    give_n(t, s, pe, 3);
    clock_ms += SESSION_CONN_MAX_IDLE_MS;
    CHECK_EQ(session_conn_take(t, s, SESSION_CONN_PORT_HTTP), -1);
    CHECK(all_closed(pe, 3));
    give_n(t, s, pe, 2);
    clock_ms += SESSION_CONN_MAX_IDLE_MS - 1;
    give_n(t, s, pf, 1);                  /* a younger one */
    clock_ms += 1;
    CHECK_EQ(sessions_reap(t), 0);        /* the session goes on (a request holds it) */
    CHECK(all_closed(pe, 2));
    CHECK_EQ(session_conn_idle(t, s, SESSION_CONN_PORT_HTTP), 1);
    int kept = session_conn_take(t, s, SESSION_CONN_PORT_HTTP);
    CHECK(kept >= 0 && !peer_closed(pf[0]));
    session_conn_give(t, s, SESSION_CONN_PORT_HTTP, kept);
    sessions_release(t, s);
    /* silod shutting down */
    sessions_free(t);
    CHECK(all_closed(pf, 1));
}

/* Requests on one session at once: each takes a connection of its own. */
struct pool_racer {
    struct sessions *t;
    struct session *s;
    int *in_use;              /* indexed by fd */
    int clashes, takes;
};

static void *pool_race(void *p)
{
    struct pool_racer *r = p;
    for (int i = 0; i < 2000; i++) {
        int fd = session_conn_take(r->t, r->s, SESSION_CONN_PORT_HTTP);
        if (fd < 0)
            continue;
        r->takes++;
        if (__atomic_exchange_n(&r->in_use[fd], 1, __ATOMIC_SEQ_CST) != 0)
            r->clashes++;
        sched_yield();
        __atomic_store_n(&r->in_use[fd], 0, __ATOMIC_SEQ_CST);
        session_conn_give(r->t, r->s, SESSION_CONN_PORT_HTTP, fd);
    }
    return NULL;
}

static void test_conn_pool_one_user_at_a_time(void)
{
    struct sessions *t = table(10, 8192);
    const char *err;
    struct session *s = acquire(t, SID_A, &err);
    int peers[4];
    give_n(t, s, peers, 4);
    static int in_use[4096];
    struct pool_racer r[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        r[i] = (struct pool_racer){ t, s, in_use, 0, 0 };
        pthread_create(&th[i], NULL, pool_race, &r[i]);
    }
    int clashes = 0, takes = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        clashes += r[i].clashes;
        takes += r[i].takes;
    }
    CHECK_EQ(clashes, 0);
    CHECK(takes > 1000);
    CHECK_EQ(session_conn_idle(t, s, SESSION_CONN_PORT_HTTP), 4);
    sessions_release(t, s);
    sessions_free(t);
    CHECK(all_closed(peers, 4));
}

/* ------------------------------------------------------------------ real launcher + test VMM */

static void test_launcher_with_test_vmm(void)
{
    char self[4096], vmm[4096 + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    if (n <= 0)
        return;
    self[n] = '\0';
    snprintf(vmm, sizeof vmm, "%s/../host/bin/fake_vmm", dirname(self));
    CHECK(access(vmm, X_OK) == 0);
    char dir[] = "/tmp/silo-sessions-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct vmm_launcher_config lc = { vmm, "/nonexistent/Image", NULL, "/nonexistent", dir, 2, 5000, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    struct sessions_config cfg = { 4, 4096, NULL, NULL, vmm_launcher(&lc), NULL, NULL };
    struct sessions *t = sessions_new(&cfg);
    struct session_acquire a = { SID_A, "rt-0123456789", 1, "{}", 256, 900, 3600 };
    char msg[256];
    const char *err = NULL;
    struct session *s = sessions_acquire(t, &a, &err, msg, sizeof msg);
    CHECK(s != NULL);
    if (!s)
        printf("#   %s\n", msg);
    if (s) {
        const struct session_vm *vm = session_vm(s);
        CHECK(vm->pid > 0);
        int fd = microvm_connect(vm->vsock_path, 8080, 2000);
        CHECK(fd >= 0);
        static const char req[] = "POST /invocations HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                                  "Connection: close\r\n\r\nhello";
        CHECK(write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1));
        char buf[1024] = "";
        size_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
        buf[got] = '\0';
        CHECK(strstr(buf, "HTTP/1.1 200") == buf);
        CHECK(strstr(buf, "\r\n\r\nhello") != NULL);
        close(fd);
        CHECK(microvm_connect(vm->vsock_path, 9999, 1000) < 0);   /* port refused */
        pid_t pid = vm->pid;
        sessions_release(t, s);
        CHECK(sessions_stop(t, NULL, SID_A, SESSION_END_STOPPED));
        CHECK(kill(pid, 0) != 0);                               /* reaped */
    }
    /* a VMM that dies: the held session notices, ends, and the id then gets a fresh VM */
    s = sessions_acquire(t, &a, &err, msg, sizeof msg);
    CHECK(s != NULL);
    if (s) {
        pid_t pid = session_vm(s)->pid;
        CHECK(sessions_check_vm(t, s));
        kill(pid, SIGKILL);
        usleep(100000);
        CHECK(!sessions_check_vm(t, s));
        CHECK_EQ(sessions_count(t), 0);
        sessions_release(t, s);
        struct session *again = sessions_acquire(t, &a, &err, msg, sizeof msg);
        CHECK(again != NULL);
        if (again) {
            CHECK(session_vm(again)->pid != pid);
            sessions_release(t, again);
        }
    }
    sessions_free(t);
    rmdir(dir);
}

static bool fake_vmm_path(char *vmm, size_t len)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    snprintf(vmm, len, "%s/../host/bin/fake_vmm", dirname(self));
    return access(vmm, X_OK) == 0;
}

/* One invocation of the test VMM's agent; true on a 200. */
static bool invoke_fake(const struct session_vm *vm, const char *body)
{
    int fd = microvm_connect(vm->vsock_path, 8080, 2000);
    if (fd < 0)
        return false;
    char req[512], buf[512] = "";
    int n = snprintf(req, sizeof req, "POST /invocations HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    bool ok = write(fd, req, (size_t)n) == n && read(fd, buf, sizeof buf - 1) > 0 &&
              strncmp(buf, "HTTP/1.1 200", 12) == 0;
    close(fd);
    return ok;
}

/* Sends body to the test agent on fd (kept alive) and reads one Content-Length answer into
 * out; returns its status, or -1. */
static int agent_exchange(int fd, const char *body, char *out, size_t out_len)
{
    char req[256], head[1024];
    int n = snprintf(req, sizeof req, "POST /invocations HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t h = 0;
    while (h + 1 < sizeof head && (h < 4 || memcmp(head + h - 4, "\r\n\r\n", 4) != 0))
        if (read(fd, head + h++, 1) != 1)
            return -1;
    head[h] = '\0';
    const char *cl = strstr(head, "Content-Length: ");
    size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0, got = 0;
    if (!cl || len >= out_len)
        return -1;
    while (got < len) {
        ssize_t r = read(fd, out + got, len - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    out[len] = '\0';
    int status = -1;
    sscanf(head, "HTTP/1.%*d %d", &status);
    return status;
}

/* true when the test agent closes fd within ms (EOF). */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;
    return poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 0;
}

static void test_vmm_agent_keeps_connections_alive(void)
{
    char vmm[4200];
    CHECK(fake_vmm_path(vmm, sizeof vmm));
    char dir[] = "/tmp/silo-keepalive-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct vmm_launcher_config lc = { vmm, "/nonexistent/Image", NULL, "/nonexistent", dir, 1, 5000, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    struct sessions_config cfg = { 4, 4096, NULL, NULL, vmm_launcher(&lc), NULL, NULL };
    struct sessions *t = sessions_new(&cfg);
    struct session_acquire a = { SID_A, "rt-0123456789", 1, "{}", 256, 900, 3600 };
    char msg[256], out[256];
    const char *err;
    struct session *s = sessions_acquire(t, &a, &err, msg, sizeof msg);
    CHECK(s != NULL);
    if (!s) {
        sessions_free(t);
        rmdir(dir);
        return;
    }
    const char *path = session_vm(s)->vsock_path;
    int one = microvm_connect(path, 8080, 2000), two = microvm_connect(path, 8080, 2000);
    CHECK(one >= 0 && two >= 0);
    /* requests after requests on one connection; the readiness probe did not count */
    CHECK_EQ(agent_exchange(one, "conns", out, sizeof out), 200);
    CHECK(strcmp(out, "{\"conn\":1,\"conns\":1,\"served\":1}") == 0);
    CHECK_EQ(agent_exchange(one, "hello", out, sizeof out), 200);
    CHECK(strcmp(out, "hello") == 0);
    CHECK_EQ(agent_exchange(one, "conns", out, sizeof out), 200);
    CHECK(strcmp(out, "{\"conn\":1,\"conns\":1,\"served\":3}") == 0);
    CHECK_EQ(agent_exchange(two, "close", out, sizeof out), 200);   /* says close, stays open */
    CHECK(strcmp(out, "{\"conn\":2,\"conns\":2,\"served\":1}") == 0);
    CHECK_EQ(agent_exchange(two, "conns", out, sizeof out), 200);
    CHECK(strcmp(out, "{\"conn\":2,\"conns\":2,\"served\":2}") == 0);
    CHECK(!closed_within(one, 200));                   /* idle connections stay */
    /* "drop-idle": the idle connection and the one that asked both close */
    CHECK_EQ(agent_exchange(two, "drop-idle", out, sizeof out), 200);
    CHECK(closed_within(one, 2000));
    CHECK(closed_within(two, 2000));
    close(one);
    close(two);
    sessions_release(t, s);
    sessions_free(t);
    rmdir(dir);
}

static void test_ping_poller_with_test_vmm(void)
{
    char vmm[4200];
    CHECK(fake_vmm_path(vmm, sizeof vmm));
    char dir[] = "/tmp/silo-ping-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct vmm_launcher_config lc = { vmm, "/nonexistent/Image", NULL, "/nonexistent", dir, 1, 5000, NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
    record_count = 0;
    struct sessions_config cfg = { 4, 4096, NULL, NULL, vmm_launcher(&lc), on_end, NULL };
    struct sessions *t = sessions_new(&cfg);
    struct session_acquire a = { SID_A, "rt-0123456789", 3, "{}", 256, 900, 3600 };
    struct session_acquire b = { SID_B, "rt-0123456789", 3, "{}", 256, 900, 3600 };
    struct session_acquire m = { SID_C, "rt-0123456789", 3,
                                 "{\"protocolConfiguration\":{\"serverProtocol\":\"MCP\"}}", 256, 900, 3600 };
    char msg[256];
    const char *err;
    struct session *sa = sessions_acquire(t, &a, &err, msg, sizeof msg);
    struct session *sb = sessions_acquire(t, &b, &err, msg, sizeof msg);
    struct session *sm = sessions_acquire(t, &m, &err, msg, sizeof msg);
    CHECK(sa && sb && sm);
    if (!sa || !sb || !sm) {
        printf("#   %s\n", msg);
        sessions_free(t);
        return;
    }
    CHECK(!session_vm(sa)->no_ping && session_vm(sm)->no_ping);   /* MCP: not pinged */
    int64_t tolu = -1;
    CHECK_EQ(ping_agent(session_vm(sa)->vsock_path, 2000, &tolu), PING_HEALTHY);
    CHECK_EQ(tolu, 0);
    CHECK(invoke_fake(session_vm(sa), "ping:HealthyBusy:1700000000.5"));
    CHECK_EQ(ping_agent(session_vm(sa)->vsock_path, 2000, &tolu), PING_HEALTHY_BUSY);
    CHECK_EQ(tolu, 1700000000500);
    /* the guest's active vCPU time, read from /proc through the thread named vcpu0 */
    CHECK(invoke_fake(session_vm(sa), "burn:300"));
    struct vm_usage u = { 0 };
    for (int i = 0; i < 100 && u.vcpu_ms < 300; i++) {
        usleep(20000);
        vmm_measure(session_vm(sa)->pid, &u);
    }
    CHECK_EQ(u.vcpu_threads, 1);
    CHECK(u.vcpu_ms >= 280 && u.vcpu_ms < 2000);
    CHECK(u.mem_peak_kib > 0);
    /* "hang": no answer within the timeout is a failure, and a bounded one */
    CHECK(invoke_fake(session_vm(sb), "ping:hang"));
    double t0 = mono_s();
    CHECK_EQ(ping_agent(session_vm(sb)->vsock_path, 300, &tolu), PING_FAILED);
    CHECK(mono_s() - t0 < 1.5);
    CHECK(invoke_fake(session_vm(sb), "ping:fail"));
    CHECK_EQ(ping_agent(session_vm(sb)->vsock_path, 2000, &tolu), PING_FAILED);
    sessions_release(t, sa);
    sessions_release(t, sb);
    sessions_release(t, sm);
    CHECK_EQ(ping_poller_pass(t, 2000), 0);       /* B: 1 failure */
    CHECK_EQ(ping_poller_pass(t, 2000), 0);       /* B: 2 */
    CHECK(invoke_fake(session_vm(sa), "ping:Unhealthy"));
    CHECK_EQ(ping_poller_pass(t, 2000), 2);       /* A unhealthy, B's third failure */
    CHECK_EQ(sessions_count(t), 1);
    CHECK_EQ(sessions_state(t, SID_C), SESSION_IDLE);   /* the MCP session stays */
    const struct session_usage *ua = record_of(SID_A), *ub = record_of(SID_B);
    CHECK(ua && ua->reason == SESSION_END_UNHEALTHY && ua->measured && ua->vcpu_ms >= 280 &&
          ua->mem_peak_kib > 0 && ua->version == 3 && ua->guest_mib == 256);
    CHECK(ub && ub->reason == SESSION_END_UNHEALTHY && ub->measured && ub->vcpu_ms < 100);
    sessions_free(t);
    CHECK_EQ(record_count, 3);
    rmdir(dir);
}

static bool make_socket(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void test_restart_removes_stale_sockets(void)
{
    CHECK(vmm_socket_name_ours("s123-4.sock"));
    CHECK(vmm_socket_name_ours("s123-4.sock_1025"));
    CHECK(!vmm_socket_name_ours("s123-4.sock_"));
    CHECK(!vmm_socket_name_ours("s123-4.sock.ping"));
    CHECK(!vmm_socket_name_ours("s-4.sock"));
    CHECK(!vmm_socket_name_ours("x123-4.sock"));
    CHECK(!vmm_socket_name_ours("s123-.sock"));
    CHECK(!vmm_socket_name_ours("s123-4.socket"));
    char dir[] = "/tmp/silo-stale-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pid_t gone = fork();                 /* a pid that no longer runs: a dead silod's */
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    char p[6][256];
    snprintf(p[0], sizeof p[0], "%s/s%d-1.sock", dir, (int)gone);          /* stale: removed */
    snprintf(p[1], sizeof p[1], "%s/s%d-2.sock_1025", dir, (int)gone);     /* stale: removed */
    snprintf(p[2], sizeof p[2], "%s/s%d-3.sock", dir, (int)getpid());      /* our own pid: removed */
    snprintf(p[3], sizeof p[3], "%s/s%d-4.sock", dir, (int)getppid());     /* a live silod's: kept */
    snprintf(p[4], sizeof p[4], "%s/other.sock", dir);                     /* not ours: kept */
    snprintf(p[5], sizeof p[5], "%s/s%d-5.sock", dir, (int)gone);          /* not a socket: kept */
    for (int i = 0; i < 5; i++)
        CHECK(make_socket(p[i]));
    FILE *f = fopen(p[5], "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_EQ(vmm_clean_socket_dir(dir), 3);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(access(p[i], F_OK) == 0, i >= 3);
        unlink(p[i]);
    }
    CHECK_EQ(vmm_clean_socket_dir("/nonexistent/dir"), 0);
    rmdir(dir);
}

static void test_ping_parse(void)
{
    int64_t t;
    static const char healthy[] = "{\"status\":\"Healthy\"}";
    CHECK_EQ(ping_parse(200, healthy, sizeof healthy - 1, &t), PING_HEALTHY);
    CHECK_EQ(ping_parse(500, healthy, sizeof healthy - 1, &t), PING_FAILED);
    CHECK_EQ(ping_parse(204, healthy, sizeof healthy - 1, &t), PING_FAILED);
    static const char busy[] = "{\"status\":\"HealthyBusy\",\"time_of_last_update\":1700000123}";
    CHECK_EQ(ping_parse(200, busy, sizeof busy - 1, &t), PING_HEALTHY_BUSY);
    CHECK_EQ(t, 1700000123000);
    static const char bad[] = "{\"status\":\"Unhealthy\"}";
    CHECK_EQ(ping_parse(200, bad, sizeof bad - 1, &t), PING_UNHEALTHY);
    static const char odd[] = "{\"status\":\"Sleepy\"}";
    CHECK_EQ(ping_parse(200, odd, sizeof odd - 1, &t), PING_FAILED);
    static const char num[] = "{\"status\":1}";
    CHECK_EQ(ping_parse(200, num, sizeof num - 1, &t), PING_FAILED);
    static const char cut[] = "{\"status\":\"Healthy\"";
    CHECK_EQ(ping_parse(200, cut, sizeof cut - 1, &t), PING_FAILED);
    static const char arr[] = "[\"Healthy\"]";
    CHECK_EQ(ping_parse(200, arr, sizeof arr - 1, &t), PING_FAILED);
    static const char str_time[] = "{\"status\":\"Healthy\",\"time_of_last_update\":\"soon\"}";
    CHECK_EQ(ping_parse(200, str_time, sizeof str_time - 1, &t), PING_HEALTHY);
    CHECK_EQ(t, 0);
    static const char neg_time[] = "{\"status\":\"Healthy\",\"time_of_last_update\":-5}";
    CHECK_EQ(ping_parse(200, neg_time, sizeof neg_time - 1, &t), PING_HEALTHY);
    CHECK_EQ(t, 0);
    CHECK_EQ(ping_parse(200, "", 0, &t), PING_FAILED);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "session id rules and generation", test_session_ids },
        { "same id reuses its VM, two ids get two", test_same_id_reuses_vm_two_ids_two_vms },
        { "idle timeout, HealthyBusy and time_of_last_update", test_idle_timeout_and_busy },
        { "max lifetime ends even busy sessions", test_max_lifetime },
        { "host limits give 429/402, failed launches 424", test_limits },
        { "boot-check memory reservations count against max_guest_mib beside sessions", test_boot_check_reservations_count },
        { "concurrent first requests start exactly one VM", test_concurrent_first_requests_start_one_vm },
        { "StopRuntimeSession and runtime deletion end sessions", test_stop_and_runtime_deletion },
        { "a dead VMM ends its session (held or idle)", test_dead_vm_is_reaped },
        { "/ping: HealthyBusy and an advancing time_of_last_update keep a session", test_ping_busy_and_time_of_last_update },
        { "/ping: Unhealthy, or 3 failures while idle and alive, end a session", test_ping_unhealthy_and_failures },
        { "one usage record per ended session, for every end reason", test_usage_record_per_end_reason },
        { "drain refuses new sessions (503), existing ones go on", test_drain },
        { "snapshots hold references to ended sessions until released", test_snapshot_references },
        { "the reaper stops its victims in parallel, not blocking others", test_reaper_stops_victims_in_parallel },
        { "idle agent connections: take/give per session and port, bounded", test_conn_pool_take_give_bound },
        { "idle agent connections close on every session end and when too old", test_conn_pool_closed_on_every_end },
        { "idle agent connections: one user at a time under concurrency", test_conn_pool_one_user_at_a_time },
        { "fork/exec launcher + vsock CONNECT against the test VMM", test_launcher_with_test_vmm },
        { "the test VMM's agent keeps connections alive, counts them, drops idle ones", test_vmm_agent_keeps_connections_alive },
        { "/ping answers: status, time_of_last_update, hostile bodies", test_ping_parse },
        { "ping poller + /proc metering against the test VMM", test_ping_poller_with_test_vmm },
        { "restart removes only stale sockets of our own naming", test_restart_removes_stale_sockets },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
