#!/usr/bin/env bash
# tests/host/devhost_network.sh — runs on this machine: the dev host's network is what
# tools/devhost promises. A port forwarded with --forward reaches a server inside, and the
# guest cannot open a connection out: not even to a server listening on this machine's
# loopback (QEMU user networking with restrict=on maps it to 10.0.2.2).
set -uo pipefail
cd "$(dirname "$0")/../.."
port_in=$((20000 + RANDOM % 10000)); port_out=$((30000 + RANDOM % 10000))
dir=$(mktemp -d)
trap 'kill $listener $devhost 2>/dev/null; rm -rf "$dir"' EXIT

echo "host-secret" >"$dir/index.html"
python3 -m http.server "$port_out" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
listener=$!

inside="echo inside-ok > /tmp/index.html; httpd -p 8080 -h /tmp;
if wget -T 5 -q -O- http://10.0.2.2:$port_out/index.html; then echo OUTBOUND-REACHED; else echo outbound-blocked; fi;
sleep 12"
tools/devhost run --timeout 120 --forward "$port_in:8080" -- "$inside" >"$dir/out" 2>&1 &
devhost=$!

got=""
for _ in $(seq 1 60); do
    got=$(curl -s --max-time 2 "http://127.0.0.1:$port_in/index.html" || true)
    [ -n "$got" ] && break
    sleep 1
done
if [ "$got" = "inside-ok" ]; then
    echo "ok - devhost network: --forward reaches a server inside the dev host"
else
    echo "not ok - devhost network: --forward did not reach the server inside (got '$got')"
fi
wait $devhost
if grep -q outbound-blocked "$dir/out" && ! grep -q OUTBOUND-REACHED "$dir/out"; then
    echo "ok - devhost network: the guest cannot connect out, not even to this machine's loopback"
else
    cat "$dir/out"
    echo "not ok - devhost network: the guest reached a server outside (or the check did not run)"
fi
