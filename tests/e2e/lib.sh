# tests/e2e/lib.sh — helpers shared by the end-to-end scripts (sourced, busybox sh).

pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; }

# field NAME "boottime: a_ms=1 status=0 ..." -> the value of NAME
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

GUEST_IMAGE=/silo/guest/Image
TINY_INITRD=/silo/guest/tiny-initrd.cpio
TINY_MARKER="silo-tiny-init: reached"

# qemu_boot_tiny MODE [MEM_MIB] [CPUS]: boot the tiny initramfs under the peer (QEMU, KVM),
# print the boottime line (init_ms = exec -> init's first line, exit_ms = exec -> exit).
qemu_boot_tiny() {
    boottime --timeout 120 --marker "init=$TINY_MARKER" -- \
        qemu-system-aarch64 -M virt,gic-version=3 -accel kvm -cpu host -smp "${3:-1}" -m "${2:-256}" \
        -nodefaults -display none -monitor none -serial stdio -no-reboot \
        -kernel "$GUEST_IMAGE" -initrd "$TINY_INITRD" \
        -append "console=ttyAMA0 panic=-1 quiet silo.tiny=$1"
}

# silo_boot_tiny MODE [MEM_MIB] [CPUS] [EXTRA VMM ARGS...]: the same boot under silo-vmm.
silo_boot_tiny() {
    mode=$1; mem=${2:-256}; cpus=${3:-1}
    shift 3 2>/dev/null || shift $#
    boottime --timeout 120 --marker "init=$TINY_MARKER" --marker "marker=boot-complete marker" -- \
        silo-vmm --kernel "$GUEST_IMAGE" --initrd "$TINY_INITRD" --mem "${mem}M" --cpus "$cpus" \
        --cmdline "console=ttyS0 panic=-1 quiet silo.tiny=$mode" "$@"
}
