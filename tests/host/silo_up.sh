#!/usr/bin/env bash
# tests/host/silo_up.sh — `make run` as a new user meets it: `tools/silo up` from this machine
# (here: the dev host boots, silod starts inside it, the sample runtime is created through the
# API and built + boot-checked by the real image builder), then the exact `silo invoke` and
# curl commands it prints are run, and Ctrl-C (SIGINT) must drain silod and stop everything.
# Verdicts say "(dev host, real microVMs)". Build: whatever `silo up` builds itself.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
label="silo up (dev host, real microVMs)"
dir=$(mktemp -d /tmp/silo-up-test.XXXXXX)
up_pid=
cleanup() {
    [ -n "$up_pid" ] && kill -INT "$up_pid" 2>/dev/null && sleep 5
    [ -n "$up_pid" ] && kill -KILL "$up_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "not ok - $label: $*"; }
ok() { echo "ok - $label: $*"; }

t0=$(date +%s)
# (a background job of a script starts with SIGINT ignored; a terminal's Ctrl-C would not be)
setsid env --default-signal=INT tools/silo up --port 0 >"$dir/out" 2>"$dir/err" &
up_pid=$!
port=
for _ in $(seq 1 1200); do
    port=$(sed -n 's|^  silod is up at http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$dir/out")
    [ -n "$port" ] && break
    kill -0 "$up_pid" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$port" ]; then
    tail -25 "$dir/err" | sed 's/^/#   /'
    if kill -0 "$up_pid" 2>/dev/null; then
        fail "no 'silod is up' line within 600 s"
        kill -INT "$up_pid" 2>/dev/null
    else
        # silo up ended before it was up: say how, with what it and the dev host last printed
        wait "$up_pid"
        up_status=$?
        tail -10 "$dir/out" | sed 's/^/#   stdout: /'
        for f in "${BUILD:-build}/run/silod.log" "${BUILD:-build}/run/devhost.out"; do
            [ -f "$f" ] && tail -15 "$f" | sed "s|^|#   $f: |"
        done
        fail "silo up exited (status $up_status) after $(( $(date +%s) - t0 )) s, before its 'silod is up' line"
    fi
    exit 1
fi
ok "up and the sample runtime deployed after $(( $(date +%s) - t0 )) s; progress lines shown: $(grep -c '^silo up:' "$dir/err")"
grep '^silo up:' "$dir/err" | sed 's/^/#   /'

invoke=$(grep -m1 '^    tools/silo invoke ' "$dir/out" | sed 's/^ *//')
creds=$(grep -m1 '^    set -a; \. ' "$dir/out" | sed 's/^ *//')
if [ -z "$invoke" ] || [ -z "$creds" ]; then
    fail "the printed instructions lack the invoke or credentials line"; cat "$dir/out" | sed 's/^/#   /'
    exit 1
fi
answer=$(bash -c "$creds; $invoke" 2>"$dir/invoke.err")
status=$?
if [ $status = 0 ] && printf '%s' "$answer" | grep -q '"prompt": *"hello from silo"' &&
   printf '%s' "$answer" | grep -q '"boot_id"' && grep -q '^session: ' "$dir/invoke.err"; then
    ok "the printed command works: $invoke -> $(printf '%s' "$answer" | head -c 120)"
else
    fail "the printed command '$invoke' answered (status $status): $answer $(cat "$dir/invoke.err")"
fi

curl_cmd=$(sed -n '/^    curl --aws-sigv4/,/qualifier=DEFAULT"$/p' "$dir/out" | sed 's/\\$//' | tr -d '\n')
if command -v curl >/dev/null && [ -n "$curl_cmd" ]; then
    answer=$(bash -c "$creds; $curl_cmd -sS -w ' HTTP=%{http_code}'" 2>&1)
    case "$answer" in
        *'"boot_id"'*'HTTP=200') ok "the printed curl --aws-sigv4 command works" ;;
        *) fail "the printed curl command answered: $answer" ;;
    esac
fi

# silo deploy against the dev host's silod: a directory agent (the C echo agent's built program
# and its image config, ECHO_TAG baked into the config) uploaded into the store inside the dev
# host, created (v1), deployed again after a change (v2 of the same runtime), each invoked with
# the command deploy printed; the agent's echo_tag says which image answered
mkdir -p "$dir/agent/app"
cp "$BUILD/arm64/bin/c-echo-agent" "$dir/agent/app/agent"
# deploy_tag TAG: deploys $dir/agent with ECHO_TAG=TAG; sets deploy_rc, deploy_invoke, dep_*
deploy_tag() {
    sed "s/\"PORT=8080\"/\"PORT=8080\", \"ECHO_TAG=$1\"/" tests/agents/c-echo/image-config.json >"$dir/agent/image-config.json"
    local t=$(date +%s)
    bash -c "$creds; tools/silo deploy '$dir/agent' --name deployed_echo" >"$dir/deploy.out" 2>"$dir/deploy.err"
    deploy_rc=$? deploy_s=$(( $(date +%s) - t ))
    dep_id=$(sed -n 's/^agentRuntimeId: *//p' "$dir/deploy.out")
    dep_version=$(sed -n 's/^agentRuntimeVersion: *//p' "$dir/deploy.out")
    dep_status=$(sed -n 's/^status: *//p' "$dir/deploy.out")
    deploy_invoke=$(grep -m1 '^  tools/silo invoke ' "$dir/deploy.out" | sed 's/^ *//')
}
for v in 1 2; do
    deploy_tag "deploy-v$v"
    if [ "$deploy_rc" = 0 ] && [ "$dep_status" = READY ] && [ "$dep_version" = "$v" ] && [ -n "$deploy_invoke" ]; then
        ok "silo deploy DIR $( [ $v = 1 ] && echo creates || echo updates) deployed_echo: version $v READY in $deploy_s s ($(grep -c 'uploaded into' "$dir/deploy.err") upload)"
    else
        fail "silo deploy (v$v): exit $deploy_rc, version $dep_version, status $dep_status; $(tail -3 "$dir/deploy.err" | tr '\n' ' ')"
        continue
    fi
    answer=$(bash -c "$creds; $deploy_invoke" 2>"$dir/invoke.err")
    if printf '%s' "$answer" | grep -q "\"echo_tag\": *\"deploy-v$v\"" && printf '%s' "$answer" | grep -q '"boot_id"'; then
        ok "the command deploy printed reaches version $v's image in a real microVM: $deploy_invoke -> $(printf '%s' "$answer" | head -c 100)"
    else
        fail "version $v: '$deploy_invoke' answered: $answer $(cat "$dir/invoke.err")"
    fi
done

# Ctrl-C: silod drains in the dev host, every microVM stops, the dev host goes, exit 0
kill -INT "$up_pid"
stopped=
for _ in $(seq 1 240); do kill -0 "$up_pid" 2>/dev/null || { stopped=1; break; }; sleep 0.5; done
if [ -z "$stopped" ]; then
    fail "still running 120 s after Ctrl-C"
else
    wait "$up_pid"; rc=$?
    up_pid=
    if [ $rc = 0 ] && grep -q 'silod in the dev host: stopped' "$dir/err" && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        ok "Ctrl-C drains silod, stops the dev host and exits 0 ($(grep -m1 'stopped after' "$dir/err"))"
    else
        fail "Ctrl-C: exit $rc; $(tail -3 "$dir/err" | tr '\n' ' ')"
    fi
fi
