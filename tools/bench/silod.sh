# tools/bench/silod.sh — silod's own cost: invocations through silod (SigV4, routing, proxy)
# beside the same invocations sent straight to the agent over its microVM's vsock socket (the
# "peer" column here is that direct path, so the difference is what the proxy costs). The agent
# is the C sample agent (c-echo) in real microVMs under silo-vmm, in the dev host. Figures:
#   cold invocation: new session id -> first byte of the answer (silod), exec silo-vmm -> first
#     byte over the vsock socket (direct)
#   warm latency p50/p99 and invocations/s: one session one connection; one session four
#     connections; four sessions (four microVMs) one connection each
#   memory per idle session: silod's RSS growth, and the VMM's whole RSS (guest pages included)
# BENCH_SILOD_REQUESTS (default 200) timed requests per worker, BENCH_SILOD_COLD (default 5).
# The runtime is created through the API from the sample's OCI archive in the local image store
# (the real image builder builds and boot-checks it; builds are not measured here), and the
# direct figures boot the very image silod built.
. /silo/tools/bench/common.lib
requests=${BENCH_SILOD_REQUESTS:-200}
colds=${BENCH_SILOD_COLD:-5}
d=/tmp/bench-silod
rm -rf $d
mkdir -p $d/images $d/sock $d/direct
akid=AKIDSILOBENCH0001
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
port=8089
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
store=/silo/extra/oci-store
[ -s $store/silo.local/agents/c-echo/latest.tar ] || { echo "# silod bench: no sample OCI archive in $store (make devhost-oci-images)"; exit 1; }

cat >$d/silod.json <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": $port,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "bench" } ],
  "image_builder": "/silo/bin/silod-build-image", "image_store": "$store",
  "max_sessions": 16, "max_guest_mib": 4096,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 1, "guest_mib": 256, "ready_timeout_ms": 120000, "cmdline": "$cmdline" }
}
JSON

