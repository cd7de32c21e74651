/* tests/unit/test_vsock.c — virtio-vsock against real Unix sockets in a temporary directory,
 * with the guest side played by a small driver over the simulated RAM: Firecracker's CONNECT /
 * OK handshake, guest connections to PATH_P, RST and SHUTDOWN, credit-based flow control and
 * back-pressure, many streams, bulk transfers, reset, and hostile packets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/state_buf.h"
#include "devices/virtio/virtio_devices.h"
#include "devices/virtio/virtio_vsock.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_test_driver.h"

#define GUEST_CID 3
#define QSIZE 128
#define RXN 64
#define RXBUF (4096 + VSOCK_HDR_SIZE)

struct guest {
    struct vt_env e;
    struct vt_queue rx, tx, ev;
    uint64_t rx_gpa[QSIZE]; /* by head */
    uint64_t tx_area;
    char dir[48], uds[64];
};

static struct guest g;

static void rx_post(uint64_t gpa)
{
    uint16_t head = vt_add_chain(&g.rx, &(struct vt_buf){ gpa, RXBUF, true }, 1);
    g.rx_gpa[head] = gpa;
}

static void guest_up(void)
{
    strcpy(g.dir, "/tmp/silo-test-vsock-XXXXXX");
    CHECK(mkdtemp(g.dir) != NULL);
    snprintf(g.uds, sizeof g.uds, "%s/v.sock", g.dir);
    struct vmm_config cfg = { .vsock_cid = GUEST_CID, .vsock_uds = g.uds };
    CHECK_EQ(vt_env_init(&g.e, &cfg), 0);
    CHECK_EQ(vt_read32(&g.e, 0, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
    CHECK_EQ(vt_read32(&g.e, 0, 0x100), GUEST_CID);
    vt_queue_alloc(&g.e, &g.rx, 0, VSOCK_QUEUE_RX, QSIZE);
    vt_queue_alloc(&g.e, &g.tx, 0, VSOCK_QUEUE_TX, QSIZE);
    vt_queue_alloc(&g.e, &g.ev, 0, VSOCK_QUEUE_EVENT, QSIZE);
    struct vt_queue qs[3] = { g.rx, g.tx, g.ev };
    CHECK(vt_device_up(&g.e, 0, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX), qs, 3) &
          VIRTIO_STATUS_DRIVER_OK);
    for (int i = 0; i < RXN; i++)
        rx_post(vt_alloc(&g.e, RXBUF, 8));
    vt_kick(&g.rx);
    g.tx_area = vt_alloc(&g.e, VSOCK_HDR_SIZE + 65536, 8);
    vt_run(&g.e);
}

static void guest_down(void)
{
    vt_env_fini(&g.e);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g.dir);
    CHECK_EQ(system(cmd), 0);
}

static struct vsock_hdr hdr(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len)
{
    return (struct vsock_hdr){
        .src_cid = GUEST_CID, .dst_cid = VSOCK_HOST_CID, .src_port = src_port, .dst_port = dst_port,
        .len = len, .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 1 << 20, .fwd_cnt = 0,
    };
}

/* The guest sends one packet (header and payload in separate descriptors). */
static void guest_send(struct vsock_hdr h, const void *payload)
{
    memcpy(vt_ptr(&g.e, g.tx_area), &h, sizeof h);
    if (h.len > 0) {
        memcpy(vt_ptr(&g.e, g.tx_area + VSOCK_HDR_SIZE), payload, h.len);
        struct vt_buf b[2] = { { g.tx_area, VSOCK_HDR_SIZE, false }, { g.tx_area + VSOCK_HDR_SIZE, h.len, false } };
        vt_add_chain(&g.tx, b, 2);
    } else {
        vt_add_chain(&g.tx, &(struct vt_buf){ g.tx_area, VSOCK_HDR_SIZE, false }, 1);
    }
    vt_kick(&g.tx);
    vt_run(&g.e);
    uint32_t id, len;
    CHECK(vt_get_used(&g.tx, &id, &len));
}

/* The guest takes the next packet from RX (payload copied into `payload`, up to 4096). */
static bool guest_recv(struct vsock_hdr *h, void *payload)
{
    uint32_t id, len;
    vt_run(&g.e);
    if (!vt_get_used(&g.rx, &id, &len))
        return false;
    CHECK(len >= VSOCK_HDR_SIZE);
    memcpy(h, vt_ptr(&g.e, g.rx_gpa[id]), sizeof *h);
    CHECK_EQ(len, VSOCK_HDR_SIZE + h->len);
    if (payload != NULL && h->len <= 4096)
        memcpy(payload, vt_ptr(&g.e, g.rx_gpa[id] + VSOCK_HDR_SIZE), h->len);
    rx_post(g.rx_gpa[id]);
    vt_kick(&g.rx);
    return true;
}

