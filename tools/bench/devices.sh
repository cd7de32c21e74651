# tools/bench/devices.sh — virtio device figures, ours beside QEMU's, in the same dev host run:
# virtio-blk sequential read of the 32 MiB test root (read-only raw image; QEMU: virtio-blk-device,
# raw, readonly), vsock throughput both ways and small-message round trip (ours: the hybrid
# Unix-socket vsock; QEMU: vhost-vsock-device, driven over AF_VSOCK in the dev host). Guest side:
# /silo/extra/silo-test-root.ext4 (PID 1 blk-guest-init, vsock-tool). Median of BENCH_RUNS.
# Dev host = nested KVM under TCG: compare columns, not absolutes.
. /silo/tools/bench/common.lib
runs=${BENCH_RUNS:-3}
bytes=${BENCH_VSOCK_BYTES:-20971520}
R=/silo/extra/silo-test-root.ext4
K=/silo/guest/Image
C="reboot=k panic=-1 quiet root=/dev/vda rootfstype=ext4"
q_common="-M virt,gic-version=3 -accel kvm -cpu host -m 256 -nodefaults -display none -monitor none -no-reboot"

# readbench prints one line per pass; pass 1 also pays for the host faulting in fresh guest
# pages (a property of guest RAM backing, not of the device), passes 2-3 reuse them.
pass_mbps() { sed -n "s/.*pass=$1 .*MBps=\([0-9.]*\).*/\1/p"; }
echo
echo "== devices: virtio-blk and virtio-vsock, median of $runs (dev host: nested KVM under TCG)"
header "figure"
: >/tmp/d.s.blk1; : >/tmp/d.q.blk1; : >/tmp/d.s.blk3; : >/tmp/d.q.blk3
i=0
while [ $i -lt "$runs" ]; do
    timeout 300 silo-vmm --kernel $K --mem 256M --cpus 1 --disk $R,ro \
        --cmdline "console=ttyS0 $C ro silo.test=readbench silo.passes=3" >/tmp/d.s.out 2>/dev/null
    timeout 300 qemu-system-aarch64 $q_common -smp 1 -serial stdio -kernel $K \
        -append "console=ttyAMA0 $C ro silo.test=readbench silo.passes=3" \
        -drive file=$R,if=none,format=raw,id=d,readonly=on -device virtio-blk-device,drive=d >/tmp/d.q.out 2>/dev/null
    pass_mbps 1 </tmp/d.s.out >>/tmp/d.s.blk1
    pass_mbps 1 </tmp/d.q.out >>/tmp/d.q.blk1
    pass_mbps 3 </tmp/d.s.out >>/tmp/d.s.blk3
    pass_mbps 3 </tmp/d.q.out >>/tmp/d.q.blk3
    i=$((i + 1))
done
row "blk seq read 32 MiB, cold guest pages, MB/s" "$(median </tmp/d.s.blk1)" "$(median </tmp/d.q.blk1)"
row "blk seq read 32 MiB, warm (3rd pass), MB/s" "$(median </tmp/d.s.blk3)" "$(median </tmp/d.q.blk3)"

# vsock: one VM each, `runs` rounds of each measurement inside it
: >/tmp/d.s.h2g; : >/tmp/d.s.g2h; : >/tmp/d.s.rtt; : >/tmp/d.q.h2g; : >/tmp/d.q.g2h; : >/tmp/d.q.rtt
measure() { # TARGET-PREFIX OUT-PREFIX
    vsock-tool --retry-ms 180000 ping "${1}1234" 20 >/dev/null 2>&1
    i=0
    while [ $i -lt "$runs" ]; do
        vsock-tool send "${1}5000" "$bytes" | sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p' >>"$2.h2g"
        vsock-tool recv "${1}5001" | sed -n 's/.*s, \([0-9.]*\) MB\/s).*/\1/p' >>"$2.g2h"
        vsock-tool ping "${1}1234" 200 | sed -n 's/.*avg \([0-9.]*\) us.*/\1/p' >>"$2.rtt"
        i=$((i + 1))
    done
}
U=/tmp/bench-v.sock
silo-vmm --kernel $K --mem 256M --cpus 2 --disk $R,cow --vsock-cid 3 --vsock-uds $U \
    --cmdline "console=ttyS0 $C rw silo.test=vsock silo.bytes=$bytes" >/dev/null 2>&1 </dev/null &
vm=$!
measure "uds:$U:" /tmp/d.s
kill $vm 2>/dev/null; wait $vm 2>/dev/null
qemu-system-aarch64 $q_common -smp 2 -serial null -kernel $K \
    -append "console=ttyAMA0 $C rw silo.test=vsock silo.bytes=$bytes" \
    -drive file=$R,if=none,format=raw,id=d,snapshot=on -device virtio-blk-device,drive=d \
    -device vhost-vsock-device,guest-cid=3 >/dev/null 2>&1 </dev/null &
vm=$!
measure "vsock:3:" /tmp/d.q
kill $vm 2>/dev/null; wait $vm 2>/dev/null
row "vsock host->guest $((bytes / 1048576)) MiB, MB/s" "$(median </tmp/d.s.h2g)" "$(median </tmp/d.q.h2g)"
row "vsock guest->host $((bytes / 1048576)) MiB, MB/s" "$(median </tmp/d.s.g2h)" "$(median </tmp/d.q.g2h)"
row "vsock 64-byte round trip, us" "$(median </tmp/d.s.rtt)" "$(median </tmp/d.q.rtt)"
