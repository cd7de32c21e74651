/* tests/unit/test_front_door.c — the front door's bounded state: request bodies spooled in
 * bounded memory and replayed whole (body_spool.c), the cap on bytes held for unverified
 * requests (spool_quota), and the per-connection head / keep-alive / body deadlines that shut a
 * slow connection down (conn_guard.c). */
#include "frontend/body_spool.h"
#include "frontend/conn_guard.h"
#include "frontend/session_bind.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "tests/unit/check.h"

struct sink {
    unsigned char *data;
    size_t len, cap, pieces, max_piece;
    size_t fail_after;     /* 0: never */
};

static bool sink_piece(void *ctx, const void *d, size_t n)
{
    struct sink *s = ctx;
    if (s->fail_after && s->pieces >= s->fail_after)
        return false;
    if (s->len + n > s->cap)
        return false;
    memcpy(s->data + s->len, d, n);
    s->len += n;
    s->pieces++;
    if (n > s->max_piece)
        s->max_piece = n;
    return true;
}

static unsigned files_in(const char *dir)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_small_body_stays_in_memory(void)
{
    struct body_spool s;
    body_spool_init(&s, "/nonexistent-spool-dir", 1024);
    CHECK(body_spool_write(&s, "hello ", 6));
    CHECK(body_spool_write(&s, "world", 5));
    CHECK_EQ(s.len, 11);
    CHECK_EQ(s.fd, -1);              /* no file needed (the directory does not even exist) */
    unsigned char buf[32];
    struct sink k = { buf, 0, sizeof buf, 0, 0, 0 };
    CHECK(body_spool_replay(&s, sink_piece, &k));
    CHECK_EQ(k.len, 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    body_spool_free(&s);
}

static void test_large_body_goes_to_an_unlinked_file_and_replays_exactly(void)
{
    char dir[] = "/tmp/silo-spool-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct body_spool s;
    body_spool_init(&s, dir, BODY_SPOOL_MEM_LIMIT);
    size_t total = 3 * 1024 * 1024 + 4321;
    unsigned char *want = malloc(total), *got = malloc(total);
    for (size_t i = 0; i < total; i++)
        want[i] = (unsigned char)(i * 131 + (i >> 12));
    for (size_t off = 0; off < total;) {
        size_t n = total - off < 7777 ? total - off : 7777;   /* odd pieces, as a client sends */
        CHECK(body_spool_write(&s, want + off, n));
        off += n;
    }
    CHECK_EQ(s.len, total);
    CHECK_EQ(s.mem_len, BODY_SPOOL_MEM_LIMIT);   /* memory held is bounded */
    CHECK(s.fd >= 0);
    CHECK_EQ(files_in(dir), 0);      /* the file has no name: nobody else can open it */
    struct sink k = { got, 0, total, 0, 0, 0 };
    CHECK(body_spool_replay(&s, sink_piece, &k));
    CHECK_EQ(k.len, total);
    CHECK(memcmp(got, want, total) == 0);
    CHECK(k.max_piece <= 64 * 1024);
    struct sink fails = { got, 0, total, 0, 0, 3 };    /* the agent goes away mid-replay */
    CHECK(!body_spool_replay(&s, sink_piece, &fails));
    body_spool_free(&s);
    CHECK_EQ(s.fd, -1);
    CHECK_EQ(s.len, 0);
    rmdir(dir);
    free(want);
    free(got);
}

static void test_unwritable_spool_dir_fails_cleanly(void)
{
    struct body_spool s;
    body_spool_init(&s, "/nonexistent-spool-dir", 16);
    char buf[64] = { 0 };
    CHECK(body_spool_write(&s, buf, 16));
    CHECK(!body_spool_write(&s, buf, sizeof buf));    /* needs the file now: cannot make it */
    CHECK(s.failed);
    struct sink k = { (unsigned char *)buf, 0, sizeof buf, 0, 0, 0 };
    CHECK(!body_spool_replay(&s, sink_piece, &k));   /* an incomplete body is never replayed */
    body_spool_free(&s);
}

static void test_quota_caps_bytes_held_at_once(void)
{
    struct spool_quota q = { .limit = 100 };
    CHECK(spool_quota_reserve(&q, 60));
    CHECK(spool_quota_reserve(&q, 40));
    CHECK(!spool_quota_reserve(&q, 1));
    CHECK_EQ(spool_quota_used(&q), 100);
    spool_quota_release(&q, 60);
    CHECK(!spool_quota_reserve(&q, 61));
    CHECK(spool_quota_reserve(&q, 60));
    CHECK(!spool_quota_reserve(&q, UINT64_MAX));      /* no wrap-around */
    spool_quota_release(&q, 100);
    CHECK_EQ(spool_quota_used(&q), 0);
    CHECK_EQ(q.peak, 100);
}

/* a connected pair: shutting one end down is seen as EOF on the other */
static bool peer_sees_eof(int peer)
{
    char b;
    return recv(peer, &b, 1, MSG_DONTWAIT) == 0;
}

static void test_deadlines_shut_down_slow_connections_only(void)
{
    struct conn_guard_config cfg = { 30, 120, 60 };
    struct conn_guard *g = conn_guard_new(&cfg);
    int head[2], body[2], busy[2], idle[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, head) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, body) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, busy) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, idle) == 0);
    int64_t t0 = mono_ms();
    struct conn_entry *eh = conn_guard_add(g, head[0]);         /* never completes its head */
    struct conn_entry *eb = conn_guard_add(g, body[0]);
    conn_guard_phase(g, eb, CONN_BODY);                         /* a body that stalls */
    struct conn_entry *eu = conn_guard_add(g, busy[0]);
    conn_guard_phase(g, eu, CONN_BUSY);                         /* an 8 h SSE answer */
    struct conn_entry *ei = conn_guard_add(g, idle[0]);
    conn_guard_phase(g, ei, CONN_IDLE);
    CHECK_EQ(conn_guard_check(g, t0 + 29 * 1000), 0);
    CHECK(!peer_sees_eof(head[1]));
    CHECK_EQ(conn_guard_check(g, t0 + 31 * 1000), 1);           /* the slow head */
    CHECK(peer_sees_eof(head[1]));
    CHECK_EQ(conn_guard_closed_slow_head(g), 1);
    conn_guard_phase(g, eb, CONN_BODY);                         /* progress at ~t0: deadline moves */
    CHECK_EQ(conn_guard_check(g, t0 + 59 * 1000), 0);
    CHECK_EQ(conn_guard_check(g, t0 + 62 * 1000), 1);           /* then no progress for 60 s */
    CHECK(peer_sees_eof(body[1]));
    CHECK_EQ(conn_guard_closed_slow_body(g), 1);
    CHECK_EQ(conn_guard_check(g, t0 + 8LL * 3600 * 1000), 1);   /* only the idle one, at last */
    CHECK_EQ(conn_guard_closed_slow_head(g), 1);                /* an idle one is no slow head */
    CHECK(!peer_sees_eof(busy[1]));
    CHECK(peer_sees_eof(idle[1]));
    CHECK_EQ(conn_guard_check(g, t0 + 9LL * 3600 * 1000), 0);   /* each shut down once */
    conn_guard_remove(g, eh);
    conn_guard_remove(g, eb);
    conn_guard_remove(g, eu);
    conn_guard_remove(g, ei);
    conn_guard_free(g);
    for (int i = 0; i < 2; i++) {
        close(head[i]);
        close(body[i]);
        close(busy[i]);
        close(idle[i]);
    }
}

