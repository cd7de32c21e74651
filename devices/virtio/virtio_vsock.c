/* devices/virtio/virtio_vsock.c — virtio-vsock (device ID 19) bridged to Unix sockets with
 * Firecracker's "hybrid vsock" convention, byte for byte:
 *
 *   host → guest  a host program connects to --vsock-uds PATH and sends `CONNECT <port>\n`
 *                 (keyword case-insensitive, decimal port, at most 32 bytes with the newline).
 *                 We send the guest a REQUEST from CID 2, host port H (allocated round-robin in
 *                 [2^30, 2^31)) to <port>; when the guest answers RESPONSE we write `OK H\n`
 *                 and from then on bytes flow both ways. If the guest answers RST (nobody
 *                 listens), does not answer within VSOCK_CONNECT_TIMEOUT_MS of receiving the
 *                 REQUEST, or the line is malformed, the Unix connection is closed. (A CONNECT
 *                 made before the guest driver is up waits for it.)
 *   guest → host  a guest connection to CID 2 port P makes us connect to the Unix socket
 *                 `PATH_P`; if that fails (nobody listens, backlog full) the guest gets RST.
 *
 * Flow control (spec 5.10.6.3): every packet we send carries buf_alloc = VSOCK_BUF_ALLOC and
 * fwd_cnt = bytes of the guest's data we have written to the Unix socket, so the guest never
 * has more than VSOCK_BUF_ALLOC bytes in flight per connection. Guest data goes straight from
 * guest memory to the socket; what the socket does not take is kept in a per-connection buffer
 * of at most VSOCK_BUF_ALLOC bytes (a guest exceeding its credit gets RST), and we watch the
 * socket for EPOLLOUT until it drains. In the other direction we read the socket only when the
 * guest has credit for us and has given us an RX buffer, straight into that buffer; otherwise
 * we stop watching the socket (back-pressure reaches the host writer through its socket
 * buffer). VMM memory is thus bounded by VSOCK_BUF_ALLOC per connection with unflushed data,
 * and VSOCK_MAX_CONNS connections.
 *
 * Shutdown: host EOF → SHUTDOWN(SEND) to the guest; guest SHUTDOWN(SEND) → shutdown(SHUT_WR)
 * of the socket once the buffer drained; guest SHUTDOWN(RCV|SEND), or both directions finished
 * → RST to the guest and close. Guest RST → close at once. Write errors on the socket → RST.
 *
 * Threads: everything runs on the event-loop thread under the transport's lock. Sockets are
 * watched with EPOLLONESHOT and re-armed with exactly the interest we have, so a hung-up socket
 * we are not ready to read cannot spin the loop. A driver reset only marks the device; the next
 * loop handler closes every connection (loop calls are not allowed on a vCPU thread).
 */
#include "devices/virtio/virtio_vsock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "base/error_message.h"
#include "base/eventfd_util.h"
#include "devices/virtio/virtio_device_type.h"

#define HASH_BUCKETS 256
#define RST_RING 64
#define CONNECT_LINE_MAX 32
#define CREDIT_UPDATE_THRESHOLD (VSOCK_BUF_ALLOC / 4)

enum conn_state {
    CONN_HANDSHAKE,   /* host client connected, waiting for its CONNECT line */
    CONN_CONNECTING,  /* REQUEST sent (or to send) to the guest, waiting for RESPONSE */
    CONN_ESTABLISHED,
    CONN_CLOSING,     /* socket closed; an RST is still to be sent to the guest */
};

/* control packets a connection owes the guest */
#define PEND_REQUEST 1u
#define PEND_RESPONSE 2u
#define PEND_RST 4u
#define PEND_SHUTDOWN 8u
#define PEND_CREDIT 16u

struct vsock_conn {
    struct virtio_vsock *vs;
    struct vsock_conn *hash_next;
    struct vsock_conn *all_prev, *all_next;
    struct vsock_conn *rx_next;
    bool in_rx_list, hashed;
    int fd;
    uint32_t armed; /* epoll interest currently armed (one-shot) */
    enum conn_state state;
    uint32_t local_port, peer_port; /* host side, guest side */
    uint32_t pending;
    uint64_t deadline_ns;   /* CONN_CONNECTING with REQUEST sent: when we give up */
    char line[CONNECT_LINE_MAX]; /* CONNECT line received so far (CONN_HANDSHAKE) */
    uint32_t line_len;

    /* host → guest */
    bool readable;  /* the socket may have data (not yet seen EAGAIN) */
    bool host_eof;  /* read returned 0; SHUTDOWN(SEND) owed or sent */
    uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;

    /* guest → host */
    uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
    uint8_t *buf;   /* ring of VSOCK_BUF_ALLOC bytes, allocated when needed */
    uint32_t buf_head, buf_len;
    bool peer_no_send, peer_no_rcv, wr_shut;
    bool request_deferred; /* CONNECT taken while the guest had not yet seen the restore's reset */
};

struct rst_reply {
    uint32_t src_port, dst_port; /* as seen from the host: we are src */
};

