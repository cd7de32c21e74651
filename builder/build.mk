# builder/build.mk — what builder/ builds (see the top Makefile for the variables): the agent
# image builder (builder/README.md). Included after frontend/build.mk (uses MICROVM_SRCS).

# silo-image: `silo image build` (tools/silo dispatches to it), the agent image builder
IMAGE_SRCS := builder/layers.c builder/oci.c builder/digest.c builder/open_beneath.c guest/agentd/agent_config.c
HOST_PROGRAMS += silo-image
silo-image_SRCS := builder/image_build.c builder/python_bytecode.c builder/run_program.c $(IMAGE_SRCS)
silo-image_LIBS := -larchive -ljson-c -lcrypto
# arm64 too, for silod's builder on the arm64 host (and in the dev host): dynamic like silod
# (libarchive's closure comes from the arm64 sysroot, tools/deps.sh; tools/devhost copies it)
ARM64_PROGRAMS += silo-image
silo-image_ARM64_LDFLAGS := $(ARM64_DYNAMIC_LDFLAGS)

# silod-build-image: silod's real image builder (resolves the containerUri, runs silo-image,
# boots the result once through frontend/microvm.c, as a session boots, and waits for the agent)
ARM64_PROGRAMS += silod-build-image
HOST_PROGRAMS += silod-build-image
silod-build-image_SRCS := builder/silod_build_image.c builder/registry_pull.c $(IMAGE_SRCS) $(MICROVM_SRCS) \
                          frontend/vmm_jail.c frontend/jail_handoff.c
silod-build-image_LIBS := -lcurl -larchive -ljson-c -lcrypto -lpthread
# libcurl (registry pulls) is impractical to link statically: dynamic like silod
silod-build-image_ARM64_LDFLAGS := $(ARM64_DYNAMIC_LDFLAGS)
# it, run as silod runs it (frontend/image_builder.c), with a stand-in VMM (x86 has no KVM)
UNIT_TESTS += test_silod_build_image
test_silod_build_image_SRCS := tests/unit/test_silod_build_image.c frontend/image_builder.c $(MICROVM_SRCS) $(CONTROL_PLANE_SRCS) \
                               frontend/vmm_jail.c frontend/jail_handoff.c
test_silod_build_image_LIBS := -lsqlite3 -ljson-c -lcrypto -lpthread
$(BUILD)/unit/test_silod_build_image: | $(BUILD)/host/bin/silod-build-image $(BUILD)/host/bin/silo-image

# the registry client's pure parts: references, WWW-Authenticate, host patterns, settings, and
# the linux/arm64 choice in an index (oci_pick_arm64)
UNIT_TESTS += test_registry_pull
test_registry_pull_SRCS := tests/unit/test_registry_pull.c builder/registry_pull.c $(IMAGE_SRCS)
test_registry_pull_LIBS := -lcurl -larchive -ljson-c -lcrypto

UNIT_TESTS += test_layers
test_layers_SRCS := tests/unit/test_layers.c builder/layers.c
test_layers_LIBS := -larchive
UNIT_TESTS += test_oci
test_oci_SRCS := tests/unit/test_oci.c builder/oci.c builder/layers.c builder/digest.c builder/open_beneath.c
test_oci_LIBS := -larchive -ljson-c -lcrypto

# open_beneath.c: files an untrusted image names (blobs, index.json, manifest.json, docker's
# Config/Layers), opened without following the image's symlinks (openat2 RESOLVE_BENEATH |
# RESOLVE_NO_SYMLINKS, O_NOFOLLOW walk without it), regular files only
UNIT_TESTS += test_open_beneath
test_open_beneath_SRCS := tests/unit/test_open_beneath.c builder/open_beneath.c
test_open_beneath_LIBS := -lcrypto
# the OCI reader over hostile layouts: symlinked blobs (/dev/zero, a private host file), FIFOs
UNIT_TESTS += test_oci_symlinks
test_oci_symlinks_SRCS := tests/unit/test_oci_symlinks.c builder/oci.c builder/layers.c builder/digest.c builder/open_beneath.c
test_oci_symlinks_LIBS := -larchive -ljson-c -lcrypto
# the bytecode step on small roots (needs this host's python3.11 for its main case)
UNIT_TESTS += test_python_bytecode
test_python_bytecode_SRCS := tests/unit/test_python_bytecode.c builder/python_bytecode.c builder/run_program.c
