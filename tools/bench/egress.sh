# tools/bench/egress.sh — the egress path's cost: plain-HTTP downloads and small requests from
# inside a microVM through agentd's proxy, vsock and silod's egress relay, beside the very same
# client (tests/agents/c-echo/http_fetch.c) run directly in the dev host against the same
# server (silo-model-standin's plain-HTTP port on 10.99.0.1, an address silod's policy allows by
# CIDR). The agent is the C sample agent ("fetch" action) in a real microVM under silo-vmm,
# started by silod (1 vCPU, 256 MiB); the "peer" column is the direct connection, so the ratio
# is what the egress path costs. BENCH_EGRESS_MIB (default 64) per download, 3 downloads;
# BENCH_EGRESS_REQUESTS (default 30) small requests (/hello, 36 bytes).
. /silo/tools/bench/common.lib
mib=${BENCH_EGRESS_MIB:-64}
requests=${BENCH_EGRESS_REQUESTS:-30}
d=/tmp/bench-egress
rm -rf $d
mkdir -p $d/images $d/sock
akid=AKIDSILOBENCHEGRESS1
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
port=8090
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
store=/silo/extra/oci-store
[ -s $store/silo.local/agents/c-echo/latest.tar ] || { echo "# egress bench: no sample OCI archive in $store (make devhost-oci-images)"; exit 1; }
ip addr add 10.99.0.1/32 dev lo 2>/dev/null
silo-model-standin --http-port 8081 2>/dev/null &
standin=$!

cat >$d/silod.json <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": $port,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "bench" } ],
  "image_builder": "/silo/bin/silod-build-image", "image_store": "$store",
  "max_sessions": 4, "max_guest_mib": 2048,
  "egress": { "allow_cidrs": ["10.99.0.1/32"] },
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 1, "guest_mib": 256, "ready_timeout_ms": 120000, "cmdline": "$cmdline" }
}
JSON
start_silod
export AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1 SILO_ENDPOINT=http://127.0.0.1:$port
created=$(silo-api runtime create benchegress --image silo.local/agents/c-echo:latest --wait --json 2>$d/create.err)
rid=$(echo "$created" | tr -d '\n' | sed -n 's/.*"agentRuntimeId" *: *"\([^"]*\)".*/\1/p')
if [ -z "$rid" ]; then
    echo "# egress bench: could not create the runtime: $(cat $d/create.err) $created"
    stop_silod; kill $standin
    exit 1
fi
session=bench-egress-session-0123456789abcdef0123
fetch_in_guest() {   # URL REPEAT -> one elapsed-us value per line
    silo-api invoke "$rid" "{\"action\":\"fetch\",\"url\":\"$1\",\"repeat\":$2}" --session $session 2>>$d/invoke.err |
        tr ',' '\n' | sed -n 's/.*"us":\([0-9]*\).*/\1/p'
}
fetch_direct() { silo-http-fetch --repeat "$2" "$1" | sed -n 's/.* us=\([0-9]*\)$/\1/p'; }
bytes=$((mib * 1048576))
big="http://10.99.0.1:8081/bytes?n=$bytes"
small="http://10.99.0.1:8081/hello"
fetch_in_guest "$small" 1 >/dev/null          # boots the session's microVM (not measured)
g_big=$(fetch_in_guest "$big" 3 | median)
x_big=$(fetch_direct "$big" 3 | median)
g_small=$(fetch_in_guest "$small" "$requests" | median)
x_small=$(fetch_direct "$small" "$requests" | median)
stop_silod
kill $standin 2>/dev/null
mbps() { awk -v b="$bytes" -v us="$1" 'BEGIN { if (us + 0 > 0) printf "%.1f", b / 1048576 / (us / 1e6); else print "-" }'; }
ms() { awk -v us="$1" 'BEGIN { if (us + 0 > 0) printf "%.2f", us / 1000; else print "-" }'; }
echo "== egress: microVM -> agentd proxy -> vsock -> silod -> server, beside the same client direct in the dev host"
printf '%-44s %12s %12s %10s\n' "figure" "via egress" "direct" "direct/ours"
row "download ${mib} MiB, MiB/s (median of 3)" "$(mbps "$g_big")" "$(mbps "$x_big")"
row "small request, connect -> EOF, ms (median of $requests)" "$(ms "$g_small")" "$(ms "$x_small")"
grep -v "^session: " $d/invoke.err | sed "s/^/# egress bench: /" | head -5
