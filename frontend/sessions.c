/* frontend/sessions.c — the session table and its timers (see sessions.h). */
#include "frontend/sessions.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "frontend/aws_error.h"

/* The idle upstream connections of one session for one guest port (see sessions.h): a stack,
 * the most recently given on top. */
struct conn_pool {
    int fd[SESSION_CONN_IDLE_MAX];
    int64_t given_ms[SESSION_CONN_IDLE_MAX];
    unsigned n;
};

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
    int64_t started_unix_ms;
    bool busy;
    int64_t last_ping_update;
    unsigned ping_failures;   /* consecutive */
    struct vm_usage sample;   /* the last usage sample (sessions_sample_usage) */
    enum session_end_reason end_reason;
    int64_t ended_ms;
    struct session_vm vm;
    struct conn_pool pools[3];   /* idle connections: [0] guest port 8080, [1] 8000, [2] 9000 */
    struct session *next;
};

struct sessions {
    struct sessions_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t started;
    struct session *head;
    unsigned count;
    unsigned guest_mib;           /* sessions' guest memory plus reservations */
    unsigned starting_requests;   /* requests waiting for a VM to start */
    bool draining;
};

static const char *const end_reason_names[SESSION_END_REASONS] = {
    "stopped", "idle", "max_lifetime", "unhealthy", "vmm_exited", "runtime_deleted", "shutdown",
    "start_failed", "agent_exited", "memory_limit",
};

