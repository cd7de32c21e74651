#!/usr/bin/env bash
# tests/host/websocket_devhost.sh — end-to-end WebSocket connections on the REAL path: silod
# (arm64), the real silo-vmm, agentd and the sample WebSocket agent (tests/agents/ws-agent/agent.mjs:
# BedrockAgentCoreApp with a websocketHandler, in a microVM) run inside the dev host
# (tests/frontend/devhost/ws-inside.sh); this machine drives silod through the forwarded port
# with the AgentCore TS SDK's RuntimeClient and `ws` (tests/agents/ws-agent/client.test.mjs, the
# same test the x86 suite runs against the test VMM): SigV4 headers and presigned URLs, messages
# both ways (1 MB from the agent too), refusals, the agent closing, StopRuntimeSession ending an
# open connection. Bearer (JWT) cases need an OpenID provider silod can reach and run on x86 only
# (tests/host/websocket_sdk.sh). Every verdict line says "(dev host, real microVMs)".
# Build: arm64 programs, guest kernel and sample images in $BUILD (default build/). ~5 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/agents/ws-agent
label="websocket (dev host, real microVMs)"
say_fail() { echo "not ok - $label: $*"; }

if ! make -s -j2 BUILD="$BUILD" programs "$BUILD/guest/Image" devhost-agent-images >&2; then
    say_fail "build of the arm64 programs, guest kernel and sample images"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk" --force); then
    say_fail "$why"
    exit 1
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
dir=$(mktemp -d /tmp/silo-devhost-ws.XXXXXX)
dh_pid=
cleanup() {
    [ -n "$dh_pid" ] && kill -TERM -- "-$dh_pid" 2>/dev/null
    [ -n "${SILO_KEEP_LOG:-}" ] && cp "$dir/console.log" "$SILO_KEEP_LOG" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
akid="AKIDSILOWSDEV$(printf '%05d' $((RANDOM % 100000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

t_start=$(date +%s)
setsid tools/devhost up --forward "$port:8080" --log "$dir/console.log" \
    -- sh /silo/tests/frontend/devhost/ws-inside.sh "$akid" "$secret" >"$dir/devhost.out" 2>&1 &
dh_pid=$!
ready=
for _ in $(seq 1 900); do
    grep -q "silod: listening on 0.0.0.0:8080" "$dir/console.log" 2>/dev/null && { ready=1; break; }
    kill -0 "$dh_pid" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$ready" ]; then
    tail -30 "$dir/devhost.out" "$dir/console.log" 2>/dev/null | sed 's/^/#   /'
    say_fail "silod did not start inside the dev host within 180 s"
    exit 1
fi
echo "# dev host up and silod listening after $(( $(date +%s) - t_start )) s (forwarded 127.0.0.1:$port)"

SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 WS_CONTAINER_URI="silo.local/agents/ws-agent:latest" \
WS_AGENT=sdk WS_NO_JWT=1 SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=600000 --test-reporter=./tests/frontend/sdk/reporter.mjs \
    "$sdk/client.test.mjs"
status=$?

log=$(tr -d '\r' <"$dir/console.log")
upgraded=$(echo "$log" | grep -c 'op=ws .*status=101 .*ws_end=')
if [ "$upgraded" -ge 5 ] && echo "$log" | grep -q 'op=ws .*status=101 .*bytes_out=[1-9][0-9]\{6\}'; then
    echo "ok - $label: silod relayed $upgraded WebSocket connections to agents in microVMs (op=ws status=101 lines, 1 MB+ to a client)"
else
    say_fail "silod's log has $upgraded upgraded connections"
    echo "$log" | grep 'op=ws' | head -20 | sed 's/^/#   /'
    status=1
fi
if echo "$log" | grep -q "wipe verified"; then
    echo "ok - $label: the sessions' microVMs stopped and wiped ($(echo "$log" | grep -c 'wipe verified') verified wipes)"
else
    say_fail "no verified wipe of a session's microVM"
    status=1
fi
exit "$status"
