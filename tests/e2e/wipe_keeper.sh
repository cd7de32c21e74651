#!/bin/sh
# tests/e2e/wipe_keeper.sh — silo-vmm --wipe-keeper (vmm/keeper.h) on real KVM, in the dev host:
# the guest fills 8 MiB with a pattern, the VMM's whole process group is SIGKILLed, and the
# keeper (its own group, ignoring SIGTERM) wipes and verifies the memfd RAM and says so in one
# line. Without --wipe-keeper no such line appears (and nothing wipes). An orderly end (SIGTERM,
# poweroff) wipes exactly once: the VMM's own wipe, the keeper silent (a restore with the keeper:
# tests/e2e/snapshot.sh). Then the boot cost: the same tiny boot, anonymous RAM vs memfd (--wipe-keeper), 3 runs
# each, and the shmem huge-page setting of this host. Prints `ok - ...` / `not ok - ...` lines.
. /silo/tests/e2e/common.lib
VMM=${SILO_VMM:-/silo/bin/silo-vmm}
IMAGE=${SILO_IMAGE:-/silo/guest/Image}
INITRD=${SILO_INITRD:-/silo/guest/tiny-initrd.cpio}
T=$(mktemp -d /tmp/wipe_keeper.XXXXXX)
BASE="console=ttyS0 earlycon=uart,mmio,0x01000000 reboot=k panic=-1 quiet"
failures=0

