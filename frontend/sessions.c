/* frontend/sessions.c — the session table and its timers (see sessions.h). */
#include "frontend/sessions.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "frontend/aws_error.h"

struct session {
    char id[SESSION_ID_MAX + 1];
    char runtime_id[160];
    int version;
    enum session_state state;
    unsigned in_flight;
    unsigned refs;            /* in-flight requests + the table's own reference */
    bool ended;               /* removed from the table; VM stopped */
    bool start_failed;
    char start_error[320];
    unsigned guest_mib;
    int64_t started_ms, last_activity_ms;
    int idle_timeout_ms, max_lifetime_ms;
    bool busy;
    int64_t last_ping_update;
    struct session_vm vm;
    struct session *next;
};

struct sessions {
    struct sessions_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t started;
    struct session *head;
    unsigned count;
    unsigned guest_mib;
};

static int64_t now_ms(struct sessions *t)
{
    if (t->cfg.now_ms)
        return t->cfg.now_ms(t->cfg.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool session_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < SESSION_ID_MIN || n > SESSION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~')
            return false;
    return true;
}

void session_id_generate(char out[37])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        abort();
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

struct sessions *sessions_new(const struct sessions_config *cfg)
{
    struct sessions *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->cfg = *cfg;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->started, NULL);
    return t;
}

static struct session *find(struct sessions *t, const char *id)
{
    for (struct session *s = t->head; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static void unlink_session(struct sessions *t, struct session *s)
{
    for (struct session **p = &t->head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            t->count--;
            t->guest_mib -= s->guest_mib;
            s->ended = true;
            return;
        }
}

static void drop_ref(struct session *s)
{
    if (--s->refs == 0)
        free(s);
}

/* Removes s from the table and stops its VM; called with the lock held, drops it while the
 * VM stops. Returns with the lock held. */
static void end_session(struct sessions *t, struct session *s)
{
    unlink_session(t, s);
    struct session_vm vm = s->vm;
    bool had_vm = !s->start_failed && s->state != SESSION_STARTING;
    pthread_mutex_unlock(&t->lock);
    if (had_vm && t->cfg.launcher.stop)
        t->cfg.launcher.stop(t->cfg.launcher.ctx, &vm);
    pthread_mutex_lock(&t->lock);
    drop_ref(s);      /* the table's reference */
}

struct session *sessions_acquire(struct sessions *t, const struct session_acquire *req,
                                 const char **err_type, char *msg, size_t msg_len)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, req->session_id);
    if (s) {
        if (strcmp(s->runtime_id, req->runtime_id) != 0) {
            pthread_mutex_unlock(&t->lock);
            *err_type = AWS_CONFLICT;
            snprintf(msg, msg_len, "session id is in use by another agent runtime");
            return NULL;
        }
        s->refs++;
        while (s->state == SESSION_STARTING && !s->start_failed && !s->ended)
            pthread_cond_wait(&t->started, &t->lock);
        if (s->start_failed || s->ended) {
            snprintf(msg, msg_len, "%s", s->start_failed ? s->start_error : "session ended");
            drop_ref(s);
            pthread_mutex_unlock(&t->lock);
            *err_type = AWS_RUNTIME_CLIENT_ERROR;
            return NULL;
        }
        s->in_flight++;
        s->state = SESSION_ACTIVE;
        s->last_activity_ms = now_ms(t);
        pthread_mutex_unlock(&t->lock);
        return s;
    }
    if (t->count >= t->cfg.max_sessions) {
        pthread_mutex_unlock(&t->lock);
        *err_type = AWS_THROTTLING;
        snprintf(msg, msg_len, "this host runs its maximum of %u sessions", t->cfg.max_sessions);
        return NULL;
    }
    if (t->guest_mib + req->guest_mib > t->cfg.max_guest_mib) {
        pthread_mutex_unlock(&t->lock);
        *err_type = AWS_QUOTA;
        snprintf(msg, msg_len, "not enough guest memory left on this host for another session");
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        abort();
    snprintf(s->id, sizeof s->id, "%s", req->session_id);
    snprintf(s->runtime_id, sizeof s->runtime_id, "%s", req->runtime_id);
    s->version = req->version;
    s->state = SESSION_STARTING;
    s->refs = 2;          /* the table + this request */
    s->guest_mib = req->guest_mib;
    s->idle_timeout_ms = req->idle_timeout_s * 1000;
    s->max_lifetime_ms = req->max_lifetime_s * 1000;
    s->started_ms = s->last_activity_ms = now_ms(t);
    s->next = t->head;
    t->head = s;
    t->count++;
    t->guest_mib += s->guest_mib;
    pthread_mutex_unlock(&t->lock);

    struct session_spec spec = { req->session_id, req->runtime_id, req->version, req->config_json,
                                 req->guest_mib };
    struct session_vm vm = { 0 };
    char err[256] = "";
    int rc = t->cfg.launcher.start(t->cfg.launcher.ctx, &spec, &vm, err, sizeof err);

    pthread_mutex_lock(&t->lock);
    if (rc != 0 || s->ended) {
        if (rc == 0 && t->cfg.launcher.stop) {     /* stopped while starting */
            pthread_mutex_unlock(&t->lock);
            t->cfg.launcher.stop(t->cfg.launcher.ctx, &vm);
            pthread_mutex_lock(&t->lock);
        }
        s->start_failed = true;
        snprintf(s->start_error, sizeof s->start_error, "microVM did not start: %.250s",
                 rc ? err : "session stopped");
        snprintf(msg, msg_len, "%s", s->start_error);
        if (!s->ended)
            end_session(t, s);
        pthread_cond_broadcast(&t->started);
        drop_ref(s);
        pthread_mutex_unlock(&t->lock);
        *err_type = AWS_RUNTIME_CLIENT_ERROR;
        return NULL;
    }
    s->vm = vm;
    s->state = SESSION_ACTIVE;
    s->in_flight = 1;
    s->last_activity_ms = now_ms(t);
    pthread_cond_broadcast(&t->started);
    pthread_mutex_unlock(&t->lock);
    return s;
}

void sessions_release(struct sessions *t, struct session *s)
{
    pthread_mutex_lock(&t->lock);
    if (s->in_flight && --s->in_flight == 0 && !s->ended) {
        s->state = SESSION_IDLE;
        s->last_activity_ms = now_ms(t);
    }
    drop_ref(s);
    pthread_mutex_unlock(&t->lock);
}

const struct session_vm *session_vm(const struct session *s) { return &s->vm; }
int session_version(const struct session *s) { return s->version; }

void sessions_report_ping(struct sessions *t, const char *session_id, bool busy, int64_t tolu)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, session_id);
    if (s) {
        s->busy = busy;
        if (tolu > s->last_ping_update) {
            if (s->last_ping_update)
                s->last_activity_ms = now_ms(t);    /* it moved forward: activity */
            s->last_ping_update = tolu;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

static bool vm_alive(struct sessions *t, const struct session *s)
{
    return !t->cfg.launcher.alive || t->cfg.launcher.alive(t->cfg.launcher.ctx, &s->vm);
}

bool sessions_check_vm(struct sessions *t, struct session *s)
{
    pthread_mutex_lock(&t->lock);
    bool alive = s->ended || s->state == SESSION_STARTING || vm_alive(t, s);
    if (!alive) {
        s->refs++;            /* end_session drops the table's reference; ours stays */
        end_session(t, s);
        drop_ref(s);
    }
    pthread_mutex_unlock(&t->lock);
    return alive;
}

bool sessions_stop(struct sessions *t, const char *runtime_id, const char *session_id)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, session_id);
    if (s && runtime_id && strcmp(s->runtime_id, runtime_id) != 0)
        s = NULL;
    if (s && s->state != SESSION_STARTING) {
        end_session(t, s);
    } else if (s) {
        unlink_session(t, s);    /* the starter sees ended and stops the VM itself */
        drop_ref(s);
    }
    pthread_mutex_unlock(&t->lock);
    return s != NULL;
}

