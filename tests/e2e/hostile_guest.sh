# tests/e2e/hostile_guest.sh — a hostile guest (issue #18 item 5): the raw payload
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
# Interrupt storms (the same payload with hostile=MODE, each VMM alone, sampled from
# /proc/PID/task/*/stat: vCPU threads vcpuN, the I/O thread silo-vmm-io, the main thread): 1-byte
# virtio-rng requests never acknowledged, one-sector virtio-blk reads acknowledged on every turn,
# QueueNotify on every queue beside a vCPU hammering the GIC distributor. Checks: the devices
# keep completing to the end and serve a sane request afterwards, the VMM's own threads stay
# within one CPU during the storm and near zero once the guest is quiet, RSS bounded, SIGTERM
# ends it within 5 s (143, wiped). The figures are printed as "# figure:" lines.
# A CPU budget: a payload spinning both vCPUs under silo-jail with cpu.max "20000 100000" stays
# within 1.5 x 20 % of one CPU (cpu.stat usage_usec of its cgroup) and still ends on SIGTERM.
# Every VMM here runs jailed as silod runs a session's (tests/e2e/jailed-vmm: its own uid,
# namespaces, rlimits and cgroup; SILO_E2E_JAIL=0 runs them bare); the figures come from the
# VMM's own /proc files (RSS, descriptors, each thread's CPU time), found behind the jail's
# relay (wait_vmm_pid), and signals go to the relay, which forwards them.
# Known failures: none.
. /silo/tests/e2e/dev.lib
TEST=hostile_guest
REAL_VMM=${SILO_VMM:-/silo/bin/silo-vmm}   # the binary, for the CPU budget's own silo-jail run
PAYLOAD=${SILO_HOSTILE_GUEST:-/silo/bin/hostile-guest.bin}
INITRD=${SILO_INITRD:-/silo/guest/tiny-initrd.cpio}
T=$(mktemp -d /tmp/hostile_guest.XXXXXX)
need_files
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
(ulimit -n 4096; JAIL_NOFILE=4096 exec "$VMM" --kernel "$PAYLOAD" --mem 64M --disk "$T/disk.img" --rng --vsock-cid 3 \
    --vsock-uds "$T/vsock.sock" --verify-wipe -v >"$T/hostile.out" 2>"$T/hostile.err" </dev/null) &
pid=$!
vpid=$(wait_vmm_pid "$pid")
if [ "$VMM_JAILED" = 1 ]; then
    is_jailed_vmm "$vpid"
    check $? "the hostile guest's VMM (pid $vpid) runs jailed: its own PID namespace, uid $(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$vpid/status 2>/dev/null), cgroup $(cut -d: -f3 /proc/$vpid/cgroup 2>/dev/null)"
fi
# poll its peak RSS (VmHWM) and CPU time until it exits, at most 120 s
hwm=0 ticks=0 i=0 maxfds=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 1200 ]; do
    f=$(ls /proc/$vpid/fd 2>/dev/null | wc -l)
    [ "$f" -gt "$maxfds" ] && maxfds=$f
    h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$vpid/status 2>/dev/null)
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    t=$(awk '{print $14 + $15}' /proc/$vpid/stat 2>/dev/null)
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

