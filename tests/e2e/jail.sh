#!/bin/sh
# tests/e2e/jail.sh — silo-jail around silo-vmm on real KVM (inside the dev host, as root).
#
#  1. silo-vmm under silo-jail boots the tiny initramfs to init, powers off with status 0, and
#     wipes guest RAM (--verify-wipe) as without the jail; a second one boots the test root from
#     a copy-on-write disk with vsock, and a round trip through its --vsock-uds (a socket in a
#     --bind'ed writable directory) works from outside the jail; SIGTERM ends it (143), wiped.
#  2. jail-probe, exec'd under silo-jail in place of silo-vmm, reports what a jailed process is
#     and reaches: ids, capabilities, no_new_privs, host files, other processes, kill/ptrace, TCP
#     to a listening host port, another session's Unix socket, rlimits, /dev/kvm; the checks here
#     compare each value with what was asked (and first check that the host thing exists).
#  3. cgroup v2: a VMM whose guest writes 256 MiB under --memory-max 64M is OOM-killed inside its
#     own cgroup (memory.events oom_kill >= 1) while a second one beside it with a generous limit
#     finishes normally; with --wipe-keeper the keeper survives the OOM kill and wipes; pids.max
#     and cpu.max hold what was given.
#  4. bad invocations: one line, exit 125, nothing run.
# Prints `ok - jail: ...` / `not ok - jail: ...` lines.
TEST=jail
VMM=${SILO_VMM:-/silo/bin/silo-vmm}
JAIL=${SILO_JAIL:-/silo/bin/silo-jail}
PROBE=/silo/bin/jail-probe
TOOL=/silo/bin/vsock-tool
IMAGE=${SILO_IMAGE:-/silo/guest/Image}
INITRD=${SILO_INITRD:-/silo/guest/tiny-initrd.cpio}
ROOTFS=${SILO_TEST_ROOT:-/silo/extra/silo-test-root.ext4}
BASE="console=ttyS0 reboot=k panic=-1 quiet"
T=$(mktemp -d /tmp/jail.XXXXXX)
CG=/sys/fs/cgroup/silo-test
. /silo/tests/e2e/cgroup.lib
failures=0

