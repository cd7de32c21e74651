#!/bin/sh
# tests/frontend/devhost/egress-inside.sh AKID SECRET ROLE_AKID ROLE_SECRET — runs INSIDE the dev
# host for tests/host/egress_devhost.sh (busybox sh, in /silo). It builds the little world an
# agent's egress reaches, all inside the dev host:
#   - the STAND-IN model server (silo-model-standin: HTTPS on 443 for api.model.test with the
#     test-only CA in tests/frontend/devhost/standin-tls, plain HTTP on 8081), reached at
#     198.51.100.7 (api.model.test, allowed by domain suffix), 10.99.0.1 (a private service,
#     allowed by CIDR) and 10.99.0.2 (private, not allowed); loopback.test names 127.0.0.1;
#   - silod on 0.0.0.0:8080 (forwarded to this machine) with the egress policy below, static
#     role credentials for arn:aws:iam::123456789012:role/SiloEgressAgent, the real silo-vmm,
#     and the TEST image builder that links the prebuilt sample images (image-builder.sh).
# silod's and the stand-in's logs go to the console, which the host script reads.
set -u
akid=$1 secret=$2 role_akid=$3 role_secret=$4
d=/tmp/egress
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
mkdir -p $d/images $d/sock

for a in 198.51.100.7 10.99.0.1 10.99.0.2; do ip addr add $a/32 dev lo; done
cat >>/etc/hosts <<HOSTS
198.51.100.7 api.model.test
127.0.0.1 loopback.test
HOSTS
console=$(readlink /proc/$$/fd/2)
[ -c "$console" ] || console=/dev/console
tls=/silo/tests/frontend/devhost/standin-tls
silo-model-standin --tls-port 443 --cert $tls/server.pem --key $tls/server.key --http-port 8081 \
    </dev/null >/dev/null 2>>$console &

cat >$d/silod.json <<JSON
{
  "listen_address": "0.0.0.0", "listen_port": 8080, "allow_plain_http": true,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "egress-test" } ],
  "image_builder": "/silo/tests/frontend/devhost/image-builder.sh",
  "max_sessions": 8, "max_guest_mib": 2048,
  "egress": { "allow_cidrs": ["10.99.0.1/32"], "allow_domains": ["model.test"],
              "max_connections_per_session": 128, "connect_timeout_ms": 5000, "idle_timeout_s": 300 },
  "role_credentials": { "static": { "arn:aws:iam::123456789012:role/SiloEgressAgent":
                          { "access_key_id": "$role_akid", "secret_access_key": "$role_secret" } },
                        "duration_s": 3600 },
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 2, "guest_mib": 512, "ready_timeout_ms": 180000, "cmdline": "$cmdline",
           "verify_wipe": true }
}
JSON
silod --config $d/silod.json </dev/null >/dev/null 2>>$console &
echo "egress-inside: started silod (pid $!) and the stand-in model server"
