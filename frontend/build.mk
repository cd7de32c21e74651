# frontend/build.mk — what frontend/ builds (see the top Makefile for the variables).
#
# silod: the AgentCore-compatible front end. Host libraries: libmicrohttpd (HTTP server),
# json-c, SQLite, OpenSSL libcrypto (SigV4, JWT), libcurl (OIDC discovery and JWKS).

# sigv4.c verifies; the canonical request, string to sign and key are base/sigv4_canon.c's (shared
# with the CLI's signer)
SIGV4_SRCS := frontend/sigv4.c base/sigv4_canon.c base/url.c
UNIT_TESTS += test_sigv4
test_sigv4_SRCS := tests/unit/test_sigv4.c $(SIGV4_SRCS) frontend/strbuf.c
test_sigv4_LIBS := -ljson-c -lcrypto

# the front door: bodies held until verified (spool, quota) and connection deadlines
UNIT_TESTS += test_front_door
test_front_door_SRCS := tests/unit/test_front_door.c frontend/body_spool.c frontend/conn_guard.c frontend/session_bind.c
test_front_door_LIBS := -lpthread

# image archives uploaded into the store (POST /silo/images): digest names, sniffing, refusals
UNIT_TESTS += test_image_upload
test_image_upload_SRCS := tests/unit/test_image_upload.c frontend/image_upload.c

UNIT_TESTS += test_jwt
test_jwt_SRCS := tests/unit/test_jwt.c frontend/jwt.c frontend/b64url.c frontend/strbuf.c
test_jwt_LIBS := -ljson-c -lcrypto -lcurl -lmicrohttpd -lpthread

# the control plane: one file per resource, one route table, one idempotent-write envelope
# (control_plane_internal.h lists them); url.c is silod's one percent-decoder
CONTROL_PLANE_SRCS := frontend/control_plane.c frontend/control_plane_routes.c frontend/control_plane_idempotent.c \
                      frontend/control_plane_common.c frontend/control_plane_rows.c \
                      frontend/control_plane_runtimes.c frontend/control_plane_versions.c \
                      frontend/control_plane_endpoints.c frontend/control_plane_tags.c \
                      frontend/control_plane_validate.c base/url.c frontend/store.c \
                      frontend/aws_error.c frontend/strbuf.c \
                      frontend/identity_store.c frontend/token_vault.c frontend/workload_token.c frontend/b64url.c
# (a runtime's workload identity row is created and deleted with the runtime: identity_store.c)
# url.c: the one percent-decoder (paths, queries) and log-safe URLs
UNIT_TESTS += test_url
test_url_SRCS := tests/unit/test_url.c base/url.c

UNIT_TESTS += test_control_plane
test_control_plane_SRCS := tests/unit/test_control_plane.c $(CONTROL_PLANE_SRCS)
test_control_plane_LIBS := -lsqlite3 -ljson-c -lcrypto -lpthread

# the guest channel (microvm.c): the VMM's command line, spawn policy, vsock client, readiness
# and agentd's control protocol through its one codec (guest/agentd/control_proto.c); silod and
# the image builder's boot check (builder/build.mk) both use it
MICROVM_SRCS := frontend/microvm.c frontend/vm_template.c guest/agentd/control_proto.c
UNIT_TESTS += test_microvm
test_microvm_SRCS := tests/unit/test_microvm.c frontend/vmm_launcher.c frontend/vmm_jail.c frontend/sessions.c frontend/aws_error.c \
                     $(MICROVM_SRCS)
test_microvm_LIBS := -ljson-c -lpthread
$(BUILD)/unit/test_microvm: | $(BUILD)/host/bin/fake_vmm

# the VMM jail, silod's side (vmm_jail.c): the jailed argv, uid slots, cgroup results
UNIT_TESTS += test_vmm_jail
test_vmm_jail_SRCS := tests/unit/test_vmm_jail.c frontend/vmm_jail.c frontend/jail_handoff.c $(MICROVM_SRCS)
test_vmm_jail_LIBS := -ljson-c -lpthread

