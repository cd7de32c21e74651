#!/bin/sh
# tests/e2e/progs/make-test-rootfs.sh OUT BINDIR — builds the ext4 root filesystem the device e2e tests
# boot from virtio-blk (on the x86 side, with mkfs.ext4 -d; no root, no loop devices):
#   /sbin/init = blk-guest-init, /bin/vsock-tool, /etc/silo-base.txt, empty /dev /proc /sys /tmp.
# 32 MiB, so it fits the dev host's initramfs; the Makefile puts it in $BUILD/devhost-extra/,
# which the dev host shows as /silo/extra/.
set -eu
out=$1 bindir=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/sbin" "$stage/bin" "$stage/etc" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp"
cp "$bindir/blk-guest-init" "$stage/sbin/init"
cp "$bindir/vsock-tool" "$stage/bin/vsock-tool"
echo "silo test base image" >"$stage/etc/silo-base.txt"
mkdir -p "$(dirname "$out")"
rm -f "$out.tmp"
mkfs.ext4 -q -F -L silo-test -d "$stage" -E root_owner=0:0 "$out.tmp" 32M
mv "$out.tmp" "$out"
