/* frontend/guest_channels.c — one session's guest → host sockets (see guest_channels.h). */
#include "frontend/guest_channels.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/eventfd_util.h"
#include "guest/agentd/guest_ports.h"

enum { CH_CREDENTIALS, CH_EGRESS, CH_API, CH_COUNT };
static const unsigned channel_ports[CH_COUNT] = { HOST_PORT_CREDENTIALS, HOST_PORT_EGRESS, HOST_PORT_API };

/* Connections served at once per session, handshakes included: the egress cap plus a few for
 * credentials; beyond, a connection is refused at accept (nothing read, no thread). Every
 * socket of every one of them (guest side and world side) is tracked, so ending the session
 * always reaches all of them. */
#define EXTRA_CONNECTIONS 16

struct guest_channels {
    const struct guest_channels_config *cfg;
    char session_id[257], runtime_id[128];
    char *role_arn;
    int listen_fd[CH_COUNT];
    char path[CH_COUNT][sizeof(((struct sockaddr_un *)0)->sun_path)];
    int wake_fd;
    pthread_t acceptor;
    bool acceptor_started;
    struct egress_session egress;
    pthread_mutex_t lock;
    pthread_cond_t drained;
    unsigned threads;                     /* connection threads still running */
    int *live;                            /* sockets to shut down when the session ends */
    size_t live_count, live_capacity;
    unsigned max_threads;
    bool closing;
    struct guest_channels *next_open;     /* in the list of open channels */
};

/* Every open guest_channels, so counters() on a session that another thread is ending at the
 * same moment (the health poller's usage samples) never reads freed memory. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct guest_channels *open_head;

struct conn_job {
    struct guest_channels *ch;
    int kind, fd;
};

static void track(void *ctx, int fd, bool add)
{
    struct guest_channels *ch = ctx;
    pthread_mutex_lock(&ch->lock);
    if (add) {
        if (ch->closing)
            shutdown(fd, SHUT_RDWR);
        else if (ch->live_count < ch->live_capacity)    /* sized for every thread's two sockets */
            ch->live[ch->live_count++] = fd;
    } else {
        for (size_t i = 0; i < ch->live_count; i++)
            if (ch->live[i] == fd) {
                ch->live[i] = ch->live[--ch->live_count];
                break;
            }
    }
    pthread_mutex_unlock(&ch->lock);
}

/* `CREDENTIALS\n` (within 10 s) → `OK <n>\n<json>` or `ERR <status> <message>\n` */
static void serve_credentials(struct guest_channels *ch, int fd)
{
    char line[32];
    if (guest_read_line(fd, line, sizeof line, mono_ms() + 10000) != 0 || strcmp(line, "CREDENTIALS") != 0) {
        guest_send_all(fd, "ERR 400 the request is not CREDENTIALS\n", 39);
        return;
    }
    char *body = malloc(CREDENTIALS_MAX_JSON + 1);
    if (!body)
        return;
    int status = role_creds_vend(ch->cfg->creds, ch->role_arn, ch->session_id, body, CREDENTIALS_MAX_JSON + 1);
    char head[600];
    int hl;
    if (status == 200) {
        hl = snprintf(head, sizeof head, "OK %zu\n", strlen(body));
        guest_send_all(fd, head, (size_t)hl);
        guest_send_all(fd, body, strlen(body));
        fprintf(stderr, "silod: credentials vended session=%s runtime=%s role=%s\n", ch->session_id, ch->runtime_id,
                ch->role_arn ? ch->role_arn : "-");
    } else {
        hl = snprintf(head, sizeof head, "ERR %d %.500s\n", status, body);
        guest_send_all(fd, head, (size_t)hl);
        fprintf(stderr, "silod: credentials refused session=%s runtime=%s status=%d reason=\"%s\"\n", ch->session_id,
                ch->runtime_id, status, body);
    }
    explicit_bzero(body, CREDENTIALS_MAX_JSON + 1);
    free(body);
}

