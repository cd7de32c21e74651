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

# hostile-guest.bin: a raw payload (no Linux) that attacks every virtio device through its queues
# and registers, run by tests/e2e/hostile_guest.sh. Freestanding, linked at 0x80080000, then
# objcopy'd to a flat binary that silo-vmm loads as a headerless kernel.
HOSTILE_GUEST_CFLAGS := -std=c17 -O2 -Wall -Wextra -Werror -Wmissing-prototypes -ffreestanding \
    -fno-pic -fno-stack-protector -mgeneral-regs-only -mstrict-align -fno-asynchronous-unwind-tables
$(BUILD)/arm64/obj/hostile-guest.elf: tests/e2e/progs/hostile_guest.c tests/e2e/progs/hostile_guest.ld
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(HOSTILE_GUEST_CFLAGS) -nostdlib -static -Wl,--build-id=none \
	    -Wl,-T,tests/e2e/progs/hostile_guest.ld tests/e2e/progs/hostile_guest.c -o $@
$(BUILD)/arm64/bin/hostile-guest.bin: $(BUILD)/arm64/obj/hostile-guest.elf
	@mkdir -p $(dir $@)
	aarch64-linux-gnu-objcopy -O binary $< $@
programs: $(BUILD)/arm64/bin/hostile-guest.bin