const char *session_end_reason_name(enum session_end_reason r)
{
    return (unsigned)r < SESSION_END_REASONS ? end_reason_names[r] : "unknown";
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(struct sessions *t)
{
    if (t->cfg.now_ms)
        return t->cfg.now_ms(t->cfg.clock_ctx);
    return mono_ms();
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

static struct conn_pool *pool_of(struct session *s, unsigned port)
{
    return port == SESSION_CONN_PORT_HTTP  ? &s->pools[0]
           : port == SESSION_CONN_PORT_MCP ? &s->pools[1]
           : port == SESSION_CONN_PORT_A2A ? &s->pools[2]
                                           : NULL;
}

/* Closes every idle connection of s (lock held; closing an idle socket does not block). */
static void close_pools(struct session *s)
{
    for (size_t p = 0; p < sizeof s->pools / sizeof s->pools[0]; p++) {
        for (unsigned i = 0; i < s->pools[p].n; i++)
            close(s->pools[p].fd[i]);
        s->pools[p].n = 0;
    }
}

/* Removes s from the table (called with the lock held); the reason is kept for its record.
 * Its idle agent connections are closed now: an ended session hands none out again. */
static void unlink_session(struct sessions *t, struct session *s, enum session_end_reason reason)
{
    for (struct session **p = &t->head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            t->count--;
            t->guest_mib -= s->guest_mib;
            s->ended = true;
            s->end_reason = reason;
            s->ended_ms = now_ms(t);
            close_pools(s);
            return;
        }
}

static void drop_ref(struct session *s)
{
    if (--s->refs == 0) {
        close_pools(s);       /* none left by now (unlink closed them); kept for safety */
        free(s);
    }
}

/* Closes the idle connections of s given SESSION_CONN_MAX_IDLE_MS or more ago (lock held). */
static void prune_pools(struct session *s, int64_t now)
{
    for (size_t p = 0; p < sizeof s->pools / sizeof s->pools[0]; p++) {
        struct conn_pool *c = &s->pools[p];
        unsigned kept = 0;
        for (unsigned i = 0; i < c->n; i++) {
            if (now - c->given_ms[i] >= SESSION_CONN_MAX_IDLE_MS) {
                close(c->fd[i]);
                continue;
            }
            c->fd[kept] = c->fd[i];
            c->given_ms[kept++] = c->given_ms[i];
        }
        c->n = kept;
    }
}

int session_conn_take(struct sessions *t, struct session *s, unsigned port)
{
    int fd = -1;
    pthread_mutex_lock(&t->lock);
    struct conn_pool *p = pool_of(s, port);
    int64_t now = now_ms(t);
    while (p && !s->ended && p->n > 0 && fd < 0) {
        p->n--;
        if (now - p->given_ms[p->n] >= SESSION_CONN_MAX_IDLE_MS)
            close(p->fd[p->n]);   /* idle too long: the agent may be closing it right now */
        else
            fd = p->fd[p->n];
    }
    pthread_mutex_unlock(&t->lock);
    return fd;
}

void session_conn_give(struct sessions *t, struct session *s, unsigned port, int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&t->lock);
    struct conn_pool *p = pool_of(s, port);
    bool kept = p && !s->ended && p->n < SESSION_CONN_IDLE_MAX;
    if (kept) {
        p->fd[p->n] = fd;
        p->given_ms[p->n] = now_ms(t);
        p->n++;
    }
    pthread_mutex_unlock(&t->lock);
    if (!kept)
        close(fd);
}

unsigned session_conn_idle(struct sessions *t, struct session *s, unsigned port)
{
    pthread_mutex_lock(&t->lock);
    struct conn_pool *p = pool_of(s, port);
    unsigned n = p && !s->ended ? p->n : 0;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* The second half of ending an unlinked session, without the table lock: measure the VM, stop
 * it (the VMM wipes guest memory), and hand over the usage record. had_vm is false when no VM
 * runs (the launch failed). The fields read here no longer change once s is unlinked. */
static void finish_end(struct sessions *t, struct session *s, bool had_vm, struct vm_usage sample)
{
    struct session_vm vm = s->vm;
    struct vm_usage u = { 0 };
    bool measured = false;
    if (had_vm && t->cfg.launcher.usage)
        measured = t->cfg.launcher.usage(t->cfg.launcher.ctx, &vm, &u) && (u.vcpu_threads > 0 || u.from_cgroup);
    /* a VMM that died after its cgroup's OOM killer struck ended by its memory limit, whichever
     * path noticed the death first (the reaper: vmm_exited; a failed request: agent_exited; the
     * ping poller: unhealthy) */
    if ((s->end_reason == SESSION_END_VMM_EXITED || s->end_reason == SESSION_END_AGENT_EXITED ||
         s->end_reason == SESSION_END_UNHEALTHY) && u.oom_kills > 0)
        s->end_reason = SESSION_END_MEMORY_LIMIT;
    if (!measured) {
        if (u.mem_peak_kib < sample.mem_peak_kib)
            u.mem_peak_kib = sample.mem_peak_kib;
        u.vcpu_ms = sample.vcpu_ms;
    }
    vm.wait_status = -1;
    if (had_vm && t->cfg.launcher.stop)
        t->cfg.launcher.stop(t->cfg.launcher.ctx, &vm);
    if (vm.wait_status != -1 && WIFSIGNALED(vm.wait_status) && WTERMSIG(vm.wait_status) == SIGSYS)
        /* silo-vmm's own line just before (its stderr is ours) names the thread and the call */
        fprintf(stderr, "silod: session %s: silo-vmm killed for a forbidden system call (seccomp); see its log\n",
                s->id);
    if (t->cfg.on_end) {
        int64_t wall = s->ended_ms - s->started_ms;
        struct session_usage rec = {
            s->id, s->runtime_id, s->version, s->started_unix_ms, unix_ms(),
            wall, u.vcpu_ms, u.mem_peak_kib, s->guest_mib, measured, s->end_reason,
            u.egress_out, u.egress_in,
        };
        t->cfg.on_end(t->cfg.on_end_ctx, &rec);
    }
}

/* Ends s (which has a VM: not STARTING) for reason; called with the lock held, drops it while
 * the VM stops. Returns with the lock held; the table's reference is gone. */
static void end_session(struct sessions *t, struct session *s, enum session_end_reason reason)
{
    unlink_session(t, s, reason);
    struct vm_usage sample = s->sample;
    pthread_mutex_unlock(&t->lock);
    finish_end(t, s, !s->start_failed, sample);
    pthread_mutex_lock(&t->lock);
    drop_ref(s);      /* the table's reference */
}

/* Ending several sessions at once: each victim is unlinked under the lock, then all of their
 * VMs are stopped in parallel (a stop may wait up to 15 s for a VMM), without the lock. */
struct ending {
    struct sessions *t;
    struct session *s;
    struct vm_usage sample;
    pthread_t thread;
    bool threaded;
};

static void *ending_thread(void *p)
{
    struct ending *e = p;
    finish_end(e->t, e->s, !e->s->start_failed, e->sample);
    return NULL;
}

/* victims[0..n) are in the table and not STARTING; called and returns with the lock held. */
static void end_sessions(struct sessions *t, struct session **victims, const enum session_end_reason *reasons,
                         size_t n)
{
    if (n == 1) {
        end_session(t, victims[0], reasons[0]);
        return;
    }
    struct ending *e = calloc(n, sizeof *e);
    if (!e)
        abort();
    for (size_t i = 0; i < n; i++) {
        unlink_session(t, victims[i], reasons[i]);
        e[i] = (struct ending){ t, victims[i], victims[i]->sample, 0, false };
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++)
        e[i].threaded = pthread_create(&e[i].thread, NULL, ending_thread, &e[i]) == 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].threaded)
            pthread_join(e[i].thread, NULL);
        else
            ending_thread(&e[i]);
    }
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++)
        drop_ref(victims[i]);
    free(e);
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
        t->starting_requests++;
        while (s->state == SESSION_STARTING && !s->start_failed && !s->ended)
            pthread_cond_wait(&t->started, &t->lock);
        t->starting_requests--;
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
    if (t->draining) {
        pthread_mutex_unlock(&t->lock);
        *err_type = AWS_SERVICE_UNAVAILABLE;
        snprintf(msg, msg_len, "this host is shutting down and starts no new sessions; retry on another host");
        return NULL;
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
    s->started_unix_ms = unix_ms();
    s->next = t->head;
    t->head = s;
    t->count++;
    t->guest_mib += s->guest_mib;
    t->starting_requests++;
    pthread_mutex_unlock(&t->lock);

    struct session_spec spec = { req->session_id, req->runtime_id, req->version, req->config_json,
                                 req->guest_mib };
    struct session_vm vm = { 0 };
    char err[256] = "";
    int rc = t->cfg.launcher.start(t->cfg.launcher.ctx, &spec, &vm, err, sizeof err);

    pthread_mutex_lock(&t->lock);
    t->starting_requests--;
    if (rc != 0 || s->ended) {
        /* the launch failed, or the session was ended while starting (its ender left the VM
         * and the usage record to us) */
        bool ours = !s->ended;     /* else the ender already dropped the table's reference */
        if (ours)
            unlink_session(t, s, SESSION_END_START_FAILED);
        s->start_failed = rc != 0;
        s->vm = vm;
        snprintf(s->start_error, sizeof s->start_error, "microVM did not start: %.250s",
                 rc ? err : "session stopped");
        snprintf(msg, msg_len, "%s", s->start_error);
        s->state = SESSION_ACTIVE;     /* no longer starting: waiters see ended */
        pthread_cond_broadcast(&t->started);
        pthread_mutex_unlock(&t->lock);
        finish_end(t, s, rc == 0, (struct vm_usage){ 0 });
        pthread_mutex_lock(&t->lock);
        s->start_failed = true;
        s->refs -= ours ? 1u : 0u;   /* the table's reference (this request's is still held) */
        drop_ref(s);                 /* this request's */
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
const char *session_id_of(const struct session *s) { return s->id; }

/* HealthyBusy / time_of_last_update bookkeeping; called with the lock held. */
static void note_ping(struct sessions *t, struct session *s, bool busy, int64_t tolu)
{
    s->busy = busy;
    s->ping_failures = 0;
    if (tolu > s->last_ping_update) {
        if (s->last_ping_update)
            s->last_activity_ms = now_ms(t);    /* it moved forward: activity */
        s->last_ping_update = tolu;
    }
}

void sessions_report_ping(struct sessions *t, const char *session_id, bool busy, int64_t tolu)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, session_id);
    if (s)
        note_ping(t, s, busy, tolu);
    pthread_mutex_unlock(&t->lock);
}

