# tools/bench/boot.sh — cold boot: exec -> guest init, and exec -> process exit, for the same
# guest kernel (build/guest/Image) and tiny initramfs, under silo-vmm and under the peers
# (Debian's arm64 QEMU, -accel kvm -M virt; kvmtool's lkvm-static built from its own source by
# tools/kvmtool-peer, when there is one), alternating runs, median of BENCH_RUNS (default 7).
# Also each VMM's max RSS. Runs in the dev host (nested KVM under TCG): only ratios between the
# columns are meaningful, not the absolute figures.
. /silo/tools/bench/common.lib
runs=${BENCH_RUNS:-7}
mem=${BENCH_MEM:-256}
have_silo=0
[ -x /silo/bin/silo-vmm ] && have_silo=1
LKVM=/silo/extra/lkvm-static
have_kvmtool=0
[ -x $LKVM ] && have_kvmtool=1

# kvmtool_boot_tiny MODE MEM CPUS: the same boot under kvmtool (8250 console, no network)
kvmtool_boot_tiny() {
    HOME=/tmp boottime --timeout 120 --marker "init=$TINY_MARKER" -- \
        $LKVM run -k "$GUEST_IMAGE" -i "$TINY_INITRD" -m "$2" -c "$3" --console serial --network mode=none \
        -p "console=ttyS0 panic=-1 quiet silo.tiny=$1"
}
: >/tmp/b.k.init; : >/tmp/b.k.exit; : >/tmp/b.k.rss

: >/tmp/b.q.init; : >/tmp/b.q.exit; : >/tmp/b.q.rss; : >/tmp/b.s.init; : >/tmp/b.s.exit; : >/tmp/b.s.rss; : >/tmp/b.s.marker
i=0
while [ $i -lt "$runs" ]; do
    q=$(qemu_boot_tiny poweroff "$mem" 1)
    [ "$(field status "$q")" = 0 ] || echo "# qemu run $i failed: $q"
    field init_ms "$q" >>/tmp/b.q.init; field exit_ms "$q" >>/tmp/b.q.exit; field maxrss_kib "$q" >>/tmp/b.q.rss
    if [ $have_silo = 1 ]; then
        s=$(silo_boot_tiny poweroff "$mem" 1)
        [ "$(field status "$s")" = 0 ] || echo "# silo-vmm run $i failed: $s"
        field init_ms "$s" >>/tmp/b.s.init; field exit_ms "$s" >>/tmp/b.s.exit; field maxrss_kib "$s" >>/tmp/b.s.rss
        field marker_ms "$s" >>/tmp/b.s.marker
    fi
    if [ $have_kvmtool = 1 ]; then
        k=$(kvmtool_boot_tiny poweroff "$mem" 1)
        [ "$(field status "$k")" = 0 ] || echo "# kvmtool run $i failed: $k"
        field init_ms "$k" >>/tmp/b.k.init; field exit_ms "$k" >>/tmp/b.k.exit; field maxrss_kib "$k" >>/tmp/b.k.rss
    fi
    i=$((i + 1))
done

echo
echo "== boot: same Image + tiny initramfs, 1 vCPU, ${mem} MiB, median of $runs (dev host: nested KVM under TCG)"
header "figure"
row "exec -> init's first console line (ms)" "$(median </tmp/b.s.init)" "$(median </tmp/b.q.init)"
row "exec -> boot-complete marker (ms)" "$(median </tmp/b.s.marker)" "-"
row "exec -> process exit after poweroff (ms)" "$(median </tmp/b.s.exit)" "$(median </tmp/b.q.exit)"
row "max RSS of the VMM process (KiB)" "$(median </tmp/b.s.rss)" "$(median </tmp/b.q.rss)"
[ $have_silo = 1 ] || echo "(silo-vmm is not built yet: only the peer was measured)"
# the second peer, same runs (kvmtool/ours: above 1.00x means silo-vmm is faster)
k3() { printf '%-44s %12s %12s %12s %10s\n' "$1" "$2" "$3" "$4" "$(ratio "$2" "$3")"; }
echo
echo "== boot against kvmtool: the same runs, median of $runs"
printf '%-44s %12s %12s %12s %10s\n' "figure" "silo-vmm" "kvmtool" "QEMU" "kvmtool/ours"
if [ $have_kvmtool = 1 ]; then
    k3 "exec -> init's first console line (ms)" "$(median </tmp/b.s.init)" "$(median </tmp/b.k.init)" "$(median </tmp/b.q.init)"
    k3 "exec -> process exit after poweroff (ms)" "$(median </tmp/b.s.exit)" "$(median </tmp/b.k.exit)" "$(median </tmp/b.q.exit)"
    k3 "max RSS of the VMM process (KiB)" "$(median </tmp/b.s.rss)" "$(median </tmp/b.k.rss)" "$(median </tmp/b.q.rss)"
else
    echo "(kvmtool skipped: build it from a kvmtool checkout with tools/kvmtool-peer SRC, or KVMTOOL_SRC=SRC make bench)"
fi
