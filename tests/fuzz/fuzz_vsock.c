/* tests/fuzz/fuzz_vsock.c — libFuzzer target for virtio-vsock packet handling: fuzz-built TX
 * chains (headers, payloads, ops, ports, credit fields) against a real device bridged to Unix
 * sockets in a temporary directory, where `<uds>_1` has a listener so that connections can be
 * established and carry data. RX buffers are well formed so every reply has somewhere to go. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/virtio_vsock.h"
#include "tests/fuzz/fuzz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vt_env env;
static int listener = -1;
static char uds[64], uds_1[80];
static char dir[] = "/tmp/silo-fuzz-vsock-XXXXXX";

static void cleanup(void)
{
    vt_env_fini(&env); /* removes uds */
    close(listener);
    unlink(uds_1);
    rmdir(dir);
}

static void setup(void)
{
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(uds, sizeof uds, "%s/v.sock", dir);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(uds_1, sizeof uds_1, "%s_1", uds);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", uds_1);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(listener, 256) != 0)
        abort();
    struct vmm_config cfg = { .vsock_cid = 3, .vsock_uds = uds };
    if (vt_env_init(&env, &cfg) != 0)
        abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (listener < 0)
        setup();
    if (size < 1)
        return 0;
    env.next_alloc = VT_RAM_BASE;
    struct vt_queue qs[3];
    vt_queue_alloc(&env, &qs[1], 0, VSOCK_QUEUE_TX, FUZZ_QSIZE);
    vt_queue_alloc(&env, &qs[0], 0, VSOCK_QUEUE_RX, FUZZ_QSIZE);
    vt_queue_alloc(&env, &qs[2], 0, VSOCK_QUEUE_EVENT, FUZZ_QSIZE);
    uint64_t features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | ((data[0] & 1) ? VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) : 0) |
                        ((data[0] & 2) ? VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) : 0);
    if (!(vt_device_up(&env, 0, features, qs, 3) & VIRTIO_STATUS_DRIVER_OK))
        return 0;
    /* the TX queue's table is at the start of RAM (allocated first): fill it from the input */
    uint64_t rxbufs = vt_alloc(&env, FUZZ_QSIZE * 4096ULL, 8);
    for (int i = 0; i < FUZZ_QSIZE; i++)
        vt_add_chain(&qs[0], &(struct vt_buf){ rxbufs + 4096ULL * i, 4096, true }, 1);
    if (fuzz_load_queue(&env, &qs[1], data + 1, size - 1) <= 0)
        return 0;
    vt_kick(&qs[0]);
    vt_kick(&qs[1]);
    if (vt_run(&env) < 0)
        abort(); /* a handler keeps an fd ready: the loop would spin */
    /* the host side takes what arrived, then everything is torn down by the next reset */
    int fd;
    while ((fd = accept(listener, NULL, NULL)) >= 0) {
        char buf[4096];
        while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
        close(fd);
    }
    if (vt_run(&env) < 0)
        abort(); /* a handler keeps an fd ready: the loop would spin */
    uint32_t id, len;
    while (vt_get_used(&qs[0], &id, &len))
        if (len > 4096)
            abort();
    return 0;
}
