# tests/e2e/silod_jail.sh — silod with `jail` (frontend/vmm_jail.h) inside the dev host (busybox
# sh, as root): every session's silo-vmm runs under silo-jail with a uid of its own and in a
# cgroup of its own under jail.cgroup_parent.
#  1. silod (REAL image builder, the c-echo C agent's OCI archive) starts with the jail; two
#     runtimes of the c-echo agent are created.
#  2. An invocation through a jailed VMM answers; from the dev host, the VMM process has a uid
#     from the configured range and the jail's gid, CapEff 0, no_new_privs, its own mount and network
#     namespaces; its cgroup exists with memory.max = guest share + overhead, cpu.max, pids.max.
#  3. StopRuntimeSession: the cgroup, the jail root and the run directory are removed; the usage
#     record is measured from the cgroup.
#  4. Memory limit: guest_memory_percent 25 makes memory.max below the guest's RAM; a session
#     whose agent touches 160 MiB is ended with reason memory_limit (the cgroup's OOM killer,
#     not the host's), while a session of the other runtime keeps answering; the same session
#     id then gets a fresh microVM, as after any VMM death.
#  5. SIGTERM: silod stops; no jailed VMM, cgroup or jail directory is left.
#  6. silod SIGKILLed: its jailed VMM ends too; the next silod (templates off: a cold boot)
#     removes the leftovers and hands the uid out again; the VMM's memory beyond guest RAM is
#     measured there (the figure behind jail.vmm_overhead_mib's default; "# bench:" line).
. /silo/tests/e2e/common.lib
T="silod jail"
d=/tmp/silod-jail
CG=/sys/fs/cgroup/silo-silod
UID_FIRST=300000
UID_COUNT=4
GID=310000
GUEST_MIB=256
PERCENT=25
OVERHEAD_MIB=64
for f in /silo/bin/silod /silo/bin/silo-vmm /silo/bin/silo-jail /silo/bin/silod-build-image; do
    [ -x "$f" ] || { fail "$T: missing $f (make devhost)"; exit 0; }
done
rm -rf $d; mkdir -p $d/images $d/sock

# cgroup v2 with memory/cpu/pids for the children of the root (what an init system delegates)
grep -q " /sys/fs/cgroup cgroup2 " /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup 2>$d/cgmount.err
echo "+memory +cpu +pids" >/sys/fs/cgroup/cgroup.subtree_control 2>>$d/cgmount.err
[ -d $CG ] && { for c in $CG/vmm-*; do [ -d "$c" ] && rmdir "$c"; done; rmdir $CG; }

akid=AKIDSILODJAILE2E0001
secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
cat >$d/silod.json <<JSON
{
  "listen_address": "127.0.0.1", "listen_port": 18081,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "jail-e2e" } ],
  "image_builder": "/silo/bin/silod-build-image",
  "image_store": "/silo/extra/oci-store",
  "max_sessions": 4, "max_guest_mib": 2048,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 1, "guest_mib": $GUEST_MIB, "ready_timeout_ms": 120000, "cmdline": "$cmdline" },
  "jail": { "dir": "$d/jail", "uid_first": $UID_FIRST, "uid_count": $UID_COUNT, "gid": $GID, "cgroup_parent": "$CG",
            "vmm_overhead_mib": $OVERHEAD_MIB, "guest_memory_percent": $PERCENT }
}
JSON
silod --config $d/silod.json </dev/null >$d/silod.out 2>$d/silod.log &
silod_pid=$!
i=0
while [ $i -lt 300 ] && ! grep -q "silod: listening" $d/silod.log && kill -0 $silod_pid 2>/dev/null; do
    sleep 0.2; i=$((i + 1))
done
if ! grep -q "silod: listening" $d/silod.log; then
    tail -5 $d/silod.log $d/cgmount.err | sed 's/^/#   /'
    fail "$T: silod did not start with the jail configured"; kill $silod_pid 2>/dev/null; exit 0
fi
jail_line=$(grep "silod: jail:" $d/silod.log | head -1)
[ -n "$jail_line" ] && grep -q "memory" $CG/cgroup.subtree_control 2>/dev/null &&
    pass "$T: silod starts with the jail ($jail_line); $CG's subtree_control: $(cat $CG/cgroup.subtree_control)" ||
    fail "$T: silod's jail start line or $CG's controllers are missing"