struct virtio_vsock {
    struct virtio_mmio *t;
    struct event_loop *loop;
    uint64_t guest_cid;
    char uds_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd, wake_fd;
    bool reset_pending, tx_blocked;
    bool awaiting_reset_ack;  /* restored: the transport reset event is not yet taken by the guest */
    int event_buffers_left;   /* event buffers still posted right after the reset event took one */
    bool listen_paused;       /* out of file descriptors: not watching the listener */
    struct vsock_conn *buckets[HASH_BUCKETS];
    struct vsock_conn *all;
    struct vsock_conn *rx_head, *rx_tail;
    uint32_t conn_count;
    struct rst_reply rst[RST_RING];
    uint32_t rst_head, rst_count;
    uint32_t next_host_port;
    int timer_fd;             /* ticks while a host CONNECT waits for the guest's answer */
    bool timer_armed;
    uint64_t connect_timeout_ns;
    struct virtq_chain chain;
};

/* --- connection table ------------------------------------------------------------------------- */

static uint32_t bucket_of(uint32_t local, uint32_t peer)
{
    return (local * 2654435761u ^ peer * 40503u) % HASH_BUCKETS;
}

static struct vsock_conn *conn_find(struct virtio_vsock *vs, uint32_t local, uint32_t peer)
{
    for (struct vsock_conn *c = vs->buckets[bucket_of(local, peer)]; c != NULL; c = c->hash_next)
        if (c->local_port == local && c->peer_port == peer)
            return c;
    return NULL;
}

static void conn_hash(struct vsock_conn *c)
{
    uint32_t b = bucket_of(c->local_port, c->peer_port);
    c->hash_next = c->vs->buckets[b];
    c->vs->buckets[b] = c;
    c->hashed = true;
}

static void conn_unhash(struct vsock_conn *c)
{
    if (!c->hashed)
        return;
    struct vsock_conn **p = &c->vs->buckets[bucket_of(c->local_port, c->peer_port)];
    while (*p != c)
        p = &(*p)->hash_next;
    *p = c->hash_next;
    c->hashed = false;
}

static void rx_schedule(struct vsock_conn *c)
{
    struct virtio_vsock *vs = c->vs;
    if (c->in_rx_list)
        return;
    c->in_rx_list = true;
    c->rx_next = NULL;
    if (vs->rx_tail != NULL)
        vs->rx_tail->rx_next = c;
    else
        vs->rx_head = c;
    vs->rx_tail = c;
}

static void rx_unschedule(struct vsock_conn *c)
{
    struct virtio_vsock *vs = c->vs;
    if (!c->in_rx_list)
        return;
    struct vsock_conn *prev = NULL;
    for (struct vsock_conn *i = vs->rx_head; i != NULL; prev = i, i = i->rx_next) {
        if (i != c)
            continue;
        if (prev != NULL)
            prev->rx_next = c->rx_next;
        else
            vs->rx_head = c->rx_next;
        if (vs->rx_tail == c)
            vs->rx_tail = prev;
        break;
    }
    c->in_rx_list = false;
}

