#!/bin/sh
# tests/e2e/dev_rng.sh — virtio-rng on real KVM: the guest sees the device as its hwrng and
# /dev/hwrng produces bytes.
TEST=dev_rng
. "$(dirname "$0")/dev.lib"
T=$(mktemp -d /tmp/dev_rng.XXXXXX)
need_files
boot rng "ro silo.test=rng" --disk "$ROOT,ro" --rng
line=$(grep "hwrng:" "$T/rng.out")
echo "$line" | grep -q "rng_current=virtio_rng"
check $? "guest's hwrng is virtio_rng (${line#*hwrng: })"
n=$(echo "$line" | sed -n 's/.*read \([0-9]*\) bytes, \([0-9]*\) distinct.*/\1 \2/p')
set -- $n
[ "${1:-0}" = 256 ] && [ "${2:-0}" -gt 120 ]
check $? "/dev/hwrng gave 256 bytes with ${2:-0} distinct values"
[ "$failures" = 0 ] || { show "$T/rng.out"; show "$T/rng.err"; }
rm -rf "$T"
exit 0
