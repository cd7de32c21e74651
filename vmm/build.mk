# vmm/build.mk — what vmm/ builds (see the top Makefile for the variables).

# silo-vmm: the VMM (static arm64), over base/ (BASE_SRCS), boot/ (BOOT_SRCS) and the devices
# (PLATFORM_SRCS, VIRTIO_SRCS from devices/build.mk).
ARM64_PROGRAMS += silo-vmm
silo-vmm_SRCS := vmm/main.c vmm/cli.c vmm/vm.c vmm/console.c vmm/sandbox.c vmm/crash_wipe.c \
                 vmm/vm_state.c vmm/snapshot.c vmm/snapshot_file.c \
                 $(BASE_SRCS) $(BOOT_SRCS) $(PLATFORM_SRCS) $(VIRTIO_SRCS)
silo-vmm_LIBS := -lfdt -ljson-c -lz -lpthread

UNIT_TESTS += test_cli test_sandbox test_crash_wipe
test_cli_SRCS := tests/unit/test_cli.c vmm/cli.c
test_cli_LIBS := -ljson-c
test_sandbox_SRCS := tests/unit/test_sandbox.c vmm/sandbox.c
test_sandbox_LIBS := -lpthread
test_crash_wipe_SRCS := tests/unit/test_crash_wipe.c vmm/crash_wipe.c