# busybox date has no %N: /proc/uptime, 10 ms steps
now_ms() { read -r up _ </proc/uptime; echo $(( ${up%.*} * 1000 + 1${up#*.} * 10 - 1000 )); }
rss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/$1/status 2>/dev/null; }
vmm_pids() {
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        [ "$(cat /proc/$p/comm 2>/dev/null)" = silo-keeper ] && continue  # a VMM's wipe keeper (a fork of it)
        case "$(tr '\0' ' ' <"$f" 2>/dev/null)" in "/silo/bin/silo-vmm "* | "/silo-vmm "*) echo "$p" ;; esac  # jailed: /silo-vmm
    done
}

start_silod
export AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1 SILO_ENDPOINT=http://127.0.0.1:$port
created=$(silo-api runtime create benchsample --image silo.local/agents/c-echo:latest --wait --json 2>$d/create.err)
rid=$(echo "$created" | tr -d '\n' | sed -n 's/.*"agentRuntimeId" *: *"\([^"]*\)".*/\1/p')
if [ -z "$rid" ]; then
    echo "# silod bench: could not create the runtime: $(cat $d/create.err) $created"
    stop_silod
    exit 1
fi
target="http://127.0.0.1:$port/runtimes/$rid/invocations?qualifier=DEFAULT"
image=$d/images/$rid-v1.ext4
load() { invoke_load --key $akid --secret "$secret" "$@"; }
field_of() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# ---- cold
cold_silod=$(load --cold --requests "$colds" "$target")
stop_silod
direct_cold() {
    sock=$d/direct/cold.sock
    rm -f $sock
    t0=$(now_ms)
    silo-vmm --kernel /silo/guest/Image --cmdline "$cmdline" --mem 256M --cpus 1 \
        --disk $image,cow --vsock-cid 3 --vsock-uds $sock >/dev/null 2>&1 &
    vpid=$!
    while [ ! -S $sock ] && kill -0 $vpid 2>/dev/null; do sleep 0.02; done
    printf 'POST /invocations HTTP/1.1\r\nHost: l\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"prompt":"cold"}' |
        silo-vsock --timeout 120 --retry-ms 120000 uds:$sock:8080 | head -c 12 >/dev/null
    t1=$(now_ms)
    kill $vpid 2>/dev/null; wait $vpid 2>/dev/null
    echo $((t1 - t0))
}
: >$d/cold.direct
i=0
while [ $i -lt "$colds" ]; do direct_cold >>$d/cold.direct; i=$((i + 1)); done

# ---- direct microVMs for the warm figures (booted, then waited for their agent)
direct_vm() {
    sock=$d/direct/vm$1.sock
    rm -f $sock
    silo-vmm --kernel /silo/guest/Image --cmdline "$cmdline" --mem 256M --cpus 1 \
        --disk $image,cow --vsock-cid 3 --vsock-uds $sock >/dev/null 2>&1 &
    echo $! >>$d/direct/pids
    while [ ! -S $sock ]; do sleep 0.05; done
    printf 'GET /ping HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n' |
        silo-vsock --timeout 120 --retry-ms 120000 uds:$sock:8080 >/dev/null
}
: >$d/direct/pids
for n in 0 1 2 3; do direct_vm $n; done
s0=$d/direct/vm0.sock
all4=$d/direct/vm0.sock,$d/direct/vm1.sock,$d/direct/vm2.sock,$d/direct/vm3.sock
d_one=$(invoke_load --requests "$requests" uds:$s0)
d_reconnect=$(invoke_load --reconnect --requests "$requests" uds:$s0)
d_conc=$(invoke_load --workers 4 --requests "$requests" uds:$s0)
d_across=$(invoke_load --workers 4 --requests "$requests" uds:$all4)
kill $(cat $d/direct/pids) 2>/dev/null
for p in $(cat $d/direct/pids); do wait $p 2>/dev/null; done

# ---- through silod (fresh silod per figure: the sessions of one do not load the next)
start_silod
s_one=$(load --requests "$requests" "$target")
stop_silod
start_silod
s_conc=$(load --workers 4 --shared-session --requests "$requests" "$target")
stop_silod
start_silod
s_across=$(load --workers 4 --requests "$requests" "$target")
stop_silod

# ---- memory per idle session
idle=${BENCH_SILOD_IDLE:-6}
start_silod
sleep 1
rss0=$(rss_kib $silod_pid)
load --workers "$idle" --requests 1 "$target" >/dev/null
sleep 2
rss1=$(rss_kib $silod_pid)
vmm_total=0
nv=0
for p in $(vmm_pids); do vmm_total=$((vmm_total + $(rss_kib $p))); nv=$((nv + 1)); done
stop_silod

echo
echo "== silod: invocations through silod beside the same ones straight over the vsock socket (c-echo, 1 vCPU, 256 MiB)"
printf '%-52s %12s %12s %10s\n' "figure" "via silod" "direct" "silod/direct"
prow() { printf '%-52s %12s %12s %10s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")"; }
prow "cold: new session -> first byte, median of $colds (ms)" "$(field_of p50_ms "$cold_silod")" "$(median <$d/cold.direct)"
for fig in one conc across; do
    eval "sv=\$s_$fig; dv=\$d_$fig"
    case $fig in
        one) what="1 session, 1 connection" ;;
        conc) what="1 session, 4 connections" ;;
        across) what="4 sessions, 1 connection each" ;;
    esac
    prow "$what: p50 (ms)" "$(field_of p50_ms "$sv")" "$(field_of p50_ms "$dv")"
    prow "$what: p99 (ms)" "$(field_of p99_ms "$sv")" "$(field_of p99_ms "$dv")"
    prow "$what: invocations/s" "$(field_of ips "$sv")" "$(field_of ips "$dv")"
done
prow "1 session, 1 connection: p50 (ms), direct with a new vsock connection per request" "$(field_of p50_ms "$s_one")" "$(field_of p50_ms "$d_reconnect")"
echo "memory: silod RSS $rss0 KiB with no session, $rss1 KiB with $idle idle sessions:" \
     "$(( (rss1 - rss0) / idle )) KiB per idle session in silod;" \
     "each idle session's silo-vmm: $(( nv > 0 ? vmm_total / nv : 0 )) KiB RSS (guest pages included), $nv VMMs"
echo "raw: cold=[$cold_silod] one=[$s_one] conc=[$s_conc] across=[$s_across]"
echo "raw direct: reconnect=[$d_reconnect] one=[$d_one] conc=[$d_conc] across=[$d_across]"
