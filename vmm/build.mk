# vmm/build.mk — what vmm/ builds (see the top Makefile for the variables).

# silo-vmm: the VMM (static arm64), over base/ (BASE_SRCS), boot/ (BOOT_SRCS) and the devices
# (PLATFORM_SRCS, VIRTIO_SRCS from devices/build.mk).
ARM64_PROGRAMS += silo-vmm
silo-vmm_SRCS := vmm/main.c vmm/cli.c vmm/vm.c vmm/console.c vmm/sandbox.c vmm/crash_wipe.c vmm/keeper.c vmm/timeline.c vmm/kvm_stats.c \
                 vmm/vm_state.c vmm/snapshot.c vmm/snapshot_file.c vmm/seccomp_filter.c vmm/seccomp_policy.c vmm/test_probe_off.c \
                 $(BASE_SRCS) $(BOOT_SRCS) $(PLATFORM_SRCS) $(VIRTIO_SRCS)
silo-vmm_LIBS := -lfdt -ljson-c -lz -lpthread

# silo-vmm-probe: a TEST-ONLY build of silo-vmm whose threads make a forbidden system call on
# demand (vmm/test_probe.h); tests/e2e/seccomp.sh runs it. Never ship it.
ARM64_PROGRAMS += silo-vmm-probe
silo-vmm-probe_SRCS := $(filter-out vmm/test_probe_off.c,$(silo-vmm_SRCS)) vmm/test_probe.c
silo-vmm-probe_LIBS := $(silo-vmm_LIBS)

UNIT_TESTS += test_cli test_sandbox test_crash_wipe test_timeline test_keeper test_seccomp_filter
test_keeper_SRCS := tests/unit/test_keeper.c vmm/keeper.c base/memfd_wipe.c vmm/seccomp_filter.c vmm/seccomp_policy.c
test_timeline_SRCS := tests/unit/test_timeline.c vmm/timeline.c vmm/kvm_stats.c
test_cli_SRCS := tests/unit/test_cli.c vmm/cli.c
test_cli_LIBS := -ljson-c
SECCOMP_SRCS := vmm/seccomp_filter.c vmm/seccomp_policy.c
test_sandbox_SRCS := tests/unit/test_sandbox.c vmm/sandbox.c vmm/crash_wipe.c vmm/test_probe_off.c $(SECCOMP_SRCS)
test_sandbox_LIBS := -lpthread
test_seccomp_filter_SRCS := tests/unit/test_seccomp_filter.c $(SECCOMP_SRCS)
test_crash_wipe_SRCS := tests/unit/test_crash_wipe.c vmm/crash_wipe.c vmm/seccomp_policy.c

# Snapshots, natively: state encoding, the state file, device state, disk layer, memory file.
UNIT_TESTS += test_snapshot
test_snapshot_SRCS := tests/unit/test_snapshot.c vmm/snapshot_file.c $(PLATFORM_SRCS) $(VIRTIO_TEST_SRCS)
test_snapshot_LIBS := -lz -lpthread

FUZZERS += fuzz_snapshot
fuzz_snapshot_SRCS := tests/fuzz/fuzz_snapshot.c vmm/snapshot_file.c $(PLATFORM_SRCS) $(FUZZ_COMMON_SRCS)
fuzz_snapshot_LIBS := -lz -lpthread

# silo-jail: the jail around one silo-vmm (vmm/jail/README.md): static arm64 for the dev host and
# hosts, and a host build; its pure parts (options, mount plan, cgroup writes, rlimits) unit-tested.
JAIL_SRCS := vmm/jail/jail_cli.c vmm/jail/jail_mounts.c vmm/jail/jail_cgroup.c vmm/jail/jail_identity.c \
             vmm/jail/jail_landlock.c
ARM64_PROGRAMS += silo-jail
HOST_PROGRAMS += silo-jail
silo-jail_SRCS := vmm/jail/silo_jail.c vmm/jail/jail_init.c $(JAIL_SRCS)
UNIT_TESTS += test_jail
test_jail_SRCS := tests/unit/test_jail.c vmm/jail/jail_init.c $(JAIL_SRCS)
