/* devices/virtio/virtio_vsock.h — virtio-vsock constants (spec 5.10) shared by the device,
 * its unit tests and fuzzer. The device is created by the registry (virtio_vsock_type) when
 * --vsock-cid is given; see virtio_vsock.c for the host-side convention.
 */
#ifndef SILO_DEVICES_VIRTIO_VIRTIO_VSOCK_H
#define SILO_DEVICES_VIRTIO_VIRTIO_VSOCK_H

#include <stdint.h>

#define VSOCK_HOST_CID 2

#define VSOCK_QUEUE_RX 0
#define VSOCK_QUEUE_TX 1
#define VSOCK_QUEUE_EVENT 2

#define VSOCK_TYPE_STREAM 1

#define VSOCK_OP_REQUEST 1
#define VSOCK_OP_RESPONSE 2
#define VSOCK_OP_RST 3
#define VSOCK_OP_SHUTDOWN 4
#define VSOCK_OP_RW 5
#define VSOCK_OP_CREDIT_UPDATE 6
#define VSOCK_OP_CREDIT_REQUEST 7

#define VSOCK_EVENT_TRANSPORT_RESET 0u /* the event queue's only event (spec 5.10.6.8) */

#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u

#define VSOCK_HDR_SIZE 44
#define VSOCK_BUF_ALLOC (256u * 1024)   /* receive buffer we advertise per connection */
#define VSOCK_MAX_PKT_PAYLOAD 65536u    /* largest RW payload we put into one RX buffer */
#define VSOCK_MAX_CONNS 1024
#define VSOCK_HOST_PORT_FIRST (1u << 30) /* host ports for CONNECT, as Firecracker allocates */
/* A restored VM's host ports start here, above every port the VM that took the snapshot can
 * have used (it would need 2^29 connections to get there): the guest can still hold sockets
 * from before the snapshot (closing ones wait up to 8 s for the peer's RST; reset ones until
 * their owner closes them), and a REQUEST reusing one of their port pairs is answered with RST. */
#define VSOCK_HOST_PORT_AFTER_RESTORE (VSOCK_HOST_PORT_FIRST + (1u << 29))
#define VSOCK_CONNECT_TIMEOUT_MS 5000u   /* the guest must answer a host CONNECT's REQUEST */

struct vsock_hdr {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint32_t len;
    uint16_t type;
    uint16_t op;
    uint32_t flags;
    uint32_t buf_alloc;
    uint32_t fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_SIZE, "virtio_vsock_hdr is 44 bytes");

#endif