static bool vm_alive(struct sessions *t, const struct session *s)
{
    return !t->cfg.launcher.alive || t->cfg.launcher.alive(t->cfg.launcher.ctx, &s->vm);
}

void sessions_snapshot(struct sessions *t, struct session_snapshot *out)
{
    pthread_mutex_lock(&t->lock);
    out->count = 0;
    out->refs = calloc(t->count ? t->count : 1, sizeof *out->refs);
    if (!out->refs)
        abort();
    for (struct session *s = t->head; s; s = s->next)
        if (s->state != SESSION_STARTING) {
            s->refs++;
            out->refs[out->count++] = s;
        }
    pthread_mutex_unlock(&t->lock);
}

void sessions_snapshot_release(struct sessions *t, struct session_snapshot *snap)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < snap->count; i++)
        drop_ref(snap->refs[i]);
    pthread_mutex_unlock(&t->lock);
    free(snap->refs);
    snap->refs = NULL;
    snap->count = 0;
}

bool sessions_ping_result(struct sessions *t, struct session *s, enum ping_result r, int64_t tolu)
{
    bool ended = false;
    pthread_mutex_lock(&t->lock);
    if (!s->ended) {
        if (r == PING_HEALTHY || r == PING_HEALTHY_BUSY) {
            note_ping(t, s, r == PING_HEALTHY_BUSY, tolu);
        } else if (r == PING_UNHEALTHY) {
            ended = true;
        } else if (s->in_flight == 0 && vm_alive(t, s)) {
            ended = ++s->ping_failures >= SESSION_PING_FAILURES;
        }
        if (ended) {
            s->refs++;        /* the caller's reference must outlive end_session's drop */
            end_session(t, s, SESSION_END_UNHEALTHY);
            drop_ref(s);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return ended;
}

void sessions_sample_usage(struct sessions *t, struct session *s)
{
    if (!t->cfg.launcher.usage)
        return;
    pthread_mutex_lock(&t->lock);
    bool skip = s->ended || s->state == SESSION_STARTING;
    struct session_vm vm = s->vm;
    pthread_mutex_unlock(&t->lock);
    struct vm_usage u = { 0 };
    if (skip || !t->cfg.launcher.usage(t->cfg.launcher.ctx, &vm, &u))
        return;
    pthread_mutex_lock(&t->lock);
    if (!s->ended) {
        if (u.vcpu_threads > 0)
            s->sample.vcpu_ms = u.vcpu_ms;
        if (u.mem_peak_kib > s->sample.mem_peak_kib)
            s->sample.mem_peak_kib = u.mem_peak_kib;
    }
    pthread_mutex_unlock(&t->lock);
}

bool sessions_check_vm(struct sessions *t, struct session *s)
{
    pthread_mutex_lock(&t->lock);
    bool alive = s->ended || s->state == SESSION_STARTING || vm_alive(t, s);
    if (!alive) {
        s->refs++;            /* end_session drops the table's reference; ours stays */
        end_session(t, s, SESSION_END_VMM_EXITED);
        drop_ref(s);
    }
    pthread_mutex_unlock(&t->lock);
    return alive;
}

bool sessions_stop(struct sessions *t, const char *runtime_id, const char *session_id,
                   enum session_end_reason reason)
{
    pthread_mutex_lock(&t->lock);
    struct session *s = find(t, session_id);
    if (s && runtime_id && strcmp(s->runtime_id, runtime_id) != 0)
        s = NULL;
    if (s && s->state != SESSION_STARTING) {
        end_session(t, s, reason);
    } else if (s) {
        /* the starter sees ended, stops the VM and writes the record itself */
        unlink_session(t, s, reason);
        drop_ref(s);
    }
    pthread_mutex_unlock(&t->lock);
    return s != NULL;
}

/* Collects the sessions pick() chooses (lock held) and ends them all at once. */
static unsigned end_matching(struct sessions *t, bool (*pick)(struct sessions *, struct session *, void *,
                                                              enum session_end_reason *),
                             void *arg)
{
    size_t n = 0, cap = t->count ? t->count : 1;
    struct session **victims = calloc(cap, sizeof *victims);
    enum session_end_reason *reasons = calloc(cap, sizeof *reasons);
    if (!victims || !reasons)
        abort();
    for (struct session *s = t->head; s && n < cap; s = s->next)
        if (pick(t, s, arg, &reasons[n]))
            victims[n++] = s;
    if (n)
        end_sessions(t, victims, reasons, n);
    free(victims);
    free(reasons);
    return (unsigned)n;
}

static bool of_runtime(struct sessions *t, struct session *s, void *runtime_id, enum session_end_reason *why)
{
    (void)t;
    *why = SESSION_END_RUNTIME_DELETED;
    return s->state != SESSION_STARTING && strcmp(s->runtime_id, runtime_id) == 0;
}

unsigned sessions_stop_runtime(struct sessions *t, const char *runtime_id)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = end_matching(t, of_runtime, (void *)runtime_id);
    pthread_mutex_unlock(&t->lock);
    return n;
}

static bool expired(struct sessions *t, struct session *s, void *now_p, enum session_end_reason *why)
{
    int64_t now = *(int64_t *)now_p;
    if (s->state == SESSION_STARTING)
        return false;
    if (!vm_alive(t, s))
        *why = SESSION_END_VMM_EXITED;
    else if (now - s->started_ms >= s->max_lifetime_ms)
        *why = SESSION_END_MAX_LIFETIME;
    else if (s->state == SESSION_IDLE && !s->busy && now - s->last_activity_ms >= s->idle_timeout_ms)
        *why = SESSION_END_IDLE;
    else
        return false;
    return true;
}

unsigned sessions_reap(struct sessions *t)
{
    pthread_mutex_lock(&t->lock);
    int64_t now = now_ms(t);
    for (struct session *s = t->head; s; s = s->next)
        prune_pools(s, now);      /* idle agent connections do not outlive their usefulness */
    unsigned n = end_matching(t, expired, &now);
    pthread_mutex_unlock(&t->lock);
    return n;
}

void sessions_begin_drain(struct sessions *t)
{
    pthread_mutex_lock(&t->lock);
    t->draining = true;
    pthread_mutex_unlock(&t->lock);
}

unsigned sessions_in_flight(struct sessions *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->starting_requests;
    for (struct session *s = t->head; s; s = s->next)
        n += s->in_flight;
    pthread_mutex_unlock(&t->lock);
    return n;
}

static bool any(struct sessions *t, struct session *s, void *reason, enum session_end_reason *why)
{
    (void)t;
    *why = *(enum session_end_reason *)reason;
    return s->state != SESSION_STARTING;
}

unsigned sessions_end_all(struct sessions *t, enum session_end_reason reason)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = 0;
    /* those still starting: unlinked now; their starter stops the VM once the launch returns */
    for (struct session *s = t->head, *next; s; s = next) {
        next = s->next;
        if (s->state == SESSION_STARTING) {
            unlink_session(t, s, reason);
            drop_ref(s);
            n++;
        }
    }
    n += end_matching(t, any, &reason);
    pthread_mutex_unlock(&t->lock);
    return n;
}

bool sessions_reserve_guest_mib(struct sessions *t, unsigned mib)
{
    pthread_mutex_lock(&t->lock);
    bool ok = !t->draining && mib <= t->cfg.max_guest_mib && t->guest_mib <= t->cfg.max_guest_mib - mib;
    if (ok)
        t->guest_mib += mib;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void sessions_release_guest_mib(struct sessions *t, unsigned mib)
{
    pthread_mutex_lock(&t->lock);
    t->guest_mib = mib <= t->guest_mib ? t->guest_mib - mib : 0;
    pthread_mutex_unlock(&t->lock);
}

unsigned sessions_guest_mib(struct sessions *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->guest_mib;
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
    sessions_end_all(t, SESSION_END_SHUTDOWN);
    pthread_cond_destroy(&t->started);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
