#!/usr/bin/env bash
# tests/host/websocket_sdk.sh — x86 test of silod's WebSocket connections (GET …/ws) with the
# official AgentCore TypeScript SDK's client (bedrock-agentcore RuntimeClient) and `ws`, from
# tests/agents/ws-agent (its own package.json/lock): SigV4 headers, presigned URLs and OAuth
# bearer tokens, messages both ways, refusals. The VMM is tests/frontend/fake_vmm.c, whose agent
# answers GET /ws with a WebSocket echo, and the image builder tests/frontend/test_image_builder.sh:
# TEST DOUBLES, no microVM boots here (tests/e2e/… in the dev host covers the real path).
# Every verdict line says "(fake VMM)". Afterwards silod's log must hold one request line per
# upgraded connection (op=ws status=101, bytes both ways, why it ended), and SIGTERM must stop
# silod with no VMM left.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dir_sdk=tests/agents/ws-agent
label="websocket (fake VMM)"
say_fail() { echo "not ok - $label: $*"; }

if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" >&2; then
    say_fail "build of silod and fake_vmm"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$dir_sdk" --force); then
    say_fail "$why"
    exit 1
fi

dir=$(mktemp -d /tmp/silo-ws-sdk.XXXXXX)
silod_pid=
cleanup() {
    [ -n "$silod_pid" ] && kill "$silod_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/agent"
akid="AKIDSILOWS$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
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
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 WS_CONTAINER_URI="$dir/agent" WS_AGENT=fake WS_SLOW=1 \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=300000 --test-reporter=./tests/frontend/sdk/reporter.mjs \
    "$dir_sdk/client.test.mjs"
node_status=$?

# the log: one request line per upgraded connection, with its bytes and why it ended
upgraded=$(grep -c 'op=ws .*status=101 .*ws_end=' "$dir/silod.log")
opened=$(grep -c '^silod: websocket id=.* open$' "$dir/silod.log")
if [ "$upgraded" -ge 8 ] && [ "$upgraded" -eq "$opened" ] &&
   grep -q 'op=ws .*status=101 .*bytes_in=[1-9][0-9]* bytes_out=[1-9][0-9]* .*ws_end=agent_closed' "$dir/silod.log" &&
   grep -q 'op=ws .*status=101 .*ws_end=client_closed' "$dir/silod.log" &&
   grep -q 'op=ws .*status=101 .*ws_end=idle_timeout' "$dir/silod.log"; then
    echo "ok - $label: silod logged $upgraded upgraded connections (op=ws status=101, bytes both ways, ws_end=client_closed / agent_closed / idle_timeout)"
else
    say_fail "log lines: $upgraded op=ws status=101 lines, $opened opened"
    grep 'op=ws' "$dir/silod.log" | head -20 | sed 's/^/#   /'
    node_status=1
fi
if grep -q 'op=ws .*status=403 .*auth=rejected' "$dir/silod.log" && grep -q 'op=ws .*status=400 .*error=ValidationException' "$dir/silod.log"; then
    echo "ok - $label: refusals logged as requests (auth=rejected 403, ValidationException 400)"
else
    say_fail "refusals not logged"; node_status=1
fi

# shutdown: SIGTERM ends every session; no VMM may outlive silod
kill -TERM "$silod_pid"
for _ in $(seq 1 200); do kill -0 "$silod_pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$silod_pid" 2>/dev/null; then
    say_fail "silod did not exit within 10 s of SIGTERM"
    kill -KILL "$silod_pid"
elif [ -n "$(pgrep -f -- "$dir/sockets/")" ]; then
    say_fail "VMM processes outlived silod"
else
    echo "ok - $label: SIGTERM stops silod and its VMMs"
fi
wait "$silod_pid" 2>/dev/null
silod_pid=
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/silod.log" "$SILO_KEEP_LOG"; fi
exit "$node_status"
