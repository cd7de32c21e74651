#!/bin/sh
# tests/frontend/devhost/ws-inside.sh AKID SECRET — owned by tests/host/websocket_devhost.sh; runs
# INSIDE the dev host (busybox sh, in /silo): silod on 0.0.0.0:8080 (forwarded to this machine)
# with the real silo-vmm (every VMM with --verify-wipe) and the TEST image builder that links the
# prebuilt sample images (tests/frontend/devhost/image-builder.sh: a runtime whose containerUri
# ends in ws-agent gets /silo/extra/images/ws-agent.ext4, the WebSocket sample agent on the
# AgentCore TS SDK). Each test opens its own sessions and leaves them idle, so the guest-memory
# budget is above the dev host's RAM on purpose: an idle Node agent touches ~20 MiB of its 512.
# silod's log goes to the console, which the host script reads.
set -u
akid=$1 secret=$2
d=/tmp/ws
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
mkdir -p $d/images $d/sock
console=$(readlink /proc/$$/fd/2)
[ -c "$console" ] || console=/dev/console
cat >$d/silod.json <<JSON
{
  "listen_address": "0.0.0.0", "listen_port": 8080, "allow_plain_http": true,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "ws-test" } ],
  "image_builder": "/silo/tests/frontend/devhost/image-builder.sh",
  "max_sessions": 12, "max_guest_mib": 6144,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 2, "guest_mib": 512, "ready_timeout_ms": 180000, "cmdline": "$cmdline",
           "verify_wipe": true }
}
JSON
silod --config $d/silod.json </dev/null >/dev/null 2>>$console &
pid=$!
wait $pid
echo "ws-inside: silod exited with status $?" >>$console
