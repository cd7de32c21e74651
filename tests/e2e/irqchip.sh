# tests/e2e/irqchip.sh — the interrupt controller and the CPU features silo-vmm gives the guest,
# beside QEMU's in the same dev host: --irqchip gicv3|gicv2|auto, --cpu-features (SVE and
# pointer authentication where the host has them), --pmu (perf counts cycles in the guest).
# Runs in the usual GICv3 dev host (gicv2 is refused with one clear line there) and again in a
# GICv2 dev host (`tools/devhost run --gic 2`, from tests/run), where the GICv2 path boots.
. /silo/tests/e2e/common.lib
T=$(mktemp -d)
failures=0
check() { if [ "$1" = 0 ]; then pass "irqchip: $2"; else fail "irqchip: $2"; failures=$((failures + 1)); fi; }
show() { sed 's/^/    # /' "$1" | tail -n 12; }

# machine NAME [VMM OPTIONS...]: the tiny init's view of the machine -> $T/NAME.out/.err, $status
machine() {
    name=$1
    shift
    timeout 120 silo-vmm --kernel "$GUEST_IMAGE" --initrd "$TINY_INITRD" --mem 256M \
        --cmdline "console=ttyS0 panic=-1 quiet silo.tiny=machine" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
    status=$?
}
seen() { sed -n "s/^silo-tiny-init: $2 //p" "$T/$1.out" | tr -d '\r' | head -1; }

host_gic=$(grep -o 'GICv[23]\|GIC-0' /proc/interrupts | head -1)
echo "# dev host interrupt controller: $host_gic"
if [ "$host_gic" = GICv3 ]; then
    # --- the usual host: GICv3 --------------------------------------------------------------
    machine auto --verify-wipe
    [ "$status" = 0 ] && [ "$(seen auto gic)" = gicv3 ] && grep -q "wipe verified" "$T/auto.err"
    check $? "default machine: GICv3, boots, powers off, wipe verified"
    [ "$status" = 0 ] || show "$T/auto.err"
    # QEMU -cpu host in the same host, for what a guest expects to see
    timeout 120 qemu-system-aarch64 -M virt,gic-version=3 -accel kvm -cpu host -m 256 -nodefaults -display none \
        -monitor none -serial stdio -no-reboot -kernel "$GUEST_IMAGE" -initrd "$TINY_INITRD" \
        -append "console=ttyAMA0 panic=-1 quiet silo.tiny=machine" >"$T/qemu.out" 2>&1 </dev/null
    echo "# QEMU -cpu host: sve $(seen qemu sve); pauth $(seen qemu pauth); pmu $(seen qemu pmu)"
    echo "# silo-vmm (auto): sve $(seen auto sve); pauth $(seen auto pauth); pmu $(seen auto pmu)"
    [ -n "$(seen qemu sve)" ] && [ "$(seen auto sve)" = "$(seen qemu sve)" ] && [ "$(seen auto pauth)" = "$(seen qemu pauth)" ]
    check $? "SVE and pointer authentication as QEMU -cpu host gives them: sve $(seen auto sve), pauth $(seen auto pauth)"
    case "$(seen auto sve)" in vl=*) r=0 ;; *) r=1 ;; esac
    [ $r = 0 ] && [ "$(seen auto pauth)" = "address generic" ]
    check $? "this host has SVE and PAuth, and the guest sees both (sve $(seen auto sve), pauth $(seen auto pauth))"

    machine none --cpu-features none
    [ "$status" = 0 ] && [ "$(seen none sve)" = none ] && [ -z "$(seen none pauth)" ]
    check $? "--cpu-features none: no SVE, no PAuth (sve $(seen none sve), pauth '$(seen none pauth)')"

    machine pmu --pmu
    cycles=$(seen pmu pmu | sed -n 's/^cycles=\([0-9]*\)$/\1/p')
    [ "$status" = 0 ] && [ -n "$cycles" ] && [ "$cycles" -gt 0 ]
    check $? "--pmu: perf_event_open counts CPU cycles in the guest ($(seen pmu pmu); without --pmu: $(seen auto pmu))"
    [ "$status" = 0 ] || show "$T/pmu.err"

    machine v3 --irqchip gicv3 --cpus 2
    [ "$status" = 0 ] && [ "$(seen v3 gic)" = gicv3 ]
    check $? "--irqchip gicv3 with 2 vCPUs: boots, GICv3"

    machine v2 --irqchip gicv2
    [ "$status" = 1 ] && [ "$(wc -l <"$T/v2.err")" = 1 ] && grep -q "cannot emulate a GICv2" "$T/v2.err"
    check $? "--irqchip gicv2 where KVM has no GICv2 emulation: one line, exit 1: $(cat "$T/v2.err")"

    timeout 10 silo-vmm --kernel "$GUEST_IMAGE" --cpu-features sve,avx >/dev/null 2>"$T/bad.err"
    [ $? = 1 ] && grep -q "'avx' is not sve or pauth" "$T/bad.err"
    check $? "an unknown CPU feature is one line: $(cat "$T/bad.err")"
else
    # --- a GICv2 host (tools/devhost --gic 2) ------------------------------------------------
    machine auto --verify-wipe
    [ "$status" = 0 ] && [ "$(seen auto gic)" = gicv2 ] && grep -q "wipe verified" "$T/auto.err"
    check $? "GICv2 host, default: silo-vmm falls back to a vGICv2, the guest boots on it and powers off, wipe verified"
    [ "$status" = 0 ] || show "$T/auto.err"
    machine v2 --irqchip gicv2 --cpus 2
    [ "$status" = 0 ] && [ "$(seen v2 gic)" = gicv2 ]
    check $? "--irqchip gicv2 with 2 vCPUs: boots (status $status), GICv2"
    timeout 120 silo-vmm --kernel "$GUEST_IMAGE" --initrd "$TINY_INITRD" --mem 256M --cpus 2 --irqchip gicv2 \
        --cmdline "console=ttyS0 panic=-1 quiet silo.tiny=cpus" >"$T/cpus.out" 2>"$T/cpus.err" </dev/null
    [ "$(seen cpus cpus)" = 2 ]
    check $? "GICv2, 2 vCPUs: both online in the guest (PSCI CPU_ON, SGIs through the GICv2)"
    machine v3 --irqchip gicv3
    [ "$status" = 1 ] && [ "$(wc -l <"$T/v3.err")" = 1 ] && grep -q "cannot create a vGICv3" "$T/v3.err"
    check $? "--irqchip gicv3 on a GICv2 host: one line, exit 1: $(cat "$T/v3.err")"
    machine nine --irqchip gicv2 --cpus 9
    [ "$status" = 1 ] && grep -q "at most 8 vCPUs\|KVM allows 8" "$T/nine.err"
    check $? "GICv2 with 9 vCPUs refused: $(grep -v warning "$T/nine.err")"
fi
rm -rf "$T"
[ "$failures" = 0 ]
