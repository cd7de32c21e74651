# vmm/build.mk — what vmm/ builds (see the top Makefile for the variables).

# silo-vmm: the VMM (static arm64). Our platform devices live in devices/ but are listed here so
# that devices/build.mk stays the virtio side's; VIRTIO_SRCS (devices/build.mk) joins when defined.
VMM_DEVICE_SRCS := devices/uart_8250.c devices/rtc_pl031.c devices/boot_marker.c
ARM64_PROGRAMS += silo-vmm
silo-vmm_SRCS := vmm/main.c vmm/cli.c vmm/vm.c vmm/console.c vmm/sandbox.c vmm/crash_wipe.c vmm/guest_mem.c vmm/mmio_bus.c vmm/event_loop.c \
                 $(BOOT_SRCS) $(VMM_DEVICE_SRCS) $(VIRTIO_SRCS)
silo-vmm_LIBS := -lfdt -ljson-c -lz -lpthread

UNIT_TESTS += test_guest_mem test_mmio_bus test_event_loop test_uart test_rtc test_boot_marker test_cli test_sandbox test_crash_wipe
test_guest_mem_SRCS := tests/unit/test_guest_mem.c vmm/guest_mem.c
test_mmio_bus_SRCS := tests/unit/test_mmio_bus.c vmm/mmio_bus.c
test_event_loop_SRCS := tests/unit/test_event_loop.c vmm/event_loop.c vmm/crash_wipe.c
test_event_loop_LIBS := -lpthread
test_uart_SRCS := tests/unit/test_uart.c devices/uart_8250.c
test_uart_LIBS := -lpthread
test_rtc_SRCS := tests/unit/test_rtc.c devices/rtc_pl031.c
test_rtc_LIBS := -lpthread
test_boot_marker_SRCS := tests/unit/test_boot_marker.c devices/boot_marker.c
test_cli_SRCS := tests/unit/test_cli.c vmm/cli.c
test_cli_LIBS := -ljson-c
test_sandbox_SRCS := tests/unit/test_sandbox.c vmm/sandbox.c
test_sandbox_LIBS := -lpthread
test_crash_wipe_SRCS := tests/unit/test_crash_wipe.c vmm/crash_wipe.c

FUZZERS += fuzz_uart
fuzz_uart_SRCS := tests/fuzz/fuzz_uart.c devices/uart_8250.c
fuzz_uart_LIBS := -lpthread
