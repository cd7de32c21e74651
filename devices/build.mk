# devices/build.mk — what devices/ builds (see the top Makefile for the variables).
#
# The platform devices every microVM has (registered in devices/platform_device_list.h).
PLATFORM_SRCS := devices/platform_devices.c devices/uart_8250.c devices/rtc_pl031.c devices/boot_marker.c

UNIT_TESTS += test_uart test_rtc test_boot_marker test_platform_devices
test_uart_SRCS := tests/unit/test_uart.c devices/uart_8250.c base/state_buf.c
test_uart_LIBS := -lpthread
test_rtc_SRCS := tests/unit/test_rtc.c devices/rtc_pl031.c base/state_buf.c base/event_loop.c
test_rtc_LIBS := -lpthread
test_boot_marker_SRCS := tests/unit/test_boot_marker.c devices/boot_marker.c
test_platform_devices_SRCS := tests/unit/test_platform_devices.c $(PLATFORM_SRCS) base/mmio_bus.c base/state_buf.c base/event_loop.c
test_platform_devices_LIBS := -lpthread

FUZZERS += fuzz_uart
fuzz_uart_SRCS := tests/fuzz/fuzz_uart.c devices/uart_8250.c base/state_buf.c
fuzz_uart_LIBS := -lpthread

# The virtio side: every file in devices/virtio/ is part of silo-vmm (adding a device is one
# file there plus one line in devices/virtio/device_list.h; see devices/README.md).
VIRTIO_SRCS := $(sort $(wildcard devices/virtio/*.c))
# vmm/build.mk is read first; append whatever of ours it has not listed yet.
VIRTIO_MISSING_FROM_VMM := $(filter-out $(silo-vmm_SRCS),$(VIRTIO_SRCS))
silo-vmm_SRCS += $(VIRTIO_MISSING_FROM_VMM)

VIRTIO_TEST_SRCS := $(VIRTIO_SRCS) $(BASE_SRCS) \
                    tests/unit/virtio_test_driver.c

UNIT_TESTS += test_virtq test_virtio_mmio test_blk test_vsock test_rng
test_virtq_SRCS := tests/unit/test_virtq.c $(VIRTIO_TEST_SRCS)
test_virtq_LIBS := -lpthread
test_virtio_mmio_SRCS := tests/unit/test_virtio_mmio.c $(VIRTIO_TEST_SRCS)
test_virtio_mmio_LIBS := -lpthread
test_blk_SRCS := tests/unit/test_blk.c $(VIRTIO_TEST_SRCS)
test_blk_LIBS := -lpthread
test_vsock_SRCS := tests/unit/test_vsock.c $(VIRTIO_TEST_SRCS)
test_vsock_LIBS := -lpthread
test_rng_SRCS := tests/unit/test_rng.c $(VIRTIO_TEST_SRCS)
test_rng_LIBS := -lpthread

FUZZ_COMMON_SRCS := $(VIRTIO_SRCS) $(BASE_SRCS) tests/unit/virtio_test_driver.c
FUZZERS += fuzz_virtq fuzz_blk fuzz_vsock
fuzz_virtq_SRCS := tests/fuzz/fuzz_virtq.c devices/virtio/virtq.c base/guest_mem.c base/memfd_wipe.c
fuzz_blk_SRCS := tests/fuzz/fuzz_blk.c $(FUZZ_COMMON_SRCS)
fuzz_vsock_SRCS := tests/fuzz/fuzz_vsock.c $(FUZZ_COMMON_SRCS)

# End-to-end test programs (static arm64): the test root filesystem's PID 1, and the vsock tool
# used on both sides (dev host: Unix sockets; microVM: AF_VSOCK).
ARM64_PROGRAMS += blk-guest-init vsock-tool
blk-guest-init_SRCS := tests/e2e/progs/blk_guest_init.c
vsock-tool_SRCS := tests/e2e/progs/vsock_tool.c

# The ext4 root filesystem for tests/e2e/dev_*.sh, shipped to the dev host as /silo/extra/.
DEV_TEST_ROOTFS := $(BUILD)/devhost-extra/silo-test-root.ext4
$(DEV_TEST_ROOTFS): tests/e2e/progs/make-test-rootfs.sh $(BUILD)/arm64/bin/blk-guest-init $(BUILD)/arm64/bin/vsock-tool
	tests/e2e/progs/make-test-rootfs.sh $@ $(BUILD)/arm64/bin
devhost: $(DEV_TEST_ROOTFS)
