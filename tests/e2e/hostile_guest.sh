# tests/e2e/hostile_guest.sh — a hostile guest (issue #18 item 5, first version): the raw payload
# /silo/bin/hostile-guest.bin (tests/e2e/progs/hostile_guest.c, no Linux) attacks virtio-blk,
# virtio-rng and every virtio-mmio slot's registers (descriptor loops, buffers outside guest RAM,
# lengths of 0xffffffff, writes past the end of the disk, an avail index jumped by 60000, a
# storm of 200000 notifies, every register offset read and written, bad QueueSel/QueueNum,
# DRIVER_OK before FEATURES_OK) while a normal guest runs beside it. Checks: the hostile VMM
# ends by the payload's own power-off (exit 0, no timeout, no signal), prints every attack line
# up to the last, reports no crash, its peak RSS stays bounded, guest RAM is wiped and verified,
# the disk file keeps its size, the device still serves sane requests after the attacks, and the
# neighbour VMM keeps running, then ends normally on SIGINT.
# virtio-vsock gets, on its TX queue with the RX queue never made ready: a header claiming
# 0xffffffff payload bytes in a 44-byte buffer, a spoofed src_cid, a REQUEST to another CID, and
# up to 1000 REQUESTs to a host port nobody listens on (the device may stop taking packets once
# its replies have nowhere to go; the payload then stops and says how many were taken).
# Then, with RX and TX up, up to 1100 half-open connections to host port 7000, where a holder
# accepts each and never reads or writes: the VMM must answer a bounded number (its connection
# table), RST the rest, keep its descriptors bounded, and still power off cleanly.
# Not covered yet: interrupt storms from the device side. Known failures: none.
. /silo/tests/e2e/dev.lib
TEST=hostile_guest
PAYLOAD=${SILO_HOSTILE_GUEST:-/silo/bin/hostile-guest.bin}
INITRD=${SILO_INITRD:-/silo/guest/tiny-initrd.cpio}
T=$(mktemp -d /tmp/hostile_guest.XXXXXX)
for f in "$VMM" "$IMAGE" "$INITRD" "$PAYLOAD"; do
    [ -e "$f" ] || { not_ok "missing $f (build with: make devhost)"; exit 1; }
done

# --- the neighbour: a normal Linux guest that boots and then idles ----------------------------
"$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 128M \
    --cmdline "console=ttyS0 reboot=k panic=-1 quiet silo.tiny=hang" \
    --verify-wipe --console "$T/neighbour.console" >/dev/null 2>"$T/neighbour.err" </dev/null &
neighbour=$!

# --- the hostile guest ----------------------------------------------------------------------
# the host side of the half-open attack: accepts every connection to port 7000 and holds it
/silo/bin/vsock-tool serve "unix:$T/vsock.sock_7000" hold >"$T/hold.out" 2>&1 &
holder=$!
dd if=/dev/zero of="$T/disk.img" bs=1024 count=1024 2>/dev/null
size_before=$(wc -c <"$T/disk.img")
# 4096 descriptors, as silod's jail gives (jail.nofile): the connection table (1024), not the
# descriptor limit, is what bounds the half-open connections
(ulimit -n 4096; exec "$VMM" --kernel "$PAYLOAD" --mem 64M --disk "$T/disk.img" --rng --vsock-cid 3 \
    --vsock-uds "$T/vsock.sock" --verify-wipe -v >"$T/hostile.out" 2>"$T/hostile.err" </dev/null) &
pid=$!
# poll its peak RSS (VmHWM) and CPU time until it exits, at most 120 s
hwm=0 ticks=0 i=0 maxfds=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 1200 ]; do
    f=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
    [ "$f" -gt "$maxfds" ] && maxfds=$f
    h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status 2>/dev/null)
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    t=$(awk '{print $14 + $15}' /proc/$pid/stat 2>/dev/null)
    [ -n "$t" ] && ticks=$t
    sleep 0.1
    i=$((i + 1))
done
timed_out=0
if kill -0 "$pid" 2>/dev/null; then
    timed_out=1
    kill -KILL "$pid"
fi
wait "$pid"
status=$?
echo "# hostile VMM: exit $status after ~$((i / 10)) s, peak RSS ${hwm} KiB, CPU ${ticks} ticks, at most $maxfds descriptors"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
sed 's/^/# console: /' "$T/hostile.out"

