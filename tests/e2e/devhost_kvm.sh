# tests/e2e/devhost_kvm.sh — the dev host itself works: /dev/kvm is real and usable (the KVM
# smoke test runs guest code), and the peer, Debian's arm64 QEMU with -accel kvm, boots our
# guest kernel + tiny initramfs to init and powers off (the baseline `make bench` compares to).
. /silo/tests/e2e/common.lib

if [ -c /dev/kvm ]; then pass "devhost: /dev/kvm is present"; else fail "devhost: /dev/kvm is missing"; fi
kvm-smoke

out=$(qemu_boot_tiny poweroff)
init_ms=$(field init_ms "$out")
status=$(field status "$out")
if [ "$status" = 0 ] && [ "${init_ms%.*}" -gt 0 ]; then
    pass "devhost: QEMU -accel kvm boots build/guest/Image to init in ${init_ms} ms and exits 0 ($out)"
else
    fail "devhost: QEMU -accel kvm did not boot the guest kernel to init ($out)"
fi
