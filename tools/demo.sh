# tools/demo.sh — what `make demo` shows (inside the dev host, busybox sh): our guest kernel and
# the tiny init booted under silo-vmm with its console on screen, then the same under the peer
# (QEMU -accel kvm), each timed exec -> exit.
. /silo/tests/e2e/common.lib
if [ -x /silo/bin/silo-vmm ]; then
    echo "--- silo-vmm --kernel /silo/guest/Image --initrd /silo/guest/tiny-initrd.cpio --mem 256M --cpus 2"
    boottime --echo --marker "init=$TINY_MARKER" -- silo-vmm --kernel "$GUEST_IMAGE" --initrd "$TINY_INITRD" \
        --mem 256M --cpus 2 --cmdline "console=ttyS0 earlycon=uart,mmio,0x01000000 panic=-1 silo.tiny=cpus"
fi
echo "--- qemu-system-aarch64 -M virt -accel kvm -kernel /silo/guest/Image -initrd /silo/guest/tiny-initrd.cpio"
boottime --echo --marker "init=$TINY_MARKER" -- qemu-system-aarch64 -M virt,gic-version=3 -accel kvm -cpu host \
    -smp 2 -m 256 -nodefaults -display none -monitor none -serial stdio -no-reboot \
    -kernel "$GUEST_IMAGE" -initrd "$TINY_INITRD" -append "console=ttyAMA0 panic=-1 silo.tiny=cpus"