[ "$timed_out" = 0 ] && [ "$status" = 0 ]
check $? "the hostile guest ends by its own power-off within 120 s (exit $status, timed out: $timed_out)"
[ "$status" = 0 ] || show "$T/hostile.err"
for line in "hostile: start" "blk up: status=0xf" "blk descriptor loop" "blk two-descriptor loop" \
    "blk header outside RAM" "blk data outside RAM" "blk read of length 0xffffffff" \
    "blk write of length 0xffffffff" "blk write past the end" "blk write straddling the end" \
    "blk write at sector 2^63" "blk avail index jumped by 60000" "blk notify storm of 200000" \
    "rng buffer outside RAM" "rng buffer of length 0xffffffff" "rng descriptor loop" \
    "vsock TX len 0xffffffff in a 44-byte buffer" "vsock REQUEST with a spoofed src_cid" \
    "vsock REQUEST to CID 7" "vsock flood of REQUESTs to an unbound port" "vsock half-open" \
    "slot 0x0 every offset" "slot 0x1 every offset" "slot 0x2 every offset" \
    "slot 0x2 bad QueueSel/QueueNum" "slot 0x2 DRIVER_OK before FEATURES_OK" "hostile: done"; do
    has "$T/hostile.out" "$line"
    check $? "console shows the attack: $line"
done
grep -q "hostile: slots probed: 0x3 devices" "$T/hostile.out"
check $? "the payload found the three devices (blk, vsock, rng)"
# after all the attacks on it, a reset device still serves a sane request (used=0x1, status OK)
grep "blk sane read after the attacks" "$T/hostile.out" | grep -q "used=0x1 .*req_status=0x0$"
check $? "virtio-blk still completes a sane read after the attacks"
grep "rng sane request after the attacks" "$T/hostile.out" | grep -q "used=0x1 used_len=0x40 "
check $? "virtio-rng still fills a sane 64-byte buffer after the attacks"
# no attack on the disk succeeded: every bad request either failed or was never completed
for what in "blk write past the end" "blk write straddling the end" "blk write at sector 2^63"; do
    grep "$what" "$T/hostile.out" | grep -qv "req_status=0x0$"
    check $? "$what is refused ($(grep "$what" "$T/hostile.out" | sed 's/.*: status/status/'))"
done
# half-open connections: answered up to the connection table (VSOCK_MAX_CONNS, 1024), the rest
# refused; the VMM's descriptors stay bounded by that table
line=$(grep "hostile: vsock half-open" "$T/hostile.out")
hex() { printf '%d' "$1" 2>/dev/null || echo 0; }
sent=$(hex "$(echo "$line" | sed -n 's/.*half-open: \(0x[0-9a-f]*\) REQUESTs.*/\1/p')")
resp=$(hex "$(echo "$line" | sed -n 's/.*responses=\(0x[0-9a-f]*\).*/\1/p')")
rsts=$(hex "$(echo "$line" | sed -n 's/.*rsts=\(0x[0-9a-f]*\).*/\1/p')")
held=$(sed -n 's/^vsock-tool: holding \([0-9]*\) connections/\1/p' "$T/hold.out" | tail -1)
echo "# half-open: $sent REQUESTs, $resp RESPONSEs, $rsts RSTs; the host holder accepted ${held:-0}; the VMM held at most $maxfds descriptors"
[ "$resp" -gt 0 ] && [ "$resp" -le 1024 ] && [ "$maxfds" -lt 1100 ] && [ "${held:-0}" -ge "$resp" ]
check $? "half-open vsock connections: $resp of $sent answered ($rsts refused), the host side holds ${held:-0}, the VMM's descriptors peaked at $maxfds (< 1100)"
! grep -qi "crash" "$T/hostile.err"
check $? "the hostile VMM's stderr reports no crash"
grep -q "wipe verified" "$T/hostile.err"
check $? "guest RAM wiped and verified"
[ "$(wc -c <"$T/disk.img")" = "$size_before" ]
check $? "the disk file keeps its size ($size_before bytes): nothing written past its end"
# bound: 64 MiB of guest RAM (all of it may be resident) plus 64 MiB for the VMM itself (a few
# MiB in a normal run); an attack that made the VMM allocate by a guest length (4 GiB) or per
# notify would exceed it
[ "$hwm" -gt 0 ] && [ "$hwm" -lt $((128 * 1024)) ]
check $? "the hostile VMM's peak RSS stays under 128 MiB (64 MiB guest + 64 MiB): ${hwm} KiB"

# --- the neighbour was not affected ---------------------------------------------------------
i=0
while [ $i -lt 600 ] && ! has "$T/neighbour.console" "silo-tiny-init: reached"; do
    sleep 0.1
    i=$((i + 1))
done
has "$T/neighbour.console" "silo-tiny-init: reached" && kill -0 "$neighbour" 2>/dev/null
check $? "the neighbour guest booted and is still running after the hostile guest"
kill -INT "$neighbour"
wait "$neighbour"
nstatus=$?
[ "$nstatus" = 130 ] && grep -q "wipe verified" "$T/neighbour.err" && ! grep -qi "crash" "$T/neighbour.err"
check $? "the neighbour ends normally on SIGINT (status $nstatus), memory wiped"
[ "$nstatus" = 130 ] || show "$T/neighbour.err"

rm -rf "$T"
[ "$failures" = 0 ]
