# guest/build.mk — what guest/ builds (see the top Makefile for the variables).

# tiny-init: PID 1 of build/guest/tiny-initrd.cpio, for bare boot tests and benchmarks
ARM64_PROGRAMS += tiny-init
tiny-init_SRCS := guest/tiny-init/init.c guest/init/boot_marker.c

# silo-init: PID 1 of every agent microVM (/silo/init in each image, see guest/init/init.c)
ARM64_PROGRAMS += silo-init
silo-init_SRCS := guest/init/init.c guest/init/boot_marker.c

# agentd: starts the agent, bridges vsock 8080/8000/9000 to it, control protocol on 1024
AGENTD_SRCS := guest/agentd/agentd.c guest/agentd/bridge.c guest/agentd/probe.c \
               guest/agentd/agent_config.c guest/agentd/control_proto.c
ARM64_PROGRAMS += silo-agentd
silo-agentd_SRCS := $(AGENTD_SRCS)
silo-agentd_LIBS := -ljson-c -lpthread
# the same agentd on the host (listens on TCP with --tcp-offset), for tests without a VM
HOST_PROGRAMS += silo-agentd
silo-agentd_LIBS := -ljson-c -lpthread

UNIT_TESTS += test_agentd_proto
test_agentd_proto_SRCS := tests/unit/test_agentd_proto.c guest/agentd/control_proto.c
UNIT_TESTS += test_agent_config
test_agent_config_SRCS := tests/unit/test_agent_config.c guest/agentd/agent_config.c guest/agentd/probe.c
test_agent_config_LIBS := -ljson-c

# fuzzing what agentd and silod parse: control lines and /ping answers
FUZZERS += fuzz_agentd_proto
fuzz_agentd_proto_SRCS := tests/fuzz/fuzz_agentd_proto.c guest/agentd/control_proto.c guest/agentd/probe.c
fuzz_agentd_proto_LIBS := -ljson-c
