#!/usr/bin/env bash
# tools/bench/host/front_door.sh — the bounded load test of silod's front door (part of
# `make bench`; run on this machine, not in the dev host): on loopback, slow request heads and
# forged large bodies from many connections (tools/bench/door_load.c, from source addresses
# 127.0.0.2..9) while real SigV4-signed clients keep invoking (tools/bench/invoke_load.c, from
# 127.0.0.1). Prints silod's peak RSS (VmHWM from /proc) and the real clients' latency p50/p99
# and invocations/s under that attack beside the same figures unloaded, from the same run.
#
# The VMM is tests/frontend/fake_vmm.c and the image builder tests/frontend/test_image_builder.sh
# (TEST DOUBLES: no microVM boots; the agent is the fake VMM's echo agent). What is measured is
# silod itself: its front door, SigV4, spooling and proxy, natively on x86. silod runs with its
# default front-door limits (max_connections 1024, 64 per client address, head_timeout_s 30,
# spool_max_unauthenticated_mib 512); the spool directory is a fresh directory under /tmp.
#
# Settings: BENCH_DOOR_SLOW (slow-head connections, default 400), BENCH_DOOR_FORGERS (forging
# threads, default 8), BENCH_DOOR_BODY_MIB (forged body size, default 64), BENCH_DOOR_REQUESTS
# (timed requests per real client, default 1000), BENCH_DOOR_WORKERS (real clients, default 2),
# BENCH_DOOR_RAMP_S (attack alone before the real clients start, default 5). Bounded: the attack
# ends when the loaded clients finish, or at 60 s; the whole run takes about 15-30 s.
set -uo pipefail
cd "$(dirname "$0")/../../.."
BUILD=${BUILD:-build}
export BUILD
slow=${BENCH_DOOR_SLOW:-400}
forgers=${BENCH_DOOR_FORGERS:-8}
body_mib=${BENCH_DOOR_BODY_MIB:-64}
requests=${BENCH_DOOR_REQUESTS:-1000}
workers=${BENCH_DOOR_WORKERS:-2}
ramp=${BENCH_DOOR_RAMP_S:-5}
bin=$BUILD/host/bin

if ! make -s -j2 BUILD="$BUILD" "$bin/silod" "$bin/fake_vmm" "$bin/silo-api" "$bin/invoke_load" "$bin/door_load" >&2; then
    echo "# front_door bench: build failed"
    exit 1
fi

dir=$(mktemp -d /tmp/silo-bench-door.XXXXXX)
silod_pid= door_pid=
cleanup() {
    [ -n "$door_pid" ] && kill -TERM "$door_pid" 2>/dev/null && wait "$door_pid" 2>/dev/null
    if [ -n "$silod_pid" ]; then
        kill -TERM "$silod_pid" 2>/dev/null
        wait "$silod_pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/images" "$dir/sockets" "$dir/spool" "$dir/agent"
akid="AKIDSILODOOR$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cat >"$dir/silod.json" <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": 0,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$dir/silod.db", "spool_dir": "$dir/spool",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "bench" } ],
  "image_builder": "$PWD/tests/frontend/test_image_builder.sh",
  "max_sessions": 20, "max_guest_mib": 4096, "ping_interval_s": 0,
  "vmm": { "path": "$PWD/$bin/fake_vmm", "kernel": "/nonexistent/Image",
           "rootfs_dir": "$dir/images", "socket_dir": "$dir/sockets",
           "cpus": 1, "guest_mib": 128, "ready_timeout_ms": 5000 }
}
JSON
. tests/host/silod_start.lib
if ! start_silod "$dir/silod.json" "$dir/silod.log"; then
    echo "# front_door bench: silod did not start"
    exit 1
fi
export SILO_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID="$akid" AWS_SECRET_ACCESS_KEY="$secret"
export AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN
created=$("$bin/silo-api" runtime create benchdoor --image "$dir/agent" --wait --json 2>"$dir/create.err")
rid=$(echo "$created" | tr -d '\n' | sed -n 's/.*"agentRuntimeId" *: *"\([^"]*\)".*/\1/p')
if [ -z "$rid" ]; then
    echo "# front_door bench: could not create the runtime: $(cat "$dir/create.err") $created"
    exit 1
