/* frontend/session_bind.c — session ids bound to the caller that opened them (see session_bind.h). */
#include "frontend/session_bind.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct binding {
    struct binding *next;
    char *session_id, *runtime_id, *endpoint, *auth, *user;
};

struct session_binds {
    pthread_mutex_t lock;
    struct binding *list;
    unsigned count, claims;
    session_alive_fn alive;
    void *ctx;
};

static char *dup_s(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void binding_free(struct binding *e)
{
    free(e->session_id);
    free(e->runtime_id);
    free(e->endpoint);
    free(e->auth);
    free(e->user);
    free(e);
}

struct session_binds *session_binds_new(session_alive_fn alive, void *ctx)
{
    struct session_binds *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    pthread_mutex_init(&b->lock, NULL);
    b->alive = alive;
    b->ctx = ctx;
    return b;
}

void session_binds_free(struct session_binds *b)
{
    if (!b)
        return;
    while (b->list) {
        struct binding *e = b->list;
        b->list = e->next;
        binding_free(e);
    }
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Drops the bindings of sessions that ended (called with the lock held). */
static void prune(struct session_binds *b)
{
    for (struct binding **pp = &b->list; *pp;) {
        struct binding *e = *pp;
        if (b->alive(b->ctx, e->session_id)) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        binding_free(e);
        b->count--;
    }
}

static bool same_owner(const struct binding *e, const struct session_owner *o)
{
    return strcmp(e->runtime_id, o->runtime_id ? o->runtime_id : "") == 0 && strcmp(e->endpoint, o->endpoint ? o->endpoint : "") == 0 &&
           strcmp(e->auth, o->auth ? o->auth : "") == 0 && strcmp(e->user, o->user ? o->user : "") == 0;
}

bool session_bind_claim(struct session_binds *b, const char *session_id, const struct session_owner *o)
{
    pthread_mutex_lock(&b->lock);
    struct binding **pp = &b->list, *e = NULL;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->session_id, session_id) == 0) {
            e = *pp;
            break;
        }
    bool ok = true;
    if (e && !same_owner(e, o)) {
        if (b->alive(b->ctx, session_id)) {
            ok = false;                       /* bound to someone else, and still running */
        } else {
            *pp = e->next;                    /* stale: the id is free again */
            binding_free(e);
            b->count--;
            e = NULL;
        }
    }
    if (ok && !e) {
        if (++b->claims % 64 == 0 || b->count > 4096)
            prune(b);
        e = calloc(1, sizeof *e);
        if (!e)
            abort();
        e->session_id = dup_s(session_id);
        e->runtime_id = dup_s(o->runtime_id);
        e->auth = dup_s(o->auth);
        e->user = dup_s(o->user);
        e->endpoint = dup_s(o->endpoint);
        e->next = b->list;
        b->list = e;
        b->count++;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}
