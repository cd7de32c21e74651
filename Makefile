# Makefile — Silo's single build entry point.
#
#   make deps     install everything from Debian's packages (tools/deps.sh)
#   make          host programs, arm64 programs (static), unit tests, the guest kernel
#   make test     unit tests (ASan+UBSan, native), fuzzers (FUZZ_SECONDS each), then
#                 end-to-end tests in the dev host; closes with `N passed, N failed`
#   make unit     unit tests only          make e2e     end-to-end tests only
#   make run      silod with a sample runtime deployed (tools/silo up; in the dev host here)
#   make demo     boot the dev host and, inside it, the guest kernel (console on screen)
#   make bench    benchmarks in the dev host, ours beside the peer's
#   make fuzz     libFuzzer targets, FUZZ_SECONDS each (clang)
#   make clang    the whole build again with clang into build/clang (warning check)
#
# Each directory declares what it builds in its own build.mk, with these variables:
#   ARM64_PROGRAMS += name     name_SRCS := ...   name_LIBS := ...   -> build/arm64/bin/name (static)
#                              name_ARM64_LDFLAGS := ... replaces ARM64_LDFLAGS for that program
#                              (e.g. $(ARM64_DYNAMIC_LDFLAGS): linked dynamically against the
#                              sysroot; tools/devhost copies its shared libraries into the dev host)
#   HOST_PROGRAMS  += name     name_SRCS := ...   name_LIBS := ...   -> build/host/bin/name
#   UNIT_TESTS     += name     name_SRCS := ...   name_LIBS := ...   -> build/unit/name (ASan+UBSan)
#   FUZZERS        += name     name_SRCS := ...   name_LIBS := ...   -> build/fuzz/name (libFuzzer)
# Sources are paths from the top directory; headers are included as "dir/file.h".
# Objects and images only ever land under $(BUILD).

BUILD      ?= build
SILO_CACHE ?= $(HOME)/.cache/silo
CC         := $(if $(filter default,$(origin CC)),gcc,$(CC))
CROSS_CC   ?= aarch64-linux-gnu-gcc
FUZZ_CC    ?= clang
FUZZ_SECONDS ?= 20
ARM64_SYSROOT ?= $(SILO_CACHE)/arm64-sysroot

WARNINGS := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
            -Wpointer-arith -Wwrite-strings -Wundef -Wformat=2 -Wold-style-definition \
            -Wredundant-decls -Wvla -Wnull-dereference -Wimplicit-fallthrough
COMMON_CFLAGS := -std=c17 -D_GNU_SOURCE -I. $(WARNINGS) -g -MMD -MP
HOST_CFLAGS   := $(COMMON_CFLAGS) -O2 $(EXTRA_CFLAGS)
UNIT_CFLAGS   := $(COMMON_CFLAGS) -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer -DSILO_UNIT_TEST $(EXTRA_CFLAGS)
ARM64_CFLAGS  := $(COMMON_CFLAGS) -O2 -isystem $(ARM64_SYSROOT)/usr/include \
                 -isystem $(ARM64_SYSROOT)/usr/include/aarch64-linux-gnu $(EXTRA_CFLAGS)
ARM64_LDFLAGS := -static -L$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu
ARM64_DYNAMIC_LDFLAGS := -L$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu \
                 -Wl,-rpath-link,$(ARM64_SYSROOT)/lib/aarch64-linux-gnu:$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu
FUZZ_CFLAGS   := $(COMMON_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -DSILO_FUZZ

# `make` alone builds everything (the included fragments define targets of their own first)
.DEFAULT_GOAL := all

ARM64_PROGRAMS :=
HOST_PROGRAMS  :=
UNIT_TESTS     :=
FUZZERS        :=

# Order matters where one fragment uses another's variable with `:=` (vmm uses BASE_SRCS,
# BOOT_SRCS and VIRTIO_SRCS; builder uses MICROVM_SRCS), so the providers come first.
include tests/build.mk base/build.mk boot/build.mk devices/build.mk vmm/build.mk guest/build.mk \
        frontend/build.mk builder/build.mk tools/build.mk

ARM64_BINS := $(addprefix $(BUILD)/arm64/bin/,$(ARM64_PROGRAMS))
HOST_BINS  := $(addprefix $(BUILD)/host/bin/,$(HOST_PROGRAMS))
UNIT_BINS  := $(addprefix $(BUILD)/unit/,$(UNIT_TESTS))
FUZZ_BINS  := $(addprefix $(BUILD)/fuzz/,$(FUZZERS))
GUEST_IMAGE := $(BUILD)/guest/Image

.PHONY: all programs unit-bins deps kernel unit e2e test bench fuzz clang clean devhost run demo
all: programs $(UNIT_BINS) $(GUEST_IMAGE)
programs: $(ARM64_BINS) $(HOST_BINS)
unit-bins: $(UNIT_BINS)

deps:
	tools/deps.sh

# --- compile rules: one object tree per target flavour --------------------------------------
$(BUILD)/arm64/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(ARM64_CFLAGS) -c $< -o $@
$(BUILD)/host/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c $< -o $@
$(BUILD)/unit/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# --- link rules, one per declared program ---------------------------------------------------
define arm64_program_rule
$(BUILD)/arm64/bin/$(1): $$(patsubst %.c,$(BUILD)/arm64/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	$$(CROSS_CC) $$^ -o $$@ $$(or $$($(1)_ARM64_LDFLAGS),$$(ARM64_LDFLAGS)) $$($(1)_LIBS)
endef
define host_program_rule
$(BUILD)/host/bin/$(1): $$(patsubst %.c,$(BUILD)/host/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$^ -o $$@ $$($(1)_LIBS)
endef
define unit_test_rule
$(BUILD)/unit/$(1): $$(patsubst %.c,$(BUILD)/unit/obj/%.o,$$($(1)_SRCS) tests/unit/check.c)
	@mkdir -p $$(dir $$@)
	$$(CC) -fsanitize=address,undefined $$^ -o $$@ $$($(1)_LIBS)
endef
define fuzzer_rule
$(BUILD)/fuzz/$(1): $$(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $$^ -o $$@ $$($(1)_LIBS)
endef
$(foreach p,$(ARM64_PROGRAMS),$(eval $(call arm64_program_rule,$(p))))
$(foreach p,$(HOST_PROGRAMS),$(eval $(call host_program_rule,$(p))))
$(foreach p,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(p))))
$(foreach p,$(FUZZERS),$(eval $(call fuzzer_rule,$(p))))

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

# --- the guest kernel (cached outside the clone by guest/kernel/build.sh) -------------------
kernel: $(GUEST_IMAGE)
$(GUEST_IMAGE): guest/kernel/silo.config guest/kernel/build.sh
	guest/kernel/build.sh $@

# --- the dev host and tests -----------------------------------------------------------------
devhost: programs $(GUEST_IMAGE) devhost-agent-images devhost-oci-images
	tools/devhost build

unit: $(UNIT_BINS) $(GUEST_IMAGE)
	SILO_GUEST_IMAGE=$(GUEST_IMAGE) tests/run unit $(UNIT_BINS)

e2e: devhost
	tests/run e2e

test: all devhost $(FUZZ_BINS)
	SILO_GUEST_IMAGE=$(GUEST_IMAGE) FUZZ_BINS="$(FUZZ_BINS)" FUZZ_SECONDS=$(FUZZ_SECONDS) \
	    tests/run all $(UNIT_BINS)

# What a new user runs first: boot the dev host, then our guest kernel inside it.
run:
	tools/silo up

demo: devhost
	tools/devhost run -- sh /silo/tools/demo.sh

bench: devhost
	tools/bench/run

fuzz: $(FUZZ_BINS)
	tests/run fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)

# Build everything again with clang (host and arm64 cross) to keep both compilers clean.
clang:
	$(MAKE) BUILD=$(BUILD)/clang CC=clang \
	    CROSS_CC="clang --target=aarch64-linux-gnu" programs unit-bins

clean:
	rm -rf $(BUILD)
