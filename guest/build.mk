# guest/build.mk — what guest/ builds (see the top Makefile for the variables).

# tiny-init: PID 1 of build/guest/tiny-initrd.cpio, for bare boot tests and benchmarks
ARM64_PROGRAMS += tiny-init
tiny-init_SRCS := guest/tiny-init/init.c guest/init/boot_marker.c

# silo-init: PID 1 of every agent microVM (/silo/init in each image, see guest/init/init.c)
ARM64_PROGRAMS += silo-init
silo-init_SRCS := guest/init/init.c guest/init/boot_marker.c

# agentd: starts the agent, bridges vsock 8080/8000/9000 to it, control protocol on 1024, and
# the agent's way out: proxy 3128, DNS stub 53, transparent 80/443, credentials 1338, API 1339
AGENTD_EGRESS_SRCS := guest/agentd/proxy_request.c guest/agentd/http_head.c guest/agentd/host_name.c \
                      guest/agentd/dns_stub.c guest/agentd/synth_names.c guest/agentd/host_channel.c \
                      guest/agentd/egress_client.c guest/agentd/egress_proxy.c guest/agentd/relay.c \
                      guest/agentd/credentials_server.c guest/agentd/kernel_cmdline.c \
                      guest/agentd/guest_env.c guest/agentd/guest_services.c
AGENTD_SRCS := guest/agentd/agentd.c guest/agentd/bridge.c guest/agentd/probe.c \
               guest/agentd/agent_config.c guest/agentd/control_proto.c guest/agentd/command_exec.c \
               $(AGENTD_EGRESS_SRCS)
ARM64_PROGRAMS += silo-agentd
silo-agentd_SRCS := $(AGENTD_SRCS)
silo-agentd_LIBS := -ljson-c -lpthread
# the same agentd on the host (listens on TCP with --tcp-offset), for tests without a VM
HOST_PROGRAMS += silo-agentd
silo-agentd_LIBS := -ljson-c -lpthread

UNIT_TESTS += test_agentd_proto
test_agentd_proto_SRCS := tests/unit/test_agentd_proto.c guest/agentd/control_proto.c
# EXEC (InvokeAgentRuntimeCommand in the guest): real /bin/sh commands over a socket pair
UNIT_TESTS += test_command_exec
test_command_exec_SRCS := tests/unit/test_command_exec.c guest/agentd/command_exec.c guest/agentd/control_proto.c
test_command_exec_LIBS := -lpthread
UNIT_TESTS += test_agent_config
test_agent_config_SRCS := tests/unit/test_agent_config.c guest/agentd/agent_config.c guest/agentd/probe.c
test_agent_config_LIBS := -ljson-c

# fuzzing what agentd and silod parse: control lines and /ping answers
FUZZERS += fuzz_agentd_proto
fuzz_agentd_proto_SRCS := tests/fuzz/fuzz_agentd_proto.c guest/agentd/control_proto.c guest/agentd/probe.c
fuzz_agentd_proto_LIBS := -ljson-c

# the agent's way out: proxy request heads, the DNS stub, their fuzzers, and agentd end to end
UNIT_TESTS += test_proxy_request
test_proxy_request_SRCS := tests/unit/test_proxy_request.c guest/agentd/proxy_request.c \
                           guest/agentd/http_head.c guest/agentd/host_name.c
UNIT_TESTS += test_dns_stub
test_dns_stub_SRCS := tests/unit/test_dns_stub.c guest/agentd/dns_stub.c guest/agentd/synth_names.c \
                      guest/agentd/host_name.c
test_dns_stub_LIBS := -lpthread
UNIT_TESTS += test_agentd_egress
test_agentd_egress_SRCS := tests/unit/test_agentd_egress.c
test_agentd_egress_LIBS := -lpthread
$(BUILD)/unit/test_agentd_egress: | $(BUILD)/host/bin/silo-agentd
FUZZERS += fuzz_proxy_request
fuzz_proxy_request_SRCS := tests/fuzz/fuzz_proxy_request.c guest/agentd/proxy_request.c \
                           guest/agentd/http_head.c guest/agentd/host_name.c
FUZZERS += fuzz_dns_stub
fuzz_dns_stub_SRCS := tests/fuzz/fuzz_dns_stub.c guest/agentd/dns_stub.c guest/agentd/synth_names.c \
                      guest/agentd/host_name.c
fuzz_dns_stub_LIBS := -lpthread
UNIT_TESTS += test_egress_parts
test_egress_parts_SRCS := tests/unit/test_egress_parts.c guest/agentd/egress_client.c guest/agentd/host_channel.c \
                          guest/agentd/credentials_server.c guest/agentd/http_head.c guest/agentd/kernel_cmdline.c \
                          guest/agentd/guest_env.c guest/agentd/host_name.c
test_egress_parts_LIBS := -ljson-c -lpthread