ok() { echo "ok - wipe_keeper: $1"; }
not_ok() { echo "not ok - wipe_keeper: $1"; failures=$((failures + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }
show() { sed 's/^/    # /' "$1" | tail -n 15; }

# keeper_of PID: the pid of the silo-keeper process whose parent is PID (empty if none)
keeper_of() {
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = silo-keeper ] || continue
        [ "$(cut -d' ' -f4 "$d/stat" 2>/dev/null)" = "$1" ] && { echo "${d#/proc/}"; return; }
    done
}
# any_keeper: the pids of every silo-keeper process
any_keeper() { grep -l '^silo-keeper$' /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3 | tr '\n' ' '; }
# wait_for FILE TEXT SECONDS
wait_for() {
    i=0
    while [ $i -lt $(($3 * 10)) ] && ! grep -q "$2" "$1" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    grep -q "$2" "$1" 2>/dev/null
}

echo "# shmem_enabled: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null || echo absent)"
echo "# enabled (anonymous THP): $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo absent)"
echo "# RLIMIT_MEMLOCK: $(ulimit -l) KiB; uid $(id -u)"

# --- SIGKILL of the VMM's process group, with the keeper ------------------------------------
# start_filled NAME [VMM OPTIONS...]: a VMM in a session (and group) of its own, guest filling 8
# MiB; sets $pid once the guest says it filled them
start_filled() {
    name=$1
    shift
    setsid "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE silo.tiny=fill:8" \
        --console "$T/$name.console" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null &
    pid=$!
    wait_for "$T/$name.console" "filled 8 MiB" 120
}

start_filled kill --wipe-keeper --verify-wipe
check $? "the guest filled 8 MiB with a pattern (--wipe-keeper)"
keeper=$(keeper_of "$pid")
[ -n "$keeper" ]
check $? "a silo-keeper process runs beside the VMM (pid ${keeper:-none})"
vmm_pgid=$(cut -d' ' -f5 /proc/$pid/stat)
keeper_pgid=$(cut -d' ' -f5 /proc/${keeper:-0}/stat 2>/dev/null)
[ -n "$keeper_pgid" ] && [ "$keeper_pgid" = "$keeper" ] && [ "$keeper_pgid" != "$vmm_pgid" ]
check $? "the keeper is in a process group of its own (keeper $keeper_pgid, VMM $vmm_pgid)"
ls -l /proc/${keeper:-0}/fd 2>/dev/null | grep -q 'memfd:silo-guest-ram'
check $? "the keeper holds the guest RAM memfd"
[ -n "$keeper" ] && kill -TERM "$keeper" 2>/dev/null
sleep 0.5
[ -n "$keeper" ] && [ -d "/proc/$keeper" ]
check $? "the keeper ignores SIGTERM"
if [ "$vmm_pgid" = "$pid" ]; then kill -KILL "-$pid"; else kill -KILL "$pid"; fi
wait "$pid"
status=$?
check $(( status != 137 )) "SIGKILL of the VMM's process group: the VMM died of it (status $status)"
wait_for "$T/kill.err" "wipe verified" 60
line=$(grep "silo-vmm keeper: VMM pid $pid died without wiping; wiped" "$T/kill.err")
echo "# $line"
kib=$(echo "$line" | sed -n 's/.*; wiped \([0-9]*\) KiB.*/\1/p')
[ -n "$kib" ] && [ "$kib" -ge 8192 ]
check $? "the keeper wiped the guest's data after the SIGKILL (${kib:-no} KiB, the 8 MiB pattern included)"
grep -q "silo-vmm keeper: wipe verified: all [0-9]* KiB of guest memory data read zero" "$T/kill.err"
check $? "the keeper verified every data page reads zero"
grep "keeper" "$T/kill.err" | grep -v '^silo-vmm keeper: VMM pid\|^silo-vmm keeper: wipe verified' | sed 's/^/# /'
sleep 0.5
[ -z "$(any_keeper)" ]
check $? "the keeper exits once it has wiped (left: $(any_keeper))"
[ "$status" = 137 ] && [ -n "$kib" ] || show "$T/kill.err"

# --- the same without --wipe-keeper: no keeper, no line --------------------------------------
start_filled nokeeper --verify-wipe
check $? "the guest filled 8 MiB with a pattern (no keeper)"
[ -z "$(any_keeper)" ]
check $? "without --wipe-keeper no keeper runs"
kill -KILL "$pid"
wait "$pid"
sleep 1
! grep -q "silo-vmm keeper" "$T/nokeeper.err" && ! grep -q "wipe verified" "$T/nokeeper.err"
check $? "without --wipe-keeper a SIGKILLed VMM leaves no wipe line (nothing wiped its memory)"

# --- orderly ends: the VMM wipes once, the keeper stays silent -------------------------------
start_filled term --wipe-keeper --verify-wipe
keeper=$(keeper_of "$pid")
kill -TERM "$pid"
wait "$pid"
status=$?
sleep 0.5
[ "$status" = 143 ] && [ "$(grep -c 'silo-vmm: wipe verified' "$T/term.err")" = 1 ] && ! grep -q "silo-vmm keeper" "$T/term.err"
check $? "SIGTERM with the keeper: the VMM wipes and verifies once, the keeper says nothing (status $status)"
[ -n "$keeper" ] && [ ! -d "/proc/$keeper" ]
check $? "SIGTERM with the keeper: the keeper was told and reaped (pid ${keeper:-none})"
[ "$status" = 143 ] || show "$T/term.err"

timeout 120 "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE silo.tiny=touch:16" \
    --wipe-keeper --verify-wipe -v >"$T/off.out" 2>"$T/off.err" </dev/null
status=$?
[ "$status" = 0 ] && grep -q "touched 16 MiB" "$T/off.out" && [ "$(grep -c 'silo-vmm: wipe verified' "$T/off.err")" = 1 ] &&
    ! grep -q "silo-vmm keeper" "$T/off.err"
check $? "poweroff with the keeper: exit 0, one verified wipe by the VMM, keeper silent (status $status)"
grep -q "kernel (Image, copied)" "$T/off.err"
check $? "with the keeper the kernel is copied into the memfd, not mapped from its file"
grep 'wiped [0-9]* KiB of touched memory' "$T/off.err" | sed 's/^/# /'
[ "$status" = 0 ] || show "$T/off.err"

timeout 120 "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE" --mlock --verify-wipe \
    >"$T/mlock.out" 2>"$T/mlock.err" </dev/null
check $? "--mlock alone: boots and powers off"

# --- boot cost: anonymous RAM vs memfd, alternating, 3 runs each -----------------------------
for i in 1 2 3; do
    for mode in anon memfd; do
        extra=""
        [ "$mode" = memfd ] && extra="--wipe-keeper"
        timeout 120 "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE" --timings $extra \
            >/dev/null 2>"$T/t.$mode.$i" </dev/null
        m=$(grep 'guest: boot-complete marker' "$T/t.$mode.$i" | awk '{print $2}')
        k=$(grep 'kernel and initrd placed' "$T/t.$mode.$i" | awk '{print $3}')
        w=$(grep 'guest RAM wiped' "$T/t.$mode.$i" | awk '{print $3}')
        e=$(grep 'everything released' "$T/t.$mode.$i" | awk '{print $2}')
        f=$(sed -n 's/.*page faults on guest RAM (vCPU threads): \([0-9]*\) minor.*/\1/p' "$T/t.$mode.$i")
        echo "# boot $mode run $i: marker at ${m:-?} ms, kernel+initrd placed in ${k:-?} ms, wipe ${w:-?} ms, exit at ${e:-?} ms, vCPU minor faults ${f:-?}"
    done
done
# the same memfd boot where the host lets shmem use huge pages on MADV_HUGEPAGE (a host setting:
# silo-vmm never changes it; the dev host is disposable, so it is set here and put back)
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
was=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp" 2>/dev/null)
if [ -n "$was" ] && echo advise >"$thp" 2>/dev/null; then
    for i in 1 2 3; do
        timeout 120 "$VMM" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE" --timings --wipe-keeper \
            >/dev/null 2>"$T/t.advise.$i" </dev/null
        m=$(grep 'guest: boot-complete marker' "$T/t.advise.$i" | awk '{print $2}')
        k=$(grep 'kernel and initrd placed' "$T/t.advise.$i" | awk '{print $3}')
        w=$(grep 'guest RAM wiped' "$T/t.advise.$i" | awk '{print $3}')
        f=$(sed -n 's/.*page faults on guest RAM (vCPU threads): \([0-9]*\) minor.*/\1/p' "$T/t.advise.$i")
        echo "# boot memfd, shmem_enabled=advise, run $i: marker at ${m:-?} ms, kernel+initrd placed in ${k:-?} ms, wipe ${w:-?} ms, vCPU minor faults ${f:-?}"
    done
    echo "$was" >"$thp"
fi
grep -q 'boot-complete marker' "$T/t.memfd.3"
check $? "boots with --wipe-keeper reach the boot-complete marker (timings above)"
sed 's/^/# memfd: /' "$T/t.memfd.3" | head -22

rm -rf "$T"
[ $failures = 0 ]
