# tools/bench/vmm_teardown.sh — teardown cost vs guest size, and VMM memory beyond guest RAM.
#
# A raw bare-metal payload (no kernel) writes exactly 16 MiB and powers off through PSCI
# SYSTEM_OFF, in a 1 GiB and a 4 GiB guest, under silo-vmm and under the peer (QEMU -accel kvm,
# same payload as its -kernel). For silo-vmm we also report its own wipe and munmap times
# (-v, copied out by boottime --echo): the wipe must follow the 16 MiB touched, not the guest
# size. (The peer's 4 GiB run may fail: QEMU's RAM is not MAP_NORESERVE, and the dev host has
# 3 GiB; then its column shows "-".) Then the VMM's RSS beyond
# guest RAM after a tiny-initramfs boot (silo-vmm -v measures RSS minus resident guest pages
# right before the wipe). Dev host = nested KVM under TCG: compare columns, not absolutes.
. /silo/tools/bench/common.lib
runs=${BENCH_RUNS:-5}
payload=/tmp/touch16.bin
# adrp x1, .+2M; mov x2, #4096; mov x3, #0x5a; 1: str x3, [x1]; add x1, x1, #4096;
# subs x2, x2, #1; b.ne 1b; mov x0, #0x84000008 (PSCI SYSTEM_OFF); hvc #0; b .
printf '\001\020\000\220\002\000\202\322\103\013\200\322\043\000\000\371\041\004\100\221\102\004\000\361\241\377\377\124\000\001\200\322\000\200\260\362\002\000\000\324\000\000\000\024' >$payload

echo
echo "== teardown: raw payload touching 16 MiB then SYSTEM_OFF, median of $runs (dev host: nested KVM under TCG)"
header "figure"
for size in 1024 4096; do
    : >/tmp/t.s.exit; : >/tmp/t.q.exit; : >/tmp/t.s.wipe; : >/tmp/t.s.unmap; : >/tmp/t.s.kib
    i=0
    while [ $i -lt "$runs" ]; do
        s=$(boottime --timeout 120 --echo -- silo-vmm --kernel $payload --mem "${size}M" --console none -v 2>/tmp/t.err)
        [ "$(field status "$s")" = 0 ] && field exit_ms "$s" >>/tmp/t.s.exit
        line=$(grep "silo-vmm: wiped" /tmp/t.err)
        echo "$line" | sed -n 's/.* in \([0-9]*\) us,.*/\1/p' >>/tmp/t.s.wipe
        echo "$line" | sed -n 's/.*munmap \([0-9]*\) us/\1/p' >>/tmp/t.s.unmap
        echo "$line" | sed -n 's/.*wiped \([0-9]*\) KiB.*/\1/p' >>/tmp/t.s.kib
        q=$(boottime --timeout 120 -- qemu-system-aarch64 -M virt,gic-version=3 -accel kvm -cpu host -m "$size" \
            -nodefaults -display none -monitor none -serial none -no-reboot -kernel $payload 2>/dev/null)
        [ "$(field status "$q")" = 0 ] && field exit_ms "$q" >>/tmp/t.q.exit
        i=$((i + 1))
    done
    row "$size MiB guest: exec -> process exit (ms)" "$(median </tmp/t.s.exit)" "$(median </tmp/t.q.exit)"
    row "$size MiB guest: silo-vmm wipe (us)" "$(median </tmp/t.s.wipe)" "-"
    row "$size MiB guest: silo-vmm munmap (us)" "$(median </tmp/t.s.unmap)" "-"
    row "$size MiB guest: KiB wiped (16384 written)" "$(median </tmp/t.s.kib)" "-"
done

: >/tmp/t.s.rss
i=0
while [ $i -lt "$runs" ]; do
    silo-vmm -v --kernel "$GUEST_IMAGE" --initrd "$TINY_INITRD" --mem 256M --console none \
        --cmdline "console=ttyS0 panic=-1 quiet silo.tiny=poweroff" 2>&1 >/dev/null |
        sed -n 's/.*+ VMM \([0-9-]*\) KiB.*/\1/p' >>/tmp/t.s.rss
    i=$((i + 1))
done
row "VMM RSS beyond guest RAM, tiny boot (KiB)" "$(median </tmp/t.s.rss)" "-"
