#!/bin/sh
# tests/frontend/devhost/identity-inside.sh AKID SECRET ROLE_AKID ROLE_SECRET CALLBACK_URL
#     REACH_ADDR RELAY_PORTS — owned by tests/host/identity_devhost.sh; runs INSIDE the dev host
# (busybox sh, in /silo). It starts silod on 0.0.0.0:8080 (forwarded to this machine) for
# AgentCore Identity, in a world where this machine's test servers are reachable:
#   - REACH_ADDR is the address QEMU forwards to this machine's loopback, on exactly the test
#     servers' ports (the host script's guestfwd rules; nothing else of this machine is
#     reachable); resource.test names it (the agent's resource and API-key service);
#   - RELAY_PORTS (comma-separated): the two OpenID providers, whose URLs are
#     http://127.0.0.1:PORT on this machine. A relay (busybox nc, one child per connection) on
#     the same port here carries 127.0.0.1:PORT to REACH_ADDR:PORT, so silod fetches the very
#     URLs the browser and the tokens' issuers use; jwt_http_allowed_hosts and
#     identity.http_allowed_hosts allow plain http to 127.0.0.1 (test only);
#   - identity.callback_url = CALLBACK_URL (silod's callback as the browser on this machine
#     reaches it, through the forwarded port);
#   - egress: REACH_ADDR/32 allowed (a private address, so PUBLIC runtimes need the rule);
#   - static role credentials for arn:aws:iam::123456789012:role/SiloIdentityAgent, the real
#     silo-vmm, and the TEST image builder that links the prebuilt sample images.
# It sends one request to each provider through its relay first and logs the status line.
# silod's log goes to the console, which the host script reads.
set -u
akid=$1 secret=$2 role_akid=$3 role_secret=$4 callback=$5 reach=$6 relay_ports=$7
d=/tmp/identity
cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 init=/silo/init panic=-1 quiet"
mkdir -p $d/images $d/sock
echo "$reach resource.test" >>/etc/hosts
console=$(readlink /proc/$$/fd/2)
[ -c "$console" ] || console=/dev/console

for p in $(echo "$relay_ports" | tr ',' ' '); do
    nc -ll -p "$p" -e nc "$reach" "$p" </dev/null >/dev/null 2>&1 &
done
sleep 0.5
for p in $(echo "$relay_ports" | tr ',' ' '); do
    got=$(printf 'GET /.well-known/openid-configuration HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$p" |
          timeout 10 nc 127.0.0.1 "$p" 2>&1 | head -1 | tr -d '\r')
    echo "identity-inside: provider 127.0.0.1:$p (relayed to $reach:$p) -> ${got:-no answer}" >>$console
done

cat >$d/silod.json <<JSON
{
  "listen_address": "0.0.0.0", "listen_port": 8080, "allow_plain_http": true,
  "region": "us-east-1", "account_id": "123456789012",
  "database": "$d/silod.db",
  "credentials": [ { "access_key_id": "$akid", "secret_access_key": "$secret", "principal": "identity-test" } ],
  "image_builder": "/silo/tests/frontend/devhost/image-builder.sh",
  "max_sessions": 8, "max_guest_mib": 2048,
  "jwt_http_allowed_hosts": ["127.0.0.1"],
  "identity": { "callback_url": "$callback", "http_allowed_hosts": ["127.0.0.1"], "token_ttl_s": 900 },
  "egress": { "allow_cidrs": ["$reach/32"], "max_connections_per_session": 64,
              "connect_timeout_ms": 5000, "idle_timeout_s": 300 },
  "role_credentials": { "static": { "arn:aws:iam::123456789012:role/SiloIdentityAgent":
                          { "access_key_id": "$role_akid", "secret_access_key": "$role_secret" } },
                        "duration_s": 3600 },
  "vmm": { "path": "/silo/bin/silo-vmm", "kernel": "/silo/guest/Image",
           "rootfs_dir": "$d/images", "socket_dir": "$d/sock",
           "cpus": 2, "guest_mib": 512, "ready_timeout_ms": 180000, "cmdline": "$cmdline",
           "verify_wipe": true }
}
JSON
silod --config $d/silod.json </dev/null >/dev/null 2>>$console &
echo "identity-inside: started silod (pid $!)" >>$console