# a root silod keeps only what the jail and it need (frontend/silod_privileges.h): 0x92445ff =
# CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
# IPC_LOCK SYS_CHROOT SYS_ADMIN SYS_RESOURCE MKNOD; the jail then works with only those (below)
sbnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/$silod_pid/status)
seff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$silod_pid/status)
[ "$sbnd" = 00000000092445ff ] && [ "$seff" = 00000000092445ff ] &&
    pass "$T: root silod narrowed its capabilities to the 15 it needs (CapBnd $sbnd, CapEff $seff: no SYS_MODULE, SYS_RAWIO, SYS_PTRACE, NET_ADMIN, NET_RAW, SYS_BOOT, BPF...)" ||
    fail "$T: silod's capabilities: CapBnd $sbnd CapEff $seff (want 00000000092445ff)"

export SILO_ENDPOINT=http://127.0.0.1:18081 AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
json_str() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -1; }
make_runtime() { # NAME -> runtime id on stdout
    silo-api runtime create "$1" --image silo.local/agents/c-echo:latest --wait --json >$d/create-$1.json 2>>$d/cli.err
    grep -q '"status": *"READY"' $d/create-$1.json && json_str agentRuntimeId <$d/create-$1.json
}
rt_a=$(make_runtime jail_a)
rt_b=$(make_runtime jail_b)
if [ -z "$rt_a" ] || [ -z "$rt_b" ]; then
    tail -5 $d/cli.err | sed 's/^/#   /'; grep "silod: build" $d/silod.log | tail -6 | sed 's/^/#   /'
    fail "$T: the two c-echo runtimes did not become READY"; kill $silod_pid; wait $silod_pid; exit 0