static void close_socket(struct vsock_conn *c)
{
    if (c->fd < 0)
        return;
    event_loop_remove(c->vs->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    c->armed = 0;
}

static void conn_free(struct vsock_conn *c)
{
    struct virtio_vsock *vs = c->vs;
    close_socket(c);
    conn_unhash(c);
    rx_unschedule(c);
    if (c->all_prev != NULL)
        c->all_prev->all_next = c->all_next;
    else
        vs->all = c->all_next;
    if (c->all_next != NULL)
        c->all_next->all_prev = c->all_prev;
    vs->conn_count--;
    free(c->buf);
    free(c);
    if (vs->listen_paused && event_loop_modify(vs->loop, vs->listen_fd, EPOLLIN) == 0)
        vs->listen_paused = false; /* a descriptor came free: accept again */
}

static void conn_event(void *opaque, int fd, uint32_t events);

static struct vsock_conn *conn_new(struct virtio_vsock *vs, int fd, enum conn_state state)
{
    if (vs->conn_count >= VSOCK_MAX_CONNS)
        return NULL;
    struct vsock_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->vs = vs;
    c->fd = fd;
    c->state = state;
    /* always one-shot: even with no interest, EPOLLHUP/EPOLLERR then fire at most once */
    if (event_loop_add(vs->loop, fd, EPOLLONESHOT, conn_event, c) < 0) {
        free(c);
        return NULL;
    }
    c->all_next = vs->all;
    if (vs->all != NULL)
        vs->all->all_prev = c;
    vs->all = c;
    vs->conn_count++;
    return c;
}

/* Arms the socket for exactly what we wait for (one-shot). */
static void conn_rearm(struct vsock_conn *c)
{
    uint32_t want = 0;
    if (c->fd < 0)
        return;
    if (c->state == CONN_HANDSHAKE)
        want = EPOLLIN;
    else if (c->state == CONN_ESTABLISHED) {
        if (!c->readable && !c->host_eof && !c->peer_no_rcv)
            want |= EPOLLIN;
        if (c->buf_len > 0)
            want |= EPOLLOUT;
    }
    if (want == c->armed)
        return;
    c->armed = want;
    /* EPOLLONESHOT even for want == 0: a level-triggered EPOLLHUP on a socket we are not
     * ready to serve would otherwise spin the loop */
    event_loop_modify(c->vs->loop, c->fd, want | EPOLLONESHOT);
}

/* Closes the socket now and owes the guest an RST (sent from process_rx, then freed). */
static void conn_reset(struct vsock_conn *c)
{
    close_socket(c);
    c->state = CONN_CLOSING;
    c->pending = PEND_RST;
    c->readable = false;
    c->buf_len = 0;
    rx_schedule(c);
}

static uint32_t peer_credit(const struct vsock_conn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
    return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool can_send_data(const struct vsock_conn *c)
{
    return c->state == CONN_ESTABLISHED && c->readable && !c->host_eof && !c->peer_no_rcv && peer_credit(c) > 0;
}

static bool has_rx_work(const struct vsock_conn *c)
{
    return c->pending != 0 || can_send_data(c);
}

/* Both directions done (or the guest closed): RST and close, once our buffer is flushed. */
static void conn_check_done(struct vsock_conn *c)
{
    if (c->state != CONN_ESTABLISHED || c->buf_len > 0)
        return;
    if (c->peer_no_send && !c->wr_shut) {
        shutdown(c->fd, SHUT_WR);
        c->wr_shut = true;
    }
    if ((c->peer_no_send && c->peer_no_rcv) || (c->peer_no_send && c->host_eof))
        conn_reset(c);
}

/* --- guest → host data ------------------------------------------------------------------------ */

static void note_forwarded(struct vsock_conn *c, uint32_t n)
{
    c->fwd_cnt += n;
    if (c->fwd_cnt - c->fwd_cnt_sent >= CREDIT_UPDATE_THRESHOLD) {
        c->pending |= PEND_CREDIT;
        rx_schedule(c);
    }
}

/* Writes as much of the buffered data as the socket takes. Returns 0 or -errno (not EAGAIN). */
static int flush_buffer(struct vsock_conn *c)
{
    while (c->buf_len > 0) {
        struct iovec v[2];
        int n = 0;
        uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;
        if (first > c->buf_len)
            first = c->buf_len;
        v[n++] = (struct iovec){ c->buf + c->buf_head, first };
        if (c->buf_len > first)
            v[n++] = (struct iovec){ c->buf, c->buf_len - first };
        struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : (errno == EINTR ? 0 : -errno);
        c->buf_head = (c->buf_head + (uint32_t)w) % VSOCK_BUF_ALLOC;
        c->buf_len -= (uint32_t)w;
        note_forwarded(c, (uint32_t)w);
    }
    free(c->buf); /* drained: give the memory back */
    c->buf = NULL;
    c->buf_head = 0;
    return 0;
}

static void buffer_append(struct vsock_conn *c, const struct iovec *v, int n, uint64_t skip)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = v[i].iov_base;
        uint64_t len = v[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        p += skip;
        len -= skip;
        skip = 0;
        while (len > 0) {
            uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
            uint32_t room = VSOCK_BUF_ALLOC - tail;
            uint32_t take = len < room ? (uint32_t)len : room;
            memcpy(c->buf + tail, p, take);
            c->buf_len += take;
            p += take;
            len -= take;
        }
    }
}

static void forward_to_host(struct vsock_conn *c, const struct virtq_chain *chain, uint32_t len)
{
    struct iovec v[VIRTQ_MAX_SEGS];
    uint64_t covered;

    if (len == 0)
        return;
    if ((uint64_t)c->buf_len + len > VSOCK_BUF_ALLOC) {
        conn_reset(c); /* the guest sent beyond the credit we gave it */
        return;
    }
    c->rx_cnt += len;
    int n = virtq_chain_slice(chain, false, VSOCK_HDR_SIZE, len, v, VIRTQ_MAX_SEGS, &covered);
    uint64_t sent = 0;
    if (c->buf_len == 0 && !c->wr_shut) {
        struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_reset(c);
            return;
        }
        sent = w > 0 ? (uint64_t)w : 0;
        note_forwarded(c, (uint32_t)sent);
    }
    if (sent < len) {
        if (c->buf == NULL && (c->buf = malloc(VSOCK_BUF_ALLOC)) == NULL) {
            conn_reset(c);
            return;
        }
        buffer_append(c, v, n, sent);
    }
    conn_rearm(c);
}

/* --- guest → host packets (TX queue) ---------------------------------------------------------- */

static bool queue_rst(struct virtio_vsock *vs, uint32_t src_port, uint32_t dst_port)
{
    if (vs->rst_count == RST_RING)
        return false;
    vs->rst[(vs->rst_head + vs->rst_count) % RST_RING] = (struct rst_reply){ src_port, dst_port };
    vs->rst_count++;
    return true;
}

static void guest_connect(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int len = snprintf(addr.sun_path, sizeof addr.sun_path, "%s_%u", vs->uds_path, h->dst_port);
    int fd = -1;
    struct vsock_conn *c = NULL;

    if (len > 0 && (size_t)len < sizeof addr.sun_path)
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
        c = conn_new(vs, fd, CONN_ESTABLISHED);
    if (c == NULL) {
        if (fd >= 0)
            close(fd);
        queue_rst(vs, h->dst_port, h->src_port);
        return;
    }
    c->local_port = h->dst_port;
    c->peer_port = h->src_port;
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    conn_hash(c);
    c->pending |= PEND_RESPONSE;
    rx_schedule(c);
    conn_rearm(c);
}