unsigned sessions_stop_runtime(struct sessions *t, const char *runtime_id)
{
    unsigned n = 0;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        struct session *s = t->head;
        while (s && (strcmp(s->runtime_id, runtime_id) != 0 || s->state == SESSION_STARTING))
            s = s->next;
        if (!s)
            break;
        end_session(t, s);
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

unsigned sessions_reap(struct sessions *t)
{
    unsigned n = 0;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        int64_t now = now_ms(t);
        struct session *victim = NULL;
        for (struct session *s = t->head; s && !victim; s = s->next) {
            if (s->state == SESSION_STARTING)
                continue;
            bool too_old = now - s->started_ms >= s->max_lifetime_ms;
            bool idle = s->state == SESSION_IDLE && !s->busy &&
                        now - s->last_activity_ms >= s->idle_timeout_ms;
            if (too_old || idle || !vm_alive(t, s))
                victim = s;
        }
        if (!victim)
            break;
        end_session(t, victim);
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

unsigned sessions_count(struct sessions *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void sessions_count_by_state(struct sessions *t, unsigned out[3])
{
    out[0] = out[1] = out[2] = 0;
    pthread_mutex_lock(&t->lock);
    for (struct session *s = t->head; s; s = s->next)
        out[s->state]++;
    pthread_mutex_unlock(&t->lock);
}

int sessions_state(struct sessions *t, const char *session_id)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, session_id);
    int st = s ? (int)s->state : -1;
    pthread_mutex_unlock(&t->lock);
    return st;
}

void sessions_free(struct sessions *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    while (t->head)
        end_session(t, t->head);
    pthread_mutex_unlock(&t->lock);
    pthread_cond_destroy(&t->started);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
