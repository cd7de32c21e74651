#!/bin/sh
# tests/frontend/test_image_builder.sh — a TEST image builder for silod's x86 tests (with
# tests/frontend/fake_vmm.c, which boots nothing). It is NOT guest/'s image builder: it accepts
# silod's builder interface (RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE VERSION_CONFIG), requires
# CONTAINER_URI to be an existing local directory (like an unpacked OCI layout would be) and
# writes a marker file as the "image". Anything else fails, so CREATE_FAILED/UPDATE_FAILED can
# be tested. An optional file BUILD_DELAY_MS in the directory slows the build (state machine).
set -eu
[ $# = 4 ] || [ $# = 5 ] || { echo "usage: $0 RUNTIME_ID VERSION CONTAINER_URI OUTPUT_IMAGE [VERSION_CONFIG]" >&2; exit 2; }
src=$3 out=$4
[ -d "$src" ] || { echo "test builder: $src is not a directory" >&2; exit 1; }
if [ -f "$src/BUILD_DELAY_MS" ]; then
    sleep "$(awk '{ printf "%.3f", $1 / 1000 }' "$src/BUILD_DELAY_MS")"
fi
printf 'test image for %s v%s from %s\n' "$1" "$2" "$src" >"$out.tmp"
mv "$out.tmp" "$out"
