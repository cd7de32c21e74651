#!/bin/sh
# tools/up/up-inside.sh AKID SECRET — the dev host side of `silo up` (tools/up/silo-up), run
# INSIDE the dev host (busybox sh): starts silod on 0.0.0.0:8080 (forwarded to this machine's
# 127.0.0.1) with the real silo-vmm and the real image builder, whose local image store holds
# the sample agent as an OCI archive and takes uploads (`silo deploy`, POST /silo/images; in the
# dev host's RAM, at most 512 MiB each); and a one-verb side channel on port 9999 ("stop": SIGTERM
# silod, which drains and stops every microVM, then answers "stopped"). The host side creates
# the sample runtime through the API once silod listens.
set -u
akid=$1 secret=$2
d=/tmp/silo-up
stop_verb() {
    read -r verb
    [ "$verb" = stop ] || { echo "unknown verb"; return; }
    kill -TERM "$(cat $d/silod.pid)"
    i=0
    while kill -0 "$(cat $d/silod.pid)" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$(cat $d/silod.pid)" 2>/dev/null; then echo running; else echo stopped; fi
}
if [ "${SILO_UP_SIDE:-}" = 1 ]; then stop_verb; exit 0; fi
mkdir -p $d/images $d/sock
# HTTPS when silo up was given a certificate (it put it into the payload); otherwise plain HTTP,
# allowed on 0.0.0.0 because QEMU forwards the port from the machine's 127.0.0.1 only
tls=
[ -f /silo/extra/up-tls/silod.pem ] && tls='"tls_cert_file": "/silo/extra/up-tls/silod.pem", "tls_key_file": "/silo/extra/up-tls/silod.key",'
cat >$d/silod.json <<JSON
{
  "listen_address": "0.0.0.0", "listen_port": 8080, "allow_plain_http": true, $tls
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "silo-up" } ],
  "image_builder": "/silo/bin/silod-build-image",
  "image_store": "/silo/extra/oci-store", "image_upload_max_mib": 512,
  "max_sessions": 8, "max_guest_mib": 2048,
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 1, "guest_mib": 256, "ready_timeout_ms": 120000 }
}
JSON
silod --config $d/silod.json &
pid=$!
echo $pid >$d/silod.pid
echo "silo-up-inside: silod started (pid $pid)"
(while true; do SILO_UP_SIDE=1 nc -l -p 9999 -e sh "$0" "$akid" "$secret"; done) &
wait $pid
echo "silo-up-inside: silod exited with status $?"
