#!/usr/bin/env bash
# tests/host/identity_devhost.sh — AgentCore Identity end to end on the REAL path (issue 14):
# silod (arm64), the real silo-vmm and the sample Node agent (tests/agents/node-sdk: its
# user_resource / api_key_resource tools on the bedrock-agentcore SDK's withAccessToken /
# withApiKey) run inside the dev host; on this machine run the real AWS SDK clients and
# everything outside AgentCore: two OpenID providers (oidc-provider: the users' IdP for inbound
# JWTs and the 3LO resource provider), the protected resource, a STAND-IN API-key service, the
# application behind the return URL, and headless chromium (puppeteer-core) as the user's
# browser (the host suite's host-{provider,resource,browser}.mjs reused, plus devhost-app.mjs
# and devhost-apikey.mjs; the test and its flow: tests/frontend/sdk/identity/
# devhost-identity.mjs). Inside the dev host: tests/frontend/devhost/identity-inside.sh.
# Owns: this file. ~2 minutes (measured 92-117 s on a 2-core machine).
#
# How the two sides reach each other:
#   - this machine -> silod: the forwarded port (tools/devhost --forward), also for the browser,
#     so silod's identity.callback_url is http://127.0.0.1:PORT/identities/oauth2/callback;
#   - the dev host -> this machine (silod fetching the providers' discovery, JWKS and token
#     endpoints; the agent's egress to the resource and the API-key service): the dev host's
#     QEMU user network is restrict=on (no way out), so this script opens exactly the ports of
#     the test's own servers with tools/devhost --reach: REACH_ADDR (10.0.2.100):PORT inside ->
#     127.0.0.1:PORT here (socat per connection). The servers start first (their ports are
#     the host suite's modules' choice), then the dev host boots with their forwards.
#   - inside, the two providers keep their http://127.0.0.1:PORT URLs (a busybox nc relay on the
#     same port to REACH_ADDR:PORT), so silod, the browser here and the tokens' issuers agree on
#     every URL; resource.test names REACH_ADDR for the agent (egress allows REACH_ADDR/32).
# Verdicts say "(dev host, real microVMs)".
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/frontend/sdk
label="identity (dev host, real microVMs)"
say_fail() { echo "not ok - $label: $*"; }
t_start=$(date +%s)
progress() { echo "# [$(( $(date +%s) - t_start )) s] $*"; }

if ! make -s -j2 BUILD="$BUILD" programs "$BUILD/guest/Image" devhost-agent-images >&2; then
    say_fail "build of the arm64 programs, guest kernel and sample images"
    exit 1
fi
. tests/host/sdk_clients.lib
if ! why=$(install_sdk_clients "$sdk"); then
    say_fail "$why"
    exit 1
fi
for need in socat chromium; do
    command -v "$need" >/dev/null || { say_fail "$need is needed (make deps)"; exit 1; }
