#!/bin/sh
# tests/e2e/seccomp.sh — silo-vmm's per-thread seccomp allow-lists on real KVM (dev host).
#
# silo-vmm-probe is a test-only build of silo-vmm (vmm/test_probe.h): with
# SILO_VMM_TEST_FORBIDDEN_SYSCALL=ROLE the thread of that role (main, vcpu, io) calls getppid,
# which no allow-list has, right after installing its filter. For each role: the VMM dies of
# SIGSYS (status 159), says which thread made which call, and wipes guest RAM first. Without the
# variable the probe boots and powers off normally with every filter on, and the shipped
# silo-vmm ignores the variable. Prints `ok - ...` / `not ok - ...` lines.
VMM=${SILO_VMM:-/silo/bin/silo-vmm}
PROBE=${SILO_VMM_PROBE:-/silo/bin/silo-vmm-probe}
IMAGE=${SILO_IMAGE:-/silo/guest/Image}
INITRD=${SILO_INITRD:-/silo/guest/tiny-initrd.cpio}
T=$(mktemp -d /tmp/seccomp.XXXXXX)
BASE="console=ttyS0 earlycon=uart,mmio,0x01000000 reboot=k panic=-1 quiet"
failures=0

ok() { echo "ok - seccomp: $1"; }
not_ok() { echo "not ok - seccomp: $1"; failures=$((failures + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }
show() { sed 's/^/    # /' "$1" | tail -n 15; }

# run NAME BINARY CMDLINE-EXTRA [VMM OPTIONS...]: one guest under a timeout; $T/NAME.err, $status
run() {
    name=$1 bin=$2 extra=$3
    shift 3
    timeout 120 "$bin" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cpus 2 --cmdline "$BASE $extra" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" </dev/null
    status=$?
}

[ -x "$PROBE" ] || { not_ok "no $PROBE (make programs builds it)"; exit 1; }

# --- every filter on, nothing forbidden: a normal boot, poweroff, wipe verified ---------------
run clean "$PROBE" "" --verify-wipe -v
[ "$status" = 0 ] && grep -q "silo-vmm: seccomp filters on: main [0-9]*, io [0-9]*, vcpu [0-9]* allowed" "$T/clean.err" &&
    grep -q "wipe verified" "$T/clean.err" && ! grep -q "seccomp: thread" "$T/clean.err"
check $? "filters on in every thread ($(sed -n 's/.*seccomp filters on: \(.*\) allowed.*/\1/p' "$T/clean.err")): the guest boots, powers off, wipe verified (status $status)"
[ "$status" = 0 ] || show "$T/clean.err"

# --- a forbidden call on each thread role: SIGSYS, one line naming it, guest RAM wiped ---------
for role in main vcpu io; do
    SILO_VMM_TEST_FORBIDDEN_SYSCALL=$role run "$role" "$PROBE" "silo.tiny=hang"
    line=$(grep "silo-vmm: seccomp: thread" "$T/$role.err")
    [ "$status" = 159 ] && echo "$line" | grep -q "^silo-vmm: seccomp: thread $role made a forbidden system call [0-9]* (getppid)$" &&
        grep -q "silo-vmm: crashed (signal 31): guest memory wiped before exit" "$T/$role.err"
    rc=$?
    check $rc "a forbidden call on the $role thread: killed by SIGSYS (status $status), '$(echo "${line:-no seccomp line}" | head -1)', guest RAM wiped"
    [ "$rc" = 0 ] || show "$T/$role.err"
done

# --- the shipped silo-vmm has no probe ---------------------------------------------------------
SILO_VMM_TEST_FORBIDDEN_SYSCALL=vcpu run shipped "$VMM" ""
[ "$status" = 0 ] && ! grep -q "seccomp: thread" "$T/shipped.err"
check $? "the shipped silo-vmm ignores SILO_VMM_TEST_FORBIDDEN_SYSCALL (status $status)"
[ "$status" = 0 ] || show "$T/shipped.err"

rm -rf "$T"
[ "$failures" = 0 ]