static void write_ok_line(struct vsock_conn *c)
{
    char line[32];
    int n = snprintf(line, sizeof line, "OK %u\n", c->local_port);
    /* the socket buffer is empty at this point: a short write means the client is gone */
    if (send(c->fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
        conn_reset(c);
        return;
    }
    c->state = CONN_ESTABLISHED;
    conn_rearm(c);
}

/* Handles one packet from the guest. Returns false when it could not be taken now (no room
 * for the RST reply): the caller puts the chain back and stops. */
static bool handle_tx_packet(struct virtio_vsock *vs, const struct virtq_chain *chain)
{
    struct vsock_hdr h;

    if (chain->read_bytes < VSOCK_HDR_SIZE)
        return true; /* not even a header: dropped */
    virtq_chain_read(chain, 0, &h, sizeof h);
    if (h.len > chain->read_bytes - VSOCK_HDR_SIZE || h.src_cid != vs->guest_cid)
        return true; /* lying about its length or its address: dropped */
    if (vs->rst_count == RST_RING)
        return false;
    if (h.dst_cid != VSOCK_HOST_CID || h.type != VSOCK_TYPE_STREAM) {
        if (h.op != VSOCK_OP_RST)
            queue_rst(vs, h.dst_port, h.src_port);
        return true;
    }

    struct vsock_conn *c = conn_find(vs, h.dst_port, h.src_port);
    if (c == NULL) {
        if (h.op == VSOCK_OP_REQUEST)
            guest_connect(vs, &h);
        else if (h.op != VSOCK_OP_RST)
            queue_rst(vs, h.dst_port, h.src_port);
        return true;
    }
    if (c->state == CONN_CLOSING)
        return true; /* our RST is on its way */
    c->peer_buf_alloc = h.buf_alloc;
    c->peer_fwd_cnt = h.fwd_cnt;

    switch (h.op) {
    case VSOCK_OP_RESPONSE:
        if (c->state == CONN_CONNECTING)
            write_ok_line(c);
        else
            conn_reset(c);
        break;
    case VSOCK_OP_RST:
        conn_free(c);
        return true;
    case VSOCK_OP_SHUTDOWN:
        if (h.flags & VSOCK_SHUTDOWN_RCV)
            c->peer_no_rcv = true;
        if (h.flags & VSOCK_SHUTDOWN_SEND)
            c->peer_no_send = true;
        conn_check_done(c);
        break;
    case VSOCK_OP_RW:
        if (c->state != CONN_ESTABLISHED || c->peer_no_send) {
            conn_reset(c);
            break;
        }
        forward_to_host(c, chain, h.len);
        break;
    case VSOCK_OP_CREDIT_UPDATE:
        break;
    case VSOCK_OP_CREDIT_REQUEST:
        c->pending |= PEND_CREDIT;
        break;
    default:
        conn_reset(c); /* REQUEST on a live connection, or an unknown op */
        break;
    }
    if (c->state != CONN_CLOSING) {
        if (has_rx_work(c))
            rx_schedule(c);
        conn_rearm(c);
    }
    return true;
}

/* --- host → guest packets (RX queue) ---------------------------------------------------------- */

static void fill_hdr(struct vsock_hdr *h, const struct virtio_vsock *vs, const struct vsock_conn *c, uint16_t op)
{
    *h = (struct vsock_hdr){
        .src_cid = VSOCK_HOST_CID, .dst_cid = vs->guest_cid,
        .src_port = c->local_port, .dst_port = c->peer_port,
        .type = VSOCK_TYPE_STREAM, .op = op,
        .buf_alloc = VSOCK_BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
    };
}

/* Reads socket data into the RX chain after the header. Returns bytes read, 0 when nothing
 * (EAGAIN or EOF, flags updated), -1 on a socket error. */
static int read_into_chain(struct vsock_conn *c, const struct virtq_chain *chain)
{
    struct iovec v[VIRTQ_MAX_SEGS];
    uint64_t covered, room = chain->write_bytes - VSOCK_HDR_SIZE;
    uint32_t credit = peer_credit(c);
    if (room > credit)
        room = credit;
    if (room > VSOCK_MAX_PKT_PAYLOAD)
        room = VSOCK_MAX_PKT_PAYLOAD;
    if (room == 0)
        return 0;
    int n = virtq_chain_slice(chain, true, VSOCK_HDR_SIZE, room, v, VIRTQ_MAX_SEGS, &covered);
    struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)n };
    ssize_t r = recvmsg(c->fd, &m, MSG_DONTWAIT);
    if (r > 0)
        return (int)r;
    if (r == 0) {
        c->host_eof = true;
        c->pending |= PEND_SHUTDOWN;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        c->readable = false;
        return 0;
    }
    return -1;
}

