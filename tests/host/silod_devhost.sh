#!/usr/bin/env bash
# tests/host/silod_devhost.sh — end-to-end tests of silod on the REAL path: silod (arm64,
# dynamically linked), the real silo-vmm and the sample agent images (tests/agents) run inside
# the dev host (tools/devhost, an emulated arm64 KVM host); this machine drives silod through the
# forwarded port with the real @aws-sdk/client-bedrock-agentcore and @modelcontextprotocol/sdk
# clients (tests/frontend/sdk/devhost.e2e.mjs). Every verdict line says "(dev host, real
# microVMs, real image builder)".
#
# Inside the dev host, tests/frontend/devhost/silod-inside.sh first measures the direct-vsock
# cold figure (exec silo-vmm -> first byte of an answer over its vsock socket), then starts silod
# with the REAL image builder (silod-build-image: the sample agents' OCI archives, made here by
# `make devhost-oci-images`, are built into images and boot-checked inside the dev host) and a
# side channel (tests/frontend/devhost/control.sh) on a second forwarded port, used to
# SIGKILL a silo-vmm, count them, and at the end: SIGTERM silod (every VMM stops after a verified
# wipe), start it again, SIGKILL it under two sessions (their VMMs still wipe and die with it) and
# start it once more (the same session id gets a fresh microVM).
# Build: arm64 programs, guest kernel, sample images and OCI archives in $BUILD (default build/).
# ~6 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
sdk=tests/frontend/sdk
label="silod (dev host, real microVMs, real image builder)"
say_fail() { echo "not ok - $label: $*"; }

if ! make -s -j2 BUILD="$BUILD" programs "$BUILD/guest/Image" devhost-agent-images devhost-oci-images >&2; then
    say_fail "build of the arm64 programs, guest kernel, sample images and OCI archives"
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
dir=$(mktemp -d /tmp/silo-devhost-silod.XXXXXX)
dh_pid=
cleanup() {
    # the dev host runs in its own process group (setsid below): end all of it, QEMU included
    [ -n "$dh_pid" ] && kill -TERM -- "-$dh_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
akid="AKIDSILODEVHOST$(printf '%05d' $((RANDOM % 100000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')

t_start=$(date +%s)
setsid tools/devhost up --forward "$port:8080" --forward "$side_port:9999" --log "$dir/console.log" \
    -- sh /silo/tests/frontend/devhost/silod-inside.sh "$akid" "$secret" 3 >"$dir/devhost.out" 2>&1 &
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
grep -a "silod-inside: direct-vsock" "$dir/console.log" | tr -d '\r' | sed 's/^/# /'
mapfile -t direct < <(grep -a "silod-inside: direct-vsock" "$dir/console.log" |
    sed -n 's/.*ms=\([0-9]*\) answer=HTTP\/1.1 200.*/\1/p' | sort -n)
if [ ${#direct[@]} -ge 1 ]; then
    echo "# bench: direct vsock cold invocation (exec silo-vmm -> first byte over its vsock socket, inside the dev host): median ${direct[$(( (${#direct[@]} - 1) / 2 ))]} ms of ${#direct[@]} ($(IFS=,; echo "${direct[*]}"))"
else
    say_fail "direct vsock cold invocation: no 200 answer (see the silod-inside lines above)"
fi

SILOD_ENDPOINT="http://127.0.0.1:$port" SILO_ACCESS_KEY_ID="$akid" SILO_SECRET_ACCESS_KEY="$secret" \
SILO_REGION=us-east-1 SILO_ACCOUNT_ID=123456789012 SILO_TEST_DIR="$dir" SILO_SIDE_PORT="$side_port" \
SILO_TEST_PREFIX="$label" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node --test --test-concurrency=1 --test-force-exit --test-timeout=600000 --test-reporter="./$sdk/reporter.mjs" \
    "$sdk/devhost.e2e.mjs"
node_status=$?
[ -s "$dir/bench.txt" ] && sed 's/^/# bench: /' "$dir/bench.txt"
# what the real image builder logged inside the dev host: one line per version it made READY
grep -a "silod: build .*silod-build-image: .* ready: " "$dir/console.log" | tr -d '\r' |
    sed 's/^.*silod-build-image: /# bench: image build + boot check in the dev host: /'


# warm starts (docs/snapshots.md): the builder's templates served the C and MCP sessions above
check_restored_sessions "$label" "$dir/console.log" c-echo mcp-server || node_status=1

# the side channel (tests/frontend/devhost/control.sh): one verb, one answer line
side() {
    node -e '
const s = require("net").connect(Number(process.argv[1]), "127.0.0.1");
let t = ""; s.on("connect", () => s.write(process.argv[2] + "\n")); s.on("data", (d) => { t += d; });
s.on("close", () => console.log(t.trim())); s.on("error", () => console.log(""));' "$side_port" "$1"
}
# every silo-vmm runs with --verify-wipe (silod-inside.sh): one line per VM that wiped its memory
wipes() { grep -ac "silo-vmm: wipe verified" "$dir/console.log"; }
count_listening() { grep -ac "silod: listening on 0.0.0.0:8080" "$dir/console.log"; }
wait_listening() {   # N: until silod has said "listening" N times (60 s at most)
    for _ in $(seq 1 300); do
        [ "$(count_listening)" -ge "$1" ] && return 0
        sleep 0.2
    done
    return 1
}

# SIGTERM: silod stops every microVM it runs (each wipes its memory) and exits
wipes_before=$(wipes)
answer=$(side stop-silod)
case "$answer" in
    "stopped vmms_before="[1-9]*" vmms_left=0")
        n_before=${answer#*=}; n_before=${n_before%% *}
        sleep 1
        wiped=$(( $(wipes) - wipes_before ))
        if [ "$wiped" -ge "$n_before" ]; then
            echo "ok - $label: SIGTERM stops silod and the ${n_before} silo-vmm processes it ran, each after a verified wipe ($wiped); none outlives it"
        else
            say_fail "SIGTERM: ${n_before} silo-vmm processes stopped but only $wiped said 'wipe verified'"; node_status=1
        fi ;;
    *) say_fail "SIGTERM: the dev host answered '$answer' (want: stopped vmms_before=N>0 vmms_left=0)"; node_status=1 ;;
esac

# SIGKILL: silod started again on the same database, two sessions, then kill -9 silod: its VMMs
# die with it, each wiping its memory first; and the next silod serves the same session id from a
# fresh microVM
export SILO_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN SILO_BIN
silod_up() {   # start silod again; N = the "listening" lines to wait for
    local a
    a=$(side start-silod)
    case "$a" in "started "[0-9]*) ;; *) return 1 ;; esac
    wait_listening "$1"
}
json_field() { node -e 'let d="";process.stdin.on("data",(c)=>d+=c).on("end",()=>{const v=JSON.parse(d)[process.argv[1]];if(v===undefined)process.exit(1);console.log(v)})' "$1"; }
kill_ok=
if silod_up 2 &&
   rt=$(tools/silo runtime create "devhost_kill_$RANDOM" --image silo.local/agents/c-echo:latest --wait --json 2>"$dir/cli.err" |
        json_field agentRuntimeId) &&
   tools/silo invoke "$rt" '{"prompt":"one"}' --session "kill-test-session-one-0123456789abcdef" >"$dir/inv1" 2>>"$dir/cli.err" &&
   tools/silo invoke "$rt" '{"prompt":"two"}' --session "kill-test-session-two-0123456789abcdef" >"$dir/inv2" 2>>"$dir/cli.err"; then
    wipes_before=$(wipes)
    answer=$(side kill-silod)
    sleep 1
    wiped=$(( $(wipes) - wipes_before ))
    case "$answer" in
        "killed vmms_before=2 vmms_left=0")
            if [ "$wiped" -ge 2 ]; then
                echo "ok - $label: SIGKILL of silod: its 2 silo-vmm processes end with it, each after a verified wipe; none outlives it"
                kill_ok=1
            else
                say_fail "SIGKILL of silod: the VMMs ended but only $wiped said 'wipe verified'"; node_status=1
            fi ;;
        *) say_fail "SIGKILL of silod: the dev host answered '$answer' (want: killed vmms_before=2 vmms_left=0)"; node_status=1 ;;
    esac