# fake_vmm: a TEST VMM (speaks the vsock socket protocol, plays a trivial agent); x86 tests only
HOST_PROGRAMS += fake_vmm
fake_vmm_SRCS := tests/frontend/fake_vmm.c guest/agentd/control_proto.c guest/agentd/command_exec.c
fake_vmm_LIBS := -ljson-c -lcrypto -lpthread

UNIT_TESTS += test_sessions
test_sessions_SRCS := tests/unit/test_sessions.c frontend/sessions.c frontend/vmm_launcher.c frontend/vmm_jail.c \
                      frontend/ping_poller.c frontend/agent_http.c frontend/aws_error.c $(MICROVM_SRCS)
test_sessions_LIBS := -ljson-c -lpthread
$(BUILD)/unit/test_sessions: | $(BUILD)/host/bin/fake_vmm

# metering: usage records (SQLite, log line, metrics) and the /proc parser of vmm_launcher.c
UNIT_TESTS += test_usage
test_usage_SRCS := tests/unit/test_usage.c frontend/usage.c frontend/sessions.c frontend/vmm_launcher.c frontend/vmm_jail.c $(MICROVM_SRCS) \
                   frontend/metrics.c frontend/egress_relay.c frontend/egress_rules.c frontend/store.c frontend/strbuf.c frontend/aws_error.c
test_usage_LIBS := -lsqlite3 -ljson-c -lpthread

# InvokeAgentRuntimeCommand's answer framing: the AWS event stream encoder, against SDK vectors
UNIT_TESTS += test_event_stream
test_event_stream_SRCS := tests/unit/test_event_stream.c frontend/event_stream.c frontend/strbuf.c
test_event_stream_LIBS := -lz

UNIT_TESTS += test_http_agent
test_http_agent_SRCS := tests/unit/test_http_agent.c frontend/agent_http.c

# ws_relay.c: the RFC 6455 key arithmetic and the WebSocket byte relay over socket pairs
UNIT_TESTS += test_ws_relay
test_ws_relay_SRCS := tests/unit/test_ws_relay.c frontend/ws_relay.c
test_ws_relay_LIBS := -lcrypto -lpthread

# image_builder.c: silod's side of the image-builder contract, with sh-script builders
UNIT_TESTS += test_image_builder
test_image_builder_SRCS := tests/unit/test_image_builder.c frontend/image_builder.c $(MICROVM_SRCS) $(CONTROL_PLANE_SRCS) \
                           frontend/silod_config.c frontend/egress_rules.c frontend/vmm_jail.c frontend/jail_handoff.c
test_image_builder_LIBS := -lsqlite3 -ljson-c -lcrypto -lpthread

# the agent's way out (guest_ports.h): egress policy and relay, role credentials, the per-session
# guest → host sockets
EGRESS_SRCS := frontend/egress_rules.c frontend/egress_relay.c frontend/role_creds.c frontend/guest_channels.c
UNIT_TESTS += test_egress
test_egress_SRCS := tests/unit/test_egress.c $(EGRESS_SRCS) $(SIGV4_SRCS) frontend/strbuf.c
test_egress_LIBS := -ljson-c -lcrypto -lpthread
FUZZERS += fuzz_egress_request
fuzz_egress_request_SRCS := tests/fuzz/fuzz_egress_request.c frontend/egress_relay.c frontend/egress_rules.c

# silod's config file: one strict table (silod_config.c); the refusals, and the README naming
# every key of the table
UNIT_TESTS += test_silod_config
test_silod_config_SRCS := tests/unit/test_silod_config.c frontend/silod_config.c frontend/egress_rules.c
UNIT_TESTS += test_silod_privileges
test_silod_privileges_SRCS := tests/unit/test_silod_privileges.c frontend/silod_privileges.c
test_silod_config_LIBS := -ljson-c

IDENTITY_SERVICE_SRCS := frontend/identity.c frontend/identity_control.c frontend/identity_tokens.c \
                         frontend/identity_store.c frontend/token_vault.c frontend/workload_token.c \
                         frontend/oauth2_client.c frontend/oauth2_callback.c frontend/b64url.c base/url.c \
                         frontend/store.c frontend/aws_error.c
