#!/bin/sh
# tests/frontend/devhost/image-builder.sh — a TEST image builder for silod inside the dev host,
# used as silod's `image_builder` by tools/bench/silod.sh and the egress and identity dev-host
# suites (tests/host/silod_devhost.sh uses the REAL builder, silod-build-image):
#   image-builder.sh RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE [VERSION_CONFIG]
# It builds nothing: the container URI's last path component (without tag or digest) names one
# of the sample images `make devhost-agent-images` already built with `silo image build` and
# put in /silo/extra/images (c-echo, node-sdk, mcp-server); that image is linked to
# OUTPUT_IMAGE. An unknown name fails, so the version becomes CREATE_FAILED.
# With SILO_SNAPSHOTS=1 (silod's vmm.snapshots) it then takes the version's template as the real
# builder does (docs/snapshots.md): boots the image with silod's VMM settings (SILO_VMM_*) and
# --snapshot-to, waits for GET /ping 200 (HTTP versions only), SIGUSR2, and renames the snapshot
# to OUTPUT_IMAGE's .snap with its `shape` file; a template that cannot be taken is a line, not
# a failure.
rid=$1 ver=$2 uri=$3 out=$4 cfg=$5
name=${uri##*/}; name=${name%%@*}; name=${name%%:*}
img=/silo/extra/images/$name.ext4
[ -s "$img" ] || { echo "image-builder: no prebuilt image $img for $uri" >&2; exit 1; }
ln -sf "$img" "$out"
echo "image-builder: $rid v$ver: $uri -> $out (prebuilt $img)"
[ "${SILO_SNAPSHOTS:-0}" = 1 ] && [ -n "${SILO_VMM_KERNEL:-}" ] || exit 0
if [ -n "$cfg" ] && grep -q '"serverProtocol" *: *"\(MCP\|A2A\)"' "$cfg"; then
    echo "image-builder: no template for $out: this stand-in probes HTTP agents only"
    exit 0
fi
snap=${out%.ext4}.snap tmp=${out%.ext4}.snap.tmp sock=/tmp/image-builder-$$.sock err=/tmp/image-builder-$$.err
mib=${SILO_VMM_GUEST_MIB:-512} cpus=${SILO_VMM_CPUS:-2}
rm -rf "$snap" "$tmp"
t0=$(date +%s)
"${SILO_VMM:-/silo/bin/silo-vmm}" --kernel "$SILO_VMM_KERNEL" --cmdline "$SILO_VMM_CMDLINE" --mem "${mib}M" \
    --cpus "$cpus" --disk "$out,cow" --vsock-cid 3 --vsock-uds "$sock" --snapshot-to "$tmp" >/dev/null 2>"$err" </dev/null &
pid=$!
ready= i=0
while [ $i -lt 900 ]; do   # 180 s: a Node agent boots slowly in the dev host
    printf 'GET /ping HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n' |
        silo-vsock --timeout 10 "uds:$sock:8080" 2>/dev/null | head -1 | grep -q " 200" && { ready=1; break; }
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
    i=$((i + 1))
done
if [ -n "$ready" ]; then kill -USR2 $pid; wait $pid; st=$?; else kill $pid 2>/dev/null; wait $pid; st=1; fi
if [ "$st" = 0 ] && [ -s "$tmp/state" ] && printf '%s %s\n' "$mib" "$cpus" >"$tmp/shape" && mv "$tmp" "$snap"; then
    echo "image-builder: template $snap taken in $(($(date +%s) - t0)) s"
else
    echo "image-builder: no template for $out: $(tail -1 "$err" 2>/dev/null)"
    rm -rf "$tmp"
fi
rm -f "$sock" "$sock"_* "$err"
exit 0
