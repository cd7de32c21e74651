# base/build.mk — what base/ builds (see the top Makefile for the variables).

# The ground floor under vmm/, devices/ and boot/: guest memory, the MMIO bus, the event loop,
# and the shared config and error types (headers). It includes nothing from above it.
BASE_SRCS := base/guest_mem.c base/memfd_wipe.c base/mmio_bus.c base/event_loop.c base/state_buf.c

UNIT_TESTS += test_guest_mem test_mmio_bus test_event_loop
test_guest_mem_SRCS := tests/unit/test_guest_mem.c base/guest_mem.c base/memfd_wipe.c
test_mmio_bus_SRCS := tests/unit/test_mmio_bus.c base/mmio_bus.c
test_event_loop_SRCS := tests/unit/test_event_loop.c base/event_loop.c
test_event_loop_LIBS := -lpthread

# Shared by every program, host and guest (not only the VMM): header-only helpers (mono_time.h,
# eventfd_util.h, small_file.h; error_message.h above) and the one SigV4 canonicaliser
# (sigv4_canon.c, -lcrypto; frontend/build.mk and tools/build.mk link it). base/README.md.
UNIT_TESTS += test_base_util
test_base_util_SRCS := tests/unit/test_base_util.c
