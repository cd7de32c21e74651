#!/bin/sh
# tests/e2e/dev_vsock.sh — virtio-vsock on real KVM with Firecracker's hybrid convention: a host
# client reaches a guest listener through CONNECT; the guest reaches a host listener at PATH_P;
# 100 MB each way (and host-initiated guest->host) arrive intact; 64 concurrent streams; a port
# nobody listens on fails cleanly on both sides; VMM memory stays bounded. Figures: throughput
# and small-message round trip.
TEST=dev_vsock
. "$(dirname "$0")/dev.lib"
T=$(mktemp -d /tmp/dev_vsock.XXXXXX)
need_files
BYTES=${DEV_VSOCK_BYTES:-104857600}
UDS=$T/v.sock
TOOL=/silo/bin/vsock-tool
t() { timeout "${STEP_TIMEOUT:-900}" "$TOOL" "$@"; }

# the host listener the guest connects to (CID 2 port 7000 -> $UDS_7000), before the VM starts
t serve "unix:${UDS}_7000" sink --once >"$T/h7000.out" 2>&1 &
h7000=$!
"$VMM" --kernel "$IMAGE" --mem 256M --cpus 2 --disk "$ROOT,cow" --vsock-cid 3 --vsock-uds "$UDS" \
    --cmdline "$BASE_CMDLINE rw silo.test=vsock silo.bytes=$BYTES" >"$T/vm.out" 2>"$T/vm.err" </dev/null &
vm=$!

t --retry-ms 240000 streams "uds:$UDS:1234" 1 4096 >"$T/first.out" 2>&1
check $? "host CONNECT 1234 -> OK, echo through a guest listener ($(cat "$T/first.out"))"
[ "$failures" = 0 ] || { show "$T/vm.out"; show "$T/vm.err"; }

t send "uds:$UDS:5000" "$BYTES" >"$T/h2g.out" 2>&1
check $? "host -> guest $BYTES bytes intact: $(sed 's/^vsock-tool: //' "$T/h2g.out")"

t recv "uds:$UDS:5001" >"$T/g2h.out" 2>&1
check $? "guest -> host over a host-initiated connection, $BYTES bytes intact: $(sed 's/^vsock-tool: //' "$T/g2h.out")"

wait "$h7000"
grep -q "sink ok bytes=$BYTES" "$T/h7000.out"
check $? "guest-initiated connection to CID 2 port 7000 reached ${UDS}_7000, $BYTES bytes intact: $(tail -1 "$T/h7000.out" | sed 's/^vsock-tool: //')"

t streams "uds:$UDS:1234" 64 65536 >"$T/streams.out" 2>&1
check $? "64 concurrent streams: $(sed 's/^vsock-tool: //' "$T/streams.out")"

t refused "uds:$UDS:4444" >"$T/refused.out" 2>&1
check $? "host CONNECT to a guest port nobody listens on fails cleanly: $(cat "$T/refused.out")"

for i in $(seq 1 100); do has "$T/vm.out" "guest-initiated tests done" && break; sleep 1; done
has "$T/vm.out" "vsock-tool: refused ok"
check $? "guest connect to a host port nobody listens on (7001) gets a reset"

t ping "uds:$UDS:1234" 500 >"$T/ping.out" 2>&1
check $? "small-message ping-pong: $(cat "$T/ping.out")"

# VMM memory: guest RAM (256 MiB, only what the guest touched is resident) plus bounded buffers
vmm=$(vmm_pid "$vm")
hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$vmm/status")
if [ "$VMM_JAILED" = 1 ]; then
    # the device test ran against a jailed VMM: its own PID namespace, uid and cgroup
    [ "$vmm" != "$vm" ] && [ "$(cat /proc/$vmm/comm)" = silo-vmm ] &&
        [ "$(readlink /proc/$vmm/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
        [ "$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$vmm/status)" -ge 20000 ] &&
        grep -q "^0::/silo-e2e/vmm-$vm\$" /proc/$vmm/cgroup
    check $? "the VMM (pid $vmm) ran jailed: its own PID namespace, uid $(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$vmm/status), cgroup $(cut -d: -f3 /proc/$vmm/cgroup)"
fi
[ -n "$hwm" ] && [ "$hwm" -lt $((128 * 1024)) ]
check $? "VMM peak RSS ${hwm:-?} kB stays below 128 MiB (guest RAM 256 MiB, touched pages included) after moving $((3 * BYTES / 1048576)) MiB"
echo "# figure: vsock host->guest $(sed -n 's/.*(\([0-9.]* MB\/s\)).*/\1/p' "$T/h2g.out"), guest->host $(sed -n 's/.*(\([0-9.]* s\), \([0-9.]* MB\/s\)).*/\2/p' "$T/g2h.out"), $(sed 's/^vsock-tool: //' "$T/ping.out")"

kill "$vm" 2>/dev/null
wait "$vm"
[ "$failures" = 0 ] || { show "$T/vm.out" 40; show "$T/vm.err"; }
rm -rf "$T"
exit 0
