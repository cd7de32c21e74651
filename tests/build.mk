# tests/build.mk — tests that belong to no single component. (The unit-test harness,
# tests/unit/check.c, is linked into every unit test by the top Makefile.)
UNIT_TESTS += test_check
test_check_SRCS := tests/unit/test_check.c

# kvm_smoke: the dev host's first end-to-end check (a VM runs guest code, exits with MMIO)
ARM64_PROGRAMS += kvm-smoke
kvm-smoke_SRCS := tests/e2e/progs/kvm_smoke.c

# silo-model-standin: a STAND-IN model server (HTTPS + HTTP) for the egress tests in the dev host
ARM64_PROGRAMS += silo-model-standin
HOST_PROGRAMS += silo-model-standin
silo-model-standin_SRCS := tests/frontend/devhost/model_standin.c
silo-model-standin_LIBS := -lssl -lcrypto -ljson-c -lpthread

# jail-probe: exec'd under silo-jail in place of silo-vmm by tests/e2e/jail.sh; reports what the
# jailed process can see and do
ARM64_PROGRAMS += jail-probe
jail-probe_SRCS := tests/e2e/progs/jail_probe.c