static void test_defaults(void)
{
    struct conn_guard_config cfg = { 0, 0, 0 };
    struct conn_guard *g = conn_guard_new(&cfg);
    int p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
    int64_t t0 = mono_ms();
    struct conn_entry *e = conn_guard_add(g, p[0]);
    CHECK_EQ(conn_guard_check(g, t0 + 29 * 1000), 0);
    CHECK_EQ(conn_guard_check(g, t0 + 31 * 1000), 1);           /* head 30 s by default */
    conn_guard_remove(g, e);
    conn_guard_free(g);
    close(p[0]);
    close(p[1]);
}

static bool fake_alive_flag = true;
static bool fake_alive(void *ctx, const char *sid) { (void)ctx; (void)sid; return fake_alive_flag; }

static void test_sessions_are_bound_to_their_opener(void)
{
    struct session_binds *b = session_binds_new(fake_alive, NULL);
    const char *sid = "sess-0123456789abcdef0123456789abcdef";
    struct session_owner alice = { "rt-0123456789", "DEFAULT", "jwt", "https://idp|alice" };
    struct session_owner bob = { "rt-0123456789", "DEFAULT", "jwt", "https://idp|bob" };
    struct session_owner sigv4 = { "rt-0123456789", "DEFAULT", "sigv4", "" };
    struct session_owner pinned = { "rt-0123456789", "v1", "jwt", "https://idp|alice" };
    struct session_owner other_rt = { "rt-ABCDEFGHIJ", "DEFAULT", "jwt", "https://idp|alice" };
    CHECK(session_bind_claim(b, sid, &alice));          /* opens it */
    CHECK(session_bind_claim(b, sid, &alice));          /* and keeps using it */
    CHECK(!session_bind_claim(b, sid, &bob));           /* another user of the same runtime */
    CHECK(!session_bind_claim(b, sid, &sigv4));         /* another auth method (a forged User-Id) */
    CHECK(!session_bind_claim(b, sid, &pinned));        /* an endpoint pinned elsewhere */
    CHECK(!session_bind_claim(b, sid, &other_rt));
    fake_alive_flag = false;                            /* the session ended: the id is free */
    CHECK(session_bind_claim(b, sid, &bob));
    fake_alive_flag = true;
    CHECK(!session_bind_claim(b, sid, &alice));
    for (int i = 0; i < 200; i++) {                     /* many ids: pruned as they end */
        char id[64];
        snprintf(id, sizeof id, "sess-%d-0123456789abcdef0123456789", i);
        CHECK(session_bind_claim(b, id, &sigv4));
    }
    session_binds_free(b);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a small body stays in memory and replays", test_small_body_stays_in_memory },
        { "a 3 MiB body: 64 KiB in memory, the rest in an unlinked file, replayed exactly",
          test_large_body_goes_to_an_unlinked_file_and_replays_exactly },
        { "an unwritable spool dir fails the body, never replays part of it", test_unwritable_spool_dir_fails_cleanly },
        { "the unverified-bytes quota caps what is held at once", test_quota_caps_bytes_held_at_once },
        { "slow head and stalled body are shut down; busy streams are not", test_deadlines_shut_down_slow_connections_only },
        { "default deadlines", test_defaults },
        { "a session serves only the endpoint, auth method and JWT user that opened it",
          test_sessions_are_bound_to_their_opener },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