else
    sed 's/^/#   /' "$dir/cli.err" 2>/dev/null | tail -5
    say_fail "SIGKILL of silod: could not restart silod and start two sessions to kill it under"; node_status=1
fi
if [ -n "$kill_ok" ]; then
    boot1=$(json_field vm_id <"$dir/inv1")
    if silod_up 3 &&
       boot_after=$(tools/silo invoke "$rt" '{"prompt":"after"}' --session "kill-test-session-one-0123456789abcdef" 2>>"$dir/cli.err" |
                    json_field vm_id) &&
       [ -n "$boot1" ] && [ -n "$boot_after" ] && [ "$boot_after" != "$boot1" ]; then
        echo "ok - $label: after the SIGKILL a new silod starts on the same database and the same session id boots a fresh microVM"
    else
        grep -a "silod: removed\|silod: listening" "$dir/console.log" | tr -d '\r' | sed 's/^/#   /'
        tail -5 "$dir/cli.err" | sed 's/^/#   /'
        say_fail "after the SIGKILL of silod: the restarted silod did not give the session id a fresh microVM (boot $boot1 -> ${boot_after:-none})"
        node_status=1
    fi
    side stop-silod >/dev/null
fi
if grep -aqF "$secret" "$dir/console.log"; then
    say_fail "the dev host console (silod's log) contains the secret access key"; node_status=1
else
    echo "ok - $label: silod's log never contains the secret key ($(grep -ac '^silod: request' "$dir/console.log") request lines)"
fi
if [ -n "${SILO_KEEP_LOG:-}" ]; then cp "$dir/console.log" "$SILO_KEEP_LOG"; fi
echo "# whole run $(( $(date +%s) - t_start )) s"
exit "$node_status"
