/* tests/unit/test_sessions.c — the session table with an advancing test clock and a test
 * double launcher (idle timeout, HealthyBusy, time_of_last_update, max lifetime, limits, one
 * VM per id under concurrency, stop), then the real fork/exec launcher and vsock handshake
 * against tests/frontend/fake_vmm (a test VMM, not silo-vmm). */
#include "frontend/sessions.h"

#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/vmm_launcher.h"
#include "tests/unit/check.h"

static int64_t clock_ms;
static int64_t test_clock(void *ctx) { (void)ctx; return clock_ms; }

/* ------------------------------------------------------------------ test double launcher */
struct test_launcher {
    int starts, stops;
    bool fail_next;
    int start_delay_us;
    char dead[64];            /* the session id whose VM the test double reports dead */
    pthread_mutex_t lock;
};

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
    pthread_mutex_lock(&l->lock);
    l->stops++;
    pthread_mutex_unlock(&l->lock);
}

static bool test_alive(void *ctx, const struct session_vm *vm)
{
    struct test_launcher *l = ctx;
    return !l->dead[0] || strcmp(vm->vsock_path + 6, l->dead) != 0;
}

static struct test_launcher tl = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct sessions *table(unsigned max_sessions, unsigned max_mib)
{
    tl.starts = tl.stops = 0;
    tl.fail_next = false;
    tl.start_delay_us = 0;
    tl.dead[0] = '\0';
    clock_ms = 1000000;
    struct sessions_config cfg = { max_sessions, max_mib, test_clock, NULL, { test_start, test_stop, test_alive, &tl } };
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
    sessions_stop(t, NULL, SID_A);
    CHECK(acquire(t, SID_B, &err) == NULL);
    CHECK(err && strcmp(err, "RuntimeClientError") == 0);
    CHECK_EQ(sessions_count(t), 0);
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
    CHECK(!sessions_stop(t, "other-0123456789", SID_A));    /* another runtime's session */
    CHECK_EQ(sessions_count(t), 2);
    CHECK(sessions_stop(t, "rt-0123456789", SID_A));
    CHECK(!sessions_stop(t, NULL, SID_A));
    CHECK_EQ(sessions_stop_runtime(t, "rt-0123456789"), 1);
    CHECK_EQ(sessions_count(t), 0);
    CHECK_EQ(tl.stops, 2);
    sessions_free(t);
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
    struct vmm_launcher_config lc = { vmm, "/nonexistent/Image", NULL, "/nonexistent", dir, 2, 5000, NULL };
    struct sessions_config cfg = { 4, 4096, NULL, NULL, vmm_launcher(&lc) };
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
        int fd = vsock_connect(vm->vsock_path, 8080, 2000);
        CHECK(fd >= 0);
        static const char req[] = "POST /invocations HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
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
        CHECK(vsock_connect(vm->vsock_path, 9999, 1000) < 0);   /* port refused */
        pid_t pid = vm->pid;
        sessions_release(t, s);
        CHECK(sessions_stop(t, NULL, SID_A));
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

int main(void)
{
    static const struct unit_test tests[] = {
        { "session id rules and generation", test_session_ids },
        { "same id reuses its VM, two ids get two", test_same_id_reuses_vm_two_ids_two_vms },
        { "idle timeout, HealthyBusy and time_of_last_update", test_idle_timeout_and_busy },
        { "max lifetime ends even busy sessions", test_max_lifetime },
        { "host limits give 429/402, failed launches 424", test_limits },
        { "concurrent first requests start exactly one VM", test_concurrent_first_requests_start_one_vm },
        { "StopRuntimeSession and runtime deletion end sessions", test_stop_and_runtime_deletion },
        { "a dead VMM ends its session (held or idle)", test_dead_vm_is_reaped },
        { "fork/exec launcher + vsock CONNECT against the test VMM", test_launcher_with_test_vmm },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
