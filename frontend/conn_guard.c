/* frontend/conn_guard.c — head, keep-alive and body deadlines per connection (see conn_guard.h). */
#include "frontend/conn_guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"

struct conn_entry {
    struct conn_entry *prev, *next;
    int fd;
    enum conn_phase phase;
    int64_t deadline_ms;       /* 0: none */
    bool shut;
};

struct conn_guard {
    struct conn_guard_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct conn_entry *head;
    bool stop;
    pthread_t thread;
    uint64_t slow_head, slow_body;
};

static void *watchdog(void *arg)
{
    struct conn_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->lock);
        conn_guard_check(g, mono_ms());
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct conn_guard *conn_guard_new(const struct conn_guard_config *cfg)
{
    struct conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    g->cfg = *cfg;
    if (!g->cfg.head_timeout_s)
        g->cfg.head_timeout_s = 30;
    if (!g->cfg.keepalive_timeout_s)
        g->cfg.keepalive_timeout_s = 120;
    if (!g->cfg.body_timeout_s)
        g->cfg.body_timeout_s = 60;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->thread, NULL, watchdog, g) != 0)
        abort();
    return g;
}

void conn_guard_free(struct conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    while (g->head) {
        struct conn_entry *e = g->head;
        g->head = e->next;
        free(e);
    }
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

static void set_phase_locked(struct conn_guard *g, struct conn_entry *e, enum conn_phase phase)
{
    unsigned s = phase == CONN_HEAD ? g->cfg.head_timeout_s : phase == CONN_IDLE ? g->cfg.keepalive_timeout_s
               : phase == CONN_BODY ? g->cfg.body_timeout_s : 0;
    e->phase = phase;
    e->deadline_ms = s ? mono_ms() + (int64_t)s * 1000 : 0;
}

struct conn_entry *conn_guard_add(struct conn_guard *g, int fd)
{
    struct conn_entry *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->fd = fd;
    pthread_mutex_lock(&g->lock);
    set_phase_locked(g, e, CONN_HEAD);
    e->next = g->head;
    if (g->head)
        g->head->prev = e;
    g->head = e;
    pthread_mutex_unlock(&g->lock);
    return e;
}

void conn_guard_phase(struct conn_guard *g, struct conn_entry *e, enum conn_phase phase)
{
    if (!g || !e)
        return;
    pthread_mutex_lock(&g->lock);
    set_phase_locked(g, e, phase);
    pthread_mutex_unlock(&g->lock);
}

enum conn_phase conn_guard_current(struct conn_guard *g, struct conn_entry *e)
{
    if (!g || !e)
        return CONN_BUSY;
    pthread_mutex_lock(&g->lock);
    enum conn_phase p = e->phase;
    pthread_mutex_unlock(&g->lock);
    return p;
}

void conn_guard_remove(struct conn_guard *g, struct conn_entry *e)
{
    if (!g || !e)
        return;
    pthread_mutex_lock(&g->lock);
    if (e->prev)
        e->prev->next = e->next;
    else
        g->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    pthread_mutex_unlock(&g->lock);
    free(e);
}

unsigned conn_guard_check(struct conn_guard *g, int64_t now_ms)
{
    unsigned n = 0;
    pthread_mutex_lock(&g->lock);
    for (struct conn_entry *e = g->head; e; e = e->next) {
        if (e->shut || !e->deadline_ms || now_ms < e->deadline_ms)
            continue;
        e->shut = true;
        if (e->phase == CONN_BODY)
            g->slow_body++;
        else if (e->phase == CONN_HEAD)
            g->slow_head++;
        if (e->phase != CONN_IDLE)
            fprintf(stderr, "silod: connection closed: %s (no complete %s within %u s)\n",
                    e->phase == CONN_BODY ? "stalled body" : "slow head",
                    e->phase == CONN_BODY ? "body piece" : "request head",
                    e->phase == CONN_BODY ? g->cfg.body_timeout_s : g->cfg.head_timeout_s);
        /* after the log line, so it is written before the client can see the close */
        shutdown(e->fd, SHUT_RDWR);     /* the connection's thread sees EOF and closes it */
        n++;
    }
    pthread_mutex_unlock(&g->lock);
    return n;
}

uint64_t conn_guard_closed_slow_head(struct conn_guard *g)
{
    pthread_mutex_lock(&g->lock);
    uint64_t n = g->slow_head;
    pthread_mutex_unlock(&g->lock);
    return n;
}

uint64_t conn_guard_closed_slow_body(struct conn_guard *g)
{
    pthread_mutex_lock(&g->lock);
    uint64_t n = g->slow_body;
    pthread_mutex_unlock(&g->lock);
    return n;
}