static void arm_timer(struct virtio_vsock *vs, bool on)
{
    struct itimerspec its = { 0 };
    if (on == vs->timer_armed)
        return;
    if (on) {
        uint64_t tick = vs->connect_timeout_ns / 4 ? vs->connect_timeout_ns / 4 : 1;
        its.it_value.tv_sec = (time_t)(tick / 1000000000u);
        its.it_value.tv_nsec = (long)(tick % 1000000000u);
        its.it_interval = its.it_value;
    }
    timerfd_settime(vs->timer_fd, 0, &its, NULL);
    vs->timer_armed = on;
}

/* The REQUEST for a host CONNECT goes to the guest now: it must answer before the deadline. */
static void start_connect_timer(struct virtio_vsock *vs, struct vsock_conn *c)
{
    c->deadline_ns = mono_ns() + vs->connect_timeout_ns;
    arm_timer(vs, true);
}

/* Host CONNECTs the guest never answered: RST to the guest, the host connection closed. */
static void expire_connects(struct virtio_vsock *vs)
{
    uint64_t now = mono_ns();
    bool waiting = false;
    for (struct vsock_conn *c = vs->all; c != NULL; c = c->all_next) {
        if (c->state != CONN_CONNECTING || (c->pending & PEND_REQUEST))
            continue;
        if (now >= c->deadline_ns)
            conn_reset(c);
        else
            waiting = true;
    }
    arm_timer(vs, waiting);
}

/* Puts the next packet connection c owes the guest into `chain`. Returns the bytes written
 * (0: nothing to send after all). May free c (after its RST). */
static uint32_t conn_fill_rx(struct virtio_vsock *vs, struct vsock_conn *c, const struct virtq_chain *chain)
{
    struct vsock_hdr h;

    if (c->pending & PEND_RST) {
        fill_hdr(&h, vs, c, VSOCK_OP_RST);
        virtq_chain_write(chain, 0, &h, sizeof h);
        conn_free(c);
        return VSOCK_HDR_SIZE;
    }
    if (c->pending & (PEND_REQUEST | PEND_RESPONSE)) {
        uint16_t op = (c->pending & PEND_REQUEST) ? VSOCK_OP_REQUEST : VSOCK_OP_RESPONSE;
        if (op == VSOCK_OP_REQUEST)
            start_connect_timer(vs, c);
        c->pending &= ~(PEND_REQUEST | PEND_RESPONSE);
        fill_hdr(&h, vs, c, op);
    } else if (can_send_data(c)) {
        int n = read_into_chain(c, chain);
        if (n < 0) {
            conn_reset(c);
            return 0;
        }
        if (n == 0) {
            conn_rearm(c);
            return has_rx_work(c) ? conn_fill_rx(vs, c, chain) : 0;
        }
        c->tx_cnt += (uint32_t)n;
        fill_hdr(&h, vs, c, VSOCK_OP_RW);
        h.len = (uint32_t)n;
    } else if (c->pending & PEND_SHUTDOWN) {
        c->pending &= ~PEND_SHUTDOWN;
        fill_hdr(&h, vs, c, VSOCK_OP_SHUTDOWN);
        h.flags = VSOCK_SHUTDOWN_SEND;
    } else if (c->pending & PEND_CREDIT) {
        fill_hdr(&h, vs, c, VSOCK_OP_CREDIT_UPDATE);
    } else {
        return 0;
    }
    c->pending &= ~PEND_CREDIT; /* every packet carries our fwd_cnt */
    c->fwd_cnt_sent = c->fwd_cnt;
    virtq_chain_write(chain, 0, &h, sizeof h);
    if (h.op == VSOCK_OP_SHUTDOWN)
        conn_check_done(c);
    return VSOCK_HDR_SIZE + h.len;
}

static void process_rx(struct virtio_vsock *vs)
{
    struct virtio_mmio *t = vs->t;
    struct virtq *q = &t->queues[VSOCK_QUEUE_RX];

    while (virtio_mmio_queue_usable(t, VSOCK_QUEUE_RX) && (vs->rst_count > 0 || vs->rx_head != NULL)) {
        int r = virtq_pop(q, &vs->chain);
        if (r < 0) {
            virtio_mmio_fail(t, "malformed RX descriptor chain");
            return;
        }
        if (r == 0) {
            if (!virtq_enable_kicks(q))
                break; /* no buffers: continue when the driver adds some */
            continue;
        }
        if (vs->chain.write_bytes < VSOCK_HDR_SIZE || vs->chain.readable != 0) {
            virtio_mmio_fail(t, "RX buffer smaller than a packet header");
            return;
        }
        uint32_t used = 0;
        if (vs->rst_count > 0) {
            struct rst_reply *r0 = &vs->rst[vs->rst_head];
            struct vsock_hdr h = {
                .src_cid = VSOCK_HOST_CID, .dst_cid = vs->guest_cid, .src_port = r0->src_port,
                .dst_port = r0->dst_port, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST,
            };
            virtq_chain_write(&vs->chain, 0, &h, sizeof h);
            vs->rst_head = (vs->rst_head + 1) % RST_RING;
            vs->rst_count--;
            used = VSOCK_HDR_SIZE;
        } else {
            struct vsock_conn *c = vs->rx_head;
            rx_unschedule(c);
            bool rst = (c->pending & PEND_RST) != 0;
            used = conn_fill_rx(vs, c, &vs->chain);
            /* c is freed after its RST; otherwise it goes back to the tail while it has work
             * (conn_reset inside conn_fill_rx schedules it for its RST itself) */
            if (!rst && has_rx_work(c))
                rx_schedule(c);
            if (used == 0) {
                virtq_unpop(q);
                if (!rst && c->in_rx_list && !(c->pending & PEND_RST))
                    break; /* this buffer cannot carry what c owes (too small): wait for more */
                continue;
            }
        }
        virtq_push(q, vs->chain.head, used);
    }
    virtio_mmio_signal_used(t, VSOCK_QUEUE_RX);
    if (vs->tx_blocked && vs->rst_count < RST_RING) {
        vs->tx_blocked = false;
        virtio_mmio_kick(t, VSOCK_QUEUE_TX);
    }
}

