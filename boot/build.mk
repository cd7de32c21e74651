# boot/build.mk — what boot/ builds (see the top Makefile for the variables).

# Kernel/initrd/DTB loading and the device tree builder; linked into silo-vmm (vmm/build.mk).
BOOT_SRCS := boot/loader.c boot/devtree.c

UNIT_TESTS += test_loader test_fdt
test_loader_SRCS := tests/unit/test_loader.c boot/loader.c base/guest_mem.c base/memfd_wipe.c
test_loader_LIBS := -lz
test_fdt_SRCS := tests/unit/test_fdt.c boot/devtree.c
test_fdt_LIBS := -lfdt

FUZZERS += fuzz_loader
fuzz_loader_SRCS := tests/fuzz/fuzz_loader.c boot/loader.c base/guest_mem.c base/memfd_wipe.c
fuzz_loader_LIBS := -lz
