#!/bin/sh
# tests/e2e/dev_blk.sh — virtio-blk on real KVM (inside the dev host): the guest kernel mounts an
# ext4 root from virtio-blk and runs init from it; with `,cow` what a session writes is visible
# inside it and gone in the next one, and the base image's checksum never changes; `,ro` disks
# refuse writes; a plain writable disk keeps them. Also prints the sequential read figure.
TEST=dev_blk
. "$(dirname "$0")/dev.lib"
T=$(mktemp -d /tmp/dev_blk.XXXXXX)
need_files

sum_before=$(sha256sum "$ROOT" | cut -d' ' -f1)

# --- session 1 on a copy-on-write layer -----------------------------------------------------
boot s1 "rw silo.test=session" --disk "$ROOT,cow"
check $(( status != 0 )) "cow session 1: guest boots from the ext4 root on virtio-blk and powers off (status $status)"
has "$T/s1.out" "blk-guest-init: mode session"
check $? "cow session 1: init ran from the virtio-blk root"
has "$T/s1.out" "root is read-write"
check $? "cow session 1: root mounted read-write over a read-only base"
has "$T/s1.out" "base file: silo test base image"
check $? "cow session 1: base image content visible"
has "$T/s1.out" "session file absent (fresh layer)" && has "$T/s1.out" "session file written and read back"
check $? "cow session 1: fresh layer; a write is visible inside the session"
has "$T/s1.out" "4 MiB file written, dropped from cache, read back: ok"
check $? "cow session 1: 4 MiB written, evicted from the page cache, read back intact"
[ "$failures" = 0 ] || { show "$T/s1.out"; show "$T/s1.err"; }

# --- session 2: nothing of session 1 survives -----------------------------------------------
boot s2 "rw silo.test=session" --disk "$ROOT,cow"
has "$T/s2.out" "session file absent (fresh layer)" && ! has "$T/s2.out" "PRESENT"
check $? "cow session 2: what session 1 wrote is gone"
sum_after=$(sha256sum "$ROOT" | cut -d' ' -f1)
[ "$sum_before" = "$sum_after" ]
check $? "base image sha256 unchanged after two writable sessions ($sum_after)"

# --- read-only disk -------------------------------------------------------------------------
boot ro "ro silo.test=ro" --disk "$ROOT,ro"
has "$T/ro.out" "root is read-only" && has "$T/ro.out" "write refused" && has "$T/ro.out" "raw device write refused"
check $? "ro disk: root read-only, file and raw-device writes refused"
[ "$failures" = 0 ] || show "$T/ro.out"

# --- plain writable disk: writes persist (on a private copy) --------------------------------
cp "$ROOT" "$T/copy.ext4" && chmod 0666 "$T/copy.ext4"   # writable by a jailed VMM's uid
boot p1 "rw silo.test=session" --disk "$T/copy.ext4"
boot p2 "rw silo.test=session" --disk "$T/copy.ext4"
has "$T/p2.out" "session file PRESENT from an earlier session"
check $? "raw writable disk: session 2 sees session 1's file (writes reach the image)"
[ "$(sha256sum "$ROOT" | cut -d' ' -f1)" = "$sum_before" ]
check $? "base image still unchanged"

# --- sequential read figure -----------------------------------------------------------------
boot rb "ro silo.test=readbench" --disk "$ROOT,ro"
line=$(grep "readbench: pass=1" "$T/rb.out")
[ -n "$line" ] && ! echo "$line" | grep -q "cannot"
check $? "sequential read of the whole disk completes"
echo "# figure: blk $(echo "$line" | sed 's/.*readbench: //')"

rm -rf "$T"
exit 0