static void process_tx(struct virtio_vsock *vs)
{
    struct virtio_mmio *t = vs->t;
    struct virtq *q = &t->queues[VSOCK_QUEUE_TX];

    do {
        int r;
        while ((r = virtq_pop(q, &vs->chain)) > 0) {
            if (!handle_tx_packet(vs, &vs->chain)) {
                virtq_unpop(q);
                vs->tx_blocked = true; /* resumed by process_rx once the RST replies went out */
                virtio_mmio_signal_used(t, VSOCK_QUEUE_TX);
                return;
            }
            virtq_push(q, vs->chain.head, 0);
        }
        virtio_mmio_signal_used(t, VSOCK_QUEUE_TX);
        if (r < 0) {
            virtio_mmio_fail(t, "malformed TX descriptor chain");
            return;
        }
    } while (virtq_enable_kicks(q));
}

/* --- reset and event handlers ----------------------------------------------------------------- */

/* Returns true when it reset the device (connections may have been freed). */
static bool apply_pending_reset(struct virtio_vsock *vs)
{
    if (!vs->reset_pending)
        return false;
    vs->reset_pending = false;
    /* connections the guest knows about die; host clients still waiting for the driver (their
     * REQUEST not sent yet) keep waiting for the next DRIVER_OK */
    struct vsock_conn *next;
    for (struct vsock_conn *c = vs->all; c != NULL; c = next) {
        next = c->all_next;
        bool unannounced = c->state == CONN_HANDSHAKE ||
                           (c->state == CONN_CONNECTING && (c->pending & PEND_REQUEST));
        if (!unannounced)
            conn_free(c);
    }
    vs->rst_count = 0;
    vs->tx_blocked = false;
    return true;
}

static void timer_event(void *opaque, int fd, uint32_t events)
{
    struct virtio_vsock *vs = opaque;
    (void)events;
    (void)eventfd_drain(fd);   /* a timerfd's expiry count reads the same way */
    virtio_mmio_lock(vs->t);
    apply_pending_reset(vs);
    expire_connects(vs);
    process_rx(vs);
    virtio_mmio_unlock(vs->t);
}

static void release_deferred_requests(struct virtio_vsock *vs);

static void vsock_queue_notify(struct virtio_mmio *t, uint16_t q)
{
    struct virtio_vsock *vs = t->dev;
    apply_pending_reset(vs);
    if (q == VSOCK_QUEUE_TX)
        process_tx(vs);
    if (q == VSOCK_QUEUE_TX || q == VSOCK_QUEUE_RX)
        process_rx(vs);
    if (q == VSOCK_QUEUE_EVENT && vs->awaiting_reset_ack &&
        virtq_pending(&t->queues[VSOCK_QUEUE_EVENT]) != vs->event_buffers_left)
        release_deferred_requests(vs); /* a buffer came back: the guest handled the event */
    /* otherwise the event queue only holds buffers for the reset event of a restore */
}

static void vsock_reset(struct virtio_mmio *t)
{
    struct virtio_vsock *vs = t->dev;
    vs->reset_pending = true;
    eventfd_signal(vs->wake_fd);
}

static void wake_event(void *opaque, int fd, uint32_t events)
{
    struct virtio_vsock *vs = opaque;
    (void)events;
    (void)eventfd_drain(fd);
    virtio_mmio_lock(vs->t);
    apply_pending_reset(vs);
    virtio_mmio_unlock(vs->t);
}

/* Parses "CONNECT <port>\n" (case-insensitive keyword). Returns the port or -1. */
static long parse_connect(const char *line, size_t len)
{
    if (len < 10 || strncasecmp(line, "connect ", 8) != 0 || line[len - 1] != '\n')
        return -1;
    long port = 0;
    size_t i = 8;
    if (!isdigit((unsigned char)line[i]))
        return -1;
    for (; i < len - 1; i++) {
        if (!isdigit((unsigned char)line[i]))
            return -1;
        port = port * 10 + (line[i] - '0');
        if (port > UINT32_MAX)
            return -1;
    }
    return port;
}

static bool host_port_allocate(struct virtio_vsock *vs, struct vsock_conn *c)
{
    for (uint32_t tries = 0; tries < 2 * VSOCK_MAX_CONNS; tries++) {
        uint32_t port = vs->next_host_port;
        vs->next_host_port = port + 1 >= (1u << 31) ? VSOCK_HOST_PORT_FIRST : port + 1;
        if (conn_find(vs, port, c->peer_port) == NULL) {
            c->local_port = port;
            return true;
        }
    }
    return false;
}