fi
target="http://127.0.0.1:$port/runtimes/$rid/invocations?qualifier=DEFAULT"
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$silod_pid/status"; }
field_of() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
clients() { "$bin/invoke_load" --key "$akid" --secret "$secret" --workers "$workers" --requests "$requests" "$target"; }

# ---- unloaded: the real clients alone (after one warm-up pass that starts their sessions)
clients >/dev/null
hwm_start=$(status_kib VmHWM)
unloaded=$(clients)
hwm_unloaded=$(status_kib VmHWM)
rss_unloaded=$(status_kib VmRSS)

# ---- loaded: the attack alone for the ramp, then the real clients again while it goes on
t0=$(date +%s)
"$bin/door_load" --port "$port" --key "$akid" --slow "$slow" --forgers "$forgers" --body-mib "$body_mib" \
    --seconds 60 >"$dir/door.out" 2>&1 &
door_pid=$!
sleep "$ramp"
conns_during=$(ls /proc/$silod_pid/fd 2>/dev/null | wc -l)
threads_during=$(awk '$1 == "Threads:" { print $2 }' "/proc/$silod_pid/status")
rss_during=$(status_kib VmRSS)
loaded=$(clients)
rc_loaded=$?
kill -TERM "$door_pid" 2>/dev/null
wait "$door_pid" 2>/dev/null
door_pid=
t1=$(date +%s)
hwm_loaded=$(status_kib VmHWM)
door=$(cat "$dir/door.out")
sleep 1
rss_after=$(status_kib VmRSS)
spool_left=$(ls "$dir/spool" | wc -l)
slow_cut_log=$(grep -c 'connection closed: slow head' "$dir/silod.log")
rejected_log=$(grep -c 'auth rejected' "$dir/silod.log")
limit_log=$(grep -c 'reached connection limit' "$dir/silod.log")

echo
echo "== front door under attack: silod (fake VMM, x86, loopback), $workers real SigV4 clients x $requests invocations"
echo "   attack: $slow slow-head connections (one byte a second) + $forgers threads of forged ${body_mib} MiB bodies"
echo "   (nohash / chunked / unknown key / UNSIGNED-PAYLOAD, rotating), from 8 source addresses; ${ramp} s ramp, $((t1 - t0)) s in all"
printf '%-48s %14s %14s\n' "figure" "unloaded" "under attack"
printf '%-48s %14s %14s\n' "real clients: p50 (ms)" "$(field_of p50_ms "$unloaded")" "$(field_of p50_ms "$loaded")"
printf '%-48s %14s %14s\n' "real clients: p99 (ms)" "$(field_of p99_ms "$unloaded")" "$(field_of p99_ms "$loaded")"
printf '%-48s %14s %14s\n' "real clients: max (ms)" "$(field_of max_ms "$unloaded")" "$(field_of max_ms "$loaded")"
printf '%-48s %14s %14s\n' "real clients: invocations/s" "$(field_of ips "$unloaded")" "$(field_of ips "$loaded")"
printf '%-48s %14s %14s\n' "real clients: ok / sent" "$(field_of ok "$unloaded")/$(field_of requests "$unloaded")" \
    "$(field_of ok "$loaded")/$(field_of requests "$loaded")"
printf '%-48s %14s %14s\n' "silod peak RSS, VmHWM (KiB)" "$hwm_unloaded" "$hwm_loaded"
printf '%-48s %14s %14s\n' "silod RSS, VmRSS (KiB)" "$rss_unloaded" "$rss_during"
printf '%-48s %14s %14s\n' "silod descriptors / threads" "-" "$conns_during / $threads_during"
echo "silod VmHWM before the measured unloaded pass: $hwm_start KiB; VmRSS 1 s after the attack: $rss_after KiB;" \
     "spool files left: $spool_left"
echo "silod log: $slow_cut_log slow-head connections cut, $rejected_log auth rejections, $limit_log connection-limit refusals"
echo "attack: $door"
echo "raw: unloaded=[$unloaded] loaded=[$loaded]"
[ "$rc_loaded" = 0 ] || echo "# front_door bench: some real invocations failed under attack"
exit 0
