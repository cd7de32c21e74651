#!/usr/bin/env bash
# tests/host/command_devhost.sh — InvokeAgentRuntimeCommand end to end on the REAL path: silod
# (arm64), the real silo-vmm, agentd in real microVMs and the real image builder inside the dev
# host (tests/frontend/devhost/silod-inside.sh, without its direct-vsock rounds), driven from
# this machine with @aws-sdk/client-bedrock-agentcore (tests/frontend/sdk/command.devhost.mjs):
# the streams and exit status of a command, the timeout, the refusal, an image without a shell.
# Every verdict line says "(dev host, real microVMs)". ~4 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/frontend/sdk
label="command (dev host, real microVMs)"
say_fail() { echo "not ok - $label: $*"; }

if ! make -s -j2 BUILD="$BUILD" programs "$BUILD/guest/Image" devhost-agent-images devhost-oci-images >&2; then
    say_fail "build of the arm64 programs, guest kernel and OCI archives"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    say_fail "$why"
    exit 1
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port); side_port=$(free_port)
while [ "$side_port" = "$port" ]; do side_port=$(free_port); done
dir=$(mktemp -d /tmp/silo-devhost-command.XXXXXX)
dh_pid=
cleanup() {
    [ -n "$dh_pid" ] && kill -TERM -- "-$dh_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
akid="AKIDSILOCMD$(printf '%05d' $((RANDOM % 100000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

setsid tools/devhost up --forward "$port:8080" --forward "$side_port:9999" --log "$dir/console.log" \
    -- sh /silo/tests/frontend/devhost/silod-inside.sh "$akid" "$secret" 0 >"$dir/devhost.out" 2>&1 &
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

SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=600000 --test-reporter="./$sdk/reporter.mjs" \
    "$sdk/command.devhost.mjs"
node_status=$?
# what silod and agentd said about the commands, for the record
grep -a "silod: command \|op=command" "$dir/console.log" | tr -d '\r' | sed 's/^/# /' | tail -20
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/console.log" "$SILO_KEEP_LOG"; fi
exit "$node_status"