/* The host client's CONNECT line. We peek, then consume exactly up to the newline (or all
 * that is there, if no newline yet), so data the client sends right after the line stays in
 * the socket for the guest. */
static void handshake_step(struct vsock_conn *c)
{
    char buf[CONNECT_LINE_MAX];
    size_t room = CONNECT_LINE_MAX - c->line_len;
    ssize_t n = recv(c->fd, buf, room, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        conn_rearm(c);
        return;
    }
    if (n <= 0) {
        conn_free(c); /* the client went away, or an error */
        return;
    }
    char *nl = memchr(buf, '\n', (size_t)n);
    size_t take = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)n;
    if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take) {
        conn_free(c);
        return;
    }
    c->line_len += (uint32_t)take;
    if (nl == NULL) {
        if (c->line_len >= CONNECT_LINE_MAX)
            conn_free(c); /* no newline within 32 bytes */
        else
            conn_rearm(c);
        return;
    }
    long port = parse_connect(c->line, c->line_len);
    if (port < 0) {
        conn_free(c);
        return;
    }
    c->peer_port = (uint32_t)port;
    if (!host_port_allocate(c->vs, c)) {
        conn_free(c);
        return;
    }
    conn_hash(c);
    c->state = CONN_CONNECTING; /* the socket stays disarmed until the guest answers */
    if (c->vs->awaiting_reset_ack) {
        /* a REQUEST now would race the guest's handling of the transport reset, which resets
         * every connected socket: it goes out once the guest has taken the event */
        c->request_deferred = true;
        return;
    }
    c->pending |= PEND_REQUEST;
    rx_schedule(c);
}

/* The guest re-posted its event buffer: it has handled the transport reset. */
static void release_deferred_requests(struct virtio_vsock *vs)
{
    vs->awaiting_reset_ack = false;
    for (struct vsock_conn *c = vs->all; c != NULL; c = c->all_next)
        if (c->request_deferred) {
            c->request_deferred = false;
            c->pending |= PEND_REQUEST;
            rx_schedule(c);
        }
    process_rx(vs);
}

static void conn_event(void *opaque, int fd, uint32_t events)
{
    struct vsock_conn *c = opaque;
    struct virtio_vsock *vs = c->vs;
    (void)fd;

    virtio_mmio_lock(vs->t);
    if (apply_pending_reset(vs)) {
        /* c may have been freed with the others: let the loop call us again if it lives */
        for (struct vsock_conn *i = vs->all; i != NULL; i = i->all_next) {
            if (i == c) {
                c->armed = 0;
                conn_rearm(c);
                break;
            }
        }
        virtio_mmio_unlock(vs->t);
        return;
    }
    c->armed = 0; /* one-shot: disarmed by this event */
    if (c->state == CONN_HANDSHAKE) {
        handshake_step(c);
    } else if (c->state == CONN_ESTABLISHED) {
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
            c->readable = true;
        if (c->buf_len > 0 && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
            if (flush_buffer(c) < 0)
                conn_reset(c);
            else
                conn_check_done(c);
        }
        if (c->state == CONN_ESTABLISHED) {
            if (has_rx_work(c))
                rx_schedule(c);
            conn_rearm(c);
        }
    }
    process_rx(vs);
    virtio_mmio_unlock(vs->t);
}

static void listener_event(void *opaque, int fd, uint32_t events)
{
    struct virtio_vsock *vs = opaque;
    (void)events;

    virtio_mmio_lock(vs->t);
    apply_pending_reset(vs);
    for (int i = 0; i < 64; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* the pending connection stays queued and the listener stays readable: stop
                 * watching it (or the loop would spin) until one of ours is closed */
                event_loop_modify(vs->loop, fd, 0);
                vs->listen_paused = true;
            }
            break;
        }
        struct vsock_conn *c = conn_new(vs, cfd, CONN_HANDSHAKE);
        if (c == NULL) {
            close(cfd); /* too many connections */
            continue;
        }
        conn_rearm(c);
    }
    virtio_mmio_unlock(vs->t);
}

/* --- creation and teardown -------------------------------------------------------------------- */

static void vsock_destroy(struct virtio_mmio *t)
{
    struct virtio_vsock *vs = t->dev;
    if (vs == NULL)
        return;
    while (vs->all != NULL)
        conn_free(vs->all);
    if (vs->listen_fd >= 0) {
        event_loop_remove(vs->loop, vs->listen_fd);
        close(vs->listen_fd);
        unlink(vs->uds_path);
    }
    if (vs->timer_fd >= 0) {
        event_loop_remove(vs->loop, vs->timer_fd);
        close(vs->timer_fd);
    }
    if (vs->wake_fd >= 0) {
        event_loop_remove(vs->loop, vs->wake_fd);
        close(vs->wake_fd);
    }
    free(vs);
    t->dev = NULL;
}

/* After a restore: no connection survives a snapshot (the host side of each was a socket of
 * the VMM that took it), so the guest is told to drop all of them at once with the transport
 * reset event (spec 5.10.6.8), as Firecracker does; its listeners stay. The event uses one of
 * the buffers the driver keeps posted on the event queue. New host connections take ports from
 * VSOCK_HOST_PORT_AFTER_RESTORE on: with the ports the snapshotted VM used, the first CONNECTs
 * after a restore could meet the guest's not yet released sockets of those ports and be refused. */
