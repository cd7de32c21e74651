/* devices/virtio/virtio_rng.c — virtio-rng (device ID 4): entropy for the guest from the host's
 * getrandom(2). One queue; every buffer the driver offers is filled (device-writable part,
 * at most RNG_MAX_PER_REQUEST bytes) and returned. Requests with no writable part are
 * returned with 0 bytes. This file is the worked example in devices/README.md.
 */
#include <sys/random.h>

#include "devices/virtio/virtio_device_type.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_PER_REQUEST 65536 /* bounds the time one request takes on the loop thread */

/* Fills the writable segments of one chain; returns the bytes written. */
static uint32_t fill_random(const struct virtq_chain *c)
{
    uint32_t done = 0;
    for (int i = c->readable; i < c->readable + c->writable && done < RNG_MAX_PER_REQUEST; i++) {
        size_t want = c->iov[i].iov_len;
        if (want > RNG_MAX_PER_REQUEST - done)
            want = RNG_MAX_PER_REQUEST - done;
        ssize_t got = getrandom(c->iov[i].iov_base, want, 0);
        if (got <= 0)
            break;
        done += (uint32_t)got;
        if ((size_t)got < want)
            break;
    }
    return done;
}

static void rng_queue_notify(struct virtio_mmio *t, uint16_t q)
{
    struct virtq *vq = &t->queues[q];
    struct virtq_chain chain;
    int r;

    do {
        while ((r = virtq_pop(vq, &chain)) > 0)
            virtq_push(vq, chain.head, fill_random(&chain));
        if (r < 0) {
            virtio_mmio_fail(t, "malformed descriptor chain");
            return;
        }
        virtio_mmio_signal_used(t, q);
    } while (virtq_enable_kicks(vq));
}

static const struct virtio_device_ops rng_ops = {
    .queue_notify = rng_queue_notify,
};

static uint32_t rng_instances(const struct vmm_config *cfg)
{
    return cfg->rng ? 1 : 0;
}

static int rng_create(struct virtio_mmio *t, const struct vmm_config *cfg, uint32_t index,
                      const struct vm_services *svc)
{
    (void)cfg;
    (void)index;
    (void)svc;
    t->name = "virtio-rng";
    t->device_id = VIRTIO_ID_RNG;
    t->num_queues = 1;
    t->queue_max_size = RNG_QUEUE_SIZE;
    t->ops = &rng_ops;
    return 0;
}

const struct virtio_device_type virtio_rng_type = {
    .name = "virtio-rng",
    .instances = rng_instances,
    .create = rng_create,
};
