#!/usr/bin/env bash
# tests/host/egress_devhost.sh — end-to-end tests of agents reaching the world (egress through
# the host, network policy, the execution role's credentials, silod's API from inside the guest)
# on the REAL path: silod (arm64), the real silo-vmm and the sample Node agent
# (tests/agents/node-sdk, on the bedrock-agentcore SDK) run inside the dev host, beside a
# STAND-IN model server (tests/frontend/devhost/model_standin.c — not a model, labelled as such);
# this machine drives silod through the forwarded port with the real
# @aws-sdk/client-bedrock-agentcore(-control) clients (tests/frontend/sdk/egress.devhost.mjs).
# Inside the dev host: tests/frontend/devhost/egress-inside.sh. Verdicts say "(dev host, real
# microVMs)". ~5 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/frontend/sdk
label="egress (dev host, real microVMs)"
say_fail() { echo "not ok - $label: $*"; }

if ! make -s -j2 BUILD="$BUILD" programs "$BUILD/guest/Image" devhost-agent-images >&2; then
    say_fail "build of the arm64 programs, guest kernel and sample images"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    say_fail "$why"
    exit 1
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
dir=$(mktemp -d /tmp/silo-devhost-egress.XXXXXX)
dh_pid=
cleanup() {
    [ -n "$dh_pid" ] && kill -TERM -- "-$dh_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
akid="AKIDSILOEGRESS$(printf '%05d' $((RANDOM % 100000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
role_akid="AKIAROLEEGRESS$(printf '%05d' $((RANDOM % 100000)))"
role_secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

t_start=$(date +%s)
setsid tools/devhost up --forward "$port:8080" --log "$dir/console.log" \
    -- sh /silo/tests/frontend/devhost/egress-inside.sh "$akid" "$secret" "$role_akid" "$role_secret" \
    >"$dir/devhost.out" 2>&1 &
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

# 64 concurrent 10 MiB streams is the issue's figure (SILO_EGRESS_STREAMS overrides it; 96 also
# passes, in ~6-9 min under load)
export SILO_EGRESS_STREAMS=${SILO_EGRESS_STREAMS:-64}
SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" SILO_CONSOLE_LOG="$dir/console.log" \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=900000 --test-reporter="./$sdk/reporter.mjs" \
    "$sdk/egress.devhost.mjs"
status=$?
[ -s "$dir/bench.txt" ] && sed 's/^/# bench: /' "$dir/bench.txt"
# warm starts (docs/snapshots.md): the Node agent's sessions above were restored from its template
check_restored_sessions "$label" "$dir/console.log" node-sdk || status=1
for s in "$secret" "$role_secret"; do
    if grep -aqF "$s" "$dir/console.log"; then
        say_fail "the dev host console (silod's and the guests' logs) contains a secret key"; status=1
    fi
done
[ "$status" = 0 ] && echo "ok - $label: neither the caller's secret key nor the role's appears in any log ($(grep -ac '^silod: ' "$dir/console.log") silod lines)"
if [ "$status" != 0 ]; then
    grep -a "silod: egress\|silo-agentd\|silod: usage\|model-standin" "$dir/console.log" | tr -d '\r' | tail -40 | sed 's/^/#   /'
fi
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/console.log" "$SILO_KEEP_LOG"; fi
echo "# whole run $(( $(date +%s) - t_start )) s"
exit "$status"
