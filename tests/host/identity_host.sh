#!/usr/bin/env bash
# tests/host/identity_host.sh — AgentCore Identity (issue 14) on x86 with REAL clients and a
# REAL authorization server: this script owns the set-up; the test is
# tests/frontend/sdk/identity/host-identity.mjs (with host-provider/-resource/-app/-browser/
# -silod.mjs beside it). silod runs natively over loopback with the TEST DOUBLE VMM
# (tests/frontend/fake_vmm.c, no microVM boots; tests/host/identity_devhost.sh covers the real
# path). Outside silod, all real: oidc-provider (the resource's OAuth2 server, with its own
# login and consent pages, and the users' IdP for inbound JWTs), a protected resource checking
# tokens by introspection, the application behind the return URL, and Debian's chromium driven
# by puppeteer-core as the user's browser.
#
# Builds silod and fake_vmm into $BUILD (default build/), installs the pinned npm packages
# (tests/host/sdk_clients.lib), writes two silod configurations (the main one on a fixed
# loopback port, so that it can be restarted in the middle of a 3LO flow with the same
# callback URL, its vault key file made on first start; a second one with token_ttl_s = 2 and
# its vault key from a key_command), and runs the node test, which starts, restarts and stops
# the silods itself. Verdict lines: `ok - identity: ...` / `not ok - identity: ...`.
# Run by tests/run with the other tests/host/*.sh (make test / make e2e), or alone:
#   BUILD=build tests/host/identity_host.sh        (~1 minute; SILO_KEEP_LOG=DIR keeps the logs)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
sdk=tests/frontend/sdk
label="identity"
say_fail() { echo "not ok - $label: $*"; }
t_start=$(date +%s)
progress() { echo "# [$(( $(date +%s) - t_start )) s] $*"; }

progress "building silod and fake_vmm into $BUILD"
if ! timeout 900 make -s -j"$(nproc)" BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" >&2; then
    say_fail "build of silod and fake_vmm"
    exit 1
fi
progress "npm packages (npm ci when the lock changed)"
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    say_fail "$why"
    exit 1
fi
chromium=${SILO_CHROMIUM:-$(command -v chromium || true)}
[ -x "$chromium" ] || { say_fail "chromium is needed (Debian package chromium: make deps)"; exit 1; }
[ -d "$sdk/node_modules/puppeteer-core" ] || { say_fail "puppeteer-core is not in $sdk/node_modules"; exit 1; }
progress "$("$chromium" --version 2>/dev/null | head -1)"

dir=$(mktemp -d /tmp/silo-identity-host.XXXXXX)
node_pid=
cleanup() {
    [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null
    # silods the node test started and did not stop (it writes their pids beside their logs)
    local f
    for f in "$dir"/*.log.pid; do
        [ -e "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    if [ -n "${SILO_KEEP_LOG:-}" ]; then mkdir -p "$SILO_KEEP_LOG" && cp "$dir"/*.log "$SILO_KEEP_LOG"/ 2>/dev/null; fi
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/short-images" "$dir/short-sockets" "$dir/agent-v1" "$dir/agent-v2"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
callback="http://127.0.0.1:$port/identities/oauth2/callback"
akid="AKIDSILOIDHOST$(printf '%06d' $((RANDOM * RANDOM % 1000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
# the second silod's vault master key comes from a command (64 hex digits); a wrong one too
short_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
wrong_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$short_key" >"$dir/short.key"
printf '%s\n' "$wrong_key" >"$dir/wrong.key"
chmod 600 "$dir/short.key" "$dir/wrong.key"

# silod.json: as frontend_sdk.sh's, plus "identity"
write_config() {   # FILE PORT DB IMAGES SOCKETS IDENTITY_JSON
    cat >"$1" <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": $2,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$3",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "tester" } ],
  "image_builder": "$PWD/tests/frontend/test_image_builder.sh",
  "max_sessions": 20, "max_guest_mib": 4096,
  "jwt_http_allowed_hosts": ["127.0.0.1"],
  "identity": $6,
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "/nonexistent/Image",
           "rootfs_dir": "$4", "socket_dir": "$5",
           "cpus": 1, "guest_mib": 128, "ready_timeout_ms": 5000 }
}
JSON
}
write_config "$dir/silod.json" "$port" "$dir/silod.db" "$dir/images" "$dir/sockets" \
    "{ \"callback_url\": \"$callback\", \"http_allowed_hosts\": [\"127.0.0.1\"], \"token_ttl_s\": 900 }"
write_config "$dir/short.json" 0 "$dir/short.db" "$dir/short-images" "$dir/short-sockets" \
    "{ \"key_command\": [\"/bin/cat\", \"$dir/short.key\"], \"http_allowed_hosts\": [\"127.0.0.1\"], \"token_ttl_s\": 2 }"
write_config "$dir/short-wrong.json" 0 "$dir/short.db" "$dir/short-images" "$dir/short-sockets" \
    "{ \"key_command\": [\"/bin/cat\", \"$dir/wrong.key\"], \"http_allowed_hosts\": [\"127.0.0.1\"], \"token_ttl_s\": 2 }"

progress "running the test (silod on 127.0.0.1:$port, a second silod on a kernel-chosen port)"
SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" \
SILO_SILOD_BIN="$PWD/$BUILD/host/bin/silod" SILO_CHROMIUM="$chromium" \
SILO_MAIN_CONFIG="$dir/silod.json" SILO_MAIN_LOG="$dir/silod.log" SILO_MAIN_DB="$dir/silod.db" \
SILO_MAIN_PORT="$port" SILO_CALLBACK_URL="$callback" \
SILO_SHORT_CONFIG="$dir/short.json" SILO_SHORT_LOG="$dir/short.log" SILO_SHORT_DB="$dir/short.db" \
SILO_SHORT_WRONG_KEY_CONFIG="$dir/short-wrong.json" SILO_SHORT_KEY_HEX="$short_key" \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    timeout -k 10 "${SILO_IDENTITY_TIMEOUT:-600}" \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=180000 --test-reporter="./$sdk/reporter.mjs" \
    "$sdk/identity/host-identity.mjs" >"$dir/node.out" 2>&1 &
node_pid=$!
tail -n +1 -f "$dir/node.out" --pid="$node_pid" 2>/dev/null &
tail_pid=$!
wait "$node_pid"
status=$?
node_pid=
wait "$tail_pid" 2>/dev/null
[ "$status" = 124 ] && say_fail "the node test did not finish within ${SILO_IDENTITY_TIMEOUT:-600} s"
if ! grep -q '^ok - ' "$dir/node.out"; then
    say_fail "the node test passed nothing"; status=1
fi
if [ "$status" != 0 ] && ! grep -q '^not ok - ' "$dir/node.out"; then
    say_fail "the node test exited with status $status"
fi

# the SigV4 secret key must appear in no log (the node test searched them for every identity secret)
leaked=
for log in "$dir/silod.log" "$dir/short.log"; do
    [ -e "$log" ] && grep -qF "$secret" "$log" && leaked="$leaked $(basename "$log")"
done
if [ -n "$leaked" ]; then
    say_fail "the SigV4 secret key is in$leaked"; status=1
elif [ -s "$dir/silod.log" ]; then
    echo "ok - $label: the SigV4 secret key is in no silod log ($(cat "$dir"/*.log | wc -l) lines)"
fi
if [ "$status" != 0 ]; then
    echo "# silod's log (last 40 lines):"
    tail -40 "$dir/silod.log" 2>/dev/null | sed 's/^/#   /'
fi
progress "whole run"
exit "$status"
