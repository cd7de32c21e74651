#!/bin/sh
# builder/oci-archive.sh ROOT CONFIG.json OUT.tar — an OCI image layout tarball (what
# `docker buildx --output type=oci` or `skopeo copy oci-archive:` produce) from a root tree
# and an OCI image config, with standard tools only (tar, gzip, sha256sum, printf):
#   one layer: ROOT as a gzip'd tar (owner 0:0, mtime 0, sorted: the same input gives the same
#   bytes), the config with rootfs.diff_ids filled in, a manifest, index.json (linux/arm64,
#   ref.name "latest") and oci-layout. CONFIG.json must be a JSON object without "rootfs".
# Used for the test images of the real image builder (tools/build.mk, devhost-oci-images);
# silo-image and silod-build-image read the result like any other OCI archive.
set -eu
[ $# = 3 ] || { echo "usage: $0 ROOT CONFIG.json OUT.tar" >&2; exit 2; }
root=$1 config=$2 out=$3
[ -d "$root" ] || { echo "oci-archive: $root is not a directory" >&2; exit 1; }
tmp=$(mktemp -d "$out.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/layout/blobs/sha256"
blobs=$tmp/layout/blobs/sha256
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }
# put FILE: moves FILE into blobs/sha256 under its digest, prints the digest
put() { d=$(sha "$1"); mv "$1" "$blobs/$d"; echo "$d"; }

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$tmp/layer.tar" .
diff_id=$(sha "$tmp/layer.tar")
gzip -n "$tmp/layer.tar"
layer_size=$(size "$tmp/layer.tar.gz")
layer=$(put "$tmp/layer.tar.gz")

body=$(tr -d '\n' <"$config" | sed 's/}[[:space:]]*$//')
case "$body" in *'"rootfs"'*) echo "oci-archive: $config already has rootfs" >&2; exit 1 ;; esac
printf '%s, "rootfs": {"type": "layers", "diff_ids": ["sha256:%s"]}}\n' "$body" "$diff_id" >"$tmp/config.json"
config_size=$(size "$tmp/config.json")
config_digest=$(put "$tmp/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer" "$layer_size" >"$tmp/manifest.json"
manifest_size=$(size "$tmp/manifest.json")
manifest=$(put "$tmp/manifest.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"arm64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}\n' \
    "$manifest" "$manifest_size" >"$tmp/layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$tmp/layout/oci-layout"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$tmp/layout" -cf "$tmp/out.tar" oci-layout index.json blobs
mv "$tmp/out.tar" "$out"