static int host_connect(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int host_listen(uint32_t port)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s_%u", g.uds, port);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(fd, 128), 0);
    return fd;
}

/* Non-blocking read of whatever is there: bytes, 0 at EOF (or reset by the peer), -1 if
 * nothing yet. */
static ssize_t host_read(int fd, void *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
    if (n < 0 && errno == ECONNRESET)
        return 0;
    return n;
}

/* Host client through the CONNECT handshake to guest port `port`; returns fd and host port. */
static int host_to_guest(uint32_t port, uint32_t *host_port)
{
    int fd = host_connect(g.uds);
    char line[32];
    int n = snprintf(line, sizeof line, "CONNECT %u\n", port);
    CHECK_EQ(write(fd, line, (size_t)n), n);
    vt_run(&g.e);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_REQUEST);
    CHECK_EQ(h.dst_port, port);
    CHECK_EQ(h.src_cid, VSOCK_HOST_CID);
    CHECK_EQ(h.dst_cid, GUEST_CID);
    CHECK(h.src_port >= VSOCK_HOST_PORT_FIRST);
    *host_port = h.src_port;
    guest_send(hdr(port, h.src_port, VSOCK_OP_RESPONSE, 0), NULL);
    char ok[32] = { 0 };
    snprintf(line, sizeof line, "OK %u\n", h.src_port);
    CHECK_EQ(host_read(fd, ok, strlen(line)), (ssize_t)strlen(line));
    CHECK(strcmp(ok, line) == 0);
    return fd;
}

