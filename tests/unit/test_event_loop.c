/* tests/unit/test_event_loop.c — base/event_loop.c: handlers run for ready fds, removal inside
 * a batch, modify, the loop thread start/stop, and its thread-start hook. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "base/event_loop.h"

struct counter {
    struct event_loop *loop;
    int fd;
    _Atomic int calls;
    uint32_t events;
    int remove_fd; /* removed by this handler, -1: none */
};

static void on_event(void *opaque, int fd, uint32_t events)
{
    struct counter *c = opaque;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
    c->events = events;
    atomic_fetch_add(&c->calls, 1);
    if (c->remove_fd >= 0)
        event_loop_remove(c->loop, c->remove_fd);
}

static void poke(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;
}

static void test_handler_runs_for_ready_fd(void)
{
    struct event_loop *loop = event_loop_create();
    CHECK(loop != NULL);
    struct counter c = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK), .remove_fd = -1 };
    CHECK_EQ(event_loop_add(loop, c.fd, EPOLLIN, on_event, &c), 0);
    CHECK_EQ(event_loop_add(loop, c.fd, EPOLLIN, on_event, &c), -EEXIST);
    CHECK_EQ(event_loop_add(loop, -1, EPOLLIN, on_event, &c), -EINVAL);
    CHECK_EQ(event_loop_run_once(loop, 0), 0); /* nothing ready */
    poke(c.fd);
    CHECK_EQ(event_loop_run_once(loop, 1000), 1);
    CHECK_EQ(c.calls, 1);
    CHECK(c.events & EPOLLIN);
    CHECK_EQ(event_loop_modify(loop, c.fd, 0), 0); /* paused */
    poke(c.fd);
    CHECK_EQ(event_loop_run_once(loop, 0), 0);
    CHECK_EQ(event_loop_modify(loop, c.fd, EPOLLIN), 0);
    CHECK_EQ(event_loop_run_once(loop, 1000), 1);
    CHECK_EQ(c.calls, 2);
    CHECK_EQ(event_loop_remove(loop, c.fd), 0);
    CHECK_EQ(event_loop_remove(loop, c.fd), -ENOENT);
    CHECK_EQ(event_loop_modify(loop, c.fd, EPOLLIN), -ENOENT);
    event_loop_destroy(loop);
    close(c.fd);
}

static void test_removed_in_batch_is_not_called(void)
{
    struct event_loop *loop = event_loop_create();
    struct counter a = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK) };
    struct counter b = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK) };
    a.remove_fd = b.fd; /* whichever runs first removes the other */
    b.remove_fd = a.fd;
    CHECK_EQ(event_loop_add(loop, a.fd, EPOLLIN, on_event, &a), 0);
    CHECK_EQ(event_loop_add(loop, b.fd, EPOLLIN, on_event, &b), 0);
    poke(a.fd);
    poke(b.fd);
    CHECK_EQ(event_loop_run_once(loop, 1000), 1);
    CHECK_EQ(a.calls + b.calls, 1);
    event_loop_destroy(loop);
    close(a.fd);
    close(b.fd);
}

static void test_thread_runs_and_stops(void)
{
    struct event_loop *loop = event_loop_create();
    struct counter c = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK), .remove_fd = -1 };
    CHECK_EQ(event_loop_add(loop, c.fd, EPOLLIN, on_event, &c), 0);
    CHECK_EQ(event_loop_start(loop, NULL), 0);
    CHECK_EQ(event_loop_start(loop, NULL), -EBUSY);
    poke(c.fd);
    for (int i = 0; i < 2000 && atomic_load(&c.calls) == 0; i++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    CHECK_EQ(atomic_load(&c.calls), 1);
    event_loop_stop(loop);
    event_loop_stop(loop); /* idempotent */
    poke(c.fd);
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    CHECK_EQ(atomic_load(&c.calls), 1); /* stopped: nothing runs */
    CHECK_EQ(event_loop_start(loop, NULL), 0); /* and it can start again */
    for (int i = 0; i < 2000 && atomic_load(&c.calls) == 1; i++)
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    CHECK_EQ(atomic_load(&c.calls), 2);
    event_loop_destroy(loop); /* stops the running thread */
    close(c.fd);
}

static _Atomic int hook_calls;
static _Atomic bool hook_saw_main_thread;
static pthread_t main_thread;

static void count_thread_start(void)
{
    atomic_fetch_add(&hook_calls, 1);
    if (pthread_equal(pthread_self(), main_thread))
        atomic_store(&hook_saw_main_thread, true);
}

static void test_thread_start_hook(void)
{
    main_thread = pthread_self();
    struct event_loop *loop = event_loop_create();
    struct counter c = { .loop = loop, .fd = eventfd(0, EFD_NONBLOCK), .remove_fd = -1 };
    CHECK_EQ(event_loop_add(loop, c.fd, EPOLLIN, on_event, &c), 0);
    CHECK_EQ(event_loop_start(loop, count_thread_start), 0);
    poke(c.fd);
    for (int i = 0; i < 2000 && atomic_load(&c.calls) == 0; i++)
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    CHECK_EQ(atomic_load(&c.calls), 1);
    CHECK_EQ(atomic_load(&hook_calls), 1); /* once, before the handler ran */
    CHECK(!atomic_load(&hook_saw_main_thread)); /* on the loop's own thread */
    event_loop_stop(loop);
    CHECK_EQ(atomic_load(&hook_calls), 1);
    event_loop_destroy(loop);
    close(c.fd);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "handlers run for ready fds; add/modify/remove errors", test_handler_runs_for_ready_fd },
        { "a handler removed earlier in the same batch never runs", test_removed_in_batch_is_not_called },
        { "the loop thread runs handlers, stops, restarts, is destroyed", test_thread_runs_and_stops },
        { "the thread-start hook runs once, on the loop thread", test_thread_start_hook },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