done
[ -d "$sdk/node_modules/puppeteer-core" ] || { say_fail "puppeteer-core is not in $sdk/node_modules (its package.json)"; exit 1; }
progress "built"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
reach=10.0.2.100            # inside the dev host: QEMU's guestfwd address for this machine's servers
callback="http://127.0.0.1:$port/identities/oauth2/callback"
dir=$(mktemp -d /tmp/silo-devhost-identity.XXXXXX)
mkdir -p "$dir/tmp"
dh_pid= node_pid=
# every process of this run's node test, chromium included (puppeteer starts it in its own
# process group): the ones whose command line names this run's private TMPDIR
kill_ours() {
    local p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = "$$" ] && continue
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$dir/" && kill -TERM "$pid" 2>/dev/null
    done
}
cleanup() {
    [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null
    kill_ours
    # the dev host runs in its own process group (setsid below): end all of it, QEMU included
    [ -n "$dh_pid" ] && kill -TERM -- "-$dh_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
akid="AKIDSILOIDENT$(printf '%05d' $((RANDOM % 100000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
role_akid="AKIAROLEIDENT$(printf '%05d' $((RANDOM % 100000)))"
role_secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

# 1. this machine's servers and the test (it waits for silod before its first request)
SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" SILO_CONSOLE_LOG="$dir/console.log" \
SILO_CALLBACK_URL="$callback" \
SILO_SERVERS_READY="$dir/servers.ready" SILO_SILOD_UP="$dir/silod.up" \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true TMPDIR="$dir/tmp" \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=600000 --test-reporter="./$sdk/reporter.mjs" \
    "$sdk/identity/devhost-identity.mjs" > >(tee "$dir/node.out") 2>&1 &
node_pid=$!
for _ in $(seq 1 300); do
    [ -s "$dir/servers.ready" ] && break
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.2
done
if [ ! -s "$dir/servers.ready" ]; then
    say_fail "the provider, resource, app and browser did not start within 60 s (output above)"
    exit 1
fi
relay_ports=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).relay.join(" "))' "$dir/servers.ready")
direct_ports=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).direct.join(" "))' "$dir/servers.ready")
progress "servers up: providers on :${relay_ports// /, :}; resource and API-key service on :${direct_ports// /, :}"

# this machine's servers, reachable from inside the dev host at $reach:PORT (tools/devhost --reach)
reach_args=()
for p in $relay_ports $direct_ports; do
    case "$p" in ""|*[!0-9]*|"$port"|8080) say_fail "unusable server port '$p' in $dir/servers.ready (silod's: $port)"; exit 1 ;; esac
    reach_args+=(--reach "$p")
done

# 2. the dev host: silod with the identity configuration
touch "$dir/console.log"
setsid tools/devhost up --forward "$port:8080" "${reach_args[@]}" --log "$dir/console.log" \
    -- sh /silo/tests/frontend/devhost/identity-inside.sh "$akid" "$secret" "$role_akid" "$role_secret" \
       "$callback" "$reach" "${relay_ports// /,}" \
    >"$dir/devhost.out" 2>&1 &
dh_pid=$!
ready=
for _ in $(seq 1 900); do
    grep -q "silod: listening on 0.0.0.0:8080" "$dir/console.log" 2>/dev/null && { ready=1; break; }
    kill -0 "$dh_pid" 2>/dev/null || break
    sleep 0.2
done
grep -a "identity-inside:" "$dir/console.log" | tr -d '\r' | sed 's/^/# /'
if [ -z "$ready" ]; then
    tail -30 "$dir/devhost.out" "$dir/console.log" 2>/dev/null | sed 's/^/#   /'
    say_fail "silod did not start inside the dev host within 180 s"
    exit 1
fi
progress "dev host up and silod listening (forwarded 127.0.0.1:$port)"
touch "$dir/silod.up"

# 3. the test runs; its verdicts stream through tee as they come
wait "$node_pid"
status=$?
node_pid=
sleep 0.2   # tee's last lines
[ -s "$dir/bench.txt" ] && sed 's/^/# bench: /' "$dir/bench.txt"
if ! grep -q '^ok - ' "$dir/node.out"; then
    say_fail "the test passed nothing"; status=1
fi
for s in "$secret" "$role_secret"; do
    if grep -aqF "$s" "$dir/console.log"; then
        say_fail "the dev host console (silod's and the guests' logs) contains a secret key"; status=1
    fi
done
[ "$status" = 0 ] && echo "ok - $label: neither the caller's secret key nor the role's appears in any log ($(grep -ac '^silod: ' "$dir/console.log") silod lines)"
if [ "$status" != 0 ]; then
    grep -a "silod: identity\|silod: oauth\|silod: jwt\|silod: egress\|silod: request.*identities\|silo-agentd\|identity-inside" "$dir/console.log" |
        tr -d '\r' | tail -40 | sed 's/^/#   /'
fi
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/console.log" "$SILO_KEEP_LOG"; fi
progress "whole run"
exit "$status"