# --- interrupt storms ------------------------------------------------------------------------
# The same payload with hostile=MODE on its command line storms until the VMM is stopped. Each
# storm runs alone (no neighbour), so the VMM's own CPU time can be read per thread:
# /proc/PID/task/*/stat, the vCPU threads named vcpuN, the I/O thread silo-vmm-io, the main
# thread the rest. What the guest does on its vCPUs is its own time (metered and capped like any
# guest's); what it makes the I/O and main threads do is not, and must stay bounded.
CLK_TCK=100   # USER_HZ, the unit of /proc's utime/stime on every Linux architecture
# thread_ticks PID -> "IO MAIN VCPU IO_THREADS VCPU_THREADS": CPU ticks (utime + stime) by thread
# role (the names silod's metering goes by: the threads name themselves, /proc or not)
thread_ticks() {
    awk '{ t = $14 + $15
           if ($2 ~ /^\(vcpu[0-9]+\)$/) { v += t; nv++ } else if ($2 == "(silo-vmm-io)") { io += t; n++ } else m += t }
         END { printf "%d %d %d %d %d\n", io, m, v, n, nv }' /proc/"$1"/task/*/stat 2>/dev/null
}
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
# stop_vmm PID: SIGTERM, at most 10 s for it to end (then SIGKILL); sets $stop_status and
# $stop_cs (hundredths of a second it took)
stop_vmm() {
    s0=$(uptime_cs)
    kill -TERM "$1"
    j=0
    while kill -0 "$1" 2>/dev/null && [ $j -lt 100 ]; do
        # a reaped-but-unwaited child is a zombie: done
        [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" = Z ] && break
        sleep 0.1
        j=$((j + 1))
    done
    stop_cs=$(( $(uptime_cs) - s0 ))
    if [ $j -ge 100 ]; then
        kill -KILL "$1"
        stop_cs=timeout
    fi
    wait "$1"
    stop_status=$?
}
# storm_field FILE FIELD -> FIELD=N of the last storm line
storm_field() { grep "hostile: storm " "$1" | tail -1 | sed -n "s/.* $2=\([0-9a-fx]*\).*/\1/p"; }

# storm NAME MODE CPUS [VMM OPTIONS...]: boots the payload in mode MODE (it storms for 8 s of
# its clock, makes one sane request, then goes quiet: spins without an exit), samples the VMM's
# threads from the storm's second 1 for STORM_SECONDS, then for QUIET_SECONDS once the guest is
# quiet, then stops it with SIGTERM. Leaves the figures in io_cs, main_cs, vcpu_cs, quiet_cs
# (CPU hundredths of a second per wall second), hwm, stop_status, stop_cs.
storm() {
    name=$1 mode=$2 cpus=$3
    shift 3
    "$VMM" --kernel "$PAYLOAD" --mem 64M --cpus "$cpus" --cmdline "hostile=$mode" --verify-wipe -v "$@" \
        >"$T/$name.out" 2>"$T/$name.err" </dev/null &
    spid=$!
    svpid=$(wait_vmm_pid "$spid")   # /proc is read here; signals go to spid (the jail's relay)
    hwm=0
    wait_line "$T/$name.out" "hostile: storm .*second=1 " 300
    first_c=$(storm_field "$T/$name.out" completions)
    first_n=$(storm_field "$T/$name.out" notifies)
    first_g=$(storm_field "$T/$name.out" gic_writes)
    sample "$STORM_SECONDS"
    io_cs=$s_io main_cs=$s_main vcpu_cs=$s_vcpu wall=$s_wall io_threads=$s_io_threads vcpu_threads=$s_vcpu_threads
    # the window must lie inside the storm (the payload storms for 8 s from second 0)
    grep -q "hostile: quiet after the storm" "$T/$name.out"
    quiet_early=$(( $? == 0 ))
    wait_line "$T/$name.out" "hostile: quiet after the storm" 300
    sleep 0.5
    sample "$QUIET_SECONDS"
    quiet_cs=$((s_io + s_main))
    running=0
    kill -0 "$spid" 2>/dev/null && [ "$(awk '{print $3}' /proc/$spid/stat 2>/dev/null)" != Z ] && running=1
    stop_vmm "$spid"
    last_c=$(storm_field "$T/$name.out" completions)
    last_n=$(storm_field "$T/$name.out" notifies)
    last_g=$(storm_field "$T/$name.out" gic_writes)
    last_s=$(storm_field "$T/$name.out" status)
    secs=$(storm_field "$T/$name.out" second)
    echo "# figure: storm $name ($mode, $cpus vCPU), ${wall} cs sampled: I/O thread $(cs "$io_cs") CPU-s/s," \
        "main thread $(cs "$main_cs") CPU-s/s, vCPUs $(cs "$vcpu_cs") CPU-s/s; quiet afterwards: I/O + main" \
        "$(cs "$quiet_cs") CPU-s/s; guest in ${secs:-?} s: ${last_c:-?} completions, ${last_n:-?} notifies," \
        "${last_g:-?} GIC writes; peak RSS ${hwm} KiB; SIGTERM answered in $stop_cs cs"
    grep "hostile: " "$T/$name.out" | tail -4 | sed 's/^/# console: /'
}
# wait_line FILE REGEX TENTHS: until FILE has a line matching REGEX, the VMM ($spid) ends, or
# TENTHS tenths of a second passed
wait_line() {
    k=0
    while [ $k -lt "$3" ] && kill -0 "$spid" 2>/dev/null && ! grep -q "$2" "$1"; do
        sleep 0.1
        k=$((k + 1))
    done
}
# sample SECONDS: the VMM's ($spid) CPU by thread role over SECONDS of wall time, per wall
# second in hundredths (s_io, s_main, s_vcpu), the wall time (s_wall, cs), its peak RSS (hwm)
sample() {
    set -- "$1" $(thread_ticks "$svpid")
    io0=${2:-0} main0=${3:-0} vcpu0=${4:-0} s_io_threads=${5:-0} s_vcpu_threads=${6:-0}
    w0=$(uptime_cs)
    while [ $(( $(uptime_cs) - w0 )) -lt $(($1 * 100)) ] && kill -0 "$spid" 2>/dev/null; do
        h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$svpid/status 2>/dev/null)
        [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
        sleep 0.2
    done
    set -- $(thread_ticks "$svpid")
    s_wall=$(( $(uptime_cs) - w0 ))
    [ "$s_wall" -gt 0 ] || s_wall=1
    s_io=$(( (${1:-0} - io0) * 10000 / (CLK_TCK * s_wall) ))
    s_main=$(( (${2:-0} - main0) * 10000 / (CLK_TCK * s_wall) ))
    s_vcpu=$(( (${3:-0} - vcpu0) * 10000 / (CLK_TCK * s_wall) ))
}
cs() { printf '%d.%02d' $(( $1 / 100 )) $(( $1 % 100 )); }

# storm_checks NAME WHAT: the checks every storm shares (after storm NAME)
storm_checks() {
    [ "$running" = 1 ] && [ "$quiet_early" = 0 ]
    check $? "storm $1: the VMM is still running after ${STORM_SECONDS} s of $2 (sampled inside the storm: $(( ! quiet_early )))"
    [ "$io_threads" = 1 ]
    check $? "storm $1: one I/O thread (silo-vmm-io) found among the VMM's threads (found $io_threads)"
    [ "$vcpu_threads" = "$cpus" ]
    check $? "storm $1: its $cpus vCPU thread(s) named vcpuN, as silod meters them (found $vcpu_threads)"
    # During the storm the I/O thread does the guest's requests: up to its whole CPU (measured in
    # the dev host, 2026-12-06: 0.53-0.80 CPU-s/s for the rng and blk storms, 0.15-0.23 for the
    # notify storm), never more (one thread); the main thread has nothing to do with it
    vmm_cs=$((io_cs + main_cs))
    [ "$vmm_cs" -le 100 ] && [ "$main_cs" -le 5 ]
    check $? "storm $1: the VMM's own threads stay within one CPU: I/O $(cs "$io_cs") + main $(cs "$main_cs") CPU-s per wall-s (<= 1.00; main <= 0.05)"
    # once the guest is quiet, so is the VMM: a storm must leave nothing behind that spins (an
    # undrained eventfd, a re-armed timer, a retry loop)
    [ "$quiet_cs" -le 5 ]
    check $? "storm $1: once the guest is quiet the VMM's own threads are too: $(cs "$quiet_cs") CPU-s per wall-s over ${QUIET_SECONDS} s (<= 0.05)"
    [ "$hwm" -gt 0 ] && [ "$hwm" -lt $((128 * 1024)) ]
    check $? "storm $1: peak RSS stays under 128 MiB (64 MiB guest + 64 MiB): ${hwm} KiB"
    [ "$stop_status" = 143 ] && [ "$stop_cs" != timeout ] && [ "$stop_cs" -le 500 ]
    check $? "storm $1: SIGTERM ends it with status 143 within 5 s (status $stop_status, ${stop_cs} cs)"
    grep -q "wipe verified" "$T/$1.err" && ! grep -qi "crash" "$T/$1.err"
    check $? "storm $1: guest RAM wiped and verified, no crash reported"
    [ "$stop_status" = 143 ] || show "$T/$1.err"
}
STORM_SECONDS=5 QUIET_SECONDS=2

# 1. virtio-rng: 16 requests of 1 byte kept in flight, QueueNotify on every turn, the interrupt
#    never acknowledged (InterruptStatus stays set, every completion raises the SPI again)
storm storm-rng storm-rng 1 --rng
storm_checks storm-rng "1-byte virtio-rng requests, never acknowledged"
[ "${last_s:-}" = 0xf ] && [ "${last_c:-0}" -gt "${first_c:-0}" ] && [ "${first_c:-0}" -gt 0 ]
check $? "storm storm-rng: the device kept completing requests to the end (${first_c:-?} after 1 s, ${last_c:-?} at the end, status ${last_s:-?})"
grep "after the storm: rng sane request" "$T/storm-rng.out" | grep -q "status=0xf used=0x1 used_len=0x40 "
check $? "storm storm-rng: after the storm a reset virtio-rng fills a sane 64-byte buffer"

# 2. virtio-blk: 5 one-sector reads kept in flight, QueueNotify and InterruptStatus ->
#    InterruptACK on every turn
dd if=/dev/zero of="$T/storm.img" bs=1024 count=64 2>/dev/null
storm storm-blk storm-blk 1 --disk "$T/storm.img"
storm_checks storm-blk "one-sector virtio-blk reads, acknowledged on every turn"
[ "${last_s:-}" = 0xf ] && [ "${last_c:-0}" -gt "${first_c:-0}" ] && [ "${first_c:-0}" -gt 0 ] &&
    [ "$(storm_field "$T/storm-blk.out" acks)" -gt 0 ]
check $? "storm storm-blk: the device kept completing requests to the end (${first_c:-?} after 1 s, ${last_c:-?} at the end, status ${last_s:-?})"
grep "after the storm: blk sane read" "$T/storm-blk.out" | grep -q "status=0xf used=0x1 .*req_status=0x0$"
check $? "storm storm-blk: after the storm a reset virtio-blk completes a sane read"

# 3. QueueNotify on queues 0, 1, 2 and 0xffff of every device (queue 0 ready and empty) from
#    vCPU 0, while vCPU 1 sets and clears enable/pending/active of the devices' SPIs in the GIC
#    distributor (KVM's, in the kernel)
storm storm-notify storm-notify 2 --rng --disk "$T/storm.img" --vsock-cid 3 --vsock-uds "$T/storm.sock"
storm_checks storm-notify "QueueNotify on every queue and GIC distributor writes"
grep -q "hostile: mode storm-notify: 2 vCPUs running" "$T/storm-notify.out" &&
    [ "${last_n:-0}" -gt "${first_n:-0}" ] && [ "${last_g:-0}" -gt "${first_g:-0}" ] && [ "${last_s:-}" = 0xf ]
check $? "storm storm-notify: both vCPUs kept storming to the end (notifies ${first_n:-?} -> ${last_n:-?}, GIC writes ${first_g:-?} -> ${last_g:-?}, status ${last_s:-?})"
grep "after the storm: blk sane read" "$T/storm-notify.out" | grep -q "status=0xf used=0x1 .*req_status=0x0$"
check $? "storm storm-notify: after the storm virtio-blk completes a sane read"

# --- a CPU budget: every vCPU spins, the VMM jailed with cpu.max 20 % ---------------------------
# silo-jail as tests/e2e/jail.sh runs it. The pid started here may be silo-jail's rather than
# the VMM's (a PID namespace makes the VMM its grandchild), so the figures come from the
# cgroup's files, and the signal goes to what was started (silo-jail relays it).
JAIL=${SILO_JAIL:-/silo/bin/silo-jail}
CG=/sys/fs/cgroup/silo-hostile
cgroup_ready=1
. /silo/tests/e2e/cgroup.lib
CGROUP_ERR=$T/cgmount.err cgroup_parent_ready "$CG" || cgroup_ready=0
rmdir "$CG/spin" 2>/dev/null
[ "$cgroup_ready" = 1 ] && [ -x "$JAIL" ]
check $? "cgroup v2 with the cpu controller for $CG's children ($(cat "$CG/cgroup.subtree_control" 2>/dev/null)), $JAIL present"
if [ "$cgroup_ready" = 1 ] && [ -x "$JAIL" ]; then
    mkdir -p "$T/spin/root"
    "$JAIL" --root "$T/spin/root" --uid 10031 --gid 10031 --bind-ro "$REAL_VMM=/vm/silo-vmm" \
        --bind-ro "$PAYLOAD=/vm/payload" --dev /dev/kvm \
        --cgroup "$CG/spin" --memory-max 256M --pids-max 40 --cpu-max "20000 100000" \
        --nofile 256 --as 1G --nproc 32 \
        -- /vm/silo-vmm --kernel /vm/payload --mem 64M --cpus 2 --cmdline "hostile=spin" --verify-wipe -v \
        >"$T/spin.out" 2>"$T/spin.err" </dev/null &
    jpid=$!
    i=0
    while [ $i -lt 600 ] && kill -0 "$jpid" 2>/dev/null && ! grep -q "hostile: spinning" "$T/spin.out"; do
        sleep 0.1
        i=$((i + 1))
    done
    grep -q "hostile: mode spin: 2 vCPUs running" "$T/spin.out" && grep -q "hostile: spinning" "$T/spin.out"
    check $? "spin: both vCPUs of the jailed VMM spin ($(grep "hostile: mode" "$T/spin.out"))"
    usage() { sed -n 's/^usage_usec \([0-9]*\)/\1/p' "$CG/spin/cpu.stat"; }
    throttled() { sed -n 's/^nr_throttled \([0-9]*\)/\1/p' "$CG/spin/cpu.stat"; }
    u0=$(usage) n0=$(throttled) w0=$(uptime_cs)
    sleep "$STORM_SECONDS"
    u1=$(usage) n1=$(throttled) w1=$(uptime_cs)
    wall=$((w1 - w0))
    used=$(( ${u1:-0} - ${u0:-0} ))
    # percent of one CPU, in hundredths: usec / (cs * 10000) * 100 * 100
    pct=$(( used / (wall > 0 ? wall : 1) ))
    echo "# figure: spin under cpu.max 20000/100000: ${used} us of CPU in ${wall} cs wall = $(cs "$pct") % of one CPU" \
        "(quota 20 %), throttled $(( ${n1:-0} - ${n0:-0} )) times; in the cgroup: $(for p in $(cat "$CG/spin/cgroup.procs" 2>/dev/null); do cat /proc/$p/comm; done | tr '\n' ' ' | sed 's/ $//')"
    # within the quota (x 1.5 for the period's granularity and the emulated host's clocks), and
    # not far below it: both vCPUs really spun and were throttled
    [ -n "$u0" ] && [ "$pct" -le 3000 ] && [ "$pct" -ge 1000 ] && [ $(( ${n1:-0} - ${n0:-0} )) -gt 0 ]
    check $? "spin: the cgroup's CPU stays within cpu.max 20 % (x 1.5): $(cs "$pct") % of one CPU over $(cs "$wall") s, throttled $(( ${n1:-0} - ${n0:-0} )) times"
    stop_vmm "$jpid"
    echo "# figure: spin: SIGTERM answered in $stop_cs cs under the quota"
    [ "$stop_status" = 143 ] && [ "$stop_cs" != timeout ] && [ "$stop_cs" -le 500 ] &&
        grep -q "wipe verified" "$T/spin.err" && ! grep -qi "crash" "$T/spin.err"
    check $? "spin: SIGTERM ends the jailed VMM within 5 s under its quota (status $stop_status, ${stop_cs} cs), memory wiped and verified"
    [ "$stop_status" = 143 ] || { show "$T/spin.out"; show "$T/spin.err"; }
    i=0
    while [ $i -lt 50 ] && ! rmdir "$CG/spin" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    [ ! -d "$CG/spin" ]
    check $? "spin: the ended VMM's cgroup is empty and removed"
fi

rm -rf "$T"
[ "$failures" = 0 ]
