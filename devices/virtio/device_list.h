/* devices/virtio/device_list.h — the registry of virtio device models: one line per device.
 *
 * virtio_devices_create walks this list in order; each type decides from the vmm_config how
 * many instances it wants (blk: one per --disk, vsock: one if --vsock-cid, rng: one if --rng),
 * and each instance gets the next virtio-mmio slot. To add a device, write one file that
 * defines `const struct virtio_device_type NAME` (see devices/README.md) and add one line here.
 */
VIRTIO_DEVICE(virtio_blk_type)
VIRTIO_DEVICE(virtio_vsock_type)
VIRTIO_DEVICE(virtio_rng_type)
