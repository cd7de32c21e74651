/* base/event_loop.c — the epoll-based I/O thread (see event_loop.h). */
#include "base/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/eventfd_util.h"

struct handler {
    int fd; /* -1 once removed */
    event_fn fn;
    void *opaque;
    struct handler *next_dead;
};

struct event_loop {
    int epfd;
    int stop_fd;
    struct handler **by_fd; /* index: fd */
    size_t by_fd_len;
    struct handler *dead;   /* removed during a batch, freed after it */
    bool dispatching;
    bool thread_running;
    pthread_t thread;
    event_loop_thread_hook on_thread_start; /* NULL: none */
};

struct event_loop *event_loop_create(void)
{
    struct event_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->epfd < 0 || loop->stop_fd < 0) {
        event_loop_destroy(loop);
        return NULL;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stop_fd, &ev);
    return loop;
}

static void free_dead(struct event_loop *loop)
{
    while (loop->dead != NULL) {
        struct handler *h = loop->dead;
        loop->dead = h->next_dead;
        free(h);
    }
}

void event_loop_destroy(struct event_loop *loop)
{
    if (loop == NULL)
        return;
    event_loop_stop(loop);
    for (size_t i = 0; i < loop->by_fd_len; i++)
        free(loop->by_fd[i]);
    free(loop->by_fd);
    free_dead(loop);
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->stop_fd >= 0)
        close(loop->stop_fd);
    free(loop);
}

int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *opaque)
{
    if (fd < 0 || fn == NULL)
        return -EINVAL;
    if ((size_t)fd >= loop->by_fd_len) {
        size_t len = loop->by_fd_len ? loop->by_fd_len : 64;
        while (len <= (size_t)fd)
            len *= 2;
        struct handler **grown = realloc(loop->by_fd, len * sizeof *grown);
        if (grown == NULL)
            return -ENOMEM;
        memset(grown + loop->by_fd_len, 0, (len - loop->by_fd_len) * sizeof *grown);
        loop->by_fd = grown;
        loop->by_fd_len = len;
    }
    if (loop->by_fd[fd] != NULL)
        return -EEXIST;
    struct handler *h = calloc(1, sizeof *h);
    if (h == NULL)
        return -ENOMEM;
    h->fd = fd;
    h->fn = fn;
    h->opaque = opaque;
    struct epoll_event ev = { .events = events, .data.ptr = h };
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int err = errno;
        free(h);
        return -err;
    }
    loop->by_fd[fd] = h;
    return 0;
}

int event_loop_modify(struct event_loop *loop, int fd, uint32_t events)
{
    if (fd < 0 || (size_t)fd >= loop->by_fd_len || loop->by_fd[fd] == NULL)
        return -ENOENT;
    struct epoll_event ev = { .events = events, .data.ptr = loop->by_fd[fd] };
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

int event_loop_remove(struct event_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->by_fd_len || loop->by_fd[fd] == NULL)
        return -ENOENT;
    struct handler *h = loop->by_fd[fd];
    loop->by_fd[fd] = NULL;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    h->fd = -1;
    if (loop->dispatching) {
        h->next_dead = loop->dead;
        loop->dead = h;
    } else {
        free(h);
    }
    return 0;
}

/* Returns handlers run, -errno, or -ECANCELED when the stop fd fired. */
static int dispatch(struct event_loop *loop, int timeout_ms)
{
    struct epoll_event events[64];
    int n = epoll_wait(loop->epfd, events, 64, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int ran = 0;
    bool stop = false;
    loop->dispatching = true;
    for (int i = 0; i < n; i++) {
        struct handler *h = events[i].data.ptr;
        if (h == NULL) {
            stop = true;
            continue;
        }
        if (h->fd < 0)
            continue;
        h->fn(h->opaque, h->fd, events[i].events);
        ran++;
    }
    loop->dispatching = false;
    free_dead(loop);
    return stop ? -ECANCELED : ran;
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
    int r = dispatch(loop, timeout_ms);
    return r == -ECANCELED ? 0 : r;
}

static void *loop_thread(void *arg)
{
    struct event_loop *loop = arg;
    if (loop->on_thread_start != NULL)
        loop->on_thread_start();
    for (;;) {
        int r = dispatch(loop, -1);
        if (r == -ECANCELED || (r < 0 && r != -EINTR))
            break;
    }
    return NULL;
}

int event_loop_start(struct event_loop *loop, event_loop_thread_hook on_thread_start)
{
    if (loop->thread_running)
        return -EBUSY;
    loop->on_thread_start = on_thread_start;
    int err = pthread_create(&loop->thread, NULL, loop_thread, loop);
    if (err != 0)
        return -err;
    loop->thread_running = true;
    return 0;
}

void event_loop_stop(struct event_loop *loop)
{
    if (!loop->thread_running)
        return;
    eventfd_signal(loop->stop_fd);
    pthread_join(loop->thread, NULL);
    loop->thread_running = false;
    (void)eventfd_drain(loop->stop_fd);
}
