#!/bin/sh
# tests/e2e/snapshot.sh — snapshot and restore on real KVM (issue #15): a template microVM (the
# test root, mode silo.test=snapshot) is booted, checked over vsock, and snapshotted with SIGUSR2
# (--snapshot-to); then it is restored several times from that one template (--restore), each
# with a new vsock socket and its own writable disk layer, and every restored VM must:
#   answer over vsock (its pre-snapshot connections reset, its listeners alive), move 100 MB each
#   way intact, read the file written before the snapshot and write/read its own, get a reseeded
#   CRNG (distinct /dev/urandom output from every other restored VM) and the host's wall clock,
#   keep its monotonic clock continuing from the snapshot, and wipe what it touched at the end
#   (--verify-wipe). The last restore has --wipe-keeper (RAM copied into a memfd); one more
#   such restore is SIGKILLed and its keeper must wipe and verify. Corrupt, truncated and foreign snapshots are refused with one line.
# Figures: snapshot time and size, exec -> vCPUs running for a restore, exec -> first probe
# answer by restore vs by boot, pages a restored VM touched.
TEST=snapshot
# silo-vmm bare (the restore figures are the VMM's own, and the keeper names the VMM's host pid);
# jailed restores are silod's (silod_jail.sh, python_agent.sh), every session's VMM under silo-jail
SILO_E2E_JAIL=${SILO_E2E_JAIL:-0}
. "$(dirname "$0")/dev.lib"
need_files
T=$(mktemp -d /tmp/snapshot.XXXXXX)
TOOL=/silo/bin/vsock-tool
SNAP=$T/template
RESTORES=${SNAPSHOT_RESTORES:-3}
BYTES=${SNAPSHOT_BYTES:-104857600}
t() { timeout "${STEP_TIMEOUT:-600}" "$TOOL" "$@"; }
now_ms() { read -r u _ </proc/uptime; echo $((${u%.*} * 1000 + 1${u#*.} * 10 - 1000)); }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }

# ---- the template: boot, check, snapshot
t0=$(now_ms)
"$VMM" --kernel "$IMAGE" --mem 256M --cpus 2 --disk "$ROOT,cow" --vsock-cid 3 --vsock-uds "$T/t.sock" \
    --cmdline "$BASE_CMDLINE rw silo.test=snapshot" --snapshot-to "$SNAP" >"$T/t.out" 2>"$T/t.err" </dev/null &
vm=$!
for _ in $(seq 1 3000); do has "$T/t.out" "snapshot: ready" && break; kill -0 $vm 2>/dev/null || break; sleep 0.1; done
t --retry-ms 60000 ask "uds:$T/t.sock:1240" "" >"$T/t.probe" 2>&1
boot_ms=$(($(now_ms) - t0))
grep -q "disk=ok" "$T/t.probe"
check $? "template booted and answers its probe over vsock in $boot_ms ms ($(cat "$T/t.probe"))"
[ "$failures" = 0 ] || { show "$T/t.out"; show "$T/t.err"; }
mono_at_snapshot=$(field monotonic_ms "$T/t.probe")
before=$(field before "$T/t.probe")
kill -USR2 $vm
wait $vm
status=$?
[ "$status" = 0 ] && has "$T/t.err" "snapshot written to $SNAP" && [ -s "$SNAP/state" ] && [ -e "$SNAP/memory" ] &&
    [ -e "$SNAP/disk0.layer" ]
check $? "SIGUSR2 writes the snapshot and the template VMM exits 0: $(grep 'snapshot written' "$T/t.err" | sed 's/^silo-vmm: //')"
[ "$failures" = 0 ] || { show "$T/t.err"; rm -rf "$T"; exit 1; }
mem_kib=$(du -k "$SNAP/memory" | cut -f1)
mem_len=$(stat -c %s "$SNAP/memory")
[ "$mem_len" = $((256 * 1048576)) ] && [ "$mem_kib" -lt $((256 * 1024)) ]
check $? "the memory file is 256 MiB long but sparse: $mem_kib KiB on disk"
perm=$(stat -c %a "$SNAP"):$(stat -c %a "$SNAP/state"):$(stat -c %a "$SNAP/memory")
[ "$perm" = "700:600:600" ]
check $? "snapshot directory 0700, files 0600 ($perm)"

# ---- restores: each from the same template, each its own socket and disk layer
restore() { # restore N [extra options]: starts restored VM N in the background, sets $rvm
    n=$1
    shift
    "$VMM" --restore "$SNAP" --vsock-uds "$T/r$n.sock" --verify-wipe -v "$@" >"$T/r$n.out" 2>"$T/r$n.err" </dev/null &
    rvm=$!
}
i=1
pids=""
while [ $i -le "$RESTORES" ]; do
    s0=$(now_ms)
    # the last one with --wipe-keeper: the snapshot's memory copied into a memfd a keeper holds
    if [ $i = "$RESTORES" ]; then restore $i --wipe-keeper; else restore $i; fi
    eval "pid$i=$rvm"
    seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    t --retry-ms 30000 ask "uds:$T/r$i.sock:1240" "seed=$seed time=$(date +%s.%N)" >"$T/r$i.probe" 2>&1
    eval "first$i=$(($(now_ms) - s0))"
    i=$((i + 1))
done
i=1
while [ $i -le "$RESTORES" ]; do
    eval "first=\$first$i"
    running=$(sed -n 's/.*restored: vCPUs running at \([0-9]*\) us.*/\1/p' "$T/r$i.err")
    grep -q "probe: reseeded" "$T/r$i.probe" && grep -q "disk=ok" "$T/r$i.probe" &&
        [ "$(field before "$T/r$i.probe")" = "$before" ]
    check $? "restore $i: vCPUs running ${running:-?} us after exec, probe answered in $first ms; the pre-snapshot file is there, its own 1 MiB write reads back ($(cat "$T/r$i.probe"))"
    [ "$failures" = 0 ] || { show "$T/r$i.err"; show "$T/r$i.out"; }
    i=$((i + 1))
done

# distinct randomness after reseeding
n_rand=$(for i in $(seq 1 "$RESTORES"); do field urandom "$T/r$i.probe"; done | sort -u | grep -c .)
[ "$n_rand" = "$RESTORES" ]
check $? "every restored VM's /dev/urandom output differs after its reseed ($n_rand distinct of $RESTORES)"

# clocks: the wall clock is the host's; the monotonic clock continues from the snapshot
host_now=$(date +%s)
wall=$(field realtime "$T/r1.probe")
mono=$(field monotonic_ms "$T/r1.probe")
[ -n "$wall" ] && [ $((host_now - wall)) -ge -2 ] && [ $((host_now - wall)) -le 30 ] &&
    [ -n "$mono" ] && [ "$mono" -ge "$mono_at_snapshot" ] && [ "$mono" -lt $((mono_at_snapshot + 120000)) ]
check $? "clocks: restored wall clock $wall vs host $host_now; monotonic $mono ms continues from $mono_at_snapshot ms at the snapshot"

# vsock, hard: 100 MB each way, 64 streams, round trips, on a restored VM
t send "uds:$T/r1.sock:5000" "$BYTES" >"$T/h2g.out" 2>&1
check $? "restored VM: host -> guest $BYTES bytes intact: $(sed 's/^vsock-tool: //' "$T/h2g.out")"
t recv "uds:$T/r1.sock:5001" >"$T/g2h.out" 2>&1
check $? "restored VM: guest -> host $BYTES bytes intact: $(sed 's/^vsock-tool: //' "$T/g2h.out")"
t streams "uds:$T/r2.sock:1234" 64 65536 >"$T/streams.out" 2>&1
check $? "restored VM: 64 concurrent streams: $(sed 's/^vsock-tool: //' "$T/streams.out")"
t ping "uds:$T/r2.sock:1234" 200 >"$T/ping.out" 2>&1
check $? "restored VM: small-message ping-pong: $(cat "$T/ping.out")"

# the end of a restored session: every page it touched is wiped and verified
i=1
while [ $i -le "$RESTORES" ]; do
    eval "p=\$pid$i"
    kill -TERM "$p"
    wait "$p"
    grep -q "wipe verified" "$T/r$i.err"
    check $? "restore $i: SIGTERM ends it with the wipe verified: $(sed -n 's/^silo-vmm: \(wiped .*\)/\1/p' "$T/r$i.err")"
    i=$((i + 1))
done
touched=$(sed -n 's/.*wiped \([0-9]*\) KiB of touched memory.*/\1/p' "$T/r1.err")
copied=$(sed -n 's/.*VM created, \([0-9]*\) KiB of the snapshot.s memory copied.*/\1/p' "$T/r$RESTORES.err")
[ -n "$copied" ] && [ "$copied" -gt 0 ] && [ "$copied" -lt $((mem_len / 2048)) ] && ! grep -q "silo-vmm keeper" "$T/r$RESTORES.err"
check $? "restore $RESTORES had --wipe-keeper: ${copied:-no} KiB of the memory file's data ranges copied into its memfd (the file: $mem_kib KiB on disk, $((mem_len >> 10)) KiB long), passed the same checks, and its keeper stayed silent after the VMM's own wipe"

# a restored VM with the keeper, SIGKILLed mid-session: the keeper wipes what the VMM could not
sk0=$(now_ms)
setsid "$VMM" --restore "$SNAP" --vsock-uds "$T/k.sock" --verify-wipe --wipe-keeper -v >"$T/k.out" 2>"$T/k.err" </dev/null &
kvm=$!
seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
t --retry-ms 30000 ask "uds:$T/k.sock:1240" "seed=$seed time=$(date +%s.%N)" >"$T/k.probe" 2>&1
kfirst=$(($(now_ms) - sk0))
grep -q "probe: reseeded" "$T/k.probe"
check $? "a restore with --wipe-keeper answers its probe ($kfirst ms after exec: $(cat "$T/k.probe"))"
kill -KILL "-$kvm" 2>/dev/null || kill -KILL "$kvm"
wait "$kvm"
status=$?
for _ in $(seq 1 600); do has "$T/k.err" "keeper: wipe verified" && break; sleep 0.1; done
line=$(grep "silo-vmm keeper: VMM pid $kvm died without wiping; wiped" "$T/k.err")
kib=$(echo "$line" | sed -n 's/.*; wiped \([0-9]*\) KiB.*/\1/p')
[ "$status" = 137 ] && [ -n "$kib" ] && [ "$kib" -gt 0 ] && has "$T/k.err" "keeper: wipe verified: all"
check $? "SIGKILL of a restored VMM's process group (status $status): its keeper wiped ${kib:-no} KiB and verified every data page reads zero"
[ -n "$kib" ] || show "$T/k.err"

# refusals: one line, exit 1, nothing run
cp -r "$SNAP" "$T/bad"
printf 'X' | dd of="$T/bad/state" bs=1 seek=100 conv=notrunc 2>/dev/null
"$VMM" --restore "$T/bad" --vsock-uds "$T/bad.sock" >/dev/null 2>"$T/bad.err" </dev/null
[ $? = 1 ] && grep -q "checksum mismatch" "$T/bad.err"
check $? "a corrupt state file is refused: $(cat "$T/bad.err")"
cp "$SNAP/state" "$T/bad/state"
printf '\377' | dd of="$T/bad/state" bs=1 seek=16 conv=notrunc 2>/dev/null
"$VMM" --restore "$T/bad" --vsock-uds "$T/bad.sock" >/dev/null 2>"$T/bad.err" </dev/null
[ $? = 1 ] && grep -q "another silo-vmm build" "$T/bad.err"
check $? "a snapshot of another silo-vmm build is refused: $(cat "$T/bad.err")"
cp "$SNAP/state" "$T/bad/state"
truncate -s 100M "$T/bad/memory"
"$VMM" --restore "$T/bad" --vsock-uds "$T/bad.sock" >/dev/null 2>"$T/bad.err" </dev/null
[ $? = 1 ] && grep -q "guest memory file holds" "$T/bad.err"
check $? "a truncated memory file is refused: $(cat "$T/bad.err")"
"$VMM" --restore "$T/nothing" --vsock-uds "$T/bad.sock" >/dev/null 2>"$T/bad.err" </dev/null
[ $? = 1 ] && grep -q "restore" "$T/bad.err"
check $? "a missing snapshot is refused: $(cat "$T/bad.err")"

# the same VM cold-booted, for the figure
s0=$(now_ms)
"$VMM" --kernel "$IMAGE" --mem 256M --cpus 2 --disk "$ROOT,cow" --vsock-cid 3 --vsock-uds "$T/c.sock" \
    --cmdline "$BASE_CMDLINE rw silo.test=snapshot" >"$T/c.out" 2>"$T/c.err" </dev/null &
cvm=$!
t --retry-ms 60000 ask "uds:$T/c.sock:1240" "" >"$T/c.probe" 2>&1
cold=$(($(now_ms) - s0))
kill -TERM $cvm; wait $cvm
echo "# figure: snapshot of a 256 MiB guest: $(sed -n 's/.*in \([0-9]*\) ms$/\1/p' "$T/t.err") ms, $mem_kib KiB of memory file; restore exec -> vCPUs running $(sed -n 's/.*restored: vCPUs running at \([0-9]*\) us.*/\1/p' "$T/r1.err") us (with --wipe-keeper $(sed -n 's/.*restored: vCPUs running at \([0-9]*\) us.*/\1/p' "$T/r$RESTORES.err") us); exec -> first answer: restore $first1 ms vs boot $cold ms; pages a restored VM touched: ${touched:-?} KiB"
rm -rf "$T"
exit 0
