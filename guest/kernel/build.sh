#!/usr/bin/env bash
# guest/kernel/build.sh — builds the stripped Silo guest kernel (arm64 Image).
#
# Usage: guest/kernel/build.sh OUT_IMAGE
#
# Source: Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz), config: tinyconfig plus
# guest/kernel/silo.config, compiler: aarch64-linux-gnu-gcc. The result is cached outside the
# clone in $SILO_CACHE/kernel/<key>/Image, where <key> hashes the source package version, the
# fragment, this script and the compiler version, so a second build costs nothing. Progress is
# printed while the (about 8 minute, 2-core) first build runs; the full log stays in the cache.
set -euo pipefail

out=${1:?usage: build.sh OUT_IMAGE}
here=$(cd "$(dirname "$0")" && pwd)
cache=${SILO_CACHE:-$HOME/.cache/silo}
src_tar=/usr/src/linux-source-6.1.tar.xz
cross=aarch64-linux-gnu-

need() { command -v "$1" >/dev/null || { echo "guest kernel: '$1' is missing; run: make deps" >&2; exit 1; }; }
need ${cross}gcc; need flex; need bison; need bc
[ -r "$src_tar" ] || { echo "guest kernel: $src_tar is missing; run: make deps" >&2; exit 1; }

src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( { echo "$src_version"; cat "$here/silo.config" "$here/build.sh"; ${cross}gcc --version | head -1; } | sha256sum | cut -c1-16)
dir="$cache/kernel/$key"
mkdir -p "$(dirname "$out")" "$cache/kernel"

# One build at a time per cache (several checkouts or build dirs may ask at once).
exec 9>"$cache/kernel/.lock"
flock 9

if [ -s "$dir/Image" ]; then
    cp "$dir/Image" "$out"
    echo "guest kernel: cached ($dir/Image, $(stat -c %s "$out") bytes)"
    exit 0
fi

start=$(date +%s)
rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
echo "guest kernel: unpacking linux-source-6.1 ($src_version) into $dir.tmp"
tar -xJf "$src_tar" -C "$dir.tmp"
ksrc="$dir.tmp/linux-source-6.1"
# MAKEFLAGS is dropped: a caller's `make -s` would silence kbuild's "  CC" lines, which the
# progress count below reads (and its jobserver is not ours to share)
kmake() { env -u MAKEFLAGS -u MFLAGS make -C "$ksrc" ARCH=arm64 CROSS_COMPILE=$cross "$@"; }

echo "guest kernel: configuring (tinyconfig + silo.config)"
kmake tinyconfig >"$dir.tmp/config.log" 2>&1
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$here/silo.config" >>"$dir.tmp/config.log" 2>&1
kmake olddefconfig >>"$dir.tmp/config.log" 2>&1

# Every option the fragment asks for must have survived olddefconfig (a dependency we
# forgot would otherwise silently drop it).
missing=0
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*) grep -qx "$line" "$ksrc/.config" || { echo "guest kernel: $line did not stick" >&2; missing=1; } ;;
        "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}
            grep -q "^$sym=" "$ksrc/.config" && { echo "guest kernel: $sym should be off" >&2; missing=1; } ;;
    esac
done <"$here/silo.config"
[ $missing = 0 ] || { echo "guest kernel: config fragment not satisfied, see $dir.tmp/config.log" >&2; exit 1; }

jobs=$(nproc)
echo "guest kernel: compiling with -j$jobs (about 8 minutes on 2 cores; log: $dir.tmp/build.log)"
kmake -j"$jobs" Image >"$dir.tmp/build.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
    sleep 15
    n=$(grep -c '^  CC' "$dir.tmp/build.log" || true)
    echo "guest kernel: $(( $(date +%s) - start ))s, $n files compiled"
done
if ! wait $pid; then
    tail -30 "$dir.tmp/build.log" >&2
    echo "guest kernel: build failed, full log in $dir.tmp/build.log" >&2
    exit 1
fi

cp "$ksrc/arch/arm64/boot/Image" "$dir.tmp/Image"
cp "$ksrc/.config" "$dir.tmp/config"
cp "$dir.tmp/build.log" "$dir.tmp/config.log" "$dir.tmp/" 2>/dev/null || true
rm -rf "$ksrc"
rm -rf "$dir"; mv "$dir.tmp" "$dir"
cp "$dir/Image" "$out"
echo "guest kernel: built in $(( $(date +%s) - start ))s, $(stat -c %s "$out") bytes -> $out"
