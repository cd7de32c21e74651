/* frontend/ping_poller.c — the /ping health-polling thread (see ping_poller.h). */
#include "frontend/ping_poller.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "frontend/agent_http.h"
#include "frontend/microvm.h"

enum ping_result ping_parse(int http_status, const char *body, size_t len, int64_t *tolu)
{
    *tolu = 0;
    if (http_status != 200 || len == 0 || len > PING_BODY_MAX)
        return PING_FAILED;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return PING_FAILED;
    json_object *o = json_tokener_parse_ex(tok, body, (int)len), *st, *tu;
    bool complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    enum ping_result r = PING_FAILED;
    if (complete && o && json_object_is_type(o, json_type_object) &&
        json_object_object_get_ex(o, "status", &st) && json_object_is_type(st, json_type_string)) {
        const char *s = json_object_get_string(st);
        r = strcmp(s, "Healthy") == 0       ? PING_HEALTHY
            : strcmp(s, "HealthyBusy") == 0 ? PING_HEALTHY_BUSY
            : strcmp(s, "Unhealthy") == 0   ? PING_UNHEALTHY
                                            : PING_FAILED;
        if (r != PING_FAILED && json_object_object_get_ex(o, "time_of_last_update", &tu) &&
            (json_object_is_type(tu, json_type_int) || json_object_is_type(tu, json_type_double))) {
            double secs = json_object_get_double(tu);
            if (secs > 0 && secs < 1e12)
                *tolu = (int64_t)(secs * 1000.0);
        }
    }
    json_object_put(o);
    return r;
}

enum ping_result ping_agent(const char *uds_path, int timeout_ms, int64_t *tolu)
{
    *tolu = 0;
    int fd = microvm_connect(uds_path, GUEST_PORT_HTTP, timeout_ms);
    if (fd < 0)
        return PING_FAILED;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static const char req[] = "GET /ping HTTP/1.1\r\nHost: agent\r\nAccept: application/json\r\n"
                              "Connection: close\r\n\r\n";
    enum ping_result r = PING_FAILED;
    struct agent_reader *rd = malloc(sizeof *rd);
    struct agent_head h = { 0 };
    if (rd && write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        agent_reader_init(rd, fd);
        if (agent_read_head(rd, &h)) {
            char body[PING_BODY_MAX + 1];
            size_t n = 0;
            ssize_t k = -1;
            while (n < sizeof body && (k = agent_read_body(rd, body + n, sizeof body - n)) > 0)
                n += (size_t)k;
            if (k == 0 || n == sizeof body)     /* the whole answer, or too long (→ failed) */
                r = ping_parse(h.status, body, n, tolu);
        }
    }
    free(rd);
    close(fd);
    return r;
}

static const char *const result_names[] = { "healthy", "healthy_busy", "unhealthy", "failed" };

unsigned ping_poller_pass(struct sessions *t, int timeout_ms)
{
    struct session_snapshot snap;
    sessions_snapshot(t, &snap);
    unsigned ended = 0;
    for (size_t i = 0; i < snap.count; i++) {
        struct session *s = snap.refs[i];
        sessions_sample_usage(t, s);
        const struct session_vm *vm = session_vm(s);
        if (vm->no_ping)
            continue;
        int64_t tolu;
        enum ping_result r = ping_agent(vm->vsock_path, timeout_ms, &tolu);
        if (sessions_ping_result(t, s, r, tolu)) {
            fprintf(stderr, "silod: ping session=%s result=%s: the agent is unhealthy, session ended\n",
                    session_id_of(s), result_names[r]);
            ended++;
        }
    }
    sessions_snapshot_release(t, &snap);
    return ended;
}

struct ping_poller {
    struct sessions *t;
    int interval_s, timeout_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

static void *poll_loop(void *p)
{
    struct ping_poller *pp = p;
    pthread_mutex_lock(&pp->lock);
    while (!pp->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += pp->interval_s;
        while (!pp->stop && pthread_cond_timedwait(&pp->wake, &pp->lock, &until) != ETIMEDOUT)
            ;
        if (pp->stop)
            break;
        pthread_mutex_unlock(&pp->lock);
        ping_poller_pass(pp->t, pp->timeout_ms);
        pthread_mutex_lock(&pp->lock);
    }
    pthread_mutex_unlock(&pp->lock);
    return NULL;
}

struct ping_poller *ping_poller_start(struct sessions *t, int interval_s, int timeout_ms)
{
    struct ping_poller *pp = calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->t = t;
    pp->interval_s = interval_s < 1 ? 1 : interval_s;
    pp->timeout_ms = timeout_ms < 100 ? 100 : timeout_ms;
    pthread_mutex_init(&pp->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pp->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&pp->thread, NULL, poll_loop, pp) != 0) {
        pthread_cond_destroy(&pp->wake);
        pthread_mutex_destroy(&pp->lock);
        free(pp);
        return NULL;
    }
    return pp;
}

void ping_poller_stop(struct ping_poller *pp)
{
    if (!pp)
        return;
    pthread_mutex_lock(&pp->lock);
    pp->stop = true;
    pthread_cond_signal(&pp->wake);
    pthread_mutex_unlock(&pp->lock);
    pthread_join(pp->thread, NULL);
    pthread_cond_destroy(&pp->wake);
    pthread_mutex_destroy(&pp->lock);
    free(pp);
}