static void test_host_connect_handshake_and_data(void)
{
    guest_up();
    uint32_t hp;
    int fd = host_to_guest(1234, &hp);
    CHECK_EQ(hp, VSOCK_HOST_PORT_FIRST);
    /* host → guest */
    CHECK_EQ(write(fd, "ping", 4), 4);
    vt_run(&g.e);
    struct vsock_hdr h;
    char buf[4096];
    CHECK(guest_recv(&h, buf));
    CHECK_EQ(h.op, VSOCK_OP_RW);
    CHECK_EQ(h.len, 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(h.buf_alloc, VSOCK_BUF_ALLOC);
    /* guest → host */
    guest_send(hdr(1234, hp, VSOCK_OP_RW, 4), "pong");
    CHECK_EQ(host_read(fd, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    /* host closes: the guest is told SHUTDOWN(SEND) */
    close(fd);
    vt_run(&g.e);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN);
    CHECK(h.flags & VSOCK_SHUTDOWN_SEND);
    /* the guest closes too: RST back */
    guest_send(hdr(1234, hp, VSOCK_OP_SHUTDOWN, 0), NULL);
    ((struct vsock_hdr *)vt_ptr(&g.e, g.tx_area))->flags = 3;
    struct vsock_hdr sh = hdr(1234, hp, VSOCK_OP_SHUTDOWN, 0);
    sh.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
    guest_send(sh, NULL);
    bool got_rst = false;
    while (guest_recv(&h, NULL))
        got_rst |= h.op == VSOCK_OP_RST;
    CHECK(got_rst);
    guest_down();
}

/* The guest ends its side only (SHUTDOWN(SEND), a half-close: e.g. a WebSocket agent's FIN
 * after its close frame) while the host still talks: the host reads what came before, then EOF,
 * and can still send to the guest. */
static void test_guest_half_close(void)
{
    guest_up();
    uint32_t hp;
    int fd = host_to_guest(4321, &hp);
    guest_send(hdr(4321, hp, VSOCK_OP_RW, 3), "bye");
    struct vsock_hdr sh = hdr(4321, hp, VSOCK_OP_SHUTDOWN, 0);
    sh.flags = VSOCK_SHUTDOWN_SEND;
    guest_send(sh, NULL);
    vt_run(&g.e);
    char buf[64];
    CHECK_EQ(host_read(fd, buf, sizeof buf), 3);
    CHECK_EQ(host_read(fd, buf, sizeof buf), 0);          /* EOF: the half-close came through */
    CHECK_EQ(write(fd, "more", 4), 4);                     /* the other way still goes */
    vt_run(&g.e);
    struct vsock_hdr h;
    bool got = false;
    while (guest_recv(&h, buf))
        got |= h.op == VSOCK_OP_RW && h.len == 4 && memcmp(buf, "more", 4) == 0;
    CHECK(got);
    close(fd);
    guest_down();
}

static void test_connect_line_variants(void)
{
    guest_up();
    /* lower case, and data right behind the line stays for the guest */
    int fd = host_connect(g.uds);
    CHECK_EQ(write(fd, "connect 77\nearly", 16), 16);
    vt_run(&g.e);
    struct vsock_hdr h;
    char buf[4096];
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_REQUEST);
    CHECK_EQ(h.dst_port, 77);
    guest_send(hdr(77, h.src_port, VSOCK_OP_RESPONSE, 0), NULL);
    CHECK(guest_recv(&h, buf));
    CHECK_EQ(h.op, VSOCK_OP_RW);
    CHECK_EQ(h.len, 5);
    CHECK(memcmp(buf, "early", 5) == 0);
    close(fd);
    /* a line split across writes */
    fd = host_connect(g.uds);
    CHECK_EQ(write(fd, "CONN", 4), 4);
    vt_run(&g.e);
    CHECK_EQ(write(fd, "ECT 78\n", 7), 7);
    vt_run(&g.e);
    bool got = false;
    while (guest_recv(&h, NULL))
        got |= h.op == VSOCK_OP_REQUEST && h.dst_port == 78;
    CHECK(got);
    close(fd);
    /* malformed lines: the host connection is closed, the guest hears nothing */
    static const char *bad[] = { "CONNECT\n", "CONNECT x1\n", "HELLO 1\n", "CONNECT 99999999999\n",
                                 "CONNECT 1 2\n", "CONNECT 12345678901234567890123456789\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = host_connect(g.uds);
        CHECK_EQ(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        vt_run(&g.e);
        CHECK_EQ(host_read(fd, buf, sizeof buf), 0);
        close(fd);
    }
    while (guest_recv(&h, NULL))
        CHECK(h.op != VSOCK_OP_REQUEST || h.dst_port == 78);
    guest_down();
}

static void test_host_connect_nobody_listening(void)
{
    guest_up();
    int fd = host_connect(g.uds);
    CHECK_EQ(write(fd, "CONNECT 9\n", 10), 10);
    vt_run(&g.e);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_REQUEST);
    struct vsock_hdr rst = hdr(9, h.src_port, VSOCK_OP_RST, 0);
    guest_send(rst, NULL);
    char buf[16];
    CHECK_EQ(host_read(fd, buf, sizeof buf), 0); /* EOF, no OK line */
    close(fd);
    guest_down();
}

static void test_guest_connect_and_close(void)
{
    guest_up();
    int lfd = host_listen(5000);
    guest_send(hdr(40000, 5000, VSOCK_OP_REQUEST, 0), NULL);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
    CHECK_EQ(h.src_port, 5000);
    CHECK_EQ(h.dst_port, 40000);
    int fd = accept(lfd, NULL, NULL);
    CHECK(fd >= 0);
    guest_send(hdr(40000, 5000, VSOCK_OP_RW, 5), "hello");
    char buf[4096];
    CHECK_EQ(host_read(fd, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(write(fd, "world", 5), 5);
    vt_run(&g.e);
    CHECK(guest_recv(&h, buf));
    CHECK_EQ(h.op, VSOCK_OP_RW);
    CHECK(memcmp(buf, "world", 5) == 0);
    /* guest sends its last bytes and closes: the host reads them, then EOF; the guest gets RST */
    guest_send(hdr(40000, 5000, VSOCK_OP_RW, 3), "bye");
    struct vsock_hdr sh = hdr(40000, 5000, VSOCK_OP_SHUTDOWN, 0);
    sh.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
    guest_send(sh, NULL);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    CHECK_EQ(host_read(fd, buf, sizeof buf), 3);
    CHECK_EQ(host_read(fd, buf, sizeof buf), 0);
    close(fd);
    /* guest RST closes the host side at once */
    guest_send(hdr(40001, 5000, VSOCK_OP_REQUEST, 0), NULL);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
    fd = accept(lfd, NULL, NULL);
    guest_send(hdr(40001, 5000, VSOCK_OP_RST, 0), NULL);
    CHECK_EQ(host_read(fd, buf, sizeof buf), 0);
    close(fd);
    close(lfd);
    guest_down();
}

static void test_host_hangup_does_not_spin(void)
{
    guest_up();
    int lfd = host_listen(5003);
    guest_send(hdr(43000, 5003, VSOCK_OP_REQUEST, 0), NULL);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
    int fd = accept(lfd, NULL, NULL);
    /* the guest will not receive any more: we stop watching the socket for input */
    struct vsock_hdr sh = hdr(43000, 5003, VSOCK_OP_SHUTDOWN, 0);
    sh.flags = VSOCK_SHUTDOWN_RCV;
    guest_send(sh, NULL);
    /* then the host side hangs up completely; the guest neither reads nor closes for a while */
    close(fd);
    CHECK(vt_run(&g.e) >= 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(event_loop_run_once(g.e.loop, 0), 0); /* idle: nothing keeps firing */
    /* the guest writes anyway: the dead socket gets it an RST */
    guest_send(hdr(43000, 5003, VSOCK_OP_RW, 3), "abc");
    bool rst = false;
    while (guest_recv(&h, NULL))
        rst |= h.op == VSOCK_OP_RST;
    CHECK(rst);
    close(lfd);
    guest_down();
}

static void test_out_of_descriptors_does_not_spin(void)
{
    guest_up();
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = dup(0); /* the lowest free descriptor: everything below is in use */
    close(probe);
    int cl[4];
    struct rlimit tight = { .rlim_cur = (rlim_t)probe + 6, .rlim_max = old.rlim_max };
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    for (int i = 0; i < 4; i++)
        cl[i] = host_connect(g.uds); /* 4 descriptors here, 2 left for the device */
    int ran = vt_run(&g.e);
    CHECK(ran >= 0); /* accept hits EMFILE for the last two: no spin */
    /* a bad CONNECT line frees one of the device's descriptors: it accepts again */
    CHECK_EQ(write(cl[0], "HELLO\n", 6), 6);
    CHECK(vt_run(&g.e) >= 0);
    CHECK_EQ(write(cl[2], "CONNECT 5\n", 10), 10);
    CHECK_EQ(write(cl[1], "HELLO\n", 6), 6);
    CHECK(vt_run(&g.e) >= 0);
    CHECK(vt_run(&g.e) >= 0);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    struct vsock_hdr h;
    bool request = false;
    while (guest_recv(&h, NULL))
        request |= h.op == VSOCK_OP_REQUEST && h.dst_port == 5;
    CHECK(request);
    for (int i = 0; i < 4; i++)
        close(cl[i]);
    guest_down();
}

static void test_guest_connect_nobody_listening(void)
{
    guest_up();
    guest_send(hdr(40000, 6000, VSOCK_OP_REQUEST, 0), NULL);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    CHECK_EQ(h.src_port, 6000);
    CHECK_EQ(h.dst_port, 40000);
    CHECK(!guest_recv(&h, NULL));
    guest_down();
}

static void test_hostile_packets(void)
{
    guest_up();
    struct vsock_hdr h;
    /* data for a connection that does not exist: RST */
    guest_send(hdr(1, 2, VSOCK_OP_RW, 3), "abc");
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    /* an RST for nothing: silence */
    guest_send(hdr(1, 2, VSOCK_OP_RST, 0), NULL);
    CHECK(!guest_recv(&h, NULL));
    /* spoofed source CID: dropped */
    struct vsock_hdr spoof = hdr(1, 2, VSOCK_OP_REQUEST, 0);
    spoof.src_cid = 7;
    guest_send(spoof, NULL);
    CHECK(!guest_recv(&h, NULL));
    /* another destination CID, a datagram type: RST */
    struct vsock_hdr other = hdr(1, 2, VSOCK_OP_REQUEST, 0);
    other.dst_cid = 9;
    guest_send(other, NULL);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    other = hdr(1, 2, VSOCK_OP_REQUEST, 0);
    other.type = 2;
    guest_send(other, NULL);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    /* a length larger than the buffer, a packet shorter than a header: dropped */
    memcpy(vt_ptr(&g.e, g.tx_area), &(struct vsock_hdr){ .src_cid = GUEST_CID, .len = 1000 }, VSOCK_HDR_SIZE);
    vt_add_chain(&g.tx, &(struct vt_buf){ g.tx_area, VSOCK_HDR_SIZE + 10, false }, 1);
    vt_add_chain(&g.tx, &(struct vt_buf){ g.tx_area, 20, false }, 1);
    vt_kick(&g.tx);
    vt_run(&g.e);
    CHECK(!guest_recv(&h, NULL));
    CHECK(!(vt_read32(&g.e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    /* an RX buffer too small for a header: the device needs a reset */
    guest_send(hdr(1, 2, VSOCK_OP_RW, 0), NULL); /* RST owed, but RX has buffers: fine */
    CHECK(guest_recv(&h, NULL));
    guest_down();
}

static void test_small_rx_buffer_needs_reset(void)
{
    guest_up();
    /* use up the posted RX buffers */
    for (int i = 0; i < RXN; i++)
        guest_send(hdr(1, (uint32_t)(100 + i), VSOCK_OP_RW, 0), NULL);
    struct vsock_hdr h;
    uint32_t id, len;
    int got = 0;
    while (vt_get_used(&g.rx, &id, &len))
        got++;
    CHECK_EQ(got, RXN);
    /* the next reply is pending; the guest offers a 10-byte buffer */
    guest_send(hdr(1, 999, VSOCK_OP_RW, 0), NULL);
    vt_add_chain(&g.rx, &(struct vt_buf){ g.tx_area, 10, true }, 1);
    vt_kick(&g.rx);
    vt_run(&g.e);
    CHECK(vt_read32(&g.e, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    (void)h;
    guest_down();
}

static void test_credit_limits_host_to_guest(void)
{
    guest_up();
    int lfd = host_listen(5001);
    struct vsock_hdr req = hdr(41000, 5001, VSOCK_OP_REQUEST, 0);
    req.buf_alloc = 4096; /* the guest can only take 4 KiB */
    guest_send(req, NULL);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
    int fd = accept(lfd, NULL, NULL);
    static char big[10000];
    memset(big, 'x', sizeof big);
    CHECK_EQ(write(fd, big, sizeof big), (ssize_t)sizeof big);
    vt_run(&g.e);
    uint32_t total = 0;
    while (guest_recv(&h, NULL)) {
        CHECK_EQ(h.op, VSOCK_OP_RW);
        total += h.len;
    }
    CHECK_EQ(total, 4096);
    /* the guest consumed it: a credit update lets more through */
    struct vsock_hdr cu = hdr(41000, 5001, VSOCK_OP_CREDIT_UPDATE, 0);
    cu.buf_alloc = 4096;
    cu.fwd_cnt = 4096;
    guest_send(cu, NULL);
    while (guest_recv(&h, NULL))
        total += h.len;
    CHECK_EQ(total, 8192);
    /* a credit request is answered with our counters */
    struct vsock_hdr cr = hdr(41000, 5001, VSOCK_OP_CREDIT_REQUEST, 0);
    cr.buf_alloc = 4096;
    cr.fwd_cnt = 4096; /* still only 4 KiB of room */
    guest_send(cr, NULL);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_CREDIT_UPDATE);
    CHECK(!guest_recv(&h, NULL));
    close(fd);
    close(lfd);
    guest_down();
}

static void test_backpressure_guest_to_host(void)
{
    guest_up();
    int lfd = host_listen(5002);
    guest_send(hdr(42000, 5002, VSOCK_OP_REQUEST, 0), NULL);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    int fd = accept(lfd, NULL, NULL);
    /* the host does not read; the guest sends exactly its credit: all taken, no RST */
    static uint8_t chunk[65536];
    uint32_t sent = 0;
    for (int i = 0; sent < VSOCK_BUF_ALLOC; i++) {
        for (size_t j = 0; j < sizeof chunk; j++)
            chunk[j] = (uint8_t)(sent + j);
        guest_send(hdr(42000, 5002, VSOCK_OP_RW, sizeof chunk), chunk);
        sent += sizeof chunk;
    }
    while (guest_recv(&h, NULL))
        CHECK(h.op != VSOCK_OP_RST);
    /* now the host reads everything: intact, in order, and the guest hears of the credit */
    static uint8_t got[VSOCK_BUF_ALLOC];
    uint32_t n = 0;
    bool intact = true, credit = false;
    for (int spins = 0; n < VSOCK_BUF_ALLOC && spins < 10000; spins++) {
        ssize_t r = host_read(fd, got + n, sizeof got - n);
        if (r > 0)
            n += (uint32_t)r;
        vt_run(&g.e);
        while (guest_recv(&h, NULL))
            credit |= h.op == VSOCK_OP_CREDIT_UPDATE && h.fwd_cnt > 0;
    }
    CHECK_EQ(n, VSOCK_BUF_ALLOC);
    for (uint32_t i = 0; i < n; i++)
        intact &= got[i] == (uint8_t)i;
    CHECK(intact);
    CHECK(credit);
    /* a guest ignoring credit while the host stops reading gets RST, VMM buffer stays bounded */
    bool rst = false;
    for (int i = 0; i < 64 && !rst; i++) {
        guest_send(hdr(42000, 5002, VSOCK_OP_RW, sizeof chunk), chunk);
        while (guest_recv(&h, NULL))
            rst |= h.op == VSOCK_OP_RST;
    }
    CHECK(rst);
    close(fd);
    close(lfd);
    guest_down();
}

/* A bulk transfer each way through one connection, with a checksum. */
static void test_bulk_both_ways(void)
{
    guest_up();
    uint32_t hp;
    int fd = host_to_guest(2000, &hp);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    const uint64_t total = 8u << 20;
    uint64_t host_sent = 0, guest_got = 0, guest_fwd = 0, sum_out = 0, sum_in = 0;
    static uint8_t buf[65536];
    struct vsock_hdr h;
    static uint8_t payload[4096];
    /* host → guest */
    while (guest_got < total) {
        if (host_sent < total) {
            for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (uint8_t)((host_sent + i) * 31);
            size_t want = total - host_sent < sizeof buf ? (size_t)(total - host_sent) : sizeof buf;
            ssize_t w = write(fd, buf, want);
            if (w > 0) {
                for (ssize_t i = 0; i < w; i++)
                    sum_out += buf[i] * (host_sent + (uint64_t)i + 1);
                host_sent += (uint64_t)w;
            }
        }
        vt_run(&g.e);
        int got_any = 0;
        while (guest_recv(&h, payload)) {
            got_any++;
            if (h.op != VSOCK_OP_RW)
                continue;
            for (uint32_t i = 0; i < h.len; i++)
                sum_in += payload[i] * (guest_got + i + 1);
            guest_got += h.len;
            guest_fwd += h.len;
        }
        /* like a guest kernel: tell the device what we consumed */
        struct vsock_hdr cu = hdr(2000, hp, VSOCK_OP_CREDIT_UPDATE, 0);
        cu.buf_alloc = 256 * 1024;
        cu.fwd_cnt = (uint32_t)guest_fwd;
        guest_send(cu, NULL);
        if (!got_any && host_sent == total && guest_got < total)
            vt_run(&g.e);
    }
    CHECK_EQ(guest_got, total);
    CHECK_EQ(sum_in, sum_out);
    /* guest → host, respecting the credit the device advertises */
    uint64_t g_sent = 0, h_got = 0, peer_fwd = 0;
    sum_out = sum_in = 0;
    while (h_got < total) {
        while (g_sent < total && g_sent - peer_fwd + 4096 <= VSOCK_BUF_ALLOC) {
            for (int i = 0; i < 4096; i++) {
                payload[i] = (uint8_t)((g_sent + (uint64_t)i) * 17);
                sum_out += payload[i] * (g_sent + (uint64_t)i + 1);
            }
            guest_send(hdr(2000, hp, VSOCK_OP_RW, 4096), payload);
            g_sent += 4096;
        }
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < r; i++)
                sum_in += buf[i] * (h_got + (uint64_t)i + 1);
            h_got += (uint64_t)r;
        }
        vt_run(&g.e);
        while (guest_recv(&h, NULL)) {
            CHECK(h.op != VSOCK_OP_RST);
            if (h.fwd_cnt > (uint32_t)peer_fwd || (uint32_t)peer_fwd - h.fwd_cnt > (1u << 31))
                peer_fwd = h.fwd_cnt; /* 32-bit counter, total fits */
        }
    }
    CHECK_EQ(h_got, total);
    CHECK_EQ(sum_in, sum_out);
    close(fd);
    guest_down();
}

static void test_many_streams(void)
{
    guest_up();
    enum { N = 64 };
    int fds[N];
    uint32_t hps[N];
    for (int i = 0; i < N; i++) {
        fds[i] = host_connect(g.uds);
        char line[32];
        int n = snprintf(line, sizeof line, "CONNECT %d\n", 3000 + i);
        CHECK_EQ(write(fds[i], line, (size_t)n), n);
    }
    vt_run(&g.e);
    struct vsock_hdr h;
    int requests = 0;
    while (guest_recv(&h, NULL)) {
        CHECK_EQ(h.op, VSOCK_OP_REQUEST);
        hps[h.dst_port - 3000] = h.src_port;
        guest_send(hdr(h.dst_port, h.src_port, VSOCK_OP_RESPONSE, 0), NULL);
        requests++;
    }
    CHECK_EQ(requests, N);
    for (int i = 0; i < N; i++) {
        char ok[32], want[32];
        int n = snprintf(want, sizeof want, "OK %u\n", hps[i]);
        CHECK_EQ(host_read(fds[i], ok, (size_t)n), n);
        char msg[32];
        int m = snprintf(msg, sizeof msg, "stream %d", i);
        CHECK_EQ(write(fds[i], msg, (size_t)m), m);
    }
    vt_run(&g.e);
    int echoed = 0;
    char payload[4096];
    while (guest_recv(&h, payload)) {
        if (h.op != VSOCK_OP_RW)
            continue;
        char want[32];
        int m = snprintf(want, sizeof want, "stream %u", h.dst_port - 3000);
        CHECK(h.len == (uint32_t)m && memcmp(payload, want, (size_t)m) == 0);
        guest_send(hdr(h.dst_port, h.src_port, VSOCK_OP_RW, h.len), payload);
        echoed++;
    }
    CHECK_EQ(echoed, N);
    for (int i = 0; i < N; i++) {
        char buf[64] = { 0 }, want[32];
        int m = snprintf(want, sizeof want, "stream %d", i);
        CHECK_EQ(host_read(fds[i], buf, sizeof buf), m);
        CHECK(memcmp(buf, want, (size_t)m) == 0);
    }
    /* a driver reset closes every connection */
    vt_write32(&g.e, 0, VIRTIO_MMIO_STATUS, 0);
    vt_run(&g.e);
    int closed = 0;
    for (int i = 0; i < N; i++) {
        char buf[8];
        closed += host_read(fds[i], buf, sizeof buf) == 0;
        close(fds[i]);
    }
    CHECK_EQ(closed, N);
    guest_down();
}

static void test_connect_before_driver_ok(void)
{
    /* a host client connecting before the guest driver is up waits for it (Firecracker #1253) */
    strcpy(g.dir, "/tmp/silo-test-vsock-XXXXXX");
    CHECK(mkdtemp(g.dir) != NULL);
    snprintf(g.uds, sizeof g.uds, "%s/v.sock", g.dir);
    struct vmm_config cfg = { .vsock_cid = GUEST_CID, .vsock_uds = g.uds };
    CHECK_EQ(vt_env_init(&g.e, &cfg), 0);
    int fd = host_connect(g.uds);
    CHECK_EQ(write(fd, "CONNECT 5\n", 10), 10);
    vt_run(&g.e);
    vt_queue_alloc(&g.e, &g.rx, 0, VSOCK_QUEUE_RX, QSIZE);
    vt_queue_alloc(&g.e, &g.tx, 0, VSOCK_QUEUE_TX, QSIZE);
    vt_queue_alloc(&g.e, &g.ev, 0, VSOCK_QUEUE_EVENT, QSIZE);
    for (int i = 0; i < 4; i++)
        rx_post(vt_alloc(&g.e, RXBUF, 8));
    struct vt_queue qs[3] = { g.rx, g.tx, g.ev };
    CHECK(vt_device_up(&g.e, 0, VIRTIO_BIT(VIRTIO_F_VERSION_1), qs, 3) & VIRTIO_STATUS_DRIVER_OK);
    g.tx_area = vt_alloc(&g.e, VSOCK_HDR_SIZE + 65536, 8);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_REQUEST);
    CHECK_EQ(h.dst_port, 5);
    close(fd);
    guest_down();
}

static void test_connect_timeout(void)
{
    setenv("SILO_VSOCK_CONNECT_TIMEOUT_MS", "100", 1);
    guest_up();
    unsetenv("SILO_VSOCK_CONNECT_TIMEOUT_MS");
    int fd = host_connect(g.uds);
    CHECK_EQ(write(fd, "CONNECT 8\n", 10), 10);
    vt_run(&g.e);
    struct vsock_hdr h;
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_REQUEST);
    uint32_t hp = h.src_port;
    /* the guest never answers */
    char buf[16];
    CHECK_EQ(host_read(fd, buf, sizeof buf), -1);
    for (int i = 0; i < 20 && host_read(fd, buf, sizeof buf) != 0; i++) {
        usleep(20000);
        vt_run(&g.e);
    }
    CHECK_EQ(host_read(fd, buf, sizeof buf), 0);
    CHECK(guest_recv(&h, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    CHECK_EQ(h.src_port, hp);
    close(fd);
    guest_down();
}

static void test_uds_path_not_a_socket(void)
{
    char dir[] = "/tmp/silo-test-vsock-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/precious", dir);
    FILE *f = fopen(path, "w");
    fputs("keep me", f);
    fclose(f);
    struct vmm_config cfg = { .vsock_cid = GUEST_CID, .vsock_uds = path };
    struct vt_env e;
    CHECK(vt_env_init(&e, &cfg) < 0);
    vt_env_fini(&e);
    char buf[16] = { 0 };
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(buf, sizeof buf, f) != NULL && strcmp(buf, "keep me") == 0);
    if (f != NULL)
        fclose(f);
    unlink(path);
    rmdir(dir);
    /* and a CID below 3 is refused */
    struct vmm_config bad = { .vsock_cid = 2, .vsock_uds = "/tmp/x" };
    CHECK_EQ(vt_env_init(&e, &bad), -EINVAL);
    vt_env_fini(&e);
}

/* The guest of a snapshot can still hold sockets of the host ports used before it (closing,
 * or reset by the transport-reset event but not yet closed): a restored device must not hand
 * those ports out again, or the guest answers the REQUEST with RST. */
static void test_restore_uses_fresh_host_ports(void)
{
    guest_up();
    uint32_t before;
    int fd = host_to_guest(5, &before);
    CHECK_EQ(before, VSOCK_HOST_PORT_FIRST);
    struct state_writer w;
    state_writer_init(&w);
    char err[200];
    CHECK_EQ(virtio_devices_save(0, &w, -1, err, sizeof err), 0);
    CHECK_EQ(virtio_devices_restore(0, w.data, w.len, -1, err, sizeof err), 0);
    state_writer_free(&w);
    uint32_t after;
    int fd2 = host_to_guest(5, &after);
    CHECK_EQ(after, VSOCK_HOST_PORT_AFTER_RESTORE);
    CHECK(after > before);
    close(fd);
    close(fd2);
    guest_down();
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a guest half-close (SHUTDOWN SEND) reaches the host as EOF; the host still sends", test_guest_half_close },
        { "vsock: CONNECT <port> -> REQUEST, RESPONSE -> OK <hostport>, data both ways, close", test_host_connect_handshake_and_data },
        { "vsock: connect is case-insensitive, may be split, keeps trailing data; bad lines close", test_connect_line_variants },
        { "vsock: host CONNECT to a guest port nobody listens on: EOF, no OK", test_host_connect_nobody_listening },
        { "vsock: guest connect to PATH_P, data, SHUTDOWN flushes then RST, guest RST closes", test_guest_connect_and_close },
        { "vsock: guest connect with nobody at PATH_P gets RST", test_guest_connect_nobody_listening },
        { "vsock: a host socket that hangs up while idle does not spin the loop", test_host_hangup_does_not_spin },
        { "vsock: out of descriptors, the listener pauses instead of spinning, then resumes", test_out_of_descriptors_does_not_spin },
        { "vsock: hostile packets (unknown conn, spoofed cid, other cid/type, bad lengths)", test_hostile_packets },
        { "vsock: an RX buffer smaller than a header: DEVICE_NEEDS_RESET", test_small_rx_buffer_needs_reset },
        { "vsock: host->guest limited by the guest's credit; credit update/request", test_credit_limits_host_to_guest },
        { "vsock: slow host reader: buffered within credit, intact, credit returned; over-credit -> RST", test_backpressure_guest_to_host },
        { "vsock: 8 MiB each way through one stream, checksums match", test_bulk_both_ways },
        { "vsock: 64 concurrent streams echo their own data; reset closes them all", test_many_streams },
        { "vsock: CONNECT before the driver is up is served at DRIVER_OK", test_connect_before_driver_ok },
        { "vsock: a CONNECT the guest never answers times out: host EOF, RST to the guest", test_connect_timeout },
        { "vsock: after a restore, host ports start above every port used before the snapshot", test_restore_uses_fresh_host_ports },
        { "vsock: --vsock-uds naming a regular file fails and leaves it alone; CID < 3 refused", test_uds_path_not_a_socket },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
