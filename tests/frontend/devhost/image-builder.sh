#!/bin/sh
# tests/frontend/devhost/image-builder.sh — a TEST image builder for silod inside the dev host,
# used as silod's `image_builder` by tools/bench/silod.sh (tests/host/silod_devhost.sh uses the
# REAL builder, silod-build-image):
#   image-builder.sh RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE [VERSION_CONFIG]
# It builds nothing: the container URI's last path component (without tag or digest) names one
# of the sample images `make devhost-agent-images` already built with `silo image build` and
# put in /silo/extra/images (c-echo, node-sdk, mcp-server); that image is linked to
# OUTPUT_IMAGE. An unknown name fails, so the version becomes CREATE_FAILED.
uri=$3 out=$4
name=${uri##*/}; name=${name%%@*}; name=${name%%:*}
img=/silo/extra/images/$name.ext4
[ -s "$img" ] || { echo "image-builder: no prebuilt image $img for $uri" >&2; exit 1; }
ln -sf "$img" "$out"
