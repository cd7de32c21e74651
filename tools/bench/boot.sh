# tools/bench/boot.sh — cold boot: exec -> guest init, and exec -> process exit, for the same
# guest kernel (build/guest/Image) and tiny initramfs, under silo-vmm and under the peer
# (Debian's arm64 QEMU, -accel kvm -M virt), alternating runs, median of BENCH_RUNS (default 7).
# Also each VMM's max RSS. Runs in the dev host (nested KVM under TCG): only ratios between the
# two columns are meaningful, not the absolute figures.
. /silo/tools/bench/common.lib
runs=${BENCH_RUNS:-7}
mem=${BENCH_MEM:-256}
have_silo=0
[ -x /silo/bin/silo-vmm ] && have_silo=1

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
