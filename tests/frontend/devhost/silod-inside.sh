#!/bin/sh
# tests/frontend/devhost/silod-inside.sh AKID SECRET ROUNDS — runs INSIDE the dev host for
# tests/host/silod_devhost.sh (busybox sh, in /silo): first the direct-vsock cold figure (exec
# silo-vmm with the c-echo image -> first byte of an invocation answer over its vsock socket,
# ROUNDS times), then silod on 0.0.0.0:8080 (forwarded to this machine) with the real silo-vmm
# and the real image builder (silod-build-image; local image store /silo/extra/oci-store,
# absolute paths accepted under /silo/extra/oci; every VMM with --verify-wipe, in silo-jail and a
# cgroup of its own), and the side
# channel (control.sh) on port 9999. Everything it prints goes to the console, which the host
# script reads ("silod-inside: ..." lines, silod's own log and the VMMs' "wipe verified" lines).
set -u
akid=$1 secret=$2 rounds=${3:-3}
d=/tmp/silod
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
mkdir -p $d/images $d/sock

# busybox date has no %N: /proc/uptime, 10 ms steps
now_ms() { read -r up _ </proc/uptime; echo $(( ${up%.*} * 1000 + 1${up#*.} * 10 - 1000 )); }

# exec silo-vmm -> the first bytes of a POST /invocations answer through the hybrid vsock socket
direct_cold() {
    sock=$d/direct.sock
    rm -f $sock
    body='{"prompt":"cold"}'
    t0=$(now_ms)
    silo-vmm --kernel /silo/guest/Image --cmdline "$cmdline" --mem 256M --cpus 1 \
        --disk /silo/extra/images/c-echo.ext4,cow --vsock-cid 3 --vsock-uds $sock >/dev/null 2>&1 &
    vpid=$!
    while [ ! -S $sock ] && kill -0 $vpid 2>/dev/null; do sleep 0.02; done
    first=$(printf 'POST /invocations HTTP/1.1\r\nHost: l\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        ${#body} "$body" | silo-vsock --timeout 120 --retry-ms 120000 uds:$sock:8080 | head -c 15)
    t1=$(now_ms)
    kill $vpid 2>/dev/null; wait $vpid 2>/dev/null
    echo "silod-inside: direct-vsock cold ms=$((t1 - t0)) answer=$(echo "$first" | tr -d '\r\n')"
}
i=0
while [ $i -lt "$rounds" ]; do direct_cold; i=$((i + 1)); done

# every session's VMM in silo-jail and a cgroup of its own (frontend/README.md, "The VMM jail"):
# cgroup v2 with memory/cpu/pids delegated to the children of the root, as an init system would
grep -q " /sys/fs/cgroup cgroup2 " /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup
echo "+memory +cpu +pids" >/sys/fs/cgroup/cgroup.subtree_control

cat >$d/silod.json <<JSON
{
  "listen_address": "0.0.0.0", "listen_port": 8080, "allow_plain_http": true,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "devhost-test" } ],
  "image_builder": "/silo/bin/silod-build-image",
  "image_store": "/silo/extra/oci-store", "image_paths": ["/silo/extra/oci"],
  "max_sessions": 12, "max_guest_mib": 2560,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 1, "guest_mib": 256, "ready_timeout_ms": 120000, "cmdline": "$cmdline",
           "verify_wipe": true },
  "jail": { "dir": "$d/jail", "cgroup_parent": "/sys/fs/cgroup/silo-devhost" }
}
JSON
# how silod is started, now and by control.sh's start-silod (after kill-silod): its log on the console
console=$(readlink /proc/$$/fd/2)
[ -c "$console" ] || console=/dev/console
cat >$d/start-silod.sh <<START
silod --config $d/silod.json </dev/null >/dev/null 2>>$console &
echo \$! >$d/silod.pid
START
sh $d/start-silod.sh
(while true; do nc -l -p 9999 -e sh /silo/tests/frontend/devhost/control.sh; done) &
echo "silod-inside: started silod (pid $(cat $d/silod.pid))"
