#!/usr/bin/env bash
# tests/host/a2a_devhost.sh — A2A (serverProtocol A2A) end to end on the REAL path: silod
# (arm64), the real silo-vmm and the sample A2A agent (tests/agents/a2a-agent, @a2a-js/sdk in
# arm64 node) in microVMs inside the dev host (tests/frontend/devhost/a2a-inside.sh); this machine
# drives silod through the forwarded port with the A2A JavaScript SDK's client (its fetch
# SigV4-signing each request) and the AWS SDK's InvokeAgentRuntime / GetAgentCard
# (tests/frontend/a2a/a2a.devhost.mjs). The runtime comes from the agent's OCI archive through
# the REAL image builder (silod-build-image: built with the version's environment, boot-checked
# by A2A readiness). Every verdict line says "(dev host, real microVMs, real image builder)".
# ~12-15 minutes: each Node agent boot takes one to three minutes in the emulated dev host (two boot
# checks, three sessions).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/frontend/sdk a2a=tests/frontend/a2a
label="a2a (dev host, real microVMs, real image builder)"
say_fail() { echo "not ok - $label: $*"; }

if ! make -s -j2 BUILD="$BUILD" programs "$BUILD/guest/Image" devhost-a2a-images >&2; then
    say_fail "build of the arm64 programs, guest kernel and the A2A agent's OCI archive"
    exit 1
fi
. tests/host/sdk_clients.lib
for d in "$sdk" "$a2a"; do
    if ! why=$(install_sdk_clients "$d"); then
        say_fail "$why"
        exit 1
    fi
done

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
dir=$(mktemp -d /tmp/silo-a2a-devhost.XXXXXX)
dh_pid=
cleanup() {
    [ -n "$dh_pid" ] && kill -TERM -- "-$dh_pid" 2>/dev/null   # its own process group, QEMU included
    rm -rf "$dir"
}
trap cleanup EXIT
akid="AKIDSILOA2A$(printf '%05d' $((RANDOM % 100000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

t_start=$(date +%s)
setsid tools/devhost up --forward "$port:8080" --log "$dir/console.log" \
    -- sh /silo/tests/frontend/devhost/a2a-inside.sh "$akid" "$secret" >"$dir/devhost.out" 2>&1 &
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
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=1800000 --test-reporter="./$sdk/reporter.mjs" \
    "$a2a/a2a.devhost.mjs"
status=$?
# the builder's boot checks and the sessions: both probe the agent card on port 9000
grep -a "silod-build-image: .* ready: \|silod: session .*: booted, ready in" "$dir/console.log" |
    tr -d '\r' | sed 's/^/# bench: /'
if grep -aqF "$secret" "$dir/console.log"; then
    say_fail "the dev host console (silod's and the guests' logs) contains the secret key"; status=1
fi
if [ "$status" != 0 ]; then
    grep -a "silod\|a2a-agent\|silo-agentd" "$dir/console.log" | tr -d '\r' | tail -40 | sed 's/^/#   /'
fi
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/console.log" "$SILO_KEEP_LOG"; fi
echo "# whole run $(( $(date +%s) - t_start )) s"
exit "$status"
