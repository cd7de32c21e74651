# tools/bench/snapshot.sh — warm starts (issue #15): a cold session of the C and the Node SDK
# sample agents, exec -> the first bytes of a POST /invocations answer over the microVM's vsock,
# three ways in the same run, alternating, median of BENCH_SNAPSHOT_RUNS (default 3):
#   restore   silo-vmm --restore of the version's template (taken once, below, after /ping
#             answered 200 and before any invocation), then agentd's RESTORED (seed + clock) when
#             the image's agentd speaks it, then the invocation
#   boot      silo-vmm booting the same image (the cold path every session took before)
#   QEMU      qemu-system-aarch64 -accel kvm booting the same image (the peer)
# Also: silo-vmm's own restore time (exec -> vCPUs running, from -v), the template's size and
# the time to take it, and the guest memory a restored session touched (what its wipe zeroed).
# In the dev host (nested KVM under TCG) only ratios carry over to hardware.
. /silo/tools/bench/common.lib
runs=${BENCH_SNAPSHOT_RUNS:-3}
mib=${BENCH_SNAPSHOT_MIB:-512}
d=/tmp/bench-snapshot
rm -rf $d
mkdir -p $d
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
body='{"prompt":"cold"}'
now_ms() { read -r up _ </proc/uptime; echo $(( ${up%.*} * 1000 + 1${up#*.} * 10 - 1000 )); }
invoke() { # TARGET: the first bytes of the answer to one POST /invocations; retried (up to
    # 300 s) while the guest has no answer yet: agentd holds an early connection only 60 s
    # for the agent, and a Node agent booting in the dev host can take longer
    deadline=$(($(now_ms) + 300000))
    while :; do
        a=$(printf 'POST /invocations HTTP/1.1\r\nHost: l\r\nConnection: close\r\nContent-Type: application/json\r\nX-Amzn-Bedrock-AgentCore-Runtime-Session-Id: %s\r\nContent-Length: %d\r\n\r\n%s' \
            bench-session-0123456789abcdef0123456789abcdef ${#body} "$body" | silo-vsock --timeout 120 --retry-ms 120000 "$1" | head -c 12)
        [ -n "$a" ] || [ "$(now_ms)" -ge $deadline ] && break
        sleep 0.05
    done
    echo "$a"
}
restored() { # SOCKET: agentd's RESTORED; prints its answer (nothing when the agentd predates it)
    seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf 'RESTORED seed=%s time=%s.000000000\n' "$seed" "$(date +%s)" | silo-vsock --timeout 10 --retry-ms 10000 "uds:$1:1024" | head -1
}

# template NAME: boots the image with --snapshot-to, waits for /ping 200, snapshots. 0 when made.
template() {
    name=$1 sock=$d/$1.t.sock snap=$d/$1.snap
    t0=$(now_ms)
    silo-vmm --kernel /silo/guest/Image --cmdline "$cmdline" --mem ${mib}M --cpus 1 \
        --disk /silo/extra/images/$name.ext4,cow --vsock-cid 3 --vsock-uds $sock --snapshot-to $snap \
        >$d/$name.t.out 2>$d/$name.t.err </dev/null &
    vpid=$!
    i=0
    while [ $i -lt 1200 ]; do
        printf 'GET /ping HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n' |
            silo-vsock --timeout 10 "uds:$sock:8080" 2>/dev/null | head -1 | grep -q " 200" && break
        kill -0 $vpid 2>/dev/null || break
        sleep 0.2
        i=$((i + 1))
    done
    ready=$(($(now_ms) - t0))
    kill -USR2 $vpid
    wait $vpid
    st=$?
    if [ $st != 0 ] || [ ! -s $snap/state ]; then
        echo "# snapshot bench: no template for $name (status $st): $(tail -2 $d/$name.t.err)"
        return 1
    fi
    eval "ready_$2=$ready"
    echo "# snapshot bench: $name template taken (agent ready at $ready ms)" >&2
    eval "snap_ms_$2=\$(sed -n 's/.* in \([0-9]*\) ms$/\1/p' $d/$name.t.err)"
    eval "snap_kib_$2=\$(du -k $snap/memory | cut -f1)"
}

# finish PID KIND NAME KEY: stops the VM, then records exec -> first bytes ($t0, $t1) in
# $d/KEY.KIND when the answer ($first) was a 200, and says so
finish() {
    kill -TERM $1 2>/dev/null; wait $1 2>/dev/null
    case "$first" in "HTTP/1.1 200") echo $((t1 - t0)) >>$d/$4.$2 ;; *) echo "# $2 $3: answer '$first'" >&2 ;; esac
    echo "# snapshot bench: $3 $2: $((t1 - t0)) ms" >&2
}

one_restore() { # NAME KEY
    sock=$d/$1.r.sock
    rm -f $sock
    t0=$(now_ms)
    silo-vmm --restore $d/$1.snap --vsock-uds $sock -v >/dev/null 2>$d/$1.r.err </dev/null &
    vpid=$!
    r=$(restored $sock)
    first=$(invoke "uds:$sock:8080")
    t1=$(now_ms)
    finish $vpid restore $1 $2
    echo "# snapshot bench: $1 RESTORED: ${r:-no answer}" >&2
    case "$r" in "OK RESTORED"*) echo yes >$d/$2.reseeded ;; esac
    sed -n 's/.*restored: vCPUs running at \([0-9]*\) us.*/\1/p' $d/$1.r.err >>$d/$2.vmm_us
    sed -n 's/.*wiped \([0-9]*\) KiB of touched memory.*/\1/p' $d/$1.r.err >>$d/$2.touched
}

one_boot() { # NAME KEY
    sock=$d/$1.b.sock
    rm -f $sock
    t0=$(now_ms)
    silo-vmm --kernel /silo/guest/Image --cmdline "$cmdline" --mem ${mib}M --cpus 1 \
        --disk /silo/extra/images/$1.ext4,cow --vsock-cid 3 --vsock-uds $sock >/dev/null 2>&1 </dev/null &
    vpid=$!
    first=$(invoke "uds:$sock:8080")
    t1=$(now_ms)
    finish $vpid boot $1 $2
}

one_qemu() { # NAME KEY
    t0=$(now_ms)
    qemu-system-aarch64 -M virt,gic-version=3 -accel kvm -cpu host -smp 1 -m $mib \
        -nodefaults -display none -monitor none -serial null -no-reboot -kernel /silo/guest/Image \
        -drive "file=/silo/extra/images/$1.ext4,if=none,id=root,format=raw,snapshot=on" \
        -device virtio-blk-device,drive=root -device vhost-vsock-device,guest-cid=3 \
        -append "console=ttyAMA0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet" &
    qpid=$!
    first=$(invoke "vsock:3:8080")
    t1=$(now_ms)
    finish $qpid qemu $1 $2
}

for pair in c-echo:c node-sdk:node; do
    name=${pair%%:*} key=${pair#*:}
    [ -s /silo/extra/images/$name.ext4 ] || { echo "# snapshot bench: no image $name"; continue; }
    template $name $key || continue
    i=0
    while [ $i -lt "$runs" ]; do
        one_restore $name $key
        one_boot $name $key
        one_qemu $name $key
        i=$((i + 1))
    done
done

echo
echo "== snapshots: exec -> first bytes of a cold invocation, 1 vCPU, $mib MiB, median of $runs (dev host)"
printf '%-34s %10s %10s %10s %12s %12s\n' "agent" "restore" "boot" "QEMU boot" "boot/restore" "QEMU/restore"
for key in c node; do
    r=$(cat $d/$key.restore 2>/dev/null | median) b=$(cat $d/$key.boot 2>/dev/null | median) q=$(cat $d/$key.qemu 2>/dev/null | median)
    label="C sample agent (ms)"
    [ $key = node ] && label="Node AgentCore SDK agent (ms)"
    printf '%-34s %10s %10s %10s %12s %12s\n' "$label" "${r:--}" "${b:--}" "${q:--}" "$(ratio "$r" "$b")" "$(ratio "$r" "$q")"
done
for key in c node; do
    [ -s $d/$key.vmm_us ] || continue
    eval "ready=\$ready_$key sms=\$snap_ms_$key skib=\$snap_kib_$key"
    echo "  $key: silo-vmm restore exec -> vCPUs running $(median <$d/$key.vmm_us) us;" \
        "a restored session touched $(median <$d/$key.touched) KiB of guest memory;" \
        "template: agent ready at $ready ms, snapshot $sms ms, $skib KiB memory file;" \
        "RESTORED: $( [ -s $d/$key.reseeded ] && echo sent || echo 'not spoken by this agentd')"
done
