/* frontend/ws_relay.c — the WebSocket byte relay between a client and its agent, and the
 * RFC 6455 key arithmetic (see ws_relay.h). */
#include "frontend/ws_relay.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/mono_time.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_RELAYS_MAX_TRACKED 4096

void ws_accept_for_key(const char *key, char out[WS_KEY_ACCEPT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha1(), NULL) || !EVP_DigestUpdate(md, key, strlen(key)) ||
        !EVP_DigestUpdate(md, WS_GUID, strlen(WS_GUID)) || !EVP_DigestFinal_ex(md, digest, &n) || n != 20)
        abort();
    EVP_MD_CTX_free(md);
    EVP_EncodeBlock((unsigned char *)out, digest, 20);   /* 28 characters and a NUL */
}

bool ws_key_valid(const char *key)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0 || strspn(key, b64) != 22)
        return false;
    /* 16 bytes end in 4 bits of the 22nd character: the other 2 must be zero */
    return (strchr(b64, key[21]) - b64) % 16 == 0;
}

/* ---------------------------------------------------------------- the open relays */

struct ws_tracked {
    int client, agent;
    bool used;
};

struct ws_relays {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool closing;
    unsigned open;
    struct ws_tracked t[WS_RELAYS_MAX_TRACKED];
};

struct ws_relays *ws_relays_new(void)
{
    struct ws_relays *set = calloc(1, sizeof *set);
    if (!set)
        abort();
    pthread_mutex_init(&set->lock, NULL);
    pthread_cond_init(&set->changed, NULL);
    return set;
}

unsigned ws_relays_open(struct ws_relays *set)
{
    pthread_mutex_lock(&set->lock);
    unsigned n = set->open;
    pthread_mutex_unlock(&set->lock);
    return n;
}

/* A slot for a new relay, or -1 (silod is stopping, or too many: that one is refused). */
static int track(struct ws_relays *set, int client, int agent)
{
    int slot = -1;
    pthread_mutex_lock(&set->lock);
    for (int i = 0; !set->closing && i < WS_RELAYS_MAX_TRACKED && slot < 0; i++)
        if (!set->t[i].used) {
            set->t[i] = (struct ws_tracked){ client, agent, true };
            set->open++;
            slot = i;
        }
    pthread_mutex_unlock(&set->lock);
    return slot;
}

static void untrack(struct ws_relays *set, int slot)
{
    pthread_mutex_lock(&set->lock);
    set->t[slot].used = false;
    set->open--;
    pthread_cond_broadcast(&set->changed);
    pthread_mutex_unlock(&set->lock);
}

void ws_relays_close_all(struct ws_relays *set, int wait_ms)
{
    if (!set)
        return;
    pthread_mutex_lock(&set->lock);
    set->closing = true;
    for (int i = 0; i < WS_RELAYS_MAX_TRACKED; i++)
        if (set->t[i].used) {
            shutdown(set->t[i].client, SHUT_RDWR);
            shutdown(set->t[i].agent, SHUT_RDWR);
        }
    int64_t deadline = mono_ms() + wait_ms;
    while (set->open && mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&set->changed, &set->lock, &ts);
    }
    pthread_mutex_unlock(&set->lock);
}

void ws_relays_free(struct ws_relays *set)
{
    if (!set)
        return;
    pthread_mutex_destroy(&set->lock);
    pthread_cond_destroy(&set->changed);
    free(set);
}

/* ---------------------------------------------------------------- the relay */

/* Bytes read from one side, waiting to be written to the other. */
struct direction {
    int from, to;
    unsigned char buf[WS_RELAY_BUF];
    size_t off, len;
    bool eof;            /* `from` ended: once buf is empty, `to` is shut down for writing */
    bool shut;           /* … and it was */
    uint64_t *count;
};

static bool wants_read(const struct direction *d) { return !d->eof && d->off + d->len < sizeof d->buf; }

/* Reads what `from` has (never blocks); -1 on an error, else the bytes read (0 also at EOF). */
static ssize_t pull(struct direction *d)
{
    if (!d->len)
        d->off = 0;
    ssize_t n = recv(d->from, d->buf + d->off + d->len, sizeof d->buf - d->off - d->len, MSG_DONTWAIT);
    if (n > 0)
        d->len += (size_t)n;
    else if (n == 0)
        d->eof = true;
    else
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    return n;
}

