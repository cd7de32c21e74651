#!/usr/bin/env bash
# tests/host/frontend_sdk.sh — x86 tests of silod with REAL clients from npm
# (@aws-sdk/client-bedrock-agentcore-control, @aws-sdk/client-bedrock-agentcore, oidc-provider,
# @modelcontextprotocol/sdk) over loopback. The VMM is tests/frontend/fake_vmm.c and the image
# builder tests/frontend/test_image_builder.sh: TEST DOUBLES, no microVM boots here (the dev-host
# end-to-end tests cover the real path). Every verdict line says "(fake VMM)".
#
# Builds silod and fake_vmm into $BUILD (default build/), installs the pinned npm packages
# (npm ci, skipped when tests/frontend/sdk/node_modules matches the lock), starts silod on a
# kernel-chosen loopback port with a fresh database, runs tests/frontend/sdk/*.test.mjs (or the
# files named in $SILO_SDK_TESTS) with node's test runner, then stops silod with SIGTERM and
# checks no VMM outlived it.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
sdk=tests/frontend/sdk
say_fail() { echo "not ok - frontend (fake VMM): $*"; }

if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" >&2; then
    say_fail "build of silod and fake_vmm"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    say_fail "$why"
    exit 1
fi

dir=$(mktemp -d /tmp/silo-fe-sdk.XXXXXX)
silod_pid=
cleanup() {
    [ -n "$silod_pid" ] && kill "$silod_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/agent-v1" "$dir/agent-v2"
akid="AKIDSILOTEST$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cat >"$dir/silod.json" <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": 0,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$dir/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "tester" } ],
  "image_builder": "$PWD/tests/frontend/test_image_builder.sh",
  "max_sessions": 20, "max_guest_mib": 4096,
  "jwt_http_allowed_hosts": ["127.0.0.1"],
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "/nonexistent/Image",
           "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets",
           "cpus": 1, "guest_mib": 128, "ready_timeout_ms": 5000 }
}
JSON
. tests/host/silod_start.lib
if ! start_silod "$dir/silod.json" "$dir/silod.log"; then
    say_fail "silod did not start"
    exit 1
fi

SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" \
AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    timeout 600 node --test --test-concurrency=1 --test-force-exit --test-timeout=120000 \
    --test-reporter="./$sdk/reporter.mjs" ${SILO_SDK_TESTS:-"$sdk"/*.test.mjs}
node_status=$?
if [ "$node_status" != 0 ]; then
    # a failure (or a hang, killed at 600 s: status 124) names itself with silod's last words
    [ "$node_status" = 124 ] && say_fail "the node tests did not finish within 600 s"
    echo "# the last 40 lines of silod's log:"
    tail -40 "$dir/silod.log" | sed 's/^/#   /'
fi

# shutdown: SIGTERM ends every session; no VMM may outlive silod
vmms_before=$(pgrep -f -- "$dir/sockets/" | wc -l)
kill -TERM "$silod_pid"
for _ in $(seq 1 200); do kill -0 "$silod_pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$silod_pid" 2>/dev/null; then
    say_fail "silod did not exit within 10 s of SIGTERM"
    kill -KILL "$silod_pid"
elif [ -n "$(pgrep -f -- "$dir/sockets/")" ]; then
    say_fail "VMM processes outlived silod: $(pgrep -f -- "$dir/sockets/" | tr '\n' ' ')"
else
    echo "ok - frontend (fake VMM): SIGTERM stops silod and all $vmms_before VMMs it had running"
fi
wait "$silod_pid" 2>/dev/null
silod_pid=
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/silod.log" "$SILO_KEEP_LOG"; fi
if grep -qF "$secret" "$dir/silod.log"; then
    say_fail "silod's log contains a secret access key"
else
    echo "ok - frontend (fake VMM): silod's log never contains the secret key ($(wc -l <"$dir/silod.log") lines)"
fi
exit "$node_status"