static int vsock_restore(struct virtio_mmio *t, struct state_reader *r, int dir_fd, char *err, size_t errlen)
{
    struct virtio_vsock *vs = t->dev;
    (void)dir_fd;
    if (!state_reader_ok(r, true))
        return error_message(err, errlen, "virtio-vsock: the snapshot's record is malformed");
    vs->next_host_port = VSOCK_HOST_PORT_AFTER_RESTORE; /* never a port pair the guest still holds */
    if (!virtio_mmio_queue_usable(t, VSOCK_QUEUE_EVENT))
        return 0; /* the driver was not up: it has no connection to reset */
    struct virtq *q = &t->queues[VSOCK_QUEUE_EVENT];
    int got = virtq_pop(q, &vs->chain);
    if (got <= 0) {
        fprintf(stderr, "silo-vmm: virtio-vsock: no event buffer after restore: the guest's connections from "
                        "before the snapshot are not reset\n");
        return 0;
    }
    uint32_t event = VSOCK_EVENT_TRANSPORT_RESET;
    size_t n = virtq_chain_write(&vs->chain, 0, &event, sizeof event);
    virtq_push(q, vs->chain.head, (uint32_t)n);
    virtio_mmio_signal_used(t, VSOCK_QUEUE_EVENT);
    /* the driver re-posts the buffer once it has handled the event; ask for that kick */
    virtq_kick_on_next_avail(q);
    vs->event_buffers_left = virtq_pending(q);
    vs->awaiting_reset_ack = true;
    return 0;
}

static const struct virtio_device_ops vsock_ops = {
    .restore = vsock_restore,
    .queue_notify = vsock_queue_notify,
    .reset = vsock_reset,
    .destroy = vsock_destroy,
};

static int listen_on(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path)
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* a stale socket from an earlier run; never any other kind of file */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static uint32_t vsock_instances(const struct vmm_config *cfg)
{
    return cfg->vsock_cid != 0 ? 1 : 0;
}

static int vsock_create(struct virtio_mmio *t, const struct vmm_config *cfg, uint32_t index,
                        const struct vm_services *svc)
{
    (void)index;
    int err;
    if (cfg->vsock_cid < 3 || cfg->vsock_cid == UINT32_MAX || cfg->vsock_uds == NULL) {
        fprintf(stderr, "silo-vmm: vsock: needs --vsock-cid >= 3 and --vsock-uds PATH\n");
        return -EINVAL;
    }
    struct virtio_vsock *vs = calloc(1, sizeof *vs);
    if (vs == NULL)
        return -ENOMEM;
    vs->t = t;
    vs->loop = svc->loop;
    vs->guest_cid = cfg->vsock_cid;
    vs->next_host_port = VSOCK_HOST_PORT_FIRST;
    vs->wake_fd = -1;
    vs->timer_fd = -1;
    /* how long a host CONNECT waits for the guest to answer (the env knob is for tests) */
    const char *timeout_ms = getenv("SILO_VSOCK_CONNECT_TIMEOUT_MS");
    vs->connect_timeout_ns = (timeout_ms != NULL ? strtoull(timeout_ms, NULL, 10) : VSOCK_CONNECT_TIMEOUT_MS) * 1000000u;
    /* room for "_<port>" after the path when the guest connects out */
    if (strlen(cfg->vsock_uds) + 12 > sizeof vs->uds_path) {
        fprintf(stderr, "silo-vmm: vsock: socket path too long: %s\n", cfg->vsock_uds);
        free(vs);
        return -ENAMETOOLONG;
    }
    strcpy(vs->uds_path, cfg->vsock_uds);
    vs->listen_fd = listen_on(vs->uds_path);
    if (vs->listen_fd < 0) {
        err = vs->listen_fd;
        fprintf(stderr, "silo-vmm: vsock: cannot listen on %s: %s\n", vs->uds_path, strerror(-err));
        free(vs);
        return err;
    }
    t->dev = vs;
    vs->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (vs->wake_fd < 0 || event_loop_add(svc->loop, vs->wake_fd, EPOLLIN, wake_event, vs) < 0 ||
        vs->timer_fd < 0 || event_loop_add(svc->loop, vs->timer_fd, EPOLLIN, timer_event, vs) < 0 ||
        event_loop_add(svc->loop, vs->listen_fd, EPOLLIN, listener_event, vs) < 0) {
        fprintf(stderr, "silo-vmm: vsock: cannot watch its sockets\n");
        vsock_destroy(t);
        return -EIO;
    }
    t->name = "virtio-vsock";
    t->device_id = VIRTIO_ID_VSOCK;
    t->num_queues = 3;
    t->queue_max_size = VIRTQ_MAX_SIZE;
    memcpy(t->config, &vs->guest_cid, 8);
    t->config_size = 8;
    t->ops = &vsock_ops;
    return 0;
}

const struct virtio_device_type virtio_vsock_type = {
    .name = "virtio-vsock",
    .instances = vsock_instances,
    .create = vsock_create,
};
