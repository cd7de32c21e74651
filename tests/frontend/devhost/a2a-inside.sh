#!/bin/sh
# tests/frontend/devhost/a2a-inside.sh AKID SECRET — runs INSIDE the dev host for
# tests/host/a2a_devhost.sh (busybox sh, in /silo): silod on 0.0.0.0:8080 (forwarded to this
# machine) with the real silo-vmm and the REAL image builder (silod-build-image: the sample A2A
# agent's OCI archive, made by `make devhost-a2a-images`, is built with the version's
# environment and boot-checked by A2A readiness, GET /.well-known/agent-card.json on port 9000).
# Templates are off (vmm.snapshots false): every session boots its own agent process, whose
# random instance id then tells microVMs apart. silod's log goes to the console, which the host
# script reads.
set -u
akid=$1 secret=$2
d=/tmp/a2a
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
mkdir -p $d/images $d/sock
cat >$d/silod.json <<JSON
{
  "listen_address": "0.0.0.0", "listen_port": 8080, "allow_plain_http": true,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "a2a-test" } ],
  "image_builder": "/silo/bin/silod-build-image",
  "image_store": "/silo/extra/oci-store",
  "max_sessions": 4, "max_guest_mib": 2048,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 2, "guest_mib": 512, "ready_timeout_ms": 180000, "cmdline": "$cmdline",
           "verify_wipe": true, "snapshots": false }
}
JSON
console=$(readlink /proc/$$/fd/2)
[ -c "$console" ] || console=/dev/console
silod --config $d/silod.json </dev/null >/dev/null 2>>$console &
echo "a2a-inside: started silod (pid $!)"