ok() { echo "ok - $TEST: $1"; }
not_ok() { echo "not ok - $TEST: $1"; failures=$((failures + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }
show() { sed 's/^/    # /' "$1" | tail -n "${2:-15}"; }
# probe_value FILE NAME -> the value jail-probe reported for NAME
probe_value() { sed -n "s|^probe: $2 ||p" "$1" | head -1; }

for f in "$VMM" "$JAIL" "$PROBE" "$TOOL" "$IMAGE" "$INITRD" "$ROOTFS"; do
    [ -e "$f" ] || { not_ok "missing $f (make programs; make build/devhost-extra/silo-test-root.ext4)"; exit 1; }
done

# session NAME UID: a jail root (empty, root's) and a writable directory owned by the session
session() {
    mkdir -p "$T/$1/root" "$T/$1/rw"
    chown "$2:$2" "$T/$1/rw"
}
# the common part of a jailed silo-vmm: kernel, initrd, disk image read-only, /dev/kvm
vmm_binds() {
    echo "--bind-ro $VMM=/vm/silo-vmm --bind-ro $IMAGE=/vm/Image --bind-ro $INITRD=/vm/initrd" \
         "--bind-ro $ROOTFS=/vm/root.ext4 --dev /dev/kvm"
}

# --- 1. silo-vmm under silo-jail: boot to init, exit 0, wiped -----------------------------------
session boot 10001
timeout 180 "$JAIL" --root "$T/boot/root" --uid 10001 --gid 10001 $(vmm_binds) \
    --nofile 256 --as 1G --nproc 32 \
    -- /vm/silo-vmm --kernel /vm/Image --initrd /vm/initrd --mem 256M --cpus 2 --cmdline "$BASE" \
    --verify-wipe -v >"$T/boot.out" 2>"$T/boot.err" </dev/null 9>"$T/inherited"
status=$?
check $(( status != 0 )) "jailed silo-vmm (2 vCPUs, 256 MiB): guest powers off, exit status 0 (got $status)"
grep -q "silo-tiny-init: reached" "$T/boot.out"
check $? "jailed silo-vmm: the guest's init reached (console through the jail's stdout)"
grep -q "silo-vmm: wipe verified" "$T/boot.err"
check $? "jailed silo-vmm: --verify-wipe: every touched page read zero before munmap"
kib=$(sed -n 's/.*silo-vmm: wiped \([0-9]*\) KiB.*/\1/p' "$T/boot.err")
[ -n "$kib" ] && [ "$kib" -gt 0 ]
check $? "jailed silo-vmm: the wipe found the guest's pages through /proc/self/pagemap (${kib:-?} KiB wiped)"
grep "silo-vmm: RSS\|silo-vmm: wiped" "$T/boot.err" | sed 's/^/# /'
[ "$status" = 0 ] || { show "$T/boot.out"; show "$T/boot.err"; }

# --- 1b. vsock through the jail, a cow disk whose layer lives in the writable directory ---------
# the session's cgroup also gets pids.max and cpu.max, checked while it runs (part 3)
cgroup_ready=1
CGROUP_ERR=$T/cgmount.err cgroup_parent_ready "$CG" || cgroup_ready=0
check $(( cgroup_ready != 1 )) "cgroup v2 at /sys/fs/cgroup, memory/cpu/pids enabled for $CG's children ($(cat "$CG/cgroup.subtree_control" 2>/dev/null))"
rmdir "$CG/vsock" "$CG/small" "$CG/big" 2>/dev/null

session vsock 10002
UDS=/run/vm/v.sock
env TMPDIR=/run/vm "$JAIL" --root "$T/vsock/root" --uid 10002 --gid 10002 $(vmm_binds) \
    --bind "$T/vsock/rw=/run/vm" --cgroup "$CG/vsock" --memory-max 512M --pids-max 40 --cpu-max "150000 100000" \
    --nofile 256 --as 1G --nproc 32 \
    -- /vm/silo-vmm --kernel /vm/Image --mem 256M --cpus 2 --disk /vm/root.ext4,cow --vsock-cid 3 \
    --vsock-uds "$UDS" --cmdline "$BASE root=/dev/vda rootfstype=ext4 rw silo.test=vsock silo.bytes=4096" \
    --verify-wipe >"$T/vsock.out" 2>"$T/vsock.err" </dev/null &
vm=$!
timeout 300 "$TOOL" --retry-ms 240000 streams "uds:$T/vsock/rw/v.sock:1234" 1 4096 >"$T/rt.out" 2>&1
check $? "vsock round trip from outside the jail through $T/vsock/rw/v.sock (the jail's $UDS): $(cat "$T/rt.out")"
timeout 120 "$TOOL" ping "uds:$T/vsock/rw/v.sock:1234" 50 >"$T/ping.out" 2>&1
check $? "vsock ping-pong through the jailed VMM: $(cat "$T/ping.out")"
# what the host sees of the running jailed VMM: $vm is silo-jail, the relay outside the jail's
# PID namespace; its child is the namespace's init, whose child is the VMM (vmm/jail/jail_init.h)
first_child() { cut -d' ' -f1 "/proc/$1/task/$1/children" 2>/dev/null; }
init=$(first_child "$vm")
vmm=$(first_child "${init:-0}")
st=/proc/$vmm/status
[ -n "$vmm" ] && grep -q "^Uid:[[:space:]]*10002[[:space:]]*10002[[:space:]]*10002" "$st" &&
    grep -q "^CapEff:[[:space:]]*0000000000000000" "$st" && grep -q "^CapBnd:[[:space:]]*0000000000000000" "$st" &&
    grep -q "^NoNewPrivs:[[:space:]]*1" "$st" && grep -q "^Seccomp:[[:space:]]*2" "$st" &&
    [ "$(cat /proc/$vmm/comm)" = silo-vmm ]
check $? "the running jailed VMM (pid ${vmm:-?}, child of the jail's init ${init:-?}, grandchild of silo-jail $vm): uid 10002, no capabilities, no_new_privs, its own seccomp filter"
relay_ok=0
for p in "$vm" "$init"; do
    grep -q "^Uid:[[:space:]]*10002[[:space:]]*10002[[:space:]]*10002" "/proc/$p/status" &&
        grep -q "^CapEff:[[:space:]]*0000000000000000" "/proc/$p/status" &&
        grep -q "^CapPrm:[[:space:]]*0000000000000000" "/proc/$p/status" &&
        grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$p/status" || relay_ok=1
done
[ "$(cat /proc/$init/comm 2>/dev/null)" = silo-jail-init ] || relay_ok=1
check $relay_ok "silo-jail (the relay, pid $vm) and the jail's init (pid $init, 'silo-jail-init') keep nothing of root either: uid 10002, no capabilities, no_new_privs"
[ "$(readlink /proc/$vmm/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
    [ "$(readlink /proc/$vmm/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
    [ "$(readlink /proc/$vmm/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
    [ "$(readlink /proc/$vmm/ns/pid)" = "$(readlink /proc/$init/ns/pid)" ] &&
    [ "$(readlink /proc/$vm/ns/pid)" = "$(readlink /proc/self/ns/pid)" ] &&
    [ "$(sed -n 's/^NSpid:[[:space:]]*[0-9]*[[:space:]]*//p' /proc/$vmm/status)" = 2 ]
check $? "the jailed VMM has its own mount, network and PID namespaces (it is PID $(sed -n 's/^NSpid:[[:space:]]*[0-9]*[[:space:]]*//p' /proc/$vmm/status) there, the init PID 1); silo-jail stays in the host's"
if [ "$cgroup_ready" = 1 ]; then
    grep -qx "$vmm" "$CG/vsock/cgroup.procs" && grep -qx "$vm" "$CG/vsock/cgroup.procs" && [ "$(cat "$CG/vsock/pids.max")" = 40 ] &&
        [ "$(cat "$CG/vsock/cpu.max")" = "150000 100000" ] && [ "$(cat "$CG/vsock/memory.max")" = 536870912 ]
    check $? "cgroup $CG/vsock: the VMM and silo-jail are in it; pids.max $(cat "$CG/vsock/pids.max"), cpu.max '$(cat "$CG/vsock/cpu.max")', memory.max $(cat "$CG/vsock/memory.max") as given"
    [ "$(cat "$CG/vsock/pids.current")" -ge 3 ]
    check $? "cgroup $CG/vsock: pids.current $(cat "$CG/vsock/pids.current") counts the VMM's threads"
fi
kill -TERM "$vm"
wait "$vm"
status=$?
check $(( status != 143 )) "SIGTERM to the jailed VMM's pid: exit status 143 (got $status)"
grep -q "silo-vmm: wipe verified" "$T/vsock.err"
check $? "the jailed vsock VMM wiped its memory on SIGTERM (verified)"
[ "$failures" = 0 ] || { show "$T/vsock.out"; show "$T/vsock.err"; }
[ "$cgroup_ready" = 1 ] && { rmdir "$CG/vsock"; check $? "the ended session's cgroup can be removed"; }

# --- 2. the probe: what a jailed process is and can reach -------------------------------------
session probe 10003
session other 10004
sleep 600 &
host_pid=$!
port=47123
nc -l -p "$port" </dev/null >/dev/null 2>&1 &
nc_pid=$!
"$TOOL" serve "unix:$T/other/rw/other.sock" echo >/dev/null 2>&1 &
uds_pid=$!
echo marker >"$T/host-tmp-marker"
# listening: in /proc/net/tcp or tcp6 (busybox nc may listen on ::), state 0A
listening() { grep -qi ":$(printf '%04X' "$port") [0-9A-F]*:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
i=0
while [ $i -lt 100 ]; do   # up to 30 s: busybox nc starts slowly on a loaded emulated host
    i=$((i + 1))
    [ -S "$T/other/rw/other.sock" ] && listening && break
    sleep 0.3
done
listening
check $? "host side: TCP port $port is listening (busybox nc -l)"
listening || { echo "    # nc: $(command -v nc) $(kill -0 "$nc_pid" 2>&1 && echo running)"; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | sed 's/^/    # /' | head; }
[ -S "$T/other/rw/other.sock" ] && [ -e /silo ] && [ -e /root ] && [ -d "$T/other/root" ]
check $? "host side: another session's socket, /silo, /root, $T/other/root exist"
"$JAIL" --root "$T/probe/root" --uid 10003 --gid 10003 --bind-ro "$PROBE=/probe" --dev /dev/kvm \
    --bind "$T/probe/rw=/run/probe" --nofile 64 --as 512M --nproc 8 \
    -- /probe --host-pid "$host_pid" --tcp-port "$port" --unix-socket "$T/other/rw/other.sock" \
    --path "$T/other/root" --path "$T/host-tmp-marker" --path /etc/mke2fs.conf --rw-dir /run/probe \
    >"$T/probe.out" 2>"$T/probe.err" 9>"$T/inherited"
status=$?
P=$T/probe.out
[ "$status" = 0 ] && [ "$(probe_value "$P" done)" = 1 ]
check $? "jail-probe ran under silo-jail to the end (status $status)"
[ "$status" = 0 ] || { show "$P"; show "$T/probe.err"; }
[ "$(probe_value "$P" uids)" = "10003,10003,10003" ] && [ "$(probe_value "$P" gids)" = "10003,10003,10003" ] &&
    [ "$(probe_value "$P" groups)" = 0 ]
check $? "runs as uid/gid 10003 (real, effective, saved) with no supplementary groups ($(probe_value "$P" uids) / $(probe_value "$P" gids) / $(probe_value "$P" groups) groups)"
caps=""
for c in CapInh CapPrm CapEff CapBnd CapAmb; do caps="$caps $c=$(probe_value "$P" $c)"; done
[ "$(echo "$caps" | grep -o '=0000000000000000' | wc -l)" = 5 ]
check $? "no capabilities:$caps"
[ "$(probe_value "$P" NoNewPrivs)" = 1 ]
check $? "NoNewPrivs $(probe_value "$P" NoNewPrivs)"
hidden=1
for p in /etc/mke2fs.conf /root /silo /tmp /sys /bin/busybox "$T/other/root" "$T/host-tmp-marker"; do
    v=$(probe_value "$P" "path:$p")
    [ "$v" = ENOENT ] || { hidden=0; echo "# $p in the jail: $v"; }
done
check $(( hidden != 1 )) "host files are not in the jail: /etc/mke2fs.conf, /root, /silo, /tmp, /sys, /bin/busybox, another session's jail root, a file in the host's /tmp (all ENOENT)"
[ -n "$(probe_value "$P" self-pid)" ] && [ "$(probe_value "$P" proc-pids)" = "$(probe_value "$P" self-pid)" ]
check $? "/proc shows only its own process (pids: $(probe_value "$P" proc-pids); self $(probe_value "$P" self-pid))"
# pid 1 is the jail's own init (same uid: kill(1, 0) may succeed; a signal it gets only comes back
# to the program, jail_init.h); a host process does not exist in the jail's PID namespace
k1=$(probe_value "$P" kill-1) kh=$(probe_value "$P" kill-host)
[ "$kh" = ESRCH ] && { [ "$k1" = ok ] || [ "$k1" = EPERM ]; }
check $? "kill(host pid $host_pid, 0): $kh (no such process in the jail's PID namespace); kill(1, 0), the jail's init: $k1"
ph=$(probe_value "$P" ptrace-host) p1=$(probe_value "$P" ptrace-1)
[ "$ph" = ESRCH ] && [ "$p1" = EPERM ]
check $? "ptrace(PTRACE_ATTACH) of a host process: $ph; of the jail's init: $p1"
tc=$(probe_value "$P" tcp-connect)
[ -n "$tc" ] && [ "$tc" != ok ] && [ "$(probe_value "$P" net-interfaces)" = 1 ]
check $? "TCP connect to the host's listening 127.0.0.1:$port fails ($tc); the network namespace has $(probe_value "$P" net-interfaces) interface (lo, down)"
uc=$(probe_value "$P" unix-connect)
[ "$uc" = ENOENT ]
check $? "another session's Unix socket ($T/other/rw/other.sock) is not reachable: $uc"
[ "$(probe_value "$P" rlimit-nofile)" = "64,64" ] && [ "$(probe_value "$P" rlimit-as)" = "536870912,536870912" ] &&
    [ "$(probe_value "$P" rlimit-nproc)" = "8,8" ] && [ "$(probe_value "$P" rlimit-core)" = "0,0" ] &&
    [ "$(probe_value "$P" rlimit-memlock)" = "536870912,536870912" ]
check $? "rlimits as asked: nofile $(probe_value "$P" rlimit-nofile), as $(probe_value "$P" rlimit-as), nproc $(probe_value "$P" rlimit-nproc), core $(probe_value "$P" rlimit-core), memlock $(probe_value "$P" rlimit-memlock)"
[ "$(probe_value "$P" setuid-0)" = EPERM ] && [ "$(probe_value "$P" mount-tmpfs)" = EPERM ] &&
    [ "$(probe_value "$P" chroot)" = EPERM ] && [ "$(probe_value "$P" write-root)" = EROFS ] &&
    [ "$(probe_value "$P" hostname)" = silo ]
check $? "no way back: setuid(0) $(probe_value "$P" setuid-0), mount $(probe_value "$P" mount-tmpfs), chroot $(probe_value "$P" chroot), a file in / $(probe_value "$P" write-root); hostname '$(probe_value "$P" hostname)' (own UTS namespace)"
[ "$(probe_value "$P" kvm-open)" = ok ] && [ "$(probe_value "$P" kvm-api)" = 12 ]
check $? "/dev/kvm opens in the jail (KVM API $(probe_value "$P" kvm-api))"
[ "$(probe_value "$P" open-fds-above-2)" = 0 ]
check $? "a descriptor inherited by silo-jail (fd 9) did not reach the program ($(probe_value "$P" open-fds-above-2) open above 2)"
abi=$(probe_value "$P" landlock-abi)
echo "# Landlock ABI of the dev host's kernel: ${abi:-?} (0: none)"
if [ "${abi:-0}" -gt 0 ]; then
    [ "$(probe_value "$P" rw-dir-file)" = ok ] && [ "$(probe_value "$P" rw-dir-symlink)" = EACCES ] &&
        [ "$(probe_value "$P" rw-dir-fifo)" = EACCES ]
    check $? "Landlock (ABI $abi) in the writable bind: a regular file $(probe_value "$P" rw-dir-file), a symlink $(probe_value "$P" rw-dir-symlink), a FIFO $(probe_value "$P" rw-dir-fifo) (the mount allows all three)"
else
    [ "$(probe_value "$P" rw-dir-file)" = ok ]
    check $? "no Landlock in this kernel: the jail relies on its mounts (a file in the writable bind: $(probe_value "$P" rw-dir-file))"
fi
# the control: the same probe outside the jail (as root) does reach the port, the socket and the files
mkdir -p "$T/probe-host-rw"
"$PROBE" --host-pid "$host_pid" --tcp-port "$port" --unix-socket "$T/other/rw/other.sock" \
    --path "$T/other/root" --path "$T/host-tmp-marker" --rw-dir "$T/probe-host-rw" --control >"$T/probe-host.out" 2>&1
[ -r /proc/uptime ] && [ -r /proc/cpuinfo ] && [ ! -e /escape-test ]
check $? "the control run changed nothing of the dev host (its /proc intact, no file in /): the tests after this one need it"
H=$T/probe-host.out
[ "$(probe_value "$H" tcp-connect)" = ok ] && [ "$(probe_value "$H" unix-connect)" = ok ] &&
    [ "$(probe_value "$H" "path:$T/other/root")" = present ] && [ "$(probe_value "$H" path:/silo)" = present ] &&
    [ "$(probe_value "$H" proc-pids | tr ',' '\n' | wc -l)" -gt 10 ] && [ "$(probe_value "$H" rw-dir-symlink)" = ok ] &&
    [ "$(probe_value "$H" rw-dir-fifo)" = ok ]
check $? "control: the same probe outside the jail connects to port $port ($(probe_value "$H" tcp-connect)) and the other session's socket ($(probe_value "$H" unix-connect)), sees the files and $(probe_value "$H" proc-pids | tr ',' '\n' | wc -l) processes, makes a symlink ($(probe_value "$H" rw-dir-symlink)) and a FIFO ($(probe_value "$H" rw-dir-fifo))"
# --- 2b. a compromised VMM: silo-vmm-probe (a test build) tries the same from inside the VMM ---
# process, each thread with its own seccomp filter (vmm/test_probe.h), in the jail; then the
# control, unjailed. The main thread ends with ptrace: the kill.
VMMPROBE=/silo/bin/silo-vmm-probe
escape_targets="/etc/mke2fs.conf:/silo/bin/silo-vmm:$T/host-tmp-marker:$T/other/rw/other.sock"
session compromised 10007
env SILO_VMM_TEST_ESCAPE="$escape_targets" SILO_VMM_TEST_ESCAPE_ROOT=1 SILO_VMM_TEST_ESCAPE_DIR="$T/other/rw" \
    timeout 180 "$JAIL" --root "$T/compromised/root" --uid 10007 --gid 10007 --bind-ro "$VMMPROBE=/vm/silo-vmm" \
    --bind-ro "$IMAGE=/vm/Image" --bind-ro "$INITRD=/vm/initrd" --dev /dev/kvm --nofile 256 --as 1G --nproc 32 \
    -- /vm/silo-vmm --kernel /vm/Image --initrd /vm/initrd --mem 256M --cmdline "$BASE" --verify-wipe \
    >"$T/compromised.out" 2>"$T/compromised.err" </dev/null
status=$?
E=$T/compromised.err
grep '^silo-vmm-probe: escape' "$E" | sed 's/^/# /'
escape_result() { sed -n "s|^silo-vmm-probe: escape $1 $2 $3: ||p" "$E" | head -1; }
all_enoent=1
for p in /etc/mke2fs.conf /silo/bin/silo-vmm "$T/host-tmp-marker" "$T/other/rw/other.sock"; do
    [ "$(escape_result main open "$p")" = ENOENT ] && [ "$(escape_result io connect "$p")" = ENOENT ] || all_enoent=0
done
check $(( all_enoent != 1 )) "a compromised jailed VMM: its main thread cannot open, its I/O thread cannot connect to, a host file, the host's silo-vmm, a file in the host's /tmp or another session's socket (all ENOENT)"
r1=$(escape_result main mkdir /escape) r2=$(escape_result main create "$T/other/rw/escape")
{ [ "$r1" = EROFS ] || [ "$r1" = EACCES ]; } && [ "$r2" = ENOENT ] && [ ! -e "$T/other/rw/escape" ]
check $? "a compromised jailed VMM cannot write its root ($r1) or into another session's directory ($r2)"
[ "$status" = 159 ] && grep -q "seccomp: thread main made a forbidden system call [0-9]* (ptrace)" "$E" &&
    grep -q "silo-vmm: crashed (signal 31): guest memory wiped before exit" "$E"
check $? "its ptrace(PTRACE_ATTACH) is a forbidden call: killed by SIGSYS (status $status), the line names it, guest RAM wiped first"
[ "$status" = 159 ] || show "$E"
env SILO_VMM_TEST_ESCAPE="$escape_targets" SILO_VMM_TEST_ESCAPE_DIR="$T/probe-host-rw" \
    timeout 180 "$VMMPROBE" --kernel "$IMAGE" --initrd "$INITRD" --mem 256M --cmdline "$BASE" \
    >"$T/uncompromised.out" 2>"$T/uncompromised.err" </dev/null
E=$T/uncompromised.err
[ "$(escape_result main open /etc/mke2fs.conf)" = ok ] && [ "$(escape_result io connect "$T/other/rw/other.sock")" = ok ] &&
    [ "$(escape_result main create "$T/probe-host-rw/escape")" = ok ]
check $? "control: the same silo-vmm-probe unjailed opens the host file ($(escape_result main open /etc/mke2fs.conf)), connects to the other session's socket ($(escape_result io connect "$T/other/rw/other.sock")) and writes a file ($(escape_result main create "$T/probe-host-rw/escape"))"
kill -KILL "$host_pid" "$nc_pid" "$uds_pid" 2>/dev/null
wait "$host_pid" "$nc_pid" "$uds_pid" 2>/dev/null
# the probe's jail root is only the caller's empty directory again (the tmpfs lived in the
# jail's mount namespace, gone with it)
[ -z "$(ls -A "$T/probe/root")" ]
check $? "after the jailed process ended, its --root is empty again on the host"

# --- 3. cgroup memory.max: an over-limit VMM is OOM-killed in its cgroup; its neighbour is not ---
# a raw payload (loaded at RAM + 0x80000) that writes one word per 4 KiB over 256 MiB from RAM +
# 2 MiB, then powers off through PSCI SYSTEM_OFF (tests/e2e/vmm_boot.sh's 16 MiB one, x2 = 65536)
# adrp x1, .+2M; movz x2, #1, lsl #16; mov x3, #0x5a; 1: str x3, [x1]; add x1, x1, #4096;
# subs x2, x2, #1; b.ne 1b; mov x0, #0x84000008; hvc #0; b .
printf '\001\020\000\220\042\000\240\322\103\013\200\322\043\000\000\371\041\004\100\221\102\004\000\361\241\377\377\124\000\001\200\322\000\200\260\362\002\000\000\324\000\000\000\024' >"$T/touch256.bin"
if [ "$cgroup_ready" = 1 ]; then
    session small 10005
    session big 10006
    run_touch() { # NAME UID MEMORY_MAX
        "$JAIL" --root "$T/$1/root" --uid "$2" --gid "$2" --bind-ro "$VMM=/vm/silo-vmm" \
            --bind-ro "$T/touch256.bin=/vm/touch256.bin" --dev /dev/kvm --cgroup "$CG/$1" --memory-max "$3" \
            --pids-max 16 --nofile 128 --as 2G --nproc 16 \
            -- /vm/silo-vmm --kernel /vm/touch256.bin --mem 512M --console none -v \
            >"$T/$1.out" 2>"$T/$1.err" </dev/null
        echo $? >"$T/$1.status"
    }
    run_touch small 10005 64M &
    small=$!
    run_touch big 10006 1G &
    big=$!
    wait "$small" "$big"
    s_status=$(cat "$T/small.status") b_status=$(cat "$T/big.status")
    s_oom=$(sed -n 's/^oom_kill //p' "$CG/small/memory.events")
    b_oom=$(sed -n 's/^oom_kill //p' "$CG/big/memory.events")
    s_peak=$(cat "$CG/small/memory.peak" 2>/dev/null || echo "?")
    b_peak=$(cat "$CG/big/memory.peak" 2>/dev/null || echo "?")
    echo "# small: status $s_status, memory.events: $(tr '\n' ' ' <"$CG/small/memory.events"), peak $s_peak"
    echo "# big: status $b_status, memory.events: $(tr '\n' ' ' <"$CG/big/memory.events"), peak $b_peak"
    [ "$s_status" = 137 ] && [ -n "$s_oom" ] && [ "$s_oom" -ge 1 ]
    check $? "a guest writing 256 MiB under --memory-max 64M: the VMM is OOM-killed in its own cgroup (status $s_status = SIGKILL, oom_kill $s_oom, peak $s_peak)"
    [ "$b_status" = 0 ] && [ "$b_oom" = 0 ] && grep -q "silo-vmm: wiped" "$T/big.err"
    check $? "its neighbour under --memory-max 1G, run at the same time, finishes normally (status $b_status, oom_kill $b_oom, peak $b_peak, $(sed -n 's/^silo-vmm: \(wiped [0-9]* KiB\).*/\1/p' "$T/big.err"))"
    [ "$b_status" = 0 ] || show "$T/big.err"
    [ "$s_status" = 137 ] || show "$T/small.err"
    rmdir "$CG/small" "$CG/big"
    check $? "both sessions' cgroups removed after the processes were reaped"

    # the same OOM kill with --wipe-keeper: the keeper, in the same cgroup, is not taken with the
    # VMM (no memory.oom.group; PID 1 of the jail is its init, not the VMM) and wipes the guest's memory after it
    session keeper 10008
    "$JAIL" --root "$T/keeper/root" --uid 10008 --gid 10008 --bind-ro "$VMM=/vm/silo-vmm" \
        --bind-ro "$T/touch256.bin=/vm/touch256.bin" --dev /dev/kvm --cgroup "$CG/keeper" --memory-max 64M \
        --pids-max 16 --nofile 128 --as 2G --nproc 16 \
        -- /vm/silo-vmm --kernel /vm/touch256.bin --mem 512M --console none --wipe-keeper --verify-wipe \
        >/dev/null 2>"$T/keeper.err" </dev/null
    k_status=$?
    for i in $(seq 1 100); do
        [ -z "$(cat "$CG/keeper/cgroup.procs")" ] && break
        sleep 0.2
    done
    k_oom=$(sed -n 's/^oom_kill //p' "$CG/keeper/memory.events")
    [ "$k_status" = 137 ] && [ -n "$k_oom" ] && [ "$k_oom" -ge 1 ] && grep -q "died without wiping; wiped" "$T/keeper.err" &&
        grep -q "keeper: wipe verified" "$T/keeper.err"
    check $? "--wipe-keeper under the jail: the OOM-killed VMM (status $k_status, oom_kill ${k_oom:-?}) is wiped after by its keeper: $(sed -n 's/^silo-vmm keeper: VMM pid [0-9]* //p' "$T/keeper.err" | head -1)"
    [ "$k_status" = 137 ] || show "$T/keeper.err"
    rmdir "$CG/keeper"
    check $? "the keeper session's cgroup removed once the keeper exited"
fi

# --- 4. bad invocations: one line, exit 125, nothing run ---------------------------------------
refuse() { # WHAT EXPECTED-TEXT ARGS...
    what=$1 text=$2
    shift 2
    "$JAIL" "$@" >"$T/refuse.out" 2>"$T/refuse.err"
    status=$?
    [ "$status" = 125 ] && [ "$(wc -l <"$T/refuse.err")" = 1 ] && grep -q "^silo-jail: .*$text" "$T/refuse.err" &&
        [ ! -s "$T/refuse.out" ]
    check $? "refuses $what: status $status, $(cat "$T/refuse.err")"
}
session bad 10007
refuse "uid 0" "uid" --root "$T/bad/root" --uid 0 --gid 10007 --bind-ro "$PROBE=/probe" -- /probe
refuse "a missing SRC" "No such file" --root "$T/bad/root" --uid 10007 --gid 10007 --bind-ro /nonexistent=/x -- /probe
refuse "a program missing in the jail" "cannot exec /probe" --root "$T/bad/root" --uid 10007 --gid 10007 -- /probe
if [ "$cgroup_ready" = 1 ]; then
    mkdir "$CG/exists"
    refuse "an existing cgroup" "already exists" --root "$T/bad/root" --uid 10007 --gid 10007 \
        --bind-ro "$PROBE=/probe" --cgroup "$CG/exists" --pids-max 4 -- /probe
    rmdir "$CG/exists"
fi

rm -rf "$T"
[ "$failures" = 0 ]