# the identity control plane through identity_handle (answers are control_plane_common.c's)
UNIT_TESTS += test_identity_control
test_identity_control_SRCS := tests/unit/test_identity_control.c $(sort $(IDENTITY_SERVICE_SRCS) $(CONTROL_PLANE_SRCS))
test_identity_control_LIBS := -lsqlite3 -ljson-c -lcurl -lcrypto -lpthread
HOST_PROGRAMS += silod
silod_SRCS := frontend/silod.c frontend/silod_config.c frontend/tls_files.c frontend/image_upload.c frontend/image_builder.c frontend/http_api.c frontend/http_auth.c frontend/invoke_proxy.c frontend/ws_proxy.c frontend/ws_relay.c \
              frontend/runtime_command.c frontend/event_stream.c frontend/agent_http.c frontend/metrics.c $(SIGV4_SRCS) frontend/jwt.c frontend/b64url.c \
              frontend/body_spool.c frontend/conn_guard.c frontend/session_bind.c \
              frontend/sessions.c frontend/vmm_launcher.c frontend/vmm_jail.c frontend/jail_handoff.c frontend/ping_poller.c frontend/usage.c \
              frontend/silod_privileges.c $(MICROVM_SRCS) $(EGRESS_SRCS) $(CONTROL_PLANE_SRCS) $(IDENTITY_SERVICE_SRCS)
silod_LIBS := -lmicrohttpd -lsqlite3 -ljson-c -lcurl -lcrypto -lz -lpthread

# arm64 silod for the dev host, linked dynamically: libmicrohttpd's Debian build pulls in GnuTLS
# and libcurl is impractical to link statically. Its libraries come from the arm64 sysroot
# (tools/deps.sh); tools/devhost copies them into the dev host.
ARM64_PROGRAMS += silod
silod_ARM64_LDFLAGS := $(ARM64_DYNAMIC_LDFLAGS)

# --- AgentCore Identity (issue 14): the token vault, workload access tokens, the identity
# store, the OAuth2 client and the 3LO callback parser, each self-contained and unit-tested;
# identity.c and its two operation files serve them as silod's /identities/ API.
IDENTITY_SRCS := frontend/b64url.c frontend/token_vault.c frontend/workload_token.c frontend/store.c base/url.c
UNIT_TESTS += test_token_vault
test_token_vault_SRCS := tests/unit/test_token_vault.c frontend/token_vault.c frontend/store.c base/url.c
test_token_vault_LIBS := -lsqlite3 -lcrypto
UNIT_TESTS += test_workload_token
test_workload_token_SRCS := tests/unit/test_workload_token.c frontend/workload_token.c frontend/b64url.c
test_workload_token_LIBS := -lcrypto
UNIT_TESTS += test_oauth2_callback
test_oauth2_callback_SRCS := tests/unit/test_oauth2_callback.c frontend/oauth2_callback.c base/url.c
FUZZERS += fuzz_oauth2_callback
fuzz_oauth2_callback_SRCS := tests/fuzz/fuzz_oauth2_callback.c frontend/oauth2_callback.c base/url.c
UNIT_TESTS += test_oauth2_client
test_oauth2_client_SRCS := tests/unit/test_oauth2_client.c frontend/oauth2_client.c frontend/b64url.c base/url.c
test_oauth2_client_LIBS := -lcurl -ljson-c -lcrypto -lpthread
UNIT_TESTS += test_identity_store
test_identity_store_SRCS := tests/unit/test_identity_store.c frontend/identity_store.c $(IDENTITY_SRCS)
test_identity_store_LIBS := -lsqlite3 -ljson-c -lcrypto
# the data plane (identity_tokens.c): WATs, API keys, M2M and USER_FEDERATION against a fake
# provider on 127.0.0.1, CompleteResourceTokenAuth and the browser's callback
UNIT_TESTS += test_identity_tokens
test_identity_tokens_SRCS := tests/unit/test_identity_tokens.c $(sort $(IDENTITY_SERVICE_SRCS) $(CONTROL_PLANE_SRCS))
test_identity_tokens_LIBS := -lsqlite3 -ljson-c -lcurl -lcrypto -lpthread