fi
pass "$T: runtimes $rt_a and $rt_b READY (real image builder)"
# the image builder's boot checks ran jailed as well (frontend/jail_handoff.h): silod handed each
# a slot; the builder's line (read from the VMM's /proc) shows a uid of the range, PID 2 of a
# namespace of its own and the slot's cgroup under jail.cgroup_parent
bc=$(grep "boot check VMM jailed" $d/silod.log | tr -s ' \t' ' ')
n_ok=0
echo "$bc" | sed 's/^/# /'
for line in $(echo "$bc" | sed -n 's/.*Uid: \([0-9]*\) .*NSpid: [0-9]* \([0-9]*\), cgroup \(.*\)$/\1:\2:\3/p'); do
    u=${line%%:*}; rest=${line#*:}; nspid=${rest%%:*}; cgp=${rest#*:}
    [ "$u" -ge $UID_FIRST ] && [ "$u" -lt $((UID_FIRST + UID_COUNT)) ] && [ "$nspid" = 2 ] &&
        [ "$cgp" = "/${CG#/sys/fs/cgroup/}/vmm-$u" ] && n_ok=$((n_ok + 1))
done
[ $n_ok -eq 2 ] && pass "$T: both builds' boot-check VMMs ran jailed: a uid of the range, PID 2 in their own PID namespace, the slot's cgroup" ||
    fail "$T: the boot-check VMMs were not both jailed ($n_ok of 2 lines right)"
[ -z "$(ls $d/jail 2>/dev/null)" ] && [ -z "$(ls -d $CG/vmm-* 2>/dev/null)" ] &&
    pass "$T: the boot checks' jail slots were given back (no jail directory, no cgroup left)" ||
    fail "$T: the boot checks left $(ls $d/jail 2>/dev/null | tr '\n' ' ') $(ls -d $CG/vmm-* 2>/dev/null | tr '\n' ' ')"
tpl=$d/images/$rt_a-v1.snap
owners=$(stat -c '%u:%a' $tpl $tpl/* 2>/dev/null | sort -u | tr '\n' ' ')
[ -f $tpl/memory ] && [ -f $tpl/state ] && ! stat -c %u $tpl $tpl/* | grep -qv '^0$' &&
    pass "$T: the jailed boot check's template is silod's (owner uid 0, not the slot's: $owners)" ||
    fail "$T: the template $tpl: $(ls -ln $tpl 2>&1 | tr '\n' ' ')"

# the jailed VMM processes: every pid whose real uid is in the range
# uid_pids [COMM]: the processes with a uid of the range (only those named COMM, if given)
uid_pids() {
    for s in /proc/[0-9]*/status; do
        u=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "$s" 2>/dev/null)
        p=${s#/proc/}
        p=${p%/status}
        [ -n "$u" ] && [ "$u" -ge $UID_FIRST ] && [ "$u" -lt $((UID_FIRST + UID_COUNT)) ] &&
            { [ -z "$1" ] || [ "$(cat /proc/$p/comm 2>/dev/null)" = "$1" ]; } && echo "$p"
    done
}
# the jailed VMMs (each has its wipe keeper beside it, vmm.wipe_keeper: a silo-keeper process)
jailed_pids() { uid_pids silo-vmm; }
status_field() { sed -n "s/^$2:[[:space:]]*//p" /proc/$1/status | tr -s ' \t' ' '; }
# measure_overhead PID CGROUP: the VMM's memory beyond guest RAM — its other resident mappings
# (every one but the guest RAM's largest mapping; an upper bound: a smaller piece of guest RAM
# counts as the VMM's) and what its cgroup
# is charged beyond the guest RAM's resident pages (the VMM, KVM's page tables, kernel objects).
# Prints the "# bench:" line; sets own_mib and charge_mib.
measure_overhead() {
    awk '/^Size:/ { size = $2 } /^Rss:/ { total += $2; if (size > big) { big = size; guest = $2 } }
        END { print guest + 0, total - guest, big }' /proc/$1/smaps >$d/smaps.sum
    read -r guest_rss own_rss guest_map <$d/smaps.sum
    cur=$(cat $2/memory.current)
    own_mib=$(( (own_rss + 1023) / 1024 )); charge_mib=$(( (cur / 1024 - guest_rss + 1023) / 1024 ))
    echo "# bench: jailed VMM overhead (dev host, cold-booted c-echo after one invocation, guest $GUEST_MIB MiB, 1 vCPU): VmRSS $(status_field $1 VmRSS), guest RAM resident $((guest_rss / 1024)) MiB (its largest mapping, $((guest_map / 1024)) MiB), everything else resident ${own_mib} MiB (shared libraries included), cgroup memory.current $((cur / 1048576)) MiB = guest resident + ${charge_mib} MiB; VmPeak $(status_field $1 VmPeak)"
}

# --- 2. an invocation through a jailed VMM; what the VMM is ------------------------------------
sa=silod-jail-session-a-0123456789abcdef0001
out=$(silo-api invoke "$rt_a" '{"prompt":"jailed"}' --session $sa 2>>$d/cli.err)
expect_echo() { echo "$2" | grep -q '"prompt":"jailed"' && pass "$T: $1" || { echo "$2" | head -3 | sed 's/^/#   /'; fail "$T: $1"; return 1; }; }
expect_echo "an invocation through a jailed VMM answers" "$out" ||
    grep -v "silod: usage\|^\[" $d/silod.log | tail -25 | sed 's/^/#   log: /'
grep "silod: session $sa" $d/silod.log | sed 's/^/# /'
grep -q "silod: session $sa .*restored from the version's template" $d/silod.log &&
    pass "$T: the session was restored, jailed, from the template the jailed boot check took (the snapshot names its disk by the host path)" ||
    fail "$T: the session was not restored from the jailed boot check's template"
pids=$(jailed_pids)
all=$(uid_pids)
set -- $pids
keeper=$(uid_pids silo-keeper)
# all of the session's uid: silo-jail (the relay silod started), the jail's init, the VMM, its keeper
if [ $# -ne 1 ] || [ "$(echo $all | wc -w)" -ne 4 ] || [ -z "$keeper" ] ||
    [ -z "$(uid_pids silo-jail)" ] || [ -z "$(uid_pids silo-jail-init)" ] ||
    [ "$(status_field $keeper Uid)" != "$(status_field $1 Uid)" ]; then
    fail "$T: exactly one VMM, its wipe keeper, silo-jail and the jail's init, of the same uid, run with a uid of the range (VMMs: ${pids:-none}; all: $(echo $all))"
else
    pass "$T: one VMM (pid $1), its wipe keeper (pid $keeper, vmm.wipe_keeper), silo-jail (pid $(uid_pids silo-jail)) and the jail's init (pid $(uid_pids silo-jail-init)) run under the session's uid $(status_field $1 Uid | cut -d' ' -f1)"
    vm=$1
    u=$(status_field $vm Uid | cut -d' ' -f1)
    comm=$(cat /proc/$vm/comm)
    [ "$comm" = silo-vmm ] && [ "$(status_field $vm Uid)" = "$u $u $u $u" ] && [ "$(status_field $vm Gid)" = "$GID $GID $GID $GID" ] &&
        [ "$(status_field $vm Groups)" = "" ]
    check_rc=$?
    [ $check_rc = 0 ] && pass "$T: the VMM (pid $vm, $comm) runs as uid $u from $UID_FIRST..$((UID_FIRST + UID_COUNT - 1)), gid $GID (jail.gid), no supplementary groups" ||
        fail "$T: the VMM's identity: comm $comm, Uid '$(status_field $vm Uid)', Gid '$(status_field $vm Gid)', Groups '$(status_field $vm Groups)'"
    [ "$(status_field $vm CapEff)" = 0000000000000000 ] && [ "$(status_field $vm CapPrm)" = 0000000000000000 ] &&
        [ "$(status_field $vm CapBnd)" = 0000000000000000 ] && [ "$(status_field $vm NoNewPrivs)" = 1 ] &&
        pass "$T: the VMM has no capabilities (CapEff, CapPrm, CapBnd 0) and no_new_privs" ||
        fail "$T: the VMM's privileges: CapEff $(status_field $vm CapEff) CapPrm $(status_field $vm CapPrm) CapBnd $(status_field $vm CapBnd) NoNewPrivs $(status_field $vm NoNewPrivs)"
    for ns in net mnt ipc uts pid; do
        [ "$(readlink /proc/$vm/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] ||
            fail "$T: the VMM shares the dev host's $ns namespace ($(readlink /proc/self/ns/$ns))"
    done
    [ "$(readlink /proc/$vm/ns/net)" != "$(readlink /proc/self/ns/net)" ] && [ "$(readlink /proc/$vm/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
        [ "$(readlink /proc/$vm/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
        pass "$T: the VMM has its own network, mount and PID namespaces ($(readlink /proc/$vm/ns/net) vs the host's $(readlink /proc/self/ns/net); $(readlink /proc/$vm/ns/pid))"
    cg=$CG/vmm-$u
    want_max=$(( (GUEST_MIB * PERCENT / 100 + OVERHEAD_MIB) * 1048576 ))
    [ "$(cat /proc/$vm/cgroup)" = "0::${cg#/sys/fs/cgroup}" ] && [ "$(cat $cg/memory.max)" = $want_max ] &&
        [ "$(cat $cg/cpu.max)" = "100000 100000" ] && [ "$(cat $cg/pids.max)" = 256 ] &&
        pass "$T: the VMM is in its cgroup $cg: memory.max $(cat $cg/memory.max) (= ($GUEST_MIB x $PERCENT% + $OVERHEAD_MIB) MiB), cpu.max '$(cat $cg/cpu.max)', pids.max $(cat $cg/pids.max), pids.current $(cat $cg/pids.current)" ||
        fail "$T: the VMM's cgroup: /proc/$vm/cgroup '$(cat /proc/$vm/cgroup)', memory.max $(cat $cg/memory.max 2>&1) (want $want_max), cpu.max '$(cat $cg/cpu.max 2>&1)', pids.max $(cat $cg/pids.max 2>&1)"
    [ -d $d/jail/$u ] && [ "$(stat -c %u $d/jail/$u.run)" = $u ] && [ -S $d/jail/$u.run/vm.sock ] &&
        pass "$T: the jail root $d/jail/$u and the run directory $d/jail/$u.run (uid $u, the VMM's vm.sock in it) exist while the session lives" ||
        fail "$T: the jail root or run directory of uid $u: $(ls -la $d/jail 2>&1 | tr '\n' ' ')"
    # --- 3. StopRuntimeSession: cgroup, root and run directory removed -------------------------
    silo-api stop-session "$rt_a" $sa >/dev/null 2>>$d/cli.err
    i=0
    while [ $i -lt 100 ] && { [ -d $cg ] || [ -e $d/jail/$u ] || [ -e $d/jail/$u.run ]; }; do sleep 0.2; i=$((i + 1)); done
    [ ! -d $cg ] && [ ! -e $d/jail/$u ] && [ ! -e $d/jail/$u.run ] && ! kill -0 $vm 2>/dev/null &&
        pass "$T: after StopRuntimeSession the VMM is gone and its cgroup, jail root and run directory are removed" ||
        fail "$T: after StopRuntimeSession: cgroup $( [ -d $cg ] && echo left || echo gone), $(ls $d/jail 2>&1 | tr '\n' ' ')"
    rec=$(grep "silod: usage session=$sa " $d/silod.log)
    echo "# $rec"
    echo "$rec" | grep -q "reason=stopped .*vcpu_measured=1 mem_peak_kib=[1-9]" &&
        pass "$T: its usage record (reason stopped) is measured from the cgroup" ||
        fail "$T: its usage record: '$rec'"
fi

# --- 4. memory limit: one session ends with memory_limit, another runtime's keeps answering -----
sb=silod-jail-session-b-0123456789abcdef0002
sa2=silod-jail-session-a-0123456789abcdef0003
out=$(silo-api invoke "$rt_b" '{"prompt":"jailed"}' --session $sb 2>>$d/cli.err)
expect_echo "a session of the second runtime answers" "$out"
out=$(silo-api invoke "$rt_a" '{"prompt":"jailed"}' --session $sa2 2>>$d/cli.err)
expect_echo "a new session of the first runtime answers" "$out"
out=$(silo-api invoke "$rt_a" '{"action":"touch","mib":160}' --session $sa2 2>$d/touch.err)
echo "# touching 160 MiB in a guest under memory.max $(( (GUEST_MIB * PERCENT / 100 + OVERHEAD_MIB) )) MiB: answer '$(echo "$out" | head -c 200)' $(head -c 200 $d/touch.err)"
i=0
while [ $i -lt 100 ] && ! grep -q "silod: usage session=$sa2 " $d/silod.log; do sleep 0.2; i=$((i + 1)); done
rec=$(grep "silod: usage session=$sa2 " $d/silod.log)
echo "# $rec"
grep "OOM killer" $d/silod.log | sed 's/^/# /'
echo "$out" | grep -q touched_mib && fail "$T: the agent touched 160 MiB beyond the session's memory.max unharmed"
echo "$rec" | grep -q "reason=memory_limit" && grep -q "the cgroup's OOM killer killed in $CG/vmm-" $d/silod.log &&
    pass "$T: the session that touched more than its memory.max ended with reason memory_limit (the cgroup's OOM killer)" ||
    fail "$T: the over-limit session's end: '${rec:-no usage record}'"
i=0
while [ $i -lt 150 ] && ! grep -q "silo-vmm keeper: VMM pid [0-9]* died without wiping; wiped" $d/silod.log; do
    sleep 0.2; i=$((i + 1))
done
kline=$(grep "silo-vmm keeper: VMM pid [0-9]* died without wiping; wiped" $d/silod.log | head -1)
[ -n "$kline" ] && pass "$T: the OOM-killed VMM's guest RAM was wiped by its keeper (${kline#silo-vmm keeper: })" ||
    fail "$T: no keeper wiped the OOM-killed VMM's guest RAM"
kill -0 $silod_pid 2>/dev/null && pass "$T: silod lives on (the OOM killer acted inside the session's cgroup)" ||
    fail "$T: silod died"
out=$(silo-api invoke "$rt_b" '{"prompt":"jailed"}' --session $sb 2>>$d/cli.err)
expect_echo "the other runtime's session keeps answering after that" "$out"
out=$(silo-api invoke "$rt_a" '{"prompt":"jailed"}' --session $sa2 2>>$d/cli.err)
expect_echo "the ended session's id gets a fresh microVM, as after any VMM death" "$out"

# --- 5. SIGTERM: nothing of the jail left -------------------------------------------------------
kill $silod_pid
wait $silod_pid
left=$(uid_pids)
cgs=$(ls -d $CG/vmm-* 2>/dev/null)
dirs=$(ls $d/jail 2>/dev/null)
[ -z "$left" ] && [ -z "$cgs" ] && [ -z "$dirs" ] &&
    pass "$T: after SIGTERM no jailed VMM, session cgroup or jail directory is left" ||
    fail "$T: after SIGTERM: VMMs '${left}', cgroups '${cgs}', $d/jail: '${dirs}'"

# --- 6. silod SIGKILLed: its jailed VMM still ends (the parent-death signal survives silo-jail's
#        uid change); the next silod removes the slot's leftovers and hands the uid out again ---
start_silod() {
    : >$d/silod.log
    silod --config $d/silod.json </dev/null >>$d/silod.out 2>$d/silod.log &
    silod_pid=$!
    i=0
    while [ $i -lt 300 ] && ! grep -q "silod: listening" $d/silod.log && kill -0 $silod_pid 2>/dev/null; do
        sleep 0.2; i=$((i + 1))
    done
    grep -q "silod: listening" $d/silod.log
}
sc=silod-jail-session-c-0123456789abcdef0004
if start_silod; then
    out=$(silo-api invoke "$rt_b" '{"prompt":"jailed"}' --session $sc 2>>$d/cli.err)
    expect_echo "after a restart, a jailed session answers" "$out"
    vm=$(jailed_pids)
    u=$(status_field ${vm:-0} Uid 2>/dev/null | cut -d' ' -f1)
    kill -KILL $silod_pid
    wait $silod_pid 2>/dev/null
    i=0
    while [ $i -lt 150 ] && [ -n "$vm" ] && kill -0 $vm 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
    [ -n "$vm" ] && ! kill -0 $vm 2>/dev/null &&
        pass "$T: silod SIGKILLed: its jailed VMM (pid $vm, uid $u) ended too, in $((i / 5)) s (parent-death signal kept through silo-jail)" ||
        fail "$T: silod SIGKILLed: its jailed VMM '${vm}' is still running"
    [ -n "$vm" ] && kill -KILL $vm 2>/dev/null
    sleep 1
    # this silod boots cold (no templates): the overhead is measured on a cold-booted VMM, whose
    # guest pages are all its own (a restored one's come from the template file's page cache)
    sed -i 's/"cmdline": "/"snapshots": false, "cmdline": "/' $d/silod.json
    if [ -n "$u" ] && start_silod; then
        out=$(silo-api invoke "$rt_b" '{"prompt":"jailed"}' --session $sc 2>>$d/cli.err)
        expect_echo "the next silod starts a fresh jailed VMM for that session" "$out"
        grep "silod: session $sc" $d/silod.log | sed 's/^/# /'
        vm2=$(jailed_pids)
        u2=$(status_field ${vm2:-0} Uid 2>/dev/null | cut -d' ' -f1)
        if [ -n "$vm2" ] && [ -n "$u2" ]; then
            measure_overhead $vm2 $CG/vmm-$u2
            [ "$own_mib" -gt 0 ] && [ "$charge_mib" -gt 0 ] && [ "$charge_mib" -lt $OVERHEAD_MIB ] &&
                pass "$T: a cold-booted jailed VMM's charge beyond its guest RAM (${charge_mib} MiB; own resident ${own_mib} MiB) is below jail.vmm_overhead_mib ($OVERHEAD_MIB)" ||
                fail "$T: a cold-booted jailed VMM's overhead: own ${own_mib} MiB, charge beyond guest RAM ${charge_mib} MiB (jail.vmm_overhead_mib $OVERHEAD_MIB)"
        fi
        [ "$u2" = "$u" ] && ! grep -q "jail uid $u skipped" $d/silod.log &&
            pass "$T: the killed silod's leftovers of uid $u (cgroup, root, run directory) were removed and the uid handed out again" ||
            fail "$T: after the restart the VMM runs as uid '$u2' (the killed one had $u); $(grep 'jail uid' $d/silod.log | head -2)"
        kill $silod_pid
        wait $silod_pid
    else
        fail "$T: silod did not start again after SIGKILL"
    fi
else
    fail "$T: silod did not start again after SIGTERM"
fi
[ -z "$(uid_pids)" ] && [ -z "$(ls -d $CG/vmm-* 2>/dev/null)" ] && [ -z "$(ls $d/jail 2>/dev/null)" ] ||
    fail "$T: at the end: processes '$(uid_pids)', cgroups '$(ls -d $CG/vmm-* 2>/dev/null)', $d/jail '$(ls $d/jail 2>/dev/null)'"
rmdir $CG 2>/dev/null
exit 0