static void *connection_thread(void *arg)
{
    struct conn_job *job = arg;
    struct guest_channels *ch = job->ch;
    if (job->kind == CH_CREDENTIALS)
        serve_credentials(ch, job->fd);
    else
        egress_relay_serve(&ch->egress, job->fd);
    track(ch, job->fd, false);
    close(job->fd);
    free(job);
    pthread_mutex_lock(&ch->lock);
    if (--ch->threads == 0)
        pthread_cond_broadcast(&ch->drained);
    pthread_mutex_unlock(&ch->lock);
    return NULL;
}

static void dispatch(struct guest_channels *ch, int kind, int fd)
{
    if (kind == CH_API) {
        ch->cfg->api_connection(ch->cfg->api_ctx, fd, ch->session_id, ch->runtime_id);
        return;
    }
    struct conn_job *job = malloc(sizeof *job);
    pthread_mutex_lock(&ch->lock);
    bool full = ch->threads >= ch->max_threads;
    bool ok = job && !ch->closing && !full;
    if (ok)
        ch->threads++;
    pthread_mutex_unlock(&ch->lock);
    if (!ok) {
        if (full) {
            static const char busy[] = "ERR 429 limit too many connections from this session at once\n";
            guest_send_all(fd, busy, sizeof busy - 1);
        }
        free(job);
        close(fd);
        return;
    }
    *job = (struct conn_job){ ch, kind, fd };
    track(ch, fd, true);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_t t;
    if (pthread_create(&t, &a, connection_thread, job) != 0) {
        track(ch, fd, false);
        close(fd);
        free(job);
        pthread_mutex_lock(&ch->lock);
        if (--ch->threads == 0)
            pthread_cond_broadcast(&ch->drained);
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_attr_destroy(&a);
}

static void *acceptor(void *arg)
{
    struct guest_channels *ch = arg;
    for (;;) {
        struct pollfd p[CH_COUNT + 1];
        int kinds[CH_COUNT], n = 0;
        for (int k = 0; k < CH_COUNT; k++)
            if (ch->listen_fd[k] >= 0) {
                p[n] = (struct pollfd){ .fd = ch->listen_fd[k], .events = POLLIN };
                kinds[n++] = k;
            }
        p[n] = (struct pollfd){ .fd = ch->wake_fd, .events = POLLIN };
        if (poll(p, (nfds_t)n + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (p[n].revents)
            return NULL;
        for (int i = 0; i < n; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            int fd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                dispatch(ch, kinds[i], fd);
        }
    }
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* roleArn and networkConfiguration.networkMode of the version's configuration */
static void read_version_config(struct guest_channels *ch, const char *config_json)
{
    ch->egress.mode = EGRESS_PUBLIC;
    json_object *cfg = config_json ? json_tokener_parse(config_json) : NULL, *v, *net;
    if (cfg && json_object_object_get_ex(cfg, "roleArn", &v) && json_object_is_type(v, json_type_string))
        ch->role_arn = strdup(json_object_get_string(v));
    if (cfg && json_object_object_get_ex(cfg, "networkConfiguration", &net) &&
        json_object_object_get_ex(net, "networkMode", &v) && json_object_is_type(v, json_type_string) &&
        strcmp(json_object_get_string(v), "VPC") == 0)
        ch->egress.mode = EGRESS_VPC;
    json_object_put(cfg);
}

struct guest_channels *guest_channels_open(const struct guest_channels_config *cfg, const char *vsock_path,
                                           const char *session_id, const char *runtime_id,
                                           const char *config_json, char *err, size_t err_len)
{
    struct guest_channels *ch = calloc(1, sizeof *ch);
    if (!ch) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    ch->cfg = cfg;
    snprintf(ch->session_id, sizeof ch->session_id, "%s", session_id);
    snprintf(ch->runtime_id, sizeof ch->runtime_id, "%s", runtime_id);
    pthread_mutex_init(&ch->lock, NULL);
    pthread_cond_init(&ch->drained, NULL);
    read_version_config(ch, config_json);
    unsigned egress_max = cfg->egress && cfg->egress->max_connections_per_session
                          ? cfg->egress->max_connections_per_session : 256;
    ch->max_threads = egress_max + EXTRA_CONNECTIONS;
    ch->live_capacity = 2 * (size_t)ch->max_threads;
    ch->live = calloc(ch->live_capacity, sizeof *ch->live);
    if (!ch->live) {
        snprintf(err, err_len, "out of memory");
        free(ch->role_arn);
        free(ch);
        return NULL;
    }
    ch->egress.cfg = cfg->egress;
    ch->egress.session_id = ch->session_id;
    ch->egress.runtime_id = ch->runtime_id;
    ch->egress.track_fd = track;
    ch->egress.track_ctx = ch;
    ch->wake_fd = eventfd(0, EFD_CLOEXEC);
    const bool wanted[CH_COUNT] = { cfg->creds != NULL, cfg->egress != NULL, cfg->api_connection != NULL };
    for (int k = 0; k < CH_COUNT; k++) {
        ch->listen_fd[k] = -1;
        if (!wanted[k])
            continue;
        int len = snprintf(ch->path[k], sizeof ch->path[k], "%s_%u", vsock_path, channel_ports[k]);
        if (len < 0 || (size_t)len >= sizeof ch->path[k] || (ch->listen_fd[k] = listen_unix(ch->path[k])) < 0) {
            snprintf(err, err_len, "cannot listen on %s_%u: %s", vsock_path, channel_ports[k], strerror(errno));
            ch->path[k][0] = 0;
            guest_channels_close(ch);
            return NULL;
        }
    }
    if (ch->wake_fd < 0 || pthread_create(&ch->acceptor, NULL, acceptor, ch) != 0) {
        snprintf(err, err_len, "cannot start the guest channel thread");
        guest_channels_close(ch);
        return NULL;
    }
    ch->acceptor_started = true;
    pthread_mutex_lock(&open_lock);
    ch->next_open = open_head;
    open_head = ch;
    pthread_mutex_unlock(&open_lock);
    return ch;
}

void guest_channels_counters(struct guest_channels *ch, uint64_t *out, uint64_t *in)
{
    *out = *in = 0;
    pthread_mutex_lock(&open_lock);
    for (struct guest_channels *c = open_head; c; c = c->next_open)
        if (c == ch) {
            *out = atomic_load(&ch->egress.bytes_out);
            *in = atomic_load(&ch->egress.bytes_in);
        }
    pthread_mutex_unlock(&open_lock);
}

void guest_channels_close(struct guest_channels *ch)
{
    if (!ch)
        return;
    pthread_mutex_lock(&open_lock);
    for (struct guest_channels **c = &open_head; *c; c = &(*c)->next_open)
        if (*c == ch) {
            *c = ch->next_open;
            break;
        }
    pthread_mutex_unlock(&open_lock);
    if (ch->acceptor_started) {
        eventfd_signal(ch->wake_fd);
        pthread_join(ch->acceptor, NULL);
    }
    for (int k = 0; k < CH_COUNT; k++) {
        if (ch->listen_fd[k] >= 0)
            close(ch->listen_fd[k]);
        if (ch->path[k][0])
            unlink(ch->path[k]);
    }
    pthread_mutex_lock(&ch->lock);
    ch->closing = true;
    for (size_t i = 0; i < ch->live_count; i++)
        shutdown(ch->live[i], SHUT_RDWR);
    /* connection threads end promptly once their sockets are shut down; a credential process
     * still running is bounded by its own timeout */
    while (ch->threads > 0)
        pthread_cond_wait(&ch->drained, &ch->lock);
    pthread_mutex_unlock(&ch->lock);
    if (ch->wake_fd >= 0)
        close(ch->wake_fd);
    pthread_mutex_destroy(&ch->lock);
    pthread_cond_destroy(&ch->drained);
    free(ch->role_arn);
    free(ch->live);
    free(ch);
}