/* Writes what is buffered to `to` (never blocks); -1 on an error, else the bytes written. */
static ssize_t push(struct direction *d)
{
    ssize_t moved = 0;
    while (d->len) {
        ssize_t n = send(d->to, d->buf + d->off, d->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return moved;
            return -1;
        }
        d->off += (size_t)n;
        d->len -= (size_t)n;
        moved += n;
        __atomic_add_fetch(d->count, (uint64_t)n, __ATOMIC_RELAXED);
    }
    d->off = 0;
    if (d->eof && !d->shut) {
        shutdown(d->to, SHUT_WR);     /* the half-close passed on, after everything before it */
        d->shut = true;
    }
    return moved;
}

static void preload(struct direction *d, const void *data, size_t len)
{
    if (len > sizeof d->buf)
        len = sizeof d->buf;
    if (len)
        memcpy(d->buf, data, len);
    d->len = len;
}

static bool closing(struct ws_relays *set)
{
    pthread_mutex_lock(&set->lock);
    bool c = set->closing;
    pthread_mutex_unlock(&set->lock);
    return c;
}

/* One side's poll result: read when there is room (a hang-up still leaves what was sent
 * readable, then EOF); an error ends the relay. A side silod wants neither to read nor to write
 * is not polled at all (poll would report its hang-up over and over: no spinning). */
static ssize_t side_ready(struct direction *d, short revents, bool *dead)
{
    if (revents & (POLLERR | POLLNVAL)) {
        *dead = true;
        return 0;
    }
    return (revents & (POLLIN | POLLHUP)) && wants_read(d) ? pull(d) : 0;
}

const char *ws_relay_run(struct ws_relays *set, const struct ws_relay_run *run)
{
    int slot = track(set, run->client, run->agent);
    if (slot < 0)
        return "shutdown";
    struct direction *up = calloc(1, sizeof *up), *down = calloc(1, sizeof *down);
    if (!up || !down)
        abort();
    *up = (struct direction){ .from = run->client, .to = run->agent, .count = run->bytes_to_agent };
    *down = (struct direction){ .from = run->agent, .to = run->client, .count = run->bytes_to_client };
    preload(up, run->to_agent, run->to_agent_len);
    preload(down, run->to_client, run->to_client_len);
    const char *why = NULL, *first_end = NULL;
    int64_t last = mono_ms(), ended_at = 0;
    for (;;) {
        ssize_t a = push(up), b = push(down);
        if (a < 0 || b < 0) {
            why = "error";
            break;
        }
        if (a + b > 0)
            last = mono_ms();
        if (!first_end && (up->eof || down->eof)) {
            first_end = down->eof ? "agent_closed" : "client_closed";
            ended_at = mono_ms();
        }
        if (up->shut && down->shut) {
            why = first_end;
            break;
        }
        struct pollfd p[2] = { { .fd = run->client }, { .fd = run->agent } };
        p[0].events = (short)((wants_read(up) ? POLLIN : 0) | (down->len ? POLLOUT : 0));
        p[1].events = (short)((wants_read(down) ? POLLIN : 0) | (up->len ? POLLOUT : 0));
        for (int i = 0; i < 2; i++)
            if (!p[i].events)
                p[i].fd = -1;
        int64_t now = mono_ms(), wait = last + run->idle_ms - now;
        if (ended_at && ended_at + WS_RELAY_LINGER_MS - now < wait)
            wait = ended_at + WS_RELAY_LINGER_MS - now;
        if (wait <= 0) {
            why = ended_at ? first_end : "idle_timeout";
            break;
        }
        int n = poll(p, 2, wait > 1000 ? 1000 : (int)wait);
        if (n < 0 && errno != EINTR) {
            why = "error";
            break;
        }
        if (closing(set)) {
            why = "shutdown";
            break;
        }
        if (n <= 0)
            continue;
        bool dead = false;
        ssize_t c = side_ready(up, p[0].revents, &dead), g = side_ready(down, p[1].revents, &dead);
        if (c < 0 || g < 0 || dead) {
            why = "error";
            break;
        }
        if (c + g > 0)
            last = mono_ms();
    }
    /* whatever is still buffered goes if it can go at once */
    push(up);
    push(down);
    free(up);
    free(down);
    untrack(set, slot);
    return why;
}
